// The message bus interface. Implementations: the in-process bus (bus/inproc_bus.h, the embedded
// default) and Apache Kafka (issue 3). Services see only this interface, so they behave the same on
// either.
//
// Semantics (Kafka's, so that services behave on the in-process bus as they will on Kafka):
//  - a topic is split into partitions; a message's partition is chosen by hashing its key, so
//    order holds per key (we key market data by symbol);
//  - every consumer group has its own committed offset per partition; within a group, each
//    partition is read by one member at a time;
//  - a consumer reads from its group's committed offset, or, where there is none, from the start
//    position it subscribed with (earliest / latest / explicit offsets);
//  - commit() stores the position after the last message that poll() returned; a consumer that
//    closes or crashes without committing makes its group read those messages again
//    (at-least-once).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace sf::bus {

// Errors at the bus boundary.
enum class BusErrc : std::uint8_t {
  kBackpressure,    // publish timed out waiting for space (bounded memory / in-flight limit)
  kClosed,          // the bus or consumer was closed
  kInvalidTopic,    // empty or illegal topic name
  kTooLarge,        // message larger than the configured maximum
  kDeliveryFailed,  // the broker did not acknowledge the message (Kafka)
  kBrokerError,     // any other error the broker reported
  kConfig,          // invalid configuration
  kUnknownTopic,    // the topic does not exist (partition_ranges)
};

struct BusError {
  BusErrc code;
  std::string message;
};

const char* to_string(BusErrc e);

template <class T>
using BusResult = Result<T, BusError>;

struct Message {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::string key;
  std::string value;
  std::int64_t timestamp_ms = 0;  // broker/append time
};

// Where a delivered message landed.
struct DeliveryReport {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
};

enum class StartFrom : std::uint8_t { kEarliest, kLatest, kOffsets };

struct SubscribeOptions {
  std::vector<std::string> topics;
  std::string group;  // consumer group id
  StartFrom start = StartFrom::kEarliest;
  // With kOffsets: topic -> partition -> next offset to read. Partitions not named start earliest.
  std::map<std::string, std::map<std::int32_t, std::int64_t>> offsets;
  // A reader that comes and goes (a dashboard's view of a topic): once its last member leaves, the
  // group holds nothing back. The in-process bus then frees what only it had left to read at once
  // instead of after its inactive-group grace; Kafka keeps the group's offsets as for any group.
  bool ephemeral = false;
};

class Consumer {
 public:
  virtual ~Consumer() = default;
  // Waits up to `timeout` for messages; returns at most max_messages (maybe none on timeout).
  virtual BusResult<std::vector<Message>> poll(std::chrono::milliseconds timeout,
                                               std::size_t max_messages = 500) = 0;
  // Commits the position after every message poll() has returned so far.
  virtual BusResult<void> commit() = 0;
  // Topic -> partition -> next offset to read, for a consumer that commits less than it has
  // polled (it processes one batch while polling the next). Offsets of partitions this consumer
  // does not own are ignored; a committed offset never moves backwards.
  using Offsets = std::map<std::string, std::map<std::int32_t, std::int64_t>>;
  virtual BusResult<void> commit(const Offsets& next_offsets) = 0;
  // Leaves the group; uncommitted messages will be read again by the group.
  virtual void close() = 0;
  // Messages not yet read by this consumer on its assigned partitions (visible lag).
  virtual std::int64_t lag() const = 0;
  // Whether the consumer has its partitions and positions (Kafka: once the group assignment
  // arrived, during a poll). Until then lag() cannot be trusted to mean "caught up".
  virtual bool assigned() const { return true; }
};

// The offsets a partition holds: `begin` the first still readable, `end` the next to be written.
struct PartitionRange {
  std::int64_t begin = 0;
  std::int64_t end = 0;
};

class Bus {
 public:
  virtual ~Bus() = default;
  // Publishes one message. Returns once the bus has accepted it (the in-process bus appends at
  // once; Kafka reports through flush()/delivery). An error is never swallowed: the caller sees it.
  virtual BusResult<DeliveryReport> publish(std::string_view topic, std::string_view key,
                                            std::string_view value) = 0;
  // Waits until every accepted message is delivered or `timeout` passes.
  virtual BusResult<void> flush(std::chrono::milliseconds timeout) = 0;
  virtual BusResult<std::unique_ptr<Consumer>> subscribe(const SubscribeOptions& options) = 0;
  // Creates a topic with `partitions` partitions if it does not exist (no-op if it does).
  virtual BusResult<void> create_topic(std::string_view topic, std::int32_t partitions) = 0;
  // Every partition's readable range, for a reader that starts a little before the end (the
  // dashboard: the last N records). kUnknownTopic when the topic does not exist; buses that cannot
  // tell answer kConfig.
  virtual BusResult<std::map<std::int32_t, PartitionRange>> partition_ranges(
      std::string_view topic);
  // "inproc" or "kafka".
  virtual std::string_view kind() const = 0;
};

}  // namespace sf::bus
