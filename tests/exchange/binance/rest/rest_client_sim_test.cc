// BinanceRestClient against the real exchange-sim (src/services/exchange_sim) serving the real
// Binance data in ../shared/data: lossless paging (rows byte-identical to the source CSVs),
// rate limits, bans, 5xx and truncated bodies, API errors and cancellation.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "exchange/binance/rest/rest_client.h"
#include "services/exchange_sim/exchange_sim.h"
#include "test_support.h"

namespace sf::binance {
namespace {

using services::exchange_sim::ExchangeSim;
using services::exchange_sim::ExchangeSimFaults;
using services::exchange_sim::ExchangeSimOptions;
using std::chrono::milliseconds;

constexpr const char* kKlinesFile = "klines_btcusdt_2020_htm/BTCUSDT-5m-2020-07-01_2020-07-11.csv";
constexpr const char* kAggTradesFile =
    "aggtrades_btcusdt_2026-01-01/BTCUSDT-aggTrades-2026-01-01_first5000.csv";
constexpr const char* kExchangeInfoFile = "rest_misc/exchangeInfo_BTCUSDT_2022-12-11.pretty.json";

const Symbol kBtcUsdt = *Symbol::parse("BTCUSDT");

// 2020-07-01 00:00 .. 2020-07-10 00:00 UTC: 9 days of 5m candles = 2,592.
constexpr TimestampUs kKlinesFrom = 1593561600000000;
constexpr TimestampUs kKlinesTo = 1594339200000000;
constexpr std::size_t kKlinesInRange = 2592;
// 2026-01-01 00:00 .. 2026-01-02 00:00 UTC (the file holds the day's first 5,000 rows).
constexpr TimestampUs kDayFrom = 1767225600000000;
constexpr TimestampUs kDayTo = 1767312000000000;

std::vector<std::string> read_lines(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

// The candle written back in the CSV's layout; equal strings mean every field is byte-identical.
std::string candle_csv(const Candle& c) {
  return std::to_string(micros_to_millis(c.open_time)) + "," + c.open.to_string() + "," +
         c.high.to_string() + "," + c.low.to_string() + "," + c.close.to_string() + "," +
         c.volume.to_string() + "," + std::to_string(micros_to_millis(c.close_time)) + "," +
         c.quote_asset_volume.to_string() + "," + std::to_string(c.number_of_trades) + "," +
         c.taker_buy_base_asset_volume.to_string() + "," +
         c.taker_buy_quote_asset_volume.to_string() + "," + c.ignore.to_string();
}

// data.binance.vision aggTrades layout (µs times, True/False).
std::string agg_trade_csv(const AggTrade& t) {
  return std::to_string(t.agg_trade_id) + "," + t.price.to_string() + "," + t.quantity.to_string() +
         "," + std::to_string(t.first_trade_id) + "," + std::to_string(t.last_trade_id) + "," +
         std::to_string(t.trade_time) + "," + (t.is_buyer_maker ? "True" : "False") + "," +
         (t.is_best_match.value_or(false) ? "True" : "False");
}

// The part of the shared data set these tests need, copied to a scratch directory so that the
// simulator indexes three files rather than everything.
class SimData {
 public:
  SimData() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "rest-client-test-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    for (const char* file : {kKlinesFile, kAggTradesFile, kExchangeInfoFile}) {
      std::filesystem::copy_file(sf::testing::shared_data_dir() / file,
                                 dir_ / std::filesystem::path(file).filename());
    }
  }
  ~SimData() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
};

std::unique_ptr<ExchangeSim> start_sim(const SimData& data, ExchangeSimOptions options = {}) {
  options.data_dir = data.dir().string();
  auto sim = ExchangeSim::start(options);
  if (!sim) throw std::runtime_error("exchange-sim did not start: " + sim.error());
  return std::move(sim).value();
}

class RestClientSim : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::filesystem::exists(sf::testing::shared_data_dir() / kKlinesFile) ||
        !std::filesystem::exists(sf::testing::shared_data_dir() / kAggTradesFile)) {
      return;  // each test skips itself
    }
    data_ = new SimData();
    sim_ = start_sim(*data_).release();
  }
  static void TearDownTestSuite() {
    delete sim_;
    sim_ = nullptr;
    delete data_;
    data_ = nullptr;
  }
  void SetUp() override {
    SF_REQUIRE_SHARED_DATA(kKlinesFile);
    SF_REQUIRE_SHARED_DATA(kAggTradesFile);
    ASSERT_NE(sim_, nullptr);
    sim_->clear_faults();
    sim_->reset_rate_limits();
  }

  // Fast retries so that fault tests stay short.
  static RestClientOptions options() {
    RestClientOptions options;
    options.base_url = sim_->rest_base_url();
    options.backoff = BackoffPolicy{.initial = milliseconds(10), .max = milliseconds(50)};
    options.jitter_seed = 7;
    return options;
  }
  static std::unique_ptr<BinanceRestClient> client(const RestClientOptions& options) {
    auto created = BinanceRestClient::create(options);
    if (!created) throw std::runtime_error(created.error().describe());
    return std::move(created).value();
  }

  static void expect_klines_match_csv(const std::vector<std::string>& got) {
    const auto csv = read_lines(sf::testing::shared_data_dir() / kKlinesFile);
    ASSERT_GE(csv.size(), kKlinesInRange);
    ASSERT_EQ(got.size(), kKlinesInRange);
    for (std::size_t i = 0; i < kKlinesInRange; ++i) {
      ASSERT_EQ(got[i], csv[i]) << "candle " << i;
    }
  }

  static SimData* data_;
  static ExchangeSim* sim_;
};

SimData* RestClientSim::data_ = nullptr;
ExchangeSim* RestClientSim::sim_ = nullptr;

TEST_F(RestClientSim, KlinesPageLosslesslyOverNineDays) {
  auto rest = client(options());
  std::vector<std::string> got;
  auto summary = rest->for_each_kline(kBtcUsdt, Interval::k5m, kKlinesFrom, kKlinesTo,
                                      [&](const Candle& candle) {
                                        got.push_back(candle_csv(candle));
                                        return true;
                                      });
  ASSERT_TRUE(summary.ok()) << summary.error().describe();
  EXPECT_EQ(summary->rows, static_cast<std::int64_t>(kKlinesInRange));
  EXPECT_EQ(summary->pages, 3) << "1000 + 1000 + 592";
  EXPECT_EQ(summary->last_key, kKlinesTo - 300'000'000);
  expect_klines_match_csv(got);
  EXPECT_EQ(rest->stats().requests, 3u);
  EXPECT_EQ(rest->stats().last_used_weight, 6) << "3 klines calls of weight 2";
}

TEST_F(RestClientSim, AggTradesPageByIdWithDenseIds) {
  auto opts = options();
  opts.microsecond_timestamps = true;  // the 2026 rows have µs times
  auto rest = client(opts);
  std::vector<std::string> got;
  auto summary = rest->for_each_agg_trade(kBtcUsdt, kDayFrom, kDayTo, [&](const AggTrade& trade) {
    got.push_back(agg_trade_csv(trade));
    return true;
  });
  ASSERT_TRUE(summary.ok()) << summary.error().describe();
  EXPECT_GE(summary->pages, 5);
  EXPECT_EQ(summary->rows, 5000);
  EXPECT_EQ(summary->last_key, 3800402494);
  const auto csv = read_lines(sf::testing::shared_data_dir() / kAggTradesFile);
  ASSERT_EQ(csv.size(), 5000u);
  ASSERT_EQ(got.size(), csv.size());
  for (std::size_t i = 0; i < csv.size(); ++i) ASSERT_EQ(got[i], csv[i]) << "row " << i;

  // The same rows by id, from the middle, up to a time bound.
  std::vector<std::int64_t> ids;
  auto tail = rest->for_each_agg_trade_from_id(kBtcUsdt, 3800401000, std::nullopt,
                                               [&](const AggTrade& trade) {
                                                 ids.push_back(trade.agg_trade_id);
                                                 return true;
                                               });
  ASSERT_TRUE(tail.ok()) << tail.error().describe();
  ASSERT_EQ(ids.size(), 1495u);
  EXPECT_EQ(ids.front(), 3800401000);
  EXPECT_EQ(ids.back(), 3800402494);
  EXPECT_EQ(tail->pages, 2) << "1000, then a short page: caught up";
}

TEST_F(RestClientSim, RateLimitStormIsWaitedOutWithinTheWeightBudget) {
  // A simulator enforcing 100 weight per 2 s window; the client budgets 80 of it, pages 50
  // candles at a time (52 klines calls = 104 weight: at least one window wait) and meets a
  // storm of three injected 429s (Retry-After: 1).
  ExchangeSimOptions sim_options;
  sim_options.weight_limit = 100;
  sim_options.weight_window = milliseconds(2000);
  sim_options.faults.fail_429_after = 10;
  sim_options.faults.fail_429_count = 3;
  sim_options.faults.retry_after_s = 1;
  auto limited_sim = start_sim(*data_, sim_options);

  auto opts = options();
  opts.base_url = limited_sim->rest_base_url();
  opts.weight_budget = 80;
  opts.weight_window = milliseconds(2000);
  opts.page_limit = 50;
  auto rest = client(opts);
  std::vector<std::string> got;
  auto summary = rest->for_each_kline(kBtcUsdt, Interval::k5m, kKlinesFrom, kKlinesTo,
                                      [&](const Candle& candle) {
                                        got.push_back(candle_csv(candle));
                                        return true;
                                      });
  ASSERT_TRUE(summary.ok()) << summary.error().describe();
  expect_klines_match_csv(got);

  const RestClientStats stats = rest->stats();
  const auto sim_stats = limited_sim->stats();
  EXPECT_EQ(sim_stats.injected_429, 3u);
  EXPECT_EQ(sim_stats.weight_limited, 0u) << "the budget kept the client under the limit";
  EXPECT_EQ(stats.rate_limited, 3u);
  EXPECT_GE(stats.weight_waits, 1u);
  EXPECT_LE(stats.max_used_weight, 80)
      << "weight waits " << stats.weight_waits << ", requests " << stats.requests;
  EXPECT_EQ(stats.requests, static_cast<std::uint64_t>(summary->pages) + 3);
}

TEST_F(RestClientSim, ServerErrorsAndTruncatedBodiesAreRetried) {
  ExchangeSimFaults faults;
  faults.error_5xx_rate = 0.2;
  faults.truncate_rate = 0.2;
  faults.seed = 11;
  sim_->set_faults(faults);
  auto opts = options();
  opts.max_retries = 10;
  opts.page_limit = 500;
  auto rest = client(opts);
  std::vector<std::string> got;
  auto summary = rest->for_each_kline(kBtcUsdt, Interval::k5m, kKlinesFrom, kKlinesTo,
                                      [&](const Candle& candle) {
                                        got.push_back(candle_csv(candle));
                                        return true;
                                      });
  ASSERT_TRUE(summary.ok()) << summary.error().describe();
  expect_klines_match_csv(got);
  const auto sim_stats = sim_->stats();
  EXPECT_GT(sim_stats.injected_5xx, 0u);
  EXPECT_GT(sim_stats.truncated, 0u);
  const RestClientStats stats = rest->stats();
  EXPECT_EQ(stats.transient_failures, sim_stats.injected_5xx + sim_stats.truncated);
  EXPECT_EQ(stats.retries, stats.transient_failures);
}

TEST_F(RestClientSim, BanEndsTheCallWithItsRetryAfter) {
  sim_->set_retry_after(60);
  sim_->fail_418_after(0);
  auto rest = client(options());
  auto candles = rest->klines(kBtcUsdt, Interval::k5m, kKlinesFrom, std::nullopt, 10);
  ASSERT_FALSE(candles.ok());
  EXPECT_EQ(candles.error().code, RestErrc::kBanned);
  EXPECT_EQ(candles.error().http_status, 418);
  EXPECT_EQ(candles.error().retry_after, std::chrono::seconds(60));
  EXPECT_EQ(candles.error().api_code, -1003);
  EXPECT_EQ(rest->stats().requests, 1u);
}

TEST_F(RestClientSim, InvalidSymbolIsAnApiErrorNotRetried) {
  auto rest = client(options());
  auto candles =
      rest->klines(*Symbol::parse("NOSUCHPAIR"), Interval::k5m, std::nullopt, std::nullopt, 10);
  ASSERT_FALSE(candles.ok());
  EXPECT_EQ(candles.error().code, RestErrc::kApiError);
  EXPECT_EQ(candles.error().api_code, -1121);
  EXPECT_EQ(candles.error().api_message, "Invalid symbol.");
  EXPECT_EQ(rest->stats().requests, 1u);
  EXPECT_EQ(rest->stats().retries, 0u);
}

TEST_F(RestClientSim, CancelStopsARetryAfterWaitWithinASecond) {
  sim_->set_retry_after(30);
  sim_->fail_429_after(0, 1000);
  auto rest = client(options());
  std::thread canceller([&] {
    std::this_thread::sleep_for(milliseconds(300));
    rest->cancel();
  });
  const auto started = std::chrono::steady_clock::now();
  auto summary = rest->for_each_kline(kBtcUsdt, Interval::k5m, kKlinesFrom, kKlinesTo,
                                      [](const Candle&) { return true; });
  const auto took = std::chrono::steady_clock::now() - started;
  canceller.join();
  ASSERT_FALSE(summary.ok());
  EXPECT_EQ(summary.error().code, RestErrc::kCancelled);
  EXPECT_LT(took, milliseconds(1300)) << "300 ms until cancel() plus under a second";
  EXPECT_EQ(rest->stats().rate_limited, 1u);
}

TEST_F(RestClientSim, SlowResponsesTimeOutAndAreRetried) {
  sim_->set_slow_ms(400);
  auto opts = options();
  opts.request_timeout = milliseconds(150);
  opts.max_retries = 1;
  auto rest = client(opts);
  auto time = rest->server_time();
  ASSERT_FALSE(time.ok());
  EXPECT_EQ(time.error().code, RestErrc::kTimeout);
  EXPECT_EQ(time.error().attempts, 2);

  opts.request_timeout = milliseconds(3000);
  auto patient = client(opts);
  auto later = patient->server_time();
  ASSERT_TRUE(later.ok()) << later.error().describe();
}

TEST_F(RestClientSim, OtherEndpoints) {
  auto rest = client(options());
  auto time = rest->server_time();
  ASSERT_TRUE(time.ok()) << time.error().describe();
  EXPECT_LT(std::abs(*time - now_micros()), 5'000'000);
  EXPECT_LT(std::abs(rest->clock_offset().count()), 1000);

  const Symbol symbols[] = {kBtcUsdt};
  auto info = rest->exchange_info(symbols);
  ASSERT_TRUE(info.ok()) << info.error().describe();
  ASSERT_EQ(info->symbols.size(), 1u);
  EXPECT_EQ(info->symbols[0].symbol, kBtcUsdt);
  EXPECT_EQ(info->symbols[0].tick_size.to_string(), "0.01000000");
  // A symbols=[...] list reaches the server intact: the unknown one is named by -1121.
  const Symbol two[] = {kBtcUsdt, *Symbol::parse("NOSUCHPAIR")};
  auto unknown = rest->exchange_info(two);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().api_code, -1121);

  auto book = rest->depth(kBtcUsdt, 500);
  ASSERT_TRUE(book.ok()) << book.error().describe();
  EXPECT_EQ(book->symbol, kBtcUsdt);

  auto trades = rest->trades(kBtcUsdt, 10);
  ASSERT_TRUE(trades.ok()) << trades.error().describe();
  auto historical = rest->historical_trades(kBtcUsdt, 1, 10);
  ASSERT_TRUE(historical.ok()) << historical.error().describe();

  auto page = rest->agg_trades(kBtcUsdt, 3800397495, std::nullopt, std::nullopt, 3);
  ASSERT_TRUE(page.ok()) << page.error().describe();
  ASSERT_EQ(page->size(), 3u);
  EXPECT_EQ((*page)[2].agg_trade_id, 3800397497);
  EXPECT_EQ((*page)[0].trade_time, 1767225600039000) << "ms unless µs are asked for";

  // 1 + 20 + 20 + 25 + 25 + 25 + 4: the server's count, read from its header.
  EXPECT_EQ(rest->stats().last_used_weight, 120);
  EXPECT_EQ(rest->stats().connections, 1u);
}

}  // namespace
}  // namespace sf::binance
