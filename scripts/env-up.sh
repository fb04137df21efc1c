#!/usr/bin/env bash
# Brings up stackplan's build environment on this machine, from Debian packages only:
#   - Docker engine 26 with its embedded BuildKit (trixie's docker.io, containerd and tini,
#     unpacked into the state folder; runc from this machine's own suite), on the standard
#     socket /var/run/docker.sock, with containerd's image store;
#   - the buildx CLI plugin (trixie's docker-buildx), and a `remote` buildx builder on the
#     engine's BuildKit, exposed as a plain unix socket by scripts/buildkit-proxy.py;
#   - a registry on 127.0.0.1:5000 and one with htpasswd auth on 127.0.0.1:5001
#     (this suite's docker-registry);
#   - registries as users meet them: one with bearer-token auth on :5002 and its token
#     server (scripts/token-server.py) on :5003, one with TLS from a CA made here on :5443,
#     a fault front (scripts/fault-proxy.py: 429, 5xx, resets, slow answers) before :5000
#     on :5004, and an mTLS front (scripts/tls-front.py) of the engine's BuildKit on :5446;
#   - a base image built from busybox-static and pushed as localhost:5000/library/busybox:1.36
#     (nothing can be pulled from the internet here).
# Idempotent: a second run reuses what is running and what is unpacked. The trixie packages
# come through a private apt configuration in the state folder, derived from this machine's
# apt sources; the machine's own apt configuration is not changed.
#
# Usage: scripts/env-up.sh [--buildx-only] [--check]
#   --buildx-only   install only the buildx plugin (enough for `docker buildx bake --print`)
#   --check         run the smoke checks even when everything was already up
# Then: source .stackplan-env/env.sh      Stop: scripts/env-down.sh [--purge]
# One script a concern under scripts/env/, sourced below; this one runs them in order.
# shellcheck source-path=SCRIPTDIR
set -Eeuo pipefail
# shellcheck source=lib-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib-env.sh"
trap '((BASH_SUBSHELL)) || die "failed (${BASH_SOURCE[0]##*/} line $LINENO): $BASH_COMMAND"' ERR
export DEBIAN_FRONTEND=noninteractive

buildx_only=false
force_check=false
for arg in "$@"; do
    case $arg in
        --buildx-only) buildx_only=true ;;
        --check) force_check=true ;;
        -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $arg (see --help)" ;;
    esac
done
[[ $(id -u) == 0 ]] || die "run as root (it installs Debian packages and starts dockerd)"
mkdir -p "$state"
exec </dev/null

started=()   # what this run started or built, for the summary
reused=()    # what was already up

# One script a concern, each defining what this one runs below (in this order).
env_dir=$(dirname "${BASH_SOURCE[0]}")/env
# shellcheck source=env/apt.sh
source "$env_dir/apt.sh"          # Debian packages of this machine's own suite
# shellcheck source=env/trixie.sh
source "$env_dir/trixie.sh"       # trixie's engine packages, unpacked into the state folder
# shellcheck source=env/buildx.sh
source "$env_dir/buildx.sh"       # the docker CLI and the buildx plugin
# shellcheck source=env/dockerd.sh
source "$env_dir/dockerd.sh"      # the engine
# shellcheck source=env/builder.sh
source "$env_dir/builder.sh"      # its BuildKit on a plain socket, the remote buildx builder
# shellcheck source=env/registries.sh
source "$env_dir/registries.sh"   # the registries
# shellcheck source=env/pki.sh
source "$env_dir/pki.sh"          # the test CA and certificates
# shellcheck source=env/services.sh
source "$env_dir/services.sh"     # token server, fault front, mTLS front and their registries
# shellcheck source=env/base-image.sh
source "$env_dir/base-image.sh"   # the base image
# shellcheck source=env/smoke.sh
source "$env_dir/smoke.sh"        # the smoke checks
# shellcheck source=env/report.sh
source "$env_dir/report.sh"       # env.sh and the summaries

# ---- main -----------------------------------------------------------------------------
if $buildx_only; then
    install_docker_cli
    install_buildx
    summary
    echo "env-up: buildx ready in $((SECONDS - _env_t0)) s: $(docker buildx version)" >&2
    exit 0
fi

# iproute2: ss, to find who listens on the socket and ports. python3: the buildkit proxy.
apt_install runc docker-registry busybox-static iptables apache2-utils curl iproute2 ca-certificates
install_docker_cli
# A machine that already has an engine keeps it; the trixie packages are unpacked only when
# this script starts the engine itself (and buildx only when it is missing), in one download.
trixie=()
if ! DOCKER_HOST=unix://$docker_sock docker info >/dev/null 2>&1 || alive "$state/dockerd.pid"; then
    trixie+=(docker.io containerd tini)
fi
have_buildx || trixie+=(docker-buildx)
((${#trixie[@]} == 0)) || unpack_trixie "${trixie[@]}"
install_buildx
[[ -s $state/htpasswd ]] || htpasswd -Bbn "$auth_user" "$auth_password" > "$state/htpasswd"
start_dockerd
start_buildkit_proxy
start_registry "$registry_port" "$root/scripts/registry/config.yml"
start_registry "$auth_registry_port" "$root/scripts/registry/config-auth.yml" \
    REGISTRY_AUTH_HTPASSWD_PATH="$state/htpasswd"
start_real_world_registries
push_base_image
write_env_file
if $force_check || ((${#started[@]})); then
    smoke_checks
fi

summary
ready_summary
