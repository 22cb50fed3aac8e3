#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite (ctest). Exits non-zero on any
# failure. Tests read real Binance data from ../shared/data (or $SF_SHARED_DATA) and skip with a
# message where it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
cd build
ctest --output-on-failure -j "${SF_TEST_JOBS:-2}" --timeout 300
