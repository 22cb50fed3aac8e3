// What the dashboard's bus consumers (TopicFeed, MarketHub) share: a reader beside the
// workflows, in an ephemeral group of its own, that commits its own offsets as it reads.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <string>
#include <thread>

#include "bus/bus.h"

namespace sf::services::visualizer {

// Subscription options of a viewer's consumer: group `visualizer-<name>-<topic>`, ephemeral, from
// the latest offset (callers may move the start).
inline bus::SubscribeOptions viewer_subscription(const std::string& name,
                                                 const std::string& topic) {
  bus::SubscribeOptions so;
  so.topics = {topic};
  so.group = "visualizer-" + name + "-" + topic;
  so.start = bus::StartFrom::kLatest;
  so.ephemeral = true;
  return so;
}

// Polls until `stop` or the bus closes, hands every non-empty batch to `on_batch`, then commits:
// its own group only, so nobody else's position moves and the in-process bus may free what it
// read. Closes the consumer at the end.
template <class OnBatch>
void run_viewer_consumer(bus::Consumer& consumer, const std::atomic<bool>& stop,
                         std::size_t max_batch, OnBatch&& on_batch) {
  constexpr auto kPollTimeout = std::chrono::milliseconds(100);
  while (!stop.load()) {
    auto messages = consumer.poll(kPollTimeout, max_batch);
    if (!messages) {
      if (messages.error().code == bus::BusErrc::kClosed) break;
      std::this_thread::sleep_for(kPollTimeout);
      continue;
    }
    if (messages->empty()) continue;
    on_batch(*messages);
    (void)consumer.commit();
  }
  consumer.close();
}

}  // namespace sf::services::visualizer
