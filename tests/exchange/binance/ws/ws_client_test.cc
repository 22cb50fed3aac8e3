// The WebSocket client against exchange-sim's replay server: frames, reconnects through the
// limiter, backoff with jitter while refused, and make-before-break switch-overs without a gap.
#include "exchange/binance/ws/ws_client.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "services/exchange_sim/ws_replay.h"
#include "test_support.h"

namespace sf::binance {
namespace {

using namespace std::chrono_literals;
using services::exchange_sim::WsReplay;
using services::exchange_sim::WsReplayOptions;
using Clock = std::chrono::steady_clock;

constexpr const char* kCapture = "hftbacktest_ws_spot/btcusdt_20240808.gz";
constexpr std::int64_t kFirstTrade = 3735683259;
constexpr std::int64_t kTrades = 9757;

std::int64_t trade_id(std::string_view payload) {
  const auto at = payload.find("\"t\":");
  if (at == std::string_view::npos) return -1;
  return std::stoll(std::string(payload.substr(at + 4, 20)));
}

std::unique_ptr<WsReplay> start_replay(WsReplayOptions options) {
  options.files = {(sf::testing::shared_data_dir() / kCapture).string()};
  auto replay = WsReplay::start(options);
  if (!replay) {
    ADD_FAILURE() << replay.error();
    return nullptr;
  }
  return std::move(replay).value();
}

// Everything the callbacks saw, guarded for the test thread.
struct Recorder {
  std::mutex mutex;
  std::map<std::uint64_t, std::vector<std::int64_t>> trades_by_connection;
  std::set<std::int64_t> trade_ids;
  std::vector<WsStatus> statuses;
  std::vector<Clock::time_point> connected_at;

  WsClient::FrameCallback frames() {
    return [this](std::string_view payload, std::int64_t receive_us, std::uint64_t connection) {
      EXPECT_GT(receive_us, 0);
      const auto id = trade_id(payload);
      std::lock_guard lock(mutex);
      if (id < 0) return;
      trades_by_connection[connection].push_back(id);
      trade_ids.insert(id);
    };
  }
  WsClient::StatusCallback status() {
    return [this](const WsStatus& status) {
      std::lock_guard lock(mutex);
      statuses.push_back(status);
      if (status.kind == WsStatus::Kind::kConnected) connected_at.push_back(Clock::now());
    };
  }
  std::size_t unique_trades() {
    std::lock_guard lock(mutex);
    return trade_ids.size();
  }
  // Waits until `done` holds (checked under the lock) or the timeout passes.
  template <class Done>
  bool wait_for(std::chrono::milliseconds timeout, Done done) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      {
        std::lock_guard lock(mutex);
        if (done()) return true;
      }
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }
  // Each connection's trades in order (+1 steps), and the union every trade of the capture.
  void expect_complete_and_ordered() {
    std::lock_guard lock(mutex);
    for (const auto& [connection, ids] : trades_by_connection) {
      for (std::size_t i = 1; i < ids.size(); ++i) {
        ASSERT_EQ(ids[i], ids[i - 1] + 1) << "connection " << connection << " index " << i;
      }
    }
    ASSERT_EQ(trade_ids.size(), static_cast<std::size_t>(kTrades));
    EXPECT_EQ(*trade_ids.begin(), kFirstTrade);
    EXPECT_EQ(*trade_ids.rbegin(), kFirstTrade + kTrades - 1);
  }
};

TEST(WsClientTargets, LowerCasesSymbolsDedupesAndShards) {
  std::vector<std::string> streams = {"BTCUSDT@trade", "btcusdt@trade", "BTCUSDT@bookTicker"};
  EXPECT_EQ(build_stream_targets(streams, true, 1024),
            std::vector<std::string>{"/stream?streams=btcusdt@trade/btcusdt@bookTicker"});
  EXPECT_EQ(build_stream_targets({"ETHUSDT@depth@100ms"}, false, 1024),
            std::vector<std::string>{"/ws/ethusdt@depth@100ms"});
  std::vector<std::string> many;
  for (int i = 0; i < 2500; ++i) {
    std::string name = "s";
    name.append(std::to_string(i)).append("usdt@trade");
    many.push_back(std::move(name));
  }
  const auto targets = build_stream_targets(many, true, 1024);
  ASSERT_EQ(targets.size(), 3u);
  EXPECT_EQ(std::count(targets[0].begin(), targets[0].end(), '/'), 1024);  // "/stream" + 1023
  EXPECT_EQ(std::count(targets[2].begin(), targets[2].end(), '/'), 2500 - 2048);
}

TEST(WsClientTargets, ConnectLimiterIsASlidingWindow) {
  ConnectLimiter limiter(300, 5min);
  const auto t0 = Clock::now();
  for (int i = 0; i < 300; ++i) {
    ASSERT_EQ(limiter.wait(t0 + std::chrono::seconds(i)), Clock::duration::zero());
    limiter.record(t0 + std::chrono::seconds(i));
  }
  EXPECT_EQ(limiter.wait(t0 + 300s), 0s) << "the first attempt left the window";
  limiter.record(t0 + 300s);
  EXPECT_EQ(limiter.wait(t0 + 300s), 1s);
}

TEST(WsClientTargets, BadOptionsAreRejected) {
  auto frames = [](std::string_view, std::int64_t, std::uint64_t) {};
  EXPECT_FALSE(WsClient::create({.base_url = "http://x", .streams = {"a@trade"}}, frames).ok());
  EXPECT_FALSE(WsClient::create({.base_url = "ws://127.0.0.1:1"}, frames).ok());  // no streams
  EXPECT_FALSE(WsClient::create({.base_url = "wss://127.0.0.1:1",
                                 .streams = {"a@trade"},
                                 .ca_file = "/nonexistent/ca.pem"},
                                frames)
                   .ok());
  EXPECT_TRUE(WsClient::create(
                  {.base_url = "wss://stream.binance.com:9443", .streams = {"a@trade"}}, frames)
                  .ok());
}

class WsClientReplay : public ::testing::Test {
 protected:
  void SetUp() override { SF_REQUIRE_SHARED_DATA(kCapture); }
};

TEST_F(WsClientReplay, ReceivesEveryTradeOfTheCapture) {
  auto replay = start_replay({});
  ASSERT_TRUE(replay);
  Recorder recorder;
  auto client = WsClient::create(
      {.base_url = replay->base_url(), .streams = {"BTCUSDT@trade"}, .max_connection_age = 0ms},
      recorder.frames(), recorder.status());
  ASSERT_TRUE(client.ok()) << client.error();
  (*client)->start();
  EXPECT_TRUE(recorder.wait_for(20s, [&] { return recorder.trade_ids.size() >= kTrades; }));
  (*client)->stop();
  recorder.expect_complete_and_ordered();
  EXPECT_EQ((*client)->stats().connections, 1u);
}

TEST_F(WsClientReplay, DisconnectsCauseReconnectsWithinTheLimiter) {
  auto replay = start_replay({.speed = 50, .faults = {.disconnect_every = 200}});
  ASSERT_TRUE(replay);
  Recorder recorder;
  constexpr int kMaxAttempts = 4;
  constexpr auto kWindow = 1000ms;
  auto client = WsClient::create({.base_url = replay->base_url(),
                                  .streams = {"btcusdt@trade"},
                                  .initial_backoff = 10ms,
                                  .max_backoff = 40ms,
                                  .max_attempts_per_window = kMaxAttempts,
                                  .attempt_window = kWindow,
                                  .max_connection_age = 0ms,
                                  .seed = 7},
                                 recorder.frames(), recorder.status());
  ASSERT_TRUE(client.ok()) << client.error();
  (*client)->start();
  EXPECT_TRUE(recorder.wait_for(10s, [&] { return recorder.connected_at.size() >= 12; }));
  (*client)->stop();
  std::lock_guard lock(recorder.mutex);
  // Connections open at most kMaxAttempts times in any window.
  const auto& at = recorder.connected_at;
  for (std::size_t i = kMaxAttempts; i < at.size(); ++i) {
    EXPECT_GE(at[i] - at[i - kMaxAttempts], kWindow - 50ms) << i;
  }
  EXPECT_GT((*client)->stats().limiter_waits, 0u);
  EXPECT_GE(recorder.trades_by_connection.size(), 10u);
  for (const auto& [connection, ids] : recorder.trades_by_connection) {
    EXPECT_LE(ids.size(), 200u);
  }
}

TEST_F(WsClientReplay, RefusedConnectionsBackOffWithJitterThenRecover) {
  auto replay = start_replay({.speed = 20, .faults = {.refuse_connections_for = 1500ms}});
  ASSERT_TRUE(replay);
  Recorder recorder;
  auto client = WsClient::create({.base_url = replay->base_url(),
                                  .streams = {"btcusdt@trade"},
                                  .initial_backoff = 50ms,
                                  .max_backoff = 400ms,
                                  .jitter = 0.5,
                                  .max_connection_age = 0ms,
                                  .seed = 11},
                                 recorder.frames(), recorder.status());
  ASSERT_TRUE(client.ok()) << client.error();
  (*client)->start();
  EXPECT_TRUE(recorder.wait_for(10s, [&] { return recorder.trade_ids.size() >= 20; }));
  (*client)->stop();
  std::lock_guard lock(recorder.mutex);
  std::vector<WsStatus> backoffs;
  for (const WsStatus& status : recorder.statuses) {
    if (status.kind == WsStatus::Kind::kReconnecting) backoffs.push_back(status);
  }
  ASSERT_GE(backoffs.size(), 4u);
  bool jittered = false;
  for (std::size_t i = 0; i < backoffs.size(); ++i) {
    const int n = backoffs[i].attempt;
    EXPECT_EQ(n, static_cast<int>(i) + 1);
    const std::int64_t base = std::min<std::int64_t>(400, 50LL << (n - 1));
    EXPECT_GE(backoffs[i].delay.count(), base / 2) << "attempt " << n;
    EXPECT_LE(backoffs[i].delay.count(), base) << "attempt " << n;
    if (backoffs[i].delay.count() != base) jittered = true;
  }
  EXPECT_TRUE(jittered);
  EXPECT_EQ(recorder.connected_at.size(), 1u);
  EXPECT_GE(replay->stats().connections_refused, 4u);
}

TEST_F(WsClientReplay, ServerShutdownSwitchesOverWithoutAGap) {
  // Every connection is told to go after 1,500 trades and cut 1 s later; at max speed the
  // replay runs on while the client switches.
  auto replay = start_replay({.faults = {.server_shutdown_after = 1500}, .shutdown_grace = 1s});
  ASSERT_TRUE(replay);
  Recorder recorder;
  auto client = WsClient::create({.base_url = replay->base_url(),
                                  .streams = {"btcusdt@trade"},
                                  .max_connection_age = 0ms,
                                  .switch_overlap = 300ms},
                                 recorder.frames(), recorder.status());
  ASSERT_TRUE(client.ok()) << client.error();
  (*client)->start();
  EXPECT_TRUE(recorder.wait_for(20s, [&] { return recorder.trade_ids.size() >= kTrades; }));
  (*client)->stop();
  recorder.expect_complete_and_ordered();
  const auto stats = (*client)->stats();
  EXPECT_GE(stats.server_shutdowns, 1u);
  EXPECT_GE(stats.switchovers, 1u);
  EXPECT_EQ(stats.switchovers, stats.server_shutdowns);
}

TEST_F(WsClientReplay, MaxConnectionAgeSwitchesOverWithoutAGap) {
  // 100x the recorded pace (~3.5 s for the capture); the server ends connections at 1 s, the
  // client replaces them at 600 ms, before that happens.
  auto replay = start_replay({.speed = 100, .faults = {.max_connection_age = 1000ms}});
  ASSERT_TRUE(replay);
  Recorder recorder;
  auto client = WsClient::create({.base_url = replay->base_url(),
                                  .streams = {"btcusdt@trade"},
                                  .max_connection_age = 600ms,
                                  .switch_overlap = 200ms},
                                 recorder.frames(), recorder.status());
  ASSERT_TRUE(client.ok()) << client.error();
  (*client)->start();
  EXPECT_TRUE(recorder.wait_for(20s, [&] { return recorder.trade_ids.size() >= kTrades; }));
  (*client)->stop();
  recorder.expect_complete_and_ordered();
  EXPECT_GE((*client)->stats().switchovers, 3u);
  EXPECT_EQ(replay->stats().age_closes, 0u) << "the client switched before the server cut";
}

TEST_F(WsClientReplay, StaleStreamIsReplaced) {
  // Subscribed to a stream that the capture does not have: silence, so the watchdog fires.
  auto replay = start_replay({.speed = 1});
  ASSERT_TRUE(replay);
  Recorder recorder;
  auto client = WsClient::create({.base_url = replay->base_url(),
                                  .streams = {"ethusdt@trade"},
                                  .stale_after = 200ms,
                                  .max_connection_age = 0ms},
                                 recorder.frames(), recorder.status());
  ASSERT_TRUE(client.ok()) << client.error();
  (*client)->start();
  EXPECT_TRUE(recorder.wait_for(5s, [&] { return recorder.connected_at.size() >= 2; }));
  (*client)->stop();
  EXPECT_GE((*client)->stats().stale, 1u);
  std::lock_guard lock(recorder.mutex);
  bool stale_reported = false;
  for (const WsStatus& status : recorder.statuses) {
    if (status.kind == WsStatus::Kind::kDisconnected && status.reason.starts_with("stale")) {
      stale_reported = true;
    }
  }
  EXPECT_TRUE(stale_reported);
}

}  // namespace
}  // namespace sf::binance
