#!/usr/bin/env bash
# Stops what scripts/env-up.sh started: dockerd (with its containerd) and the registries.
# Keeps the state folder (images, caches, unpacked packages); remove it for a clean start.
set -euo pipefail
source "$(dirname "$0")/lib-env.sh"

for name in registry-$auth_registry_port registry-$registry_port buildkit-proxy dockerd; do
    pidfile=$state/$name.pid
    if alive "$pidfile"; then
        pid=$(cat "$pidfile")
        kill "$pid"
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -9 "$pid" 2>/dev/null || true
        echo "stopped $name (pid $pid)"
    fi
    rm -f "$pidfile"
done
