#!/usr/bin/env bash
# Promotes the example stack's branch tags to <prefix>-stable two ways and compares what the
# registry sends (from its access log) and the wall time:
#   (a) the old way: docker pull, docker tag, docker push, image by image;
#   (b) stackplan promote: one manifest GET and PUT per tag, registry-side.
# Needs the environment of scripts/env-up.sh. Usage: bench/promote-vs-pull-push.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck disable=SC1091
source "$here/.stackplan-env/env.sh"
cargo build --release --quiet --manifest-path "$here/Cargo.toml"
stackplan=$here/target/release/stackplan
log=$STACKPLAN_ENV_DIR/registry-${STACKPLAN_REGISTRY##*:}.log
ns=$STACKPLAN_REGISTRY/bench-promote-$(date +%s)
cd "$here"

# Build and push the example stack on branch main (every plan).
"$stackplan" bake --offline --full --branch main --push --registry "$ns" \
    --build-arg "BASE_IMAGE=$STACKPLAN_BASE_IMAGE" --revision= --source-url= -o "$here/target/bench-bake.json" 2>/dev/null
# No provenance attestation: the old way cannot re-push an index whose attestation it never pulled.
BUILDX_NO_DEFAULT_ATTESTATIONS=1 docker buildx bake -f target/bench-bake.json --progress quiet >/dev/null 2>&1

refs=$("$stackplan" plan --offline --full --branch main --registry "$ns" --format json 2>/dev/null \
    | python3 -c 'import json,sys; [print(t["image_name"], t["tag_prefix"]) for t in json.load(sys.stdin)["targets"]]')

# Bytes the registry sent, and blob requests, since line $1 of its log.
sent_since() {
    tail -n +"$(( $1 + 1 ))" "$log" | awk '$9 ~ /^[0-9]+$/ && $10 ~ /^[0-9]+$/ { bytes += $10 } /\/blobs\// { blobs++ } END { printf "%d bytes, %d blob requests", bytes, blobs }'
}
lines() { wc -l < "$log"; }
now() { date +%s.%N; }

# (a) the old way, from an empty local image store
docker buildx prune -af >/dev/null
docker image prune -af >/dev/null
mark=$(lines); start=$(now)
while read -r name prefix; do
    docker pull -q "$name:$prefix-main" >/dev/null
    docker tag "$name:$prefix-main" "$name:$prefix-oldway"
    docker push -q "$name:$prefix-oldway" >/dev/null
done <<< "$refs"
old_time=$(echo "$(now) - $start" | bc); old=$(sent_since "$mark")

# (b) stackplan promote
mark=$(lines); start=$(now)
"$stackplan" promote --registry "$ns" --from '{prefix}-main' --to '{prefix}-stable' >/dev/null 2>&1
new_time=$(echo "$(now) - $start" | bc); new=$(sent_since "$mark")

echo "promoting $(echo "$refs" | wc -l) tags of the example stack:"
printf '  pull/tag/push:     %6.2f s, registry sent %s\n' "$old_time" "$old"
printf '  stackplan promote: %6.2f s, registry sent %s\n' "$new_time" "$new"
