# shellcheck shell=bash disable=SC2154  # the shared state: lib-env.sh and env-up.sh set it
# Debian packages of this machine's own suite: installed only when missing, none of
# their services started.
# Sourced by scripts/env-up.sh, which sets the shared state (lib-env.sh) and the
# `started`/`reused` lists of the summary.

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
