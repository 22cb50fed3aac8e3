// Graph building on one core (docs/graphs.md): the `candles` graph for 30 days of BTCUSDT 5m
// candles (8,640 nodes) and for the whole 2022 freqtrade series (28,966 nodes), default options
// (lags 3, similarity top-3 over 288 past nodes), and the `assets` graph over the 13 pairs.
//   build/bench/bench_graph --benchmark_min_time=1
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "exchange/binance/parse.h"
#include "ml/graph/asset_graph.h"
#include "ml/graph/candle_graph.h"

namespace {

std::filesystem::path data_dir() {
  if (const char* env = std::getenv("SF_SHARED_DATA")) return env;
  return std::filesystem::path(SF_REPO_ROOT) / ".." / "shared" / "data";
}

std::vector<sf::Candle> load(const std::string& base) {
  std::ifstream in(data_dir() / "klines_5m_2022_freqtrade" / (base + "_USDT-5m.json"));
  std::string body((std::istreambuf_iterator<char>(in)), {});
  sf::binance::Parser parser;
  auto parsed = parser.parse_ohlcv_rows(body, *sf::Symbol::parse(base + "USDT"), sf::Interval::k5m);
  return parsed ? std::move(parsed).value() : std::vector<sf::Candle>{};
}

const std::vector<sf::Candle>& btc() {
  static const std::vector<sf::Candle> c = load("BTC");
  return c;
}

void BM_CandleGraph(benchmark::State& state) {
  const auto& all = btc();
  const auto n = std::min<std::size_t>(all.size(), static_cast<std::size_t>(state.range(0)));
  if (n == 0) {
    state.SkipWithError("shared data not found");
    return;
  }
  std::span<const sf::Candle> cs(all.data(), n);
  std::size_t edges = 0;
  for (auto _ : state) {
    auto g = sf::ml::build_candle_graph(cs);
    if (!g) {
      state.SkipWithError(g.error().c_str());
      return;
    }
    edges = g->edges.size();
    benchmark::DoNotOptimize(g->features.data());
  }
  state.counters["nodes"] = static_cast<double>(n);
  state.counters["edges"] = static_cast<double>(edges);
  state.counters["nodes/s"] =
      benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_CandleGraph)->Arg(8'640)->Arg(28'966)->Unit(benchmark::kMillisecond);

void BM_AssetGraph(benchmark::State& state) {
  static const std::vector<std::vector<sf::Candle>> series = [] {
    std::vector<std::vector<sf::Candle>> out;
    for (const char* p : {"ADA", "ATOM", "AVAX", "BTC", "DOT", "LINK", "LUNA", "MATIC", "NEAR",
                          "SAND", "SOL", "TRX", "XRP"})
      out.push_back(load(p));
    return out;
  }();
  if (series[0].empty()) {
    state.SkipWithError("shared data not found");
    return;
  }
  std::size_t nodes = 0, edges = 0;
  for (auto _ : state) {
    auto g = sf::ml::build_asset_graph(series);
    if (!g) {
      state.SkipWithError(g.error().c_str());
      return;
    }
    nodes = g->num_nodes();
    edges = g->edges.size();
    benchmark::DoNotOptimize(g->features.data());
  }
  state.counters["nodes"] = static_cast<double>(nodes);
  state.counters["edges"] = static_cast<double>(edges);
}
BENCHMARK(BM_AssetGraph)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
