# shellcheck shell=bash disable=SC2154  # the shared state: lib-env.sh and env-up.sh set it
# The Docker engine (dockerd) on /var/run/docker.sock, started from the unpacked packages
# unless an engine answers there already.
# Sourced by scripts/env-up.sh, which sets the shared state (lib-env.sh) and the
# `started`/`reused` lists of the summary.

# The engine uses containerd's image store (scripts/docker/daemon.json): with it, its BuildKit
# has the `image` exporter, so a `remote` buildx builder on it can push by digest.
uses_containerd_store() {
    docker info --format '{{json .DriverStatus}}' 2>/dev/null | grep -q io.containerd.snapshotter
}

start_dockerd() {
    export DOCKER_HOST=unix://$docker_sock
    if alive "$state/dockerd.pid" && ! docker info >/dev/null 2>&1; then
        log "dockerd (pid $(cat "$state/dockerd.pid")) is running but does not answer yet: waiting"
        for _ in $(seq 120); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
        docker info >/dev/null 2>&1 || {
            tail -30 "$state/dockerd.log" >&2
            die "dockerd (pid $(cat "$state/dockerd.pid")) does not answer on $docker_sock; stop it with scripts/env-down.sh and rerun"
        }
    fi
    if docker info >/dev/null 2>&1; then
        if alive "$state/dockerd.pid" && ! uses_containerd_store; then
            log "restarting dockerd with the containerd image store"
            "$root/scripts/env-down.sh" >/dev/null
        elif alive "$state/dockerd.pid"; then
            reused+=("dockerd (pid $(cat "$state/dockerd.pid"))")
            return 0
        else
            uses_containerd_store || warn "the engine on $docker_sock does not use the containerd image store; push-by-digest tests will fail"
            local pid
            pid=$(unix_listener_pid "$docker_sock")
            link_foreign_log "$pid" dockerd
            reused+=("dockerd not started here (pid ${pid:-?}), answering on $docker_sock")
            return 0
        fi
    fi
    [[ -S $docker_sock ]] && log "$docker_sock exists but nothing answers on it: dockerd replaces it"
    mkdir -p "$state/docker" "$state/exec"
    local dockerd=$pkgroot/usr/sbin/dockerd
    log "starting dockerd (engine $("$dockerd" --version | awk '{print $3}' | tr -d ,))"
    # Its managed containerd, the shims and docker-init (tini-static) come from the unpacked
    # packages, runc from this machine. setsid: it outlives the caller's process group.
    PATH=$pkgroot/usr/bin:$pkgroot/usr/sbin:$PATH setsid "$dockerd" \
        --config-file "$root/scripts/docker/daemon.json" \
        --data-root "$state/docker" --exec-root "$state/exec" --pidfile "$state/dockerd.pid" \
        --host "unix://$docker_sock" > "$state/dockerd.log" 2>&1 &
    local pid=$!
    for _ in $(seq 240); do
        docker info >/dev/null 2>&1 && { started+=("dockerd (pid $pid, log $state/dockerd.log)"); return 0; }
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.25
    done
    echo "---- tail of $state/dockerd.log" >&2
    tail -30 "$state/dockerd.log" >&2
    kill -0 "$pid" 2>/dev/null && die "dockerd did not answer within 60 s (log: $state/dockerd.log)"
    die "dockerd exited (log: $state/dockerd.log)"
}
