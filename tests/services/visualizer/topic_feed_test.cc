// The topic inspector's live feed: records of a watched topic reach every client in order from
// the moment it subscribed, filtered by type and symbol; a client that does not read loses the
// oldest records (counted) while the others get everything; a watch that ends holds nothing back
// on the bus; and the same through the platform's WebSocket /ws/topics.
#include "services/visualizer/topic_feed.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "bus/inproc_bus.h"
#include "services/visualizer/visualizer_test_support.h"
#include "ws_test_client.h"

namespace sf::services::visualizer {
namespace {

using namespace std::chrono_literals;

std::string trade(int id, const char* symbol) {
  return std::string(R"({"v":1,"type":"trade","symbol":")") + symbol + R"(","trade_id":)" +
         std::to_string(id) + "}";
}

// The "value" strings of record messages, in order.
std::vector<std::string> values(const std::vector<std::string>& messages) {
  std::vector<std::string> out;
  simdjson::dom::parser parser;
  for (const auto& m : messages) {
    simdjson::dom::element doc;
    std::string_view v;
    if (!parser.parse(m).get(doc) && !doc["value"].get_string().get(v)) out.emplace_back(v);
  }
  return out;
}

// Takes from `q` until `n` messages came or the timeout passed.
std::vector<std::string> take_n(ClientQueue& q, std::size_t n, std::uint64_t* dropped = nullptr) {
  std::vector<std::string> out;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
    auto b = q.take(50ms);
    if (dropped) *dropped += b.dropped;
    for (auto& m : b.messages) out.push_back(std::move(m));
  }
  return out;
}

TEST(TopicFeed, WatchersGetNewRecordsInOrderFilteredByTypeAndSymbol) {
  bus::InProcBus bus;
  ASSERT_TRUE(bus.publish("wf-trades", "BTCUSDT", trade(0, "BTCUSDT")).ok());  // before: not sent
  TopicFeed feed(bus);
  auto all = std::make_shared<ClientQueue>(100, 8);
  auto eth = std::make_shared<ClientQueue>(100, 8);
  const auto a = feed.add_client(all), e = feed.add_client(eth);
  ASSERT_TRUE(feed.watch(a, "wf-trades", {}).ok());
  ASSERT_TRUE(feed.watch(e, "wf-trades", {.type = "trade", .symbol = "ETHUSDT"}).ok());
  EXPECT_EQ(feed.watched_topics(), 1u);  // one consumer for both
  for (int i = 1; i <= 6; ++i)
    ASSERT_TRUE(bus.publish("wf-trades", "k", trade(i, i % 3 == 0 ? "ETHUSDT" : "BTCUSDT")).ok());
  ASSERT_TRUE(bus.publish("wf-trades", "k", "not json").ok());
  const auto got_all = values(take_n(*all, 7));
  ASSERT_EQ(got_all.size(), 7u);
  for (int i = 1; i <= 6; ++i)
    EXPECT_EQ(got_all[i - 1], trade(i, i % 3 == 0 ? "ETHUSDT" : "BTCUSDT"));
  EXPECT_EQ(got_all[6], "not json");  // shown as it is, escaped into a string
  EXPECT_EQ(values(take_n(*eth, 2)),
            (std::vector<std::string>{trade(3, "ETHUSDT"), trade(6, "ETHUSDT")}));
  EXPECT_FALSE(feed.watch(a, "bad topic,queue-control", {}).ok());
  feed.unwatch(a, "wf-trades");
  EXPECT_EQ(feed.watched_topics(), 1u);
  feed.remove_client(e);
  EXPECT_EQ(feed.watched_topics(), 0u);  // the last one left: the consumer stopped
}

TEST(TopicFeed, AClientThatDoesNotReadLosesTheOldestAndNobodyElseNotices) {
  bus::InProcBus bus;
  TopicFeed feed(bus);
  auto stuck = std::make_shared<ClientQueue>(100, 8);
  auto reader = std::make_shared<ClientQueue>(100000, 8);
  ASSERT_TRUE(feed.watch(feed.add_client(stuck), "busy", {}).ok());
  ASSERT_TRUE(feed.watch(feed.add_client(reader), "busy", {}).ok());
  for (int i = 0; i < 5000; ++i) ASSERT_TRUE(bus.publish("busy", "k", trade(i, "BTCUSDT")).ok());
  std::uint64_t reader_dropped = 0;
  const auto got = values(take_n(*reader, 5000, &reader_dropped));
  ASSERT_EQ(got.size(), 5000u);
  EXPECT_EQ(got.back(), trade(4999, "BTCUSDT"));
  EXPECT_EQ(reader_dropped, 0u);
  auto b = stuck->take(0ms);
  EXPECT_EQ(b.messages.size(), 100u);  // the newest 100
  EXPECT_EQ(b.dropped, 4900u);
  EXPECT_EQ(values(b.messages).back(), trade(4999, "BTCUSDT"));
}

TEST(TopicFeed, AFinishedWatchHoldsNothingBackOnTheBus) {
  bus::InProcBusOptions o;
  o.max_retained_bytes_per_topic = 64 * 1024;
  o.publish_timeout = 100ms;
  o.inactive_group_retention = std::chrono::hours(1);  // as in `streamforge run`
  bus::InProcBus bus(o);
  auto recorder = bus.subscribe(
      {.topics = {"t"}, .group = "recorder", .start = bus::StartFrom::kEarliest, .offsets = {}});
  ASSERT_TRUE(recorder.ok());
  {
    TopicFeed feed(bus);
    const auto c = feed.add_client(std::make_shared<ClientQueue>(10, 8));
    ASSERT_TRUE(feed.watch(c, "t", {}).ok());
    feed.remove_client(c);
  }
  const std::string value(1000, 'x');
  for (int i = 0; i < 1000; ++i) {  // ~1 MB through a 64 KiB topic
    ASSERT_TRUE(bus.publish("t", "k", value).ok()) << "message " << i;
    ASSERT_TRUE((*recorder)->poll(0ms).ok());
    ASSERT_TRUE((*recorder)->commit().ok());
  }
}

TEST(TopicFeed, ThePlatformServesTheFeedOnItsWebSocket) {
  TestPlatform platform("topics_ws");
  ASSERT_TRUE(platform.ok()) << platform.error();
  auto& p = *platform;
  {
    sf::testing::WsTestClient ws(static_cast<std::uint16_t>(p.port()), "/ws/topics", 20s);
    ws.send("{not json");
    EXPECT_NE(ws.read().find(R"("type":"error")"), std::string::npos);
    ws.send(R"({"subscribe":"a b"})");
    const std::string bad = ws.read();
    EXPECT_NE(bad.find("is not a topic name"), std::string::npos) << bad;
    ws.send(R"({"subscribe":"ws-btcusdt-trades","symbol":"BTCUSDT"})");
    EXPECT_EQ(ws.read(), R"({"type":"subscribed","topic":"ws-btcusdt-trades"})");
    ASSERT_TRUE(p.bus().publish("ws-btcusdt-trades", "k", trade(1, "ETHUSDT")).ok());  // filtered
    ASSERT_TRUE(p.bus().publish("ws-btcusdt-trades", "k", trade(2, "BTCUSDT")).ok());
    const std::string record = ws.read();
    EXPECT_EQ(values({record}), (std::vector<std::string>{trade(2, "BTCUSDT")})) << record;
    EXPECT_NE(record.find(R"("topic":"ws-btcusdt-trades")"), std::string::npos) << record;
    ws.send(R"({"unsubscribe":"ws-btcusdt-trades"})");
    EXPECT_EQ(ws.read(), R"({"type":"unsubscribed","topic":"ws-btcusdt-trades"})");
  }
}

}  // namespace
}  // namespace sf::services::visualizer
