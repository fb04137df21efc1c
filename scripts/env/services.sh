# shellcheck shell=bash disable=SC2154,SC2034  # the shared state: lib-env.sh and env-up.sh set it
# The project's own loopback services (scripts/*.py: the token server, the fault front, the
# BuildKit mTLS front), and the registries as users meet them, which they serve.
# Sourced by scripts/env-up.sh, which sets the shared state (lib-env.sh) and the
# `started`/`reused` lists of the summary.

# start_daemon NAME PORT CMD...: a loopback service of the project's own (a python script
# of scripts/), unless one answers on PORT already. One this checkout started from a script
# that changed since (CMD is `python3 SCRIPT ...`) is started again, so a checkout that
# fixed a test server runs the fix.
start_daemon() {
    local name=$1 port=$2
    shift 2
    if [[ -n $(tcp_listener_pid "$port") ]] && alive "$state/$name.pid" \
        && [[ ${2:-} == *.py && $2 -nt $state/$name.pid ]]; then
        log "restarting $name: ${2#"$root/"} changed since it started"
        kill "$(cat "$state/$name.pid")" 2>/dev/null || true
        for _ in $(seq 50); do
            [[ -z $(tcp_listener_pid "$port") ]] && break
            sleep 0.1
        done
    fi
    if [[ -n $(tcp_listener_pid "$port") ]]; then
        if alive "$state/$name.pid"; then
            reused+=("$name on 127.0.0.1:$port (pid $(cat "$state/$name.pid"))")
        else
            local pid
            pid=$(tcp_listener_pid "$port")
            link_foreign_log "$pid" "$name"
            reused+=("$name on 127.0.0.1:$port not started here (pid ${pid:-?})")
        fi
        return 0
    fi
    command -v python3 >/dev/null || apt_install python3
    [[ -L $state/$name.log ]] && rm -f "$state/$name.log"
    setsid "$@" > "$state/$name.log" 2>&1 &
    local pid=$!
    echo "$pid" > "$state/$name.pid"
    for _ in $(seq 50); do
        [[ -n $(tcp_listener_pid "$port") ]] && {
            started+=("$name on 127.0.0.1:$port (pid $pid, log $state/$name.log)")
            return 0
        }
        # kill -0, not `alive`: until the child has exec'd, its command line is this
        # script's own (`bash scripts/env-up.sh`, no checkout path in it), and `alive`
        # would take a daemon still starting for a dead one.
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    tail -20 "$state/$name.log" >&2
    die "$name did not start on 127.0.0.1:$port (log: $state/$name.log)"
}

start_real_world_registries() {
    make_pki
    start_daemon token-server "$token_server_port" python3 "$root/scripts/token-server.py" \
        "$token_server_port" "$pki/token.key" "$pki/token.crt" "$auth_user" "$auth_password" \
        stackplan-token-server
    start_registry "$token_registry_port" "$root/scripts/registry/config-token.yml" \
        REGISTRY_AUTH_TOKEN_REALM="http://127.0.0.1:$token_server_port/token" \
        REGISTRY_AUTH_TOKEN_ROOTCERTBUNDLE="$pki/token.crt"
    check_url=https://127.0.0.1:$tls_registry_port/v2/ check_opts=(--cacert "$pki/ca.crt")
    start_registry "$tls_registry_port" "$root/scripts/registry/config.yml" \
        REGISTRY_HTTP_TLS_CERTIFICATE="$pki/server.crt" REGISTRY_HTTP_TLS_KEY="$pki/server.key"
    check_url='' check_opts=()
    start_daemon fault-proxy "$fault_port" python3 "$root/scripts/fault-proxy.py" \
        "$fault_port" "127.0.0.1:$registry_port"
    start_daemon buildkit-tls "$buildkit_tls_port" python3 "$root/scripts/tls-front.py" \
        "$buildkit_tls_port" "$pki/server.crt" "$pki/server.key" "$pki/ca.crt" "$buildkit_sock"
}
