#!/usr/bin/env bash
# Satisfies the example stack's targets on a merge to main two ways, from the same state, and
# compares wall time and what the registry sent and received (from its access log):
#   (a) the cached rebuild the old pipeline did: a cold builder rebuilds every image with
#       the registry cache (every step a cache hit), exports and pushes it again;
#   (b) content-addressed reuse: `stackplan reuse` finds every target's inputs already built
#       (on the merged branch) and writes main's tags registry-side.
# Needs the environment of scripts/env-up.sh; prunes the engine's build cache, so run it
# alone (it takes the e2e lock). Usage: bench/reuse-vs-cached.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck disable=SC1091
source "$here/.stackplan-env/env.sh"
exec 9>/tmp/stackplan-e2e.lock
flock 9
cargo build --release --quiet --manifest-path "$here/Cargo.toml"
stackplan=$here/target/release/stackplan
log=$STACKPLAN_ENV_DIR/registry-${STACKPLAN_REGISTRY##*:}.log
ns=$STACKPLAN_REGISTRY/bench-reuse-$(date +%s)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export STACKPLAN_OFFLINE=
flags=(--registry "$ns" --build-arg "BASE_IMAGE=$STACKPLAN_BASE_IMAGE" --revision= --source-url=)

cd "$work"
git init -q -b main
git config user.name bench && git config user.email bench@example.invalid
cp -r "$here/images" images
git add -A && git commit -qm stack
git checkout -q -b feat
echo 'RUN echo feat >> /etc/stack-release' >> images/scipy-notebook/Dockerfile
git commit -qam feat

# The branch is built and pushed: every image now records its inputs.
"$stackplan" bake --push "${flags[@]}" -o bake.json 2>/dev/null
docker buildx bake -f bake.json --progress quiet >/dev/null 2>&1
git checkout -q main
git merge -q --no-ff feat -m "Merge feat"

# Bytes the registry sent, blob requests and blob uploads, since line $1 of its log.
since() {
    tail -n +"$(( $1 + 1 ))" "$log" | awk '
        $9 ~ /^[0-9]+$/ && $10 ~ /^[0-9]+$/ { bytes += $10 }
        /"(GET|HEAD) [^"]*\/blobs\// { blobs++ }
        /"(PUT|PATCH|POST) [^"]*\/blobs\/uploads/ { uploads++ }
        END { printf "sent %d bytes, %d blob reads, %d blob upload requests", bytes, blobs, uploads }'
}
lines() { wc -l < "$log"; }
now() { date +%s.%N; }

# (a) the cached rebuild, cold builder: main's bake as the old pipeline had it (offline:
# every target rebuilds), importing the branch's cache.
docker buildx prune -af >/dev/null
"$stackplan" bake --offline --push "${flags[@]}" -o main-bake.json 2>/dev/null
python3 - "$ns" <<'PY'
import json, sys
ns = sys.argv[1]
bake = json.load(open("main-bake.json"))
for t in bake["target"].values():
    t["cache-from"] = [c.replace("-main", "-feat") for c in t.get("cache-from", [])]
json.dump(bake, open("main-bake.json", "w"))
PY
mark=$(lines); start=$(now)
docker buildx bake -f main-bake.json --progress quiet >/dev/null 2>&1
old_time=$(echo "$(now) - $start" | bc); old=$(since "$mark")
targets=$(python3 -c 'import json; print(len(json.load(open("main-bake.json"))["group"]["default"]["targets"]))')

# (b) content-addressed reuse, with main's tags from (a) removed from consideration: plan
# on a branch of its own name so nothing is current yet.
git checkout -q -b main-reuse
mark=$(lines); start=$(now)
"$stackplan" reuse "${flags[@]}" --full-rebuild-branch main-reuse >/dev/null 2>&1
new_time=$(echo "$(now) - $start" | bc); new=$(since "$mark")

echo "satisfying the example stack's $targets targets after a merge (cold builder for the rebuild):"
printf '  cached rebuild (bake):  %6.2f s, registry %s\n' "$old_time" "$old"
printf '  stackplan reuse:        %6.2f s, registry %s\n' "$new_time" "$new"
