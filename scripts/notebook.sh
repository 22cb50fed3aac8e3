#!/usr/bin/env bash
# JupyterLab on the notebooks, in one command:
#
#   bash scripts/notebook.sh            # prints http://127.0.0.1:8888/lab?token=...
#
# Installs (once, then reuses) a Python environment outside the repository
# (${SF_NOTEBOOK_VENV:-$HOME/.cache/streamforge/venv-notebook}: JupyterLab, pandas, matplotlib,
# scipy, psycopg and the streamforge package from python/, editable), starts JupyterLab on
# 127.0.0.1 with notebooks/ open and prints the URL with its token. Ctrl-C stops it. The notebooks
# start their own embedded platform (build/bin/streamforge; scripts/build.sh builds it) and use
# Binance when reachable, else the recordings in ../shared/data through exchange-sim.
#
# Environment: SF_NOTEBOOK_PORT (8888; the next free one is taken when busy),
# SF_NOTEBOOK_OFFLINE=1 (the offline data even with internet), SF_STREAMFORGE_BIN.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${SF_NOTEBOOK_VENV:-$HOME/.cache/streamforge/venv-notebook}"
port="${SF_NOTEBOOK_PORT:-8888}"
packages=("jupyterlab==4.6.6" "pandas==3.1.2" "matplotlib==3.11.2" "scipy==1.17.1"
  "psycopg[binary]==3.3.9")

if [[ ! -x "$root/build/bin/streamforge" && -z "${SF_STREAMFORGE_BIN:-}" ]]; then
  echo "notebook.sh: build/bin/streamforge is missing; building it (scripts/build.sh)" >&2
  bash "$root/scripts/build.sh" streamforge >&2
fi
if [[ ! -x "$venv/bin/python" ]]; then
  mkdir -p "$(dirname "$venv")"
  if ! python3 -m venv "$venv" 2>/dev/null; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv python3-pip
    rm -rf "$venv"
    python3 -m venv "$venv"
  fi
fi
if ! "$venv/bin/python" - "$root/python" "${packages[@]}" 2>/dev/null <<'PY'; then
import sys
from importlib.metadata import version
from pathlib import Path
import streamforge
assert Path(streamforge.__file__).resolve().is_relative_to(Path(sys.argv[1]).resolve())
for spec in sys.argv[2:]:
    name, pinned = spec.split("==")
    assert version(name.split("[")[0]) == pinned, spec
PY
  echo "notebook.sh: installing JupyterLab and the streamforge package into $venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${packages[@]}"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -e "$root/python"
fi

export SF_STREAMFORGE_BIN="${SF_STREAMFORGE_BIN:-$root/build/bin/streamforge}"
token="$("$venv/bin/python" -c 'import secrets; print(secrets.token_hex(24))')"
log="$(mktemp -t sf-jupyterlab.XXXXXX.log)"
args=(--no-browser --ip=127.0.0.1 --port="$port" --ServerApp.root_dir="$root/notebooks"
  --IdentityProvider.token="$token")
[ "$(id -u)" -eq 0 ] && args+=(--allow-root)  # a root shell (a fresh VM): Jupyter refuses it otherwise
"$venv/bin/jupyter" lab "${args[@]}" > "$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
url=""
for _ in $(seq 300); do
  # Jupyter masks the token in its log; the port is the one it took (the next free one when
  # SF_NOTEBOOK_PORT is busy).
  base="$(grep -oE 'http://127\.0\.0\.1:[0-9]+/lab' "$log" | head -n1 || true)"
  if [[ -n "$base" ]]; then
    url="$base?token=$token"
    break
  fi
  kill -0 "$pid" 2>/dev/null || { echo "JupyterLab did not start; $log:" >&2; tail -n 20 "$log" >&2; exit 1; }
  sleep 0.2
done
if [[ -z "$url" ]]; then
  echo "JupyterLab printed no URL within 60 s; $log" >&2
  exit 1
fi
echo "JupyterLab: $url"
echo "notebooks:  $root/notebooks   (log: $log; Ctrl-C stops it)"
wait "$pid"
