// Test access to the real Kafka broker that scripts/kafka.sh starts (.ci/run and scripts/test.sh
// export SF_TEST_KAFKA_BOOTSTRAP). Without it, Kafka tests are skipped with a message.
#pragma once

#include <cstdlib>
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

}  // namespace sf::testing
