// indicator-calculator on the in-process bus: recorded trades -> 1m candles and indicators equal
// to the library's, candle roll-up input equal to Binance's own coarser klines, bad records
// counted and skipped, a bad INDICATORS_CONFIG fails the worker.
#include "services/indicator_calculator/indicator_calculator.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <fstream>

#include "analytics/indicators.h"
#include "bus/inproc_bus.h"
#include "core/wire.h"
#include "core/wire_decode.h"
#include "exchange/binance/parse.h"
#include "test_support.h"

namespace sf::services {
namespace {

using namespace std::chrono_literals;

runtime::WorkerSettings settings(const std::string& queue_id) {
  runtime::WorkerSettings s;
  s.service = "indicator-calculator";
  s.queue_id = queue_id;
  s.producer = "indicator-calculator__" + queue_id;
  s.telemetry_interval = 200ms;
  return s;
}

std::vector<bus::Message> read_all(bus::Bus& bus, const std::string& topic) {
  auto c = bus.subscribe({.topics = {topic},
                          .group = "reader-" + runtime::short_id(),
                          .start = bus::StartFrom::kEarliest,
                          .offsets = {}});
  EXPECT_TRUE(c.ok());
  std::vector<bus::Message> out;
  for (;;) {
    auto b = (*c)->poll(50ms, 100000);
    if (!b || b->empty()) break;
    for (auto& m : *b) out.push_back(std::move(m));
  }
  (*c)->close();
  return out;
}

std::string csv(const Candle& c) {
  std::string s;
  analytics::append_kline_csv(c, s);
  return s;
}

std::vector<Trade> capture_trades() {
  std::vector<Trade> out;
  binance::Parser parser;
  for (const char* f : {"btcusdt_20240808.gz", "btcusdt_20240809.gz"}) {
    gzFile gz = gzopen((testing::shared_data_dir() / "hftbacktest_ws_spot" / f).c_str(), "rb");
    if (!gz) continue;
    std::string line;
    char buf[1 << 16];
    while (gzgets(gz, buf, sizeof buf)) {
      line += buf;
      if (line.back() != '\n') continue;
      if (line.find("@trade") != std::string::npos) {
        auto ev = parser.parse_ws_frame(std::string_view(line).substr(line.find(' ') + 1), 0);
        if (ev) out.push_back(std::get<Trade>(*ev));
      }
      line.clear();
    }
    gzclose(gz);
  }
  return out;
}

TEST(IndicatorCalculator, RecordedTradesToCandlesAndIndicatorsEqualTheLibrary) {
  SF_REQUIRE_SHARED_DATA("hftbacktest_ws_spot/btcusdt_20240809.gz");
  const auto trades = capture_trades();
  ASSERT_EQ(trades.size(), 19'904u);
  bus::InProcBus bus;
  std::string rec;
  for (std::size_t i = 0; i < trades.size(); ++i) {
    rec.clear();
    wire::encode(trades[i], rec);
    ASSERT_TRUE(bus.publish("btc-trades", "BTCUSDT", rec).ok());
    if (i == 100) {
      ASSERT_TRUE(bus.publish("btc-trades", "BTCUSDT", "{not json").ok());
    }
  }
  const std::string config = R"([{"name":"sma","params":{"period":3}},{"name":"obv"}])";
  CalculatorOptions o;
  o.topics = {"btc-trades"};
  o.group = "calc-test";
  o.interval = Interval::k1m;
  o.indicators_config = config;
  o.finish_at_end_of_topic = true;
  CalculatorStats stats;
  runtime::Worker worker(bus, settings("q-calc"));
  EXPECT_EQ(worker.run(calculator_body(o, &stats)), 0);
  EXPECT_EQ(worker.outcome(), runtime::Outcome::kFinished);
  EXPECT_EQ(stats.consumed.load(), 19'905);
  EXPECT_EQ(stats.bad_records.load(), 1);
  // The bad record is in the dead-letter topic with its reason and position.
  auto dlq = bus.subscribe({.topics = {"btc-trades.dlq"},
                            .group = "dlq-check",
                            .start = bus::StartFrom::kEarliest,
                            .offsets = {}});
  ASSERT_TRUE(dlq.ok());
  auto dead = (*dlq)->poll(std::chrono::milliseconds(500));
  ASSERT_TRUE(dead.ok());
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_NE((*dead)[0].value.find(R"("source_offset":101)"), std::string::npos) << (*dead)[0].value;
  EXPECT_NE((*dead)[0].value.find(R"("reason":"malformed_json)"), std::string::npos)
      << (*dead)[0].value;

  // The expected output: the library run directly over the same trades.
  std::vector<Candle> want;
  analytics::TradeCandleAggregator agg({.symbol = trades[0].symbol, .interval = Interval::k1m},
                                       [&](const Candle& c) { want.push_back(c); });
  for (const auto& t : trades) ASSERT_TRUE(agg.add(t));
  agg.flush();
  ASSERT_EQ(want.size(), 12u);

  auto candles = read_all(bus, "btcusdt-candles-1m");
  ASSERT_EQ(candles.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(candles[i].key, "BTCUSDT");
    auto d = wire::decode(candles[i].value);
    ASSERT_TRUE(d) << candles[i].value;
    const auto& c = std::get<Candle>(*d->event);
    EXPECT_EQ(csv(c), csv(want[i]));
    EXPECT_EQ(c.is_closed, i + 1 < want.size()) << "only the last (end of input) is open";
    EXPECT_EQ(c.first_trade_id, want[i].first_trade_id);
  }

  auto set = analytics::IndicatorSet::from_json(config);
  ASSERT_TRUE(set);
  std::vector<IndicatorValue> expected;
  for (std::size_t i = 0; i + 1 < want.size(); ++i) {  // closed candles only
    auto v = set->update(want[i]);
    for (std::size_t k = 0; k < v.size(); ++k)
      if (!std::isnan(v[k]))
        expected.push_back({.symbol = want[i].symbol,
                            .interval = Interval::k1m,
                            .name = set->columns()[k],
                            .open_time = want[i].open_time,
                            .value = v[k]});
  }
  ASSERT_EQ(expected.size(), 11u + 9u);  // obv for all 11 closed, sma_3 from the third
  auto indicators = read_all(bus, "btcusdt-indicators-1m");
  ASSERT_EQ(indicators.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    auto d = wire::decode(indicators[i].value);
    ASSERT_TRUE(d && d->indicator) << indicators[i].value;
    EXPECT_EQ(d->indicator->name, expected[i].name);
    EXPECT_EQ(d->indicator->open_time, expected[i].open_time);
    EXPECT_EQ(d->indicator->value, expected[i].value) << expected[i].name;
  }
}

TEST(IndicatorCalculator, FiveMinuteCandlesRollUpToBinancesFifteenMinuteKlines) {
  const std::string dir = "klines_btcusdt_2020_htm";
  SF_REQUIRE_SHARED_DATA(dir + "/BTCUSDT-5m-2020-07-01_2020-07-11.csv");
  bus::InProcBus bus;
  const auto btc = *Symbol::parse("BTCUSDT");
  std::ifstream in(testing::shared_data_dir() / dir / "BTCUSDT-5m-2020-07-01_2020-07-11.csv");
  std::string line, rec;
  int n = 0;
  while (std::getline(in, line) && n < 288) {  // 2020-07-01
    auto c = binance::parse_kline_csv(line, btc, Interval::k5m);
    ASSERT_TRUE(c);
    rec.clear();
    wire::encode(*c, rec);
    ASSERT_TRUE(bus.publish("btc-5m", "BTCUSDT", rec).ok());
    ++n;
  }
  CalculatorOptions o;
  o.topics = {"btc-5m"};
  o.group = "calc-5m";
  o.interval = Interval::k15m;
  o.indicators_config = R"([{"name":"rsi"}])";
  o.candles_topic = "out-candles";
  o.indicators_topic = "out-indicators";
  o.finish_at_end_of_topic = true;
  CalculatorStats stats;
  runtime::Worker worker(bus, settings("q-5m"));
  EXPECT_EQ(worker.run(calculator_body(o, &stats)), 0);
  auto out = read_all(bus, "out-candles");
  ASSERT_EQ(out.size(), 96u);  // each closes when its third 5m bar arrives
  std::ifstream ref(testing::shared_data_dir() / dir / "BTCUSDT-15m-2020-01-01_2020-07-12.csv");
  std::map<std::string, std::string> binance;
  while (std::getline(ref, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    binance[line.substr(0, line.find(','))] = line;
  }
  for (const auto& m : out) {
    auto d = wire::decode(m.value);
    ASSERT_TRUE(d);
    const auto& c = std::get<Candle>(*d->event);
    EXPECT_TRUE(c.is_closed);
    const std::string row = csv(c);
    EXPECT_EQ(row, binance[row.substr(0, row.find(','))]);
  }
  EXPECT_EQ(read_all(bus, "out-indicators").size(), 96u - 14u);  // RSI(14) from the 15th bar
}

TEST(IndicatorCalculator, ABadIndicatorsConfigIsAnError) {
  bus::InProcBus bus;
  CalculatorOptions o;
  o.topics = {"t"};
  o.group = "g";
  o.indicators_config = R"([{"name":"nope"}])";
  runtime::Worker worker(bus, settings("q-bad"));
  EXPECT_EQ(worker.run(calculator_body(o)), 1);
  EXPECT_EQ(worker.outcome(), runtime::Outcome::kError);
}

}  // namespace
}  // namespace sf::services
