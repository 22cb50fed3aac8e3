#!/usr/bin/env bash
# Runs a real S3-compatible object store (SeaweedFS, Apache-2.0: master + volume + filer + S3
# gateway in one `weed server` process) on 127.0.0.1 for tests; its S3 gateway verifies AWS
# Signature V4 against one configured identity, so a request signed with a wrong secret is refused.
#
#   scripts/s3.sh install   build the `weed` binary from its Go module (cached; needs Go >= 1.21)
#   scripts/s3.sh installed exit 0 if the binary is already built, else 1 (installs nothing)
#   scripts/s3.sh start     start a server on a fresh temp dir, wait until a signed request works
#                           and a wrongly signed one is refused; prints the endpoint (and nothing
#                           else) on stdout. Already running: prints the endpoint, exits 0.
#   scripts/s3.sh stop      stop the server and delete its data (idempotent)
#   scripts/s3.sh url       print the endpoint (http://127.0.0.1:<port>)
#   scripts/s3.sh status    exit 0 and print the endpoint if running, else exit 1
#   scripts/s3.sh env       print export lines for SF_TEST_S3_ENDPOINT, SF_TEST_S3_ACCESS_KEY and
#                           SF_TEST_S3_SECRET_KEY (what tests/ml/model_store reads)
#
# Typical use:  scripts/s3.sh start && eval "$(scripts/s3.sh env)" && ./build/tests/model_store_test
# To point the application at it: MINIO_ENDPOINT=<endpoint> MINIO_ACCESS_KEY/MINIO_SECRET_KEY from
# `env`, MINIO_BUCKET_NAME=<any bucket name> (the store creates the bucket).
#
# Install: there is no SeaweedFS Debian package and no binary download here, so `install` builds
# github.com/seaweedfs/seaweedfs/weed at a pinned pseudo-version from the Go module proxy (about
# 1.5 GB of modules, one large Go build: ~8 min on 2 shared cores, of which ~2 min download). The
# build holds /tmp/sf-build.lock (shared with the C++ builds on this machine) and runs niced with
# GOMAXPROCS=2. Only the binary (160 MB) is kept; the module and build caches it used (in a temp
# dir) are deleted afterwards unless SF_S3_KEEP_GO_CACHE=1 (then ~/.cache/streamforge/go-*).
#
# Environment (all optional):
#   SF_S3_PORT              S3 port (default 19000); SeaweedFS's internal servers use the next
#                           seven ports (master, volume, filer and their gRPC ports)
#   SF_S3_SEAWEEDFS_VERSION Go module version (default v0.0.0-20261109003541-7506e5f91cd6)
#   SF_S3_HOME              binary cache (default ~/.cache/streamforge/seaweedfs-<version>)
#   SF_S3_STATE_DIR         pid, config, data and logs (default /tmp/streamforge-s3-<port>)
#   SF_S3_ACCESS_KEY        access key the server accepts (default streamforge-test)
#   SF_S3_SECRET_KEY        its secret (default streamforge-test-secret)
#   SF_S3_START_TIMEOUT     seconds to wait for the server to be ready (default 90)
#   SF_S3_STOP_TIMEOUT      seconds to wait after SIGTERM before SIGKILL (default 5: weed takes
#                           ~15 s to shut down gracefully, and stop deletes the data anyway)
#   GO                      the go command (default: go on PATH, else /usr/local/go/bin/go)
# Progress messages go to stderr; the server logs to <state dir>/weed.log.
set -euo pipefail

LOG_NAME="s3.sh"
# shellcheck source-path=SCRIPTDIR source=lib/server.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/server.sh"

SW_MODULE="github.com/seaweedfs/seaweedfs"
SW_VERSION="${SF_S3_SEAWEEDFS_VERSION:-v0.0.0-20261109003541-7506e5f91cd6}"
SW_HOME="${SF_S3_HOME:-${HOME:-/tmp}/.cache/streamforge/seaweedfs-${SW_VERSION}}"
WEED="$SW_HOME/weed"
INSTALLED_MARKER="$SW_HOME/.installed-$SW_VERSION"
PORT="${SF_S3_PORT:-19000}"
HOST="127.0.0.1"
STATE_DIR="${SF_S3_STATE_DIR:-/tmp/streamforge-s3-${PORT}}"
ACCESS_KEY="${SF_S3_ACCESS_KEY:-streamforge-test}"
SECRET_KEY="${SF_S3_SECRET_KEY:-streamforge-test-secret}"
START_TIMEOUT="${SF_S3_START_TIMEOUT:-90}"
STOP_TIMEOUT="${SF_S3_STOP_TIMEOUT:-5}"
BUILD_LOCK="/tmp/sf-build.lock"

ENDPOINT="http://$HOST:$PORT"
MASTER_PORT=$((PORT + 1)) MASTER_GRPC_PORT=$((PORT + 2))
VOLUME_PORT=$((PORT + 3)) VOLUME_GRPC_PORT=$((PORT + 4))
FILER_PORT=$((PORT + 5)) FILER_GRPC_PORT=$((PORT + 6))
S3_GRPC_PORT=$((PORT + 7))
ALL_PORTS="$PORT $MASTER_PORT $MASTER_GRPC_PORT $VOLUME_PORT $VOLUME_GRPC_PORT $FILER_PORT $FILER_GRPC_PORT $S3_GRPC_PORT"
PID_FILE="$STATE_DIR/weed.pid"
MARKER="$STATE_DIR/.streamforge-s3"   # proves the dir is ours before rm -rf

go_bin() {
  if [ -n "${GO:-}" ]; then echo "$GO"
  elif command -v go >/dev/null 2>&1; then command -v go
  elif [ -x /usr/local/go/bin/go ]; then echo /usr/local/go/bin/go
  else return 1
  fi
}

# ---------------------------------------------------------------------------------------------
# install

cmd_install() {
  if [ -f "$INSTALLED_MARKER" ] && [ -x "$WEED" ]; then
    log "SeaweedFS $SW_VERSION already installed: $WEED"
    return 0
  fi
  local go t0=$SECONDS
  go="$(go_bin)" || die "no Go toolchain (go on PATH or /usr/local/go/bin/go) to build SeaweedFS with"
  # SeaweedFS's go.mod wants Go 1.26.6; an older go (>= 1.21) fetches the approved toolchain.
  local have
  have="$("$go" env GOVERSION 2>/dev/null || true)"
  case "$have" in
    go1.2[7-9]*|go1.[3-9]*) ;;
    go1.26.[6-9]*|go1.26.[1-9][0-9]*) ;;
    *) export GOTOOLCHAIN="${GOTOOLCHAIN:-go1.27.3}"; log "$go is ${have:-unknown}; using GOTOOLCHAIN=$GOTOOLCHAIN" ;;
  esac

  local work
  work="$(mktemp -d "${TMPDIR:-/tmp}/streamforge-s3-install.XXXXXX")"
  CLEANUP_DIR="$work"
  # The module cache is read-only files: chmod before deleting.
  trap 'chmod -R u+w "$CLEANUP_DIR" 2>/dev/null; rm -rf "$CLEANUP_DIR"' EXIT
  export GOMODCACHE="$work/gomod" GOCACHE="$work/gocache" GOPATH="$work/gopath"
  [ "${SF_S3_KEEP_GO_CACHE:-0}" != "1" ] \
    || export GOMODCACHE="$SW_HOME/../go-mod" GOCACHE="$SW_HOME/../go-build"
  export GOFLAGS="-mod=readonly" GOMAXPROCS=2 GOTELEMETRY=off

  log "fetching $SW_MODULE@$SW_VERSION from the Go module proxy"
  local src
  src="$("$go" mod download -json "$SW_MODULE@$SW_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [ -n "$src" ] && [ -f "$src/weed/weed.go" ] || die "could not download $SW_MODULE@$SW_VERSION"
  # Fetch the dependencies first (no lock: network only), then compile under the build lock.
  # `go install module@version` refuses this module (its go.mod has a replace directive), so it is
  # built in its own (read-only) module directory.
  log "fetching the modules weed needs"
  (cd "$src" && "$go" list -deps ./weed >/dev/null 2>"$work/fetch.log") \
    || { tail -n 20 "$work/fetch.log" >&2; die "could not fetch SeaweedFS's dependencies"; }
  log "building weed (waiting for $BUILD_LOCK; niced, GOMAXPROCS=2)"
  mkdir -p "$SW_HOME"
  (cd "$src" && flock "$BUILD_LOCK" nice -n 10 "$go" build -p 2 -trimpath -ldflags '-s -w' \
    -o "$SW_HOME/weed.tmp" ./weed) >&2 || die "go build of SeaweedFS failed"
  "$SW_HOME/weed.tmp" version >/dev/null 2>&1 || die "the built weed binary does not run"
  mv "$SW_HOME/weed.tmp" "$WEED"
  touch "$INSTALLED_MARKER"
  log "installed $WEED ($("$WEED" version 2>/dev/null | head -n 1)) in $((SECONDS - t0))s"
}

# ---------------------------------------------------------------------------------------------
# server process helpers

server_pid() {  # prints the pid if our server (weed on our state dir) is alive, else returns 1
  pid_from_file "$PID_FILE" "-dir=$STATE_DIR/data"
}

server_alive() { server_pid >/dev/null; }

EMPTY_SHA256="e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

# HTTP status of a SigV4-signed ListBuckets (curl signs it; 000 when nothing answers).
signed_status() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
    --aws-sigv4 "aws:amz:us-east-1:s3" --user "$1:$2" -H "x-amz-content-sha256: $EMPTY_SHA256" \
    "$ENDPOINT/" 2>/dev/null || true
}

# HTTP status of a signed PUT of <path> with body <data> (a bucket when data is empty).
signed_put() {
  local path="$1" data="$2" sha
  sha="$(printf '%s' "$data" | sha256sum | cut -d' ' -f1)"
  curl -s -o /dev/null -w '%{http_code}' --max-time 20 -X PUT --data-binary "$data" \
    --aws-sigv4 "aws:amz:us-east-1:s3" --user "$ACCESS_KEY:$SECRET_KEY" \
    -H "x-amz-content-sha256: $sha" -H "Content-Type: application/octet-stream" \
    "$ENDPOINT/$path" 2>/dev/null || true
}

# Ready = an object can be written: the gateway answers before its filer has registered with the
# master and holds write locks (several seconds after the port opens).
writable() {
  local code
  code="$(signed_put streamforge-readiness "")"
  [ "$code" = 200 ] || [ "$code" = 409 ] || return 1
  [ "$(signed_put streamforge-readiness/probe "ready")" = 200 ]
}

write_config() {
  mkdir -p "$STATE_DIR/data"
  touch "$MARKER"
  # One identity, no anonymous one: every request must carry a valid signature.
  (umask 077 && cat >"$STATE_DIR/s3.json" <<EOF
{
  "identities": [
    {
      "name": "streamforge-test",
      "credentials": [{"accessKey": "$ACCESS_KEY", "secretKey": "$SECRET_KEY"}],
      "actions": ["Admin", "Read", "List", "Tagging", "Write"]
    }
  ]
}
EOF
  )
}

launch_server() {  # all its output goes to weed.log
  # Every bucket is a SeaweedFS collection with volumes of its own (tests make a bucket each):
  # grow one volume at a time (master.toml's volume_growth.copy_1, default 7) and let the count
  # follow the free disk (-volume.max=0); volumes are 64 MB and not preallocated.
  WEED_MASTER_VOLUME_GROWTH_COPY_1=1 GOMAXPROCS=2 \
    launch_detached server "$PID_FILE" "$STATE_DIR/weed.log" \
    "$WEED" server -ip="$HOST" -ip.bind="$HOST" -dir="$STATE_DIR/data" \
    -master.port="$MASTER_PORT" -master.port.grpc="$MASTER_GRPC_PORT" \
    -master.volumeSizeLimitMB=64 -master.telemetry=false \
    -volume.port="$VOLUME_PORT" -volume.port.grpc="$VOLUME_GRPC_PORT" -volume.max=0 \
    -volume.preStopSeconds=0 \
    -filer -filer.port="$FILER_PORT" -filer.port.grpc="$FILER_GRPC_PORT" \
    -filer.localSocket="$STATE_DIR/filer.sock" \
    -s3 -s3.port="$PORT" -s3.port.grpc="$S3_GRPC_PORT" -s3.config="$STATE_DIR/s3.json" \
    -s3.port.iceberg=0 -s3.port.lance=0 -s3.localSocket="$STATE_DIR/s3.sock"
}

# Ready = a correctly signed ListBuckets answers 200 and an object can be written; sets the
# caller's `code` (the last signed request's HTTP status).
server_ready() {
  port_open "$PORT" || return 1
  code="$(signed_status "$ACCESS_KEY" "$SECRET_KEY")"
  [ "$code" = 200 ] && writable
}

wait_ready() {
  local start=$SECONDS code rc=0
  wait_until "$START_TIMEOUT" 0.5 server_alive server_ready || rc=$?
  if [ "$rc" -eq 1 ]; then
    log "server exited during startup; last lines of $STATE_DIR/weed.log:"
    tail -n 30 "$STATE_DIR/weed.log" >&2 2>/dev/null || true
    return 1
  elif [ "$rc" -ne 0 ]; then
    log "server not ready after ${START_TIMEOUT}s (last signed request: HTTP ${code:-none}); last lines of $STATE_DIR/weed.log:"
    tail -n 30 "$STATE_DIR/weed.log" >&2 2>/dev/null || true
    kill_server KILL
    exit 1
  fi
  # Signature checking must be real: the same request signed with a wrong secret, or with an
  # unknown access key, is refused.
  code="$(signed_status "$ACCESS_KEY" "$SECRET_KEY-wrong")"
  [ "$code" = 403 ] || { kill_server KILL; die "a request signed with a wrong secret got HTTP $code, not 403"; }
  code="$(signed_status "unknown-$ACCESS_KEY" "$SECRET_KEY")"
  [ "$code" = 403 ] || { kill_server KILL; die "a request with an unknown access key got HTTP $code, not 403"; }
  code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$ENDPOINT/" || true)"
  [ "$code" = 403 ] || { kill_server KILL; die "an unsigned request got HTTP $code, not 403"; }
  log "S3 ready at $ENDPOINT after $((SECONDS - start))s (wrong secret, unknown key and unsigned requests refused); data and log in $STATE_DIR"
}

kill_server() {  # kill_server TERM|KILL: signal the server and wait for it to exit
  local pid
  pid="$(server_pid)" || return 0
  kill_and_wait server "$1" "$STOP_TIMEOUT" "$pid"
}

# ---------------------------------------------------------------------------------------------
# commands

cmd_start() {
  with_lock s3 "$PORT" 300   # serialise start/stop on the same port
  if server_pid >/dev/null; then
    log "server already running"
    echo "$ENDPOINT"
    return 0
  fi
  command -v curl >/dev/null 2>&1 || die "curl is needed for the readiness check"
  cmd_install
  remove_state_dir "$STATE_DIR" "$MARKER"   # stale leftovers of a crashed run
  # shellcheck disable=SC2086  # ALL_PORTS is a list
  require_ports_free $ALL_PORTS
  write_config
  log "starting SeaweedFS ($SW_VERSION) S3 on $ENDPOINT (internal ports $MASTER_PORT-$S3_GRPC_PORT)"
  launch_server
  # Once seen in CI: the server gone within a second with an empty log, fine on the next try.
  # One more start after such an exit (a hang or a failed check still fails at once).
  if ! wait_ready; then
    log "starting once more"
    kill_server KILL  # whatever is left of the first start must not hold the ports
    remove_state_dir "$STATE_DIR" "$MARKER"
    # shellcheck disable=SC2086  # ALL_PORTS is a list
    require_ports_free $ALL_PORTS
    write_config
    launch_server
    wait_ready || die "server exited during startup twice"
  fi
  echo "$ENDPOINT"
}

cmd_stop() {
  with_lock s3 "$PORT" 300
  kill_server TERM
  remove_state_dir "$STATE_DIR" "$MARKER"
  log "stopped"
}

cmd_status() { print_if_running server_alive "$ENDPOINT"; }

cmd_env() {
  cat <<EOF
export SF_TEST_S3_ENDPOINT='$ENDPOINT'
export SF_TEST_S3_ACCESS_KEY='$ACCESS_KEY'
export SF_TEST_S3_SECRET_KEY='$SECRET_KEY'
EOF
}

usage() { usage_from_header 16; }

case "${1:-}" in
  install) cmd_install ;;
  installed) [ -f "$INSTALLED_MARKER" ] && [ -x "$WEED" ] ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  url) echo "$ENDPOINT" ;;
  status) cmd_status ;;
  env) cmd_env ;;
  -h|--help|help) usage ;;
  *) usage ;;
esac
