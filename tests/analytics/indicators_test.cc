// Indicators against TA-Lib (and independent references for those TA-Lib lacks) on the real
// 2022 BTC/USDT 5m series, plus configuration and order-book imbalance.
#include "analytics/indicators.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "exchange/binance/parse.h"
#include "test_support.h"

namespace sf::analytics {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

Symbol btc() {
  return *Symbol::parse("BTCUSDT");
}
Decimal dec(const char* s) {
  return Decimal::parse(s).value();
}

Candle bar(TimestampUs open, const char* o, const char* h, const char* l, const char* c,
           const char* v) {
  return Candle{.symbol = btc(),
                .interval = Interval::k1h,
                .open_time = open,
                .open = dec(o),
                .high = dec(h),
                .low = dec(l),
                .close = dec(c),
                .volume = dec(v),
                .close_time = open + 3600'000'000LL - 1000,
                .quote_asset_volume = dec("0"),
                .number_of_trades = -1,
                .taker_buy_base_asset_volume = dec("0"),
                .taker_buy_quote_asset_volume = dec("0"),
                .ignore = dec("0"),
                .first_trade_id = -1,
                .last_trade_id = -1,
                .is_closed = true,
                .event_time = 0,
                .receive_time = 0};
}

// --- small hand-checked cases ---------------------------------------------------------------

TEST(Indicators, SmaEmaRsiObvOnAHandComputedSeries) {
  Sma sma(3);
  Ema ema(3);  // k = 0.5, seeded with the SMA of the first 3
  EXPECT_TRUE(std::isnan(sma.update(1)));
  EXPECT_TRUE(std::isnan(ema.update(1)));
  EXPECT_TRUE(std::isnan(sma.update(2)));
  EXPECT_TRUE(std::isnan(ema.update(2)));
  EXPECT_DOUBLE_EQ(sma.update(6), 3.0);
  EXPECT_DOUBLE_EQ(ema.update(6), 3.0);
  EXPECT_DOUBLE_EQ(sma.update(10), 6.0);
  EXPECT_DOUBLE_EQ(ema.update(10), 6.5);

  Rsi rsi(2);  // changes +1, -2 -> avg gain 0.5, loss 1 -> 33.33; then +3: gain 1.75, loss 0.5
  EXPECT_TRUE(std::isnan(rsi.update(10)));
  EXPECT_TRUE(std::isnan(rsi.update(11)));
  EXPECT_NEAR(rsi.update(9), 100.0 / 3, 1e-12);
  EXPECT_NEAR(rsi.update(12), 100 * 1.75 / 2.25, 1e-12);

  Obv obv;
  EXPECT_EQ(obv.update(10, 5), 5);  // TA-Lib starts at the first volume
  EXPECT_EQ(obv.update(11, 2), 7);
  EXPECT_EQ(obv.update(11, 9), 7);
  EXPECT_EQ(obv.update(10, 3), 4);
}

TEST(Indicators, VwapResetsAtTheUtcDay) {
  Vwap vwap;
  const TimestampUs day = 1'700'006'400'000'000;  // 2023-11-15 00:00 UTC
  EXPECT_DOUBLE_EQ(vwap.update(day - 3600'000'000LL, 12, 9, 9, 100), 10.0);
  EXPECT_DOUBLE_EQ(vwap.update(day, 4, 1, 1, 1), 2.0);  // new day: only this bar
  EXPECT_DOUBLE_EQ(vwap.update(day + 3600'000'000LL, 6, 3, 3, 3), (2.0 * 1 + 4.0 * 3) / 4);
  EXPECT_DOUBLE_EQ(vwap.update(day + 7200'000'000LL, 9, 9, 9, 0), 3.5);  // no volume: unchanged
}

TEST(Indicators, BookImbalanceOverTopLevels) {
  DepthSnapshot book{
      .symbol = btc(),
      .last_update_id = 1,
      .bids = {{dec("100.0"), dec("1.5")}, {dec("99.9"), dec("2.0")}, {dec("99.8"), dec("7")}},
      .asks = {{dec("100.1"), dec("1.0")}, {dec("100.2"), dec("0.5")}},
      .is_partial = true,
      .event_time = 0,
      .receive_time = 0};
  // top 2: bids 3.5, asks 1.5 -> (3.5 - 1.5) / 5 = 0.4
  EXPECT_DOUBLE_EQ(book_imbalance(book, 2), 0.4);
  // top 1: 1.5 vs 1.0 -> 0.2; top 10 uses what exists: 10.5 vs 1.5 -> 0.75
  EXPECT_DOUBLE_EQ(book_imbalance(book, 1), 0.2);
  EXPECT_DOUBLE_EQ(book_imbalance(book, 10), 0.75);
  DepthSnapshot empty{.symbol = btc(),
                      .last_update_id = 2,
                      .bids = {},
                      .asks = {},
                      .is_partial = true,
                      .event_time = 0,
                      .receive_time = 0};
  EXPECT_TRUE(std::isnan(book_imbalance(empty, 5)));

  auto set = IndicatorSet::from_json(R"([{"name":"obi","params":{"levels":2}}])");
  ASSERT_TRUE(set) << set.error();
  ASSERT_EQ(set->columns(), std::vector<std::string>{"obi_2"});
  const auto c = bar(0, "1", "1", "1", "1", "1");
  EXPECT_TRUE(std::isnan(set->update(c)[0]));  // no book yet
  set->on_book(book);
  EXPECT_DOUBLE_EQ(set->update(c)[0], 0.4);
}

TEST(IndicatorsConfig, DefaultsNamesAndErrors) {
  auto defaults = IndicatorSet::from_json("");
  ASSERT_TRUE(defaults) << defaults.error();
  EXPECT_EQ(
      defaults->columns(),
      (std::vector<std::string>{"sma_20", "ema_20", "rsi_14", "macd_12_26_9", "macd_signal_12_26_9",
                                "macd_hist_12_26_9", "bb_upper_20_2", "bb_middle_20_2",
                                "bb_lower_20_2", "atr_14", "vwap", "obv", "rv_20"}));
  auto custom = IndicatorSet::from_json(
      R"([{"name":"ema","params":{"period":50,"source":"high"}},{"name":"vwap","params":{"anchor":"1w"}},{"name":"rsi"}])");
  ASSERT_TRUE(custom) << custom.error();
  EXPECT_EQ(custom->columns(), (std::vector<std::string>{"ema_50_high", "vwap_1w", "rsi_14"}));

  auto expect_error = [](const char* json, const char* needle) {
    auto r = IndicatorSet::from_json(json);
    ASSERT_FALSE(r) << json;
    EXPECT_NE(r.error().find(needle), std::string::npos) << r.error();
  };
  expect_error(R"([{"name":"foo"}])", "unknown indicator 'foo'");
  expect_error(R"([{"name":"sma","params":{"period":0}}])", "'period' must be an integer >= 1");
  expect_error(R"([{"name":"sma","params":{"period":2.5}}])", "must be an integer");
  expect_error(R"([{"name":"sma","params":{"length":5}}])", "unknown param 'length'");
  expect_error(R"([{"name":"atr","params":{"source":"high"}}])", "bad source");
  expect_error(R"([{"name":"sma"},{"name":"sma"}])", "duplicate output column 'sma_20'");
  expect_error(R"({"name":"sma"})", "expected a JSON list");
  expect_error(R"([{"params":{}}])", "missing 'name'");
  expect_error("[{", "INDICATORS_CONFIG");
  expect_error("[]", "empty");
}

// --- against TA-Lib on the 2022 BTC/USDT 5m series -------------------------------------------

std::string test_python() {
  std::string venv;
  if (const char* configured = std::getenv("SF_PY_VENV"))
    venv = configured;
  else if (const char* home = std::getenv("HOME"))
    venv = std::string(home) + "/.cache/streamforge/venv";
  if (!venv.empty() && access((venv + "/bin/python").c_str(), X_OK) == 0)
    return venv + "/bin/python";
  return "python3";
}

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> out;
  std::string cell;
  std::istringstream in(line);
  while (std::getline(in, cell, ',')) out.push_back(cell);
  if (!line.empty() && line.back() == ',') out.emplace_back();
  return out;
}

TEST(IndicatorsVsTaLib, Btc5m2022WithinOneBillionth) {
  const char* kFile = "klines_5m_2022_freqtrade/BTC_USDT-5m.json";
  SF_REQUIRE_SHARED_DATA(kFile);
  const auto input = testing::shared_data_dir() / kFile;
  const auto ref_path = std::filesystem::temp_directory_path() /
                        ("sf_talib_ref_" + std::to_string(::getpid()) + ".csv");
  const std::string script = std::string(SF_REPO_ROOT) + "/tests/analytics/talib_reference.py";
  const std::string cmd =
      test_python() + " " + script + " " + input.string() + " " + ref_path.string() + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string py_out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) py_out += buf;
  const int status = pclose(p);
  const int rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (rc == 3)
    GTEST_SKIP() << "TA-Lib reference unavailable (" << py_out
                 << "); run scripts/install-test-python.sh to install ta-lib into the venv";
  ASSERT_EQ(rc, 0) << py_out;

  std::ifstream ref(ref_path);
  std::string header;
  ASSERT_TRUE(std::getline(ref, header));
  auto names = split(header);
  names.erase(names.begin());  // open_time_ms

  auto set = IndicatorSet::from_json(R"([
    {"name":"sma","params":{"period":20}}, {"name":"ema","params":{"period":20}},
    {"name":"sma","params":{"period":9}}, {"name":"ema","params":{"period":9}},
    {"name":"sma","params":{"period":10,"source":"high"}},
    {"name":"rsi","params":{"period":14}}, {"name":"rsi","params":{"period":6}},
    {"name":"macd"}, {"name":"macd","params":{"fast":5,"slow":35,"signal":5}},
    {"name":"bbands"}, {"name":"bbands","params":{"period":10,"nbdevup":1.5,"nbdevdn":3}},
    {"name":"atr"}, {"name":"atr","params":{"period":5}},
    {"name":"obv"}, {"name":"vwap"}, {"name":"rv","params":{"window":20}}])");
  ASSERT_TRUE(set) << set.error();
  ASSERT_EQ(set->columns(), names) << "the script and the config must name the same columns";

  std::ifstream json_in(input);
  std::string body((std::istreambuf_iterator<char>(json_in)), {});
  binance::Parser parser;
  auto candles = parser.parse_ohlcv_rows(body, btc(), Interval::k5m);
  ASSERT_TRUE(candles) << candles.error().message();
  ASSERT_EQ(candles->size(), 28'966u);

  std::vector<double> max_rel(names.size(), 0.0);
  std::vector<long> defined(names.size(), 0), exact(names.size(), 0);
  std::size_t row = 0;
  for (std::string line; std::getline(ref, line); ++row) {
    ASSERT_LT(row, candles->size());
    const Candle& c = (*candles)[row];
    auto cells = split(line);
    ASSERT_EQ(cells.size(), names.size() + 1) << line;
    ASSERT_EQ(std::stoll(cells[0]) * 1000, c.open_time);
    auto ours = set->update(c);
    for (std::size_t k = 0; k < names.size(); ++k) {
      const std::string& cell = cells[k + 1];
      if (cell.empty()) {
        ASSERT_TRUE(std::isnan(ours[k]))
            << names[k] << " row " << row << ": reference undefined, ours " << ours[k];
        continue;
      }
      const double want = std::strtod(cell.c_str(), nullptr);
      ASSERT_FALSE(std::isnan(ours[k]))
          << names[k] << " row " << row << ": ours undefined, want " << cell;
      ++defined[k];
      if (ours[k] == want) {
        ++exact[k];
        continue;
      }
      const double rel = std::fabs(ours[k] - want) / std::max(std::fabs(ours[k]), std::fabs(want));
      max_rel[k] = std::max(max_rel[k], rel);
      ASSERT_LE(rel, 1e-9) << names[k] << " row " << row << ": ours " << ours[k] << ", want "
                           << cell;
    }
  }
  EXPECT_EQ(row, candles->size());
  std::filesystem::remove(ref_path);
  for (std::size_t k = 0; k < names.size(); ++k) {
    EXPECT_GT(defined[k], 28'000) << names[k];
    std::printf("%-22s defined %6ld  bit-identical %6ld  max rel diff %.3g\n", names[k].c_str(),
                defined[k], exact[k], max_rel[k]);
  }
}

}  // namespace
}  // namespace sf::analytics
