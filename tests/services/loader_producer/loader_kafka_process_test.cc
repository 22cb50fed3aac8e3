// loader-producer as a real process on the real Kafka broker: kill -9 in the middle of a load,
// restart, and the topic holds every aggregate trade id (no gap; repeats only from the batch that
// was not yet confirmed, which idempotent keys absorb).
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "bus/kafka_bus.h"
#include "services/dummy/process_support.h"
#include "services/exchange_sim/exchange_sim.h"
#include "test_support.h"

namespace {

using namespace std::chrono_literals;
using sf::testing::Child;
using sf::testing::spawn;

std::string bootstrap() {
  const char* v = std::getenv("SF_TEST_KAFKA_BOOTSTRAP");
  return v ? v : "";
}

TEST(LoaderOnKafka, KillNineThenRestartLeavesNoGap) {
  if (bootstrap().empty()) GTEST_SKIP() << "set SF_TEST_KAFKA_BOOTSTRAP (scripts/kafka.sh start prints one)";
  SF_REQUIRE_SHARED_DATA("aggtrades_btcusdt_2026-01-01");
  sf::services::exchange_sim::ExchangeSimOptions so;
  so.data_dir = sf::testing::shared_data_dir().string();
  so.faults.slow_ms = 100;  // a page every ~100 ms: the load takes about 5 s
  auto sim = sf::services::exchange_sim::ExchangeSim::start(so);
  ASSERT_TRUE(sim.ok()) << sim.error();
  const std::string suffix = std::to_string(std::random_device{}());
  const std::string topic = "loader-kill-" + suffix;
  std::vector<std::string> args{"loader-producer", "--queue-id", "kill-" + suffix, "--symbol", "BTCUSDT",
                                "--type", "api_trades", "--time-range", "2026-01-01:2026-01-02",
                                "--kafka-topic", topic, "--limit", "100", "--batch-records", "500", "--telemetry-interval", "0.2", "--http-port", "-1",
                                "--binance-api-url", (*sim)->rest_base_url(), "--progress", "false"};
  std::vector<std::pair<std::string, std::string>> env{{"KAFKA_BOOTSTRAP_SERVERS", bootstrap()}};

  auto first = spawn(args, env);
  // Wait until it has confirmed some batches, then kill it without warning.
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline) {
    first.drain();
    // A telemetry line with a non-zero count: at least one batch is confirmed.
    const std::string loading = "\"status\":\"loading\",\"records_written\":";
    bool confirmed = false;
    for (auto p = first.err.find(loading); p != std::string::npos; p = first.err.find(loading, p + 1))
      confirmed |= first.err[p + loading.size()] != '0';
    if (confirmed) break;
    std::this_thread::sleep_for(50ms);
  }
  kill(first.pid, SIGKILL);
  EXPECT_EQ(first.wait_exit(10s), 128 + SIGKILL);

  (*sim)->set_slow_ms(0);
  auto second = spawn(args, env);
  ASSERT_EQ(second.wait_exit(120s), 0) << second.err;
  EXPECT_NE(second.err.find("resuming after checkpoint"), std::string::npos) << second.err;

  sf::bus::KafkaBusOptions ko;
  ko.bootstrap_servers = bootstrap();
  auto bus = sf::bus::KafkaBus::open(ko);
  ASSERT_TRUE(bus.ok()) << bus.error().message;
  auto c = (*bus)->subscribe({.topics = {topic}, .group = "check-" + suffix, .start = sf::bus::StartFrom::kEarliest, .offsets = {}});
  ASSERT_TRUE(c.ok());
  std::set<long long> ids;
  std::size_t total = 0;
  auto until = std::chrono::steady_clock::now() + 60s;
  while (ids.size() < 5000 && std::chrono::steady_clock::now() < until) {
    auto batch = (*c)->poll(500ms, 10000);
    ASSERT_TRUE(batch.ok());
    for (const auto& m : *batch) {
      auto p = m.value.find("\"trade_id\":");
      ASSERT_NE(p, std::string::npos);
      ids.insert(std::stoll(m.value.substr(p + 11)));
      ++total;
    }
  }
  ASSERT_EQ(ids.size(), 5000u);
  EXPECT_EQ(*ids.begin(), 3800397495);
  EXPECT_EQ(*ids.rbegin(), 3800402494);  // dense: 5,000 distinct ids over exactly this span
  EXPECT_LE(total - ids.size(), 5000u);  // repeats come only from the unconfirmed batch
}

}  // namespace
