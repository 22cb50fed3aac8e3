# shellcheck shell=bash
# Shared plumbing of the scripts that run a local test server (scripts/kafka.sh, postgres.sh,
# s3.sh). Sourced, not run:  . "$(dirname "${BASH_SOURCE[0]}")/lib/server.sh"
# The sourcing script sets LOG_NAME (its name in messages, e.g. kafka.sh) and HOST (the address
# its servers listen on) before calling anything here. Messages go to stderr, never stdout.

# log MESSAGE...: print "<LOG_NAME>: MESSAGE" on stderr.
log() { echo "$LOG_NAME: $*" >&2; }

# die MESSAGE...: log "error: MESSAGE" and exit 1.
die() { log "error: $*"; exit 1; }

# as_root CMD...: run CMD as root (directly when we are root, else through sudo).
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# port_open PORT: exit 0 if something accepts TCP connections on $HOST:PORT.
port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# require_ports_free PORT...: die unless no process listens on any of the ports on $HOST.
require_ports_free() {
  local p
  for p in "$@"; do
    ! port_open "$p" || die "port $HOST:$p is already in use by another process"
  done
}

# with_lock NAME PORT TIMEOUT: hold /tmp/streamforge-NAME-PORT.lock on fd 9 for the rest of the script (waits up to TIMEOUT s).
with_lock() {
  exec 9>"/tmp/streamforge-$1-$2.lock"
  flock -w "$3" 9 || die "timed out waiting for /tmp/streamforge-$1-$2.lock"
}

# remove_state_dir DIR MARKER: rm -rf DIR if it exists, dying instead when the MARKER file (proof we made DIR) is missing.
remove_state_dir() {
  [ -d "$1" ] || return 0
  [ -f "$2" ] || die "$1 exists but was not created by $LOG_NAME; not deleting it"
  rm -rf "$1"
}

# pid_from_file PID_FILE CMDLINE_PATTERN: print the pid in PID_FILE if it is alive and its command line matches the grep pattern (no pid reuse), else return 1.
pid_from_file() {
  [ -f "$1" ] || return 1
  local pid
  pid="$(cat "$1" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # /proc/PID/cmdline reads empty for a moment while the process execs (launch_detached's wrapper
  # becoming the server): read it again then, or a server just started looks dead (seen in CI:
  # "exited during startup" with an empty log, and the retry found the ports taken).
  local cmdline="" _
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
    [ -n "$cmdline" ] && break
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.05
  done
  grep -q -- "$2" <<<"$cmdline" || return 1
  echo "$pid"
}

# launch_detached WHAT PID_FILE OUT_FILE CMD...: start CMD in its own session (pid in PID_FILE, all output to OUT_FILE, no lock fd); die if no pid file within 5 s.
launch_detached() {
  local what="$1" pid_file="$2" out_file="$3"
  shift 3
  rm -f "$pid_file"
  # The wrapper writes its own pid then execs CMD, so the pid file holds CMD's pid. setsid
  # detaches it from the caller's process group; all fds go to files so that `x=$(script start)`
  # does not hang on an inherited stdout; 9>&-: the server must not hold the start/stop lock.
  # shellcheck disable=SC2016
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$pid_file" "$@" \
    </dev/null >"$out_file" 2>&1 9>&- &
  for _ in $(seq 1 50); do [ -s "$pid_file" ] && break; sleep 0.1; done
  [ -s "$pid_file" ] || die "$what did not start (no pid file)"
}

# wait_until TIMEOUT INTERVAL ALIVE_CMD READY_CMD: poll every INTERVAL s until READY_CMD succeeds (0); 1 once ALIVE_CMD fails, 2 after TIMEOUT s.
wait_until() {
  # _wu_ names: the callbacks run in this function's scope and may set their caller's variables
  local _wu_timeout="$1" _wu_interval="$2" _wu_alive="$3" _wu_ready="$4" _wu_t0=$SECONDS
  while :; do
    "$_wu_alive" || return 1
    "$_wu_ready" && return 0
    (( SECONDS - _wu_t0 >= _wu_timeout )) && return 2
    sleep "$_wu_interval"
  done
}

# kill_and_wait WHAT TERM|KILL STOP_TIMEOUT PID: signal PID (SIGTERM, SIGKILL after STOP_TIMEOUT s; or SIGKILL at once) and wait for it to exit.
kill_and_wait() {
  local what="$1" sig="$2" stop_timeout="$3" pid="$4"
  if [ "$sig" = TERM ]; then
    log "stopping $what (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 $((stop_timeout * 5))); do
      kill -0 "$pid" 2>/dev/null || return 0
      sleep 0.2
    done
    log "$what still alive after ${stop_timeout}s; sending SIGKILL"
  fi
  kill -KILL "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  die "could not kill $what pid $pid"
}

# print_if_running ALIVE_CMD TEXT: print TEXT and return 0 if ALIVE_CMD succeeds, else return 1 (the `status` command).
print_if_running() {
  "$1" || return 1
  echo "$2"
}

# usage_from_header LAST_LINE: print lines 2..LAST_LINE of the running script's header comment on stderr and exit 2.
usage_from_header() {
  sed -n "2,${1}p" "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
