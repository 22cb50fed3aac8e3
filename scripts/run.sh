#!/usr/bin/env bash
# Installs what is missing, builds the CLI and runs the main job: the embedded platform
# (`streamforge run`) with a demo test-flow, which prints what happened and exits.
# Pass other arguments to run the platform differently, e.g. `scripts/run.sh` then
# `build/bin/streamforge run --port 8080` to keep it serving.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh streamforge
exec build/bin/streamforge run --demo "$@"
