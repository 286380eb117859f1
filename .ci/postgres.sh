# shellcheck shell=bash
# A throwaway PostgreSQL cluster for the tests: `postgres_start` runs initdb in a new
# temporary folder and starts the server on a free port of 127.0.0.1, then exports
# SNAPLINE_TEST_POSTGRES (an admin URL: user postgres, database postgres, no password).
# Tests that honour it create a fresh database of their own on that server
# (`engine::db::scratch_url`). `postgres_stop` stops the server and deletes the folder.
#
# initdb refuses to run as root, so as root the cluster belongs to the `postgres` user
# that Debian's postgresql package creates. Sourced by test.sh; needs .ci/setup.sh first.

postgres_bin() {
  local bin
  bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  [ -x "$bin/initdb" ] || {
    echo "error: PostgreSQL's initdb is missing; install Debian's postgresql package" >&2
    return 1
  }
  echo "$bin"
}

postgres_as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

postgres_start() {
  local bin
  bin="$(postgres_bin)"
  POSTGRES_DIR="$(mktemp -d /tmp/snapline-pg.XXXXXX)"
  POSTGRES_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  export POSTGRES_DIR POSTGRES_PORT
  [ "$(id -u)" -ne 0 ] || chown postgres: "$POSTGRES_DIR"
  # --no-sync: the cluster is thrown away, so initdb need not flush it. The server itself
  # keeps fsync on (its default), as production would.
  postgres_as_owner "$bin/initdb" -D "$POSTGRES_DIR/data" -A trust -U postgres -E UTF8 \
    --no-sync >"$POSTGRES_DIR/initdb.log" 2>&1 || {
    cat "$POSTGRES_DIR/initdb.log" >&2
    return 1
  }
  # max_connections: every test database gets a pool of up to 8 connections, and a
  # cargo test binary runs its tests two at a time on this machine's cores, several
  # servers each.
  postgres_as_owner "$bin/pg_ctl" -D "$POSTGRES_DIR/data" -l "$POSTGRES_DIR/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $POSTGRES_PORT -k $POSTGRES_DIR -c max_connections=400" \
    start >/dev/null || {
    cat "$POSTGRES_DIR/server.log" >&2
    return 1
  }
  export SNAPLINE_TEST_POSTGRES="postgres://postgres@127.0.0.1:$POSTGRES_PORT/postgres"
  say "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') for the tests on 127.0.0.1:$POSTGRES_PORT"
}

postgres_stop() {
  [ -n "${POSTGRES_DIR:-}" ] && [ -d "$POSTGRES_DIR" ] || return 0
  local bin
  bin="$(postgres_bin)"
  postgres_as_owner "$bin/pg_ctl" -D "$POSTGRES_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$POSTGRES_DIR"
  unset POSTGRES_DIR SNAPLINE_TEST_POSTGRES
}
