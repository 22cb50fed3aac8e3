// graph-builder over a real SQLite store holding Binance's BTCUSDT 5m candles (and freqtrade's
// 2022 pairs): the stored and exported graph is the library's graph of the same candles, labels
// line up with the nodes, and bad input is an error naming the problem.
#include "services/graph_builder/graph_builder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "bus/inproc_bus.h"
#include "exchange/binance/parse.h"
#include "ml/graph/graph.h"
#include "ml/graph/graph_store.h"
#include "runtime/service.h"
#include "store/store_test_support.h"
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

// Runs graph-builder once as a worker; its outcome.
runtime::Outcome run_builder(const GraphBuilderOptions& o, store::Store& store,
                             const std::string& queue_id) {
  bus::InProcBus bus;
  runtime::WorkerSettings ws;
  ws.service = "graph-builder";
  ws.queue_id = queue_id;
  runtime::Worker w(bus, ws);
  const int code = w.run(graph_builder_body(o, store));
  EXPECT_EQ(code, w.outcome() == runtime::Outcome::kFinished ? 0 : 1);
  return w.outcome();
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
  EXPECT_EQ(run_builder(*o, **store, "q-graph"), runtime::Outcome::kFinished);

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

  // The store holds the same graph and labels, bit for bit: the system of record.
  auto stored = (*store)->graph("btc");
  ASSERT_TRUE(stored.ok()) << stored.error().message;
  ASSERT_TRUE(stored->has_value());
  EXPECT_EQ((*stored)->kind, "candles");
  EXPECT_EQ((*stored)->interval, "5m");
  auto back = ml::from_graph_record(**stored);
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(back->graph.features, g->features);
  EXPECT_EQ(back->graph.edges, g->edges);
  EXPECT_EQ(back->graph.node_time, g->node_time);
  EXPECT_EQ(back->graph.norm_std, g->norm_std);
  EXPECT_EQ(back->graph.train_nodes, g->train_nodes);
  EXPECT_EQ(back->vol_horizon, 12);
  ASSERT_EQ(back->direction.size(), dirs.size());
  for (std::size_t i = 0; i < dirs.size(); ++i) ASSERT_EQ(back->direction[i], dirs[i]) << i;
  const auto vol = ml::volatility_labels(in_range, 12);
  for (std::size_t i = 0; i < vol.size(); ++i)
    ASSERT_TRUE(std::isnan(vol[i]) ? std::isnan(back->volatility[i])
                                   : back->volatility[i] == vol[i])
        << i;
  fs::remove_all(dir);
}

std::vector<Candle> freqtrade_candles(const std::string& base, std::size_t limit) {
  std::ifstream in(sf::testing::shared_data_dir() / "klines_5m_2022_freqtrade" /
                   (base + "_USDT-5m.json"));
  std::string body((std::istreambuf_iterator<char>(in)), {});
  binance::Parser parser;
  auto rows = parser.parse_ohlcv_rows(body, *Symbol::parse(base + "USDT"), Interval::k5m);
  if (!rows) return {};
  std::vector<Candle> out(rows->begin(), rows->begin() + std::min(limit, rows->size()));
  return out;
}

TEST(GraphBuilder, AssetsGraphGoesToTheStoreOnlyWithEachSymbolsNextCandleAsLabel) {
  SF_REQUIRE_SHARED_DATA("klines_5m_2022_freqtrade/BTC_USDT-5m.json");
  auto store = store::open_store("sqlite::memory:");
  ASSERT_TRUE(store.ok());
  std::vector<std::vector<Candle>> series;
  for (const char* base : {"BTC", "SOL", "XRP"}) {
    series.push_back(freqtrade_candles(base, 2016));  // 7 days from 2022-01-06
    if (series.back().empty()) GTEST_SKIP() << base << "_USDT-5m.json not in the shared data";
    ASSERT_TRUE((*store)->upsert_candles(series.back()).ok());
  }
  auto o = graph_builder_options_from(config_of({{"SYMBOL", "BTCUSDT,SOLUSDT,XRPUSDT"},
                                                 {"GRAPH_KIND", "assets"},
                                                 {"TIME_RANGE", "2022-01-06:2022-01-13"},
                                                 {"GRAPH_DIR", ""},
                                                 {"GRAPH_NAME", "majors"}}));
  ASSERT_TRUE(o.ok()) << o.error();
  EXPECT_EQ(run_builder(*o, **store, "q-assets"), runtime::Outcome::kFinished);
  EXPECT_FALSE(fs::exists("majors")) << "GRAPH_DIR empty: nothing is written to a directory";

  auto want = ml::build_asset_graph(series, o->assets);
  ASSERT_TRUE(want.ok()) << want.error();
  auto stored = (*store)->graph("majors");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  auto back = ml::from_graph_record(**stored);
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(back->graph.kind, "assets");
  EXPECT_EQ(back->graph.symbols, want->symbols);
  EXPECT_EQ(back->graph.node_symbol, want->node_symbol);
  EXPECT_EQ(back->graph.features, want->features);
  EXPECT_EQ(back->graph.edges, want->edges);
  EXPECT_GT(want->count_edges(ml::EdgeKind::kCorrelation), 0u);
  // Node (s, p): symbol p's move from the snapshot's last candle to the next one.
  const std::size_t pairs = series.size();
  std::size_t known = 0;
  for (std::size_t i = 0; i < back->graph.num_nodes(); ++i) {
    const std::size_t p = i % pairs, end = ml::asset_snapshot_end(o->assets, i / pairs);
    ASSERT_EQ(back->graph.node_time[i], series[p][end].open_time) << i;
    const auto dirs = ml::direction_labels(series[p], o->flat_band);
    ASSERT_EQ(back->direction[i], dirs[end]) << i;
    known += back->direction[i] >= 0;
  }
  EXPECT_GE(known + pairs, back->graph.num_nodes()) << "only the last snapshot may be unknown";
}

// Trade features over Binance's first 5,000 aggregate trades of 2026-01-01 (about 12 minutes),
// against an independent exact computation (Decimal sums) per 1m candle.
TEST(GraphBuilder, TradeFeaturesAggregateTheStoredAggregateTradesOfEachCandle) {
  SF_REQUIRE_SHARED_DATA("aggtrades_btcusdt_2026-01-01/BTCUSDT-aggTrades-2026-01-01_first5000.csv");
  auto store = store::open_store("sqlite::memory:");
  ASSERT_TRUE(store.ok());
  std::ifstream in(sf::testing::shared_data_dir() /
                   "aggtrades_btcusdt_2026-01-01/BTCUSDT-aggTrades-2026-01-01_first5000.csv");
  std::vector<AggTrade> trades;
  std::string line;
  const Symbol btc = *Symbol::parse("BTCUSDT");
  while (std::getline(in, line))
    if (auto t = binance::parse_agg_trade_csv(line, btc)) trades.push_back(*t);
  ASSERT_EQ(trades.size(), 5000u);
  ASSERT_TRUE((*store)->upsert_agg_trades(trades).ok());
  constexpr TimestampUs kMinute = 60'000'000, kT0 = 1767225600000000;  // 2026-01-01T00:00Z
  std::vector<Candle> candles;
  for (int m = 0; m < 14; ++m)
    candles.push_back(store::testing::make_candle(kT0 + m * kMinute, true));
  std::int64_t seen = 0;
  auto cols = trade_columns(**store, candles, &seen);
  ASSERT_TRUE(cols.ok()) << cols.error();
  EXPECT_EQ(seen, 5000);
  ASSERT_EQ(cols->size(), 4u);
  EXPECT_EQ((*cols)[0].name, "at_log_count");
  EXPECT_EQ((*cols)[1].name, "at_taker_buy_ratio");
  for (std::size_t m = 0; m < candles.size(); ++m) {
    std::int64_t n = 0;
    Decimal qty{}, buy{}, largest{};
    for (const auto& t : trades) {
      if (t.trade_time < candles[m].open_time || t.trade_time >= candles[m].open_time + kMinute)
        continue;
      ++n;
      qty = qty + t.quantity;
      if (!t.is_buyer_maker) buy = buy + t.quantity;
      if (largest < t.quantity) largest = t.quantity;
    }
    if (n == 0) {
      EXPECT_TRUE(std::isnan((*cols)[0].values[m])) << "minute " << m << " has no trade";
      continue;
    }
    EXPECT_DOUBLE_EQ((*cols)[0].values[m], std::log1p(static_cast<double>(n))) << m;
    EXPECT_NEAR((*cols)[1].values[m], buy.to_double() / qty.to_double(), 1e-12) << m;
    EXPECT_NEAR((*cols)[2].values[m], largest.to_double() / qty.to_double(), 1e-12) << m;
    EXPECT_NEAR((*cols)[3].values[m], std::log(qty.to_double() / static_cast<double>(n)), 1e-12)
        << m;
  }
  EXPECT_TRUE(std::isnan((*cols)[0].values[13])) << "the trades end at 00:12:19";

  // Without stored trades there are no columns (TRADE_FEATURES=auto adds none).
  auto empty = store::open_store("sqlite::memory:");
  ASSERT_TRUE(empty.ok());
  auto none = trade_columns(**empty, candles, &seen);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(seen, 0);
}

TEST(GraphBuilder, StoredIndicatorsBecomeFeaturesWithPriceLevelsAsDistancesFromTheClose) {
  SF_REQUIRE_SHARED_DATA("klines_btcusdt_2020_htm/BTCUSDT-5m-2020-07-01_2020-07-11.csv");
  auto store = store::open_store("sqlite::memory:");
  ASSERT_TRUE(store.ok());
  const auto all = csv_candles();
  const std::vector<Candle> candles(all.begin(), all.begin() + 500);
  ASSERT_TRUE((*store)->upsert_candles(candles).ok());
  // sma_20 stored as 1% above each close (from candle 20 on); rsi_14 a plain number.
  std::vector<IndicatorValue> values;
  for (std::size_t i = 19; i < candles.size(); ++i) {
    values.push_back({candles[i].symbol, Interval::k5m, "sma_20", candles[i].open_time,
                      candles[i].close.to_double() * 1.01});
    values.push_back(
        {candles[i].symbol, Interval::k5m, "rsi_14", candles[i].open_time, 40.0 + i % 7});
  }
  ASSERT_TRUE((*store)->upsert_indicators(values).ok());
  auto cols = indicator_columns(**store, candles, {"sma_20", "rsi_14"});
  ASSERT_TRUE(cols.ok()) << cols.error();
  ASSERT_EQ(cols->size(), 2u);
  EXPECT_EQ((*cols)[0].name, "ind_sma_20");
  EXPECT_TRUE(std::isnan((*cols)[0].values[18]));
  for (std::size_t i = 19; i < candles.size(); ++i) {
    EXPECT_NEAR((*cols)[0].values[i], 0.01, 1e-12) << i;
    EXPECT_EQ((*cols)[1].values[i], 40.0 + i % 7) << i;
  }
  auto missing = indicator_columns(**store, candles, {"atr_14"});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("atr_14"), std::string::npos) << missing.error();

  // Through the service: the graph carries the columns after the built-in features.
  auto o = graph_builder_options_from(config_of({{"SYMBOL", "BTCUSDT"},
                                                 {"TIME_RANGE", "2020-07-01:2020-07-03"},
                                                 {"GRAPH_DIR", ""},
                                                 {"GRAPH_NAME", "with_ind"},
                                                 {"INDICATOR_FEATURES", "sma_20,rsi_14"},
                                                 {"TRADE_FEATURES", "on"}}));
  ASSERT_TRUE(o.ok()) << o.error();
  EXPECT_EQ(run_builder(*o, **store, "q-ind-on"), runtime::Outcome::kError)
      << "TRADE_FEATURES=on without stored aggregate trades is an error";
  o->trade_features = "auto";
  EXPECT_EQ(run_builder(*o, **store, "q-ind"), runtime::Outcome::kFinished);
  auto stored = (*store)->graph("with_ind");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  auto g = ml::from_graph_record(**stored);
  ASSERT_TRUE(g.ok()) << g.error();
  const auto& names = g->graph.feature_names;
  ASSERT_GE(names.size(), 2u);
  EXPECT_EQ(names[names.size() - 2], "ind_sma_20");
  EXPECT_EQ(names.back(), "ind_rsi_14");
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
  EXPECT_EQ(run_builder(*o, **store, "q-empty"), runtime::Outcome::kError);
}

}  // namespace
}  // namespace sf::services
