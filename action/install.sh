#!/usr/bin/env bash
# The install steps of the stackplan GitHub Action (action.yml), as one script so a test
# runs exactly what the action runs. Bash 3.2 compatible (macOS runners).
#
#   action/install.sh resolve   which version, which release archive, where it goes, and
#                               whether a release asset exists (else: cargo install)
#   action/install.sh install   download the archive and its .sha256, verify, unpack; or
#                               `cargo install --locked` from the action's own source
#
# Inputs come from the environment (action.yml maps them):
#   INPUT_VERSION      auto (the action's own version: its Cargo.toml), X.Y.Z, vX.Y.Z, or
#                      source (always build the action's own source with cargo)
#   INPUT_RELEASE_URL  where the releases are, .../releases/download (default: the action's
#                      repository on $GITHUB_SERVER_URL)
#   ACTION_PATH        the action's checkout (github.action_path)
#   ACTION_REPOSITORY, ACTION_REF   github.action_repository / github.action_ref (often
#                      empty in composite actions: then read from ACTION_PATH)
#   RUNNER_OS, RUNNER_ARCH, RUNNER_TOOL_CACHE, RUNNER_TEMP, GITHUB_OUTPUT, GITHUB_PATH
# `resolve` writes version, target, archive, url, mode (release|cargo), dir and cache-key
# to $GITHUB_OUTPUT; `install` reads them back from the environment (STACKPLAN_*).
set -euo pipefail

log() { echo "stackplan action: $*" >&2; }
die() { echo "::error title=stackplan action::$*" >&2; exit 1; }
output() { echo "$1=$2" >> "${GITHUB_OUTPUT:?GITHUB_OUTPUT is not set}"; }

# The release target triple for this runner, or nothing when no release archive is built
# for it (then the action builds from source).
runner_target() {
    case "${RUNNER_OS:-}/${RUNNER_ARCH:-}" in
        Linux/X64) echo x86_64-unknown-linux-gnu ;;
        Linux/ARM64) echo aarch64-unknown-linux-gnu ;;
        macOS/X64) echo x86_64-apple-darwin ;;
        macOS/ARM64) echo aarch64-apple-darwin ;;
        *) echo "" ;;
    esac
}

# The version in the action's own Cargo.toml ([package] comes first).
source_version() {
    local toml=${ACTION_PATH:?ACTION_PATH is not set}/Cargo.toml
    [[ -f $toml ]] || die "no Cargo.toml in the action's folder $ACTION_PATH: give the action a version input"
    sed -n 's/^version *= *"\([^"]*\)".*/\1/p' "$toml" | head -1
}

# owner/name and ref of the action: github.action_repository/action_ref when the runner
# sets them, else the action's folder, which the runner names .../_actions/OWNER/NAME/REF.
action_repository() {
    if [[ -n ${ACTION_REPOSITORY:-} ]]; then echo "$ACTION_REPOSITORY"; return; fi
    case ${ACTION_PATH:-} in
        */_actions/*/*/*)
            local rest=${ACTION_PATH#*/_actions/}
            echo "${rest%%/*}/$(echo "$rest" | cut -d/ -f2)" ;;
        *) echo "${GITHUB_REPOSITORY:-}" ;;  # `uses: ./`: this repository
    esac
}

action_ref() {
    if [[ -n ${ACTION_REF:-} ]]; then echo "$ACTION_REF"; return; fi
    case ${ACTION_PATH:-} in
        */_actions/*/*/*) echo "${ACTION_PATH#*/_actions/}" | cut -d/ -f3- ;;
        *) git -C "${ACTION_PATH:-.}" rev-parse HEAD 2>/dev/null || echo "" ;;
    esac
}

# The HTTP status of a GET (the small checksum file: release storage may refuse HEAD).
http_status() {
    curl -sSL -o /dev/null -w '%{http_code}' --retry 3 --retry-connrefused --max-time 60 "$1" 2>/dev/null || true
}

# A string made safe for cache keys and folder names.
slug() { printf '%s' "$1" | tr -c 'A-Za-z0-9._-' '-'; }

resolve() {
    local version target archive url="" mode dir key release_url
    case ${INPUT_VERSION:-auto} in
        ""|auto) version=$(source_version); mode=release ;;
        source) version=$(source_version); mode=cargo ;;
        *) version=${INPUT_VERSION#v}; mode=release ;;
    esac
    [[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+ ]] || die "version '$version' is not X.Y.Z (input version: ${INPUT_VERSION:-auto})"
    target=$(runner_target)
    archive=""
    if [[ $mode == release && -z $target ]]; then
        log "no release archive is built for ${RUNNER_OS:-?}/${RUNNER_ARCH:-?}: building from source"
        mode=cargo
    fi
    if [[ $mode == release ]]; then
        release_url=${INPUT_RELEASE_URL:-}
        if [[ -z $release_url ]]; then
            local repo
            repo=$(action_repository)
            [[ -n $repo ]] || die "cannot tell which repository the action comes from: give the release-url input"
            release_url=${GITHUB_SERVER_URL:-https://github.com}/$repo/releases/download
        fi
        archive=stackplan-$target-v$version.tar.gz
        url=${release_url%/}/v$version/$archive
        local status
        status=$(http_status "$url.sha256")
        case $status in
            200) ;;
            404)
                log "no release asset $url.sha256 (HTTP 404): building stackplan $version from the action's source"
                mode=cargo ;;
            *) die "cannot reach $url (HTTP ${status:-no answer}); retry, or give version: source to build from the action's source" ;;
        esac
    fi
    dir=${RUNNER_TOOL_CACHE:-${RUNNER_TEMP:-/tmp}}/stackplan/$version/${target:-source}
    if [[ $mode == release ]]; then
        key=stackplan-$version-$target-release
    else
        # A build of the source is cached per action ref (a tag or commit), never across
        # sources that share a version.
        local ref
        ref=$(action_ref)
        key=stackplan-$version-${target:-${RUNNER_OS:-os}-${RUNNER_ARCH:-arch}}-source-${ref:-run-${GITHUB_RUN_ID:-0}}
        key=$(slug "$key")
        dir=$dir-$(slug "${ref:-run}")
    fi
    log "stackplan $version for ${target:-this runner} from ${mode/cargo/source (cargo install --locked)} into $dir"
    output version "$version"
    output target "$target"
    output archive "$archive"
    output url "$url"
    output mode "$mode"
    output dir "$dir"
    output cache-key "$key"
}

sha256_of() {
    if command -v sha256sum >/dev/null; then sha256sum "$1" | awk '{print $1}'
    else shasum -a 256 "$1" | awk '{print $1}'; fi
}

install_release() {
    local url=${STACKPLAN_URL:?} archive=${STACKPLAN_ARCHIVE:?} dir=${STACKPLAN_DIR:?}
    local tmp
    tmp=$(mktemp -d "${RUNNER_TEMP:-/tmp}/stackplan.XXXXXX")
    log "downloading $url"
    curl -fsSL --retry 3 --retry-connrefused --max-time 300 -o "$tmp/$archive" "$url" \
        || die "download of $url failed"
    curl -fsSL --retry 3 --retry-connrefused --max-time 60 -o "$tmp/$archive.sha256" "$url.sha256" \
        || die "download of $url.sha256 failed: the release has no checksum for $archive"
    local expected actual
    expected=$(awk '{print $1; exit}' "$tmp/$archive.sha256")
    actual=$(sha256_of "$tmp/$archive")
    [[ $expected =~ ^[0-9a-f]{64}$ ]] || die "$url.sha256 holds no sha256 (got '${expected:0:80}')"
    if [[ $expected != "$actual" ]]; then
        rm -rf "$tmp"
        die "checksum mismatch for $archive: the release says $expected, the download is $actual; nothing was installed"
    fi
    log "sha256 $actual verified"
    tar -xzf "$tmp/$archive" -C "$tmp"
    local top=${archive%.tar.gz}
    [[ -x $tmp/$top/stackplan ]] || die "$archive has no $top/stackplan"
    rm -rf "$dir"
    mkdir -p "$dir/bin"
    mv "$tmp/$top/stackplan" "$dir/bin/stackplan"
    # The completions and the man page travel with the binary.
    for extra in completions man LICENSE; do
        [[ -e $tmp/$top/$extra ]] && mv "$tmp/$top/$extra" "$dir/"
    done
    rm -rf "$tmp"
}

install_cargo() {
    local dir=${STACKPLAN_DIR:?}
    command -v cargo >/dev/null || die "no release archive fits and cargo is not installed: add a Rust toolchain step (dtolnay/rust-toolchain) before this action, or use a released version"
    [[ -f ${ACTION_PATH:?}/Cargo.lock ]] || die "the action's folder $ACTION_PATH has no Cargo.lock to build from"
    log "cargo install --locked --path $ACTION_PATH --root $dir"
    cargo install --locked --path "$ACTION_PATH" --root "$dir" --force
}

install() {
    case ${STACKPLAN_MODE:?} in
        release) install_release; output from release ;;
        cargo) install_cargo; output from cargo ;;
        *) die "unknown mode $STACKPLAN_MODE" ;;
    esac
}

# Puts the binary on PATH for the job's later steps and checks that it runs.
activate() {
    local bin=${STACKPLAN_DIR:?}/bin
    [[ -x $bin/stackplan ]] || die "$bin/stackplan is missing after install"
    echo "$bin" >> "${GITHUB_PATH:?GITHUB_PATH is not set}"
    local version
    version=$("$bin/stackplan" --version) || die "$bin/stackplan does not run on this runner"
    log "installed: $version"
    output path "$bin/stackplan"
}

case ${1:-} in
    resolve) resolve ;;
    install) install ;;
    activate) activate ;;
    *) die "usage: action/install.sh resolve|install|activate" ;;
esac
