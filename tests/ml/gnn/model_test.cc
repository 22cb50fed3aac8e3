// The torch-free model interface (ml/gnn/gnn.h): no libtorch header is included here.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <stdexcept>

#include "ml/gnn/gnn.h"

namespace {

using sf::ml::gnn::Graph;
using sf::ml::gnn::LayerKind;
using sf::ml::gnn::Model;
using sf::ml::gnn::ModelConfig;

Graph random_graph(int64_t nodes, int64_t edges, int64_t features, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::uniform_int_distribution<int64_t> node(0, nodes - 1);
  Graph g;
  g.num_nodes = nodes;
  g.num_features = features;
  for (int64_t i = 0; i < nodes * features; ++i) g.x.push_back(normal(rng));
  for (int64_t e = 0; e < edges; ++e) {
    g.src.push_back(node(rng));
    g.dst.push_back(node(rng));
  }
  return g;
}

// Target: a smooth function of each node's own features and its in-neighbours' mean.
std::vector<float> target_of(const Graph& g) {
  std::vector<float> sum(g.num_nodes, 0), cnt(g.num_nodes, 0), y(g.num_nodes);
  for (size_t e = 0; e < g.src.size(); ++e) {
    sum[g.dst[e]] += g.x[g.src[e] * g.num_features];
    cnt[g.dst[e]] += 1;
  }
  for (int64_t i = 0; i < g.num_nodes; ++i) {
    y[i] = 0.5f * g.x[i * g.num_features + 1] + (cnt[i] > 0 ? sum[i] / cnt[i] : 0.f);
  }
  return y;
}

ModelConfig config_for(LayerKind kind) {
  ModelConfig c;
  c.kind = kind;
  c.in_features = 4;
  c.hidden = 16;
  c.out_features = 1;
  c.heads = (kind == LayerKind::kGat || kind == LayerKind::kGatV2) ? 2 : 1;
  c.seed = 7;
  c.threads = 1;
  return c;
}

class GnnModel : public ::testing::TestWithParam<LayerKind> {};

TEST_P(GnnModel, ForwardIsDeterministicPerSeedAndShaped) {
  auto g = random_graph(40, 160, 4, 1);
  Model a(config_for(GetParam()));
  Model b(config_for(GetParam()));
  auto oa = a.forward(g);
  auto ob = b.forward(g);
  ASSERT_TRUE(oa.ok()) << oa.error;
  ASSERT_EQ(oa.values.size(), 40u);
  EXPECT_EQ(oa.values, ob.values);
  for (float v : oa.values) EXPECT_TRUE(std::isfinite(v));
  EXPECT_GT(a.num_parameters(), 0);
  auto c = config_for(GetParam());
  c.seed = 8;
  EXPECT_NE(Model(c).forward(g).values, oa.values);
}

TEST_P(GnnModel, TrainingReducesLoss) {
  auto g = random_graph(60, 300, 4, 2);
  auto y = target_of(g);
  Model m(config_for(GetParam()));
  auto first = m.train_step(g, y, 0.01);
  ASSERT_TRUE(first.ok()) << first.error;
  double last = first.loss;
  for (int i = 0; i < 150; ++i) last = m.train_step(g, y, 0.01).loss;
  EXPECT_LT(last, 0.5 * first.loss) << "first " << first.loss << " last " << last;
}

INSTANTIATE_TEST_SUITE_P(AllLayers, GnnModel,
                         ::testing::Values(LayerKind::kGcn, LayerKind::kSage, LayerKind::kGat,
                                           LayerKind::kGatV2),
                         [](const auto& info) { return std::string(to_string(info.param)); });

TEST(GnnModelErrors, BadGraphIsReportedNotThrown) {
  Model m(config_for(LayerKind::kGcn));
  auto g = random_graph(10, 20, 4, 3);
  g.dst[5] = 10;  // out of range
  auto out = m.forward(g);
  EXPECT_FALSE(out.ok());
  EXPECT_NE(out.error.find("edge 5"), std::string::npos) << out.error;
  auto g2 = random_graph(10, 20, 3, 3);  // wrong feature count
  EXPECT_FALSE(m.forward(g2).ok());
  auto g3 = random_graph(10, 20, 4, 3);
  EXPECT_FALSE(m.train_step(g3, std::vector<float>(9), 0.01).ok());  // wrong target size
}

TEST(GnnModelErrors, BadConfigThrows) {
  auto c = config_for(LayerKind::kSage);
  c.heads = 2;
  EXPECT_THROW(Model{c}, std::invalid_argument);
  c = config_for(LayerKind::kGat);
  c.hidden = 0;
  EXPECT_THROW(Model{c}, std::invalid_argument);
}

TEST(GnnModelErrors, LayerKindNamesRoundTrip) {
  for (auto k : {LayerKind::kGcn, LayerKind::kSage, LayerKind::kGat, LayerKind::kGatV2}) {
    EXPECT_EQ(sf::ml::gnn::parse_layer_kind(to_string(k)), k);
  }
  EXPECT_FALSE(sf::ml::gnn::parse_layer_kind("gin").has_value());
}

}  // namespace
