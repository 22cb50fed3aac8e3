#include "bus/inproc_bus.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <utility>

#include "core/time.h"

namespace sf::bus {
namespace {

using Clock = std::chrono::steady_clock;

// Kafka's limits, so that a name that works here also works on a broker.
constexpr std::size_t kMaxTopicNameLength = 249;
constexpr std::int32_t kMaxPartitions = 100'000;
constexpr std::int64_t kNoOffset = -1;

Unexpected<BusError> fail(BusErrc code, std::string message) {
  return unexpected(BusError{code, std::move(message)});
}

bool valid_topic_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxTopicNameLength || name == "." || name == "..") {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

struct Record {
  std::string key;
  std::string value;
  std::int64_t timestamp_ms = 0;
};

std::int64_t retained_size(std::size_t key_bytes, std::size_t value_bytes) {
  return static_cast<std::int64_t>(key_bytes + value_bytes) + kPerMessageOverheadBytes;
}

struct Partition {
  std::deque<Record> log;
  std::int64_t base_offset = 0;  // offset of log.front(); earlier messages left memory

  std::int64_t end_offset() const { return base_offset + static_cast<std::int64_t>(log.size()); }
};

// Lets a publisher wake a consumer blocked in poll() without taking a lock on every publish: the
// publisher sets `pending_` and only locks when the consumer says it is `waiting_`. Both flags are
// sequentially consistent, so at least one side sees the other's store and no wake-up is lost.
class Waker {
 public:
  void wake() {
    pending_.store(true);
    if (waiting_.load()) {
      std::lock_guard lock(mutex_);
      cv_.notify_all();
    }
  }

  void clear() { pending_.store(false); }

  // True when woken, false when the deadline passed first.
  bool wait_until(Clock::time_point deadline) {
    std::unique_lock lock(mutex_);
    waiting_.store(true);
    const bool woken = cv_.wait_until(lock, deadline, [this] { return pending_.load(); });
    waiting_.store(false);
    return woken;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::atomic<bool> pending_{false};
  std::atomic<bool> waiting_{false};
};

class InProcConsumer;

// One consumer group's state on one topic. Lives inside its Topic and shares the topic's mutex.
struct GroupState {
  explicit GroupState(std::size_t partitions)
      : owner(partitions, nullptr),
        position(partitions, 0),
        committed(partitions, kNoOffset),
        start(partitions, 0) {}

  std::vector<InProcConsumer*> members;  // open consumers, in join order
  std::vector<InProcConsumer*> owner;    // per partition; nullptr while the group has no member
  std::vector<std::int64_t> position;    // per partition: the owner's next offset to read
  std::vector<std::int64_t> committed;   // per partition, or kNoOffset
  // Per partition, where the group began reading while nothing is committed. Messages before it
  // are never read by this group, so they need not be retained for it.
  std::vector<std::int64_t> start;
  Clock::time_point inactive_since{};  // when the last member left
  bool ephemeral = false;              // SubscribeOptions::ephemeral: no grace after the last

  // Whether the group still holds back trimming: while it has members, and (unless ephemeral) for
  // a grace period after the last one left.
  bool pins(Clock::time_point now, std::chrono::milliseconds grace) const {
    return !members.empty() || (!ephemeral && now - inactive_since < grace);
  }

  // Offset before which this group no longer needs messages.
  std::int64_t retention_floor(std::size_t p) const {
    return committed[p] != kNoOffset ? committed[p] : start[p];
  }
};

struct Topic {
  Topic(std::string topic_name, std::int32_t partition_count)
      : name(std::move(topic_name)), partitions(static_cast<std::size_t>(partition_count)) {}

  const std::string name;
  mutable std::mutex mutex;
  std::condition_variable space_freed;  // publishers waiting under backpressure
  std::vector<Partition> partitions;    // the count never changes
  std::int64_t retained_bytes = 0;
  std::int64_t published = 0;
  std::chrono::milliseconds inactive_group_retention{std::chrono::minutes(5)};
  std::uint64_t next_round_robin = 0;  // partition for the next message with an empty key
  std::map<std::string, GroupState, std::less<>> groups;

  std::int32_t partition_count() const { return static_cast<std::int32_t>(partitions.size()); }
};

// Drops messages of partition `p` that every pinning group has moved past (none while no group
// pins: messages wait for a first consumer). Returns whether any bytes were freed. Caller holds
// the topic mutex.
bool trim(Topic& topic, std::size_t p) {
  Partition& partition = topic.partitions[p];
  std::int64_t floor = partition.end_offset();
  bool pinned = false;
  const auto now = Clock::now();
  for (const auto& [name, group] : topic.groups) {
    if (!group.pins(now, topic.inactive_group_retention)) continue;
    pinned = true;
    floor = std::min(floor, group.retention_floor(p));
  }
  if (!pinned) return false;
  std::int64_t freed = 0;
  while (partition.base_offset < floor && !partition.log.empty()) {
    const Record& front = partition.log.front();
    freed += retained_size(front.key.size(), front.value.size());
    partition.log.pop_front();
    ++partition.base_offset;
  }
  topic.retained_bytes -= freed;
  return freed > 0;
}

void trim_all(Topic& topic) {
  bool freed = false;
  for (std::size_t p = 0; p < topic.partitions.size(); ++p) freed = trim(topic, p) || freed;
  if (freed) topic.space_freed.notify_all();
}

}  // namespace

struct InProcBus::Core {
  explicit Core(InProcBusOptions bus_options) : options(bus_options) {}

  Topic* find(std::string_view name) const {
    std::shared_lock lock(topics_mutex);
    auto it = topics.find(name);
    return it == topics.end() ? nullptr : it->second.get();
  }

  // Returns the topic, creating it with `partitions` partitions if it does not exist yet.
  Topic& topic(std::string_view name, std::int32_t partitions) {
    if (Topic* existing = find(name)) return *existing;
    std::unique_lock lock(topics_mutex);
    auto it = topics.find(name);
    if (it == topics.end()) {
      it = topics.emplace(std::string(name), std::make_unique<Topic>(std::string(name), partitions))
               .first;
      it->second->inactive_group_retention = options.inactive_group_retention;
    }
    return *it->second;
  }

  const InProcBusOptions options;
  std::atomic<bool> closed{false};
  // Topics are never removed, so a Topic& stays valid for the life of the Core.
  mutable std::shared_mutex topics_mutex;
  std::map<std::string, std::unique_ptr<Topic>, std::less<>> topics;
};

namespace {

class InProcConsumer final : public Consumer {
 public:
  InProcConsumer(std::shared_ptr<InProcBus::Core> core, SubscribeOptions options)
      : core_(std::move(core)), options_(std::move(options)) {}

  ~InProcConsumer() override { close(); }

  InProcConsumer(const InProcConsumer&) = delete;
  InProcConsumer& operator=(const InProcConsumer&) = delete;

  // Joins the group on every topic; called once, before the consumer is handed out.
  void join(const std::vector<Topic*>& topics) {
    for (Topic* topic : topics) {
      std::lock_guard lock(topic->mutex);
      auto [it, inserted] = topic->groups.try_emplace(options_.group, topic->partitions.size());
      GroupState& group = it->second;
      if (inserted) group.ephemeral = options_.ephemeral;
      group.members.push_back(this);
      subscriptions_.push_back({topic, &group});
      rebalance(*topic, group);
    }
  }

  BusResult<std::vector<Message>> poll(std::chrono::milliseconds timeout,
                                       std::size_t max_messages) override {
    const auto deadline = Clock::now() + timeout;
    std::vector<Message> messages;
    for (;;) {
      if (is_closed()) return fail(BusErrc::kClosed, "consumer or bus closed");
      // Cleared before reading, so a message appended after the read still wakes the wait below.
      waker_.clear();
      read_available(max_messages, messages);
      if (!messages.empty() || max_messages == 0) return messages;
      if (!waker_.wait_until(deadline)) {
        if (is_closed()) return fail(BusErrc::kClosed, "consumer or bus closed");
        return messages;
      }
    }
  }

  BusResult<void> commit() override {
    if (is_closed()) return fail(BusErrc::kClosed, "consumer or bus closed");
    for (auto& [topic, group] : subscriptions_) {
      std::lock_guard lock(topic->mutex);
      bool freed = false;
      for (std::size_t p = 0; p < topic->partitions.size(); ++p) {
        if (group->owner[p] != this || group->committed[p] == group->position[p]) continue;
        group->committed[p] = group->position[p];
        freed = trim(*topic, p) || freed;
      }
      if (freed) topic->space_freed.notify_all();
    }
    return {};
  }

  BusResult<void> commit(const Offsets& next_offsets) override {
    if (is_closed()) return fail(BusErrc::kClosed, "consumer or bus closed");
    for (auto& [topic, group] : subscriptions_) {
      auto wanted = next_offsets.find(topic->name);
      if (wanted == next_offsets.end()) continue;
      std::lock_guard lock(topic->mutex);
      bool freed = false;
      for (const auto& [partition, offset] : wanted->second) {
        const auto p = static_cast<std::size_t>(partition);
        if (partition < 0 || p >= topic->partitions.size() || group->owner[p] != this) continue;
        const std::int64_t next = std::min(offset, group->position[p]);
        if (group->committed[p] != kNoOffset && group->committed[p] >= next) continue;
        group->committed[p] = next;
        freed = trim(*topic, p) || freed;
      }
      if (freed) topic->space_freed.notify_all();
    }
    return {};
  }

  void close() override {
    if (closed_.exchange(true)) return;
    for (auto& [topic, group] : subscriptions_) {
      std::lock_guard lock(topic->mutex);
      std::erase(group->members, this);
      if (group->members.empty()) group->inactive_since = Clock::now();
      std::replace(group->owner.begin(), group->owner.end(), static_cast<InProcConsumer*>(this),
                   static_cast<InProcConsumer*>(nullptr));
      rebalance(*topic, *group);
    }
    waker_.wake();
  }

  std::int64_t lag() const override {
    std::int64_t lag = 0;
    for (const auto& [topic, group] : subscriptions_) {
      std::lock_guard lock(topic->mutex);
      for (std::size_t p = 0; p < topic->partitions.size(); ++p) {
        if (group->owner[p] == this) lag += topic->partitions[p].end_offset() - group->position[p];
      }
    }
    return lag;
  }

  // Called by a publisher (topic mutex held) when one of our partitions got a message.
  void wake() { waker_.wake(); }

 private:
  struct Subscription {
    Topic* topic;
    GroupState* group;  // map nodes are stable and groups are never removed
  };

  bool is_closed() const { return closed_.load() || core_->closed.load(); }

  // Where this consumer starts on a partition for which its group has committed nothing.
  std::int64_t start_offset(const Topic& topic, std::size_t p) const {
    const Partition& partition = topic.partitions[p];
    switch (options_.start) {
      case StartFrom::kEarliest:
        return partition.base_offset;
      case StartFrom::kLatest:
        return partition.end_offset();
      case StartFrom::kOffsets:
        break;
    }
    auto by_topic = options_.offsets.find(topic.name);
    if (by_topic == options_.offsets.end()) return partition.base_offset;
    auto by_partition = by_topic->second.find(static_cast<std::int32_t>(p));
    if (by_partition == by_topic->second.end()) return partition.base_offset;
    return by_partition->second;
  }

  // Spreads the topic's partitions over the group's members (partition p to member p % n). A
  // partition that changes hands resumes from the group's committed offset, so whatever the
  // previous owner read without committing is read again (at-least-once, like Kafka). A
  // partition that stays keeps its owner's position. Caller holds the topic mutex.
  static void rebalance(Topic& topic, GroupState& group) {
    const std::size_t members = group.members.size();
    for (std::size_t p = 0; p < topic.partitions.size(); ++p) {
      InProcConsumer* new_owner = members == 0 ? nullptr : group.members[p % members];
      if (new_owner == group.owner[p]) continue;
      group.owner[p] = new_owner;
      if (new_owner == nullptr) continue;
      const Partition& partition = topic.partitions[p];
      if (group.committed[p] != kNoOffset) {
        group.position[p] = std::max(group.committed[p], partition.base_offset);
      } else {
        // Out-of-range starts are clamped to the retained range, as Kafka resets them.
        group.position[p] = std::clamp(new_owner->start_offset(topic, p), partition.base_offset,
                                       partition.end_offset());
        group.start[p] = group.position[p];
      }
      new_owner->wake();
    }
    trim_all(topic);  // a later start may release messages
  }

  // Appends up to `max_messages` available messages to `out`. Starting topic and partition rotate
  // between calls so that a busy partition does not starve the others.
  void read_available(std::size_t max_messages, std::vector<Message>& out) {
    const std::size_t rotation = rotation_++;
    const std::size_t topics = subscriptions_.size();
    for (std::size_t t = 0; t < topics && out.size() < max_messages; ++t) {
      auto& [topic, group] = subscriptions_[(rotation + t) % topics];
      std::lock_guard lock(topic->mutex);
      const std::size_t partitions = topic->partitions.size();
      for (std::size_t i = 0; i < partitions && out.size() < max_messages; ++i) {
        const std::size_t p = (rotation + i) % partitions;
        if (group->owner[p] != this) continue;
        const Partition& partition = topic->partitions[p];
        std::int64_t& position = group->position[p];
        const std::int64_t available = partition.end_offset() - position;
        if (available <= 0) continue;
        const auto count =
            std::min<std::int64_t>(available, static_cast<std::int64_t>(max_messages - out.size()));
        auto record = partition.log.begin() + (position - partition.base_offset);
        for (std::int64_t n = 0; n < count; ++n, ++record) {
          out.push_back(Message{topic->name, static_cast<std::int32_t>(p), position + n,
                                record->key, record->value, record->timestamp_ms});
        }
        position += count;
      }
    }
  }

  const std::shared_ptr<InProcBus::Core> core_;
  const SubscribeOptions options_;
  std::vector<Subscription> subscriptions_;  // fixed after join()
  std::atomic<bool> closed_{false};
  std::atomic<std::size_t> rotation_{0};
  Waker waker_;
};

}  // namespace

std::int32_t kafka_murmur2(std::string_view data) {
  // Unsigned arithmetic reproduces Java's wrapping int multiply; >> on uint32 is Java's >>>.
  constexpr std::uint32_t kSeed = 0x9747b28c;
  constexpr std::uint32_t kM = 0x5bd1e995;
  constexpr int kR = 24;
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  const std::size_t length = data.size();
  std::uint32_t h = kSeed ^ static_cast<std::uint32_t>(length);
  const std::size_t blocks = length / 4;
  for (std::size_t i = 0; i < blocks; ++i) {
    const unsigned char* b = bytes + i * 4;
    std::uint32_t k = static_cast<std::uint32_t>(b[0]) | (static_cast<std::uint32_t>(b[1]) << 8) |
                      (static_cast<std::uint32_t>(b[2]) << 16) |
                      (static_cast<std::uint32_t>(b[3]) << 24);
    k *= kM;
    k ^= k >> kR;
    k *= kM;
    h *= kM;
    h ^= k;
  }
  const unsigned char* tail = bytes + blocks * 4;
  switch (length % 4) {
    case 3:
      h ^= static_cast<std::uint32_t>(tail[2]) << 16;
      [[fallthrough]];
    case 2:
      h ^= static_cast<std::uint32_t>(tail[1]) << 8;
      [[fallthrough]];
    case 1:
      h ^= tail[0];
      h *= kM;
  }
  h ^= h >> 13;
  h *= kM;
  h ^= h >> 15;
  return static_cast<std::int32_t>(h);
}

std::int32_t partition_for_key(std::string_view key, std::int32_t partitions) {
  const auto positive = static_cast<std::uint32_t>(kafka_murmur2(key)) & 0x7fffffffU;
  return static_cast<std::int32_t>(positive % static_cast<std::uint32_t>(partitions));
}

InProcBus::InProcBus(InProcBusOptions options) {
  if (options.default_partitions < 1 || options.default_partitions > kMaxPartitions) {
    throw std::invalid_argument("InProcBusOptions.default_partitions out of range");
  }
  if (options.max_retained_bytes_per_topic <= 0 || options.max_message_bytes <= 0 ||
      options.publish_timeout.count() < 0) {
    throw std::invalid_argument("InProcBusOptions: limits must be positive");
  }
  core_ = std::make_shared<Core>(options);
}

InProcBus::~InProcBus() {
  close();
}

BusResult<DeliveryReport> InProcBus::publish(std::string_view topic_name, std::string_view key,
                                             std::string_view value) {
  if (core_->closed.load()) return fail(BusErrc::kClosed, "bus closed");
  const auto payload = static_cast<std::int64_t>(key.size() + value.size());
  if (payload > core_->options.max_message_bytes) {
    return fail(BusErrc::kTooLarge, "message of " + std::to_string(payload) + " bytes exceeds " +
                                        std::to_string(core_->options.max_message_bytes));
  }
  // Only a topic about to be created needs its name checked; existing ones were checked then.
  Topic* existing = core_->find(topic_name);
  if (existing == nullptr && !valid_topic_name(topic_name)) {
    return fail(BusErrc::kInvalidTopic, "invalid topic name '" + std::string(topic_name) + "'");
  }
  Topic& topic =
      existing != nullptr ? *existing : core_->topic(topic_name, core_->options.default_partitions);
  // The copy and the hash happen before taking the topic lock, to keep the critical section short.
  Record record{std::string(key), std::string(value), micros_to_millis(now_micros())};
  const std::int64_t size = retained_size(key.size(), value.size());
  std::int32_t partition = key.empty() ? -1 : partition_for_key(key, topic.partition_count());

  std::int64_t offset = 0;
  {
    std::unique_lock lock(topic.mutex);
    const std::int64_t limit = core_->options.max_retained_bytes_per_topic;
    // A message larger than the whole limit is still accepted into an empty topic.
    auto has_space = [&] {
      return topic.retained_bytes == 0 || topic.retained_bytes + size <= limit;
    };
    if (!has_space()) trim_all(topic);  // groups whose grace period ended may release messages
    if (!has_space()) {
      const auto deadline = Clock::now() + core_->options.publish_timeout;
      const bool ready = topic.space_freed.wait_until(
          lock, deadline, [&] { return core_->closed.load() || has_space(); });
      if (core_->closed.load()) return fail(BusErrc::kClosed, "bus closed");
      if (!ready) {
        return fail(BusErrc::kBackpressure, "topic '" + topic.name + "' holds " +
                                                std::to_string(topic.retained_bytes) +
                                                " bytes (limit " + std::to_string(limit) +
                                                ") and no consumer freed space in time");
      }
    }
    if (partition < 0) {
      partition = static_cast<std::int32_t>(topic.next_round_robin++ % topic.partitions.size());
    }
    Partition& log = topic.partitions[static_cast<std::size_t>(partition)];
    offset = log.end_offset();
    log.log.push_back(std::move(record));
    topic.retained_bytes += size;
    ++topic.published;
    for (auto& [name, group] : topic.groups) {
      if (auto* owner = group.owner[static_cast<std::size_t>(partition)]) owner->wake();
    }
  }
  return DeliveryReport{topic.name, partition, offset};
}

BusResult<void> InProcBus::flush(std::chrono::milliseconds /*timeout*/) {
  if (core_->closed.load()) return fail(BusErrc::kClosed, "bus closed");
  return {};
}

BusResult<std::unique_ptr<Consumer>> InProcBus::subscribe(const SubscribeOptions& options) {
  if (core_->closed.load()) return fail(BusErrc::kClosed, "bus closed");
  if (options.group.empty()) return fail(BusErrc::kConfig, "subscribe needs a consumer group");
  if (options.topics.empty()) return fail(BusErrc::kConfig, "subscribe needs at least one topic");
  for (const auto& name : options.topics) {
    if (!valid_topic_name(name)) {
      return fail(BusErrc::kInvalidTopic, "invalid topic name '" + name + "'");
    }
  }
  for (const auto& [name, partitions] : options.offsets) {
    for (const auto& [partition, offset] : partitions) {
      if (partition < 0 || offset < 0) {
        return fail(BusErrc::kConfig, "negative partition or offset for topic '" + name + "'");
      }
    }
  }
  std::vector<Topic*> topics;
  for (const auto& name : options.topics) {
    Topic* topic = &core_->topic(name, core_->options.default_partitions);
    if (std::find(topics.begin(), topics.end(), topic) == topics.end()) topics.push_back(topic);
  }
  auto consumer = std::make_unique<InProcConsumer>(core_, options);
  consumer->join(topics);
  return std::unique_ptr<Consumer>(std::move(consumer));
}

BusResult<void> InProcBus::create_topic(std::string_view topic, std::int32_t partitions) {
  if (core_->closed.load()) return fail(BusErrc::kClosed, "bus closed");
  if (!valid_topic_name(topic)) {
    return fail(BusErrc::kInvalidTopic, "invalid topic name '" + std::string(topic) + "'");
  }
  if (partitions < 1 || partitions > kMaxPartitions) {
    return fail(BusErrc::kConfig, "partition count " + std::to_string(partitions) +
                                      " out of range for topic '" + std::string(topic) + "'");
  }
  core_->topic(topic, partitions);
  return {};
}

void InProcBus::close() {
  if (core_->closed.exchange(true)) return;
  std::shared_lock topics_lock(core_->topics_mutex);
  for (auto& [name, topic] : core_->topics) {
    std::lock_guard lock(topic->mutex);
    topic->space_freed.notify_all();
    for (auto& [group_name, group] : topic->groups) {
      for (InProcConsumer* member : group.members) member->wake();
    }
  }
}

BusResult<std::map<std::int32_t, PartitionRange>> InProcBus::partition_ranges(
    std::string_view topic) {
  const Topic* t = core_->find(topic);
  if (!t) return unexpected(BusError{BusErrc::kUnknownTopic, "no topic " + std::string(topic)});
  std::map<std::int32_t, PartitionRange> ranges;
  std::lock_guard lock(t->mutex);
  for (std::size_t p = 0; p < t->partitions.size(); ++p)
    ranges[static_cast<std::int32_t>(p)] = {t->partitions[p].base_offset,
                                            t->partitions[p].end_offset()};
  return ranges;
}

std::vector<TopicMetrics> InProcBus::topic_metrics() const {
  std::vector<TopicMetrics> metrics;
  std::shared_lock topics_lock(core_->topics_mutex);
  metrics.reserve(core_->topics.size());
  for (const auto& [name, topic] : core_->topics) {
    std::lock_guard lock(topic->mutex);
    std::int64_t retained_messages = 0;
    for (const auto& partition : topic->partitions) {
      retained_messages += static_cast<std::int64_t>(partition.log.size());
    }
    metrics.push_back(TopicMetrics{name, topic->partition_count(), topic->published,
                                   retained_messages, topic->retained_bytes});
  }
  return metrics;
}

std::vector<GroupMetrics> InProcBus::group_metrics() const {
  std::vector<GroupMetrics> metrics;
  std::shared_lock topics_lock(core_->topics_mutex);
  for (const auto& [name, topic] : core_->topics) {
    std::lock_guard lock(topic->mutex);
    for (const auto& [group_name, group] : topic->groups) {
      std::int64_t lag = 0;
      for (std::size_t p = 0; p < topic->partitions.size(); ++p) {
        lag +=
            std::max<std::int64_t>(0, topic->partitions[p].end_offset() - group.retention_floor(p));
      }
      metrics.push_back(
          GroupMetrics{group_name, name, static_cast<std::int32_t>(group.members.size()), lag});
    }
  }
  return metrics;
}

}  // namespace sf::bus
