// Test access to the real Kafka broker that scripts/kafka.sh starts (.ci/run and scripts/test.sh
// export SF_TEST_KAFKA_BOOTSTRAP). Without it, Kafka tests are skipped with a message.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>
#include <memory>
#include <string>

#include "bus/kafka_bus.h"

namespace sf::testing {

inline std::string kafka_bootstrap() {
  const char* v = std::getenv("SF_TEST_KAFKA_BOOTSTRAP");
  return v ? v : "";
}

inline constexpr const char* kNoKafka =
    "set SF_TEST_KAFKA_BOOTSTRAP to a broker (scripts/kafka.sh start prints one)";

inline std::unique_ptr<bus::Bus> open_test_kafka() {
  if (kafka_bootstrap().empty()) return nullptr;
  bus::KafkaBusOptions o;
  o.bootstrap_servers = kafka_bootstrap();
  auto b = bus::KafkaBus::open(o);
  if (!b) return nullptr;
  return std::move(b).value();
}

// Helpers shared by the Kafka-only tests.
using namespace std::chrono_literals;

inline std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

inline std::string unique(const std::string& what) {
  static std::atomic<int> n{0};
  return "sf-kafka-test-" + what + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++) +
         "-" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count() % 1000000);
}

inline std::string run_command(const std::string& cmd, int* status) {
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
inline std::vector<bus::Message> read_all(bus::Bus& bus, const std::string& topic, std::size_t expected,
                              std::chrono::seconds timeout = 60s) {
  auto c = bus.subscribe({.topics = {topic}, .group = unique("reader"), .start = bus::StartFrom::kEarliest, .offsets = {}});
  EXPECT_TRUE(c.ok());
  std::vector<bus::Message> out;
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

}  // namespace sf::testing
