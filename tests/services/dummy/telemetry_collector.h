// Test helper: reads `queue-events` from a bus and keeps the decoded telemetry.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "bus/bus.h"
#include "runtime/protocol.h"

namespace sf::testing {

class TelemetryCollector {
 public:
  explicit TelemetryCollector(bus::Bus& bus, std::string topic = "queue-events") {
    auto c = bus.subscribe({.topics = {topic}, .group = "test-collector", .start = bus::StartFrom::kEarliest, .offsets = {}});
    EXPECT_TRUE(c.ok());
    consumer_ = std::move(c).value();
  }

  // Polls until `done(events)` holds or the timeout passes; returns whether it held.
  bool wait_until(const std::function<bool(const std::vector<TelemetryEvent>&)>& done,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (done(events_)) return true;
      auto batch = consumer_->poll(std::chrono::milliseconds(50));
      if (!batch) return false;
      for (const auto& m : *batch) {
        auto e = runtime::decode_telemetry(m.value);
        EXPECT_TRUE(e.ok()) << m.value;
        if (e) events_.push_back(std::move(e).value());
      }
    }
    return done(events_);
  }

  std::vector<TelemetryEvent> of(const std::string& producer) const {
    std::vector<TelemetryEvent> out;
    for (const auto& e : events_)
      if (e.producer == producer) out.push_back(e);
    return out;
  }
  const std::vector<TelemetryEvent>& events() const { return events_; }

 private:
  std::unique_ptr<bus::Consumer> consumer_;
  std::vector<TelemetryEvent> events_;
};

inline bool has_status(const std::vector<TelemetryEvent>& events, const std::string& producer,
                       const std::string& status) {
  for (const auto& e : events)
    if (e.producer == producer && e.status == status) return true;
  return false;
}

}  // namespace sf::testing
