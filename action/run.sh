#!/usr/bin/env bash
# The planning step of the stackplan GitHub Action (action.yml): runs, in the stack flow's
# order, the commands the inputs ask for, and writes their results as step outputs.
# Bash 3.2 compatible (macOS runners).
#
#   plan    stackplan plan --format json -o $INPUT_PLAN_FILE, and the markdown plan
#           appended to $GITHUB_STEP_SUMMARY                       -> output plan-file
#   reuse   stackplan reuse (tags of images whose inputs were built already)
#   bake    stackplan bake $INPUT_BAKE_ARGS -o $INPUT_BAKE_FILE      -> output bake-file
#   matrix  stackplan matrix --github-output                         -> outputs matrix,
#           has_targets, has_builds
#
# INPUT_ARGS go to every command (planning flags: --default-branch, --registry, ...); they
# are split on whitespace.
set -euo pipefail

log() { echo "stackplan action: $*" >&2; }
output() { echo "$1=$2" >> "${GITHUB_OUTPUT:?GITHUB_OUTPUT is not set}"; }
enabled() { [[ ${1:-false} == true ]]; }

args=()
if [[ -n ${INPUT_ARGS:-} ]]; then read -r -a args <<< "$INPUT_ARGS"; fi
bake_args=()
if [[ -n ${INPUT_BAKE_ARGS:-} ]]; then read -r -a bake_args <<< "$INPUT_BAKE_ARGS"; fi

# ${args[@]+"${args[@]}"}: an empty array under `set -u` on bash 3.2.
run() {
    log "stackplan $*"
    stackplan "$@"
}

if enabled "${INPUT_PLAN:-}"; then
    plan_file=${INPUT_PLAN_FILE:-plan.json}
    mkdir -p "$(dirname "$plan_file")"
    run plan --format json ${args[@]+"${args[@]}"} -o "$plan_file"
    if [[ -n ${GITHUB_STEP_SUMMARY:-} ]]; then
        run plan --format markdown ${args[@]+"${args[@]}"} >> "$GITHUB_STEP_SUMMARY"
    fi
    output plan-file "$plan_file"
fi

if enabled "${INPUT_REUSE:-}"; then
    run reuse ${args[@]+"${args[@]}"}
fi

if enabled "${INPUT_BAKE:-}"; then
    bake_file=${INPUT_BAKE_FILE:-bake.json}
    mkdir -p "$(dirname "$bake_file")"
    run bake ${args[@]+"${args[@]}"} ${bake_args[@]+"${bake_args[@]}"} -o "$bake_file"
    output bake-file "$bake_file"
fi

if enabled "${INPUT_MATRIX:-}"; then
    run matrix ${args[@]+"${args[@]}"} --github-output "${GITHUB_OUTPUT:?}" >&2
fi
