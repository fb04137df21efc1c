# shellcheck shell=bash disable=SC2154  # the shared state: lib-env.sh and env-up.sh set it
# The base image: busybox-static imported and pushed to the anonymous registry.
# Sourced by scripts/env-up.sh, which sets the shared state (lib-env.sh) and the
# `started`/`reused` lists of the summary.

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
