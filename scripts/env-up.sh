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
set -Eeuo pipefail
# shellcheck source=lib-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib-env.sh"
trap '((BASH_SUBSHELL)) || die "failed (line $LINENO): $BASH_COMMAND"' ERR
export DEBIAN_FRONTEND=noninteractive

buildx_only=false
force_check=false
for arg in "$@"; do
    case $arg in
        --buildx-only) buildx_only=true ;;
        --check) force_check=true ;;
        -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $arg (see --help)" ;;
    esac
done
[[ $(id -u) == 0 ]] || die "run as root (it installs Debian packages and starts dockerd)"
mkdir -p "$state"
exec </dev/null

started=()   # what this run started or built, for the summary
reused=()    # what was already up

# ---- Debian packages of this machine's own suite ---------------------------------------
apt_updated=false
apt_update_once() {
    $apt_updated && return 0
    log "apt-get update"
    apt-get update -qq || die "apt-get update failed (is a Debian mirror reachable?)"
    apt_updated=true
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# Installs the packages that are missing. Services of the packages are not started (a
# temporary policy-rc.d, unless the machine has one): Debian's docker-registry would start
# a registry on :5000 of every address through its init script otherwise.
apt_install() {
    local missing=() pkg
    for pkg in "$@"; do installed "$pkg" || missing+=("$pkg"); done
    ((${#missing[@]})) || return 0
    apt_update_once
    log "installing ${missing[*]} (apt-get, this machine's suite)"
    local policy=/usr/sbin/policy-rc.d ours=false
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\n# Temporary, from stackplan scripts/env-up.sh: no service starts.\nexit 101\n' > "$policy"
        chmod 0755 "$policy"
        ours=true
    fi
    local rc=0
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$state/apt-install.log" 2>&1 || rc=$?
    if $ours; then rm -f "$policy"; fi
    if ((rc)); then
        tail -20 "$state/apt-install.log" >&2
        die "apt-get install ${missing[*]} failed (log: $state/apt-install.log)"
    fi
}

# ---- trixie packages, through a private apt configuration ------------------------------
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")

# The URI of this machine's main Debian archive: the first `deb` source whose suite is the
# machine's own codename (deb822 .sources files first, then one-line .list files).
archive_uri() {
    local f uri
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] || continue
        uri=$(awk -v cn="$codename" '
            BEGIN { RS=""; FS="\n" }
            {
                uris=""; suites=""; types=""; enabled="yes"
                for (i = 1; i <= NF; i++) {
                    if ($i ~ /^#/) continue
                    if ($i ~ /^URIs:/)    { v=$i; sub(/^URIs:[ \t]*/, "", v); uris=v }
                    if ($i ~ /^Suites:/)  { v=$i; sub(/^Suites:[ \t]*/, "", v); suites=" " v " " }
                    if ($i ~ /^Types:/)   { types=" " $i " " }
                    if ($i ~ /^Enabled:/) { v=$i; sub(/^Enabled:[ \t]*/, "", v); enabled=tolower(v) }
                }
                if (enabled != "no" && types ~ / deb / && index(suites, " " cn " ")) {
                    split(uris, u, " "); print u[1]; exit
                }
            }' "$f")
        [[ -n $uri ]] && { echo "$uri"; return; }
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f $f ]] || continue
        uri=$(awk -v cn="$codename" '
            $1 == "deb" {
                n = 2
                if ($2 ~ /^\[/) { while ($n !~ /\]$/ && n < NF) n++; n++ }
                if ($(n + 1) == cn) { print $n; exit }
            }' "$f")
        [[ -n $uri ]] && { echo "$uri"; return; }
    done
}

# The keyring that verifies trixie. debian-archive-keyring carries the trixie keys since
# 2023.3+deb12u1 (a bookworm point release); an older one is upgraded from this machine's
# suite. Prints nothing when no keyring has them.
trixie_keyring() {
    local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    local trixie_key=/usr/share/keyrings/debian-archive-trixie-automatic.gpg
    if [[ ! -f $trixie_key ]]; then
        apt_update_once
        log "upgrading debian-archive-keyring for the trixie keys"
        apt-get install -y -qq --only-upgrade debian-archive-keyring >/dev/null 2>&1 || true
    fi
    [[ -f $trixie_key && -f $keyring ]] && echo "$keyring"
    return 0
}

trixie_opts=()
setup_trixie_apt() {
    ((${#trixie_opts[@]})) && return 0
    local uri keyring
    uri=$(archive_uri)
    [[ -n $uri ]] || die "cannot find this machine's Debian archive ($codename) in /etc/apt/sources.list{,.d} to derive the trixie source from"
    keyring=$(trixie_keyring)
    mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial" "$aptdir/debs" "$aptdir/preferences.d"
    {
        echo "# Written by scripts/env-up.sh: this machine's Debian archive, suite trixie."
        echo "Types: deb"
        echo "URIs: $uri"
        echo "Suites: trixie"
        echo "Components: main"
        if [[ -n $keyring ]]; then
            echo "Signed-By: $keyring"
        else
            # Last resort: this machine's debian-archive-keyring has no trixie key and no
            # newer one could be installed. Only this private source, used only to download
            # docker.io/containerd/tini/docker-buildx, is trusted without a signature.
            echo "Trusted: yes"
        fi
    } > "$aptdir/trixie.sources"
    [[ -n $keyring ]] || warn "no trixie key in this machine's keyrings: the private trixie source is marked Trusted: yes"
    trixie_opts=(-o "Dir::Etc::SourceList=$aptdir/trixie.sources" -o Dir::Etc::SourceParts=/dev/null
                 -o "Dir::Etc::Preferences=/dev/null" -o "Dir::Etc::PreferencesParts=$aptdir/preferences.d"
                 -o "Dir::State::Lists=$aptdir/lists" -o "Dir::Cache=$aptdir/cache"
                 -o Dir::State::status=/dev/null -o APT::Sandbox::User=root)
}

trixie_update() {
    log "reading trixie's package list (source derived from this machine's apt sources: $(awk '/^URIs:/ {print $2}' "$aptdir/trixie.sources"))"
    apt-get "${trixie_opts[@]}" update -qq >"$aptdir/update.log" 2>&1 || {
        tail -20 "$aptdir/update.log" >&2
        die "apt-get update of the private trixie source failed (log: $aptdir/update.log)"
    }
}

# The file that shows a trixie package is unpacked.
unpacked_file() {
    case $1 in
        docker.io) echo "$pkgroot/usr/sbin/dockerd" ;;
        containerd) echo "$pkgroot/usr/bin/containerd" ;;
        tini) echo "$pkgroot/usr/bin/tini-static" ;;
        docker-buildx) echo "$pkgroot/usr/libexec/docker/cli-plugins/docker-buildx" ;;
        docker-cli) echo "$pkgroot/usr/bin/docker" ;;
        *) die "unknown trixie package $1" ;;
    esac
}

# Downloads (apt-get download, no dependencies) and unpacks (dpkg -x) the trixie packages
# that are not unpacked yet.
unpack_trixie() {
    local todo=() pkg
    for pkg in "$@"; do [[ -x $(unpacked_file "$pkg") ]] || todo+=("$pkg"); done
    ((${#todo[@]})) || return 0
    setup_trixie_apt
    local download=()
    for pkg in "${todo[@]}"; do
        compgen -G "$aptdir/debs/${pkg}_*.deb" >/dev/null || download+=("$pkg")
    done
    if ((${#download[@]})); then
        compgen -G "$aptdir/lists/*_Packages*" >/dev/null || trixie_update
        log "downloading ${download[*]} from trixie"
        if ! (cd "$aptdir/debs" && apt-get "${trixie_opts[@]}" download -qq "${download[@]}") 2>"$aptdir/download.log"; then
            # A stale package list names files the mirror no longer has: read it again.
            trixie_update
            (cd "$aptdir/debs" && apt-get "${trixie_opts[@]}" download -qq "${download[@]}") 2>"$aptdir/download.log" || {
                cat "$aptdir/download.log" >&2
                die "apt-get download ${download[*]} from trixie failed"
            }
        fi
    fi
    mkdir -p "$pkgroot"
    for pkg in "${todo[@]}"; do
        local deb
        deb=$(compgen -G "$aptdir/debs/${pkg}_*.deb" | sort -V | tail -1)
        dpkg -x "$deb" "$pkgroot"
        log "unpacked $(basename "$deb") into $pkgroot"
        started+=("unpacked trixie's $(basename "$deb")")
    done
    # trixie's runc needs a newer glibc than bookworm's; the machine's own runc is used.
    rm -f "$pkgroot/usr/sbin/runc" "$pkgroot/usr/bin/runc"
}

# ---- docker CLI and buildx ------------------------------------------------------------
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

# ---- dockerd --------------------------------------------------------------------------
# The engine uses containerd's image store (scripts/docker/daemon.json): with it, its BuildKit
# has the `image` exporter, so a `remote` buildx builder on it can push by digest.
uses_containerd_store() {
    docker info --format '{{json .DriverStatus}}' 2>/dev/null | grep -q io.containerd.snapshotter
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

# ---- the engine's BuildKit as a plain address, and a remote builder on it ---------------
buildkit_sock=$state/buildkit.sock
builder_endpoint() {
    { docker buildx inspect "$remote_builder" 2>/dev/null || true; } | awk '$1 == "Endpoint:" {print $2; exit}'
}

start_buildkit_proxy() {
    local endpoint
    endpoint=$(builder_endpoint)
    # Another checkout's proxy on the same engine, behind the shared builder: use it.
    if ! alive "$state/buildkit-proxy.pid" && ! alive "$state/dockerd.pid" \
        && [[ -n $endpoint && $endpoint != "unix://$buildkit_sock" && -S ${endpoint#unix://} ]] \
        && timeout 30 docker buildx inspect --bootstrap "$remote_builder" >/dev/null 2>&1; then
        buildkit_sock=${endpoint#unix://}
        reused+=("buildkit proxy of another checkout on $endpoint (builder $remote_builder)")
        return 0
    fi
    if alive "$state/buildkit-proxy.pid" && [[ -S $buildkit_sock ]]; then
        reused+=("buildkit proxy (pid $(cat "$state/buildkit-proxy.pid")) on unix://$buildkit_sock")
    else
        command -v python3 >/dev/null || apt_install python3
        setsid python3 "$root/scripts/buildkit-proxy.py" "$buildkit_sock" "$docker_sock" \
            > "$state/buildkit-proxy.log" 2>&1 &
        echo $! > "$state/buildkit-proxy.pid"
        for _ in $(seq 50); do [[ -S $buildkit_sock ]] && break; sleep 0.1; done
        [[ -S $buildkit_sock ]] || die "the buildkit proxy did not start (log: $state/buildkit-proxy.log)"
        started+=("buildkit proxy (pid $(cat "$state/buildkit-proxy.pid")) exposing the engine's BuildKit on unix://$buildkit_sock")
    fi
    if [[ -n $endpoint && $endpoint != "unix://$buildkit_sock" ]]; then
        docker buildx rm "$remote_builder" >/dev/null 2>&1 || true
        endpoint=
    fi
    if [[ -z $endpoint ]]; then
        docker buildx create --name "$remote_builder" --driver remote "unix://$buildkit_sock" >/dev/null
        started+=("buildx builder $remote_builder (remote driver on unix://$buildkit_sock)")
    fi
    timeout 60 docker buildx inspect --bootstrap "$remote_builder" >/dev/null \
        || die "the $remote_builder builder does not answer (log: $state/buildkit-proxy.log)"
}

# ---- registries -----------------------------------------------------------------------
check_url= check_opts=()
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
        kill -0 "$pid" 2>/dev/null || break  # not `alive`: see start_daemon
        sleep 0.1
    done
    tail -20 "$state/$name.log" >&2
    die "the registry on 127.0.0.1:$port did not start (log: $state/$name.log)"
}

# ---- registries as users meet them: tokens, TLS, faults; BuildKit behind mTLS ----------
# The keys and certificates of the test environment, made once (openssl): a CA, a server
# certificate for 127.0.0.1/localhost and a client certificate it signed, and the key and
# self-signed certificate the token server signs tokens with.
make_pki() {
    # A TLS registry another checkout started on the port: use that checkout's PKI.
    local pid foreign
    pid=$(tcp_listener_pid "$tls_registry_port")
    if [[ -n $pid ]] && ! alive "$state/registry-$tls_registry_port.pid"; then
        foreign=$(tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | sed -n 's/^REGISTRY_HTTP_TLS_CERTIFICATE=//p')
        if [[ -n $foreign && -s $(dirname "$foreign")/client.crt ]]; then
            pki=$(dirname "$foreign")
            return 0
        fi
    fi
    [[ -s $pki/client.crt && -s $pki/token.crt ]] && return 0
    command -v openssl >/dev/null || apt_install openssl
    mkdir -p "$pki"
    local o=(-days 3650 -sha256)
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$pki/ca.key" -out "$pki/ca.crt" "${o[@]}" \
        -subj "/CN=stackplan test CA" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout "$pki/server.key" -out "$pki/server.csr" \
        -subj "/CN=localhost" 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > "$pki/server.ext"
    openssl x509 -req -in "$pki/server.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
        -out "$pki/server.crt" -extfile "$pki/server.ext" "${o[@]}" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout "$pki/client.key" -out "$pki/client.csr" \
        -subj "/CN=stackplan test client" 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' > "$pki/client.ext"
    openssl x509 -req -in "$pki/client.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
        -out "$pki/client.crt" -extfile "$pki/client.ext" "${o[@]}" 2>/dev/null
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$pki/token.key" -out "$pki/token.crt" "${o[@]}" \
        -subj "/CN=stackplan-token-server" 2>/dev/null
    chmod 0600 "$pki"/*.key
    started+=("test CA, server, client and token-signing certificates in $pki")
}

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
    check_url= check_opts=()
    start_daemon fault-proxy "$fault_port" python3 "$root/scripts/fault-proxy.py" \
        "$fault_port" "127.0.0.1:$registry_port"
    start_daemon buildkit-tls "$buildkit_tls_port" python3 "$root/scripts/tls-front.py" \
        "$buildkit_tls_port" "$pki/server.crt" "$pki/server.key" "$pki/ca.crt" "$buildkit_sock"
}

# ---- the base image -------------------------------------------------------------------
manifest_status() {
    local ref=${1#*/} repo tag
    repo=${ref%:*} tag=${ref##*:}
    curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
        -H 'Accept: application/vnd.oci.image.index.v1+json' \
        -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
        -H 'Accept: application/vnd.docker.distribution.manifest.list.v2+json' \
        -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
        "http://127.0.0.1:$registry_port/v2/$repo/manifests/$tag"
}

push_base_image() {
    if [[ $(manifest_status "$base_image") == 200 ]]; then
        reused+=("base image $base_image (in the registry)")
        return 0
    fi
    log "building $base_image from busybox-static"
    local tmp busybox
    tmp=$(mktemp -d)
    # The busybox-static package (installed from this machine's suite): its /bin/busybox.
    busybox=$(dpkg -L busybox-static | grep '/busybox$' | head -1 || true)
    [[ -x $busybox ]] || die "busybox-static's binary was not found"
    local rootfs=$tmp/rootfs
    mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,proc,sys,dev,var,opt}
    chmod 1777 "$rootfs/tmp"
    install -m 0755 "$busybox" "$rootfs/bin/busybox"
    local applet
    for applet in $("$rootfs/bin/busybox" --list); do
        [[ -e $rootfs/bin/$applet ]] || ln -s busybox "$rootfs/bin/$applet"
    done
    echo 'root:x:0:0:root:/root:/bin/sh' > "$rootfs/etc/passwd"
    echo 'root:x:0:' > "$rootfs/etc/group"
    tar --numeric-owner -C "$rootfs" -c . | docker import \
        -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' -c 'CMD ["sh"]' \
        - "$base_image" >/dev/null
    rm -rf "$tmp"
    docker push -q "$base_image" >/dev/null || die "docker push $base_image failed (log: $state/dockerd.log)"
    started+=("base image $base_image (busybox $({ "$busybox" 2>&1 || true; } | head -1 | awk '{print $2}'), pushed)")
}

# ---- smoke checks ---------------------------------------------------------------------
run_check() {
    local what=$1
    shift
    if ! "$@" >"$state/check.log" 2>&1; then
        tail -30 "$state/check.log" >&2
        die "check failed: $what (output: $state/check.log)"
    fi
    log "ok: $what"
}

check_bake() {
    local dir=$1
    cat > "$dir/bake.json" <<BAKE
{
  "target": {
    "base": {
      "context": ".",
      "dockerfile-inline": "FROM $base_image\nRUN echo base > /base\n",
      "output": ["type=cacheonly"]
    },
    "child": {
      "context": ".",
      "contexts": { "$base_image": "target:base" },
      "dockerfile-inline": "FROM $base_image\nRUN test \"\$(cat /base)\" = base && date > /child\n",
      "no-cache": true,
      "output": ["type=cacheonly"]
    }
  }
}
BAKE
    (cd "$dir" && docker buildx bake --builder default --progress=plain -f bake.json child)
}

smoke_checks() {
    local tmp
    tmp=$(mktemp -d)
    run_check "docker run --rm $base_image sh -c 'echo ok'" \
        bash -c "[[ \$(docker run --rm '$base_image' sh -c 'echo ok') == ok ]]"
    run_check "docker buildx build (default builder, docker driver) with a RUN step" \
        bash -c "printf 'FROM %s\nRUN echo hi > /x\n' '$base_image' | docker buildx build --builder default --no-cache --progress=plain --output type=cacheonly -"
    run_check "docker buildx bake, a target as another's named context" check_bake "$tmp"
    run_check "docker buildx build on the $remote_builder builder" \
        bash -c "printf 'FROM %s\nRUN echo hi > /x\n' '$base_image' | docker buildx build --builder '$remote_builder' --no-cache --progress=plain --output type=cacheonly -"
    run_check "token registry: a bearer challenge, a token from the token server, 200 with it" \
        bash -c "curl -s -D - -o /dev/null http://127.0.0.1:$token_registry_port/v2/ | grep -qi 'www-authenticate: bearer realm=' &&
                 t=\$(curl -sf -u '$auth_user:$auth_password' 'http://127.0.0.1:$token_server_port/token?service=stackplan-registry&scope=repository:smoke:pull' | python3 -c 'import json, sys; print(json.load(sys.stdin)[\"token\"])') &&
                 [[ \$(curl -s -o /dev/null -w '%{http_code}' -H \"Authorization: Bearer \$t\" http://127.0.0.1:$token_registry_port/v2/) == 200 ]]"
    run_check "TLS registry: verifies with the CA made here, not without it" \
        bash -c "curl -sf -o /dev/null --cacert '$pki/ca.crt' https://127.0.0.1:$tls_registry_port/v2/ &&
                 ! curl -s -o /dev/null https://127.0.0.1:$tls_registry_port/v2/"
    run_check "fault front: forwards to the registry" \
        bash -c "[[ \$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$fault_port/v2/) == 200 ]]"
    run_check "auth registry: 401 without credentials, 200 with them" \
        bash -c "[[ \$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$auth_registry_port/v2/) == 401 &&
                   \$(curl -s -o /dev/null -w '%{http_code}' -u '$auth_user:$auth_password' http://127.0.0.1:$auth_registry_port/v2/) == 200 ]]"
    rm -rf "$tmp"
}

write_env_file() {
    cat > "$state/env.sh.tmp" <<ENV
# Written by scripts/env-up.sh: source it to use the environment.
export DOCKER_HOST=unix://$docker_sock
export STACKPLAN_REGISTRY=localhost:$registry_port
export STACKPLAN_AUTH_REGISTRY=localhost:$auth_registry_port
export STACKPLAN_AUTH_USER=$auth_user
export STACKPLAN_AUTH_PASSWORD=$auth_password
export STACKPLAN_BASE_IMAGE=$base_image
export STACKPLAN_ENV_DIR=$state
export STACKPLAN_BUILDKIT_ADDR=unix://$buildkit_sock
export STACKPLAN_REMOTE_BUILDER=$remote_builder
export STACKPLAN_TOKEN_REGISTRY=localhost:$token_registry_port
export STACKPLAN_TOKEN_SERVER=http://127.0.0.1:$token_server_port
export STACKPLAN_TLS_REGISTRY=localhost:$tls_registry_port
export STACKPLAN_FAULT_REGISTRY=localhost:$fault_port
export STACKPLAN_BUILDKIT_TLS_ADDR=tcp://127.0.0.1:$buildkit_tls_port
export STACKPLAN_PKI=$pki
ENV
    mv "$state/env.sh.tmp" "$state/env.sh"
}

summary() {
    local item
    if ((${#started[@]})); then
        echo "env-up: started or installed:" >&2
        for item in "${started[@]}"; do echo "  + $item" >&2; done
    fi
    if ((${#reused[@]})); then
        echo "env-up: already up:" >&2
        for item in "${reused[@]}"; do echo "  = $item" >&2; done
    fi
}

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
cat >&2 <<SUMMARY
env-up: ready in $((SECONDS - _env_t0)) s
  engine     $(docker version -f '{{.Server.Version}}') on unix://$docker_sock (log: $state/dockerd.log)
  buildx     $(docker buildx version | awk '{print $2}') (plugin in $buildx_plugins)
  buildkit   unix://$buildkit_sock (the engine's BuildKit; buildx builder $remote_builder)
  registry   127.0.0.1:$registry_port (anonymous), 127.0.0.1:$auth_registry_port (user $auth_user, password $auth_password)
             logs: $state/registry-$registry_port.log, $state/registry-$auth_registry_port.log
  real-world token registry 127.0.0.1:$token_registry_port (token server :$token_server_port), TLS registry :$tls_registry_port
             (CA $pki/ca.crt), fault front :$fault_port before :$registry_port, BuildKit mTLS front tcp://127.0.0.1:$buildkit_tls_port
  base image $base_image
  use:  source $state/env.sh      (export DOCKER_HOST=unix://$docker_sock)
  stop: scripts/env-down.sh       (--purge also deletes $state)
SUMMARY
