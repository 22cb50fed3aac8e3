// The REST client's pure pieces: weights, query strings, backoff, header parsing, the weight
// budget and base URLs. No server needed.
#include "exchange/binance/rest/rest_policy.h"

#include <gtest/gtest.h>

#include "exchange/binance/rest/transport.h"

namespace sf::binance {
namespace {

using std::chrono::milliseconds;

TEST(RestPolicy, RequestWeightsAreBinances) {
  EXPECT_EQ(request_weight(RestEndpoint::kKlines), 2);
  EXPECT_EQ(request_weight(RestEndpoint::kAggTrades), 4);
  EXPECT_EQ(request_weight(RestEndpoint::kTrades), 25);
  EXPECT_EQ(request_weight(RestEndpoint::kHistoricalTrades), 25);
  EXPECT_EQ(request_weight(RestEndpoint::kExchangeInfo), 20);
  EXPECT_EQ(request_weight(RestEndpoint::kTime), 1);
  // depth: 1-100 -> 5, 101-500 -> 25, 501-1000 -> 50, 1001-5000 -> 250.
  EXPECT_EQ(request_weight(RestEndpoint::kDepth, 1), 5);
  EXPECT_EQ(request_weight(RestEndpoint::kDepth, 100), 5);
  EXPECT_EQ(request_weight(RestEndpoint::kDepth, 101), 25);
  EXPECT_EQ(request_weight(RestEndpoint::kDepth, 500), 25);
  EXPECT_EQ(request_weight(RestEndpoint::kDepth, 501), 50);
  EXPECT_EQ(request_weight(RestEndpoint::kDepth, 1000), 50);
  EXPECT_EQ(request_weight(RestEndpoint::kDepth, 1001), 250);
  EXPECT_EQ(request_weight(RestEndpoint::kDepth, 5000), 250);
  EXPECT_EQ(endpoint_path(RestEndpoint::kAggTrades), "/api/v3/aggTrades");
  EXPECT_STREQ(to_string(RestEndpoint::kHistoricalTrades), "historicalTrades");
}

TEST(RestPolicy, QueryStringEncodesValues) {
  QueryString query;
  query.add("symbol", "BTCUSDT")
      .add("interval", "5m")
      .add("startTime", std::int64_t{1593561600000});
  EXPECT_EQ(query.str(), "symbol=BTCUSDT&interval=5m&startTime=1593561600000");
  QueryString list;
  list.add("symbols", R"(["BTCUSDT","ETHUSDT"])");
  EXPECT_EQ(list.str(), "symbols=%5B%22BTCUSDT%22%2C%22ETHUSDT%22%5D");
  EXPECT_EQ(percent_encode("a b&c=d~._-"), "a%20b%26c%3Dd~._-");
  EXPECT_TRUE(QueryString().empty());
}

TEST(RestPolicy, BackoffDoublesWithEqualJitterUpToTheCap) {
  const BackoffPolicy backoff{.initial = milliseconds(200), .max = milliseconds(2000)};
  // Attempt n lies in [base/2, base], base = min(200 * 2^n, 2000).
  EXPECT_EQ(backoff.delay(0, 0.0), milliseconds(100));
  EXPECT_EQ(backoff.delay(0, 0.999999), milliseconds(199));
  EXPECT_EQ(backoff.delay(1, 0.0), milliseconds(200));
  EXPECT_EQ(backoff.delay(2, 0.5), milliseconds(600));
  EXPECT_EQ(backoff.delay(3, 0.0), milliseconds(800));
  EXPECT_EQ(backoff.delay(4, 0.0), milliseconds(1000));   // capped: base 2000, not 3200
  EXPECT_EQ(backoff.delay(40, 1.0), milliseconds(2000));  // no overflow for large attempts
  for (int attempt = 0; attempt < 10; ++attempt) {
    EXPECT_LE(backoff.delay(attempt, 0.0), backoff.delay(attempt + 1, 0.0));
  }
}

TEST(RestPolicy, ParsesRetryAfterAndUsedWeight) {
  EXPECT_EQ(parse_retry_after("1"), std::chrono::seconds(1));
  EXPECT_EQ(parse_retry_after(" 120 "), std::chrono::seconds(120));
  EXPECT_EQ(parse_retry_after("0"), std::chrono::seconds(0));
  EXPECT_EQ(parse_retry_after("-5"), std::nullopt);
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), std::nullopt);
  EXPECT_EQ(parse_retry_after(""), std::nullopt);
  EXPECT_EQ(parse_used_weight("46"), 46);
  EXPECT_EQ(parse_used_weight("4x"), std::nullopt);
}

TEST(WeightTracker, LetsRequestsThroughWhileTheyFit) {
  WeightTracker tracker(100, milliseconds(60'000));
  EXPECT_EQ(tracker.delay_before(2, 0), milliseconds(0));
  tracker.on_sent(2, 0);
  tracker.on_response(2, 10);  // the window is taken to open at this response
  EXPECT_EQ(tracker.used(20), 2);
  EXPECT_EQ(tracker.window_end_ms(20), 60'011);  // response time + window + 1 ms rounding
  tracker.on_sent(2, 20);
  tracker.on_response(96, 30);  // other clients on the IP used weight too: the header wins
  EXPECT_EQ(tracker.used(40), 96);
  EXPECT_EQ(tracker.delay_before(4, 40), milliseconds(0));       // 100 fits
  EXPECT_EQ(tracker.delay_before(5, 40), milliseconds(59'971));  // 101 waits for the window
  // After the estimated end nothing is believed used.
  EXPECT_EQ(tracker.used(60'011), 0);
  EXPECT_EQ(tracker.delay_before(5, 60'011), milliseconds(0));
}

TEST(WeightTracker, LearnsTheWindowFromAFallingCount) {
  WeightTracker tracker(100, milliseconds(1000));
  tracker.on_sent(40, 0);
  tracker.on_response(40, 5);  // window believed [.., 1006)
  tracker.on_sent(40, 500);
  tracker.on_response(40, 505);  // count fell from 80 expected: the server reset at ~500
  EXPECT_EQ(tracker.window_end_ms(505), 1506);
  EXPECT_EQ(tracker.used(600), 40);
  tracker.on_sent(40, 600);
  tracker.on_response(80, 605);
  EXPECT_EQ(tracker.delay_before(40, 700), milliseconds(806));
}

TEST(WeightTracker, CountsLocallyWithoutTheHeader) {
  WeightTracker tracker(10, milliseconds(1000));
  tracker.on_sent(4, 0);
  tracker.on_response(std::nullopt, 5);
  tracker.on_sent(4, 10);
  tracker.on_response(std::nullopt, 15);
  EXPECT_EQ(tracker.used(20), 8);
  EXPECT_EQ(tracker.delay_before(4, 20), milliseconds(986));
}

TEST(WeightTracker, SendsAnOverBudgetRequestInAFreshWindow) {
  WeightTracker tracker(100, milliseconds(1000));
  EXPECT_EQ(tracker.delay_before(250, 0), milliseconds(0));
  tracker.on_sent(250, 0);
  tracker.on_response(250, 5);
  EXPECT_EQ(tracker.delay_before(1, 10), milliseconds(996));
}

TEST(WeightTracker, ARequestInFlightCountsUntilItsResponse) {
  WeightTracker tracker(10, milliseconds(1000));
  tracker.on_sent(8, 0);
  // No response yet (e.g. the request failed): the cost still counts, for a whole window.
  EXPECT_EQ(tracker.used(1), 8);
  EXPECT_EQ(tracker.delay_before(4, 1), milliseconds(1000));
}

TEST(BaseUrl, ParsesHttpAndHttps) {
  auto binance = parse_base_url("https://api.binance.com");
  ASSERT_TRUE(binance.ok()) << binance.error();
  EXPECT_TRUE(binance->tls);
  EXPECT_EQ(binance->host, "api.binance.com");
  EXPECT_EQ(binance->port, 443);
  EXPECT_EQ(binance->path_prefix, "");
  EXPECT_EQ(binance->origin(), "https://api.binance.com");

  auto sim = parse_base_url("http://127.0.0.1:8085/prefix/");
  ASSERT_TRUE(sim.ok()) << sim.error();
  EXPECT_FALSE(sim->tls);
  EXPECT_EQ(sim->port, 8085);
  EXPECT_EQ(sim->path_prefix, "/prefix");
  EXPECT_EQ(sim->origin(), "http://127.0.0.1:8085");

  auto ipv6 = parse_base_url("https://[::1]:9443");
  ASSERT_TRUE(ipv6.ok()) << ipv6.error();
  EXPECT_EQ(ipv6->host, "::1");
  EXPECT_EQ(ipv6->origin(), "https://[::1]:9443");

  EXPECT_FALSE(parse_base_url("ftp://example.com").ok());
  EXPECT_FALSE(parse_base_url("api.binance.com").ok());
  EXPECT_FALSE(parse_base_url("https://api.binance.com?x=1").ok());
  EXPECT_FALSE(parse_base_url("https://user:pw@api.binance.com").ok());
  EXPECT_FALSE(parse_base_url("https://api.binance.com:0").ok());
  EXPECT_FALSE(parse_base_url("https://:443").ok());
}

}  // namespace
}  // namespace sf::binance
