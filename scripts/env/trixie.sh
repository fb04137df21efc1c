# shellcheck shell=bash disable=SC2154  # the shared state: lib-env.sh and env-up.sh set it
# trixie's packages (docker.io, containerd, tini, docker-buildx, docker-cli) through a
# private apt configuration in the state folder, derived from this machine's apt sources,
# downloaded once and unpacked into $pkgroot; the machine's apt configuration is not changed.
# Sourced by scripts/env-up.sh, which sets the shared state (lib-env.sh) and the
# `started`/`reused` lists of the summary.

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
