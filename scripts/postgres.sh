#!/usr/bin/env bash
# Runs a real, throw-away PostgreSQL 15 server on 127.0.0.1 for tests and benchmarks.
#
#   scripts/postgres.sh start    initdb a fresh cluster in a temp dir, start it, create the
#                                `streamforge` role and database; prints the DSN (and nothing
#                                else) on stdout. Already running: prints the DSN, exits 0.
#   scripts/postgres.sh stop     stop the server (pg_ctl -m fast) and delete the cluster
#                                (idempotent)
#   scripts/postgres.sh status   exit 0 and print the DSN if running, else exit 1
#   scripts/postgres.sh env      print export lines for SF_TEST_POSTGRES_DSN and POSTGRES_DSN
#
# Typical use:  SF_TEST_POSTGRES_DSN=$(scripts/postgres.sh start) ./build/tests/store_test
#
# The server listens on 127.0.0.1 only; its unix socket lives in the cluster's temp dir (mode
# 0700), where the superuser connects without a password to set things up. TCP logins need the
# password (scram-sha-256). initdb refuses to run as root, so when we are root the server runs as
# the `postgres` OS user (which the Debian package creates).
#
# Environment (all optional):
#   SF_PG_PORT            TCP port (default 15432)
#   SF_PG_STATE_DIR       where the cluster's path and port are recorded
#                         (default /tmp/streamforge-pg-<port>)
#   SF_PG_VERSION         PostgreSQL major version (default 15, Debian 12's)
#   SF_PG_SHARED_BUFFERS  shared_buffers (default 128MB: small, the machine is shared)
#   SF_PG_START_TIMEOUT   seconds to wait for the server to accept connections (default 60)
# Progress messages go to stderr; the server logs to <cluster dir>/server.log.
set -euo pipefail

LOG_NAME="postgres.sh"
# shellcheck source-path=SCRIPTDIR source=lib/server.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/server.sh"

PG_VERSION="${SF_PG_VERSION:-15}"
PORT="${SF_PG_PORT:-15432}"
HOST="127.0.0.1"
STATE_DIR="${SF_PG_STATE_DIR:-/tmp/streamforge-pg-${PORT}}"
SHARED_BUFFERS="${SF_PG_SHARED_BUFFERS:-128MB}"
START_TIMEOUT="${SF_PG_START_TIMEOUT:-60}"
PG_BIN="/usr/lib/postgresql/${PG_VERSION}/bin"

DB_NAME="streamforge"
DB_USER="streamforge"
DB_PASSWORD="streamforge"
DSN="postgres://${DB_USER}:${DB_PASSWORD}@${HOST}:${PORT}/${DB_NAME}"

MARKER="$STATE_DIR/.streamforge-pg"      # proves the state dir is ours before rm -rf
CLUSTER_FILE="$STATE_DIR/cluster_dir"    # path of the temp dir holding data/, socket/, the log
PORT_FILE="$STATE_DIR/port"
CLUSTER_MARKER_NAME=".streamforge-pg-cluster"

# The OS user the server runs as: postgres when we are root (initdb and postgres refuse root),
# otherwise ourselves.
server_user() {
  if [ "$(id -u)" -eq 0 ]; then echo postgres; else id -un; fi
}

# Runs a command as the server user, with a cwd that user can read (runuser keeps ours, which may
# be a directory postgres cannot enter, and initdb complains about that).
as_server_user() {
  if [ "$(id -u)" -eq 0 ]; then
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

install_server() {
  [ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/pg_ctl" ] && return 0
  log "installing Debian package postgresql-$PG_VERSION"
  as_root apt-get update -qq >&2
  # policy-rc.d-less containers would start Debian's own cluster on 5432; we never use it.
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends \
    "postgresql-$PG_VERSION" "postgresql-client-$PG_VERSION" >&2
  [ -x "$PG_BIN/initdb" ] || die "$PG_BIN/initdb missing after installing postgresql-$PG_VERSION"
}

cluster_dir() {  # prints the recorded cluster dir if it is ours, else returns 1
  [ -f "$CLUSTER_FILE" ] || return 1
  local dir
  dir="$(cat "$CLUSTER_FILE" 2>/dev/null || true)"
  [ -n "$dir" ] && [ -f "$dir/$CLUSTER_MARKER_NAME" ] || return 1
  echo "$dir"
}

server_running() {  # exit 0 if our cluster's postmaster is alive
  local dir
  dir="$(cluster_dir)" || return 1
  [ -f "$dir/data/postmaster.pid" ] || return 1
  as_server_user "$PG_BIN/pg_ctl" status -D "$dir/data" >/dev/null 2>&1
}

server_ready() {  # exit 0 once the server accepts connections on $HOST:$PORT
  as_server_user "$PG_BIN/pg_isready" -q -h "$HOST" -p "$PORT" -d postgres
}

remove_cluster() {
  local dir
  if dir="$(cluster_dir)"; then
    rm -rf "$dir"
  fi
  remove_state_dir "$STATE_DIR" "$MARKER"
}

stop_server() {
  local dir
  dir="$(cluster_dir)" || return 0
  [ -f "$dir/data/postmaster.pid" ] || return 0
  # A stale postmaster.pid of a server that died (killed machine, crashed run): nothing to stop.
  as_server_user "$PG_BIN/pg_ctl" status -D "$dir/data" >/dev/null 2>&1 || return 0
  log "stopping server in $dir"
  as_server_user "$PG_BIN/pg_ctl" stop -D "$dir/data" -m fast -w -t 60 >&2 \
    || as_server_user "$PG_BIN/pg_ctl" stop -D "$dir/data" -m immediate -w -t 30 >&2 \
    || die "could not stop the server in $dir"
}

# Runs SQL as the superuser over the private unix socket.
superuser_psql() {
  local dir="$1"
  shift
  as_server_user "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir/socket" -p "$PORT" \
    -U postgres -d postgres "$@"
}

cmd_start() {
  with_lock pg "$PORT" 120   # serialise start/stop on the same port
  if server_running; then
    log "server already running"
    echo "$DSN"
    return 0
  fi
  install_server
  stop_server 2>/dev/null || true  # a half-dead leftover of a crashed run
  remove_cluster
  require_ports_free "$PORT"

  local t0=$SECONDS dir
  mkdir -p "$STATE_DIR"
  touch "$MARKER"
  # /tmp, not $TMPDIR: the postgres user must be able to reach it.
  dir="$(mktemp -d "/tmp/streamforge-pg-$PORT-cluster.XXXXXX")"
  touch "$dir/$CLUSTER_MARKER_NAME"
  echo "$dir" >"$CLUSTER_FILE"
  echo "$PORT" >"$PORT_FILE"
  mkdir -p "$dir/socket"
  [ "$(id -u)" -ne 0 ] || chown -R postgres:postgres "$dir"
  chmod 0700 "$dir" "$dir/socket"

  log "initdb in $dir/data"
  as_server_user "$PG_BIN/initdb" -D "$dir/data" -U postgres -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1 \
    || { tail -n 20 "$dir/initdb.log" >&2; die "initdb failed"; }

  cat >>"$dir/data/postgresql.conf" <<EOF

# --- scripts/postgres.sh: a throw-away test server ---
listen_addresses = '$HOST'
port = $PORT
unix_socket_directories = '$dir/socket'
unix_socket_permissions = 0700
max_connections = 50
shared_buffers = '$SHARED_BUFFERS'
password_encryption = 'scram-sha-256'
max_wal_size = '2GB'
logging_collector = off
log_min_messages = warning
EOF
  # Superuser over the private socket without a password; everyone over TCP with one.
  cat >"$dir/data/pg_hba.conf" <<EOF
# TYPE  DATABASE  USER  ADDRESS       METHOD
local   all       all                 trust
host    all       all   127.0.0.1/32  scram-sha-256
EOF

  log "starting PostgreSQL $PG_VERSION on $HOST:$PORT (shared_buffers $SHARED_BUFFERS)"
  # -l: all output goes to the log, so `dsn=$(scripts/postgres.sh start)` does not hang on an
  # inherited stdout; 9>&-: the server must not inherit (and hold) the start/stop lock.
  as_server_user "$PG_BIN/pg_ctl" start -D "$dir/data" -l "$dir/server.log" -w \
    -t "$START_TIMEOUT" >/dev/null 2>&1 </dev/null 9>&- \
    || { tail -n 30 "$dir/server.log" >&2 2>/dev/null || true; die "server did not start"; }

  wait_until "$START_TIMEOUT" 0.2 true server_ready \
    || { tail -n 30 "$dir/server.log" >&2 2>/dev/null || true; die "server not ready after ${START_TIMEOUT}s"; }

  # CREATEROLE: tests make throw-away roles of their own (a canary password that must appear
  # nowhere, tests/services/queue_manager/queue_manager_process_test.cc).
  superuser_psql "$dir" >&2 <<EOF
CREATE ROLE $DB_USER LOGIN CREATEROLE PASSWORD '$DB_PASSWORD';
CREATE DATABASE $DB_NAME OWNER $DB_USER;
EOF
  # Prove the DSN works over TCP with the password before handing it out.
  PGCONNECT_TIMEOUT=10 "$PG_BIN/psql" -X -q -At "$DSN" -c "SELECT 1" >/dev/null \
    || die "cannot log in with $DSN"
  log "ready after $((SECONDS - t0))s; cluster in $dir, log in $dir/server.log"
  echo "$DSN"
}

cmd_stop() {
  with_lock pg "$PORT" 120
  stop_server
  remove_cluster
  log "stopped"
}

cmd_status() { print_if_running server_running "$DSN"; }

cmd_env() {
  cat <<EOF
export SF_TEST_POSTGRES_DSN='$DSN'
export POSTGRES_DSN='$DSN'
EOF
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) cmd_env ;;
  *)
    echo "usage: $0 start|stop|status|env" >&2
    exit 2
    ;;
esac
