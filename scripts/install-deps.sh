#!/usr/bin/env bash
# Installs the Debian 12 packages StreamForge needs to build and test. Idempotent: installs only
# what is missing. Run as root (or with sudo available). `--test` adds what only the tests need
# (Chromium for the dashboard's browser tests).
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libsimdjson-dev libsqlite3-dev zlib1g-dev libzip-dev libboost1.81-dev libssl-dev
  librdkafka-dev libpq-dev kcat
  libgtest-dev libbenchmark-dev
  libtorch-dev  # libtorch 1.13 (C++ API + CMake config) for src/ml/gnn; skipped by CMake when absent
)
# Build time: the dashboard's charting library (npm ci --prefix web, scripts/build.sh). A Node.js
# that brings its own npm (NodeSource's nodejs conflicts with Debian's npm package) is used as is.
if ! command -v node > /dev/null || ! command -v npm > /dev/null; then
  packages+=(nodejs npm)
fi
if [ "${1:-}" = "--test" ]; then
  packages+=(chromium)  # tests/web: the dashboard in a real headless browser (playwright-core)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
