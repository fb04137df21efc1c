# shellcheck shell=bash disable=SC2154  # the shared state: lib-env.sh and env-up.sh set it
# The registries (Debian's docker-registry): anonymous, htpasswd, token and TLS ones, each
# on its loopback port, reused when one answers there.
# Sourced by scripts/env-up.sh, which sets the shared state (lib-env.sh) and the
# `started`/`reused` lists of the summary.

check_url='' check_opts=()
start_registry() {
    local port=$1 config=$2 name=registry-$1
    shift 2  # the rest: extra VAR=value settings for the registry
    # The URL that shows it answers (https for a TLS registry: set check_url, check_opts).
    local url=${check_url:-http://127.0.0.1:$port/v2/}
    if curl -s -o /dev/null --max-time 5 "${check_opts[@]}" "$url"; then
        if alive "$state/$name.pid"; then
            reused+=("registry on 127.0.0.1:$port (pid $(cat "$state/$name.pid"))")
        else
            local pid cmd
            pid=$(tcp_listener_pid "$port")
            cmd=$(tr '\0' ' ' < "/proc/${pid:-0}/cmdline" 2>/dev/null || true)
            [[ $cmd == *scripts/registry/config* ]] \
                || warn "127.0.0.1:$port answers but was not started by a stackplan checkout (${cmd:-unknown process})"
            link_foreign_log "$pid" "$name"
            reused+=("registry on 127.0.0.1:$port not started here (pid ${pid:-?})")
        fi
        return 0
    fi
    mkdir -p "$state/$name"
    [[ -L $state/$name.log ]] && rm -f "$state/$name.log"
    env "REGISTRY_HTTP_ADDR=127.0.0.1:$port" \
        "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=$state/$name" "$@" \
        setsid docker-registry serve "$config" > "$state/$name.log" 2>&1 &
    local pid=$!
    echo "$pid" > "$state/$name.pid"
    for _ in $(seq 100); do
        if curl -s -o /dev/null --max-time 2 "${check_opts[@]}" "$url"; then
            started+=("registry on 127.0.0.1:$port (pid $pid, log $state/$name.log)")
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || break  # not `alive`: see start_daemon (services.sh)
        sleep 0.1
    done
    tail -20 "$state/$name.log" >&2
    die "the registry on 127.0.0.1:$port did not start (log: $state/$name.log)"
}
