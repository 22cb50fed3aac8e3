#!/usr/bin/env bash
# GNN training time per epoch, ours (build/bench/bench_gnn) vs PyTorch Geometric
# (tests/ml/gnn/pyg_reference.py --bench-graph), on the SAME graphs, alternating in the same run.
#
#   bench/gnn_vs_pyg.sh [ROUNDS]        (default 3; env: MIN_TIME seconds per layer, default 2)
#
# Builds nothing: build/bench/bench_gnn must exist (cmake --build build --target bench_gnn), and
# the PyG venv at ~/.cache/streamforge/venv-pyg (or $PYG_PYTHON).
#
# 1. bench_gnn --export-graphs writes the graphs once to a temp dir (export_graph format):
#    `random` (10,000 nodes, 100,000 edges, 32 features) and `candles` (BTCUSDT 2022 5m from
#    $SF_SHARED_DATA or ../shared/data next to the repo; skipped with a message when absent).
# 2. Per graph and round: ours, then PyG, each reading that directory; one thread each; same model
#    (two layers + linear head, hidden 32, 2 heads for GAT/GATv2, MSE on a fixed random target,
#    Adam lr 0.01, 3 warm-up epochs, then at least MIN_TIME seconds of epochs per layer).
# 3. Table: median ms/epoch of each side over the rounds, and the median of the per-round ratios
#    ours / PyG (< 1: ours faster).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROUNDS="${1:-3}"
MIN_TIME="${MIN_TIME:-2}"
BENCH="$ROOT/build/bench/bench_gnn"
PY="${PYG_PYTHON:-$HOME/.cache/streamforge/venv-pyg/bin/python}"
REF="$ROOT/tests/ml/gnn/pyg_reference.py"

[[ -x "$BENCH" ]] || { echo "gnn_vs_pyg: $BENCH missing (this script builds nothing: cmake --build build --target bench_gnn)" >&2; exit 1; }
[[ -x "$PY" ]] || { echo "gnn_vs_pyg: PyG python $PY missing (set PYG_PYTHON)" >&2; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/gnn_vs_pyg.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

echo "gnn_vs_pyg: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "gnn_vs_pyg: load before: $(uptime | sed 's/.*load average/load average/')"
"$BENCH" --export-graphs "$WORK/graphs"
GRAPHS=()
for g in random candles; do
  if [[ -f "$WORK/graphs/$g/meta.json" ]]; then
    GRAPHS+=("$g")
  else
    echo "gnn_vs_pyg: no $g graph (shared data absent? set SF_SHARED_DATA): skipping it"
  fi
done

: > "$WORK/results.jsonl"
for ((r = 1; r <= ROUNDS; ++r)); do
  for g in "${GRAPHS[@]}"; do
    echo "gnn_vs_pyg: round $r/$ROUNDS, $g: ours" >&2
    "$BENCH" --graph "$WORK/graphs/$g" --min-time "$MIN_TIME" --benchmark_format=json \
      > "$WORK/ours.json" 2> "$WORK/ours.err" || { cat "$WORK/ours.err" >&2; exit 1; }
    "$PY" - "$WORK/ours.json" "$g" "$r" >> "$WORK/results.jsonl" <<'EOF'
import json, sys
path, graph, rnd = sys.argv[1], sys.argv[2], int(sys.argv[3])
for b in json.load(open(path))["benchmarks"]:
    assert b["time_unit"] == "ms", b
    layer = b["name"].split("/")[2]  # BM_TrainEpoch/<graph>/<layer>/min_time:.../real_time
    print(json.dumps({"side": "ours", "graph": graph, "layer": layer, "round": rnd,
                      "ms": b["real_time"], "iterations": b["iterations"]}))
EOF
    echo "gnn_vs_pyg: round $r/$ROUNDS, $g: PyG" >&2
    "$PY" "$REF" --bench-graph "$WORK/graphs/$g" --min-time "$MIN_TIME" --threads 1 \
      > "$WORK/pyg.out" 2> "$WORK/pyg.err" || { cat "$WORK/pyg.err" >&2; exit 1; }
    sed -n 's/^PYG_BENCH //p' "$WORK/pyg.out" | "$PY" -c '
import json, sys
rnd = int(sys.argv[1])
for line in sys.stdin:
    d = json.loads(line)
    print(json.dumps({"side": "pyg", "graph": d["graph"], "layer": d["layer"], "round": rnd,
                      "ms": d["ms_per_epoch"], "iterations": d["epochs"]}))' "$r" \
      >> "$WORK/results.jsonl"
  done
done
echo "gnn_vs_pyg: load after: $(uptime | sed 's/.*load average/load average/')"

"$PY" - "$WORK/results.jsonl" "$ROUNDS" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for d in rows:
    by.setdefault((d["graph"], d["layer"], d["round"]), {})[d["side"]] = d["ms"]
names = {"gcn": "GCN", "sage": "GraphSAGE", "gat": "GAT (2 heads)", "gatv2": "GATv2 (2 heads)"}
print(f"\nrounds: {sys.argv[2]}; ms/epoch medians over rounds; ratio = median of per-round ours/PyG\n")
print("| graph | layer | ours, ms/epoch | PyG, ms/epoch | ours / PyG (rounds) |")
print("|---|---|---|---|---|")
for graph in ("random", "candles"):
    for layer in ("gcn", "sage", "gat", "gatv2"):
        rs = [v for (g, l, _), v in sorted(by.items()) if g == graph and l == layer]
        rs = [v for v in rs if "ours" in v and "pyg" in v]
        if not rs:
            continue
        ours = statistics.median(v["ours"] for v in rs)
        pyg = statistics.median(v["pyg"] for v in rs)
        ratios = [v["ours"] / v["pyg"] for v in rs]
        each = ", ".join(f"{x:.2f}" for x in ratios)
        print(f"| {graph} | {names[layer]} | {ours:.1f} | {pyg:.1f} | "
              f"**{statistics.median(ratios):.2f}** ({each}) |")
EOF
