#!/usr/bin/env bash
# Builds one generated stack three ways from the same cold state and compares wall times:
#   (a) the old way: `docker build` image by image in BFS order, each waiting for the previous;
#   (b) stackplan: one bake file, one `docker buildx bake`;
#   (c) stackplan build: the engine's BuildKit driven over gRPC, no docker CLI.
# Every image has one RUN step that sleeps STEP seconds, so the critical path (the sum of
# steps along the longest parent→child chain) is the floor for any scheduler.
#
# Usage: bench/old-vs-bake.sh [STEP_SECONDS] [FANOUT] [DEPTH]   (default 3 3 3: 13 images)
# Needs the environment of scripts/env-up.sh.
set -euo pipefail

step=${1:-3}
fanout=${2:-3}
depth=${3:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck disable=SC1091
source "$here/.stackplan-env/env.sh" 2>/dev/null || true
docker info >/dev/null 2>&1 || { echo "no engine: run scripts/env-up.sh first" >&2; exit 1; }
cargo build --release --quiet --manifest-path "$here/Cargo.toml"
stackplan=$here/target/release/stackplan
base_image=${STACKPLAN_BASE_IMAGE:-localhost:5000/library/busybox:1.36}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
git init -q -b main && git config user.name bench && git config user.email bench@example.invalid

# A tree: level 0 has one root, each image has FANOUT children, DEPTH levels below the root.
mkdir -p images
{
    echo "tag: {prefix: bench}"
    echo "images:"
} > images/spec.yml
order=()      # BFS order, for the old way
parent_of=()  # parallel array
add_image() {
    local key=$1 parent=$2
    order+=("$key"); parent_of+=("$parent")
    mkdir -p "images/$key"
    echo "  $key: {image_name: bench.local/stack/$key${parent:+, depend_on: $parent}}" >> images/spec.yml
    if [[ -z $parent ]]; then
        printf 'ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nARG NONCE\nRUN echo "%s $NONCE" > /stack && sleep %s\n' "$key" "$step" > "images/$key/Dockerfile"
    else
        printf 'ARG BASE_TAG=latest\nFROM bench.local/stack/%s:${BASE_TAG}\nARG NONCE\nRUN echo "%s $NONCE" >> /stack && sleep %s\n' "$parent" "$key" "$step" > "images/$key/Dockerfile"
    fi
}
add_image r ""
level=(r)
for ((d = 1; d <= depth; d++)); do
    next=()
    for p in "${level[@]}"; do
        for ((c = 1; c <= fanout; c++)); do add_image "$p$c" "$p"; next+=("$p$c"); done
    done
    level=("${next[@]}")
done
git add -A && git commit -qm stack

cold() {
    docker buildx prune -af >/dev/null
    docker image ls --format '{{.Repository}}:{{.Tag}}' | { grep '^bench.local/' || true; } | xargs -r docker image rm -f >/dev/null
}

now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc; }
command -v bc >/dev/null || apt-get install -y -qq bc >/dev/null

echo "stack: ${#order[@]} images, fan-out $fanout, depth $depth, one RUN of ${step} s each"
critical=$(echo "($depth + 1) * $step" | bc)

# (a) the old way
cold
nonce=$RANDOM$RANDOM
start=$(now)
for i in "${!order[@]}"; do
    key=${order[$i]}
    docker build -q --build-arg "BASE_IMAGE=$base_image" --build-arg "BASE_TAG=bench-old" \
        --build-arg "NONCE=$nonce" -t "bench.local/stack/$key:bench-old" "images/$key" >/dev/null
done
old=$(elapsed "$start" "$(now)")

# (b) stackplan + one bake
cold
nonce=$RANDOM$RANDOM
start=$(now)
"$stackplan" bake --offline --full --branch new --build-arg "BASE_IMAGE=$base_image" \
    --build-arg "NONCE=$nonce" --revision= --source-url= -o bake.json 2>/dev/null
docker buildx bake -f bake.json --progress quiet >/dev/null 2>&1 || docker buildx bake -f bake.json >/dev/null
new=$(elapsed "$start" "$(now)")

# (c) stackplan build over gRPC
cold
nonce=$RANDOM$RANDOM
start=$(now)
"$stackplan" build --addr docker:// --offline --full --branch new --build-arg "BASE_IMAGE=$base_image" \
    --build-arg "NONCE=$nonce" --revision= --source-url= --progress plain >/dev/null 2>&1
grpc=$(elapsed "$start" "$(now)")

printf 'old way (docker build, one at a time): %6.1f s\n' "$old"
printf 'stackplan + docker buildx bake:        %6.1f s\n' "$new"
printf 'stackplan build (gRPC):                %6.1f s\n' "$grpc"
printf 'speed-up (bake):                       %6.1fx\n' "$(echo "$old / $new" | bc -l)"
printf 'build / bake:                          %6.2f\n' "$(echo "$grpc / $new" | bc -l)"
printf 'critical path (floor for any order):   %6.1f s\n' "$critical"
