#!/usr/bin/env bash
# arango-connector topic -> store throughput, four ways in one run (ratios are what to compare):
# in-process bus / Kafka x SQLite / PostgreSQL. Starts the local Kafka broker and PostgreSQL
# server from scripts/ (leaves them running).
#
#   bash bench/connector.sh [build/bench/bench_connector] [rows]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:-$here/build/bench/bench_connector}"
rows="${2:-1000000}"
kafka="$(bash "$here/scripts/kafka.sh" start | tail -n1)"
pg="$(bash "$here/scripts/postgres.sh" start | tail -n1)"
"$bin" --rows "$rows"
"$bin" --rows "$rows" --store "$pg"
"$bin" --rows "$rows" --kafka "$kafka"
"$bin" --rows "$rows" --kafka "$kafka" --store "$pg"
