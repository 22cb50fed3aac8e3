// loader-producer end to end on the in-process bus: REST through the real exchange-sim over
// ../shared/data, and bulk files from a local data.binance.vision mirror built from the same data.
#include "services/loader_producer/loader_producer.h"

#include <gtest/gtest.h>

#include <future>
#include <map>
#include <set>

#include "bus/inproc_bus.h"
#include "exchange/binance/vision/mirror_support.h"
#include "services/exchange_sim/exchange_sim.h"
#include "test_support.h"
#include "tools/normalize.h"

namespace sf::services {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr const char* kKlines5m = "klines_btcusdt_2020_htm/BTCUSDT-5m-2020-07-01_2020-07-11.csv";
constexpr const char* kAggTrades = "aggtrades_btcusdt_2026-01-01/BTCUSDT-aggTrades-2026-01-01_first5000.csv";

// What normalize makes of the source rows: the records a faithful loader must publish.
std::vector<std::string> expected_records(const char* relative, TimestampUs from, TimestampUs to) {
  std::vector<std::string> out;
  tools::Normalizer n(
      [&](std::string_view record, const MarketEvent* e) {
        TimestampUs t = 0;
        if (auto* c = std::get_if<Candle>(e)) t = c->open_time;
        if (auto* a = std::get_if<AggTrade>(e)) t = a->trade_time;
        if (t >= from && t < to) out.emplace_back(record);
      },
      [](std::string_view m) { ADD_FAILURE() << m; });
  auto path = sf::testing::shared_data_dir() / relative;
  n.set_hints(tools::hints_from_filename(path.string()));
  std::string error;
  std::uint64_t line = 0;
  EXPECT_TRUE(tools::for_each_line(path.string(), [&](std::string_view l) { n.line(l, ++line); }, &error));
  return out;
}

TimestampUs day(const char* text) {
  TimestampUs t = 0;
  EXPECT_TRUE(parse_date(text, &t));
  return t;
}

struct Loaded {
  int exit_code = -1;
  runtime::Outcome outcome{};
  std::vector<std::string> records;
  std::vector<TelemetryEvent> telemetry;
};

class LoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SF_REQUIRE_SHARED_DATA(kKlines5m);
    services::exchange_sim::ExchangeSimOptions o;
    o.data_dir = sf::testing::shared_data_dir().string();
    auto sim = services::exchange_sim::ExchangeSim::start(o);
    ASSERT_TRUE(sim.ok()) << sim.error();
    sim_ = std::move(sim).value();
  }

  LoaderOptions options(const std::string& type, const std::string& range, std::size_t batch = 5000) {
    auto plan = make_load_plan(type, "BTCUSDT", range, "");
    EXPECT_TRUE(plan.ok()) << plan.error();
    LoaderOptions o;
    o.plan = *plan;
    o.topic = "data-" + type;
    o.rest.base_url = sim_->rest_base_url();
    o.rest.default_retry_after = std::chrono::seconds(1);
    o.batch_records = batch;
    return o;
  }

  runtime::WorkerSettings settings(const std::string& queue_id, const std::string& type) {
    runtime::WorkerSettings s;
    s.service = "loader-producer";
    s.queue_id = queue_id;
    s.type = type;
    s.symbol = "BTCUSDT";
    s.telemetry_interval = 200ms;
    return s;
  }

  // Everything on a topic so far.
  std::vector<std::string> read_topic(const std::string& topic) {
    auto c = bus_.subscribe({.topics = {topic}, .group = "reader-" + runtime::short_id(), .start = bus::StartFrom::kEarliest, .offsets = {}});
    EXPECT_TRUE(c.ok());
    std::vector<std::string> out;
    for (;;) {
      auto b = (*c)->poll(100ms, 100000);
      if (!b || b->empty()) break;
      for (auto& m : *b) {
        EXPECT_EQ(m.key, "BTCUSDT");
        out.push_back(std::move(m.value));
      }
    }
    (*c)->close();
    return out;
  }

  Loaded load(const LoaderOptions& o, const std::string& queue_id) {
    runtime::Worker w(bus_, settings(queue_id, o.plan.source == LoadSource::kRest ? "api" : "vision"));
    Loaded out;
    out.exit_code = w.run(loader_body(o));
    out.outcome = w.outcome();
    out.records = read_topic(o.topic);
    return out;
  }

  bus::InProcBus bus_;
  std::unique_ptr<services::exchange_sim::ExchangeSim> sim_;
};

TEST_F(LoaderTest, RestCandlesArriveExactlyAndInOrder) {
  auto o = options("api_candles_5m", "2020-07-01:2020-07-10");
  auto got = load(o, "q-candles");
  EXPECT_EQ(got.exit_code, 0);
  auto want = expected_records(kKlines5m, day("2020-07-01"), day("2020-07-10"));
  ASSERT_EQ(want.size(), 2592u);
  ASSERT_EQ(got.records.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) ASSERT_EQ(got.records[i], want[i]) << "record " << i;
}

TEST_F(LoaderTest, RestAggTradesArriveDenseAcrossFivePages) {
  auto o = options("api_trades", "2026-01-01:2026-01-02");
  o.rest.page_limit = 1000;
  auto before = sim_->stats().requests;
  auto got = load(o, "q-agg");
  EXPECT_EQ(got.exit_code, 0);
  auto want = expected_records(kAggTrades, day("2026-01-01"), day("2026-01-02"));
  ASSERT_EQ(want.size(), 5000u);
  EXPECT_EQ(got.records, want);
  EXPECT_GE(sim_->stats().requests - before, 5u);
}

TEST_F(LoaderTest, VisionMirrorGivesTheSameRecordsAsRest) {
  // A mirror in Binance's layout: daily zips of the 5m CSV and of the aggTrades sample.
  fs::path root = fs::temp_directory_path() / ("sf_loader_mirror_" + std::to_string(::getpid()));
  fs::remove_all(root);
  std::map<std::string, std::string> by_day;
  std::string error;
  ASSERT_TRUE(tools::for_each_line((sf::testing::shared_data_dir() / kKlines5m).string(), [&](std::string_view l) {
    std::string line(l);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    by_day[format_iso8601(std::stoll(line.substr(0, line.find(','))) * 1000).substr(0, 10)] += line + "\n";
  }, &error));
  for (const auto& [d, rows] : by_day) {
    auto zip = root / "data/spot/daily/klines/BTCUSDT/5m" / ("BTCUSDT-5m-" + d + ".zip");
    sf::testing::write_zip(zip, rows);
    sf::testing::write_checksum(zip);
  }
  std::string agg;
  ASSERT_TRUE(tools::for_each_line((sf::testing::shared_data_dir() / kAggTrades).string(),
                                   [&](std::string_view l) { agg += std::string(l) + "\n"; }, &error));
  sf::testing::write_zip(root / "data/spot/daily/aggTrades/BTCUSDT/BTCUSDT-aggTrades-2026-01-01.zip", agg);

  auto rest = load(options("api_candles_5m", "2020-07-01:2020-07-10"), "q-rest");
  auto vo = options("vision_candles_5m", "2020-07-01:2020-07-10");
  vo.vision.base_url = root.string();
  auto vision = load(vo, "q-vision");
  EXPECT_EQ(vision.exit_code, 0);
  EXPECT_EQ(vision.records, rest.records);

  auto rest_agg = load(options("api_trades", "2026-01-01:2026-01-02"), "q-rest-agg");
  auto va = options("vision_agg_trades", "2026-01-01:2026-01-02");
  va.vision.base_url = "file://" + root.string();
  auto vision_agg = load(va, "q-vision-agg");
  EXPECT_EQ(vision_agg.records, rest_agg.records);
  EXPECT_EQ(vision_agg.records.size(), 5000u);
  fs::remove_all(root);
}

TEST_F(LoaderTest, StopEndsAsInterruptedWithinASecond) {
  sim_->set_slow_ms(200);  // every page takes a while
  auto o = options("api_trades", "2026-01-01:2026-01-02");
  o.rest.page_limit = 100;
  runtime::Worker w(bus_, settings("q-stop", "api_trades"));
  auto done = std::async(std::launch::async, [&] { return w.run(loader_body(o)); });
  std::this_thread::sleep_for(700ms);
  auto t0 = std::chrono::steady_clock::now();
  w.request_stop("stop command");
  ASSERT_EQ(done.wait_for(2s), std::future_status::ready);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  EXPECT_EQ(done.get(), 0);
  EXPECT_EQ(w.outcome(), runtime::Outcome::kInterrupted);
}

TEST_F(LoaderTest, BanEndsWithErrorAndExitCodeOne) {
  sim_->fail_418_after(1);
  auto got = load(options("api_trades", "2026-01-01:2026-01-02"), "q-ban");
  EXPECT_EQ(got.exit_code, 1);
  EXPECT_EQ(got.outcome, runtime::Outcome::kError);
}

// A loader stopped half-way resumes from its checkpoint: every id once at least, no gap, and
// repeats only from the one unconfirmed batch.
TEST_F(LoaderTest, RestartResumesWithoutGap) {
  auto o = options("api_trades", "2026-01-01:2026-01-02", /*batch=*/500);
  o.rest.page_limit = 500;
  sim_->set_slow_ms(30);
  {
    runtime::Worker w(bus_, settings("q-resume", "api_trades"));
    auto done = std::async(std::launch::async, [&] { return w.run(loader_body(o)); });
    while (read_topic(o.topic).size() < 1500) std::this_thread::sleep_for(20ms);
    w.request_stop("simulated crash");
    done.get();
  }
  sim_->set_slow_ms(0);
  auto second = load(o, "q-resume");
  EXPECT_EQ(second.exit_code, 0);
  std::set<std::string> unique(second.records.begin(), second.records.end());
  auto want = expected_records(kAggTrades, day("2026-01-01"), day("2026-01-02"));
  EXPECT_EQ(unique, std::set<std::string>(want.begin(), want.end()));
  EXPECT_LE(second.records.size() - unique.size(), 500u);
  // A third run finds the finished checkpoint and publishes nothing.
  auto third = load(o, "q-resume");
  EXPECT_EQ(third.exit_code, 0);
  EXPECT_EQ(third.records.size(), second.records.size());
}

TEST(LoadPlan, ParsesTypesAndRejectsBadOnes) {
  auto p = make_load_plan("api_candles_5m", "btcusdt", "2020-07-01:2020-07-10", "");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->interval, Interval::k5m);
  EXPECT_EQ(p->to - p->from, 9 * 86'400'000'000LL);  // the end date is exclusive
  EXPECT_TRUE(make_load_plan("api_candles", "BTCUSDT", "2020-07-01:2020-07-02", "1h").ok());
  EXPECT_FALSE(make_load_plan("api_candles_7m", "BTCUSDT", "2020-07-01:2020-07-02", "").ok());
  EXPECT_FALSE(make_load_plan("ws_trades", "BTCUSDT", "2020-07-01:2020-07-02", "").ok());
  EXPECT_FALSE(make_load_plan("api_trades", "BTCUSDT", "2020-07-02:2020-07-01", "").ok());
  EXPECT_FALSE(make_load_plan("api_trades", "BTCUSDT", "2020-07-01", "").ok());
  EXPECT_FALSE(make_load_plan("api_trades", "BTC USDT", "2020-07-01:2020-07-02", "").ok());
}

}  // namespace
}  // namespace sf::services
