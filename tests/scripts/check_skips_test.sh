#!/usr/bin/env bash
# scripts/check-skips.sh, tried on ctest logs made for the purpose: an unlisted skip (a test whose
# server was missing) fails the run and is named; an allowed one, or none, passes; a failed or
# passed test is not a skip.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
printf '%s\n' '# test allow-list' 'GnnTrainer\.FullFreqtradeCandlesAndAssets  # slow' \
  'Allowed\.Skip/.*' > "$tmp/allowed"
log() {
  cat << LOG
100% tests passed, 0 tests failed out of 3

Total Test time (real) =   1.00 sec

The following tests did not run:
$1
LOG
}
expect() {  # expect STATUS NAME_IN_OUTPUT LOG_LINES...
  local want="$1" mention="$2"
  shift 2
  log "$(printf '%s\n' "$@")" > "$tmp/log"
  set +e
  out="$(bash "$root/scripts/check-skips.sh" "$tmp/log" "$tmp/allowed" 2>&1)"
  got=$?
  set -e
  if [[ "$got" != "$want" ]] || [[ -n "$mention" && "$out" != *"$mention"* ]]; then
    echo "FAIL: want exit $want mentioning '$mention', got $got: $out" >&2
    exit 1
  fi
}
# A Kafka test that skipped because SF_TEST_KAFKA_BOOTSTRAP was unset: fails, named.
expect 1 "KafkaBus.PublishesAndConsumes" \
  $'\t 12 - KafkaBus.PublishesAndConsumes (Skipped)' \
  $'\t758 - GnnTrainer.FullFreqtradeCandlesAndAssets (Disabled)'
# A parameterised PostgreSQL test skipped (no server): fails.
expect 1 "Backends/StoreConformance.KindNamesTheBackend/postgres" \
  $'\t195 - Backends/StoreConformance.KindNamesTheBackend/postgres  # GetParam() = postgres (Skipped)'
# Only allowed ones: passes.
expect 0 "2 skipped or disabled, 0 not allowed" \
  $'\t758 - GnnTrainer.FullFreqtradeCandlesAndAssets (Disabled)' \
  $'\t  7 - Allowed.Skip/x (Skipped)'
# A prefix of an allowed name is not allowed (whole-name match).
expect 1 "GnnTrainer.FullFreqtradeCandlesAndAssetsToo" \
  $'\t758 - GnnTrainer.FullFreqtradeCandlesAndAssetsToo (Disabled)'
# Nothing skipped: passes.
printf '100%% tests passed, 0 tests failed out of 3\n' > "$tmp/log"
bash "$root/scripts/check-skips.sh" "$tmp/log" "$tmp/allowed" 2> /dev/null
# Failed tests are failures, not skips.
expect 0 "0 skipped" $'\t  5 - Some.Test (Failed)'
# Usage: a missing log is exit 2.
set +e
bash "$root/scripts/check-skips.sh" "$tmp/nope" "$tmp/allowed" 2> /dev/null
[[ $? == 2 ]] || { echo "FAIL: a missing log must be a usage error" >&2; exit 1; }
set -e
echo "check-skips: all cases behave"
