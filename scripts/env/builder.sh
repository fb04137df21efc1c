# shellcheck shell=bash disable=SC2154  # the shared state: lib-env.sh and env-up.sh set it
# The engine's BuildKit as a plain unix socket (scripts/buildkit-proxy.py) and the `remote`
# buildx builder on it.
# Sourced by scripts/env-up.sh, which sets the shared state (lib-env.sh) and the
# `started`/`reused` lists of the summary.

buildkit_sock=$state/buildkit.sock
builder_endpoint() {
    { docker buildx inspect "$remote_builder" 2>/dev/null || true; } | awk '$1 == "Endpoint:" {print $2; exit}'
}

start_buildkit_proxy() {
    local endpoint
    endpoint=$(builder_endpoint)
    # Another checkout's proxy on the same engine, behind the shared builder: use it.
    if ! alive "$state/buildkit-proxy.pid" && ! alive "$state/dockerd.pid" \
        && [[ -n $endpoint && $endpoint != "unix://$buildkit_sock" && -S ${endpoint#unix://} ]] \
        && timeout 30 docker buildx inspect --bootstrap "$remote_builder" >/dev/null 2>&1; then
        buildkit_sock=${endpoint#unix://}
        reused+=("buildkit proxy of another checkout on $endpoint (builder $remote_builder)")
        return 0
    fi
    if alive "$state/buildkit-proxy.pid" && [[ -S $buildkit_sock ]]; then
        reused+=("buildkit proxy (pid $(cat "$state/buildkit-proxy.pid")) on unix://$buildkit_sock")
    else
        command -v python3 >/dev/null || apt_install python3
        setsid python3 "$root/scripts/buildkit-proxy.py" "$buildkit_sock" "$docker_sock" \
            > "$state/buildkit-proxy.log" 2>&1 &
        echo $! > "$state/buildkit-proxy.pid"
        for _ in $(seq 50); do [[ -S $buildkit_sock ]] && break; sleep 0.1; done
        [[ -S $buildkit_sock ]] || die "the buildkit proxy did not start (log: $state/buildkit-proxy.log)"
        started+=("buildkit proxy (pid $(cat "$state/buildkit-proxy.pid")) exposing the engine's BuildKit on unix://$buildkit_sock")
    fi
    if [[ -n $endpoint && $endpoint != "unix://$buildkit_sock" ]]; then
        docker buildx rm "$remote_builder" >/dev/null 2>&1 || true
        endpoint=
    fi
    if [[ -z $endpoint ]]; then
        docker buildx create --name "$remote_builder" --driver remote "unix://$buildkit_sock" >/dev/null
        started+=("buildx builder $remote_builder (remote driver on unix://$buildkit_sock)")
    fi
    timeout 60 docker buildx inspect --bootstrap "$remote_builder" >/dev/null \
        || die "the $remote_builder builder does not answer (log: $state/buildkit-proxy.log)"
}
