// The contract every Store backend must meet, run once per backend in kBackends.
#include <algorithm>
#include <bit>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "store/postgres_test_support.h"
#include "store/store_test_support.h"

namespace sf::store::testing {
namespace {

// A database one test runs against; destroying it removes the data.
class TestDatabase {
 public:
  virtual ~TestDatabase() = default;
  // What open_store() takes; opening it again reaches the same data.
  virtual std::string url() const = 0;
  // Non-empty when the backend cannot run here (no server, say): the test is skipped with it.
  virtual std::string unavailable_reason() const { return {}; }
};

// A file in a fresh temp dir, one level down so open_store has a directory to create.
class SqliteTempFile final : public TestDatabase {
 public:
  std::string url() const override {
    return "sqlite:" + (dir_.path() / "db" / "store.db").string();
  }

 private:
  TempDir dir_;
};

// A fresh schema on the server named by SF_TEST_POSTGRES_DSN; skipped when that is unset.
class PostgresSchema final : public TestDatabase {
 public:
  std::string url() const override { return schema_.url(); }
  std::string unavailable_reason() const override { return schema_.unavailable_reason(); }

 private:
  PostgresTestSchema schema_;
};

struct Backend {
  std::string name;  // also the store's kind()
  std::function<std::unique_ptr<TestDatabase>()> make;
};

void PrintTo(const Backend& backend, std::ostream* out) {
  *out << backend.name;
}

// One line per backend.
const std::vector<Backend> kBackends = {
    {"sqlite", [] { return std::make_unique<SqliteTempFile>(); }},
    {"postgres", [] { return std::make_unique<PostgresSchema>(); }},
};

class StoreConformance : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    database_ = GetParam().make();
    if (std::string reason = database_->unavailable_reason(); !reason.empty()) {
      GTEST_SKIP() << GetParam().name << " unavailable: " << reason;
    }
    ASSERT_NO_FATAL_FAILURE(reopen());
  }

  // Closes the store (if open) and opens the same database again.
  void reopen() {
    store_.reset();
    SF_ASSERT_OK_AND_ASSIGN(store, open_store(database_->url()));
    store_ = std::move(store);
  }

  Store& store() { return *store_; }

  std::unique_ptr<TestDatabase> database_;
  std::unique_ptr<Store> store_;
};

constexpr TimestampUs kT0 = 1767225600039409;  // 2026-01-01T00:00:00.039409Z

TEST_P(StoreConformance, KindNamesTheBackend) {
  EXPECT_EQ(store().kind(), GetParam().name);
}

TEST_P(StoreConformance, EmptyBatchesWriteNothing) {
  SF_ASSERT_OK_AND_ASSIGN(written, store().upsert_trades({}));
  EXPECT_EQ(written, 0u);
  SF_ASSERT_OK_AND_ASSIGN(rows, store().trades(S("BTCUSDT"), {}));
  EXPECT_TRUE(rows.empty());
}

TEST_P(StoreConformance, RewritingABatchLeavesOneRowPerKey) {
  const std::vector<Trade> trades = {make_trade(1, kT0), make_trade(2, kT0 + 10),
                                     make_trade(3, kT0 + 20)};
  const std::vector<AggTrade> aggs = {make_agg_trade(1, kT0), make_agg_trade(2, kT0 + 10)};
  const std::vector<Candle> candles = {make_candle(kT0, true), make_candle(kT0 + 60'000'000, true)};
  const std::vector<DepthSnapshot> snapshots = {make_snapshot(100), make_snapshot(101)};
  const std::vector<IndicatorValue> indicators = {make_indicator(kT0, 55.5),
                                                  make_indicator(kT0 + 60'000'000, 56.5)};
  const std::vector<TelemetryEvent> telemetry = {make_telemetry("q1", "svc__a", 1.5, "started"),
                                                 make_telemetry("q1", "svc__a", 2.5, "loading")};
  for (int pass = 0; pass < 2; ++pass) {
    SF_ASSERT_OK_AND_ASSIGN(t, store().upsert_trades(trades));
    EXPECT_EQ(t, trades.size());
    SF_ASSERT_OK_AND_ASSIGN(a, store().upsert_agg_trades(aggs));
    EXPECT_EQ(a, aggs.size());
    SF_ASSERT_OK_AND_ASSIGN(c, store().upsert_candles(candles));
    EXPECT_EQ(c, candles.size());
    SF_ASSERT_OK_AND_ASSIGN(d, store().upsert_depth_snapshots(snapshots));
    EXPECT_EQ(d, snapshots.size());
    SF_ASSERT_OK_AND_ASSIGN(i, store().upsert_indicators(indicators));
    EXPECT_EQ(i, indicators.size());
    SF_ASSERT_OK_AND_ASSIGN(e, store().append_telemetry(telemetry));
    EXPECT_EQ(e, telemetry.size());
  }
  SF_ASSERT_OK_AND_ASSIGN(stored_trades, store().trades(S("BTCUSDT"), {}));
  ASSERT_EQ(stored_trades.size(), trades.size());
  for (std::size_t k = 0; k < trades.size(); ++k) expect_same(stored_trades[k], trades[k]);
  SF_ASSERT_OK_AND_ASSIGN(stored_aggs, store().agg_trades(S("BTCUSDT"), {}));
  EXPECT_EQ(stored_aggs.size(), aggs.size());
  SF_ASSERT_OK_AND_ASSIGN(stored_candles, store().candles(S("BTCUSDT"), Interval::k1m, {}));
  EXPECT_EQ(stored_candles.size(), candles.size());
  SF_ASSERT_OK_AND_ASSIGN(stored_snapshots, store().depth_snapshots(S("BTCUSDT"), 0, 1000));
  EXPECT_EQ(stored_snapshots.size(), snapshots.size());
  SF_ASSERT_OK_AND_ASSIGN(stored_indicators,
                          store().indicators(S("BTCUSDT"), Interval::k1m, "rsi_14", {}));
  EXPECT_EQ(stored_indicators.size(), indicators.size());
  SF_ASSERT_OK_AND_ASSIGN(stored_telemetry, store().telemetry("q1"));
  EXPECT_EQ(stored_telemetry.size(), telemetry.size());
}

TEST_P(StoreConformance, DuplicateKeysWithinOneBatchKeepTheLastRow) {
  const std::vector<Trade> batch = {make_trade(7, kT0, "1.00"), make_trade(7, kT0, "2.00")};
  SF_ASSERT_OK(store().upsert_trades(batch));
  SF_ASSERT_OK_AND_ASSIGN(rows, store().trades(S("BTCUSDT"), {}));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].price.to_string(), "2.00");
}

TEST_P(StoreConformance, DuplicateKeysWithinALargeBatchKeepTheLastRow) {
  std::vector<Trade> batch;
  for (int i = 0; i < 300; ++i) {
    batch.push_back(make_trade(i % 50, kT0 + i % 50, std::to_string(i) + ".5"));
  }
  SF_ASSERT_OK(store().upsert_trades(batch));
  SF_ASSERT_OK_AND_ASSIGN(rows, store().trades(S("BTCUSDT"), {}));
  ASSERT_EQ(rows.size(), 50u);
  for (int id = 0; id < 50; ++id) {
    EXPECT_EQ(rows[id].trade_id, id);
    EXPECT_EQ(rows[id].price.to_string(), std::to_string(250 + id) + ".5");
  }
}

// Batches longer than any internal chunking, with a remainder, for every record type.
TEST_P(StoreConformance, LargeBatchesOfEveryTypeRoundTrip) {
  constexpr int kRows = 203;
  std::vector<Trade> trades;
  std::vector<AggTrade> aggs;
  std::vector<Candle> candles;
  std::vector<IndicatorValue> indicators;
  std::vector<TelemetryEvent> telemetry;
  std::vector<DepthSnapshot> snapshots;
  for (int i = 0; i < kRows; ++i) {
    const std::string price = std::to_string(60000 + i) + "." + std::to_string(10 + i % 90);
    trades.push_back(make_trade(3800397495 + i, kT0 + i, price));
    aggs.push_back(make_agg_trade(50093239218 + i, kT0 + i));
    candles.push_back(make_candle(kT0 + i * 60'000'000LL, i % 2 == 0, price));
    indicators.push_back(make_indicator(kT0 + i, i * 0.5));
    telemetry.push_back(make_telemetry("q", "svc__" + std::to_string(i % 3), 1767225600.0 + i,
                                       "loading", "row " + std::to_string(i)));
    snapshots.push_back(make_snapshot(1000 + i));
  }
  SF_ASSERT_OK(store().upsert_trades(trades));
  SF_ASSERT_OK(store().upsert_agg_trades(aggs));
  SF_ASSERT_OK(store().upsert_candles(candles));
  SF_ASSERT_OK(store().upsert_indicators(indicators));
  SF_ASSERT_OK(store().append_telemetry(telemetry));
  SF_ASSERT_OK(store().upsert_depth_snapshots(snapshots));

  SF_ASSERT_OK_AND_ASSIGN(stored_trades, store().trades(S("BTCUSDT"), {}));
  SF_ASSERT_OK_AND_ASSIGN(stored_aggs, store().agg_trades(S("BTCUSDT"), {}));
  SF_ASSERT_OK_AND_ASSIGN(stored_candles, store().candles(S("BTCUSDT"), Interval::k1m, {}));
  SF_ASSERT_OK_AND_ASSIGN(stored_indicators,
                          store().indicators(S("BTCUSDT"), Interval::k1m, "rsi_14", {}));
  SF_ASSERT_OK_AND_ASSIGN(stored_telemetry, store().telemetry("q"));
  SF_ASSERT_OK_AND_ASSIGN(stored_snapshots, store().depth_snapshots(S("BTCUSDT"), 0, INT64_MAX));
  ASSERT_EQ(stored_trades.size(), trades.size());
  ASSERT_EQ(stored_aggs.size(), aggs.size());
  ASSERT_EQ(stored_candles.size(), candles.size());
  ASSERT_EQ(stored_indicators.size(), indicators.size());
  ASSERT_EQ(stored_telemetry.size(), telemetry.size());
  ASSERT_EQ(stored_snapshots.size(), snapshots.size());
  for (int i = 0; i < kRows; ++i) {
    SCOPED_TRACE(i);
    expect_same(stored_trades[i], trades[i]);
    expect_same(stored_aggs[i], aggs[i]);
    expect_same(stored_candles[i], candles[i]);
    EXPECT_EQ(stored_indicators[i].value, indicators[i].value);
    expect_same(stored_telemetry[i], telemetry[i]);
    expect_same(stored_snapshots[i], snapshots[i]);
  }
}

TEST_P(StoreConformance, UpsertOfAnExistingTradeReplacesIt) {
  SF_ASSERT_OK(store().upsert_trades(std::vector{make_trade(7, kT0, "1.00")}));
  SF_ASSERT_OK(store().upsert_trades(std::vector{make_trade(7, kT0 + 5, "1.50")}));
  SF_ASSERT_OK_AND_ASSIGN(rows, store().trades(S("BTCUSDT"), {}));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].price.to_string(), "1.50");
  EXPECT_EQ(rows[0].trade_time, kT0 + 5);
}

TEST_P(StoreConformance, OpenCandleIsReplacedByItsClosedVersion) {
  SF_ASSERT_OK(store().upsert_candles(std::vector{make_candle(kT0, false, "61840.00")}));
  SF_ASSERT_OK_AND_ASSIGN(open_rows, store().candles(S("BTCUSDT"), Interval::k1m, {}));
  ASSERT_EQ(open_rows.size(), 1u);
  EXPECT_FALSE(open_rows[0].is_closed);

  const Candle closed = make_candle(kT0, true, "61855.10000000");
  SF_ASSERT_OK(store().upsert_candles(std::vector{closed}));
  SF_ASSERT_OK_AND_ASSIGN(rows, store().candles(S("BTCUSDT"), Interval::k1m, {}));
  ASSERT_EQ(rows.size(), 1u);
  expect_same(rows[0], closed);
  EXPECT_TRUE(rows[0].is_closed);
  EXPECT_EQ(rows[0].close.to_string(), "61855.10000000");
  EXPECT_EQ(rows[0].number_of_trades, 1234);
}

TEST_P(StoreConformance, TradeRangeIsHalfOpenAndOrderedByTimeThenId) {
  // Written out of order; two trades share a time; another symbol shares the range.
  SF_ASSERT_OK(store().upsert_trades(
      std::vector{make_trade(4, kT0 + 200), make_trade(1, kT0 + 300), make_trade(5, kT0 + 100),
                  make_trade(3, kT0 + 200), make_trade(2, kT0 + 50),
                  make_trade(9, kT0 + 150, "1", "ETHUSDT"), make_trade(6, kT0 + 299)}));
  SF_ASSERT_OK_AND_ASSIGN(rows, store().trades(S("BTCUSDT"), {kT0 + 100, kT0 + 300}));
  std::vector<std::int64_t> ids;
  for (const Trade& t : rows) ids.push_back(t.trade_id);
  EXPECT_EQ(ids, (std::vector<std::int64_t>{5, 3, 4, 6}));

  SF_ASSERT_OK_AND_ASSIGN(all, store().trades(S("BTCUSDT"), {}));
  EXPECT_EQ(all.size(), 6u);
  SF_ASSERT_OK_AND_ASSIGN(empty, store().trades(S("BTCUSDT"), {kT0 + 200, kT0 + 200}));
  EXPECT_TRUE(empty.empty());
  SF_ASSERT_OK_AND_ASSIGN(other, store().trades(S("ETHUSDT"), {}));
  ASSERT_EQ(other.size(), 1u);
  EXPECT_EQ(other[0].trade_id, 9);
}

TEST_P(StoreConformance, AggTradeRangeIsHalfOpenAndOrderedByTimeThenId) {
  SF_ASSERT_OK(store().upsert_agg_trades(std::vector{
      make_agg_trade(12, kT0 + 20), make_agg_trade(11, kT0 + 20), make_agg_trade(10, kT0 + 10),
      make_agg_trade(13, kT0 + 30), make_agg_trade(1, kT0 + 20, "ETHUSDT")}));
  SF_ASSERT_OK_AND_ASSIGN(rows, store().agg_trades(S("BTCUSDT"), {kT0 + 10, kT0 + 30}));
  std::vector<std::int64_t> ids;
  for (const AggTrade& t : rows) ids.push_back(t.agg_trade_id);
  EXPECT_EQ(ids, (std::vector<std::int64_t>{10, 11, 12}));
}

TEST_P(StoreConformance, CandleRangeIsHalfOpenPerSymbolAndInterval) {
  constexpr TimestampUs kMinute = 60'000'000;
  SF_ASSERT_OK(store().upsert_candles(
      std::vector{make_candle(kT0 + 2 * kMinute, true), make_candle(kT0, true),
                  make_candle(kT0 + 3 * kMinute, true), make_candle(kT0 + kMinute, true),
                  make_candle(kT0 + kMinute, true, "1", Interval::k5m),
                  make_candle(kT0 + kMinute, true, "1", Interval::k1m, "ETHUSDT")}));
  SF_ASSERT_OK_AND_ASSIGN(rows,
                          store().candles(S("BTCUSDT"), Interval::k1m, {kT0, kT0 + 3 * kMinute}));
  std::vector<TimestampUs> times;
  for (const Candle& c : rows) times.push_back(c.open_time);
  EXPECT_EQ(times, (std::vector<TimestampUs>{kT0, kT0 + kMinute, kT0 + 2 * kMinute}));
  SF_ASSERT_OK_AND_ASSIGN(five, store().candles(S("BTCUSDT"), Interval::k5m, {}));
  ASSERT_EQ(five.size(), 1u);
  EXPECT_EQ(five[0].interval, Interval::k5m);
}

// has_symbol: any one kind of market record makes a symbol known; nothing stored, none is.
TEST_P(StoreConformance, HasSymbolIsTrueForAnyKindOfStoredRecord) {
  auto known = [&](std::string_view symbol) {
    auto answer = store().has_symbol(S(symbol));
    EXPECT_TRUE(answer.ok()) << (answer.ok() ? "" : answer.error().message);
    return answer.ok() && answer->value_or(false);
  };
  {
    auto answer = store().has_symbol(S("BTCUSDT"));
    ASSERT_TRUE(answer.ok());
    if (!answer->has_value()) {  // "cannot tell": the ArangoDB backend, by design (store.h)
      EXPECT_EQ(store().kind(), "arango");
      return;
    }
  }
  EXPECT_FALSE(known("BTCUSDT"));
  SF_ASSERT_OK(store().upsert_trades(std::vector{make_trade(1, kT0, "61837.63000000", "LTCUSDT")}));
  SF_ASSERT_OK(store().upsert_agg_trades(std::vector{make_agg_trade(1, kT0, "ETHUSDT")}));
  SF_ASSERT_OK(
      store().upsert_candles(std::vector{make_candle(kT0, true, "1.0", Interval::k1m, "ADAUSDT")}));
  SF_ASSERT_OK(store().upsert_depth_snapshots(std::vector{make_snapshot(7, "SOLUSDT")}));
  SF_ASSERT_OK(store().upsert_indicators(std::vector{make_indicator(kT0, 1.0)}));  // BTCUSDT
  for (const char* symbol : {"LTCUSDT", "ETHUSDT", "ADAUSDT", "SOLUSDT", "BTCUSDT"})
    EXPECT_TRUE(known(symbol)) << symbol;
  EXPECT_FALSE(known("XRPUSDT"));
  EXPECT_FALSE(known("BTCUSD")) << "a prefix of a stored symbol is another symbol";
}

TEST_P(StoreConformance, DepthSnapshotRangeIsInclusiveAndOrderedById) {
  SF_ASSERT_OK(store().upsert_depth_snapshots(std::vector{make_snapshot(30), make_snapshot(10),
                                                          make_snapshot(20), make_snapshot(40),
                                                          make_snapshot(20, "ETHUSDT")}));
  SF_ASSERT_OK_AND_ASSIGN(rows, store().depth_snapshots(S("BTCUSDT"), 10, 30));
  std::vector<std::int64_t> ids;
  for (const DepthSnapshot& d : rows) ids.push_back(d.last_update_id);
  EXPECT_EQ(ids, (std::vector<std::int64_t>{10, 20, 30}));
}

TEST_P(StoreConformance, DepthSnapshotLevelsRoundTrip) {
  std::vector<PriceLevel> bids;
  for (std::int64_t i = 0; i < 5000; ++i) {
    bids.push_back(
        {Decimal::from_parts(6183763000000 - i * 1000000, 8), Decimal::from_parts(2000000 + i, 8)});
  }
  const DepthSnapshot big{.symbol = S("BTCUSDT"),
                          .last_update_id = 50093239218,
                          .bids = bids,
                          .asks = {},
                          .is_partial = true,
                          .event_time = kT0,
                          .receive_time = kT0 + 7};
  const DepthSnapshot small = make_snapshot(50093239219);
  SF_ASSERT_OK(store().upsert_depth_snapshots(std::vector{big, small}));
  SF_ASSERT_OK_AND_ASSIGN(rows, store().depth_snapshots(S("BTCUSDT"), 0, INT64_MAX));
  ASSERT_EQ(rows.size(), 2u);
  expect_same(rows[0], big);
  expect_same(rows[1], small);
}

TEST_P(StoreConformance, IndicatorRangeIsHalfOpenPerName) {
  SF_ASSERT_OK(store().upsert_indicators(
      std::vector{make_indicator(kT0 + 120, 3.0), make_indicator(kT0, 1.0),
                  make_indicator(kT0 + 60, 2.0), make_indicator(kT0 + 60, -0.25, "macd_hist")}));
  SF_ASSERT_OK_AND_ASSIGN(
      rows, store().indicators(S("BTCUSDT"), Interval::k1m, "rsi_14", {kT0, kT0 + 120}));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].open_time, kT0);
  EXPECT_EQ(rows[0].value, 1.0);
  EXPECT_EQ(rows[1].open_time, kT0 + 60);
  EXPECT_EQ(rows[1].value, 2.0);
  SF_ASSERT_OK_AND_ASSIGN(macd, store().indicators(S("BTCUSDT"), Interval::k1m, "macd_hist", {}));
  ASSERT_EQ(macd.size(), 1u);
  EXPECT_EQ(macd[0].value, -0.25);
  EXPECT_EQ(macd[0].name, "macd_hist");
  SF_ASSERT_OK_AND_ASSIGN(other_interval,
                          store().indicators(S("BTCUSDT"), Interval::k5m, "rsi_14", {}));
  EXPECT_TRUE(other_interval.empty());
}

TEST_P(StoreConformance, IndicatorValuesKeepEveryDoubleIncludingNan) {
  const double tricky = 0.1 + 0.2;  // not representable in short decimal text
  SF_ASSERT_OK(store().upsert_indicators(
      std::vector{make_indicator(kT0, tricky),
                  make_indicator(kT0 + 1, std::numeric_limits<double>::quiet_NaN())}));
  SF_ASSERT_OK_AND_ASSIGN(rows, store().indicators(S("BTCUSDT"), Interval::k1m, "rsi_14", {}));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].value, tricky);
  EXPECT_TRUE(std::isnan(rows[1].value));
}

TEST_P(StoreConformance, DecimalsIdsAndMicrosecondTimesSurviveByteIdentical) {
  const char* decimals[] = {"61837.63000000",
                            "0.02000000",
                            "0.00000001",
                            "1000000.00000000",
                            "0",
                            "12",
                            "-1.5",
                            "48.000012",
                            "99999999999999999999999999999.99999999"};
  std::vector<Trade> batch;
  std::int64_t id = 50093239218;
  for (const char* d : decimals) {
    batch.push_back(Trade{.symbol = S("BTCUSDT"),
                          .trade_id = id++,
                          .price = D(d),
                          .quantity = D(d),
                          .trade_time = kT0,
                          .event_time = kT0 + 1,
                          .receive_time = kT0 + 2,
                          .is_buyer_maker = true,
                          .is_best_match = true});
  }
  // Beyond 2^53: a double anywhere on the path would round it.
  batch.push_back(make_trade(9007199254740993, kT0 + 1));
  SF_ASSERT_OK(store().upsert_trades(batch));
  SF_ASSERT_OK_AND_ASSIGN(rows, store().trades(S("BTCUSDT"), {kT0, kT0 + 2}));
  ASSERT_EQ(rows.size(), batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    expect_same(rows[i], batch[i]);
    EXPECT_TRUE(rows[i].price.identical(batch[i].price)) << batch[i].price.to_string();
  }
  EXPECT_EQ(rows[0].trade_id, 50093239218);
  EXPECT_EQ(rows[0].trade_time, 1767225600039409);
  EXPECT_EQ(rows.back().trade_id, 9007199254740993);

  const AggTrade agg{.symbol = S("BTCUSDT"),
                     .agg_trade_id = 3800397495,
                     .price = D("0.00001234"),
                     .quantity = D("12345678901234.12345678"),
                     .first_trade_id = 50093239218,
                     .last_trade_id = 50093239220,
                     .trade_time = kT0,
                     .event_time = kT0 + 1,
                     .receive_time = kT0 + 2,
                     .is_buyer_maker = true,
                     .is_best_match = false};
  SF_ASSERT_OK(store().upsert_agg_trades(std::vector{agg}));
  SF_ASSERT_OK_AND_ASSIGN(aggs, store().agg_trades(S("BTCUSDT"), {}));
  ASSERT_EQ(aggs.size(), 1u);
  expect_same(aggs[0], agg);
}

TEST_P(StoreConformance, OptionalBestMatchRoundTripsAllThreeStates) {
  const std::optional<bool> states[] = {std::nullopt, true, false};
  std::vector<Trade> batch;
  std::vector<AggTrade> aggs;
  for (int i = 0; i < 3; ++i) {
    batch.push_back(Trade{.symbol = S("BTCUSDT"),
                          .trade_id = i,
                          .price = D("1"),
                          .quantity = D("1"),
                          .trade_time = kT0 + i,
                          .event_time = 0,
                          .receive_time = 0,
                          .is_buyer_maker = i == 1,
                          .is_best_match = states[i]});
    aggs.push_back(AggTrade{.symbol = S("BTCUSDT"),
                            .agg_trade_id = i,
                            .price = D("1"),
                            .quantity = D("1"),
                            .first_trade_id = -1,
                            .last_trade_id = -1,
                            .trade_time = kT0 + i,
                            .event_time = 0,
                            .receive_time = 0,
                            .is_buyer_maker = i == 2,
                            .is_best_match = states[i]});
  }
  SF_ASSERT_OK(store().upsert_trades(batch));
  SF_ASSERT_OK(store().upsert_agg_trades(aggs));
  SF_ASSERT_OK_AND_ASSIGN(rows, store().trades(S("BTCUSDT"), {}));
  SF_ASSERT_OK_AND_ASSIGN(agg_rows, store().agg_trades(S("BTCUSDT"), {}));
  ASSERT_EQ(rows.size(), 3u);
  ASSERT_EQ(agg_rows.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    expect_same(rows[i], batch[i]);
    expect_same(agg_rows[i], aggs[i]);
  }
}

TEST_P(StoreConformance, TelemetryIsInTimestampOrderAndDeduplicatedOnItsNaturalKey) {
  SF_ASSERT_OK(store().append_telemetry(
      std::vector{make_telemetry("q1", "svc__b", 1767225600.5, "loading"),
                  make_telemetry("q1", "svc__a", 1767225600.039409, "started"),
                  make_telemetry("q1", "svc__a", 1767225601.25, "finished", "first"),
                  make_telemetry("q2", "svc__a", 1767225600.0, "started")}));
  // A redelivery of one event (same key, message updated) and one new status at an existing time.
  SF_ASSERT_OK(store().append_telemetry(
      std::vector{make_telemetry("q1", "svc__a", 1767225601.25, "finished", "second"),
                  make_telemetry("q1", "svc__b", 1767225600.5, "error")}));

  SF_ASSERT_OK_AND_ASSIGN(events, store().telemetry("q1"));
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].timestamp, 1767225600.039409);
  EXPECT_EQ(events[0].status, "started");
  EXPECT_EQ(events[1].timestamp, 1767225600.5);
  EXPECT_EQ(events[2].timestamp, 1767225600.5);
  EXPECT_NE(events[1].status, events[2].status);
  EXPECT_EQ(events[3].status, "finished");
  EXPECT_EQ(events[3].message, "second");
  expect_same(events[3], make_telemetry("q1", "svc__a", 1767225601.25, "finished", "second"));

  SF_ASSERT_OK_AND_ASSIGN(other, store().telemetry("q2"));
  EXPECT_EQ(other.size(), 1u);
  SF_ASSERT_OK_AND_ASSIGN(none, store().telemetry("missing"));
  EXPECT_TRUE(none.empty());
}

TEST_P(StoreConformance, WorkflowsAreUpsertedAndListed) {
  SF_ASSERT_OK_AND_ASSIGN(missing, store().workflow("q1"));
  EXPECT_FALSE(missing.has_value());

  const WorkflowState b{.queue_id = "q-b",
                        .status = "pending",
                        .definition = R"({"steps":[]})",
                        .created_at = 1767225600.5,
                        .updated_at = 1767225600.5};
  WorkflowState a{.queue_id = "q-a",
                  .status = "pending",
                  .definition = R"({"steps":["download"]})",
                  .created_at = 1767225601.0,
                  .updated_at = 1767225601.0};
  SF_ASSERT_OK(store().upsert_workflow(b));
  SF_ASSERT_OK(store().upsert_workflow(a));
  a.status = "running";
  a.updated_at = 1767225602.25;
  SF_ASSERT_OK(store().upsert_workflow(a));

  SF_ASSERT_OK_AND_ASSIGN(got, store().workflow("q-a"));
  ASSERT_TRUE(got.has_value());
  expect_same(*got, a);

  SF_ASSERT_OK_AND_ASSIGN(all, store().workflows());
  ASSERT_EQ(all.size(), 2u);
  expect_same(all[0], b);  // created first
  expect_same(all[1], a);
}

TEST_P(StoreConformance, WritesAHundredThousandRowBatch) {
  constexpr int kRows = 100'000;
  std::vector<Trade> batch;
  batch.reserve(kRows);
  for (int i = 0; i < kRows; ++i) batch.push_back(make_trade(3800397495 + i, kT0 + i * 1000LL));
  SF_ASSERT_OK_AND_ASSIGN(written, store().upsert_trades(batch));
  EXPECT_EQ(written, static_cast<std::size_t>(kRows));
  SF_ASSERT_OK_AND_ASSIGN(rows, store().trades(S("BTCUSDT"), {}));
  ASSERT_EQ(rows.size(), static_cast<std::size_t>(kRows));
  expect_same(rows.front(), batch.front());
  expect_same(rows[kRows / 2], batch[kRows / 2]);
  expect_same(rows.back(), batch.back());
}

TEST_P(StoreConformance, ReopeningKeepsDataAndSchemaVersion) {
  SF_ASSERT_OK_AND_ASSIGN(version, store().schema_version());
  EXPECT_GE(version, 1);
  const Trade trade = make_trade(50093239218, kT0);
  SF_ASSERT_OK(store().upsert_trades(std::vector{trade}));
  SF_ASSERT_OK(store().upsert_candles(std::vector{make_candle(kT0, true)}));

  ASSERT_NO_FATAL_FAILURE(reopen());
  SF_ASSERT_OK_AND_ASSIGN(reopened_version, store().schema_version());
  EXPECT_EQ(reopened_version, version);
  SF_ASSERT_OK_AND_ASSIGN(rows, store().trades(S("BTCUSDT"), {}));
  ASSERT_EQ(rows.size(), 1u);
  expect_same(rows[0], trade);
  SF_ASSERT_OK_AND_ASSIGN(candles, store().candles(S("BTCUSDT"), Interval::k1m, {}));
  EXPECT_EQ(candles.size(), 1u);
}

TEST_P(StoreConformance, SeveralThreadsCanShareOneStore) {
  constexpr int kThreads = 4;
  constexpr int kBatches = 10;
  constexpr int kBatchSize = 200;
  std::vector<std::thread> threads;
  std::vector<std::string> failures(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int b = 0; b < kBatches; ++b) {
        std::vector<Trade> batch;
        for (int i = 0; i < kBatchSize; ++i) {
          std::int64_t id = (static_cast<std::int64_t>(t) * kBatches + b) * kBatchSize + i;
          batch.push_back(make_trade(id, kT0 + id));
        }
        auto written = store().upsert_trades(batch);
        if (!written) failures[t] = written.error().message;
        auto read = store().trades(S("BTCUSDT"), {kT0, kT0 + 10});
        if (!read) failures[t] = read.error().message;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const std::string& failure : failures) EXPECT_EQ(failure, "");
  SF_ASSERT_OK_AND_ASSIGN(rows, store().trades(S("BTCUSDT"), {}));
  EXPECT_EQ(rows.size(), static_cast<std::size_t>(kThreads * kBatches * kBatchSize));
}

// A graph with awkward values: negative and subnormal floats, an unknown label, NaN-free
// volatility with a tiny exponent, node ids that are not positions, two edge kinds.
GraphRecord make_graph(const std::string& name, int nodes, int edges_per_node) {
  GraphRecord g;
  g.name = name;
  g.kind = "candles";
  g.interval = "5m";
  g.meta = R"({"kind":"candles","feature_names":["a","b","c"],"params":{"vol_horizon":12}})";
  g.created_at = 1767225600.25;
  for (int i = 0; i < nodes; ++i) {
    GraphNodeRecord n;
    n.node_id = 1000 + 3 * i;
    n.time = kT0 + i * 300'000'000LL;
    n.symbol = i % 2 ? "ETHUSDT" : "BTCUSDT";
    n.features = {static_cast<float>(i) / 7.0f, -1.0e-39f * static_cast<float>(i + 1),
                  i % 5 ? 3.4028235e38f : -0.0f};
    n.direction = i % 4 - 1;  // -1 (unknown), 0, 1, 2
    if (i % 3) n.volatility = 1.2345678901234567e-4 * i;
    g.nodes.push_back(n);
  }
  for (int i = 1; i < nodes; ++i)
    for (int k = 1; k <= edges_per_node && k <= i; ++k) {
      GraphEdgeRecord e;
      // Deliberately not sorted by (src, dst): order must survive as written.
      e.src = g.nodes[static_cast<std::size_t>(i - k)].node_id;
      e.dst = g.nodes[static_cast<std::size_t>(i)].node_id;
      e.weight = k == 1 ? 1.0f : 0.1f * static_cast<float>(i % 10) - 0.45f;
      e.kind = k == 1 ? "temporal" : "similarity";
      g.edges.push_back(e);
    }
  std::reverse(g.edges.begin() + static_cast<std::ptrdiff_t>(g.edges.size() / 2), g.edges.end());
  return g;
}

void expect_same_graph(const GraphRecord& got, const GraphRecord& want) {
  EXPECT_EQ(got.name, want.name);
  EXPECT_EQ(got.kind, want.kind);
  EXPECT_EQ(got.interval, want.interval);
  EXPECT_EQ(got.created_at, want.created_at);
  EXPECT_EQ(got.node_count, static_cast<std::int64_t>(want.nodes.size()));
  EXPECT_EQ(got.edge_count, static_cast<std::int64_t>(want.edges.size()));
  ASSERT_EQ(got.nodes.size(), want.nodes.size());
  for (std::size_t i = 0; i < want.nodes.size(); ++i) {
    const auto& a = got.nodes[i];
    const auto& b = want.nodes[i];
    EXPECT_EQ(a.node_id, b.node_id) << "node " << i;
    EXPECT_EQ(a.time, b.time) << "node " << i;
    EXPECT_EQ(a.symbol, b.symbol) << "node " << i;
    ASSERT_EQ(a.features.size(), b.features.size()) << "node " << i;
    for (std::size_t j = 0; j < b.features.size(); ++j)
      EXPECT_EQ(std::bit_cast<std::uint32_t>(a.features[j]),
                std::bit_cast<std::uint32_t>(b.features[j]))
          << "node " << i << " feature " << j << ": " << a.features[j] << " vs " << b.features[j];
    EXPECT_EQ(a.direction, b.direction) << "node " << i;
    EXPECT_EQ(a.volatility, b.volatility) << "node " << i;
  }
  ASSERT_EQ(got.edges.size(), want.edges.size());
  for (std::size_t i = 0; i < want.edges.size(); ++i)
    EXPECT_EQ(got.edges[i], want.edges[i]) << "edge " << i;
}

TEST_P(StoreConformance, GraphRoundTripsBitIdenticalInWrittenOrder) {
  const GraphRecord g = make_graph("btcusdt_candles_5m_2022-01-01", 300, 3);
  SF_ASSERT_OK(store().replace_graph(g));
  SF_ASSERT_OK_AND_ASSIGN(read, store().graph(g.name));
  ASSERT_TRUE(read.has_value());
  expect_same_graph(*read, g);
  // The metadata is kept as JSON (its text may be re-serialised by the engine).
  EXPECT_NE(read->meta.find("\"feature_names\""), std::string::npos) << read->meta;
  SF_ASSERT_OK_AND_ASSIGN(missing, store().graph("no_such_graph"));
  EXPECT_FALSE(missing.has_value());
}

TEST_P(StoreConformance, ReplacingAGraphLeavesNothingOfTheOldOne) {
  SF_ASSERT_OK(store().replace_graph(make_graph("g1", 200, 3)));
  SF_ASSERT_OK(store().replace_graph(make_graph("g2", 10, 1)));
  GraphRecord smaller = make_graph("g1", 50, 2);
  smaller.kind = "assets";
  smaller.created_at += 60;
  SF_ASSERT_OK(store().replace_graph(smaller));
  SF_ASSERT_OK_AND_ASSIGN(read, store().graph("g1"));
  ASSERT_TRUE(read.has_value());
  expect_same_graph(*read, smaller);
  SF_ASSERT_OK_AND_ASSIGN(other, store().graph("g2"));
  ASSERT_TRUE(other.has_value());
  expect_same_graph(*other, make_graph("g2", 10, 1));

  ASSERT_NO_FATAL_FAILURE(reopen());
  SF_ASSERT_OK_AND_ASSIGN(list, store().graphs());
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].name, "g1");
  EXPECT_EQ(list[0].kind, "assets");
  EXPECT_EQ(list[0].node_count, 50);
  EXPECT_EQ(list[0].edge_count, static_cast<std::int64_t>(smaller.edges.size()));
  EXPECT_TRUE(list[0].nodes.empty());
  EXPECT_EQ(list[1].name, "g2");
  EXPECT_EQ(list[1].node_count, 10);
}

TEST_P(StoreConformance, GraphWithThirtyThousandNodesRoundTrips) {
  const GraphRecord g = make_graph("big", 30'000, 6);
  SF_ASSERT_OK(store().replace_graph(g));
  SF_ASSERT_OK_AND_ASSIGN(read, store().graph("big"));
  ASSERT_TRUE(read.has_value());
  expect_same_graph(*read, g);
}

TEST_P(StoreConformance, GraphNamesAreValidatedBeforeAnythingIsWritten) {
  const std::string too_long(201, 'a');
  for (const char* bad : {"", "1abc", "has space", "semi;colon", "a/b", too_long.c_str()}) {
    auto r = store().replace_graph(make_graph(bad, 5, 1));
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, StoreErrc::kConfig) << bad;
  }
  for (float bad :
       {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    GraphRecord g = make_graph("nonfinite", 5, 1);
    g.nodes[3].features[1] = bad;
    auto r = store().replace_graph(g);
    ASSERT_FALSE(r) << "JSON and so two of the backends cannot hold " << bad;
    EXPECT_EQ(r.error().code, StoreErrc::kConfig);
  }
  GraphRecord dangling = make_graph("dangling", 5, 1);
  dangling.edges.push_back({.src = 1000, .dst = 999999, .weight = 1, .kind = "temporal"});
  auto r = store().replace_graph(dangling);
  ASSERT_FALSE(r) << "an edge to a node that is not in the graph is refused";
  EXPECT_EQ(r.error().code, StoreErrc::kConfig);
  SF_ASSERT_OK_AND_ASSIGN(list, store().graphs());
  EXPECT_TRUE(list.empty());
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreConformance, ::testing::ValuesIn(kBackends),
                         [](const ::testing::TestParamInfo<Backend>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace sf::store::testing
