// Graph export: nodes.csv, edges.csv, meta.json, read back bit for bit.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include "graph_test_util.h"
#include "ml/graph/asset_graph.h"
#include "ml/graph/candle_graph.h"

namespace sf::ml {
namespace {

std::filesystem::path temp_dir(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() /
           ("sf_graph_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  return d;
}

void expect_same(const Graph& a, const Graph& b) {
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.interval, b.interval);
  EXPECT_EQ(a.symbols, b.symbols);
  EXPECT_EQ(a.node_id, b.node_id);
  EXPECT_EQ(a.node_time, b.node_time);
  EXPECT_EQ(a.node_symbol, b.node_symbol);
  EXPECT_EQ(a.feature_names, b.feature_names);
  ASSERT_EQ(a.features.size(), b.features.size());
  EXPECT_EQ(std::memcmp(a.features.data(), b.features.data(), a.features.size() * sizeof(float)),
            0);
  EXPECT_EQ(a.edges, b.edges);
  EXPECT_EQ(a.norm_mean, b.norm_mean);
  EXPECT_EQ(a.norm_std, b.norm_std);
  EXPECT_EQ(a.train_nodes, b.train_nodes);
  EXPECT_EQ(a.train_end_time, b.train_end_time);
  EXPECT_EQ(a.warmup_nodes, b.warmup_nodes);
  EXPECT_EQ(a.params, b.params);
}

TEST(GraphExport, CandlesRoundTrip) {
  SF_REQUIRE_SHARED_DATA("klines_5m_2022_freqtrade/BTC_USDT-5m.json");
  const auto& btc = testing::freqtrade_series("BTC");
  ASSERT_GT(btc.size(), 3000u);
  auto g = build_candle_graph(std::span(btc).first(3000));
  ASSERT_TRUE(g) << g.error();
  const auto dir = temp_dir("candles");
  auto w = export_graph(*g, dir);
  ASSERT_TRUE(w) << w.error();
  std::ifstream nodes(dir / "nodes.csv");
  std::string header;
  std::getline(nodes, header);
  EXPECT_EQ(header.rfind("node_id,time_us,symbol,log_return,range,clv,", 0), 0u) << header;
  std::ifstream edges(dir / "edges.csv");
  std::getline(edges, header);
  EXPECT_EQ(header, "src,dst,weight,kind");
  auto r = import_graph(dir);
  ASSERT_TRUE(r) << r.error();
  expect_same(*g, *r);
  const std::string meta = meta_json(*g);
  EXPECT_NE(meta.find("\"nodes\":3000"), std::string::npos) << meta;
  EXPECT_NE(meta.find("\"train_nodes\":2100"), std::string::npos) << meta;
  std::filesystem::remove_all(dir);
}

TEST(GraphExport, AssetsRoundTripAndErrors) {
  SF_REQUIRE_SHARED_DATA("klines_5m_2022_freqtrade/BTC_USDT-5m.json");
  std::vector<std::vector<Candle>> s;
  for (const char* p : {"BTC", "SOL", "XRP"}) {
    const auto& all = testing::freqtrade_series(p);
    ASSERT_GT(all.size(), 2000u);
    s.emplace_back(all.begin(), all.begin() + 2000);
  }
  AssetGraphOptions opt;
  opt.threshold = 0.3;
  auto g = build_asset_graph(s, opt);
  ASSERT_TRUE(g) << g.error();
  const auto dir = temp_dir("assets");
  ASSERT_TRUE(export_graph(*g, dir));
  auto r = import_graph(dir);
  ASSERT_TRUE(r) << r.error();
  expect_same(*g, *r);
  EXPECT_EQ(r->symbols, (std::vector<std::string>{"BTCUSDT", "SOLUSDT", "XRPUSDT"}));

  // A corrupted edge file is an error naming the line.
  std::ofstream(dir / "edges.csv", std::ios::app) << "1,2,x,temporal\n";
  auto bad = import_graph(dir);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("edges.csv line"), std::string::npos) << bad.error();
  std::filesystem::remove_all(dir);
  EXPECT_FALSE(import_graph(dir));
}

}  // namespace
}  // namespace sf::ml
