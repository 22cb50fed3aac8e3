// The in-process bus: the embedded default when no Kafka is configured. It keeps Kafka's
// semantics (bus.h) so that services behave the same on both: partitioned ordered logs, consumer
// groups with committed offsets, partitions shared among a group's members, at-least-once delivery.
//
// Unlike Kafka it has no time-based retention: memory is bounded instead. A message leaves memory
// only once every consumer group that subscribed to its topic has moved past it; when a topic holds
// more than its byte limit, publish() waits for consumers to commit and fails with kBackpressure
// after a timeout. Nothing is dropped silently.
//
// Thread-safe: any number of threads may publish, and each Consumer may be used from its own thread
// (close() may come from any thread and wakes a blocked poll()).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bus/bus.h"

namespace sf::bus {

struct InProcBusOptions {
  // Partitions of a topic created implicitly by its first publish or subscribe.
  std::int32_t default_partitions = 1;
  // Bytes a topic may hold (key + value + kPerMessageOverheadBytes per message) before publish()
  // waits for consumers to commit.
  std::int64_t max_retained_bytes_per_topic = 256LL << 20;
  // How long publish() waits for space before failing with kBackpressure.
  std::chrono::milliseconds publish_timeout{5000};
  // Largest key + value accepted; larger messages fail with kTooLarge.
  std::int64_t max_message_bytes = 8LL << 20;
  // A group with no open consumer keeps holding messages it has not committed for this long
  // (so a restarted stage finds them), then stops pinning memory: one-off groups such as a
  // `ctl ping` listener must not block producers forever. Like Kafka, a group that returns
  // after its messages were dropped resumes from the oldest retained one.
  std::chrono::milliseconds inactive_group_retention{std::chrono::minutes(5)};
};

// Counted against max_retained_bytes_per_topic for every message, so that empty messages still
// use up the budget (roughly the bookkeeping a retained message costs).
inline constexpr std::int64_t kPerMessageOverheadBytes = 64;

// Snapshots for a metrics layer.
struct TopicMetrics {
  std::string topic;
  std::int32_t partitions = 0;
  std::int64_t published = 0;          // messages accepted since the topic was created
  std::int64_t retained_messages = 0;  // messages still held in memory
  std::int64_t retained_bytes = 0;     // as counted against the limit
};

struct GroupMetrics {
  std::string group;
  std::string topic;
  std::int32_t members = 0;  // open consumers of this group subscribed to the topic
  // Messages the group has not committed yet (end of log minus committed offset, over all
  // partitions; where nothing is committed, counted from where the group started).
  std::int64_t lag = 0;
};

// Kafka's murmur2 (the Java client's default partitioner; librdkafka's "murmur2_random"), so a key
// lands in the same partition on both buses.
std::int32_t kafka_murmur2(std::string_view data);
// The partition of a non-empty key: murmur2(key) & 0x7fffffff % partitions, as Kafka computes it.
std::int32_t partition_for_key(std::string_view key, std::int32_t partitions);

class InProcBus final : public Bus {
 public:
  explicit InProcBus(InProcBusOptions options = {});
  // Closes the bus. Consumers may outlive it; their poll() then returns kClosed.
  ~InProcBus() override;

  InProcBus(const InProcBus&) = delete;
  InProcBus& operator=(const InProcBus&) = delete;

  BusResult<DeliveryReport> publish(std::string_view topic, std::string_view key,
                                    std::string_view value) override;
  // Messages are appended at once by publish(), so there is nothing to wait for.
  BusResult<void> flush(std::chrono::milliseconds timeout) override;
  BusResult<std::unique_ptr<Consumer>> subscribe(const SubscribeOptions& options) override;
  BusResult<void> create_topic(std::string_view topic, std::int32_t partitions) override;
  BusResult<std::map<std::int32_t, PartitionRange>> partition_ranges(
      std::string_view topic) override;
  std::string_view kind() const override { return "inproc"; }

  // Wakes every blocked poll() and publish(); from now on they return kClosed. Idempotent.
  void close();

  std::vector<TopicMetrics> topic_metrics() const;
  std::vector<GroupMetrics> group_metrics() const;

  struct Core;  // shared with consumers, which may outlive the bus object

 private:
  std::shared_ptr<Core> core_;
};

}  // namespace sf::bus
