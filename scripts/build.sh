#!/usr/bin/env bash
# Builds Release into build/ (the CLI lands at build/bin/streamforge).
#   scripts/build.sh                 everything (CLI, tests, benchmarks)
#   scripts/build.sh streamforge     only the named targets
# Warnings are errors (SF_WERROR=OFF relaxes that while experimenting). SF_JOBS overrides the parallelism (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
# The dashboard's npm packages (web/package-lock.json), cached by npm under ~/.npm.
if [ ! -f web/node_modules/.package-lock.json ] || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then
  npm ci --prefix web --no-audit --no-fund --loglevel=error
fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSF_WERROR="${SF_WERROR:-ON}" >/dev/null
if [ $# -gt 0 ]; then
  cmake --build build -j "${SF_JOBS:-2}" --target "$@"
else
  cmake --build build -j "${SF_JOBS:-2}"
fi
