# shellcheck shell=bash
# Installs what Snapline's build and tests need, skipping whatever is already present.
# Sourced by run.sh, test.sh and .ci/run; it exports PATH for the tools it finds or installs.
# Safe to run with no standard input (CI) and as often as you like.

set -euo pipefail

SNAPLINE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export SNAPLINE_ROOT
CARGO_LEPTOS_VERSION="0.3.5"

say() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else
    echo "error: installing system packages needs root (or sudo): $*" >&2
    return 1
  fi
}

# Debian packages: Chromium for browser tests, runc and tini to run containers, restic,
# debootstrap and GNU time for the side-by-side benchmark, busybox-static for the built-in
# demo image, curl for health checks, PostgreSQL for the tests on a shared database (the
# tests start a throwaway cluster of their own; see .ci/postgres.sh).
apt_wanted=(chromium runc tini restic debootstrap time busybox-static curl ca-certificates
  postgresql openssl)
command -v node >/dev/null || apt_wanted+=(nodejs)
command -v npm >/dev/null || apt_wanted+=(npm)
apt_missing=()
for pkg in "${apt_wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || apt_missing+=("$pkg")
done
if [ "${#apt_missing[@]}" -gt 0 ]; then
  say "installing Debian packages: ${apt_missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_missing[@]}" >/dev/null
  # Debian's postgresql package makes and starts a cluster "main" where it can. The tests
  # use throwaway clusters of their own (.ci/postgres.sh): stop the one this install started.
  if printf '%s\n' "${apt_missing[@]}" | grep -qx postgresql && command -v pg_lsclusters >/dev/null; then
    pg_lsclusters -h 2>/dev/null | awk '$4 == "online" { print $1, $2 }' | while read -r version cluster; do
      as_root pg_ctlcluster "$version" "$cluster" stop || true
    done
  fi
fi

export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
if ! command -v cargo >/dev/null; then
  echo "error: cargo is missing; install Rust 1.95 with rustup (https://rustup.rs)" >&2
  exit 1
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
  say "installing cargo-leptos $CARGO_LEPTOS_VERSION (takes about 17 minutes on 2 cores)"
  cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked
fi

# wasm-bindgen-cli must match the wasm-bindgen crate in Cargo.lock exactly.
wbg_version="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$SNAPLINE_ROOT/Cargo.lock")"
if ! wasm-bindgen --version 2>/dev/null | grep -q "$wbg_version"; then
  say "installing wasm-bindgen-cli $wbg_version (takes about 5 minutes)"
  # Not --locked: its lock file names a crate version the registry no longer has.
  cargo install wasm-bindgen-cli --version "$wbg_version" --force
fi

# Garage, the S3 server the tests and the benchmark run against (.ci/garage.sh); only for
# test.sh (SNAPLINE_NEED_GARAGE=1), not for run.sh, which serves without it. Only the
# features one test node needs (SQLite metadata, bundled C libraries), built at opt-level 1
# with the default release profile otherwise: 9 minutes on 2 cores here, against 36 for the
# default features at opt-level 3. Tests never measure Garage's own speed.
GARAGE_VERSION=2.5.0
if [ "${SNAPLINE_NEED_GARAGE:-}" = 1 ] &&
  ! /opt/garage/bin/garage --version 2>/dev/null | grep -q "$GARAGE_VERSION"; then
  say "installing Garage $GARAGE_VERSION in /opt/garage (takes about 9 minutes on 2 cores)"
  as_root mkdir -p /opt/garage && as_root chown "$(id -u)" /opt/garage
  CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_TARGET_DIR="${TMPDIR:-/tmp}/snapline-garage-build" \
    cargo install garage --version "$GARAGE_VERSION" --locked --no-default-features \
    --features bundled-libs,sqlite --root /opt/garage
  rm -rf "${TMPDIR:-/tmp}/snapline-garage-build"
fi

# Browser-test tooling and wasm-opt (binaryen 116, from npm: Debian's binaryen 108 breaks
# hydration and cargo-leptos cannot download binaryen here).
e2e="$SNAPLINE_ROOT/end2end"
if [ ! -f "$e2e/node_modules/.package-lock.json" ] || [ "$e2e/package-lock.json" -nt "$e2e/node_modules/.package-lock.json" ]; then
  say "installing npm packages in end2end/"
  (cd "$e2e" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi
export PATH="$e2e/node_modules/binaryen/bin:$PATH"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
