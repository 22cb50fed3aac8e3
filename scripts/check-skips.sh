#!/usr/bin/env bash
# Fails when ctest skipped a test that CI should have been able to run.
#
#   bash scripts/check-skips.sh CTEST_LOG [ALLOWED]
#
# CTEST_LOG is ctest's console output (scripts/test.sh tees it to build/ctest.log). Every test
# listed under "The following tests did not run:" as Skipped or Disabled must match a pattern in
# ALLOWED (default tests/skips.allowed: one extended regex per line, `#` comments), which says why
# that skip is legitimate. Anything else skipped means CI lacked something it is supposed to
# provide (a server, a venv, data, a tool) and turned a test into a green skip: that fails the run,
# naming the tests. Exit 0: no unlisted skip; 1: unlisted skips; 2: usage.
set -euo pipefail
log="${1:-}"
allowed="${2:-$(cd "$(dirname "$0")/.." && pwd)/tests/skips.allowed}"
if [[ -z "$log" || ! -r "$log" || ! -r "$allowed" ]]; then
  echo "usage: check-skips.sh CTEST_LOG [ALLOWED] (both readable)" >&2
  exit 2
fi
patterns="$(sed -e 's/#.*//' -e 's/[[:space:]]*$//' "$allowed" | grep -v '^$' || true)"
# "  195 - Suite.Name/param  # GetParam() = x (Skipped)" -> "Suite.Name/param"
mapfile -t skipped < <(sed -n '/The following tests did not run:/,/^[^[:space:]]/p' "$log" |
  sed -nE 's/^[[:space:]]+[0-9]+ - ([^ ]+).*\((Skipped|Disabled)\)[[:space:]]*$/\1/p')
unlisted=()
for name in ${skipped[@]+"${skipped[@]}"}; do
  if [[ -z "$patterns" ]] || ! grep -qxE -f <(printf '%s\n' "$patterns") <<< "$name"; then
    unlisted+=("$name")
  fi
done
echo "check-skips: ${#skipped[@]} skipped or disabled, ${#unlisted[@]} not allowed by ${allowed##*/}" >&2
if ((${#unlisted[@]} > 0)); then
  printf '  skipped without a reason in %s: %s\n' "${allowed##*/}" "${unlisted[@]}" >&2
  echo "check-skips: CI must provide what these tests need (their skip messages say what: ctest --output-on-failure -R NAME), or tests/skips.allowed must say why they may skip" >&2
  exit 1
fi
