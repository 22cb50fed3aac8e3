// graph-builder over a real SQLite store holding Binance's BTCUSDT 5m candles: the exported graph
// is the library's graph of the same candles, labels line up with the nodes, and bad input is an
// error naming the problem.
#include "services/graph_builder/graph_builder.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "bus/inproc_bus.h"
#include "exchange/binance/parse.h"
#include "ml/graph/graph.h"
#include "runtime/service.h"
#include "test_support.h"

namespace sf::services {
namespace {

namespace fs = std::filesystem;

std::vector<Candle> csv_candles() {
  std::vector<Candle> out;
  std::ifstream in(sf::testing::shared_data_dir() /
                   "klines_btcusdt_2020_htm/BTCUSDT-5m-2020-07-01_2020-07-11.csv");
  std::string line;
  const Symbol btc = *Symbol::parse("BTCUSDT");
  while (std::getline(in, line))
    if (auto c = binance::parse_kline_csv(line, btc, Interval::k5m)) out.push_back(*c);
  return out;
}

runtime::Config config_of(const std::map<std::string, std::string>& env) {
  runtime::ConfigParser p("graph-builder");
  runtime::add_worker_options(p);
  add_graph_builder_options(p);
  auto c = p.parse({}, [&](const std::string& k) -> std::optional<std::string> {
    auto it = env.find(k);
    return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
  });
  EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error());
  return *c;
}

TEST(GraphBuilder, StoredCandlesBecomeTheLibrarysGraphWithAlignedLabels) {
  SF_REQUIRE_SHARED_DATA("klines_btcusdt_2020_htm/BTCUSDT-5m-2020-07-01_2020-07-11.csv");
  auto store = store::open_store("sqlite::memory:");
  ASSERT_TRUE(store.ok());
  const auto candles = csv_candles();
  ASSERT_TRUE((*store)->upsert_candles(candles).ok());
  const fs::path dir =
      fs::temp_directory_path() / ("sf_graph_builder_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  auto o = graph_builder_options_from(config_of({{"SYMBOL", "BTCUSDT"},
                                                 {"INTERVAL", "5m"},
                                                 {"TIME_RANGE", "2020-07-01:2020-07-10"},
                                                 {"GRAPH_DIR", dir.string()},
                                                 {"GRAPH_NAME", "btc"}}));
  ASSERT_TRUE(o.ok()) << o.error();
  bus::InProcBus bus;
  runtime::WorkerSettings ws;
  ws.service = "graph-builder";
  ws.queue_id = "q-graph";
  runtime::Worker w(bus, ws);
  EXPECT_EQ(w.run(graph_builder_body(*o, **store)), 0);
  EXPECT_EQ(w.outcome(), runtime::Outcome::kFinished);

  auto g = ml::import_graph(dir / "btc");
  ASSERT_TRUE(g.ok()) << g.error();
  std::vector<Candle> in_range;
  for (const auto& c : candles)
    if (c.open_time < 1594339200000000) in_range.push_back(c);  // before 2020-07-10
  ASSERT_EQ(g->num_nodes(), 2592u);
  auto want = ml::build_candle_graph(in_range, o->candles);
  ASSERT_TRUE(want.ok());
  EXPECT_EQ(g->edges, want->edges);
  EXPECT_EQ(g->features, want->features);
  EXPECT_EQ(g->norm_mean, want->norm_mean);
  // labels.csv: one row per node, in node order, direction of the next candle.
  std::ifstream labels(dir / "btc" / "labels.csv");
  std::string line;
  std::getline(labels, line);
  EXPECT_EQ(line, "node,open_time,direction,volatility_next_12");
  const auto dirs = ml::direction_labels(in_range, o->flat_band);
  std::size_t rows = 0;
  while (std::getline(labels, line)) {
    const auto a = line.find(','), b = line.find(',', a + 1), c = line.find(',', b + 1);
    ASSERT_EQ(std::stoll(line.substr(a + 1, b - a - 1)), in_range[rows].open_time);
    ASSERT_EQ(std::stoi(line.substr(b + 1, c - b - 1)), dirs[rows]);
    ++rows;
  }
  EXPECT_EQ(rows, 2592u);
  fs::remove_all(dir);
}

TEST(GraphBuilder, BadOptionsAndEmptyRangesAreErrors) {
  EXPECT_FALSE(
      graph_builder_options_from(config_of({{"SYMBOL", "BTCUSDT"}, {"TIME_RANGE", "2020-07-01"}}))
          .ok());
  EXPECT_FALSE(graph_builder_options_from(config_of({{"SYMBOL", "BTCUSDT,ETHUSDT"},
                                                     {"TIME_RANGE", "2020-07-01:2020-07-02"}}))
                   .ok());
  EXPECT_FALSE(graph_builder_options_from(config_of({{"SYMBOL", "BTCUSDT"},
                                                     {"GRAPH_KIND", "x"},
                                                     {"TIME_RANGE", "2020-07-01:2020-07-02"}}))
                   .ok());
  auto store = store::open_store("sqlite::memory:");
  ASSERT_TRUE(store.ok());
  auto o = graph_builder_options_from(
      config_of({{"SYMBOL", "BTCUSDT"}, {"TIME_RANGE", "2020-07-01:2020-07-02"}}));
  ASSERT_TRUE(o.ok());
  bus::InProcBus bus;
  runtime::WorkerSettings ws;
  ws.service = "graph-builder";
  ws.queue_id = "q-empty";
  runtime::Worker w(bus, ws);
  EXPECT_EQ(w.run(graph_builder_body(*o, **store)), 1);
  EXPECT_EQ(w.outcome(), runtime::Outcome::kError);
}

}  // namespace
}  // namespace sf::services
