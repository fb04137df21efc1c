#!/usr/bin/env bash
# Makes one release archive of stackplan, as .github/workflows/release.yml attaches it to a
# release and the GitHub Action (action/install.sh) and cargo-binstall download it:
#
#   OUTDIR/stackplan-TARGET-vVERSION.tar.gz          stackplan-TARGET-vVERSION/
#                                                       stackplan, LICENSE, README.md,
#                                                       completions/ (bash, zsh, fish,
#                                                       elvish, powershell), man/stackplan.1
#   OUTDIR/stackplan-TARGET-vVERSION.tar.gz.sha256   "<sha256>  <archive name>" (sha256sum -c)
#
# Usage: scripts/package-release.sh BINARY TARGET VERSION OUTDIR [DOCS_DIR]
#   DOCS_DIR holds completions/ and man/ made by a binary of the same version (for targets
#   whose binary cannot run on the packaging machine); without it BINARY makes them.
# Bash 3.2 compatible (macOS runners).
set -euo pipefail

die() { echo "package-release: $*" >&2; exit 1; }
(($# == 4 || $# == 5)) || die "usage: $0 BINARY TARGET VERSION OUTDIR [DOCS_DIR]"
binary=$1 target=$2 version=${3#v} outdir=$4 docs=${5:-}
root=$(cd "$(dirname "$0")/.." && pwd)
[[ -x $binary ]] || die "$binary is not an executable"
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+ ]] || die "version $version is not X.Y.Z"

name=stackplan-$target-v$version
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
dir=$stage/$name
mkdir -p "$dir"
cp "$binary" "$dir/stackplan"
chmod 0755 "$dir/stackplan"
cp "$root/LICENSE" "$root/README.md" "$dir/"
if [[ -n $docs ]]; then
    [[ -d $docs/completions && -f $docs/man/stackplan.1 ]] || die "$docs lacks completions/ or man/stackplan.1"
    cp -R "$docs/completions" "$docs/man" "$dir/"
else
    mkdir -p "$dir/completions" "$dir/man"
    "$binary" completions bash > "$dir/completions/stackplan.bash"
    "$binary" completions zsh > "$dir/completions/_stackplan"
    "$binary" completions fish > "$dir/completions/stackplan.fish"
    "$binary" completions elvish > "$dir/completions/stackplan.elv"
    "$binary" completions powershell > "$dir/completions/_stackplan.ps1"
    "$binary" man > "$dir/man/stackplan.1"
fi

# Reproducible: sorted entries, fixed owner and times.
archive=$name.tar.gz
if tar --version 2>/dev/null | grep -q GNU; then
    tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$stage" -cf - "$name" | gzip -n > "$outdir/$archive"
else
    tar -C "$stage" -cf - "$name" | gzip -n > "$outdir/$archive"
fi
if command -v sha256sum >/dev/null; then
    sum=$(sha256sum "$outdir/$archive" | awk '{print $1}')
else
    sum=$(shasum -a 256 "$outdir/$archive" | awk '{print $1}')
fi
echo "$sum  $archive" > "$outdir/$archive.sha256"
echo "$outdir/$archive"
