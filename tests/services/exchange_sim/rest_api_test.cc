// The REST endpoints of an in-process exchange-sim over the real data set, through HTTP.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sim_test_support.h"

namespace sf::services::exchange_sim {
namespace {

using sf::testing::get;
using sf::testing::kAggTradesFile;
using sf::testing::kKlines5mFile;
using sf::testing::parse_error_body;
using sf::testing::parse_json;
using sf::testing::read_shared_csv;
using sf::testing::reset_sim;
using sf::testing::shared_sim;
using sf::testing::to_int;
using CsvRows = std::vector<std::vector<std::string>>;

constexpr std::int64_t kFiveMinutesMs = 300'000;

// The JSON Binance sends for kline rows [first, last) of the CSV, times in ms or µs.
std::string expected_klines(const CsvRows& csv, std::size_t first, std::size_t last,
                            bool microseconds = false) {
  std::string out = "[";
  for (std::size_t i = first; i < last; ++i) {
    if (i > first) out += ',';
    out += '[';
    for (std::size_t c = 0; c < 12; ++c) {
      if (c > 0) out += ',';
      if (c == 0 || c == 6) {
        out += std::to_string(to_int(csv[i][c]) * (microseconds ? 1000 : 1));
      } else if (c == 8) {
        out += csv[i][c];
      } else {
        out += "\"" + csv[i][c] + "\"";
      }
    }
    out += ']';
  }
  return out + "]";
}

// aggTrades rows [first, last) of the (µs) CSV as Binance sends them.
std::string expected_agg_trades(const CsvRows& csv, std::size_t first, std::size_t last,
                                bool microseconds = false) {
  std::string out = "[";
  for (std::size_t i = first; i < last; ++i) {
    const auto& f = csv[i];
    if (i > first) out += ',';
    const std::int64_t time_us = to_int(f[5]);
    out += "{\"a\":" + f[0] + ",\"p\":\"" + f[1] + "\",\"q\":\"" + f[2] + "\",\"f\":" + f[3] +
           ",\"l\":" + f[4] + ",\"T\":" + std::to_string(microseconds ? time_us : time_us / 1000) +
           ",\"m\":" + (f[6] == "True" ? "true" : "false") +
           ",\"M\":" + (f[7] == "True" ? "true" : "false") + "}";
  }
  return out + "]";
}

std::string klines_url(const std::string& query) {
  return "/api/v3/klines?symbol=BTCUSDT&interval=5m" + query;
}

class ExchangeSimRest : public ::testing::Test {
 protected:
  void SetUp() override {
    SF_REQUIRE_SHARED_DATA(kKlines5mFile);
    reset_sim(shared_sim());
  }
};

TEST_F(ExchangeSimRest, KlinesPagingReturnsEverySourceRowByteIdentical) {
  const auto& sim = shared_sim();
  const CsvRows csv = read_shared_csv(kKlines5mFile);
  // 2020-07-01 00:00 .. 2020-07-09 23:59:59.999: nine days of 5m bars.
  const std::int64_t end = 1594339199999;
  std::int64_t start = 1593561600000;
  std::size_t row = 0;
  int pages = 0;
  for (;;) {
    auto page = get(sim, klines_url("&startTime=" + std::to_string(start) +
                                    "&endTime=" + std::to_string(end) + "&limit=1000"));
    ASSERT_EQ(page.status, 200) << page.body;
    simdjson::dom::parser parser;
    simdjson::dom::array rows = parse_json(parser, page.body).get_array().value();
    if (rows.size() == 0) break;
    ++pages;
    ASSERT_EQ(page.body, expected_klines(csv, row, row + rows.size())) << "page " << pages;
    row += rows.size();
    const std::int64_t last_open = rows.at(rows.size() - 1).at(0).get_int64().value();
    start = last_open + kFiveMinutesMs;
    if (rows.size() < 1000) break;
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(row, 2592u);
  EXPECT_EQ(to_int(csv[0][0]), 1593561600000);
  EXPECT_EQ(to_int(csv[2591][0]), 1594338900000);
}

TEST_F(ExchangeSimRest, KlinesFollowBinanceOrderingRules) {
  const auto& sim = shared_sim();
  const CsvRows csv = read_shared_csv(kKlines5mFile);
  const std::size_t n = csv.size();
  auto open = [&](std::size_t i) { return std::to_string(to_int(csv[i][0])); };

  // No start/end: the most recent `limit`.
  EXPECT_EQ(get(sim, klines_url("&limit=5")).body, expected_klines(csv, n - 5, n));
  // Only start (between two bars): the oldest `limit` from it.
  EXPECT_EQ(
      get(sim, klines_url("&limit=5&startTime=" + std::to_string(to_int(csv[100][0]) + 1))).body,
      expected_klines(csv, 101, 106));
  // Only end (inclusive): the newest `limit` up to it.
  EXPECT_EQ(get(sim, klines_url("&limit=5&endTime=" + open(200))).body,
            expected_klines(csv, 196, 201));
  // Both: from start, capped at end ...
  EXPECT_EQ(get(sim, klines_url("&limit=5&startTime=" + open(10) + "&endTime=" + open(12))).body,
            expected_klines(csv, 10, 13));
  // ... and at limit.
  EXPECT_EQ(get(sim, klines_url("&limit=5&startTime=" + open(10) + "&endTime=" + open(100))).body,
            expected_klines(csv, 10, 15));
  // start after end: nothing.
  EXPECT_EQ(get(sim, klines_url("&startTime=" + open(12) + "&endTime=" + open(10))).body, "[]");
  // Default limit 500; above the maximum 1000 is clamped.
  simdjson::dom::parser parser;
  EXPECT_EQ(parse_json(parser, get(sim, klines_url("&startTime=" + open(0))).body)
                .get_array()
                .value()
                .size(),
            500u);
  EXPECT_EQ(parse_json(parser, get(sim, klines_url("&startTime=" + open(0) + "&limit=5000")).body)
                .get_array()
                .value()
                .size(),
            1000u);
  // startTime in µs selects the same bars; the X-MBX-TIME-UNIT header switches output to µs.
  EXPECT_EQ(get(sim, klines_url("&limit=3&startTime=" + open(10) + "000")).body,
            expected_klines(csv, 10, 13));
  EXPECT_EQ(
      get(sim, klines_url("&limit=3&startTime=" + open(10)), sf::testing::microsecond_header())
          .body,
      expected_klines(csv, 10, 13, true));
  // uiKlines serves the same rows; timeZone=0 is accepted.
  EXPECT_EQ(get(sim, "/api/v3/uiKlines?symbol=BTCUSDT&interval=5m&limit=2&timeZone=0").body,
            expected_klines(csv, n - 2, n));
  // A known symbol without data for that interval: empty, not an error.
  EXPECT_EQ(get(sim, "/api/v3/klines?symbol=NKNUSDT&interval=1m").body, "[]");
}

TEST_F(ExchangeSimRest, KlinesFromZippedDailyFiles) {
  const auto& sim = shared_sim();
  auto response = get(sim, "/api/v3/klines?symbol=ETHUSDT&interval=1m&limit=2&startTime=0");
  ASSERT_EQ(response.status, 200);
  EXPECT_EQ(
      response.body,
      R"([[1660435200000,"1983.55000000","1983.90000000","1982.14000000","1982.29000000",)"
      R"("205.13100000",1660435259999,"406814.92308000",288,"105.29930000","208854.93067400",)"
      R"("0"],[1660435260000,"1982.30000000","1983.28000000","1982.01000000","1983.15000000",)"
      R"("66.81310000",1660435319999,"132465.11419600",217,"36.23750000","71839.19746300",)"
      R"("0"]])");
}

TEST_F(ExchangeSimRest, AggTradesFromIdPagingCoversTheFileInFivePages) {
  const auto& sim = shared_sim();
  const CsvRows csv = read_shared_csv(kAggTradesFile);
  ASSERT_EQ(csv.size(), 5000u);
  std::int64_t from_id = to_int(csv[0][0]);
  std::size_t row = 0;
  int pages = 0;
  for (;;) {
    auto page =
        get(sim, "/api/v3/aggTrades?symbol=BTCUSDT&limit=1000&fromId=" + std::to_string(from_id));
    ASSERT_EQ(page.status, 200) << page.body;
    if (page.body == "[]") break;
    ++pages;
    const std::size_t rows = std::min<std::size_t>(1000, csv.size() - row);
    ASSERT_EQ(page.body, expected_agg_trades(csv, row, row + rows)) << "page " << pages;
    row += rows;
    from_id = to_int(csv[row - 1][0]) + 1;
  }
  EXPECT_EQ(pages, 5);
  EXPECT_EQ(row, 5000u);
  for (std::size_t i = 1; i < csv.size(); ++i) {
    ASSERT_EQ(to_int(csv[i][0]), to_int(csv[i - 1][0]) + 1) << "source ids are dense";
  }
  // The same page in µs carries the file's timestamps unchanged.
  EXPECT_EQ(get(sim, "/api/v3/aggTrades?symbol=BTCUSDT&limit=3&fromId=" + csv[0][0],
                sf::testing::microsecond_header())
                .body,
            expected_agg_trades(csv, 0, 3, true));
}

TEST_F(ExchangeSimRest, AggTradesByTime) {
  const auto& sim = shared_sim();
  const CsvRows csv = read_shared_csv(kAggTradesFile);
  auto ms = [&](std::size_t i) { return std::to_string(to_int(csv[i][5]) / 1000); };
  // No parameters: the most recent 500.
  EXPECT_EQ(get(sim, "/api/v3/aggTrades?symbol=BTCUSDT").body,
            expected_agg_trades(csv, 4500, 5000));
  // Several aggregate trades can share a timestamp: bounds are found the way Binance applies
  // them (inclusive), in ms (whole millisecond) or µs (exact).
  auto first_at_or_after = [&](std::int64_t time_us) {
    std::size_t i = 0;
    while (i < csv.size() && to_int(csv[i][5]) < time_us) ++i;
    return i;
  };
  const std::int64_t t10 = to_int(csv[10][5]);
  const std::size_t from_ms = first_at_or_after(t10 / 1000 * 1000);
  EXPECT_EQ(get(sim, "/api/v3/aggTrades?symbol=BTCUSDT&limit=4&startTime=" + ms(10)).body,
            expected_agg_trades(csv, from_ms, from_ms + 4));
  const std::size_t from_us = first_at_or_after(t10);
  EXPECT_EQ(get(sim, "/api/v3/aggTrades?symbol=BTCUSDT&limit=4&startTime=" + csv[10][5]).body,
            expected_agg_trades(csv, from_us, from_us + 4));
  // endTime only: the newest up to it. Row 99 shares its µs timestamp with row 100.
  const std::size_t past_end = first_at_or_after(to_int(csv[99][5]) + 1);
  EXPECT_EQ(past_end, 101u);
  EXPECT_EQ(get(sim, "/api/v3/aggTrades?symbol=BTCUSDT&limit=4&endTime=" + csv[99][5]).body,
            expected_agg_trades(csv, past_end - 4, past_end));
}

TEST_F(ExchangeSimRest, PingTimeAndExchangeInfo) {
  const auto& sim = shared_sim();
  auto ping = get(sim, "/api/v3/ping");
  EXPECT_EQ(ping.status, 200);
  EXPECT_EQ(ping.body, "{}");

  simdjson::dom::parser parser;
  const std::int64_t before = micros_to_millis(now_micros());
  const std::int64_t server_time =
      parse_json(parser, get(sim, "/api/v3/time").body)["serverTime"].get_int64().value();
  EXPECT_GE(server_time, before);
  EXPECT_LT(server_time, before + 5000);
  const std::int64_t server_time_us =
      parse_json(parser,
                 get(sim, "/api/v3/time", sf::testing::microsecond_header()).body)["serverTime"]
          .get_int64()
          .value();
  EXPECT_GT(server_time_us, before * 1000);

  auto full = get(sim, "/api/v3/exchangeInfo");
  ASSERT_EQ(full.status, 200);
  simdjson::dom::element info = parse_json(parser, full.body);
  EXPECT_EQ(info["timezone"].get_string().value(), "UTC");
  EXPECT_EQ(info["symbols"].get_array().value().size(), 1695u);
  simdjson::dom::element weight_limit = info["rateLimits"].at(0);
  EXPECT_EQ(weight_limit["rateLimitType"].get_string().value(), "REQUEST_WEIGHT");
  EXPECT_EQ(weight_limit["limit"].get_int64().value(), 6000);

  auto one = get(sim, "/api/v3/exchangeInfo?symbol=BTCUSDT");
  ASSERT_EQ(one.status, 200) << one.body;
  simdjson::dom::array symbols = parse_json(parser, one.body)["symbols"].get_array().value();
  ASSERT_EQ(symbols.size(), 1u);
  EXPECT_EQ(symbols.at(0)["symbol"].get_string().value(), "BTCUSDT");
  EXPECT_EQ(symbols.at(0)["filters"].at(0)["tickSize"].get_string().value(), "0.01000000");

  auto two = get(sim, R"(/api/v3/exchangeInfo?symbols=%5B%22ETHUSDT%22,%22BTCUSDT%22%5D)");
  ASSERT_EQ(two.status, 200) << two.body;
  symbols = parse_json(parser, two.body)["symbols"].get_array().value();
  ASSERT_EQ(symbols.size(), 2u);
  EXPECT_EQ(symbols.at(0)["symbol"].get_string().value(), "ETHUSDT");
  EXPECT_EQ(symbols.at(1)["symbol"].get_string().value(), "BTCUSDT");

  symbols = parse_json(parser, get(sim, "/api/v3/exchangeInfo?symbolStatus=BREAK").body)["symbols"]
                .get_array()
                .value();
  EXPECT_EQ(symbols.size(), 433u);
  symbols = parse_json(parser, get(sim, "/api/v3/exchangeInfo?permissions=MARGIN").body)["symbols"]
                .get_array()
                .value();
  EXPECT_GT(symbols.size(), 100u);
  EXPECT_LT(symbols.size(), 1695u);
}

TEST_F(ExchangeSimRest, DepthWithoutSnapshotIsAnEmptyBook) {
  auto response = get(shared_sim(), "/api/v3/depth?symbol=ETHUSDT");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, R"({"lastUpdateId":0,"bids":[],"asks":[]})");
}

struct ErrorCase {
  std::string target;
  int status;
  std::int64_t code;
  std::string msg;  // empty: not checked
  std::string time_unit = "";
};

TEST_F(ExchangeSimRest, ErrorsLikeBinance) {
  const auto& sim = shared_sim();
  const std::vector<ErrorCase> cases = {
      {"/api/v3/klines?interval=5m", 400, -1102,
       "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."},
      {"/api/v3/klines?symbol=&interval=5m", 400, -1102, ""},
      {"/api/v3/klines?symbol=BTCUSDT", 400, -1102,
       "Mandatory parameter 'interval' was not sent, was empty/null, or malformed."},
      {"/api/v3/klines?symbol=btcusdt&interval=5m", 400, -1100,
       "Illegal characters found in parameter 'symbol'; legal range is '^[A-Z0-9-_.]{1,20}$'."},
      {"/api/v3/klines?symbol=NOPEUSDT&interval=5m", 400, -1121, "Invalid symbol."},
      {"/api/v3/klines?symbol=BTCUSDT&interval=5M", 400, -1120, "Invalid interval."},
      {"/api/v3/klines?symbol=BTCUSDT&interval=1H", 400, -1120, "Invalid interval."},
      {"/api/v3/klines?symbol=BTCUSDT&interval=1mo", 400, -1120, "Invalid interval."},
      {"/api/v3/klines?symbol=BTCUSDT&interval=5m&startTime=abc", 400, -1100,
       "Illegal characters found in parameter 'startTime'; legal range is '^[0-9]{1,20}$'."},
      {"/api/v3/klines?symbol=BTCUSDT&interval=5m&limit=", 400, -1105,
       "Parameter 'limit' was empty."},
      {"/api/v3/klines?symbol=BTCUSDT&interval=5m&limit=0", 400, -1130,
       "Data sent for parameter 'limit' is not valid."},
      {"/api/v3/klines?symbol=BTCUSDT&interval=5m&endTime=99999999999999999999", 400, -1108,
       "Parameter 'endTime' overflowed."},
      {"/api/v3/klines?symbol=BTCUSDT&interval=5m&timeZone=8", 400, -1130, ""},
      {"/api/v3/klines?symbol=BTCUSDT&interval=5m&timeZone=+15:00", 400, -1130,
       "Data sent for parameter 'timeZone' is not valid."},
      {"/api/v3/klines?symbol=BTCUSDT&interval=5m&foo=1", 400, -1104,
       "Not all sent parameters were read; read '2' parameter(s) but was sent '3'."},
      {"/api/v3/klines?symbol=BTCUSDT&symbol=ETHUSDT&interval=5m", 400, -1101,
       "Duplicate values for a parameter detected."},
      {"/api/v3/ping?x=1", 400, -1101, "Too many parameters; expected '0' and received '1'."},
      {"/api/v3/aggTrades?symbol=BTCUSDT&fromId=1&startTime=1", 400, -1128,
       "Combination of optional parameters invalid."},
      {"/api/v3/aggTrades?symbol=BTCUSDT&fromId=-5", 400, -1100, ""},
      {"/api/v3/trades?symbol=BTCUSDT&fromId=5", 400, -1104, ""},
      {"/api/v3/depth?symbol=NOPEUSDT", 400, -1121, "Invalid symbol."},
      {"/api/v3/depth?symbol=BTCUSDT&symbolStatus=OPEN", 400, -1122, "Invalid symbolStatus."},
      {"/api/v3/depth?symbol=BTCUSDT&symbolStatus=HALT", 400, -1220, ""},
      {"/api/v3/exchangeInfo?symbol=NOPEUSDT", 400, -1121, "Invalid symbol."},
      {"/api/v3/exchangeInfo?symbols=%5B%22BTCUSDT%22,%22NOPEUSDT%22%5D", 400, -1121, ""},
      {"/api/v3/exchangeInfo?symbols=%5B%22BTCUSDT%22,%22BTCUSDT%22%5D", 400, -1151, ""},
      {"/api/v3/exchangeInfo?symbols=BTCUSDT", 400, -1100, ""},
      {"/api/v3/exchangeInfo?symbol=BTCUSDT&symbols=%5B%22BTCUSDT%22%5D", 400, -1128, ""},
      {"/api/v3/klines?symbol=BTCUSDT&interval=5m", 400, -1194,
       "Invalid value for time unit; expected either MICROSECOND or MILLISECOND.", "SECOND"},
  };
  for (const ErrorCase& c : cases) {
    runtime::HttpHeaders headers;
    if (!c.time_unit.empty()) headers.add("X-MBX-TIME-UNIT", c.time_unit);
    auto response = get(sim, c.target, headers);
    EXPECT_EQ(response.status, c.status) << c.target << " -> " << response.body;
    EXPECT_EQ(response.content_type, "application/json;charset=UTF-8") << c.target;
    const auto error = parse_error_body(response.body);
    EXPECT_EQ(error.code, c.code) << c.target << " -> " << response.body;
    if (!c.msg.empty()) {
      EXPECT_EQ(error.msg, c.msg) << c.target;
    }
    EXPECT_GE(sf::testing::header_int(response, "X-MBX-USED-WEIGHT-1M"), 1) << c.target;
  }
  auto unknown = get(sim, "/api/v3/nosuchendpoint");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_TRUE(unknown.headers.contains("X-MBX-USED-WEIGHT-1M"));
  EXPECT_EQ(get(sim, "/nosuchpath").status, 404);
}

// trades, historicalTrades and depth need data the shared set only has as a WS capture: a
// fixture directory derived from it (see write_fixture_dir).
class ExchangeSimFixtureData : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::filesystem::exists(sf::testing::shared_data_dir() / "hftbacktest_ws_spot")) return;
    dir_ = new sf::testing::TempDir();
    fixture_ = new sf::testing::FixtureData(sf::testing::write_fixture_dir(dir_->path()));
    ExchangeSimOptions options;
    options.data_dir = dir_->path().string();
    auto started = ExchangeSim::start(options);
    ASSERT_TRUE(started.ok()) << started.error();
    sim_ = std::move(started).value().release();
  }
  static void TearDownTestSuite() {
    delete sim_;
    delete fixture_;
    delete dir_;
    sim_ = nullptr;
    fixture_ = nullptr;
    dir_ = nullptr;
  }
  void SetUp() override {
    SF_REQUIRE_SHARED_DATA("hftbacktest_ws_spot/btcusdt_20240808_first5000.frames.jsonl");
    ASSERT_NE(sim_, nullptr);
    sim_->reset_rate_limits();
  }

  static std::string expected_trades(std::size_t first, std::size_t last) {
    std::string out = "[";
    for (std::size_t i = first; i < last; ++i) {
      const auto& t = fixture_->trades[i];
      if (i > first) out += ',';
      out += "{\"id\":" + std::to_string(t.id) + ",\"price\":\"" + t.price + "\",\"qty\":\"" +
             t.qty + "\",\"quoteQty\":\"" + t.quote_qty +
             "\",\"time\":" + std::to_string(t.time_ms) +
             ",\"isBuyerMaker\":" + (t.buyer_maker ? "true" : "false") + ",\"isBestMatch\":true}";
    }
    return out + "]";
  }

  static inline sf::testing::TempDir* dir_ = nullptr;
  static inline sf::testing::FixtureData* fixture_ = nullptr;
  static inline ExchangeSim* sim_ = nullptr;
};

TEST_F(ExchangeSimFixtureData, TradesAreTheMostRecent) {
  const std::size_t n = fixture_->trades.size();
  auto response = get(*sim_, "/api/v3/trades?symbol=BTCUSDT&limit=10");
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.body, expected_trades(n - 10, n));
  EXPECT_EQ(sf::testing::header_int(response, "X-MBX-USED-WEIGHT-1M"), 25);
  // Default limit 500.
  EXPECT_EQ(get(*sim_, "/api/v3/trades?symbol=BTCUSDT").body, expected_trades(n - 500, n));
}

TEST_F(ExchangeSimFixtureData, HistoricalTradesFromId) {
  const std::size_t n = fixture_->trades.size();
  const std::int64_t first_id = fixture_->trades[0].id;
  EXPECT_EQ(get(*sim_, "/api/v3/historicalTrades?symbol=BTCUSDT&limit=50&fromId=" +
                           std::to_string(first_id + 100))
                .body,
            expected_trades(100, 150));
  EXPECT_EQ(get(*sim_, "/api/v3/historicalTrades?symbol=BTCUSDT&limit=7").body,
            expected_trades(n - 7, n));
  EXPECT_EQ(get(*sim_, "/api/v3/historicalTrades?symbol=BTCUSDT&fromId=1").body,
            expected_trades(0, 500));
}

TEST_F(ExchangeSimFixtureData, DepthFromTheRecordedSnapshot) {
  std::ifstream frames(sf::testing::shared_data_dir() / "hftbacktest_ws_spot" /
                       "btcusdt_20240808_first5000.frames.jsonl");
  std::string snapshot;
  for (int i = 0; i < 8; ++i) std::getline(frames, snapshot);
  simdjson::dom::parser parser;
  simdjson::dom::element source = parse_json(parser, snapshot);

  auto response = get(*sim_, "/api/v3/depth?symbol=BTCUSDT&limit=5");
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(sf::testing::header_int(response, "X-MBX-USED-WEIGHT-1M"), 5);
  simdjson::dom::parser served_parser;
  simdjson::dom::element served = parse_json(served_parser, response.body);
  EXPECT_EQ(served["lastUpdateId"].get_int64().value(), fixture_->depth_last_update_id);
  for (const char* side : {"bids", "asks"}) {
    simdjson::dom::array levels = served[side].get_array().value();
    ASSERT_EQ(levels.size(), 5u);
    for (std::size_t i = 0; i < 5; ++i) {
      EXPECT_EQ(levels.at(i).at(0).get_string().value(),
                source[side].at(i).at(0).get_string().value());
      EXPECT_EQ(levels.at(i).at(1).get_string().value(),
                source[side].at(i).at(1).get_string().value());
    }
  }
  // Default 100 levels; 5000 asks for more than the snapshot has (1000) and weighs 250.
  EXPECT_EQ(parse_json(served_parser, get(*sim_, "/api/v3/depth?symbol=BTCUSDT").body)["bids"]
                .get_array()
                .value()
                .size(),
            100u);
  sim_->reset_rate_limits();
  auto deep = get(*sim_, "/api/v3/depth?symbol=BTCUSDT&limit=5000");
  EXPECT_EQ(parse_json(served_parser, deep.body)["asks"].get_array().value().size(), 1000u);
  EXPECT_EQ(sf::testing::header_int(deep, "X-MBX-USED-WEIGHT-1M"), 250);
}

}  // namespace
}  // namespace sf::services::exchange_sim
