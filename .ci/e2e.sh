#!/usr/bin/env bash
# Starts the release `snapline serve` on a free port with a temporary data dir, runs the
# Playwright tests in end2end/ against it, and stops it (also on failure).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$root/target/release/snapline"
[ -x "$bin" ] || { echo "error: $bin is missing; run cargo leptos build --release" >&2; exit 1; }

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
tmp="$(mktemp -d)"
token="hdy_e2e$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"

SNAPLINE_ADMIN_TOKEN="$token" "$bin" serve --listen "127.0.0.1:$port" \
  --data-dir "$tmp/data" --site-root "$root/target/site" >"$tmp/server.log" 2>&1 &
pid=$!
stop() {
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  # Containers outlive the server that started them: end the ones the tests started.
  if [ -d "$tmp/data/runc" ] && command -v runc >/dev/null; then
    for id in $(runc --root "$tmp/data/runc" list -q 2>/dev/null); do
      runc --root "$tmp/data/runc" delete --force "$id" >/dev/null 2>&1 || true
    done
  fi
  rm -rf "$tmp"
}
trap stop EXIT

for _ in $(seq 1 300); do
  curl -fsS "http://127.0.0.1:$port/api/v1/health" >/dev/null 2>&1 && break
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "error: snapline serve exited before it was ready; its log:" >&2
    cat "$tmp/server.log" >&2
    exit 1
  fi
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$port/api/v1/health" >/dev/null

cd "$root/end2end"
status=0
BASE_URL="http://127.0.0.1:$port" SNAPLINE_TOKEN="$token" SNAPLINE_BIN="$bin" npx playwright test "$@" || status=$?
if [ "$status" -ne 0 ]; then
  echo "---- snapline serve log ----" >&2
  tail -n 100 "$tmp/server.log" >&2
fi
exit "$status"
