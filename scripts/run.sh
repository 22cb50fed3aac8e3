#!/usr/bin/env bash
# The main job (Scenario 1): installs what is missing, builds, then runs the `historical-gnn`
# workflow in the embedded platform (`streamforge run`): BTCUSDT 5m history -> persisted ->
# indicators -> candles graph -> GNN trained and compared with baselines on a held-out tail; prints
# where the model, metrics and data are (scripts/scenario1.sh tells what it does without internet).
# `build/bin/streamforge run --port 8080` keeps the platform serving instead; `run --demo` runs the
# small dummy test-flow.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh streamforge
exec bash scripts/scenario1.sh "$@"
