#!/usr/bin/env bash
# Executes every notebook in notebooks/ top to bottom with nbclient on the offline data (the
# embedded platform and exchange-sim over ../shared/data), as CI does (ctest notebooks.Execute):
#
#   bash scripts/run-notebooks.sh [OUT_DIR]       (default build/notebooks)
#
# The executed notebooks (with their figures, also as OUT_DIR/<name>/figure-NN.png) and the
# headline numbers (OUT_DIR/volume_vs_volatility.json) are kept in OUT_DIR. Any cell error fails
# the run. Uses the test venv (scripts/install-test-python.sh); fails when it is missing.
# SF_NOTEBOOKS="a.ipynb b.ipynb" runs a subset.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/build/notebooks}"
venv="${SF_PY_VENV:-$HOME/.cache/streamforge/venv}"
if ! "$venv/bin/python" -c 'import streamforge, nbclient, matplotlib, scipy' 2>/dev/null; then
  echo "run-notebooks.sh: $venv lacks the streamforge client or nbclient; run scripts/install-test-python.sh" >&2
  exit 1
fi
export SF_STREAMFORGE_BIN="${SF_STREAMFORGE_BIN:-$root/build/bin/streamforge}"
export MPLBACKEND=module://matplotlib_inline.backend_inline
notebooks=()
for name in ${SF_NOTEBOOKS:-$(cd "$root/notebooks" && ls ./*.ipynb)}; do
  notebooks+=("$root/notebooks/$(basename "$name")")
done
exec "$venv/bin/python" "$root/python/tools/execute_notebooks.py" --out "$out" "${notebooks[@]}"
