#!/usr/bin/env bash
# Replays a stack repository's history with two stackplan binaries and compares their
# offline decisions commit by commit: which targets are in the plan (`rebuild`) and why
# (reason kinds), and each target's action. Every first-parent commit that has a spec is
# planned as a push of that commit alone (--base C^ --head C), on a branch name that is
# not a full-rebuild branch. Prints one line per commit that differs and a summary; exits
# 1 when any commit differs.
#
# Usage: bench/replay-history.sh REPO OLD_BIN NEW_BIN [MAX_COMMITS]
set -euo pipefail
repo=$1 old=$2 new=$3 max=${4:-100000}
# FIRST_PARENT=0 replays every commit, not only the first-parent chain.
first_parent=--first-parent
[[ ${FIRST_PARENT:-1} == 0 ]] && first_parent=
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone -q "$repo" "$work/repo"
cd "$work/repo"
export STACKPLAN_OFFLINE=1 NO_COLOR=1
decisions() {
    local out
    out=$("$1" plan --format json --base "$2^" --head "$2" --branch replay --revision= --source-url= 2>"$work/err") \
        || { echo "error: $(grep -m1 -i error "$work/err" | cut -c1-160)"; return; }
    python3 -c 'import json,sys
p = json.load(sys.stdin)
for t in p["targets"]:
    kinds = sorted({r["kind"] for r in t["reason_details"]})
    print(t["name"], t["rebuild"], ",".join(kinds), t.get("action", "build" if t["rebuild"] else "none"))' <<< "$out"
}
total=0 same=0 differ=0 rebuilt=0
for c in $(git rev-list $first_parent --reverse HEAD | tail -n "$max"); do
    git cat-file -e "$c:images/spec.yml" 2>/dev/null || continue
    git rev-parse -q --verify "$c^" >/dev/null || continue
    git checkout -q --force "$c"
    git clean -qfdx
    a=$(decisions "$old" "$c")
    b=$(decisions "$new" "$c")
    total=$((total + 1))
    ((total % 50)) || echo "... $total commits replayed, $differ differ so far"
    rebuilt=$((rebuilt + $(grep -c ' True ' <<< "$b" || true)))
    if [[ $a == "$b" ]]; then
        same=$((same + 1))
    else
        differ=$((differ + 1))
        echo "differs at $(git log -1 --format='%h %s' "$c" | cut -c1-60):"
        { diff <(echo "$a") <(echo "$b") || true; } | sed 's/^/    /' | head -12
    fi
done
echo "replayed $total commits: $same decide the same, $differ differ; $rebuilt targets in the plan in all"
((differ == 0))
