// Graph building on one core (docs/graphs.md): the `candles` graph for 30 days of BTCUSDT 5m
// candles (8,640 nodes) and for the whole 2022 freqtrade series (28,966 nodes), default options
// (lags 3, similarity top-3 over 288 past nodes), and the `assets` graph over the 13 pairs.
// Then writing / reading those candles graphs: the CSV export next to Store::replace_graph and
// Store::graph on SQLite (a file in the temp dir) and, with SF_BENCH_POSTGRES_DSN set, PostgreSQL.
//   build/bench/bench_graph --benchmark_min_time=1
//   SF_BENCH_POSTGRES_DSN=postgres://streamforge:streamforge@127.0.0.1:15432/streamforge
//     build/bench/bench_graph --benchmark_filter='Csv|Store'  (the two lines as one command)
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "exchange/binance/parse.h"
#include "ml/graph/asset_graph.h"
#include "ml/graph/candle_graph.h"
#include "ml/graph/graph_store.h"
#include "store/store.h"

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

// The candles graph of the first n BTC candles with its labels, as graph-builder stores it.
const sf::ml::LabelledGraph& labelled(std::size_t n) {
  static std::map<std::size_t, sf::ml::LabelledGraph> cache;
  auto it = cache.find(n);
  if (it != cache.end()) return it->second;
  sf::ml::LabelledGraph l;
  std::span<const sf::Candle> cs(btc().data(), std::min(n, btc().size()));
  if (auto g = sf::ml::build_candle_graph(cs)) l.graph = std::move(*g);
  const auto dir = sf::ml::direction_labels(cs);
  l.direction.assign(dir.begin(), dir.end());
  l.volatility = sf::ml::volatility_labels(cs, 12);
  l.vol_horizon = 12;
  return cache.emplace(n, std::move(l)).first->second;
}

void BM_GraphExportCsv(benchmark::State& state) {
  const auto& l = labelled(static_cast<std::size_t>(state.range(0)));
  if (l.graph.num_nodes() == 0) {
    state.SkipWithError("shared data not found");
    return;
  }
  const auto dir = std::filesystem::temp_directory_path() / "sf_bench_graph_csv";
  for (auto _ : state) {
    if (auto r = sf::ml::export_labelled_graph(l, dir); !r) {
      state.SkipWithError(r.error().c_str());
      return;
    }
  }
  std::filesystem::remove_all(dir);
  state.counters["nodes"] = static_cast<double>(l.graph.num_nodes());
  state.counters["edges"] = static_cast<double>(l.graph.edges.size());
}
BENCHMARK(BM_GraphExportCsv)->Arg(8'640)->Arg(28'966)->Unit(benchmark::kMillisecond);

// range(0): nodes; range(1): 0 SQLite, 1 PostgreSQL; range(2): 0 write, 1 read.
void BM_StoreGraph(benchmark::State& state) {
  const auto& l = labelled(static_cast<std::size_t>(state.range(0)));
  if (l.graph.num_nodes() == 0) {
    state.SkipWithError("shared data not found");
    return;
  }
  const auto file = std::filesystem::temp_directory_path() / "sf_bench_graph.db";
  std::string url = "sqlite:" + file.string();
  if (state.range(1) == 1) {
    const char* dsn = std::getenv("SF_BENCH_POSTGRES_DSN");
    if (dsn == nullptr || *dsn == 0) {
      state.SkipWithError("SF_BENCH_POSTGRES_DSN not set");
      return;
    }
    url = dsn;
  }
  auto store = sf::store::open_store(url);
  if (!store) {
    state.SkipWithError(store.error().message.c_str());
    return;
  }
  const auto record = sf::ml::to_graph_record(l, "bench_graph", 0);
  if (auto r = (*store)->replace_graph(record); !r) {
    state.SkipWithError(r.error().message.c_str());
    return;
  }
  for (auto _ : state) {
    if (state.range(2) == 0) {
      if (auto r = (*store)->replace_graph(record); !r) {
        state.SkipWithError(r.error().message.c_str());
        return;
      }
    } else {
      auto g = (*store)->graph("bench_graph");
      if (!g || !g->has_value()) {
        state.SkipWithError("graph not read back");
        return;
      }
      benchmark::DoNotOptimize((*g)->nodes.data());
    }
  }
  store->reset();
  std::filesystem::remove(file);
  state.counters["nodes"] = static_cast<double>(l.graph.num_nodes());
  state.counters["edges"] = static_cast<double>(l.graph.edges.size());
}
BENCHMARK(BM_StoreGraph)
    ->ArgsProduct({{8'640, 28'966}, {0, 1}, {0, 1}})
    ->ArgNames({"nodes", "pg", "read"})
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
