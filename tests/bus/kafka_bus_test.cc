// Kafka-only behaviour against the real broker from scripts/kafka.sh: SCRAM authentication,
// kcat interoperability, and no loss or duplicate across a broker restart.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <set>
#include <thread>

#include "bus/kafka_bus.h"
#include "kafka_test_support.h"
#include "test_support.h"

namespace sf::bus {
namespace {

using namespace std::chrono_literals;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string unique(const std::string& what) {
  static std::atomic<int> n{0};
  return "sf-kafka-test-" + what + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++) +
         "-" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count() % 1000000);
}

std::string run_command(const std::string& cmd, int* status) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int st = pclose(p);
  *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

// Reads `expected` messages (or until quiet) from a fresh group.
std::vector<Message> read_all(Bus& bus, const std::string& topic, std::size_t expected,
                              std::chrono::seconds timeout = 60s) {
  auto c = bus.subscribe({.topics = {topic}, .group = unique("reader"), .start = StartFrom::kEarliest, .offsets = {}});
  EXPECT_TRUE(c.ok());
  std::vector<Message> out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.size() < expected && std::chrono::steady_clock::now() < deadline) {
    auto batch = (*c)->poll(500ms, 10000);
    if (!batch) break;
    for (auto& m : *batch) out.push_back(std::move(m));
  }
  // A little longer, to catch duplicates beyond the expected count.
  auto extra = (*c)->poll(1s, 10000);
  if (extra) for (auto& m : *extra) out.push_back(std::move(m));
  (*c)->close();
  return out;
}

TEST(KafkaAuth, ScramCredentialsWork) {
  if (env("SF_TEST_KAFKA_SASL_BOOTSTRAP").empty()) GTEST_SKIP() << sf::testing::kNoKafka;
  KafkaBusOptions o;
  o.bootstrap_servers = env("SF_TEST_KAFKA_SASL_BOOTSTRAP");
  o.username = env("SF_TEST_KAFKA_USER");
  o.password = env("SF_TEST_KAFKA_PASSWORD");
  auto bus = KafkaBus::open(o);
  ASSERT_TRUE(bus.ok()) << bus.error().message;
  auto topic = unique("auth");
  ASSERT_TRUE((*bus)->publish(topic, "BTCUSDT", "hello").ok());
  ASSERT_TRUE((*bus)->flush(10s).ok());
  auto got = read_all(**bus, topic, 1, 30s);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].value, "hello");
}

TEST(KafkaAuth, WrongPasswordFailsFastWithoutLeakingIt) {
  if (env("SF_TEST_KAFKA_SASL_BOOTSTRAP").empty()) GTEST_SKIP() << sf::testing::kNoKafka;
  KafkaBusOptions o;
  o.bootstrap_servers = env("SF_TEST_KAFKA_SASL_BOOTSTRAP");
  o.username = env("SF_TEST_KAFKA_USER");
  o.password = "definitely-Wrong-pa55word";
  auto t0 = std::chrono::steady_clock::now();
  auto bus = KafkaBus::open(o);
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(bus.ok());
  EXPECT_EQ(bus.error().code, BusErrc::kConfig) << bus.error().message;
  EXPECT_NE(bus.error().message.find("authentication"), std::string::npos) << bus.error().message;
  EXPECT_EQ(bus.error().message.find("definitely-Wrong-pa55word"), std::string::npos);
  EXPECT_LT(took, 10s);
}

TEST(KafkaInterop, KcatReadsOurRecordsKeyedBySymbol) {
  auto bus = sf::testing::open_test_kafka();
  if (!bus) GTEST_SKIP() << sf::testing::kNoKafka;
  int status = 0;
  run_command("command -v kcat", &status);
  if (status != 0) GTEST_SKIP() << "kcat not installed (apt-get install kcat)";
  auto topic = unique("kcat");
  const std::string trade =
      R"({"v":1,"type":"trade","symbol":"BTCUSDT","trade_id":3735683259,"price":"61837.63000000","quantity":"0.02000000","timestamp":1723161255342000,"is_buyer_maker":true,"is_best_match":true,"event_time":1723161255343000,"receive_time":0,"seq":3735683259})";
  ASSERT_TRUE(bus->publish(topic, "BTCUSDT", trade).ok());
  ASSERT_TRUE(bus->publish(topic, "ETHUSDT", trade).ok());
  ASSERT_TRUE(bus->flush(10s).ok());
  auto out = run_command("kcat -C -b " + sf::testing::kafka_bootstrap() + " -t " + topic +
                             " -e -q -f '%k|%s\\n' 2>&1",
                         &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("BTCUSDT|" + trade + "\n"), std::string::npos) << out;
  EXPECT_NE(out.find("ETHUSDT|"), std::string::npos) << out;
}

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
