#!/usr/bin/env bash
# `stackplan build` against `docker buildx bake` and against the floor of any scheduler: the
# longest chain of the tree built alone.
#
# For each tree (FANOUTxDEPTH: one root, FANOUT children per image, DEPTH levels below the
# root), with and without pushing to the local registry, from the same cold state every time
# (BuildKit's cache pruned, the run's images removed), it builds:
#   - the longest chain alone: a linear stack of DEPTH+1 images, with each method below;
#   - the tree with `docker buildx bake` (stackplan's bake file, the engine's builder);
#   - the tree with `stackplan build --addr docker://` (the engine's BuildKit behind /grpc);
#   - the tree with `stackplan build --addr $STACKPLAN_BUILDKIT_ADDR` (the same BuildKit as
#     a plain buildkitd socket).
# Every image is one `RUN ... sleep STEP` on the local base image, so a tree can be no faster
# than its longest chain. The table gives each time, and the ratio of each tree build to the
# floor (the fastest build of the chain alone, same push mode).
#
# Usage: bench/build-vs-bake.sh [TREE...]   (default: 2x2 3x2 3x3, i.e. 7, 13 and 40 images)
# Environment: STEP (seconds per image, default 2); RUNS (builds per cell, the median is
# shown, default 1: one run, as the README's figures); STACKPLAN_BIN (a built stackplan; by
# default `cargo build --release`). Needs the environment of scripts/env-up.sh (source its
# env.sh) and the engine to itself: run it under `flock /tmp/stackplan-e2e.lock` when the
# engine is shared.
set -euo pipefail

step=${STEP:-2}
runs=${RUNS:-1}
trees=("$@")
[[ ${#trees[@]} -gt 0 ]] || trees=(2x2 3x2 3x3)
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck disable=SC1091
[[ -n ${STACKPLAN_BUILDKIT_ADDR:-} ]] || source "$here/.stackplan-env/env.sh" 2>/dev/null || true
: "${STACKPLAN_BUILDKIT_ADDR:?source the env.sh that scripts/env-up.sh writes}"
docker info >/dev/null 2>&1 || { echo "no engine: run scripts/env-up.sh first" >&2; exit 1; }
if [[ -n ${STACKPLAN_BIN:-} ]]; then
    stackplan=$STACKPLAN_BIN
else
    cargo build --release --quiet --manifest-path "$here/Cargo.toml"
    stackplan=${CARGO_TARGET_DIR:-$here/target}/release/stackplan
fi
registry=${STACKPLAN_REGISTRY:-localhost:5000}
base_image=${STACKPLAN_BASE_IMAGE:-$registry/library/busybox:1.36}
socket=$STACKPLAN_BUILDKIT_ADDR

work=$(mktemp -d)
drop_images() {
    docker image ls --format '{{.Repository}}:{{.Tag}}' | { grep "^$registry/bench-" || true; } |
        xargs -r docker image rm -f >/dev/null
}
trap 'rm -rf "$work"; drop_images' EXIT

# make_stack DIR FANOUT DEPTH: a git checkout of the tree (FANOUT 1: a chain).
make_stack() {
    local dir=$1 fanout=$2 depth=$3
    mkdir -p "$dir/images"
    (
        cd "$dir"
        git init -q -b main && git config user.name bench && git config user.email bench@example.invalid
        printf 'tag: {prefix: bench}\nimages:\n' > images/spec.yml
        add() {
            local key=$1 parent=$2
            mkdir -p "images/$key"
            echo "  $key: {image_name: bench.local/stack/$key${parent:+, depend_on: $parent}}" >> images/spec.yml
            if [[ -z $parent ]]; then
                printf 'ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n' > "images/$key/Dockerfile"
            else
                printf 'ARG BASE_TAG=latest\nFROM bench.local/stack/%s:${BASE_TAG}\n' "$parent" > "images/$key/Dockerfile"
            fi
            printf 'ARG NONCE\nRUN echo "%s $NONCE" >> /stack && sleep %s\n' "$key" "$step" >> "images/$key/Dockerfile"
        }
        add r ""
        local level=(r) next p c d
        for ((d = 1; d <= depth; d++)); do
            next=()
            for p in "${level[@]}"; do
                for ((c = 1; c <= fanout; c++)); do add "$p$c" "$p"; next+=("$p$c"); done
            done
            level=("${next[@]}")
        done
        git add -A && git commit -qm stack
    )
}

cold() {
    docker buildx prune --builder default -af >/dev/null
    drop_images
}

now() { date +%s.%N; }

# run METHOD DIR PUSH: builds the stack in DIR from a cold state; prints the seconds, or
# "failed" (the output is in DIR/METHOD.log).
run() {
    local method=$1 dir=$2 push=$3 nonce ns start status=0
    cold
    nonce=$RANDOM$RANDOM
    ns=$registry/bench-$nonce
    local common=(--offline --full --branch bench --registry "$ns" --build-arg "BASE_IMAGE=$base_image"
        --build-arg "NONCE=$nonce" --revision= --source-url=)
    local push_flag=()
    [[ $push == yes ]] && push_flag=(--push)
    start=$(now)
    (
        cd "$dir"
        case $method in
            bake)
                "$stackplan" bake "${common[@]}" "${push_flag[@]}" -o bake.json 2>/dev/null &&
                    docker buildx bake --builder default -f bake.json --progress plain ;;
            docker)
                "$stackplan" build --addr docker:// "${common[@]}" "${push_flag[@]}" --progress plain ;;
            socket)
                "$stackplan" build --addr "$socket" "${common[@]}" "${push_flag[@]}" --progress plain ;;
        esac
    ) > "$dir/$method-$push.log" 2>&1 || status=$?
    if [[ $status -ne 0 ]]; then
        echo failed
    else
        awk -v a="$start" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'
    fi
}

# median METHOD DIR PUSH: the median of RUNS runs (a failed one counts as failed).
median() {
    local i out=()
    for ((i = 0; i < runs; i++)); do out+=("$(run "$@")"); done
    if printf '%s\n' "${out[@]}" | grep -q failed; then
        echo failed
    else
        printf '%s\n' "${out[@]}" | sort -g | sed -n "$(((runs + 1) / 2))p"
    fi
}

methods=(bake docker socket)
declare -A label=(
    [bake]="docker buildx bake"
    [docker]="stackplan build --addr docker://"
    [socket]="stackplan build --addr <socket>"
)
rows=()
for tree in "${trees[@]}"; do
    fanout=${tree%x*} depth=${tree#*x}
    chain_dir=$work/chain-$tree tree_dir=$work/tree-$tree
    make_stack "$chain_dir" 1 "$depth"
    make_stack "$tree_dir" "$fanout" "$depth"
    images=$(grep -c 'image_name' "$tree_dir/images/spec.yml")
    for push in no yes; do
        declare -A chain=() full=()
        for m in "${methods[@]}"; do chain[$m]=$(median "$m" "$chain_dir" "$push"); done
        for m in "${methods[@]}"; do full[$m]=$(median "$m" "$tree_dir" "$push"); done
        floor=$(printf '%s\n' "${chain[@]}" | grep -v failed | sort -g | head -1)
        for m in "${methods[@]}"; do
            ratio=$(awk -v t="${full[$m]}" -v f="$floor" 'BEGIN { if (t == "failed" || f == "") print "-"; else printf "%.2f", t / f }')
            rows+=("$(printf '| %s images (%s, chain of %s) | %s | %s | %s | %s | %s |' \
                "$images" "$tree" "$((depth + 1))" "$push" "${label[$m]}" "${chain[$m]}" "${full[$m]}" "$ratio")")
        done
        unset chain full
        printf '%s\n' "${rows[@]: -3}" >&2
    done
done

echo "one RUN of ${step}s per image; cold builder for every build; median of $runs run(s); $(docker version --format 'engine {{.Server.Version}}')"
echo
echo "| tree | push | method | chain alone (s) | tree (s) | tree / floor |"
echo "| --- | --- | --- | --- | --- | --- |"
printf '%s\n' "${rows[@]}"
echo
echo "floor: the fastest build of the chain alone with the same push mode"
