// Weight accounting, the enforced weight limit and every injected fault, seen from a client.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "sim_test_support.h"

namespace sf::services::exchange_sim {
namespace {

using namespace std::chrono_literals;
using sf::testing::get;
using sf::testing::header_int;
using sf::testing::parse_error_body;
using sf::testing::reset_sim;
using sf::testing::shared_sim;

constexpr const char* kKlines = "/api/v3/klines?symbol=BTCUSDT&interval=5m&limit=1";

class ExchangeSimLimits : public ::testing::Test {
 protected:
  void SetUp() override {
    SF_REQUIRE_SHARED_DATA(sf::testing::kKlines5mFile);
    reset_sim(shared_sim());
  }
  void TearDown() override {
    if (std::filesystem::exists(sf::testing::shared_data_dir())) reset_sim(shared_sim());
  }
};

std::int64_t used_weight(const runtime::HttpResponse& response) {
  return header_int(response, "X-MBX-USED-WEIGHT-1M");
}

TEST_F(ExchangeSimLimits, WeightHeaderCountsEndpointWeights) {
  ExchangeSim& sim = shared_sim();
  const std::uint64_t weight_before = sim.stats().weight_used;
  struct Step {
    std::string target;
    std::int64_t weight;
  };
  const std::vector<Step> steps = {
      {"/api/v3/ping", 1},
      {"/api/v3/time", 1},
      {kKlines, 2},
      {"/api/v3/uiKlines?symbol=BTCUSDT&interval=5m&limit=1", 2},
      {"/api/v3/aggTrades?symbol=BTCUSDT&limit=1", 4},
      {"/api/v3/trades?symbol=BTCUSDT&limit=1", 25},
      {"/api/v3/historicalTrades?symbol=BTCUSDT&limit=1", 25},
      {"/api/v3/depth?symbol=BTCUSDT", 5},
      {"/api/v3/depth?symbol=BTCUSDT&limit=101", 25},
      {"/api/v3/depth?symbol=BTCUSDT&limit=1000", 50},
      {"/api/v3/depth?symbol=BTCUSDT&limit=1001", 250},
      {"/api/v3/depth?symbol=BTCUSDT&limit=9000", 250},
      {"/api/v3/exchangeInfo?symbol=BTCUSDT", 20},
      // Rejected requests are charged too, as on Binance.
      {"/api/v3/klines?symbol=NOPEUSDT&interval=5m", 2},
  };
  std::int64_t expected = 0;
  for (const Step& step : steps) {
    auto response = get(sim, step.target);
    expected += step.weight;
    EXPECT_EQ(used_weight(response), expected) << step.target;
    EXPECT_EQ(header_int(response, "X-MBX-USED-WEIGHT"), expected) << step.target;
  }
  EXPECT_EQ(sim.used_weight("127.0.0.1"), expected);
  EXPECT_EQ(sim.stats().weight_used - weight_before, static_cast<std::uint64_t>(expected));
  // /health and /metrics are not API requests: no weight.
  auto health = get(sim, "/health/ready");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(sim.used_weight(), expected);
}

TEST_F(ExchangeSimLimits, EnforcedWeightLimitGives429WithRetryAfter) {
  ExchangeSim& sim = shared_sim();
  sim.set_weight_limit(10);
  for (int i = 1; i <= 5; ++i) {
    auto response = get(sim, kKlines);
    ASSERT_EQ(response.status, 200) << i;
    EXPECT_EQ(used_weight(response), 2 * i);
  }
  const std::uint64_t limited_before = sim.stats().weight_limited;
  auto limited = get(sim, kKlines);
  EXPECT_EQ(limited.status, 429);
  const std::int64_t retry_after = header_int(limited, "Retry-After");
  EXPECT_GE(retry_after, 1);
  EXPECT_LE(retry_after, 60);
  const auto error = parse_error_body(limited.body);
  EXPECT_EQ(error.code, -1003);
  EXPECT_NE(error.msg.find("current limit is 10 request weight per 1 MINUTE"), std::string::npos)
      << error.msg;
  EXPECT_EQ(used_weight(limited), 12);
  EXPECT_EQ(sim.stats().weight_limited, limited_before + 1);
  // Still limited: the window has not ended.
  EXPECT_EQ(get(sim, "/api/v3/ping").status, 429);
}

TEST(ExchangeSimWeightWindow, ResetsAfterTheWindow) {
  sf::testing::TempDir empty;
  ExchangeSimOptions options;
  options.data_dir = empty.path().string();
  options.weight_limit = 3;
  options.weight_window = 600ms;
  auto sim = ExchangeSim::start(options);
  ASSERT_TRUE(sim.ok()) << sim.error();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(get(**sim, "/api/v3/ping").status, 200);
  auto limited = get(**sim, "/api/v3/ping");
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(header_int(limited, "Retry-After"), 1);
  std::this_thread::sleep_for(700ms);
  auto again = get(**sim, "/api/v3/ping");
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(used_weight(again), 1);
}

TEST_F(ExchangeSimLimits, Fail429AfterN) {
  ExchangeSim& sim = shared_sim();
  sim.set_retry_after(2);
  sim.fail_429_after(3, 2);
  std::vector<int> statuses;
  std::vector<std::int64_t> weights;
  for (int i = 0; i < 6; ++i) {
    auto response = get(sim, kKlines);
    statuses.push_back(response.status);
    weights.push_back(used_weight(response));
    if (response.status == 429) {
      EXPECT_EQ(header_int(response, "Retry-After"), 2);
      EXPECT_EQ(parse_error_body(response.body).code, -1003);
    }
  }
  EXPECT_EQ(statuses, (std::vector<int>{200, 200, 200, 429, 429, 200}));
  // Injected 429s charge no weight.
  EXPECT_EQ(weights, (std::vector<std::int64_t>{2, 4, 6, 6, 6, 8}));
  EXPECT_EQ(sim.stats().injected_429 >= 2, true);
}

TEST_F(ExchangeSimLimits, Fail418BansForRetryAfterSeconds) {
  ExchangeSim& sim = shared_sim();
  sim.set_faults({.fail_418_after = 2, .retry_after_s = 1});
  EXPECT_EQ(get(sim, "/api/v3/ping").status, 200);
  EXPECT_EQ(get(sim, "/api/v3/ping").status, 200);
  auto banned = get(sim, "/api/v3/ping");
  EXPECT_EQ(banned.status, 418);
  EXPECT_EQ(header_int(banned, "Retry-After"), 1);
  const auto error = parse_error_body(banned.body);
  EXPECT_EQ(error.code, -1003);
  EXPECT_NE(error.msg.find("IP banned until"), std::string::npos) << error.msg;
  EXPECT_EQ(get(sim, kKlines).status, 418);
  std::this_thread::sleep_for(1100ms);
  EXPECT_EQ(get(sim, "/api/v3/ping").status, 200);
  EXPECT_EQ(get(sim, "/api/v3/ping").status, 200) << "the ban happens once";
}

std::vector<int> ping_statuses(ExchangeSim& sim, int count, std::set<std::string>* bodies) {
  std::vector<int> statuses;
  for (int i = 0; i < count; ++i) {
    auto response = get(sim, "/api/v3/ping");
    statuses.push_back(response.status);
    if (bodies && response.status >= 500) bodies->insert(response.body);
  }
  return statuses;
}

TEST_F(ExchangeSimLimits, ServerErrorsAtTheConfiguredRateDeterministically) {
  ExchangeSim& sim = shared_sim();
  sim.set_faults({.error_5xx_rate = 0.3, .seed = 42});
  std::set<std::string> bodies;
  const auto first = ping_statuses(sim, 60, &bodies);
  int errors = 0;
  std::set<int> kinds;
  for (int status : first) {
    if (status >= 500) {
      ++errors;
      kinds.insert(status);
    } else {
      EXPECT_EQ(status, 200);
    }
  }
  EXPECT_GE(errors, 8);
  EXPECT_LE(errors, 30);
  EXPECT_GE(kinds.size(), 2u);
  for (int kind : kinds) EXPECT_TRUE(kind == 500 || kind == 502 || kind == 503) << kind;
  bool saw_binance_body = false;
  for (const auto& body : bodies)
    saw_binance_body |= body.find("\"code\":-10") != std::string::npos;
  EXPECT_TRUE(saw_binance_body);
  // Same seed, same sequence.
  sim.set_faults({.error_5xx_rate = 0.3, .seed = 42});
  EXPECT_EQ(ping_statuses(sim, 60, nullptr), first);
  sim.set_faults({.error_5xx_rate = 0.3, .seed = 43});
  EXPECT_NE(ping_statuses(sim, 60, nullptr), first);
}

// Everything the server sends for one request on a fresh connection, until it closes.
std::string raw_exchange(int port, const std::string& target) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{.tv_sec = 5, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    close(fd);
    return "";
  }
  const std::string request = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  if (send(fd, request.data(), request.size(), 0) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return "";
  }
  std::string received;
  char buffer[16384];
  for (;;) {
    const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    received.append(buffer, static_cast<std::size_t>(n));
  }
  close(fd);
  return received;
}

TEST_F(ExchangeSimLimits, TruncatedBodiesAreVisibleToTheClient) {
  ExchangeSim& sim = shared_sim();
  const std::string target = "/api/v3/klines?symbol=BTCUSDT&interval=5m&limit=100";
  const std::string complete = get(sim, target).body;
  sim.set_truncate_rate(1.0);
  // Our client reports the cut body as a failed exchange ...
  auto response = runtime::http_request("GET", sim.rest_base_url() + target);
  EXPECT_FALSE(response.ok());
  // ... and on the wire: a 200 whose chunked body stops halfway, with no final chunk.
  const std::string raw = raw_exchange(sim.port(), target);
  ASSERT_TRUE(raw.starts_with("HTTP/1.1 200")) << raw.substr(0, 200);
  EXPECT_NE(raw.find("chunked"), std::string::npos);
  EXPECT_FALSE(raw.ends_with("0\r\n\r\n"));
  const auto body_start = raw.find("\r\n\r\n");
  ASSERT_NE(body_start, std::string::npos);
  EXPECT_LT(raw.size() - body_start, complete.size());
  EXPECT_NE(raw.find(complete.substr(0, complete.size() / 2)), std::string::npos);
  // Error responses are never cut.
  EXPECT_EQ(get(sim, "/api/v3/klines?symbol=NOPEUSDT&interval=5m").status, 400);
  EXPECT_GE(sim.stats().truncated, 2u);

  sim.set_faults({.truncate_rate = 0.5, .seed = 7});
  int failed = 0;
  for (int i = 0; i < 20; ++i)
    failed += !runtime::http_request("GET", sim.rest_base_url() + kKlines).ok();
  EXPECT_GT(failed, 2);
  EXPECT_LT(failed, 18);
}

TEST_F(ExchangeSimLimits, SlowResponses) {
  ExchangeSim& sim = shared_sim();
  sim.set_slow_ms(300);
  auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(get(sim, kKlines).status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - started, 300ms);
  // Errors are slowed down too.
  started = std::chrono::steady_clock::now();
  EXPECT_EQ(get(sim, "/api/v3/klines?symbol=NOPEUSDT&interval=5m").status, 400);
  EXPECT_GE(std::chrono::steady_clock::now() - started, 300ms);
  EXPECT_EQ(sim.faults().slow_ms, 300);
}

TEST(ExchangeSimOptions, BadOptionsAreRejected) {
  ExchangeSimOptions options;
  EXPECT_FALSE(ExchangeSim::start(options).ok()) << "no data dir";
  options.data_dir = "/nonexistent/exchange-sim";
  EXPECT_FALSE(ExchangeSim::start(options).ok());
  sf::testing::TempDir empty;
  options.data_dir = empty.path().string();
  options.faults.error_5xx_rate = 1.5;
  EXPECT_FALSE(ExchangeSim::start(options).ok());
  options.faults.error_5xx_rate = 0;
  options.port = 70000;
  EXPECT_FALSE(ExchangeSim::start(options).ok());
}

}  // namespace
}  // namespace sf::services::exchange_sim
