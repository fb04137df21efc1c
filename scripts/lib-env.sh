# Shared settings of the project's build environment (sourced by env-up.sh and env-down.sh).
# Everything lives in one state folder, ignored by git.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
state=${STACKPLAN_ENV_DIR:-$root/.stackplan-env}
pkgroot=$state/pkgroot            # trixie's docker.io, containerd, docker-buildx, unpacked
docker_sock=/var/run/docker.sock
registry_port=5000                # anonymous registry
auth_registry_port=5001           # registry with htpasswd auth
auth_user=stackplan
auth_password=stackplan-test
base_image=localhost:$registry_port/library/busybox:1.36
remote_builder=stackplan-remote   # buildx builder with the remote driver on the engine's BuildKit

log() { printf 'env-up: %s\n' "$*" >&2; }
die() { printf 'env-up: error: %s\n' "$*" >&2; exit 1; }

# Whether the process in pid file $1 is alive.
alive() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }
