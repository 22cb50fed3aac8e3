// Training time per epoch (full batch: forward, MSE, backward, Adam step) of a two-layer GNN with a
// linear head (hidden 32, 2 heads for GAT/GATv2, one libtorch thread), per layer type.
//
//   build/bench/bench_gnn                        random graph (10,000 nodes, 100,000 edges, 32
//                                                features), built in memory
//   build/bench/bench_gnn --export-graphs DIR    write DIR/random (that graph) and DIR/candles (the
//                                                BTCUSDT 2022 5m `candles` graph; skipped with a
//                                                message when ../shared/data is absent) in the
//                                                export_graph format, then exit
//   build/bench/bench_gnn --graph DIR [--graph DIR2 ...] [--min-time S]
//                                                benchmark on graphs read with import_graph
//
// PyTorch Geometric reads the same directories with
//   ~/.cache/streamforge/venv-pyg/bin/python tests/ml/gnn/pyg_reference.py --bench-graph DIR
// and bench/gnn_vs_pyg.sh runs both alternately and prints the ratios. Results: BENCHMARKS.md.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "exchange/binance/parse.h"
#include "ml/gnn/gnn.h"
#include "ml/graph/candle_graph.h"
#include "ml/graph/graph.h"

namespace {

using sf::ml::gnn::Graph;
using sf::ml::gnn::LayerKind;
using sf::ml::gnn::Model;
using sf::ml::gnn::ModelConfig;

constexpr int64_t kNodes = 10000;
constexpr int64_t kEdges = 100000;
constexpr int64_t kFeatures = 32;
constexpr int64_t kHidden = 32;

// The random graph as an sf::ml::Graph, so that it can be exported (and imported back unchanged).
sf::ml::Graph random_graph() {
  std::mt19937 rng(1234);
  std::normal_distribution<float> normal;
  std::uniform_int_distribution<int64_t> node(0, kNodes - 1);
  sf::ml::Graph g;
  g.kind = "random";
  g.interval = "5m";
  g.symbols = {"RANDOM"};
  for (int64_t j = 0; j < kFeatures; ++j) {
    std::string name = "f";  // not "f" + to_string(): GCC 12's -Wrestrict false positive
    name += std::to_string(j);
    g.feature_names.push_back(std::move(name));
  }
  for (int64_t i = 0; i < kNodes; ++i) {
    g.node_id.push_back(i);
    g.node_time.push_back(i);
    g.node_symbol.push_back(0);
  }
  for (int64_t i = 0; i < kNodes * kFeatures; ++i) g.features.push_back(normal(rng));
  for (int64_t e = 0; e < kEdges; ++e) {
    const int64_t src = node(rng);
    const int64_t dst = node(rng);
    g.edges.push_back({.src = src, .dst = dst, .weight = 1, .kind = sf::ml::EdgeKind::kTemporal});
  }
  g.train_nodes = static_cast<std::size_t>(kNodes);
  return g;
}

std::filesystem::path data_dir() {
  if (const char* env = std::getenv("SF_SHARED_DATA")) return env;
  return std::filesystem::path(SF_REPO_ROOT) / ".." / "shared" / "data";
}

// Empty string with *out set, or why not (a missing file is reported, not an error of the run).
std::string candles_graph(sf::ml::Graph* out) {
  const auto path = data_dir() / "klines_5m_2022_freqtrade" / "BTC_USDT-5m.json";
  std::ifstream in(path);
  if (!in) return "not found: " + path.string();
  std::string body((std::istreambuf_iterator<char>(in)), {});
  sf::binance::Parser parser;
  auto parsed = parser.parse_ohlcv_rows(body, *sf::Symbol::parse("BTCUSDT"), sf::Interval::k5m);
  if (!parsed) return "cannot parse " + path.string();
  auto g = sf::ml::build_candle_graph(*parsed);
  if (!g) return g.error();
  *out = std::move(g).value();
  return {};
}

int export_graphs(const std::filesystem::path& dir) {
  if (auto r = sf::ml::export_graph(random_graph(), dir / "random"); !r) {
    std::fprintf(stderr, "bench_gnn: %s\n", r.error().c_str());
    return 1;
  }
  std::printf("bench_gnn: wrote %s\n", (dir / "random").c_str());
  sf::ml::Graph candles;
  if (auto why = candles_graph(&candles); !why.empty()) {
    std::printf("bench_gnn: skipping the candles graph (%s)\n", why.c_str());
    return 0;
  }
  if (auto r = sf::ml::export_graph(candles, dir / "candles"); !r) {
    std::fprintf(stderr, "bench_gnn: %s\n", r.error().c_str());
    return 1;
  }
  std::printf("bench_gnn: wrote %s (%zu nodes, %zu edges, %zu features)\n",
              (dir / "candles").c_str(), candles.num_nodes(), candles.edges.size(),
              candles.num_features());
  return 0;
}

Graph to_gnn(const sf::ml::Graph& g) {
  Graph out;
  out.num_nodes = static_cast<int64_t>(g.num_nodes());
  out.num_features = static_cast<int64_t>(g.num_features());
  out.x = g.features;
  for (const auto& e : g.edges) {
    out.src.push_back(e.src);
    out.dst.push_back(e.dst);
  }
  return out;
}

void train_epoch(benchmark::State& state, const Graph& graph, LayerKind kind) {
  ModelConfig c;
  c.kind = kind;
  c.in_features = graph.num_features;
  c.hidden = kHidden;
  c.out_features = 1;
  c.heads = (kind == LayerKind::kGat || kind == LayerKind::kGatV2) ? 2 : 1;
  c.threads = 1;
  Model model(c);
  std::mt19937 rng(99);
  std::normal_distribution<float> normal;
  std::vector<float> target(static_cast<std::size_t>(graph.num_nodes));
  for (auto& t : target) t = normal(rng);
  for (int i = 0; i < 3; ++i) model.train_step(graph, target, 0.01);  // warm-up
  double loss = 0;
  for (auto _ : state) {
    auto out = model.train_step(graph, target, 0.01);
    if (!out.ok()) {
      state.SkipWithError(out.error.c_str());
      break;
    }
    loss = out.loss;
  }
  state.counters["loss"] = benchmark::Counter(loss);
  state.counters["nodes"] = benchmark::Counter(static_cast<double>(graph.num_nodes));
  state.counters["edges"] = benchmark::Counter(static_cast<double>(graph.src.size()));
}

void register_graph(const std::string& name, std::shared_ptr<const Graph> graph, double min_time) {
  for (auto kind : {LayerKind::kGcn, LayerKind::kSage, LayerKind::kGat, LayerKind::kGatV2}) {
    const std::string bench = "BM_TrainEpoch/" + name + "/" + std::string(to_string(kind));
    benchmark::RegisterBenchmark(
        bench.c_str(), [graph, kind](benchmark::State& s) { train_epoch(s, *graph, kind); })
        ->Unit(benchmark::kMillisecond)
        ->MinTime(min_time)
        ->UseRealTime();
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Our flags first; everything else goes to Google Benchmark.
  std::vector<std::string> graph_dirs;
  double min_time = 2.0;
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if ((arg == "--export-graphs" || arg == "--graph" || arg == "--min-time") && i + 1 >= argc) {
      std::fprintf(stderr, "bench_gnn: %s needs a value\n", arg.c_str());
      return 2;
    }
    if (arg == "--export-graphs") return export_graphs(argv[i + 1]);
    if (arg == "--graph") {
      graph_dirs.emplace_back(argv[++i]);
    } else if (arg == "--min-time") {
      min_time = std::atof(argv[++i]);
    } else {
      rest.push_back(argv[i]);
    }
  }
  if (graph_dirs.empty()) {
    register_graph("random", std::make_shared<const Graph>(to_gnn(random_graph())), min_time);
  }
  for (const auto& dir : graph_dirs) {
    auto g = sf::ml::import_graph(dir);
    if (!g) {
      std::fprintf(stderr, "bench_gnn: %s: %s\n", dir.c_str(), g.error().c_str());
      return 1;
    }
    auto name = std::filesystem::path(dir).filename().string();
    if (name.empty()) name = std::filesystem::path(dir).parent_path().filename().string();
    register_graph(name, std::make_shared<const Graph>(to_gnn(*g)), min_time);
  }
  int n = static_cast<int>(rest.size());
  rest.push_back(nullptr);
  benchmark::Initialize(&n, rest.data());
  if (benchmark::ReportUnrecognizedArguments(n, rest.data())) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
