// DataIndex over the real data set: what gets indexed, sorting, de-duplication, original text.
#include "services/exchange_sim/data_index.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>

#include "sim_test_support.h"

namespace sf::services::exchange_sim {
namespace {

using sf::testing::read_shared_csv;
using sf::testing::shared_data_dir;

TEST(ExchangeSimDataIndex, IndexesTheSharedDataSetQuickly) {
  SF_REQUIRE_SHARED_DATA(sf::testing::kKlines5mFile);
  const auto started = std::chrono::steady_clock::now();
  auto index = DataIndex::load(shared_data_dir().string());
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(index.ok()) << index.error();
  const DataIndex& data = **index;
  EXPECT_LT(took, std::chrono::seconds(5));

  const auto* five_minutes = data.klines("BTCUSDT", Interval::k5m);
  ASSERT_NE(five_minutes, nullptr);
  EXPECT_EQ(five_minutes->size(), 2881u);
  const auto* daily = data.klines("BTCUSDT", Interval::k1d);
  ASSERT_NE(daily, nullptr);
  EXPECT_EQ(daily->size(), 1061u);
  // Two overlapping 15m files: the 500-row one lies inside the 18,470-row one.
  const auto* quarter_hours = data.klines("BTCUSDT", Interval::k15m);
  ASSERT_NE(quarter_hours, nullptr);
  EXPECT_EQ(quarter_hours->size(), 18470u);
  EXPECT_EQ(data.stats().duplicate_rows, 500u);
  // Zipped data.binance.vision files: two days of ETHUSDT 1m, two of BTCUSDT 1h.
  const auto* eth = data.klines("ETHUSDT", Interval::k1m);
  ASSERT_NE(eth, nullptr);
  EXPECT_EQ(eth->size(), 2880u);
  ASSERT_NE(data.klines("BTCUSDT", Interval::k1h), nullptr);
  EXPECT_EQ(data.klines("BTCUSDT", Interval::k1h)->size(), 48u);

  const auto* agg = data.agg_trades("BTCUSDT");
  ASSERT_NE(agg, nullptr);
  EXPECT_EQ(agg->size(), 5000u);
  EXPECT_EQ(data.trades("BTCUSDT"), nullptr);
  EXPECT_EQ(data.depth("BTCUSDT"), nullptr);
  EXPECT_EQ(data.stats().bad_rows, 0u);

  // The full 2021 exchangeInfo (1,695 symbols) merged with the 2022 BTCUSDT one.
  const ExchangeInfoData& info = data.exchange_info();
  EXPECT_EQ(info.symbols.size(), 1695u);
  EXPECT_EQ(info.newest_server_time_ms, 1670769464853);
  const SymbolInfoEntry* btc = info.find("BTCUSDT");
  ASSERT_NE(btc, nullptr);
  EXPECT_EQ(btc->status, "TRADING");
  // Only the 2022 body has cancelReplaceAllowed: the newer file won.
  EXPECT_NE(btc->json.find("\"cancelReplaceAllowed\":true"), std::string::npos) << btc->json;
  EXPECT_EQ(btc->json.find('\n'), std::string::npos) << "minified";
  EXPECT_TRUE(data.knows_symbol("NKNUSDT"));
  EXPECT_FALSE(data.knows_symbol("NOPEUSDT"));
}

TEST(ExchangeSimDataIndex, RowsKeepTheSourceTextSortedByOpenTime) {
  SF_REQUIRE_SHARED_DATA(sf::testing::kKlines5mFile);
  auto index = DataIndex::load(shared_data_dir().string());
  ASSERT_TRUE(index.ok()) << index.error();
  const auto* rows = (*index)->klines("BTCUSDT", Interval::k5m);
  ASSERT_NE(rows, nullptr);
  const auto csv = read_shared_csv(sf::testing::kKlines5mFile);
  ASSERT_EQ(csv.size(), rows->size());
  for (std::size_t i = 0; i < csv.size(); ++i) {
    std::string expected = "[";
    for (std::size_t c = 0; c < 12; ++c) {
      if (c > 0) expected += ',';
      const bool is_int = c == 0 || c == 6 || c == 8;
      expected += is_int ? csv[i][c] : "\"" + csv[i][c] + "\"";
    }
    expected += ']';
    std::string rendered;
    (*rows)[i].render(rendered, false);
    ASSERT_EQ(rendered, expected) << "row " << i;
  }
}

TEST(ExchangeSimDataIndex, FixtureTradesDepthDuplicatesAndBadRows) {
  SF_REQUIRE_SHARED_DATA("hftbacktest_ws_spot/btcusdt_20240808_first5000.frames.jsonl");
  sf::testing::TempDir dir;
  const auto fixture = sf::testing::write_fixture_dir(dir.path());
  ASSERT_GT(fixture.trades.size(), 500u);
  // A futures-style header line is skipped quietly; a malformed row is counted and skipped.
  std::ofstream(dir.path() / "ETHUSDT-1m-2022-08-14.csv")
      << "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
         "taker_buy_volume,taker_buy_quote_volume,ignore\n"
         "1660435200000,1983.55000000,1983.90000000,1982.14000000,1982.29000000,205.13100000,"
         "1660435259999,406814.92308000,288,105.29930000,208854.93067400,0\n"
         "1660435260000,not-a-price\n";
  std::ofstream(dir.path() / "notes.txt") << "not data\n";

  auto index = DataIndex::load(dir.path().string());
  ASSERT_TRUE(index.ok()) << index.error();
  const DataIndex& data = **index;
  const auto* trades = data.trades("BTCUSDT");
  ASSERT_NE(trades, nullptr);
  ASSERT_EQ(trades->size(), fixture.trades.size());
  EXPECT_EQ(data.stats().duplicate_rows, fixture.trades.size());
  for (std::size_t i = 1; i < trades->size(); ++i) {
    ASSERT_EQ((*trades)[i].id, (*trades)[i - 1].id + 1) << "dense ids";
  }
  EXPECT_EQ(data.stats().bad_rows, 1u);
  ASSERT_NE(data.klines("ETHUSDT", Interval::k1m), nullptr);
  EXPECT_EQ(data.klines("ETHUSDT", Interval::k1m)->size(), 1u);

  const DepthBook* book = data.depth("BTCUSDT");
  ASSERT_NE(book, nullptr);
  EXPECT_EQ(book->last_update_id, fixture.depth_last_update_id);
  EXPECT_EQ(book->bids.size(), 1000u);
  EXPECT_EQ(book->asks.size(), 1000u);
  EXPECT_EQ(book->bids.front(), R"(["61837.63000000","3.78826000"])");
  EXPECT_EQ(data.exchange_info().symbols.size(), 1u);
}

TEST(ExchangeSimDataIndex, MissingDirectoryIsAnError) {
  auto index = DataIndex::load("/nonexistent/exchange-sim-data");
  ASSERT_FALSE(index.ok());
  EXPECT_NE(index.error().find("not found"), std::string::npos) << index.error();
}

}  // namespace
}  // namespace sf::services::exchange_sim
