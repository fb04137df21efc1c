#!/usr/bin/env bash
# Stops what scripts/env-up.sh started from this checkout: the registries, the token server,
# the fault and mTLS fronts, the buildkit proxy
# and its buildx builder, dockerd and its managed containerd. What another checkout started
# is left alone. Keeps the state folder (images, caches, unpacked packages) unless --purge.
#
# Usage: scripts/env-down.sh [--purge]
#   --purge   also delete the state folder (.stackplan-env/), for a clean start
set -Eeuo pipefail
# shellcheck source=lib-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib-env.sh"
trap '((BASH_SUBSHELL)) || die "failed (line $LINENO): $BASH_COMMAND"' ERR

purge=false
for arg in "$@"; do
    case $arg in
        --purge) purge=true ;;
        -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $arg (see --help)" ;;
    esac
done

stopped=0
# stop_pid NAME PID SECONDS: SIGTERM, then SIGKILL after SECONDS.
stop_pid() {
    local name=$1 pid=$2 wait=$3
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq $((wait * 5))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
        kill -9 "$pid" 2>/dev/null || true
        echo "killed $name (pid $pid, did not stop within $wait s)"
    else
        echo "stopped $name (pid $pid)"
    fi
    stopped=$((stopped + 1))
}

# The buildx builder, when it points at this checkout's proxy.
if command -v docker >/dev/null && [[ -f $state/buildkit-proxy.pid ]]; then
    endpoint=$(docker buildx inspect "$remote_builder" 2>/dev/null | awk '$1 == "Endpoint:" {print $2; exit}' || true)
    if [[ $endpoint == "unix://$state/buildkit.sock" ]]; then
        docker buildx rm "$remote_builder" >/dev/null 2>&1 && echo "removed buildx builder $remote_builder"
    fi
fi

for name in buildkit-tls fault-proxy "registry-$tls_registry_port" "registry-$token_registry_port" \
    token-server "registry-$auth_registry_port" "registry-$registry_port" buildkit-proxy; do
    pidfile=$state/$name.pid
    if alive "$pidfile"; then stop_pid "$name" "$(cat "$pidfile")" 10; fi
    rm -f "$pidfile"
done
rm -f "$state/buildkit.sock"

# dockerd stops its containers and its managed containerd itself; give it time.
if alive "$state/dockerd.pid"; then stop_pid dockerd "$(cat "$state/dockerd.pid")" 30; fi
rm -f "$state/dockerd.pid"
# What a killed dockerd leaves: its containerd, and the shims of its containers (found by
# the containerd socket of this state folder on their command line).
containerd_pid=$state/exec/containerd/containerd.pid
if alive "$containerd_pid"; then stop_pid containerd "$(cat "$containerd_pid")" 10; fi
if [[ -d $state/exec ]]; then
    for proc in /proc/[0-9]*; do
        cmd=$(tr '\0' ' ' < "$proc/cmdline" 2>/dev/null) || continue
        if [[ $cmd == *containerd-shim*"$state/exec/containerd/containerd.sock"* ]]; then
            stop_pid containerd-shim "${proc#/proc/}" 5
        fi
    done
fi

((stopped)) || echo "nothing of $state was running"

if $purge && [[ -d $state ]]; then
    [[ $state == /*/* && -f $state/../scripts/lib-env.sh || -n ${STACKPLAN_ENV_DIR:-} ]] \
        || die "refusing to delete $state: not a state folder of this checkout"
    # Mounts a killed engine may have left (overlay snapshots, network namespaces).
    findmnt -rn -o TARGET | awk -v s="$state/" 'index($0, s) == 1' | sort -r | while read -r m; do
        umount -l "$m" 2>/dev/null || true
    done
    rm -rf "$state"
    echo "deleted $state"
fi
