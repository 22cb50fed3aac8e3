// Training time per epoch (full batch: forward, MSE, backward, Adam step) of a two-layer GNN with a
// linear head, per layer type, on a fixed random graph. The same model in PyTorch Geometric:
//   ~/.cache/streamforge/venv-pyg/bin/python tests/ml/gnn/pyg_reference.py --bench 20
// (same graph size, hidden width, heads and thread count). Results: docs/gnn.md.
#include <benchmark/benchmark.h>

#include <random>

#include "ml/gnn/gnn.h"

namespace {

using sf::ml::gnn::Graph;
using sf::ml::gnn::LayerKind;
using sf::ml::gnn::Model;
using sf::ml::gnn::ModelConfig;

constexpr int64_t kNodes = 10000;
constexpr int64_t kEdges = 100000;
constexpr int64_t kFeatures = 32;
constexpr int64_t kHidden = 32;

const Graph& graph() {
  static const Graph g = [] {
    std::mt19937 rng(1234);
    std::normal_distribution<float> normal;
    std::uniform_int_distribution<int64_t> node(0, kNodes - 1);
    Graph g;
    g.num_nodes = kNodes;
    g.num_features = kFeatures;
    for (int64_t i = 0; i < kNodes * kFeatures; ++i) g.x.push_back(normal(rng));
    for (int64_t e = 0; e < kEdges; ++e) {
      g.src.push_back(node(rng));
      g.dst.push_back(node(rng));
    }
    return g;
  }();
  return g;
}

void BM_TrainEpoch(benchmark::State& state) {
  const auto kind = static_cast<LayerKind>(state.range(0));
  ModelConfig c;
  c.kind = kind;
  c.in_features = kFeatures;
  c.hidden = kHidden;
  c.out_features = 1;
  c.heads = (kind == LayerKind::kGat || kind == LayerKind::kGatV2) ? 2 : 1;
  c.threads = 1;
  Model model(c);
  std::mt19937 rng(99);
  std::normal_distribution<float> normal;
  std::vector<float> target(kNodes);
  for (auto& t : target) t = normal(rng);
  for (int i = 0; i < 3; ++i) model.train_step(graph(), target, 0.01);  // warm-up
  double loss = 0;
  for (auto _ : state) {
    auto out = model.train_step(graph(), target, 0.01);
    if (!out.ok()) {
      state.SkipWithError(out.error.c_str());
      break;
    }
    loss = out.loss;
  }
  state.SetLabel(std::string(to_string(kind)));
  state.counters["loss"] = benchmark::Counter(loss);
}

BENCHMARK(BM_TrainEpoch)
    ->ArgName("layer")
    ->DenseRange(0, 3)
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0);

}  // namespace

BENCHMARK_MAIN();
