# shellcheck shell=bash disable=SC2034  # settings used by the scripts that source this
# Shared settings of the project's build environment (sourced by env-up.sh and env-down.sh).
# Everything lives in one state folder, ignored by git (/.stackplan-env/ in .gitignore).
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
state=${STACKPLAN_ENV_DIR:-$root/.stackplan-env}
pkgroot=$state/pkgroot            # trixie's docker.io, containerd, tini, docker-buildx, unpacked
aptdir=$state/apt                 # the private apt configuration for trixie (sources, lists, debs)
docker_sock=/var/run/docker.sock
registry_port=5000                # anonymous registry
auth_registry_port=5001           # registry with htpasswd auth
auth_user=stackplan
auth_password=stackplan-test
# The registries "as users meet them" (each port can be moved with its variable):
token_registry_port=${STACKPLAN_TOKEN_REGISTRY_PORT:-5002}   # bearer-token auth (auth: token)
token_server_port=${STACKPLAN_TOKEN_SERVER_PORT:-5003}       # scripts/token-server.py, its realm
fault_port=${STACKPLAN_FAULT_PORT:-5004}                     # scripts/fault-proxy.py before :5000
tls_registry_port=${STACKPLAN_TLS_REGISTRY_PORT:-5443}       # TLS from the CA made at set-up
buildkit_tls_port=${STACKPLAN_BUILDKIT_TLS_PORT:-5446}       # mTLS front of the engine's BuildKit
pki=$state/pki                    # the CA, server, client and token-signing keys made at set-up
base_image=localhost:$registry_port/library/busybox:1.36
remote_builder=stackplan-remote   # buildx builder with the remote driver on the engine's BuildKit
buildx_plugins=/usr/local/lib/docker/cli-plugins   # system-wide: survives a test's own DOCKER_CONFIG

_env_t0=$SECONDS
_env_name=$(basename "${0%.sh}")
log() { printf '%s [%3ds]: %s\n' "$_env_name" $((SECONDS - _env_t0)) "$*" >&2; }
warn() { printf '%s: warning: %s\n' "$_env_name" "$*" >&2; }
die() { printf '%s: error: %s\n' "$_env_name" "$*" >&2; exit 1; }

# Whether the process in pid file $1 is alive and one of this checkout's (its command line
# names the checkout or the state folder: a recycled pid is not taken for it).
alive() {
    local pid cmd
    [[ -f $1 ]] || return 1
    pid=$(cat "$1" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    cmd=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ $cmd == *"$root/"* || $cmd == *"$state/"* ]]
}

# The pid of the process listening on 127.0.0.1:$1 (TCP), or nothing.
tcp_listener_pid() {
    { ss -Hltnp "sport = :$1" 2>/dev/null || true; } | { grep -o 'pid=[0-9]*' || true; } | head -1 | cut -d= -f2
}
# The pid of the process listening on the unix socket $1, or nothing.
unix_listener_pid() {
    { ss -Hxlp 2>/dev/null || true; } | awk -v p="$1" '$5 == p' | { grep -o 'pid=[0-9]*' || true; } | head -1 | cut -d= -f2
}

# Links $state/NAME.log to the log of a service another checkout started (the tests read
# the registry's log from the state folder), when it is found.
link_foreign_log() {
    local pid=$1 name=$2 target
    [[ -n $pid ]] || return 0
    target=$(readlink "/proc/$pid/fd/1" 2>/dev/null) || return 0
    [[ -f $target && $target != "$state/$name.log" ]] || return 0
    ln -sfn "$target" "$state/$name.log"
}
