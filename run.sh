#!/usr/bin/env bash
# Installs what is missing, builds Snapline in release mode and serves the dashboard and API
# on http://127.0.0.1:3000 with data in ./data. Extra arguments go to `snapline serve`
# (see `target/release/snapline serve --help`); `--build-only` builds and stops there.
set -euo pipefail
source "$(dirname "$0")/.ci/setup.sh"
cd "$SNAPLINE_ROOT"
say "building Snapline (release)"
cargo leptos build --release
# A CARGO_TARGET_DIR elsewhere holds the binary; the site is where Cargo.toml's
# site-root (or LEPTOS_SITE_ROOT) put it.
target="${CARGO_TARGET_DIR:-target}"
if [ "${1:-}" = "--build-only" ]; then
  say "built: $target/release/snapline, the dashboard's assets in ${LEPTOS_SITE_ROOT:-target/site}"
  exit 0
fi
say "starting snapline serve"
exec "$target/release/snapline" serve --site-root "${LEPTOS_SITE_ROOT:-target/site}" "$@"
