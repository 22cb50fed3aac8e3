// The `assets` graph over the 13 aligned pairs of klines_5m_2022_freqtrade.
#include "ml/graph/asset_graph.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>

#include "graph_test_util.h"

namespace sf::ml {
namespace {

using testing::changed;
using testing::dec;
using testing::freqtrade_pairs;
using testing::freqtrade_series;

std::vector<std::vector<Candle>> all_pairs() {
  std::vector<std::vector<Candle>> out;
  for (const auto& p : freqtrade_pairs()) out.push_back(freqtrade_series(p));
  return out;
}

// Direct two-pass Pearson correlation of log returns ending at candle e.
double direct_corr(const std::vector<Candle>& a, const std::vector<Candle>& b, std::size_t e,
                   std::size_t w) {
  std::vector<double> ra, rb;
  for (std::size_t t = e + 1 - w; t <= e; ++t) {
    ra.push_back(std::log(a[t].close.to_double() / a[t - 1].close.to_double()));
    rb.push_back(std::log(b[t].close.to_double() / b[t - 1].close.to_double()));
  }
  double ma = 0, mb = 0;
  for (std::size_t k = 0; k < w; ++k) {
    ma += ra[k];
    mb += rb[k];
  }
  ma /= static_cast<double>(w);
  mb /= static_cast<double>(w);
  double sab = 0, saa = 0, sbb = 0;
  for (std::size_t k = 0; k < w; ++k) {
    sab += (ra[k] - ma) * (rb[k] - mb);
    saa += (ra[k] - ma) * (ra[k] - ma);
    sbb += (rb[k] - mb) * (rb[k] - mb);
  }
  return sab / std::sqrt(saa * sbb);
}

TEST(AssetGraph, CorrelationWeightsEqualDirectComputation) {
  SF_REQUIRE_SHARED_DATA("klines_5m_2022_freqtrade/BTC_USDT-5m.json");
  const auto series = all_pairs();
  for (const auto& s : series) ASSERT_EQ(s.size(), 28'966u);
  AssetGraphOptions opt;
  opt.top_k = 12;  // every pair, both directions
  auto g = build_asset_graph(series, opt);
  ASSERT_TRUE(g) << g.error();
  const std::size_t P = 13, S = (28'966 - 1 - 288) / 12 + 1;
  ASSERT_EQ(g->num_nodes(), S * P);
  ASSERT_EQ(g->symbols.size(), P);
  EXPECT_EQ(g->symbols[3], "BTCUSDT");
  std::map<std::pair<std::int64_t, std::int64_t>, float> w;
  for (const Edge& e : g->edges) {
    // Contemporaneous correlation edges, temporal edges from the previous snapshot.
    if (e.kind == EdgeKind::kCorrelation) {
      ASSERT_EQ(g->node_time[e.src], g->node_time[e.dst]);
      ASSERT_EQ(e.src / 13, e.dst / 13);
      w[{e.src, e.dst}] = e.weight;
    } else {
      ASSERT_EQ(e.kind, EdgeKind::kTemporal);
      ASSERT_LT(g->node_time[e.src], g->node_time[e.dst]);
      ASSERT_EQ(e.dst - e.src, 13);
    }
  }
  EXPECT_EQ(g->count_edges(EdgeKind::kCorrelation), S * P * (P - 1));
  EXPECT_EQ(g->count_edges(EdgeKind::kTemporal), (S - 1) * P);
  for (std::size_t s : {std::size_t{0}, std::size_t{777}, S - 1}) {
    const std::size_t e = asset_snapshot_end(opt, s);
    EXPECT_EQ(g->node_time[s * P], series[0][e].open_time);
    for (auto [a, b] : {std::pair{3, 10}, {3, 0}, {6, 12}, {11, 2}}) {
      const double want = direct_corr(series[a], series[b], e, 288);
      const float ab = w.at({s * P + a, s * P + b}), ba = w.at({s * P + b, s * P + a});
      EXPECT_NEAR(ab, want, 1e-6) << s << " " << a << " " << b;
      EXPECT_EQ(std::memcmp(&ab, &ba, sizeof ab), 0) << "symmetric weights";
    }
  }
}

TEST(AssetGraph, ThresholdAndTopK) {
  SF_REQUIRE_SHARED_DATA("klines_5m_2022_freqtrade/BTC_USDT-5m.json");
  const auto series = all_pairs();
  AssetGraphOptions opt;
  opt.threshold = 0.6;
  opt.step = 96;
  auto g = build_asset_graph(series, opt);
  ASSERT_TRUE(g) << g.error();
  std::map<std::pair<std::int64_t, std::int64_t>, float> w;
  for (const Edge& e : g->edges)
    if (e.kind == EdgeKind::kCorrelation) {
      EXPECT_GE(std::abs(e.weight), 0.6f);
      w[{e.src, e.dst}] = e.weight;
    }
  ASSERT_GT(w.size(), 0u);
  for (const auto& [k, v] : w) EXPECT_EQ(w.at({k.second, k.first}), v);

  opt.top_k = 3;
  auto k3 = build_asset_graph(series, opt);
  ASSERT_TRUE(k3);
  std::map<std::int64_t, int> in_degree;
  for (const Edge& e : k3->edges)
    if (e.kind == EdgeKind::kCorrelation) ++in_degree[e.dst];
  EXPECT_EQ(in_degree.size(), k3->num_nodes());
  for (const auto& [node, d] : in_degree) EXPECT_EQ(d, 3) << node;
}

TEST(AssetGraph, NoLookAhead) {
  SF_REQUIRE_SHARED_DATA("klines_5m_2022_freqtrade/BTC_USDT-5m.json");
  auto series = all_pairs();
  AssetGraphOptions opt;
  opt.step = 48;
  auto a = build_asset_graph(series, opt);
  ASSERT_TRUE(a) << a.error();
  const std::size_t t = 25'000;  // candle index, beyond the training snapshots
  const TimestampUs t_time = series[0][t].open_time;
  ASSERT_LT(a->train_end_time, t_time);
  for (std::size_t p = 0; p < series.size(); ++p) {
    // Each symbol changed differently after t, so correlations change too.
    const Decimal pm = p % 2 ? dec("1.5") : dec("0.75");
    std::vector<Candle> mod;
    for (std::size_t i = 0; i < series[p].size(); ++i)
      mod.push_back(i <= t ? series[p][i]
                           : changed(series[p][i], i % 3 ? pm : dec("1.01"), dec("3")));
    series[p] = std::move(mod);
  }
  auto b = build_asset_graph(series, opt);
  ASSERT_TRUE(b);
  ASSERT_EQ(a->num_nodes(), b->num_nodes());
  const std::size_t f = a->num_features();
  std::size_t checked = 0;
  for (std::size_t i = 0; i < a->num_nodes() && a->node_time[i] <= t_time; ++i, ++checked)
    for (std::size_t j = 0; j < f; ++j) {
      const float x = a->feature(i, j), y = b->feature(i, j);
      ASSERT_EQ(std::memcmp(&x, &y, sizeof x), 0) << i << " " << a->feature_names[j];
    }
  ASSERT_GT(checked, a->train_nodes);
  for (std::size_t j = 0; j < f; ++j) {
    EXPECT_EQ(std::memcmp(&a->norm_mean[j], &b->norm_mean[j], sizeof(double)), 0);
    EXPECT_EQ(std::memcmp(&a->norm_std[j], &b->norm_std[j], sizeof(double)), 0);
  }
  std::vector<Edge> ea, eb;
  for (const Edge& e : a->edges)
    if (a->node_time[e.dst] <= t_time) ea.push_back(e);
  for (const Edge& e : b->edges)
    if (b->node_time[e.dst] <= t_time) eb.push_back(e);
  ASSERT_EQ(ea, eb);
  ASSERT_NE(a->edges, b->edges) << "the change after t must show";
}

TEST(AssetGraph, RejectsMisalignedSeries) {
  SF_REQUIRE_SHARED_DATA("klines_5m_2022_freqtrade/BTC_USDT-5m.json");
  const auto& btc = freqtrade_series("BTC");
  const auto& sol = freqtrade_series("SOL");
  ASSERT_GT(btc.size(), 400u);
  std::vector<std::vector<Candle>> s = {std::vector<Candle>(btc.begin(), btc.begin() + 400),
                                        std::vector<Candle>(sol.begin() + 1, sol.begin() + 401)};
  auto g = build_asset_graph(s);
  ASSERT_FALSE(g);
  EXPECT_NE(g.error().find("not aligned"), std::string::npos);
}

}  // namespace
}  // namespace sf::ml
