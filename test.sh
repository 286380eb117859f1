#!/usr/bin/env bash
# Runs every test: formatting, lints, the Rust tests of every crate, a release build, and
# the browser tests against a real `snapline serve`. Ends with the test runners' summaries.
set -euo pipefail
source "$(dirname "$0")/.ci/setup.sh"
cd "$SNAPLINE_ROOT"

logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT

say "cargo fmt --check"
cargo fmt --all --check

say "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

say "cargo doc (engine: every public item documented, no broken links)"
RUSTDOCFLAGS="-D warnings" cargo doc -p engine --no-deps --quiet

# `frontend` is the wasm entry and has no tests; leaving it out keeps `app` compiled with
# `ssr` only, exactly as the server ships (with `hydrate` unified in, Effects would run on
# the server).
say "cargo test (every crate)"
cargo test --workspace --exclude frontend 2>&1 | tee "$logs/cargo-test.log"

say "release build (server and wasm)"
cargo leptos build --release

say "browser tests against a real snapline serve"
"$SNAPLINE_ROOT/.ci/e2e.sh" 2>&1 | tee "$logs/e2e.log"

echo
echo "==================== test summary ===================="
echo "cargo test:"
awk '/^ *Running / { crate = $0; sub(/.*deps\//, "", crate); sub(/-[0-9a-f]+\)$/, "", crate);
                    what = $0; sub(/^ *Running (unittests )?/, "", what); sub(/ \(.*$/, "", what); suite = crate " " what }
     /^ *Doc-tests / { suite = $2 " doc-tests" }
     /^test result:/ { printf "  %-30s %s\n", suite, $0; n++; passed += $4; failed += $6 }
     END { printf "  total: %d suites, %d passed, %d failed\n", n, passed, failed }' "$logs/cargo-test.log"
echo "playwright:"
grep -E "^\s+[0-9]+ (passed|failed|flaky|skipped)" "$logs/e2e.log" | sed 's/^ */  /'
