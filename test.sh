#!/usr/bin/env bash
# Runs every test: formatting, lints, the Rust tests of every crate, a release build, and
# the browser tests against a real `snapline serve`. Ends with the test runners' summaries.
set -euo pipefail
# The tests need an S3 server too (Garage; .ci/garage.sh starts it).
export SNAPLINE_NEED_GARAGE=1
source "$(dirname "$0")/.ci/setup.sh"
cd "$SNAPLINE_ROOT"

source "$SNAPLINE_ROOT/.ci/postgres.sh"
source "$SNAPLINE_ROOT/.ci/garage.sh"

logs="$(mktemp -d)"
trap 'postgres_stop; garage_stop; rm -rf "$logs"' EXIT

say "cargo fmt --check"
cargo fmt --all --check

say "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

say "cargo doc (engine: every public item documented, no broken links)"
RUSTDOCFLAGS="-D warnings" cargo doc -p engine --no-deps --quiet

# `frontend` is the wasm entry and has no tests; leaving it out keeps `app` compiled with
# `ssr` only, exactly as the server ships (with `hydrate` unified in, Effects would run on
# the server).
# Garage serves both passes: the S3 store's tests run against it (each in a prefix of its
# own), and SNAPLINE_REQUIRE_S3 turns a missing server into a failure, never a skip.
garage_start
export SNAPLINE_REQUIRE_S3=1

say "cargo test (every crate, on SQLite)"
env -u SNAPLINE_TEST_POSTGRES cargo test --workspace --exclude frontend 2>&1 | tee "$logs/cargo-test.log"

# The crates with a database, again on PostgreSQL: each test makes a database of its own
# on a throwaway cluster (engine::db::scratch_url); the cluster tests run only here.
say "cargo test (engine, service and server, on PostgreSQL)"
postgres_start
cargo test -p engine -p service -p snapline 2>&1 | tee "$logs/cargo-test-pg.log"
postgres_stop
garage_stop

say "release build (server and wasm)"
cargo leptos build --release

say "browser tests against a real snapline serve"
"$SNAPLINE_ROOT/.ci/e2e.sh" 2>&1 | tee "$logs/e2e.log"

echo
echo "==================== test summary ===================="
summarize() {
  awk '/^ *Running / { crate = $0; sub(/.*deps\//, "", crate); sub(/-[0-9a-f]+\)$/, "", crate);
                      what = $0; sub(/^ *Running (unittests )?/, "", what); sub(/ \(.*$/, "", what); suite = crate " " what }
       /^ *Doc-tests / { suite = $2 " doc-tests" }
       /^test result:/ { printf "  %-30s %s\n", suite, $0; n++; passed += $4; failed += $6 }
       END { printf "  total: %d suites, %d passed, %d failed\n", n, passed, failed }' "$1"
}
echo "cargo test (SQLite):"
summarize "$logs/cargo-test.log"
echo "cargo test (PostgreSQL):"
summarize "$logs/cargo-test-pg.log"
echo "playwright:"
grep -E "^\s+[0-9]+ (passed|failed|flaky|skipped)" "$logs/e2e.log" | sed 's/^ */  /'
