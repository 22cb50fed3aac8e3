// The dashboard's per-client queue: states conflate (latest wins), stream items are bounded and
// dropped oldest-first with a count the page can show, the producer never blocks on a client that
// does not read, and close() wakes a waiting consumer.
#include "services/visualizer/client_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace sf::services::visualizer {
namespace {

using namespace std::chrono_literals;

TEST(ClientQueue, StatesConflateToTheLatestInFirstQueuedOrder) {
  ClientQueue q(16, 16);
  for (int i = 0; i < 100; ++i) q.put_latest("book:BTCUSDT", "btc-book-" + std::to_string(i));
  q.put_latest("candle:BTCUSDT:1m", "candle-1");
  q.put_latest("book:ETHUSDT", "eth-book-1");
  q.put_latest("candle:BTCUSDT:1m", "candle-2");
  EXPECT_EQ(q.queued(), 3u);
  auto b = q.take(0ms);
  EXPECT_EQ(b.messages, (std::vector<std::string>{"btc-book-99", "candle-2", "eth-book-1"}));
  EXPECT_EQ(b.dropped, 0u);  // superseded states are not losses
  EXPECT_EQ(q.queued(), 0u);
}

TEST(ClientQueue, StreamItemsAreBoundedAndDroppedOldestFirstWithACount) {
  ClientQueue q(3, 4);
  for (int i = 1; i <= 5; ++i) q.put_stream("trade-" + std::to_string(i));
  q.put_latest("book:BTCUSDT", "book");
  auto b = q.take(0ms);
  EXPECT_EQ(b.messages, (std::vector<std::string>{"book", "trade-3", "trade-4", "trade-5"}));
  EXPECT_EQ(b.dropped, 2u);
  EXPECT_EQ(q.dropped_total(), 2u);
  // The count is reported once; the next batch starts clean.
  q.put_stream("trade-6");
  auto next = q.take(0ms);
  EXPECT_EQ(next.messages, (std::vector<std::string>{"trade-6"}));
  EXPECT_EQ(next.dropped, 0u);
  EXPECT_EQ(q.dropped_total(), 2u);
}

TEST(ClientQueue, TooManyStateKeysDropTheOldestQueuedKey) {
  ClientQueue q(4, 2);
  q.put_latest("a", "a1");
  q.put_latest("b", "b1");
  q.put_latest("c", "c1");
  auto b = q.take(0ms);
  EXPECT_EQ(b.messages, (std::vector<std::string>{"b1", "c1"}));
  EXPECT_EQ(b.dropped, 1u);
}

TEST(ClientQueue, AProducerNeverWaitsForAClientThatDoesNotRead) {
  ClientQueue stuck(1000, 64);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 200000; ++i) {
    stuck.put_stream(std::string(100, 'x'));
    stuck.put_latest("book:" + std::to_string(i % 10), "state");
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(elapsed, 5s);
  EXPECT_EQ(stuck.queued(), 1000u + 10u);  // memory stays at the bounds
  EXPECT_EQ(stuck.dropped_total(), 199000u);
}

TEST(ClientQueue, TakeWaitsForWorkAndCloseWakesIt) {
  ClientQueue q(8, 8);
  auto empty = q.take(20ms);
  EXPECT_TRUE(empty.messages.empty());
  EXPECT_FALSE(empty.closed);
  std::atomic<bool> got{false};
  std::thread consumer([&] {
    auto b = q.take(10s);
    got = !b.messages.empty() && b.messages[0] == "hello";
  });
  std::this_thread::sleep_for(20ms);
  q.put_stream("hello");
  consumer.join();
  EXPECT_TRUE(got.load());
  std::thread waiter([&] {
    const auto t0 = std::chrono::steady_clock::now();
    auto b = q.take(10s);
    EXPECT_TRUE(b.closed);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  });
  std::this_thread::sleep_for(20ms);
  q.close();
  waiter.join();
  q.put_stream("after close");  // ignored
  EXPECT_EQ(q.queued(), 0u);
}

}  // namespace
}  // namespace sf::services::visualizer
