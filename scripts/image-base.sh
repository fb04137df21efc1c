#!/usr/bin/env bash
# Makes, without pulling anything, a base image for stackplan's container image (the
# Dockerfile's `runtime-base` stage) from this machine's own Debian files: busybox-static
# for a shell, git and the libraries it and stackplan link against (as ldd reports them),
# and the CA certificates; then pushes it to a local registry. The e2e suite builds the
# image on it (tests/e2e/image.rs); with the internet the Dockerfile's own debian stage is
# used instead. See docs/install.md.
#
# Usage: scripts/image-base.sh REF [BINARY]
#   REF     where to push, e.g. localhost:5000/stackplan/runtime-base:local
#   BINARY  a stackplan binary whose libraries must be there too (default: none)
set -euo pipefail

die() { echo "image-base: $*" >&2; exit 1; }
(($# == 1 || $# == 2)) || die "usage: $0 REF [BINARY]"
ref=$1 binary=${2:-}
command -v docker >/dev/null || die "docker is needed"
busybox=$(command -v busybox || true)
[[ -x /bin/busybox ]] && busybox=/bin/busybox
[[ -n $busybox ]] || die "busybox is missing (scripts/env-up.sh installs busybox-static)"
git=$(command -v git) || die "git is missing"
[[ -f /etc/ssl/certs/ca-certificates.crt ]] || die "no /etc/ssl/certs/ca-certificates.crt (apt-get install ca-certificates)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rootfs=$tmp/rootfs
# usr/local/etc: where a git built from source keeps its --system config.
mkdir -p "$rootfs"/{bin,usr/bin,usr/local/bin,usr/local/etc,etc/ssl/certs,tmp,root,repo}
chmod 1777 "$rootfs/tmp"
install -m 0755 "$busybox" "$rootfs/bin/busybox"
for applet in sh ls cat env id; do ln -s busybox "$rootfs/bin/$applet"; done
install -m 0755 "$git" "$rootfs/usr/bin/git"
cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/"
echo 'root:x:0:0:root:/root:/bin/sh' > "$rootfs/etc/passwd"
echo 'root:x:0:' > "$rootfs/etc/group"

# The shared libraries (and the loader) of git and of the binary, at their own paths.
for exe in "$git" ${binary:+"$binary"}; do
    ldd "$exe" | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }'
done | sort -u | while read -r lib; do
    mkdir -p "$rootfs$(dirname "$lib")"
    cp -L "$lib" "$rootfs$lib"
done

tar --numeric-owner -C "$rootfs" -c . | docker import \
    -c 'ENV PATH=/usr/local/bin:/usr/bin:/bin' -c 'CMD ["sh"]' - "$ref" >/dev/null
docker push -q "$ref" >/dev/null || die "docker push $ref failed"
echo "$ref"
