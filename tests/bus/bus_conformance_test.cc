// Behaviour every Bus implementation must share (the semantics documented in bus/bus.h). The suite
// runs once per factory below; a new bus joins by adding one line there. Every test uses fresh,
// randomly suffixed topic and group names, so the suite can run against a shared real broker.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bus/bus.h"
#include "bus/inproc_bus.h"
#include "kafka_test_support.h"

namespace sf::bus {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// "<prefix><n>". Appends rather than `"k" + std::to_string(n)`, which trips GCC 12's false
// -Wrestrict at -O3 (GCC bug 105329).
std::string tagged(std::string_view prefix, std::int64_t n) {
  std::string text(prefix);
  text += std::to_string(n);
  return text;
}

// A bus under test. `make` may return nullptr where the bus is unavailable (e.g. no broker
// reachable); that bus's tests are then skipped.
struct BusFactory {
  std::string name;
  std::function<std::unique_ptr<Bus>()> make;
};

// Test listings show the bus by name rather than as raw bytes.
void PrintTo(const BusFactory& f, std::ostream* os) {
  *os << f.name;
}

std::vector<BusFactory> bus_factories() {
  return {
      {"inproc", [] { return std::unique_ptr<Bus>(std::make_unique<InProcBus>()); }},
      {"kafka", [] { return sf::testing::open_test_kafka(); }},
  };
}

// How long to wait for expected messages (generous: a real broker is slower than memory).
constexpr auto kDeliveryTimeout = 10s;
// How long a consumer must stay quiet to show that nothing more is coming.
constexpr auto kQuietPeriod = 200ms;

class BusConformanceTest : public ::testing::TestWithParam<BusFactory> {
 protected:
  void SetUp() override {
    bus_ = GetParam().make();
    if (!bus_) GTEST_SKIP() << "bus '" << GetParam().name << "' is not available here";
  }

  // "sf-test-<test>-<what>-<random hex>", legal as a Kafka topic or group name.
  static std::string unique_name(std::string_view what) {
    static std::mt19937_64 random{std::random_device{}()};
    std::string name = "sf-test-";
    name += ::testing::UnitTest::GetInstance()->current_test_info()->name();
    name += "-";
    name += what;
    for (char& c : name) {
      const bool legal = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
      if (!legal) c = '-';
    }
    char suffix[17];
    std::snprintf(suffix, sizeof(suffix), "%016llx",
                  static_cast<unsigned long long>(random()));  // NOLINT(runtime/int)
    return name + "-" + suffix;
  }

  std::string create_topic(std::int32_t partitions) {
    std::string topic = unique_name("topic");
    auto created = bus_->create_topic(topic, partitions);
    EXPECT_TRUE(created.ok()) << created.error().message;
    return topic;
  }

  std::unique_ptr<Consumer> subscribe(const std::string& topic, const std::string& group,
                                      StartFrom start = StartFrom::kEarliest,
                                      std::map<std::int32_t, std::int64_t> offsets = {}) {
    SubscribeOptions options;
    options.topics = {topic};
    options.group = group;
    options.start = start;
    if (!offsets.empty()) options.offsets[topic] = std::move(offsets);
    auto consumer = bus_->subscribe(options);
    EXPECT_TRUE(consumer.ok()) << consumer.error().message;
    return consumer.ok() ? std::move(consumer).value() : nullptr;
  }

  void publish(const std::string& topic, const std::string& key, const std::string& value) {
    auto report = bus_->publish(topic, key, value);
    ASSERT_TRUE(report.ok()) << report.error().message;
  }

  void flush() {
    auto flushed = bus_->flush(kDeliveryTimeout);
    ASSERT_TRUE(flushed.ok()) << flushed.error().message;
  }

  // Polls until `count` messages arrived or the delivery timeout passed; never asks for more than
  // `count`, so the consumer's position ends exactly after the last message returned.
  static std::vector<Message> collect(Consumer& consumer, std::size_t count) {
    std::vector<Message> messages;
    const auto deadline = Clock::now() + kDeliveryTimeout;
    while (messages.size() < count && Clock::now() < deadline) {
      auto polled = consumer.poll(100ms, count - messages.size());
      EXPECT_TRUE(polled.ok()) << polled.error().message;
      if (!polled.ok()) break;
      for (auto& message : *polled) messages.push_back(std::move(message));
    }
    EXPECT_EQ(messages.size(), count);
    return messages;
  }

  static void expect_nothing_more(Consumer& consumer) {
    auto polled = consumer.poll(kQuietPeriod);
    ASSERT_TRUE(polled.ok()) << polled.error().message;
    EXPECT_TRUE(polled->empty()) << polled->size() << " unexpected message(s), first value "
                                 << polled->front().value;
  }

  static std::vector<std::string> values(const std::vector<Message>& messages) {
    std::vector<std::string> out;
    out.reserve(messages.size());
    for (const auto& message : messages) out.push_back(message.value);
    return out;
  }

  static std::vector<std::string> numbered(int from, int to) {
    std::vector<std::string> out;
    for (int i = from; i < to; ++i) out.push_back(std::to_string(i));
    return out;
  }

  std::unique_ptr<Bus> bus_;
};

TEST_P(BusConformanceTest, KeepsOrderPerKeyAcrossManyKeysAndPartitions) {
  constexpr int kPartitions = 8;
  constexpr int kKeys = 64;
  constexpr int kPerKey = 200;
  const std::string topic = create_topic(kPartitions);
  auto consumer = subscribe(topic, unique_name("group"));
  ASSERT_NE(consumer, nullptr);
  for (int seq = 0; seq < kPerKey; ++seq) {
    for (int k = 0; k < kKeys; ++k) publish(topic, tagged("key-", k), std::to_string(seq));
  }
  flush();

  const auto messages = collect(*consumer, kKeys * kPerKey);
  std::map<std::string, int> next_seq_by_key;
  std::map<std::string, std::int32_t> partition_by_key;
  std::map<std::int32_t, std::int64_t> last_offset_by_partition;
  for (const auto& message : messages) {
    EXPECT_EQ(message.topic, topic);
    int& next_seq = next_seq_by_key[message.key];
    EXPECT_EQ(message.value, std::to_string(next_seq)) << "key " << message.key;
    next_seq = std::stoi(message.value) + 1;
    auto [it, first] = partition_by_key.try_emplace(message.key, message.partition);
    EXPECT_EQ(it->second, message.partition) << "key " << message.key << " changed partition";
    auto [last, first_in_partition] =
        last_offset_by_partition.try_emplace(message.partition, message.offset);
    if (!first_in_partition) {
      EXPECT_GT(message.offset, last->second);
    }
    last->second = message.offset;
  }
  EXPECT_EQ(next_seq_by_key.size(), static_cast<std::size_t>(kKeys));
  for (const auto& [key, next_seq] : next_seq_by_key) EXPECT_EQ(next_seq, kPerKey) << key;
  EXPECT_GT(last_offset_by_partition.size(), 1U) << "all keys landed in one partition";
  expect_nothing_more(*consumer);
}

TEST_P(BusConformanceTest, TwoGroupsKeepIndependentOffsetsAndBothSeeEverything) {
  const std::string topic = create_topic(2);
  const std::string group_a = unique_name("a");
  const std::string group_b = unique_name("b");
  auto a = subscribe(topic, group_a);
  auto b = subscribe(topic, group_b);
  ASSERT_TRUE(a && b);
  for (int i = 0; i < 100; ++i) publish(topic, tagged("k", i % 10), std::to_string(i));
  flush();

  const auto by_value = [](std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  const auto first_hundred = by_value(numbered(0, 100));
  EXPECT_EQ(by_value(values(collect(*a, 100))), first_hundred);
  EXPECT_EQ(by_value(values(collect(*b, 100))), first_hundred);
  ASSERT_TRUE(a->commit().ok());  // only group a commits
  a->close();
  b->close();

  for (int i = 100; i < 150; ++i) publish(topic, tagged("k", i % 10), std::to_string(i));
  flush();
  auto a_again = subscribe(topic, group_a);
  auto b_again = subscribe(topic, group_b);
  ASSERT_TRUE(a_again && b_again);
  EXPECT_EQ(by_value(values(collect(*a_again, 50))), by_value(numbered(100, 150)));
  EXPECT_EQ(by_value(values(collect(*b_again, 150))), by_value(numbered(0, 150)));
  expect_nothing_more(*a_again);
  expect_nothing_more(*b_again);
}

TEST_P(BusConformanceTest, ResubscribeResumesExactlyAfterCommittedPosition) {
  const std::string topic = create_topic(1);
  const std::string group = unique_name("group");
  for (int i = 0; i < 100; ++i) publish(topic, "key", std::to_string(i));
  flush();

  auto first = subscribe(topic, group);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(values(collect(*first, 40)), numbered(0, 40));
  ASSERT_TRUE(first->commit().ok());
  first->close();

  auto second = subscribe(topic, group);
  ASSERT_NE(second, nullptr);
  const auto rest = collect(*second, 60);
  EXPECT_EQ(values(rest), numbered(40, 100));
  ASSERT_FALSE(rest.empty());
  EXPECT_EQ(rest.front().offset, 40);
  expect_nothing_more(*second);
}

// A consumer that writes one batch while it polls the next commits explicit offsets: only what
// it names, never backwards, never past what it has read.
TEST_P(BusConformanceTest, ExplicitOffsetCommitStoresExactlyThoseOffsets) {
  const std::string topic = create_topic(1);
  const std::string group = unique_name("group");
  for (int i = 0; i < 100; ++i) publish(topic, "key", std::to_string(i));
  flush();

  auto first = subscribe(topic, group);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(values(collect(*first, 60)), numbered(0, 60));
  ASSERT_TRUE(first->commit({{topic, {{0, 25}}}}).ok());            // batch 0..24 written
  ASSERT_TRUE(first->commit({{topic, {{0, 10}}}}).ok());            // an older batch: no step back
  ASSERT_TRUE(first->commit({{"another-topic", {{0, 99}}}}).ok());  // not ours: ignored
  first->close();

  auto second = subscribe(topic, group);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(values(collect(*second, 75)), numbered(25, 100));
  expect_nothing_more(*second);
}

TEST_P(BusConformanceTest, CloseWithoutCommitRedeliversUncommittedMessages) {
  const std::string topic = create_topic(1);
  const std::string group = unique_name("group");
  for (int i = 0; i < 100; ++i) publish(topic, "key", std::to_string(i));
  flush();

  auto first = subscribe(topic, group);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(values(collect(*first, 30)), numbered(0, 30));
  ASSERT_TRUE(first->commit().ok());
  EXPECT_EQ(values(collect(*first, 20)), numbered(30, 50));
  first->close();  // 30..49 were read but not committed

  auto second = subscribe(topic, group);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(values(collect(*second, 70)), numbered(30, 100));
  expect_nothing_more(*second);
}

TEST_P(BusConformanceTest, StartLatestSkipsOlderMessages) {
  const std::string topic = create_topic(2);
  for (int i = 0; i < 20; ++i) publish(topic, tagged("k", i % 4), tagged("old-", i));
  flush();
  auto consumer = subscribe(topic, unique_name("group"), StartFrom::kLatest);
  ASSERT_NE(consumer, nullptr);
  expect_nothing_more(*consumer);

  for (int i = 0; i < 20; ++i) publish(topic, tagged("k", i % 4), tagged("new-", i));
  flush();
  for (const auto& message : collect(*consumer, 20)) {
    EXPECT_EQ(message.value.rfind("new-", 0), 0U) << message.value;
  }
  expect_nothing_more(*consumer);
}

TEST_P(BusConformanceTest, ExplicitOffsetsStartWhereAskedAndUnnamedPartitionsAtEarliest) {
  constexpr int kMessages = 60;
  const std::string topic = create_topic(3);
  for (int i = 0; i < kMessages; ++i) publish(topic, tagged("key-", i), std::to_string(i));
  flush();

  // Learn where every message landed (publish reports are not final on every bus).
  auto scout = subscribe(topic, unique_name("scout"));
  ASSERT_NE(scout, nullptr);
  const auto all = collect(*scout, kMessages);
  std::map<std::int32_t, std::int64_t> end_by_partition;
  for (const auto& m : all) {
    end_by_partition[m.partition] = std::max(end_by_partition[m.partition], m.offset + 1);
  }

  // Partition 0 from offset 2, partition 1 from offset 5, partition 2 not named: earliest.
  std::map<std::int32_t, std::int64_t> offsets = {
      {0, std::min<std::int64_t>(2, end_by_partition[0])},
      {1, std::min<std::int64_t>(5, end_by_partition[1])}};
  std::set<std::string> expected;
  for (const auto& m : all) {
    auto start = offsets.find(m.partition);
    if (start == offsets.end() || m.offset >= start->second) expected.insert(m.value);
  }
  auto consumer = subscribe(topic, unique_name("group"), StartFrom::kOffsets, offsets);
  ASSERT_NE(consumer, nullptr);
  const auto got = collect(*consumer, expected.size());
  std::set<std::string> got_values;
  for (const auto& m : got) got_values.insert(m.value);
  EXPECT_EQ(got_values, expected);
  expect_nothing_more(*consumer);
}

TEST_P(BusConformanceTest, MembersOfOneGroupSplitPartitionsAndSeeEachMessageOnce) {
  constexpr int kMessages = 400;
  const std::string topic = create_topic(4);
  const std::string group = unique_name("group");
  auto first = subscribe(topic, group);
  auto second = subscribe(topic, group);
  ASSERT_TRUE(first && second);
  // Let a broker finish the group join (both members assigned) before anything is published.
  const auto joined_by = Clock::now() + kDeliveryTimeout;
  do {
    ASSERT_TRUE(first->poll(50ms).ok());
    ASSERT_TRUE(second->poll(50ms).ok());
  } while (!(first->assigned() && second->assigned()) && Clock::now() < joined_by);
  for (int i = 0; i < kMessages; ++i) {
    publish(topic, tagged("key-", i % 40), std::to_string(i));
  }
  flush();

  std::map<std::string, int> times_seen;
  std::set<std::int32_t> partitions[2];
  Consumer* members[2] = {first.get(), second.get()};
  const auto deadline = Clock::now() + kDeliveryTimeout;
  std::size_t received = 0;
  while (received < kMessages && Clock::now() < deadline) {
    for (int m = 0; m < 2; ++m) {
      auto polled = members[m]->poll(20ms);
      ASSERT_TRUE(polled.ok()) << polled.error().message;
      for (const auto& message : *polled) {
        ++times_seen[message.value];
        partitions[m].insert(message.partition);
      }
      received += polled->size();
      ASSERT_TRUE(members[m]->commit().ok());
    }
  }
  EXPECT_EQ(received, static_cast<std::size_t>(kMessages));
  EXPECT_EQ(times_seen.size(), static_cast<std::size_t>(kMessages));
  for (const auto& [value, times] : times_seen) EXPECT_EQ(times, 1) << "message " << value;
  EXPECT_FALSE(partitions[0].empty());
  EXPECT_FALSE(partitions[1].empty());
  for (std::int32_t p : partitions[0]) EXPECT_EQ(partitions[1].count(p), 0U) << "partition " << p;
}

TEST_P(BusConformanceTest, ConcurrentProducersAndConsumerDeliverEachMessageOnceInKeyOrder) {
  constexpr int kProducers = 4;
  constexpr int kPerProducer = 25'000;
  constexpr int kKeysPerProducer = 8;
  constexpr std::size_t kTotal = kProducers * kPerProducer;
  const std::string topic = create_topic(4);
  auto consumer = subscribe(topic, unique_name("group"));
  ASSERT_NE(consumer, nullptr);

  // Value "<producer>:<seq>"; key "p<producer>-k<seq % 8>", so each key's sequence is increasing.
  std::atomic<int> publish_failures{0};
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int seq = 0; seq < kPerProducer; ++seq) {
        const std::string key = tagged("p", p) + tagged("-k", seq % kKeysPerProducer);
        if (!bus_->publish(topic, key, std::to_string(p) + ":" + std::to_string(seq)).ok()) {
          ++publish_failures;
        }
      }
    });
  }

  std::vector<char> seen(kTotal, 0);
  std::map<std::string, int> last_seq_by_key;
  std::size_t received = 0;
  std::size_t duplicates = 0;
  std::size_t out_of_order = 0;
  const auto deadline = Clock::now() + 20s;
  while (received < kTotal && Clock::now() < deadline) {
    auto polled = consumer->poll(100ms, 1000);
    ASSERT_TRUE(polled.ok()) << polled.error().message;
    for (const auto& message : *polled) {
      int producer = 0;
      int seq = 0;
      const char* begin = message.value.data();
      const char* end = begin + message.value.size();
      auto parsed = std::from_chars(begin, end, producer);
      ASSERT_EQ(*parsed.ptr, ':') << message.value;
      std::from_chars(parsed.ptr + 1, end, seq);
      char& slot = seen[static_cast<std::size_t>(producer * kPerProducer + seq)];
      if (slot != 0) ++duplicates;
      slot = 1;
      auto [last, first] = last_seq_by_key.try_emplace(message.key, seq);
      if (!first && seq <= last->second) ++out_of_order;
      last->second = seq;
      ++received;
    }
    ASSERT_TRUE(consumer->commit().ok());
  }
  for (auto& producer : producers) producer.join();

  EXPECT_EQ(publish_failures.load(), 0);
  EXPECT_EQ(received, kTotal);
  EXPECT_EQ(duplicates, 0U);
  EXPECT_EQ(out_of_order, 0U);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), static_cast<std::ptrdiff_t>(kTotal));
  EXPECT_EQ(last_seq_by_key.size(), static_cast<std::size_t>(kProducers * kKeysPerProducer));
  expect_nothing_more(*consumer);
}

TEST_P(BusConformanceTest, PollTimeoutReturnsEmptyAfterAboutTheTimeout) {
  const std::string topic = create_topic(1);
  auto consumer = subscribe(topic, unique_name("group"));
  ASSERT_NE(consumer, nullptr);
  const auto started = Clock::now();
  auto polled = consumer->poll(300ms);
  const auto elapsed = Clock::now() - started;
  ASSERT_TRUE(polled.ok()) << polled.error().message;
  EXPECT_TRUE(polled->empty());
  EXPECT_GE(elapsed, 280ms);
  EXPECT_LT(elapsed, 1300ms);
}

INSTANTIATE_TEST_SUITE_P(Buses, BusConformanceTest, ::testing::ValuesIn(bus_factories()),
                         [](const ::testing::TestParamInfo<BusFactory>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace sf::bus
