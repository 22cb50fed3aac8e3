// Live records of bus topics for the dashboard's topic inspector (issue 14): the records of any
// topic as they arrive, optionally filtered by record type and symbol, to any number of clients.
//
// One consumer per watched topic, in an ephemeral consumer group of its own
// (`visualizer-<instance>-<topic>`, bus::SubscribeOptions::ephemeral) starting at the latest
// offset: the dashboard reads beside a workflow's consumers and never moves their offsets. It
// commits its own group's offsets as it reads (on the in-process bus an uncommitted group pins the
// topic's messages and would, at the topic's byte limit, stall the producers), and once it stops
// the group holds nothing back. Each client gets records through its ClientQueue (dropped
// oldest-first when it reads too slowly), so a stuck browser never slows the consumer or the other
// clients. A topic's consumer stops when its last client leaves.
//
// What a client receives, one JSON text each (the WebSocket route /ws/topics sends them):
//   {"type":"record","topic":T,"partition":P,"offset":O,"key":K,"timestamp_ms":MS,"value":V}
// with V the record's bytes as a JSON string (escaped: the page parses it).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "bus/bus.h"
#include "bus/topic_name.h"
#include "core/result.h"
#include "services/visualizer/client_queue.h"

namespace sf::services::visualizer {

// Which records of a topic a client wants; empty fields match everything.
struct RecordFilter {
  std::string type;    // the wire record's "type" (trade, candle, depth_snapshot, ...)
  std::string symbol;  // its "symbol"
};

class TopicFeed {
 public:
  explicit TopicFeed(bus::Bus& bus);
  ~TopicFeed();  // stops every consumer
  TopicFeed(const TopicFeed&) = delete;
  TopicFeed& operator=(const TopicFeed&) = delete;

  using ClientId = std::uint64_t;
  ClientId add_client(std::shared_ptr<ClientQueue> queue);
  // Unwatches everything the client watched.
  void remove_client(ClientId client);

  // From the next record published on `topic` on, the client receives the ones `filter` lets
  // through (watching the same topic again replaces the filter). The consumer has subscribed when
  // this returns. Errors: a bad topic name, an unknown client, the bus refusing the subscription.
  Result<void, std::string> watch(ClientId client, const std::string& topic, RecordFilter filter);
  void unwatch(ClientId client, const std::string& topic);

  // Topics with a running consumer (tests, metrics).
  std::size_t watched_topics() const;

 private:
  struct Watch;
  void stop_watch_locked(const std::string& topic);

  bus::Bus& bus_;
  const std::string instance_;
  mutable std::mutex mu_;
  std::uint64_t next_client_ = 0;
  std::map<ClientId, std::shared_ptr<ClientQueue>> clients_;
  std::map<std::string, std::shared_ptr<Watch>> watches_;  // topic -> its consumer and clients
};

}  // namespace sf::services::visualizer
