#!/usr/bin/env bash
# Brings up stackplan's build environment on this machine, from Debian packages only:
#   - Docker engine 26 with its embedded BuildKit (trixie's docker.io + containerd,
#     unpacked into the state folder; runc from this machine's own suite);
#   - the buildx CLI plugin (trixie's docker-buildx);
#   - a registry on 127.0.0.1:5000 and one with htpasswd auth on 127.0.0.1:5001
#     (Debian's docker-registry);
#   - a base image built from busybox-static and pushed as localhost:5000/library/busybox:1.36
#     (nothing can be pulled from the internet here).
# Idempotent: a second run reuses what is running and what is unpacked.
#
# Usage: scripts/env-up.sh [--buildx-only]
#   --buildx-only   install only the buildx plugin (enough for `docker buildx bake --print`)
# Then: source .stackplan-env/env.sh      Stop: scripts/env-down.sh
set -euo pipefail
source "$(dirname "$0")/lib-env.sh"
export DEBIAN_FRONTEND=noninteractive

buildx_only=false
case "${1:-}" in
    --buildx-only) buildx_only=true ;;
    "") ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
esac
[[ $(id -u) == 0 ]] || die "run as root (it installs Debian packages and starts dockerd)"
mkdir -p "$state"

# ---- Debian packages of this machine's own suite ---------------------------------------
apt_updated=false
apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    ((${#missing[@]})) || return 0
    if ! $apt_updated; then
        log "apt-get update"
        apt-get update -qq
        apt_updated=true
    fi
    log "installing ${missing[*]}"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ---- trixie packages, through a private apt configuration ------------------------------
# The trixie source is derived from this machine's own apt sources: the same archive URI,
# with Suites: trixie. Nothing else of the machine's apt configuration changes.
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
archive_uri() {
    local f uri
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] || continue
        # deb822: the stanza whose Suites list holds the bare codename.
        uri=$(awk -v cn="$codename" '
            BEGIN { RS=""; FS="\n" }
            {
                uris=""; suites=""; types=""
                for (i = 1; i <= NF; i++) {
                    if ($i ~ /^URIs:/)   { sub(/^URIs:[ \t]*/, "", $i); uris=$i }
                    if ($i ~ /^Suites:/) { sub(/^Suites:[ \t]*/, "", $i); suites=" " $i " " }
                    if ($i ~ /^Types:/)  { types=$i }
                }
                if (types ~ /deb( |$)/ && index(suites, " " cn " ")) { split(uris, u, " "); print u[1]; exit }
            }' "$f")
        [[ -n $uri ]] && { echo "$uri"; return; }
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f $f ]] || continue
        uri=$(awk -v cn="$codename" '
            $1 == "deb" {
                n = 2; if ($2 ~ /^\[/) { while ($n !~ /\]$/) n++; n++ }
                if ($(n + 1) == cn) { print $n; exit }
            }' "$f")
        [[ -n $uri ]] && { echo "$uri"; return; }
    done
}

trixie_packages=(docker.io containerd docker-buildx)
$buildx_only && trixie_packages=(docker-buildx)
unpack_trixie() {
    local wanted=("$pkgroot/usr/libexec/docker/cli-plugins/docker-buildx")
    $buildx_only || wanted+=("$pkgroot/usr/sbin/dockerd" "$pkgroot/usr/bin/containerd")
    local have=true f
    for f in "${wanted[@]}"; do [[ -x $f ]] || have=false; done
    $have && return 0
    local uri apt=$state/apt
    uri=$(archive_uri)
    [[ -n $uri ]] || die "cannot find this machine's Debian archive in /etc/apt/sources.list{,.d} to derive the trixie source from"
    mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/debs"
    printf 'Types: deb\nURIs: %s\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$uri" > "$apt/trixie.sources"
    local opts=(-o "Dir::Etc::SourceList=$apt/trixie.sources" -o Dir::Etc::SourceParts=/dev/null
                -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache"
                -o Dir::State::status=/dev/null -o APT::Sandbox::User=root)
    log "reading trixie's package list (source derived from this machine's apt sources)"
    apt-get "${opts[@]}" update -qq
    log "downloading ${trixie_packages[*]} from trixie"
    (cd "$apt/debs" && apt-get "${opts[@]}" download -qq "${trixie_packages[@]}")
    mkdir -p "$pkgroot"
    for deb in "$apt"/debs/*.deb; do dpkg -x "$deb" "$pkgroot"; done
    # trixie's runc needs a newer glibc than this machine has: this machine's runc is used.
    rm -f "$pkgroot/usr/sbin/runc" "$pkgroot/usr/bin/runc"
}

have_buildx() { docker buildx version >/dev/null 2>&1; }
have_engine() { DOCKER_HOST=unix://$docker_sock docker info >/dev/null 2>&1; }

install_buildx() {
    if have_buildx && [[ ! -x $pkgroot/usr/libexec/docker/cli-plugins/docker-buildx ]]; then
        log "buildx is already installed: $(docker buildx version)"
        return 0
    fi
    # System-wide, so a test that points DOCKER_CONFIG at its own credentials keeps buildx.
    local plugins=/usr/local/lib/docker/cli-plugins
    local plugin=$pkgroot/usr/libexec/docker/cli-plugins/docker-buildx
    [[ -x $plugin ]] || die "docker-buildx was not unpacked to $plugin"
    mkdir -p "$plugins"
    if ! cmp -s "$plugin" "$plugins/docker-buildx"; then
        install -m 0755 "$plugin" "$plugins/docker-buildx"
        log "installed the buildx plugin in $plugins"
    fi
    command -v docker >/dev/null || die "the docker CLI is not installed (it is expected on this machine at /usr/local/bin/docker)"
    docker buildx version >/dev/null || die "docker buildx does not run"
}

# ---- dockerd --------------------------------------------------------------------------
# The engine uses containerd's image store (scripts/docker/daemon.json): with it, its BuildKit
# has the `image` exporter, so a `remote` buildx builder on it can push by digest.
uses_containerd_store() {
    docker info --format '{{json .DriverStatus}}' 2>/dev/null | grep -q io.containerd.snapshotter
}

start_dockerd() {
    export DOCKER_HOST=unix://$docker_sock
    if docker info >/dev/null 2>&1; then
        if alive "$state/dockerd.pid" && ! uses_containerd_store; then
            log "restarting dockerd with the containerd image store"
            "$root/scripts/env-down.sh" >/dev/null
        elif alive "$state/dockerd.pid"; then
            log "dockerd is already running (pid $(cat "$state/dockerd.pid"))"
            return 0
        else
            uses_containerd_store || log "warning: the engine on $docker_sock does not use the containerd image store; push-by-digest tests will fail"
            log "an engine already answers on $docker_sock; using it"
            return 0
        fi
    fi
    mkdir -p "$state/docker" "$state/exec"
    log "starting dockerd (engine $("$pkgroot/usr/sbin/dockerd" --version | awk '{print $3}' | tr -d ,))"
    # Its managed containerd and shims come from the unpacked packages, runc from this machine.
    PATH=$pkgroot/usr/bin:$pkgroot/usr/sbin:$PATH nohup "$pkgroot/usr/sbin/dockerd" \
        --config-file "$root/scripts/docker/daemon.json" \
        --data-root "$state/docker" --exec-root "$state/exec" --pidfile "$state/dockerd.pid" \
        --host "unix://$docker_sock" > "$state/dockerd.log" 2>&1 &
    for _ in $(seq 120); do
        docker info >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    tail -30 "$state/dockerd.log" >&2
    die "dockerd did not answer within 60 s (log: $state/dockerd.log)"
}

# ---- the engine's BuildKit as a plain address, and a remote builder on it ---------------
start_buildkit_proxy() {
    local sock=$state/buildkit.sock
    if alive "$state/buildkit-proxy.pid" && [[ -S $sock ]]; then
        log "buildkit proxy is already running on unix://$sock"
    else
        nohup python3 "$root/scripts/buildkit-proxy.py" "$sock" "$docker_sock" > "$state/buildkit-proxy.log" 2>&1 &
        echo $! > "$state/buildkit-proxy.pid"
        for _ in $(seq 50); do [[ -S $sock ]] && break; sleep 0.1; done
        [[ -S $sock ]] || die "the buildkit proxy did not start (log: $state/buildkit-proxy.log)"
        log "exposing the engine's BuildKit on unix://$sock"
    fi
    if ! docker buildx inspect "$remote_builder" >/dev/null 2>&1; then
        docker buildx create --name "$remote_builder" --driver remote "unix://$sock" >/dev/null
        log "created buildx builder $remote_builder (remote driver on unix://$sock)"
    fi
    docker buildx inspect --bootstrap "$remote_builder" >/dev/null \
        || die "the $remote_builder builder does not answer (log: $state/buildkit-proxy.log)"
}

# ---- registries -----------------------------------------------------------------------
start_registry() {
    local port=$1 config=$2 name=registry-$1
    shift 2  # the rest: extra VAR=value settings for the registry
    if curl -s -o /dev/null "http://127.0.0.1:$port/v2/"; then
        log "registry on 127.0.0.1:$port is already running"
        return 0
    fi
    mkdir -p "$state/$name"
    log "starting a registry on 127.0.0.1:$port"
    env REGISTRY_HTTP_ADDR=127.0.0.1:$port \
        REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=$state/$name "$@" \
        nohup docker-registry serve "$config" > "$state/$name.log" 2>&1 &
    echo $! > "$state/$name.pid"
    for _ in $(seq 50); do
        curl -s -o /dev/null "http://127.0.0.1:$port/v2/" && return 0
        sleep 0.2
    done
    tail -20 "$state/$name.log" >&2
    die "the registry on 127.0.0.1:$port did not start (log: $state/$name.log)"
}

# ---- the base image -------------------------------------------------------------------
push_base_image() {
    local repo=${base_image%:*} tag=${base_image##*:}
    if curl -sf -o /dev/null -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
        "http://127.0.0.1:$registry_port/v2/${repo#*/}/manifests/$tag"; then
        log "base image $base_image is in the registry"
        return 0
    fi
    log "building $base_image from busybox-static"
    local tmp
    tmp=$(mktemp -d)
    (cd "$tmp" && apt-get download -qq busybox-static 2>/dev/null) || cp /var/cache/apt/archives/busybox-static_*.deb "$tmp/"
    dpkg -x "$tmp"/busybox-static_*.deb "$tmp/x"
    local rootfs=$tmp/rootfs
    mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,opt}
    chmod 1777 "$rootfs/tmp"
    install -m 0755 "$tmp/x/bin/busybox" "$rootfs/bin/busybox"
    for applet in $("$rootfs/bin/busybox" --list); do
        [[ -e $rootfs/bin/$applet ]] || ln -s busybox "$rootfs/bin/$applet"
    done
    echo 'root:x:0:0:root:/root:/bin/sh' > "$rootfs/etc/passwd"
    echo 'root:x:0:' > "$rootfs/etc/group"
    tar -C "$rootfs" -c . | docker import - "$base_image" >/dev/null
    docker push -q "$base_image" >/dev/null
    rm -rf "$tmp"
}

write_env_file() {
    cat > "$state/env.sh" <<ENV
# Written by scripts/env-up.sh: source it to use the environment.
export DOCKER_HOST=unix://$docker_sock
export STACKPLAN_REGISTRY=localhost:$registry_port
export STACKPLAN_AUTH_REGISTRY=localhost:$auth_registry_port
export STACKPLAN_AUTH_USER=$auth_user
export STACKPLAN_AUTH_PASSWORD=$auth_password
export STACKPLAN_BASE_IMAGE=$base_image
export STACKPLAN_ENV_DIR=$state
export STACKPLAN_BUILDKIT_ADDR=unix://$state/buildkit.sock
export STACKPLAN_REMOTE_BUILDER=$remote_builder
ENV
}

started=$(date +%s)
# A machine that already has an engine and buildx (a CI runner, a laptop) keeps them; the
# trixie packages are fetched only for what is missing.
if $buildx_only; then
    apt_install ca-certificates
    have_buildx || unpack_trixie
    install_buildx
    log "buildx ready: $(docker buildx version)"
    exit 0
fi

apt_install runc docker-registry busybox-static iptables apache2-utils curl ca-certificates
if ! have_engine || ! have_buildx; then
    unpack_trixie
fi
install_buildx
[[ -f $state/htpasswd ]] || htpasswd -Bbn "$auth_user" "$auth_password" > "$state/htpasswd"
start_dockerd
start_buildkit_proxy
start_registry "$registry_port" "$root/scripts/registry/config.yml"
start_registry "$auth_registry_port" "$root/scripts/registry/config-auth.yml" \
    REGISTRY_AUTH_HTPASSWD_PATH="$state/htpasswd"
push_base_image
write_env_file

cat >&2 <<SUMMARY
env-up: ready in $(( $(date +%s) - started )) s
  engine     $(docker version -f '{{.Server.Version}}') on unix://$docker_sock (log: $state/dockerd.log)
  buildx     $(docker buildx version | awk '{print $2}')
  buildkit   unix://$state/buildkit.sock (the engine's BuildKit; buildx builder $remote_builder)
  registry   127.0.0.1:$registry_port (anonymous), 127.0.0.1:$auth_registry_port (user $auth_user)
  base image $base_image
  use:  source $state/env.sh
  stop: scripts/env-down.sh
SUMMARY
