# shellcheck shell=bash disable=SC2154  # the shared state: lib-env.sh and env-up.sh set it
# The smoke checks: the engine, buildx (default and remote builders), bake contexts and
# every registry answer as the tests need.
# Sourced by scripts/env-up.sh, which sets the shared state (lib-env.sh) and the
# `started`/`reused` lists of the summary.

run_check() {
    local what=$1
    shift
    if ! "$@" >"$state/check.log" 2>&1; then
        tail -30 "$state/check.log" >&2
        die "check failed: $what (output: $state/check.log)"
    fi
    log "ok: $what"
}

check_bake() {
    local dir=$1
    cat > "$dir/bake.json" <<BAKE
{
  "target": {
    "base": {
      "context": ".",
      "dockerfile-inline": "FROM $base_image\nRUN echo base > /base\n",
      "output": ["type=cacheonly"]
    },
    "child": {
      "context": ".",
      "contexts": { "$base_image": "target:base" },
      "dockerfile-inline": "FROM $base_image\nRUN test \"\$(cat /base)\" = base && date > /child\n",
      "no-cache": true,
      "output": ["type=cacheonly"]
    }
  }
}
BAKE
    (cd "$dir" && docker buildx bake --builder default --progress=plain -f bake.json child)
}

smoke_checks() {
    local tmp
    tmp=$(mktemp -d)
    run_check "docker run --rm $base_image sh -c 'echo ok'" \
        bash -c "[[ \$(docker run --rm '$base_image' sh -c 'echo ok') == ok ]]"
    run_check "docker buildx build (default builder, docker driver) with a RUN step" \
        bash -c "printf 'FROM %s\nRUN echo hi > /x\n' '$base_image' | docker buildx build --builder default --no-cache --progress=plain --output type=cacheonly -"
    run_check "docker buildx bake, a target as another's named context" check_bake "$tmp"
    run_check "docker buildx build on the $remote_builder builder" \
        bash -c "printf 'FROM %s\nRUN echo hi > /x\n' '$base_image' | docker buildx build --builder '$remote_builder' --no-cache --progress=plain --output type=cacheonly -"
    run_check "token registry: a bearer challenge, a token from the token server, 200 with it" \
        bash -c "curl -s -D - -o /dev/null http://127.0.0.1:$token_registry_port/v2/ | grep -qi 'www-authenticate: bearer realm=' &&
                 t=\$(curl -sf -u '$auth_user:$auth_password' 'http://127.0.0.1:$token_server_port/token?service=stackplan-registry&scope=repository:smoke:pull' | python3 -c 'import json, sys; print(json.load(sys.stdin)[\"token\"])') &&
                 [[ \$(curl -s -o /dev/null -w '%{http_code}' -H \"Authorization: Bearer \$t\" http://127.0.0.1:$token_registry_port/v2/) == 200 ]]"
    run_check "TLS registry: verifies with the CA made here, not without it" \
        bash -c "curl -sf -o /dev/null --cacert '$pki/ca.crt' https://127.0.0.1:$tls_registry_port/v2/ &&
                 ! curl -s -o /dev/null https://127.0.0.1:$tls_registry_port/v2/"
    run_check "fault front: forwards to the registry" \
        bash -c "[[ \$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$fault_port/v2/) == 200 ]]"
    run_check "auth registry: 401 without credentials, 200 with them" \
        bash -c "[[ \$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$auth_registry_port/v2/) == 401 &&
                   \$(curl -s -o /dev/null -w '%{http_code}' -u '$auth_user:$auth_password' http://127.0.0.1:$auth_registry_port/v2/) == 200 ]]"
    rm -rf "$tmp"
}
