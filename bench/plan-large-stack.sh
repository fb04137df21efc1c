#!/usr/bin/env bash
# Times `stackplan` on a generated stack of N images (default 5000) in a real git checkout,
# and reports its peak memory. Usage: bench/plan-large-stack.sh [N] [RUNS]
# (STACKPLAN_BIN=path: time that binary instead of this checkout's release build).
set -euo pipefail

n=${1:-5000}
runs=${2:-5}
here=$(cd "$(dirname "$0")/.." && pwd)
# STACKPLAN_BIN=path times another build (an older one, for before/after figures).
if [[ -n ${STACKPLAN_BIN:-} ]]; then
    bin=$STACKPLAN_BIN
else
    # The binary as it ships (`dist`: the release profile with LTO).
    cargo build --profile dist --quiet --manifest-path "$here/Cargo.toml"
    bin="$here/target/dist/stackplan"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
git init -q -b main
git config user.name bench && git config user.email bench@example.invalid

# A tree, four children per parent, two plans; every child builds FROM its parent.
python3 - "$n" <<'PY'
import os, sys
n = int(sys.argv[1])
os.makedirs("images", exist_ok=True)
with open("images/spec.yml", "w") as spec:
    spec.write("tag: {prefix: '2026.3'}\nplans:\n  a: {tag_prefix: '2026.3'}\n  b: {tag_prefix: '2026.3-b'}\nimages:\n")
    for i in range(n):
        key = f"img-{i:05}"
        spec.write(f"  {key}:\n    image_name: ghcr.io/org/{key}\n")
        os.makedirs(f"images/{key}", exist_ok=True)
        with open(f"images/{key}/Dockerfile", "w") as df:
            if i == 0:
                df.write("ARG BASE_IMAGE=busybox\nFROM ${BASE_IMAGE}\nRUN true\n")
            else:
                parent = f"img-{(i - 1) // 4:05}"
                spec.write(f"    depend_on: {parent}\n")
                df.write(f"ARG BASE_TAG=latest\nFROM ghcr.io/org/{parent}:${{BASE_TAG}}\nRUN true\n")
PY
echo '{"ChangeIgnore": ["*.md"], "BuildAll": ["spec.yml"]}' > images/change_ignore.json
git add -A && git commit -qm stack
git checkout -q -b feature
echo "RUN echo changed" >> images/img-00001/Dockerfile
git commit -qam change

measure() {
    local label=$1; shift
    local best=999999 total=0 rss=0
    for _ in $(seq "$runs"); do
        local start end ms kb
        start=$(date +%s%N)
        /usr/bin/time -o "$work/time.txt" -f '%M' "$bin" "$@" >/dev/null 2>&1
        kb=$(tail -1 "$work/time.txt")
        end=$(date +%s%N)
        ms=$(( (end - start) / 1000000 ))
        total=$((total + ms)); (( ms < best )) && best=$ms
        (( kb > rss )) && rss=$kb
    done
    printf '%-34s best %5d ms  mean %5d ms  peak RSS %6d KiB\n' "$label" "$best" $((total / runs)) "$rss"
}

# Planning itself, not the network: the generated stack names registries nobody serves here.
export STACKPLAN_OFFLINE=1
# Offline no target of this stack can pin (its root builds FROM busybox by tag), so `bake`
# reads no build context; `plan --format json` and `check` read and digest every one.
echo "stack: $n images, 2 plans ($((2 * n)) targets); $runs runs each (offline, no registry)"
measure "stackplan plan --format json" plan --format json
measure "stackplan bake" bake
measure "stackplan check" check

# Where `stackplan bake` spends its time (the phases of its best run; git works out the
# change set in its own processes while the stack and its contexts are read, so it shows
# only what is left to wait for).
best_phases="" best_total=999999
for _ in $(seq "$runs"); do
    phases=$(STACKPLAN_TIMINGS=1 "$bin" bake 2>&1 >/dev/null | sed -n 's/^stackplan: timing: //p')
    total=$(awk '{ for (i = 1; i < NF; i++) if ($(i + 1) == "ms") t += $i } END { printf "%d", t }' <<<"$phases")
    if (( total < best_total )); then best_total=$total best_phases=$phases; fi
done
echo "stackplan bake, by phase (best run, $best_total ms in phases):"
sed 's/^/  /' <<<"$best_phases"
