#!/usr/bin/env bash
# queue-manager API under load (wrk from Debian): requests/s and latency percentiles for
# start (POST /queues), list (GET /queues) and show (GET /queues/{id}), against `streamforge run`
# on loopback with a temporary SQLite store; then telemetry events/s (bench_queue_manager).
#
#   bash bench/qm_api.sh [build dir]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$here/build}"
command -v wrk > /dev/null || apt-get install -y wrk > /dev/null
port=18480
tmp="$(mktemp -d)"
trap 'kill "$pid" 2> /dev/null || true; wait "$pid" 2> /dev/null || true; rm -rf "$tmp"' EXIT
LOG_LEVEL=error "$build/bin/streamforge" run --port "$port" --store "sqlite:$tmp/sf.db" \
  --log-level error > "$tmp/run.log" 2>&1 &
pid=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/health/ready" > /dev/null && break; sleep 0.1; done
base="http://127.0.0.1:$port"
# 100 finished workflows to list and show.
for _ in $(seq 100); do
  curl -sf -XPOST "$base/queues" -d '{"template":"test-flow","params":{"seconds":"0.05"}}' > "$tmp/last.json"
done
id="$(sed -E 's/.*"queue_id":"([^"]+)".*/\1/' "$tmp/last.json")"
sleep 2
echo "== start (POST /queues), 2 connections"
wrk -t1 -c2 -d5s --latency -s "$here/bench/wrk/start.lua" "$base/queues" | grep -E "Requests/sec|50%|99%|Latency "
sleep 3
echo "== list (GET /queues), 4 connections"
wrk -t2 -c4 -d5s --latency "$base/queues?status=finished" | grep -E "Requests/sec|50%|99%|Latency "
echo "== show (GET /queues/$id), 4 connections"
wrk -t2 -c4 -d5s --latency "$base/queues/$id" | grep -E "Requests/sec|50%|99%|Latency "
echo "== telemetry events processed"
"$build/bench/bench_queue_manager" --events 20000
