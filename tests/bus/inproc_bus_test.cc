// In-process bus specifics: bounded memory and backpressure, size limits, close(), lag and metrics,
// retention across groups, rebalancing. The Kafka-shared behaviour is in bus_conformance_test.cc.
#include "bus/inproc_bus.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <future>
#include <string>
#include <string_view>
#include <thread>

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

std::unique_ptr<Consumer> subscribe(Bus& bus, const std::string& topic, const std::string& group,
                                    StartFrom start = StartFrom::kEarliest) {
  SubscribeOptions options;
  options.topics = {topic};
  options.group = group;
  options.start = start;
  auto consumer = bus.subscribe(options);
  EXPECT_TRUE(consumer.ok()) << consumer.error().message;
  return consumer.ok() ? std::move(consumer).value() : nullptr;
}

std::size_t poll_count(Consumer& consumer, std::size_t max) {
  auto polled = consumer.poll(100ms, max);
  EXPECT_TRUE(polled.ok());
  return polled.ok() ? polled->size() : 0;
}

// The topic's metrics (all zero with an empty name when the topic is unknown).
TopicMetrics topic_metrics(const InProcBus& bus, const std::string& name) {
  for (auto& m : bus.topic_metrics()) {
    if (m.topic == name) return m;
  }
  ADD_FAILURE() << "no metrics for topic " << name;
  return {};
}

std::int64_t group_lag(const InProcBus& bus, const std::string& group, const std::string& topic) {
  for (const auto& m : bus.group_metrics()) {
    if (m.group == group && m.topic == topic) return m.lag;
  }
  ADD_FAILURE() << "no metrics for group " << group << " on " << topic;
  return -1;
}

TEST(KafkaMurmur2, MatchesKafkaJavaClientVectors) {
  // From Kafka's UtilsTest.testMurmur2.
  EXPECT_EQ(kafka_murmur2("21"), -973932308);
  EXPECT_EQ(kafka_murmur2("foobar"), -790332482);
  EXPECT_EQ(kafka_murmur2("a-little-bit-long-string"), -985981536);
  EXPECT_EQ(kafka_murmur2("a-little-bit-longer-string"), -1486304829);
  EXPECT_EQ(kafka_murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971);
  EXPECT_EQ(kafka_murmur2("abc"), 479470107);
}

TEST(KafkaMurmur2, PartitionIsStableAndInRange) {
  for (int i = 0; i < 1000; ++i) {
    const std::string key = tagged("BTCUSDT-", i);
    const std::int32_t p = partition_for_key(key, 7);
    EXPECT_GE(p, 0);
    EXPECT_LT(p, 7);
    EXPECT_EQ(p, partition_for_key(key, 7));
  }
}

TEST(BusErrc, HasReadableNames) {
  EXPECT_STREQ(to_string(BusErrc::kBackpressure), "backpressure");
  EXPECT_STREQ(to_string(BusErrc::kClosed), "closed");
  EXPECT_STREQ(to_string(BusErrc::kTooLarge), "too large");
}

TEST(InProcBus, PublishBlocksThenFailsWithBackpressureUntilAConsumerCommits) {
  constexpr std::int64_t kValueBytes = 100;
  InProcBusOptions options;
  options.max_retained_bytes_per_topic = 10 * (kValueBytes + kPerMessageOverheadBytes);
  options.publish_timeout = 200ms;
  InProcBus bus(options);
  auto consumer = subscribe(bus, "bp", "g");
  ASSERT_NE(consumer, nullptr);
  const std::string value(kValueBytes, 'x');
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(bus.publish("bp", "", value).ok()) << i;

  const auto started = Clock::now();
  auto rejected = bus.publish("bp", "", value);
  const auto waited = Clock::now() - started;
  ASSERT_FALSE(rejected.ok());
  EXPECT_EQ(rejected.error().code, BusErrc::kBackpressure);
  EXPECT_GE(waited, 180ms);
  EXPECT_LT(waited, 2s);

  // Reading alone frees nothing (the group could still re-read); committing does.
  EXPECT_EQ(poll_count(*consumer, 5), 5U);
  EXPECT_EQ(bus.publish("bp", "", value).error().code, BusErrc::kBackpressure);
  ASSERT_TRUE(consumer->commit().ok());
  EXPECT_TRUE(bus.publish("bp", "", value).ok());
  const TopicMetrics metrics = topic_metrics(bus, "bp");
  EXPECT_EQ(metrics.retained_messages, 6);
  EXPECT_EQ(metrics.retained_bytes, 6 * (kValueBytes + kPerMessageOverheadBytes));
  EXPECT_EQ(metrics.published, 11);
}

TEST(InProcBus, BlockedPublishResumesWhenAConsumerCommits) {
  InProcBusOptions options;
  options.max_retained_bytes_per_topic = 4 * (10 + kPerMessageOverheadBytes);
  options.publish_timeout = 5s;
  InProcBus bus(options);
  auto consumer = subscribe(bus, "bp", "g");
  ASSERT_NE(consumer, nullptr);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(bus.publish("bp", "", std::string(10, 'x')).ok());

  const auto started = Clock::now();
  auto blocked = std::async(std::launch::async,
                            [&] { return bus.publish("bp", "", std::string(10, 'y')).ok(); });
  EXPECT_EQ(blocked.wait_for(100ms), std::future_status::timeout);
  EXPECT_EQ(poll_count(*consumer, 10), 4U);
  ASSERT_TRUE(consumer->commit().ok());
  EXPECT_TRUE(blocked.get());
  EXPECT_LT(Clock::now() - started, 3s);
}

TEST(InProcBus, WithoutAnyGroupMessagesAreRetainedUpToTheLimit) {
  InProcBusOptions options;
  options.max_retained_bytes_per_topic = 3 * (1 + kPerMessageOverheadBytes);
  options.publish_timeout = 50ms;
  InProcBus bus(options);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(bus.publish("t", "", std::to_string(i)).ok());
  EXPECT_EQ(bus.publish("t", "", "3").error().code, BusErrc::kBackpressure);

  auto late = subscribe(bus, "t", "late");
  ASSERT_NE(late, nullptr);
  auto polled = late->poll(100ms);
  ASSERT_TRUE(polled.ok());
  ASSERT_EQ(polled->size(), 3U);
  EXPECT_EQ((*polled)[0].value, "0");
  EXPECT_EQ((*polled)[2].value, "2");
}

TEST(InProcBus, MessagesStayUntilEveryGroupHasCommittedPastThem) {
  InProcBus bus;
  auto fast = subscribe(bus, "t", "fast");
  auto slow = subscribe(bus, "t", "slow");
  ASSERT_TRUE(fast && slow);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(bus.publish("t", "k", std::to_string(i)).ok());

  EXPECT_EQ(poll_count(*fast, 10), 5U);
  ASSERT_TRUE(fast->commit().ok());
  EXPECT_EQ(topic_metrics(bus, "t").retained_messages, 5);
  slow->close();  // a group that left without committing still holds its messages
  EXPECT_EQ(topic_metrics(bus, "t").retained_messages, 5);

  auto slow_again = subscribe(bus, "t", "slow");
  ASSERT_NE(slow_again, nullptr);
  EXPECT_EQ(poll_count(*slow_again, 3), 3U);
  ASSERT_TRUE(slow_again->commit().ok());
  EXPECT_EQ(topic_metrics(bus, "t").retained_messages, 2);
  EXPECT_EQ(poll_count(*slow_again, 10), 2U);
  ASSERT_TRUE(slow_again->commit().ok());
  EXPECT_EQ(topic_metrics(bus, "t").retained_messages, 0);
  EXPECT_EQ(topic_metrics(bus, "t").retained_bytes, 0);
}

TEST(InProcBus, RejectsTooLargeMessages) {
  InProcBusOptions options;
  options.max_message_bytes = 1024;
  InProcBus bus(options);
  EXPECT_EQ(bus.publish("t", "", std::string(1025, 'x')).error().code, BusErrc::kTooLarge);
  EXPECT_EQ(bus.publish("t", std::string(600, 'k'), std::string(500, 'v')).error().code,
            BusErrc::kTooLarge);
  EXPECT_TRUE(bus.publish("t", "", std::string(1024, 'x')).ok());
}

TEST(InProcBus, RejectsInvalidTopicsAndConfiguration) {
  InProcBus bus;
  EXPECT_EQ(bus.publish("", "k", "v").error().code, BusErrc::kInvalidTopic);
  EXPECT_EQ(bus.publish("has space", "k", "v").error().code, BusErrc::kInvalidTopic);
  EXPECT_EQ(bus.publish("a/b", "k", "v").error().code, BusErrc::kInvalidTopic);
  EXPECT_EQ(bus.create_topic("t", 0).error().code, BusErrc::kConfig);
  SubscribeOptions no_group;
  no_group.topics = {"t"};
  EXPECT_EQ(bus.subscribe(no_group).error().code, BusErrc::kConfig);
  SubscribeOptions no_topics;
  no_topics.group = "g";
  EXPECT_EQ(bus.subscribe(no_topics).error().code, BusErrc::kConfig);
}

TEST(InProcBus, CreateTopicSetsPartitionsAndIsANoOpWhenTheTopicExists) {
  InProcBusOptions options;
  options.default_partitions = 3;
  InProcBus bus(options);
  ASSERT_TRUE(bus.create_topic("explicit", 5).ok());
  ASSERT_TRUE(bus.create_topic("explicit", 2).ok());
  ASSERT_TRUE(bus.publish("implicit", "k", "v").ok());
  EXPECT_EQ(topic_metrics(bus, "explicit").partitions, 5);
  EXPECT_EQ(topic_metrics(bus, "implicit").partitions, 3);
}

TEST(InProcBus, EmptyKeysAreSpreadRoundRobin) {
  InProcBus bus;
  ASSERT_TRUE(bus.create_topic("t", 3).ok());
  for (int i = 0; i < 6; ++i) {
    auto report = bus.publish("t", "", "v");
    ASSERT_TRUE(report.ok());
    EXPECT_EQ(report->partition, i % 3);
    EXPECT_EQ(report->offset, i / 3);
  }
}

TEST(InProcBus, CloseWakesABlockedPollAndEverythingAfterReturnsClosed) {
  InProcBus bus;
  auto consumer = subscribe(bus, "t", "g");
  ASSERT_NE(consumer, nullptr);
  const auto started = Clock::now();
  auto polled = std::async(std::launch::async, [&] { return consumer->poll(10s); });
  std::this_thread::sleep_for(100ms);
  bus.close();
  auto result = polled.get();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, BusErrc::kClosed);
  EXPECT_LT(Clock::now() - started, 2s);

  EXPECT_EQ(bus.publish("t", "k", "v").error().code, BusErrc::kClosed);
  EXPECT_EQ(bus.subscribe(SubscribeOptions{{"t"}, "g", StartFrom::kEarliest, {}}).error().code,
            BusErrc::kClosed);
  EXPECT_EQ(consumer->commit().error().code, BusErrc::kClosed);
}

TEST(InProcBus, CloseWakesABlockedPublish) {
  InProcBusOptions options;
  options.max_retained_bytes_per_topic = 1;
  options.publish_timeout = 10s;
  InProcBus bus(options);
  ASSERT_TRUE(bus.publish("t", "", "first").ok());
  const auto started = Clock::now();
  auto blocked = std::async(std::launch::async, [&] { return bus.publish("t", "", "second"); });
  std::this_thread::sleep_for(100ms);
  bus.close();
  auto result = blocked.get();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, BusErrc::kClosed);
  EXPECT_LT(Clock::now() - started, 2s);
}

TEST(InProcBus, ConsumerCloseWakesItsOwnPoll) {
  InProcBus bus;
  auto consumer = subscribe(bus, "t", "g");
  ASSERT_NE(consumer, nullptr);
  auto polled = std::async(std::launch::async, [&] { return consumer->poll(10s); });
  std::this_thread::sleep_for(50ms);
  consumer->close();
  auto result = polled.get();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, BusErrc::kClosed);
}

TEST(InProcBus, ConsumerMayOutliveTheBus) {
  auto bus = std::make_unique<InProcBus>();
  auto consumer = subscribe(*bus, "t", "g");
  ASSERT_NE(consumer, nullptr);
  bus.reset();
  auto result = consumer->poll(10ms);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, BusErrc::kClosed);
  consumer->close();
}

TEST(InProcBus, LagIsVisibleAndDecreasesAsTheConsumerReads) {
  InProcBus bus;
  ASSERT_TRUE(bus.create_topic("t", 2).ok());
  auto consumer = subscribe(bus, "t", "g");
  ASSERT_NE(consumer, nullptr);
  EXPECT_EQ(consumer->lag(), 0);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(bus.publish("t", tagged("k", i), "v").ok());
  EXPECT_EQ(consumer->lag(), 10);
  EXPECT_EQ(group_lag(bus, "g", "t"), 10);

  EXPECT_EQ(poll_count(*consumer, 4), 4U);
  EXPECT_EQ(consumer->lag(), 6);
  EXPECT_EQ(group_lag(bus, "g", "t"), 10);  // the group's lag counts from its commit
  ASSERT_TRUE(consumer->commit().ok());
  EXPECT_EQ(group_lag(bus, "g", "t"), 6);

  EXPECT_EQ(poll_count(*consumer, 100), 6U);
  EXPECT_EQ(consumer->lag(), 0);
  ASSERT_TRUE(bus.publish("t", "k", "v").ok());
  EXPECT_EQ(consumer->lag(), 1);
}

TEST(InProcBus, LeavingMemberHandsItsPartitionsOverFromTheCommittedOffset) {
  InProcBus bus;
  ASSERT_TRUE(bus.create_topic("t", 2).ok());
  auto stays = subscribe(bus, "t", "g");
  auto leaves = subscribe(bus, "t", "g");
  ASSERT_TRUE(stays && leaves);
  // Partition 0 goes to the first member and partition 1 to the second; empty keys alternate.
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(bus.publish("t", "", std::to_string(i)).ok());
  EXPECT_EQ(poll_count(*stays, 100), 5U);
  ASSERT_TRUE(stays->commit().ok());

  auto first_read = leaves->poll(100ms, 2);
  ASSERT_TRUE(first_read.ok());
  ASSERT_EQ(first_read->size(), 2U);
  ASSERT_TRUE(leaves->commit().ok());
  EXPECT_EQ(poll_count(*leaves, 100), 3U);  // read, never committed
  leaves->close();

  auto taken_over = stays->poll(100ms);
  ASSERT_TRUE(taken_over.ok());
  ASSERT_EQ(taken_over->size(), 3U);
  for (const auto& message : *taken_over) EXPECT_EQ(message.partition, 1);
  EXPECT_EQ(taken_over->front().offset, 2);
}

TEST(InProcBus, ReadsFromSeveralTopicsWithOneConsumer) {
  InProcBus bus;
  SubscribeOptions options;
  options.topics = {"a", "b"};
  options.group = "g";
  auto consumer = bus.subscribe(options);
  ASSERT_TRUE(consumer.ok());
  ASSERT_TRUE(bus.publish("a", "k", "1").ok());
  ASSERT_TRUE(bus.publish("b", "k", "2").ok());
  std::size_t total = 0;
  for (int i = 0; i < 3 && total < 2; ++i) total += poll_count(**consumer, 10);
  EXPECT_EQ(total, 2U);
}

}  // namespace
}  // namespace sf::bus

namespace sf::bus {
namespace {

// Regression: one-off groups (a `ctl ping` listener) used to pin messages forever after they
// closed, so producers eventually hit kBackpressure although the live consumer kept up.
TEST(InProcBusRetention, ClosedGroupsStopPinningAfterTheirGracePeriod) {
  InProcBusOptions o;
  o.max_retained_bytes_per_topic = 64 * 1024;
  o.publish_timeout = std::chrono::milliseconds(100);
  o.inactive_group_retention = std::chrono::milliseconds(50);
  InProcBus bus(o);
  auto live = bus.subscribe({.topics = {"events"}, .group = "recorder", .start = StartFrom::kEarliest, .offsets = {}});
  ASSERT_TRUE(live.ok());
  {
    auto once = bus.subscribe({.topics = {"events"}, .group = "one-off", .start = StartFrom::kLatest, .offsets = {}});
    ASSERT_TRUE(once.ok());
    (*once)->close();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(80));
  const std::string value(1000, 'x');
  for (int i = 0; i < 1000; ++i) {  // ~1 MB through a 64 KiB topic
    ASSERT_TRUE(bus.publish("events", "k", value).ok()) << "message " << i;
    auto batch = (*live)->poll(std::chrono::milliseconds(0));
    ASSERT_TRUE(batch.ok());
    ASSERT_TRUE((*live)->commit().ok());
  }
}

// A dashboard's reader (ephemeral) that left holds nothing back, even with a long grace: the
// producers of a busy topic never wait for a browser tab that was closed.
TEST(InProcBusRetention, AnEphemeralGroupStopsPinningAsSoonAsItsLastMemberLeaves) {
  InProcBusOptions o;
  o.max_retained_bytes_per_topic = 64 * 1024;
  o.publish_timeout = std::chrono::milliseconds(100);
  o.inactive_group_retention = std::chrono::hours(1);
  InProcBus bus(o);
  auto live = bus.subscribe({.topics = {"events"}, .group = "recorder", .start = StartFrom::kEarliest, .offsets = {}});
  ASSERT_TRUE(live.ok());
  {
    SubscribeOptions view{.topics = {"events"}, .group = "dashboard-tab", .start = StartFrom::kLatest, .offsets = {}};
    view.ephemeral = true;
    auto tab = bus.subscribe(view);
    ASSERT_TRUE(tab.ok());
    (*tab)->close();
  }
  const std::string value(1000, 'x');
  for (int i = 0; i < 1000; ++i) {  // ~1 MB through a 64 KiB topic
    ASSERT_TRUE(bus.publish("events", "k", value).ok()) << "message " << i;
    ASSERT_TRUE((*live)->poll(std::chrono::milliseconds(0)).ok());
    ASSERT_TRUE((*live)->commit().ok());
  }
  // The same without `ephemeral`: the closed group pins, and the producer is told so.
  auto pinned = bus.subscribe({.topics = {"events"}, .group = "forgotten", .start = StartFrom::kLatest, .offsets = {}});
  ASSERT_TRUE(pinned.ok());
  (*pinned)->close();
  bool backpressure = false;
  for (int i = 0; i < 200 && !backpressure; ++i) {
    backpressure = !bus.publish("events", "k", value).ok();
    ASSERT_TRUE((*live)->poll(std::chrono::milliseconds(0)).ok());
    ASSERT_TRUE((*live)->commit().ok());
  }
  EXPECT_TRUE(backpressure);
}

TEST(InProcBusRetention, ClosedGroupKeepsItsMessagesDuringGrace) {
  InProcBusOptions o;
  o.inactive_group_retention = std::chrono::minutes(5);
  InProcBus bus(o);
  auto fast = bus.subscribe({.topics = {"t"}, .group = "fast", .start = StartFrom::kEarliest, .offsets = {}});
  auto slow = bus.subscribe({.topics = {"t"}, .group = "slow", .start = StartFrom::kEarliest, .offsets = {}});
  ASSERT_TRUE(fast.ok() && slow.ok());
  (*slow)->close();  // a stage that crashed and will be restarted
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(bus.publish("t", "k", std::to_string(i)).ok());
  ASSERT_TRUE((*fast)->poll(std::chrono::milliseconds(100)).ok());
  ASSERT_TRUE((*fast)->commit().ok());
  auto again = bus.subscribe({.topics = {"t"}, .group = "slow", .start = StartFrom::kEarliest, .offsets = {}});
  ASSERT_TRUE(again.ok());
  std::size_t n = 0;
  for (int i = 0; i < 20 && n < 10; ++i) {
    auto b = (*again)->poll(std::chrono::milliseconds(50));
    ASSERT_TRUE(b.ok());
    n += b->size();
  }
  EXPECT_EQ(n, 10u);  // nothing lost for the restarted group
}

}  // namespace
}  // namespace sf::bus
