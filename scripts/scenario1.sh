#!/usr/bin/env bash
# Scenario 1, the main job: the embedded platform (`streamforge run`) runs the `historical-gnn`
# workflow for BTCUSDT 5m: load candles and trades -> persist -> indicators -> candles graph ->
# GNN (GCN) trained and compared with baselines; then prints where the model, metrics and data are.
#
# History comes from data.binance.vision (the last full month). Without internet it says so and
# replays the Binance files in ../shared/data through exchange-sim (BTCUSDT 5m, 2020-07-01..11);
# BINANCE_VISION_URL=/path/to/a/mirror (a directory laid out like data.binance.vision) uses yours.
#
#   bash scripts/scenario1.sh [SYMBOL]        (assumes scripts/build.sh has built build/bin)
set -euo pipefail
cd "$(dirname "$0")/.."
symbol="${1:-BTCUSDT}"
bin="$PWD/build/bin/streamforge"
work="${SF_SCENARIO_DIR:-$PWD/data/scenario1}"
mkdir -p "$work"
port="${SF_SCENARIO_PORT:-18380}"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done; wait 2> /dev/null || true; }
trap cleanup EXIT

env_vars=()
if [[ -n "${BINANCE_VISION_URL:-}" ]]; then
  source=vision
  from="$(date -u -d "$(date -u +%Y-%m-01) -1 month" +%Y-%m-%d)"
  to="$(date -u +%Y-%m-01)"
  echo "history: $BINANCE_VISION_URL ($from .. $to)"
elif curl -s -o /dev/null -I --max-time 5 https://data.binance.vision/ 2> /dev/null; then
  source=vision
  from="$(date -u -d "$(date -u +%Y-%m-01) -1 month" +%Y-%m-%d)"
  to="$(date -u +%Y-%m-01)"
  echo "history: https://data.binance.vision ($from .. $to)"
else
  shared="$(cd .. && pwd)/shared/data"
  if [[ ! -d "$shared" ]]; then
    echo "no internet and no ../shared/data: set BINANCE_VISION_URL to a directory of Binance files (laid out like data.binance.vision)" >&2
    exit 1
  fi
  echo "no internet (data.binance.vision unreachable): replaying $shared through exchange-sim instead; BINANCE_VISION_URL=/dir uses your own Binance files"
  "$bin" exchange-sim --data "$shared" --port 0 > "$work/sim.out" 2> "$work/sim.log" &
  pids+=($!)
  for _ in $(seq 100); do [[ -s "$work/sim.out" ]] && break; sleep 0.1; done
  env_vars+=("BINANCE_API_URL=$(head -n1 "$work/sim.out")")
  source=api
  from=2020-07-01
  to=2020-07-11
fi

env "${env_vars[@]}" "$bin" run --port "$port" --store "sqlite:$work/streamforge.db" > "$work/run.out" 2> "$work/run.log" &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health/ready" > /dev/null && break; sleep 0.1; done
export SF_API_URL="http://127.0.0.1:$port"
set +e
"$bin" workflow start --template historical-gnn --symbol "$symbol" --from "$from" --to "$to" \
  --interval 5m --param "source=$source" --wait | tee "$work/workflow.txt"
rc=${PIPESTATUS[0]}
set -e
id="$(sed -n 's/^started //p' "$work/workflow.txt" | head -n1)"
echo
echo "store:   $work/streamforge.db (tables candles, agg_trades, indicators, graphs, graph_nodes, graph_edges, telemetry, workflows)"
echo "graph:   '$id' in the store (sqlite3 $work/streamforge.db \"SELECT node_count, edge_count FROM graphs WHERE name = '$id'\"); files in $PWD/data/graphs/$id"
echo "model:   $(ls -d "$PWD/data/models/$id"/v* 2> /dev/null | tail -n1)"
metrics="$(ls "$PWD/data/models/$id"/v*/metrics.json 2> /dev/null | tail -n1)"
if [[ -n "$metrics" ]]; then
  echo "metrics: $metrics"
  # Held-out test split, model vs baselines (the JSON has validation, history and confusion too).
  if command -v python3 > /dev/null; then
    python3 - "$metrics" << 'PY' || true
import json, sys
m = json.load(open(sys.argv[1]))
test = m["test"]
keys = [k for k in ("balanced_accuracy", "macro_f1", "roc_auc_ovr", "accuracy", "rmse", "mae", "r2") if k in test["model"]]
print("  test split (%d nodes), %s task, %s:" % (test["model"]["n"], m["task"], m["model_type"]))
print("  %-22s" % "" + "".join("%19s" % k for k in keys))
for name, row in test.items():
    print("  %-22s" % name + "".join("%19.4f" % row[k] for k in keys))
PY
  fi
fi
echo "events:  $bin workflow events $id   (while the platform runs; logs in $work/run.log)"
exit "$rc"
