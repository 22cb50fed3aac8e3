// The broker-restart fault test. It kills and restarts the shared test broker, so it runs alone
// (RUN_SERIAL): other Kafka tests running beside it would see the broker vanish.
#include <gtest/gtest.h>

#include <thread>

#include "bus/kafka_bus.h"
#include "kafka_test_support.h"

namespace sf::bus {
namespace {

using namespace std::chrono_literals;
using sf::testing::env;
using sf::testing::read_all;
using sf::testing::run_command;
using sf::testing::unique;

// Restart the broker in the middle of producing; afterwards the topic holds every record exactly
// once (idempotent producer) and the producer reported no failure.
TEST(KafkaFault, BrokerRestartMidProduceLosesAndDuplicatesNothing) {
  auto bus = sf::testing::open_test_kafka();
  if (!bus) GTEST_SKIP() << sf::testing::kNoKafka;
  const std::string script = std::string(SF_REPO_ROOT) + "/scripts/kafka.sh";
  const std::size_t records = env("SF_TEST_FAULT_RECORDS").empty()
                                  ? 1'000'000
                                  : std::stoul(env("SF_TEST_FAULT_RECORDS"));
  auto topic = unique("fault");
  ASSERT_TRUE(bus->create_topic(topic, 3).ok());
  std::atomic<std::size_t> sent{0};
  std::atomic<int> restart_status{-1};
  std::thread restarter([&] {
    while (sent.load() < records / 4) std::this_thread::sleep_for(1ms);
    int st = 0;
    auto out = run_command("bash " + script + " restart-broker 2>&1", &st);
    restart_status = st;
    if (st != 0) ADD_FAILURE() << out;
  });
  std::string value;
  static const char* kSymbols[] = {"BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT"};
  for (std::size_t i = 0; i < records; ++i) {
    value = std::to_string(i);
    auto r = bus->publish(topic, kSymbols[i % 4], value);
    ASSERT_TRUE(r.ok()) << "record " << i << ": " << r.error().message;
    sent = i + 1;
  }
  restarter.join();
  ASSERT_EQ(restart_status.load(), 0);
  auto flushed = bus->flush(300s);
  ASSERT_TRUE(flushed.ok()) << flushed.error().message;
  auto* kafka = dynamic_cast<KafkaBus*>(bus.get());
  EXPECT_EQ(kafka->delivery_failures(), 0);
  EXPECT_EQ(kafka->delivered(), static_cast<std::int64_t>(records));

  auto got = read_all(*bus, topic, records, 300s);
  std::vector<bool> seen(records, false);
  std::size_t duplicates = 0;
  for (const auto& m : got) {
    auto id = std::stoul(m.value);
    ASSERT_LT(id, records);
    if (seen[id]) ++duplicates;
    seen[id] = true;
  }
  EXPECT_EQ(duplicates, 0u);
  EXPECT_EQ(got.size(), records);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), false), 0);
}

}  // namespace
}  // namespace sf::bus
