// Decode a real Binance `@trade` frame into a Trade (nautilus_trader's published figure for the same
// work: 686 ns/message; our aim: < 150 ns on one core).
//   build/bench/bench_decode --benchmark_min_time=2
#include <benchmark/benchmark.h>

#include <string>

#include "core/wire.h"
#include "exchange/binance/parse.h"

namespace {

// Real frames from ../shared/data (hftbacktest capture, 2024-08-08).
constexpr const char* kRawTrade =
    R"({"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true})";
constexpr const char* kCombinedTrade =
    R"({"stream":"btcusdt@trade","data":{"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true}})";
constexpr const char* kDepth =
    R"({"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1723161264913,"s":"BTCUSDT","U":50093243591,"u":50093243592,"b":[],"a":[["61840.38000000","0.05025000"],["61840.39000000","0.00000000"]]}})";

void decode(benchmark::State& state, const char* frame) {
  sf::binance::Parser parser;
  std::string input(frame);
  std::int64_t sink = 0;
  for (auto _ : state) {
    auto event = parser.parse_ws_frame(input, 1723161254061862);
    if (!event) state.SkipWithError("decode failed");
    sink += event->index();
    benchmark::DoNotOptimize(sink);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(input.size()));
}

void BM_DecodeRawTrade(benchmark::State& s) { decode(s, kRawTrade); }
void BM_DecodeCombinedTrade(benchmark::State& s) { decode(s, kCombinedTrade); }
void BM_DecodeCombinedDepthUpdate(benchmark::State& s) { decode(s, kDepth); }

// Decode plus encode to the bus wire format: the whole normalise step.
void BM_NormaliseCombinedTrade(benchmark::State& state) {
  sf::binance::Parser parser;
  std::string input(kCombinedTrade), out;
  for (auto _ : state) {
    auto event = parser.parse_ws_frame(input, 1723161254061862);
    out.clear();
    sf::wire::encode(*event, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_DecodeRawTrade);
BENCHMARK(BM_DecodeCombinedTrade);
BENCHMARK(BM_DecodeCombinedDepthUpdate);
BENCHMARK(BM_NormaliseCombinedTrade);

}  // namespace

BENCHMARK_MAIN();
