#!/usr/bin/env bash
# The whole test suite, as CI runs it (`.ci/run`): brings up the build environment
# (scripts/env-up.sh: Docker engine with BuildKit, buildx, registries, base image), then
# checks formatting and lints, and runs every test, the end-to-end ones against the real
# engine and registry included. The library's layers are checked first: it takes a second
# and needs nothing of the environment.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== layers (scripts/check-layers.py)" >&2
python3 scripts/check-layers.py

scripts/env-up.sh
source .stackplan-env/env.sh

echo "== cargo fmt --check" >&2
cargo fmt --all -- --check
echo "== cargo clippy -D warnings (every target, benches included)" >&2
cargo clippy --all-targets --locked -- -D warnings
echo "== cargo doc -D warnings (the module docs' links resolve)" >&2
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --lib --locked
echo "== actionlint" >&2
scripts/lint-workflows.sh
echo "== cargo publish --dry-run (the crate as crates.io gets it builds on its own)" >&2
# It reads the crates.io index through cargo; with CARGO_NET_OFFLINE=true (no registry
# access) the same package is built from the local cache instead, and that is said.
# The packaged crate's build shares build.rs's fingerprint with the checkout's (same target
# dir); a revision given through the environment makes the next checkout build rerun it.
export STACKPLAN_BUILD_REVISION
STACKPLAN_BUILD_REVISION="$(git rev-parse --short=9 HEAD 2>/dev/null || true)"
if [[ ${CARGO_NET_OFFLINE:-} == true ]]; then
    echo "note: CARGO_NET_OFFLINE=true: cargo package --offline instead of cargo publish --dry-run" >&2
    cargo package --locked --offline --allow-dirty
else
    cargo publish --dry-run --locked --allow-dirty
fi
unset STACKPLAN_BUILD_REVISION
echo "== cargo test" >&2
# The error-message snapshots (tests/cli/snapshots) are only read here: a missing or changed
# one fails the run, and no .snap.new is left behind (docs/development.md: reviewing them).
export INSTA_UPDATE=no
cargo test --locked --lib --bins --tests
