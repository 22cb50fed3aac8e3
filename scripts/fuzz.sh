#!/usr/bin/env bash
# libFuzzer + ASan/UBSan over everything that parses outside input (issue 16): builds
# tests/fuzz with clang into build-fuzz/ and runs each target for SECONDS (default 20). Seeds:
# tests/fuzz/corpus/<target>/ (ours, small) plus lines of ../shared/data taken at run time (not
# copied into the repo); what a run learns stays in build-fuzz/corpus/. A crash, leak, UB report
# or timeout fails the run, with the input kept as build-fuzz/crashes/<target>-* and the
# reproduction command printed: make it a regression test, then fix it.
#
#   bash scripts/fuzz.sh [SECONDS] [TARGET...]      (ctest fuzz.Targets: 15 s each)
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
seconds="${1:-20}"
shift || true
out="${SF_FUZZ_DIR:-$root/build-fuzz}"
shared="${SF_SHARED_DATA:-$(cd "$root/.." && pwd)/shared/data}"
targets=("$@")
((${#targets[@]})) || targets=(ws_frame rest_bodies csv_rows wire_decode decimal time_and_interval
  normalize_line json_balance)

if ! command -v clang++-14 > /dev/null || ! ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a > /dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq clang-14 libclang-rt-14-dev > /dev/null
fi
generator=()
command -v ninja > /dev/null && generator=(-G Ninja)
mkdir -p "$out"
cmake -S tests/fuzz -B "$out" "${generator[@]}" -DCMAKE_CXX_COMPILER=clang++-14 \
  -DCMAKE_BUILD_TYPE=None > "$out/configure.log" 2>&1 || { cat "$out/configure.log" >&2; exit 1; }
cmake --build "$out" -j 2 -- $(for t in "${targets[@]}"; do echo "fuzz_$t"; done) > "$out/build.log" 2>&1 ||
  { tail -n 30 "$out/build.log" >&2; exit 1; }

# Seeds from the recorded data: one input per file.
seed() {  # seed TARGET PREFIX_BYTE_OR_EMPTY  (lines on stdin)
  local dir="$out/seeds/$1" n=0 line
  mkdir -p "$dir"
  while IFS= read -r line; do
    printf '%s%s' "$2" "$line" > "$dir/$n"
    n=$((n + 1))
  done
}
rm -rf "$out/seeds"
set +o pipefail  # `head` closing a pipe early is not a failure here
if [[ -d "$shared" ]]; then
  frames="$shared/hftbacktest_ws_spot/btcusdt_20240808_first5000.frames.jsonl"
  [[ ! -r "$frames" ]] || awk 'NR % 25 == 1' "$frames" | head -n 200 | seed ws_frame ""
  [[ ! -r "$shared/cryptofeed_ws_spot_2021-10-12/combined_stream.frames.jsonl" ]] ||
    head -n 100 "$shared/cryptofeed_ws_spot_2021-10-12/combined_stream.frames.jsonl" | seed ws_frame "c"
  [[ ! -r "$shared/hftbacktest_ws_spot/btcusdt_20230405.dat.gz" ]] ||
    zcat "$shared/hftbacktest_ws_spot/btcusdt_20230405.dat.gz" | head -n 100 | seed normalize_line ""
  [[ ! -r "$shared/cryptofeed_ws_spot_2021-10-12/depth_snapshots.jsonl" ]] ||
    head -c 200000 "$shared/cryptofeed_ws_spot_2021-10-12/depth_snapshots.jsonl" | head -n 2 |
    seed rest_bodies $'\x04'
  for csv in "$shared"/klines_btcusdt_2020_htm/BTCUSDT-5m-*.csv "$shared"/aggtrades_btcusdt_2026-01-01/*.csv; do
    [[ ! -r "$csv" ]] || head -n 50 "$csv" | seed csv_rows ""
  done
  if [[ -x build/bin/streamforge && -r "$frames" ]]; then
    head -n 400 "$frames" | build/bin/streamforge normalize 2> /dev/null | awk 'NR % 4 == 1' | seed wire_decode ""
  fi
fi

set -o pipefail
failed=()
for t in "${targets[@]}"; do
  corpus="$out/corpus/$t"
  mkdir -p "$corpus" "$out/crashes"
  dirs=("$corpus")
  [[ -d tests/fuzz/corpus/$t ]] && dirs+=("tests/fuzz/corpus/$t")
  [[ -d $out/seeds/$t ]] && dirs+=("$out/seeds/$t")
  start=$(date +%s)
  if ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 "$out/fuzz_$t" \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
      -artifact_prefix="$out/crashes/$t-" "${dirs[@]}" > "$out/$t.log" 2>&1; then
    runs="$(grep -o 'Done [0-9]* runs' "$out/$t.log" | tail -n1 | cut -d' ' -f2)"
    echo "fuzz $t: ${runs:-?} runs in $(($(date +%s) - start)) s, corpus $(ls "$corpus" | wc -l) inputs, no crash"
  else
    echo "fuzz $t: FAILED; log $out/$t.log:" >&2
    grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$out/$t.log" | head -n 10 >&2
    echo "  reproduce: $out/fuzz_$t $out/crashes/$t-*" >&2
    failed+=("$t")
  fi
done
if ((${#failed[@]})); then
  echo "fuzz: crashes in ${failed[*]}" >&2
  exit 1
fi
