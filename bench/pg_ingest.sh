#!/usr/bin/env bash
# PostgreSQL ingest benchmark: starts the throw-away server (scripts/postgres.sh), runs
# bench_store_postgres against it (our batched upserts vs psql's \copy of the same rows) and
# prints the numbers. Stops the server afterwards unless it was already running.
#
#   bench/pg_ingest.sh [BENCH_BINARY] [-- bench args, e.g. --rows 1000000 --batch 10000]
#
# BENCH_BINARY defaults to build/bench/bench_store_postgres (build it with
# `flock /tmp/sf-build.lock cmake --build build --target bench_store_postgres`).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BENCH="$ROOT/build/bench/bench_store_postgres"
if [ $# -gt 0 ] && [ "$1" != "--" ]; then
  BENCH="$1"
  shift
fi
[ "${1:-}" != "--" ] || shift
[ -x "$BENCH" ] || { echo "pg_ingest.sh: $BENCH not built" >&2; exit 1; }

was_running=0
"$ROOT/scripts/postgres.sh" status >/dev/null 2>&1 && was_running=1
DSN="$("$ROOT/scripts/postgres.sh" start)"
if [ "$was_running" -eq 0 ]; then
  trap '"$ROOT/scripts/postgres.sh" stop' EXIT
fi
SF_BENCH_POSTGRES_DSN="$DSN" "$BENCH" "$@"
