// The dashboard's history REST on the platform: the newest `limit` candles of a range, in time
// order and byte-for-byte the bus records, equal to what the store holds (real Binance klines);
// bad parameters are 400s naming them; an empty range is an empty list, an unknown symbol a 404.
#include "services/visualizer/history_api.h"

#include <gtest/gtest.h>
#include <simdjson.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/wire.h"
#include "exchange/binance/parse.h"
#include "runtime/http_client.h"
#include "services/visualizer/visualizer_test_support.h"
#include "test_support.h"

namespace sf::services::visualizer {
namespace {

using namespace std::chrono_literals;

TEST(HistoryApi, CandlesOfARangeAreTheNewestLimitInTimeOrder) {
  SF_REQUIRE_SHARED_DATA("klines_btcusdt_2020_htm/BTCUSDT-5m-2020-07-01_2020-07-11.csv");
  TestPlatform platform("history");
  ASSERT_TRUE(platform.ok()) << platform.error();
  auto& p = *platform;

  const Symbol btc = *Symbol::parse("BTCUSDT");
  std::ifstream in(sf::testing::shared_data_dir() /
                   "klines_btcusdt_2020_htm/BTCUSDT-5m-2020-07-01_2020-07-11.csv");
  std::vector<Candle> candles;
  std::string line;
  while (std::getline(in, line) && candles.size() < 600)
    if (auto c = binance::parse_kline_csv(line, btc, Interval::k5m)) candles.push_back(*c);
  ASSERT_EQ(candles.size(), 600u);
  ASSERT_TRUE(p.store().upsert_candles(candles).ok());

  auto get = [&](const std::string& query) {
    auto r =
        runtime::http_request("GET", p.base_url() + "/api/v1/history/candles" + query, "", {}, 10s);
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : runtime::HttpResponse{};
  };
  // 2020-07-01 holds 288 five-minute candles; the newest 100 of them, oldest first.
  auto r = get("?symbol=BTCUSDT&interval=5m&from=2020-07-01&to=2020-07-02&limit=100");
  ASSERT_EQ(r.status, 200) << r.body;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(r.body).get(doc), simdjson::SUCCESS) << r.body.substr(0, 300);
  EXPECT_EQ(std::int64_t(doc["count"]), 100);
  simdjson::dom::array records = doc["records"];
  ASSERT_EQ(records.size(), 100u);
  std::size_t i = 188;  // candles[188..287]
  for (auto rec : records) {
    std::string expected;
    wire::encode(candles[i++], expected);
    EXPECT_EQ(simdjson::minify(rec), expected);
  }
  // Milliseconds work as well as dates; a range with nothing is an empty list.
  auto ms = get("?symbol=BTCUSDT&interval=5m&from=1593561600000&to=1593562200000");
  EXPECT_NE(ms.body.find(R"("count":2)"), std::string::npos) << ms.body;
  // A symbol the store knows (here: it has candles) with nothing in the range: an empty list.
  auto quiet = get("?symbol=BTCUSDT&interval=5m&from=2021-07-01&to=2021-07-02");
  EXPECT_EQ(quiet.status, 200);
  EXPECT_EQ(quiet.body, R"({"symbol":"BTCUSDT","count":0,"records":[]})");
  // One it does not know: 404 naming it, for every history route.
  for (const std::string route : {"candles?interval=5m&", "trades?", "agg-trades?",
                                  "indicators?interval=5m&name=rsi_14&", "book?"}) {
    auto r = runtime::http_request(
        "GET", p.base_url() + "/api/v1/history/" + route + "symbol=ETHUSDT", "", {}, 10s);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 404) << route << " -> " << r->body;
    EXPECT_NE(r->body.find(R"("symbol":"ETHUSDT")"), std::string::npos) << r->body;
  }
  // ... until a workflow is started for it (a live one that has not persisted anything yet).
  ASSERT_TRUE(
      p.store()
          .upsert_workflow(WorkflowState{
              .queue_id = "realtime-monitor-eth",
              .status = "running",
              .definition = R"({"template":"realtime-monitor","params":{"symbol":"ETHUSDT"}})",
              .created_at = 1,
              .updated_at = 1})
          .ok());
  auto none = get("?symbol=ETHUSDT&interval=5m&from=2020-07-01&to=2020-07-02");
  EXPECT_EQ(none.status, 200);
  EXPECT_EQ(none.body, R"({"symbol":"ETHUSDT","count":0,"records":[]})");
  // Bad parameters: 400 naming them.
  for (const auto& [query, field] : std::vector<std::pair<std::string, std::string>>{
           {"?interval=5m", "symbol"},
           {"?symbol=BTC%20USDT&interval=5m", "symbol"},
           {"?symbol=BTCUSDT", "interval"},
           {"?symbol=BTCUSDT&interval=7m", "interval"},
           {"?symbol=BTCUSDT&interval=5m&from=yesterday", "from"},
           {"?symbol=BTCUSDT&interval=5m&from=2020-07-02&to=2020-07-01", "from"},
           {"?symbol=BTCUSDT&interval=5m&limit=0", "limit"},
           {"?symbol=BTCUSDT&interval=5m&limit=5001", "limit"},
           {"?symbol=BTCUSDT&interval=5m&colour=red", "colour"}}) {
    auto bad = get(query);
    EXPECT_EQ(bad.status, 400) << query << " -> " << bad.body;
    EXPECT_NE(bad.body.find("\"" + field + "\""), std::string::npos) << query << " -> " << bad.body;
  }
  auto ind = runtime::http_request(
      "GET", p.base_url() + "/api/v1/history/indicators?symbol=BTCUSDT&interval=5m", "", {}, 10s);
  ASSERT_TRUE(ind.ok());
  EXPECT_EQ(ind->status, 400);  // name is required
  auto trades = runtime::http_request(
      "GET", p.base_url() + "/api/v1/history/agg-trades?symbol=BTCUSDT&from=2020-07-01", "", {},
      10s);
  ASSERT_TRUE(trades.ok());
  EXPECT_EQ(trades->status, 200) << trades->body;
}

}  // namespace
}  // namespace sf::services::visualizer
