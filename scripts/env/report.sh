# shellcheck shell=bash disable=SC2154  # the shared state: lib-env.sh and env-up.sh set it
# What env-up.sh leaves for the user: .stackplan-env/env.sh and the summary of the run.
# Sourced by scripts/env-up.sh, which sets the shared state (lib-env.sh) and the
# `started`/`reused` lists of the summary.

write_env_file() {
    cat > "$state/env.sh.tmp" <<ENV
# Written by scripts/env-up.sh: source it to use the environment.
export DOCKER_HOST=unix://$docker_sock
export STACKPLAN_REGISTRY=localhost:$registry_port
export STACKPLAN_AUTH_REGISTRY=localhost:$auth_registry_port
export STACKPLAN_AUTH_USER=$auth_user
export STACKPLAN_AUTH_PASSWORD=$auth_password
export STACKPLAN_BASE_IMAGE=$base_image
export STACKPLAN_ENV_DIR=$state
export STACKPLAN_BUILDKIT_ADDR=unix://$buildkit_sock
export STACKPLAN_REMOTE_BUILDER=$remote_builder
export STACKPLAN_TOKEN_REGISTRY=localhost:$token_registry_port
export STACKPLAN_TOKEN_SERVER=http://127.0.0.1:$token_server_port
export STACKPLAN_TLS_REGISTRY=localhost:$tls_registry_port
export STACKPLAN_FAULT_REGISTRY=localhost:$fault_port
export STACKPLAN_BUILDKIT_TLS_ADDR=tcp://127.0.0.1:$buildkit_tls_port
export STACKPLAN_PKI=$pki
ENV
    mv "$state/env.sh.tmp" "$state/env.sh"
}

summary() {
    local item
    if ((${#started[@]})); then
        echo "env-up: started or installed:" >&2
        for item in "${started[@]}"; do echo "  + $item" >&2; done
    fi
    if ((${#reused[@]})); then
        echo "env-up: already up:" >&2
        for item in "${reused[@]}"; do echo "  = $item" >&2; done
    fi
}

# How to use what is up: versions, addresses, logs, credentials.
ready_summary() {
    cat >&2 <<SUMMARY
env-up: ready in $((SECONDS - _env_t0)) s
  engine     $(docker version -f '{{.Server.Version}}') on unix://$docker_sock (log: $state/dockerd.log)
  buildx     $(docker buildx version | awk '{print $2}') (plugin in $buildx_plugins)
  buildkit   unix://$buildkit_sock (the engine's BuildKit; buildx builder $remote_builder)
  registry   127.0.0.1:$registry_port (anonymous), 127.0.0.1:$auth_registry_port (user $auth_user, password $auth_password)
             logs: $state/registry-$registry_port.log, $state/registry-$auth_registry_port.log
  real-world token registry 127.0.0.1:$token_registry_port (token server :$token_server_port), TLS registry :$tls_registry_port
             (CA $pki/ca.crt), fault front :$fault_port before :$registry_port, BuildKit mTLS front tcp://127.0.0.1:$buildkit_tls_port
  base image $base_image
  use:  source $state/env.sh      (export DOCKER_HOST=unix://$docker_sock)
  stop: scripts/env-down.sh       (--purge also deletes $state)
SUMMARY
}
