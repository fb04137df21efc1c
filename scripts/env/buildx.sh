# shellcheck shell=bash disable=SC2154  # the shared state: lib-env.sh and env-up.sh set it
# The docker CLI and the buildx plugin (system-wide in $buildx_plugins).
# Sourced by scripts/env-up.sh, which sets the shared state (lib-env.sh) and the
# `started`/`reused` lists of the summary.

have_buildx() { docker buildx version >/dev/null 2>&1; }

install_docker_cli() {
    command -v docker >/dev/null && return 0
    # Not expected here (the machine has /usr/local/bin/docker), but keep a bare machine working.
    unpack_trixie docker-cli
    install -m 0755 "$pkgroot/usr/bin/docker" /usr/local/bin/docker
    hash -r
    docker --version >/dev/null || die "trixie's docker CLI does not run here"
    started+=("docker CLI: trixie's docker-cli in /usr/local/bin/docker")
}

install_buildx() {
    local plugin=$pkgroot/usr/libexec/docker/cli-plugins/docker-buildx
    if have_buildx && [[ ! -x $plugin ]]; then
        reused+=("buildx $(docker buildx version | awk '{print $2}') (already installed)")
        return 0
    fi
    unpack_trixie docker-buildx
    mkdir -p "$buildx_plugins"
    if ! cmp -s "$plugin" "$buildx_plugins/docker-buildx"; then
        install -m 0755 "$plugin" "$buildx_plugins/docker-buildx"
        log "installed the buildx plugin in $buildx_plugins"
        started+=("buildx plugin in $buildx_plugins")
    else
        reused+=("buildx plugin in $buildx_plugins")
    fi
    docker buildx version >/dev/null || die "docker buildx does not run (plugin: $buildx_plugins/docker-buildx)"
}
