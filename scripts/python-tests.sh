#!/usr/bin/env bash
# The Python client's pytest suite (python/tests) with the test venv's python: the stores are
# written by the C++ binary (SF_STREAMFORGE_BIN, default build/bin/streamforge) from ../shared/data,
# the PostgreSQL cases use SF_TEST_POSTGRES_DSN (scripts/postgres.sh start). ctest runs this as
# python.Package; by hand:
#
#   SF_TEST_POSTGRES_DSN=$(bash scripts/postgres.sh start) bash scripts/python-tests.sh [pytest args]
#
# Fails (never skips) when the venv is missing: scripts/install-test-python.sh makes it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${SF_PY_VENV:-$HOME/.cache/streamforge/venv}"
if ! "$venv/bin/python" -c 'import streamforge, pytest, psycopg' 2>/dev/null; then
  echo "python-tests.sh: $venv lacks the streamforge client or pytest; run scripts/install-test-python.sh" >&2
  exit 1
fi
export SF_STREAMFORGE_BIN="${SF_STREAMFORGE_BIN:-$root/build/bin/streamforge}"
cd "$root/python"
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
