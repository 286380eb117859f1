# shellcheck shell=bash
# A throwaway single-node Garage (S3) server for the tests: `garage_start` writes a config
# in a new temporary folder, starts Garage on free ports of 127.0.0.1, assigns the one-node
# layout, creates the bucket `snapline-test` and a key allowed on it, and exports the
# standard variables object_store and the AWS tools read (AWS_ENDPOINT_URL, AWS_REGION,
# AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ALLOW_HTTP) plus SNAPLINE_TEST_S3, the
# bucket's URL. Each test uses a prefix of its own in that bucket. `garage_stop` stops the
# server and deletes the folder. data_fsync and metadata_fsync are on, as a single-node
# production server needs them (Garage's own advice for one node without replicas). Sourced
# by test.sh; needs .ci/setup.sh first.

garage_bin() {
  local g
  for g in "$(command -v garage 2>/dev/null)" /opt/garage/bin/garage "$HOME/.cargo/bin/garage"; do
    [ -n "$g" ] && [ -x "$g" ] && { echo "$g"; return 0; }
  done
  echo "error: Garage is missing; .ci/setup.sh installs it in /opt/garage" >&2
  return 1
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

garage_start() {
  local bin rpc s3 admin
  bin="$(garage_bin)" || return 1
  GARAGE_DIR="$(mktemp -d /tmp/snapline-garage.XXXXXX)"
  rpc="$(free_port)" s3="$(free_port)" admin="$(free_port)"
  cat >"$GARAGE_DIR/garage.toml" <<TOML
metadata_dir = "$GARAGE_DIR/meta"
data_dir = "$GARAGE_DIR/data"
db_engine = "sqlite"
replication_factor = 1
metadata_fsync = true
data_fsync = true
rpc_bind_addr = "127.0.0.1:$rpc"
rpc_public_addr = "127.0.0.1:$rpc"
rpc_secret = "$(openssl rand -hex 32)"
[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$s3"
root_domain = ".s3.garage.localhost"
[admin]
api_bind_addr = "127.0.0.1:$admin"
admin_token = "$(openssl rand -base64 32)"
TOML
  GARAGE="$bin -c $GARAGE_DIR/garage.toml"
  export GARAGE_DIR GARAGE
  $GARAGE server >"$GARAGE_DIR/server.log" 2>&1 &
  echo $! >"$GARAGE_DIR/pid"
  local node="" i
  for i in $(seq 1 100); do
    # `|| true`: until the server answers, `garage status` fails, which must not end a
    # caller running under `set -euo pipefail` (test.sh).
    node="$($GARAGE status 2>/dev/null | awk '/NO ROLE ASSIGNED/ {print $1; exit}' || true)"
    [ -n "$node" ] && break
    sleep 0.1
  done
  [ -n "$node" ] || {
    echo "error: Garage did not start; its log:" >&2
    cat "$GARAGE_DIR/server.log" >&2
    return 1
  }
  $GARAGE layout assign -z dc1 -c 10G "$node" >/dev/null &&
    $GARAGE layout apply --version 1 >/dev/null &&
    $GARAGE bucket create snapline-test >/dev/null &&
    $GARAGE key create snapline-test-key >"$GARAGE_DIR/key.txt" &&
    $GARAGE bucket allow --read --write --owner snapline-test --key snapline-test-key >/dev/null || {
    echo "error: cannot set Garage up; its log:" >&2
    cat "$GARAGE_DIR/server.log" >&2
    return 1
  }
  AWS_ACCESS_KEY_ID="$(awk '/Key ID:/ {print $NF; exit}' "$GARAGE_DIR/key.txt")"
  AWS_SECRET_ACCESS_KEY="$(awk '/Secret key:/ {print $NF; exit}' "$GARAGE_DIR/key.txt")"
  [ -n "$AWS_ACCESS_KEY_ID" ] && [ -n "$AWS_SECRET_ACCESS_KEY" ] || {
    echo "error: cannot read the key Garage made:" >&2
    cat "$GARAGE_DIR/key.txt" >&2
    return 1
  }
  export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
  export AWS_ENDPOINT_URL="http://127.0.0.1:$s3" AWS_REGION=garage AWS_ALLOW_HTTP=true
  export SNAPLINE_TEST_S3="s3://snapline-test"
  say "Garage $($GARAGE --version 2>/dev/null | awk '{print $2}') for the tests on 127.0.0.1:$s3"
}

garage_stop() {
  [ -n "${GARAGE_DIR:-}" ] && [ -d "$GARAGE_DIR" ] || return 0
  local pid
  pid="$(cat "$GARAGE_DIR/pid" 2>/dev/null)"
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -rf "$GARAGE_DIR"
  unset GARAGE_DIR GARAGE SNAPLINE_TEST_S3 AWS_ENDPOINT_URL AWS_REGION AWS_ACCESS_KEY_ID \
    AWS_SECRET_ACCESS_KEY AWS_ALLOW_HTTP
}
