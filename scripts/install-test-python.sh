#!/usr/bin/env bash
# Installs the Python packages the tests use (ccxt, for the exchange-sim client check; ta-lib with
# numpy, the reference for the analytics indicator tests; the streamforge Python client in python/
# with pandas, scipy, matplotlib, pytest, psycopg and nbclient for its tests and the notebooks)
# into a virtual environment outside the
# repository. Idempotent: an existing venv with the pinned
# version is left alone.
#
#   scripts/install-test-python.sh            # venv at ${SF_PY_VENV:-$HOME/.cache/streamforge/venv}
#   SF_PY_VENV=/opt/sf-venv scripts/install-test-python.sh
#
# The tests use that venv's python when it exists, python3 otherwise (and skip the ccxt check
# when ccxt is not importable).
set -euo pipefail

CCXT_VERSION="4.5.90"
TALIB_VERSION="0.8.2"
VENV="${SF_PY_VENV:-$HOME/.cache/streamforge/venv}"
PYTHON="${PYTHON:-python3}"

if [[ ! -x "$VENV/bin/python" ]]; then
  mkdir -p "$(dirname "$VENV")"
  if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
    # Debian's python3 ships venv separately.
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv python3-pip
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
  fi
fi

installed="$("$VENV/bin/python" -c 'import ccxt; print(ccxt.__version__)' 2>/dev/null || true)"
if [[ "$installed" != "$CCXT_VERSION" ]]; then
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "ccxt==$CCXT_VERSION"
fi
talib_installed="$("$VENV/bin/python" -c 'import talib; print(talib.__version__)' 2>/dev/null || true)"
if [[ "$talib_installed" != "$TALIB_VERSION" ]]; then
  # PyPI ships manylinux wheels with the TA-Lib C library bundled: no compiler needed.
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "ta-lib==$TALIB_VERSION"
fi
# kubernetes-validate bundles the Kubernetes OpenAPI schemas (1.25..1.37, strict variants) for the
# offline Job manifest test (tests/services/queue_manager/k8s/manifest_schema_test.cc).
"$VENV/bin/python" -c 'import kubernetes_validate' 2>/dev/null ||
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "kubernetes-validate==1.37.0"
# The Python client (python/, installed editable so the tests see this checkout) with what its
# tests, the notebooks executed in CI (tests/python) and bench/python need. One import check keeps
# a second run quick; any missing or differently pinned package reinstalls the set.
PY_CLIENT_PACKAGES=("pandas==3.1.2" "scipy==1.17.1" "matplotlib==3.11.2" "pytest==9.2.0"
  "psycopg[binary]==3.3.9" "nbclient==0.11.0" "nbformat==5.11.1" "ipykernel==7.4.0")
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if ! "$VENV/bin/python" - "$repo_root/python" "${PY_CLIENT_PACKAGES[@]}" 2>/dev/null <<'PY'; then
import sys
from importlib.metadata import version
from pathlib import Path
import streamforge
assert Path(streamforge.__file__).resolve().is_relative_to(Path(sys.argv[1]).resolve())
for spec in sys.argv[2:]:
    name, pinned = spec.split("==")
    assert version(name.split("[")[0]) == pinned, spec
PY
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PY_CLIENT_PACKAGES[@]}"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -e "$repo_root/python"
  "$VENV/bin/python" -m ipykernel install --sys-prefix --name python3 >/dev/null
fi
# PyTorch Geometric, the reference for the GNN layer tests (tests/ml/gnn/pyg_equality_test.cc), in
# a separate venv that sees Debian's python3-torch (1.13; torch itself is never pip-installed).
# PyG 2.3.1 is the last release line that supports torch 1.13; numpy stays the system one torch
# was built against, scipy is pinned to a release that accepts it.
PYG_VERSION="2.3.1"
PYG_VENV="${SF_PYG_VENV:-$HOME/.cache/streamforge/venv-pyg}"
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-torch python3-venv
fi
pyg_installed="$("$PYG_VENV/bin/python" -c 'import torch_geometric; print(torch_geometric.__version__)' 2>/dev/null || true)"
if [[ "$pyg_installed" != "$PYG_VERSION" ]]; then
  rm -rf "$PYG_VENV"
  mkdir -p "$(dirname "$PYG_VENV")"
  /usr/bin/python3 -m venv --system-site-packages "$PYG_VENV"
  numpy_version="$(/usr/bin/python3 -c 'import numpy; print(numpy.__version__)')"
  "$PYG_VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
    "torch_geometric==$PYG_VERSION"
  "$PYG_VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    "numpy==$numpy_version" "scipy==1.11.4" tqdm jinja2 requests pyparsing psutil
fi
echo "pyg python: $PYG_VENV/bin/python (torch_geometric $("$PYG_VENV/bin/python" -c 'import torch_geometric; print(torch_geometric.__version__)' 2>/dev/null))"
echo "test python: $VENV/bin/python (ccxt $("$VENV/bin/python" -c 'import ccxt; print(ccxt.__version__)'), streamforge client from $repo_root/python)"
