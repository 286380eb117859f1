#!/usr/bin/env bash
# Installs what is missing, builds Snapline in release mode and serves the dashboard and API
# on http://127.0.0.1:3000 with data in ./data. Extra arguments go to `snapline serve`
# (see `target/release/snapline serve --help`).
set -euo pipefail
source "$(dirname "$0")/.ci/setup.sh"
cd "$SNAPLINE_ROOT"
say "building Snapline (release)"
cargo leptos build --release
say "starting snapline serve"
exec target/release/snapline serve --site-root target/site "$@"
