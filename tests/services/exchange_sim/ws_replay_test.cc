// The WebSocket replay of exchange-sim, seen from a minimal Beast client: byte-identical frames
// on combined and raw paths, control messages, keep-alive, the shared live position and every
// fault.
#include "services/exchange_sim/ws_replay.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <limits>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "exchange/binance/book/order_book.h"
#include "exchange/binance/parse.h"
#include "services/exchange_sim/exchange_sim.h"
#include "sim_test_support.h"
#include "tools/normalize.h"

namespace sf::services::exchange_sim {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

constexpr const char* kCapture = "hftbacktest_ws_spot/btcusdt_20240808.gz";
constexpr const char* kCryptofeed = "cryptofeed_ws_spot_2021-10-12/BINANCE.ws.1.0.txt";
constexpr const char* kAllStreams =
    "/stream?streams=btcusdt@trade/btcusdt@depth@100ms/btcusdt@bookTicker";
constexpr std::size_t kTrades = 9'757;
constexpr std::size_t kDepthUpdates = 3'451;
constexpr std::size_t kBookTickers = 28'040;

std::string capture_path(const char* relative) {
  return (sf::testing::shared_data_dir() / relative).string();
}

// The capture's frames, split independently of the replay's loader: text after the first space.
std::vector<std::string> recorded_frames(const char* relative, std::string_view stream = {}) {
  std::vector<std::string> frames;
  std::string error;
  std::string prefix = "{\"stream\":\"";
  prefix.append(stream);
  const bool read = tools::for_each_line(
      capture_path(relative),
      [&](std::string_view line) {
        const auto space = line.find(' ');
        if (space == std::string_view::npos) return;
        std::string_view frame = line.substr(space + 1);
        while (!frame.empty() && (frame.back() == '\n' || frame.back() == '\r'))
          frame.remove_suffix(1);
        if (!frame.starts_with("{\"stream\":")) return;
        if (!stream.empty() && !(frame.starts_with(prefix) && frame[prefix.size()] == '"')) return;
        frames.emplace_back(frame);
      },
      &error);
  EXPECT_TRUE(read) << error;
  return frames;
}

// {"stream":"x","data":<payload>} -> <payload>
std::string payload_of(const std::string& frame) {
  const auto data = frame.find(",\"data\":");
  return frame.substr(data + 8, frame.size() - data - 9);
}

std::int64_t int_field(std::string_view json, std::string_view key) {
  std::string needle = "\"";
  needle.append(key);
  needle.append("\":");
  const auto at = json.find(needle);
  if (at == std::string_view::npos) return -1;
  return std::stoll(std::string(json.substr(at + needle.size(), 20)));
}

// A blocking test client: each read runs the io_context until the message or the timeout.
class WsClient {
 public:
  // nullptr when the upgrade fails; *status gets the HTTP status of a refused upgrade.
  static std::unique_ptr<WsClient> connect(int port, const std::string& target,
                                           int* status = nullptr) {
    auto client = std::unique_ptr<WsClient>(new WsClient());
    beast::error_code ec;
    beast::get_lowest_layer(client->ws_)
        .connect(
            tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<std::uint16_t>(port)),
            ec);
    if (ec) return nullptr;
    client->ws_.control_callback(
        [raw = client.get()](websocket::frame_type kind, beast::string_view) {
          if (kind == websocket::frame_type::ping) ++raw->pings;
          if (kind == websocket::frame_type::pong) ++raw->pongs;
        });
    websocket::response_type response;
    client->ws_.handshake(response, "127.0.0.1:" + std::to_string(port), target, ec);
    if (status) *status = static_cast<int>(response.result_int());
    if (ec) return nullptr;
    return client;
  }

  // The next text message; nullopt once the connection ended (see error()) or on timeout.
  std::optional<std::string> read(std::chrono::milliseconds timeout = 10s) {
    if (ended_) return std::nullopt;
    beast::flat_buffer buffer;
    std::optional<beast::error_code> result;
    ws_.async_read(buffer, [&](beast::error_code ec, std::size_t) { result = ec; });
    io_.restart();
    io_.run_for(timeout);
    if (!result) {  // a cancelled read leaves the stream unusable: treat it as the end
      beast::get_lowest_layer(ws_).cancel();
      io_.restart();
      io_.run();
      ended_ = true;
      timed_out_ = true;
      return std::nullopt;
    }
    if (*result) {
      ended_ = true;
      error_ = *result;
      return std::nullopt;
    }
    return beast::buffers_to_string(buffer.data());
  }

  void send(const std::string& text) { ws_.write(net::buffer(text)); }
  void ping() { ws_.ping({}); }
  void close() {
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).close();
    ended_ = true;
  }

  bool timed_out() const { return timed_out_; }
  beast::error_code error() const { return error_; }
  websocket::close_reason close_reason() const { return ws_.reason(); }

  int pings = 0;
  int pongs = 0;

 private:
  WsClient() = default;
  net::io_context io_;
  websocket::stream<beast::tcp_stream> ws_{io_};
  bool ended_ = false;
  bool timed_out_ = false;
  beast::error_code error_;
};

std::unique_ptr<WsReplay> start_replay(WsReplayOptions options,
                                       std::vector<std::string> files = {capture_path(kCapture)}) {
  options.files = std::move(files);
  auto replay = WsReplay::start(options);
  if (!replay) {
    ADD_FAILURE() << replay.error();
    return nullptr;
  }
  return std::move(replay).value();
}

class WsReplayTest : public ::testing::Test {
 protected:
  void SetUp() override { SF_REQUIRE_SHARED_DATA(kCapture); }
};

TEST_F(WsReplayTest, LoadsHftbacktestAndCryptofeedCaptures) {
  auto capture = load_capture({capture_path(kCapture)});
  ASSERT_TRUE(capture.ok()) << capture.error();
  const Capture& c = **capture;
  EXPECT_EQ(c.frames.size(), kTrades + kDepthUpdates + kBookTickers);
  EXPECT_EQ(c.skipped_lines, 0u);
  ASSERT_EQ(c.snapshots.size(), 1u);  // the REST depth snapshot, line 8
  EXPECT_EQ(c.snapshots[0].symbol, "BTCUSDT");
  EXPECT_EQ(c.snapshots[0].position, 7u);
  EXPECT_TRUE(c.snapshots[0].body.starts_with(R"({"lastUpdateId":50093239218,"bids":[)"));
  EXPECT_EQ(c.streams.size(), 3u);
  std::size_t depth = 0;
  for (std::size_t i = 0; i < c.frames.size(); ++i) {
    depth += c.frames[i].depth_update ? 1 : 0;
    if (i > 0) {
      ASSERT_LE(c.frames[i - 1].time_us, c.frames[i].time_us);
    }
  }
  EXPECT_EQ(depth, kDepthUpdates);
  EXPECT_EQ(c.frames.front().time_us, 1723161253937085);  // ns prefix read as µs

  SF_REQUIRE_SHARED_DATA(kCryptofeed);
  auto cryptofeed = load_capture({capture_path(kCryptofeed)});
  ASSERT_TRUE(cryptofeed.ok()) << cryptofeed.error();
  EXPECT_EQ((*cryptofeed)->frames.size(), 265u);
  EXPECT_EQ((*cryptofeed)->skipped_lines, 1u);  // the URL header
  EXPECT_EQ((*cryptofeed)->frames.front().time_us, 1633998512063356);

  EXPECT_FALSE(load_capture({"/nonexistent/capture.gz"}).ok());
}

TEST_F(WsReplayTest, CombinedStreamSendsEveryFrameByteIdentical) {
  const auto expected = recorded_frames(kCapture);
  ASSERT_EQ(expected.size(), kTrades + kDepthUpdates + kBookTickers);
  auto replay = start_replay({});
  ASSERT_TRUE(replay);
  auto client = WsClient::connect(replay->port(), kAllStreams);
  ASSERT_TRUE(client);
  std::vector<std::string> got;
  std::size_t trades = 0;
  while (got.size() < expected.size()) {
    auto message = client->read(5s);
    if (!message) break;
    if (message->starts_with("{\"stream\":\"btcusdt@trade\"")) ++trades;
    got.push_back(std::move(*message));
  }
  EXPECT_EQ(trades, kTrades);
  ASSERT_EQ(got.size(), expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], expected[i]) << "frame " << i;
  EXPECT_FALSE(client->read(200ms)) << "nothing after the capture's end";
  EXPECT_TRUE(replay->stats().finished);
}

TEST_F(WsReplayTest, RawStreamSendsPayloadsOnly) {
  const auto expected = recorded_frames(kCapture, "btcusdt@trade");
  ASSERT_EQ(expected.size(), kTrades);
  auto replay = start_replay({});
  ASSERT_TRUE(replay);
  auto client = WsClient::connect(replay->port(), "/ws/btcusdt@trade");
  ASSERT_TRUE(client);
  for (std::size_t i = 0; i < expected.size(); ++i) {
    auto message = client->read(5s);
    ASSERT_TRUE(message) << "frame " << i;
    ASSERT_EQ(*message, payload_of(expected[i])) << "frame " << i;
  }
}

TEST_F(WsReplayTest, SubscribeListUnsubscribeAndErrors) {
  // Paced, so that the replay is still running when the subscription arrives.
  auto replay = start_replay({.speed = 20});
  ASSERT_TRUE(replay);
  auto client = WsClient::connect(replay->port(), "/ws");
  ASSERT_TRUE(client);
  client->send(R"({"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":1})");
  EXPECT_EQ(client->read(), R"({"result":null,"id":1})");
  client->send(R"({"method":"LIST_SUBSCRIPTIONS","id":"abc"})");
  std::int64_t last_id = -1;
  int trades = 0;
  bool listed = false;
  while (trades < 5 || !listed) {
    auto message = client->read(5s);
    ASSERT_TRUE(message);
    if (message->starts_with("{\"result\"")) {
      EXPECT_EQ(*message, R"({"result":["btcusdt@trade"],"id":"abc"})");
      listed = true;
      continue;
    }
    ASSERT_TRUE(message->starts_with(R"({"e":"trade")")) << *message;
    const auto id = int_field(*message, "t");
    if (last_id >= 0) {
      EXPECT_EQ(id, last_id + 1);
    }
    last_id = id;
    ++trades;
  }
  client->send(R"({"method":"UNSUBSCRIBE","params":["btcusdt@trade"],"id":3})");
  client->send("not json");
  client->send(R"({"method":"NOPE","id":4})");
  std::vector<std::string> replies;
  while (replies.size() < 3) {
    auto message = client->read(5s);
    ASSERT_TRUE(message);
    if (!message->starts_with(R"({"e":"trade")")) replies.push_back(*message);
  }
  EXPECT_EQ(replies[0], R"({"result":null,"id":3})");
  EXPECT_TRUE(replies[1].starts_with(R"({"code":3,)")) << replies[1];
  EXPECT_TRUE(replies[2].starts_with(R"({"code":2,)")) << replies[2];
  EXPECT_TRUE(replies[2].ends_with(R"("id":4})")) << replies[2];
  EXPECT_EQ(replay->stats().control_messages, 5u);
}

TEST_F(WsReplayTest, ReconnectingClientContinuesAtTheLivePosition) {
  auto replay = start_replay({.speed = 20});
  ASSERT_TRUE(replay);
  auto first = WsClient::connect(replay->port(), "/ws/btcusdt@trade");
  ASSERT_TRUE(first);
  std::int64_t last = -1;
  for (int i = 0; i < 10; ++i) {
    auto message = first->read();
    ASSERT_TRUE(message);
    last = int_field(*message, "t");
  }
  first->close();
  std::this_thread::sleep_for(1500ms);  // ~30 s of the recording go by
  auto second = WsClient::connect(replay->port(), "/ws/btcusdt@trade");
  ASSERT_TRUE(second);
  auto message = second->read();
  ASSERT_TRUE(message);
  EXPECT_GT(int_field(*message, "t"), last + 1) << "trades sent while away are missed";
}

TEST_F(WsReplayTest, DisconnectEveryDropsTheConnectionAfterNFrames) {
  auto replay = start_replay({.faults = {.disconnect_every = 100}});
  ASSERT_TRUE(replay);
  auto client = WsClient::connect(replay->port(), "/stream?streams=btcusdt@trade");
  ASSERT_TRUE(client);
  int frames = 0;
  while (client->read(5s)) ++frames;
  EXPECT_EQ(frames, 100);
  EXPECT_FALSE(client->timed_out());
  EXPECT_NE(client->error(), websocket::error::closed) << "dropped, not closed politely";
  EXPECT_EQ(replay->stats().disconnects_injected, 1u);
}

TEST_F(WsReplayTest, DropDepthEverySkipsEveryNthDepthUpdate) {
  auto replay = start_replay({.faults = {.drop_depth_every = 10}});
  ASSERT_TRUE(replay);
  auto client = WsClient::connect(replay->port(), "/ws/btcusdt@depth@100ms");
  ASSERT_TRUE(client);
  std::size_t frames = 0;
  std::size_t gaps = 0;
  std::int64_t last_u = -1;
  while (frames < kDepthUpdates - kDepthUpdates / 10) {
    auto message = client->read(5s);
    ASSERT_TRUE(message) << "after " << frames;
    const auto first = int_field(*message, "U");
    if (last_u >= 0 && first != last_u + 1) ++gaps;
    last_u = int_field(*message, "u");
    ++frames;
  }
  EXPECT_FALSE(client->read(300ms));
  EXPECT_EQ(gaps, kDepthUpdates / 10);
  EXPECT_EQ(replay->stats().depth_dropped, kDepthUpdates / 10);
}

TEST_F(WsReplayTest, DuplicateEverySendsEveryNthFrameTwice) {
  auto replay = start_replay({.faults = {.duplicate_every = 50}});
  ASSERT_TRUE(replay);
  auto client = WsClient::connect(replay->port(), "/ws/btcusdt@trade");
  ASSERT_TRUE(client);
  std::vector<std::int64_t> ids;
  while (ids.size() < kTrades + kTrades / 50) {
    auto message = client->read(5s);
    ASSERT_TRUE(message) << "after " << ids.size();
    ids.push_back(int_field(*message, "t"));
  }
  EXPECT_FALSE(client->read(300ms));
  std::size_t repeats = 0;
  for (std::size_t i = 1; i < ids.size(); ++i) {
    if (ids[i] == ids[i - 1]) {
      ++repeats;
    } else {
      ASSERT_EQ(ids[i], ids[i - 1] + 1) << i;
    }
  }
  EXPECT_EQ(repeats, kTrades / 50);
  EXPECT_EQ(ids[49], ids[50]);
}

TEST_F(WsReplayTest, RefusesUpgradesForTheConfiguredPeriod) {
  auto replay = start_replay({.faults = {.refuse_connections_for = 700ms}});
  ASSERT_TRUE(replay);
  // The refusal window opened inside start_replay (after loading the capture, which can take a
  // while on a busy machine), so waiting is measured from its return.
  const auto started = std::chrono::steady_clock::now();
  int status = 0;
  EXPECT_FALSE(WsClient::connect(replay->port(), "/ws/btcusdt@trade", &status));
  EXPECT_EQ(status, 503);
  std::this_thread::sleep_until(started + 800ms);
  auto client = WsClient::connect(replay->port(), "/ws/btcusdt@trade", &status);
  ASSERT_TRUE(client);
  EXPECT_EQ(status, 101);
  EXPECT_TRUE(client->read(5s));
  EXPECT_EQ(replay->stats().connections_refused, 1u);

  EXPECT_FALSE(WsClient::connect(replay->port(), "/api/v3/time", &status));
  EXPECT_EQ(status, 404);
}

TEST_F(WsReplayTest, ServerShutdownEventThenCloseAfterGrace) {
  auto replay =
      start_replay({.speed = 50, .faults = {.server_shutdown_after = 5}, .shutdown_grace = 300ms});
  ASSERT_TRUE(replay);
  auto client = WsClient::connect(replay->port(), "/stream?streams=btcusdt@bookTicker");
  ASSERT_TRUE(client);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(client->read());
  auto event = client->read();
  ASSERT_TRUE(event);
  EXPECT_TRUE(
      event->starts_with(R"({"stream":"!serverShutdown","data":{"e":"serverShutdown","E":)"))
      << *event;
  const auto announced = std::chrono::steady_clock::now();
  int after = 0;
  while (client->read(3s)) ++after;
  const auto closed = std::chrono::steady_clock::now();
  EXPECT_GT(after, 0) << "data keeps flowing during the grace period";
  EXPECT_EQ(client->error(), websocket::error::closed);
  EXPECT_EQ(client->close_reason().code, websocket::close_code::going_away);
  EXPECT_GE(closed - announced, 250ms);
  EXPECT_LT(closed - announced, 2s);
}

TEST_F(WsReplayTest, MaxConnectionAgeClosesOldConnections) {
  auto replay = start_replay({.speed = 20, .faults = {.max_connection_age = 400ms}});
  ASSERT_TRUE(replay);
  const auto opened = std::chrono::steady_clock::now();
  auto client = WsClient::connect(replay->port(), "/ws/btcusdt@bookTicker");
  ASSERT_TRUE(client);
  while (client->read(3s)) {
  }
  const auto age = std::chrono::steady_clock::now() - opened;
  EXPECT_EQ(client->error(), websocket::error::closed);
  EXPECT_EQ(client->close_reason().code, websocket::close_code::going_away);
  EXPECT_GE(age, 350ms);
  EXPECT_LT(age, 2s);
  EXPECT_EQ(replay->stats().age_closes, 1u);
}

TEST_F(WsReplayTest, ServerPingsAndClientPingsAreAnswered) {
  auto replay = start_replay({.ping_interval = 200ms});
  ASSERT_TRUE(replay);
  // Subscribed to nothing: only control frames arrive.
  auto client = WsClient::connect(replay->port(), "/ws");
  ASSERT_TRUE(client);
  client->ping();
  EXPECT_FALSE(client->read(700ms));
  EXPECT_TRUE(client->timed_out());
  EXPECT_GE(client->pings, 2) << "server pings (Beast's client answered them with pongs)";
  EXPECT_EQ(client->pongs, 1) << "our ping was answered";
}

// The capture's book, built here from its lines without the replay's loader: the recorded REST
// snapshot, then every diff (none withheld) that the snapshot does not already hold.
class IndependentBook {
 public:
  IndependentBook() : book_(*Symbol::parse("BTCUSDT")) {
    binance::Parser parser;
    std::string error;
    const bool read = tools::for_each_line(
        capture_path(kCapture),
        [&](std::string_view line) {
          const auto space = line.find(' ');
          if (space == std::string_view::npos) return;
          std::string text(line.substr(space + 1));
          while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
          if (text.starts_with("{\"lastUpdateId\"")) {
            auto snapshot = parser.parse_rest_depth(text, book_.symbol(), 0);
            ASSERT_TRUE(snapshot.ok());
            book_.apply_snapshot(*snapshot);
            return;
          }
          if (text.find("\"e\":\"depthUpdate\"") == std::string::npos) return;
          auto event = parser.parse_ws_frame(text, 0);
          ASSERT_TRUE(event.ok());
          diffs_.push_back(std::get<DepthUpdate>(*event));
        },
        &error);
    EXPECT_TRUE(read) << error;
    snapshot_id_ = book_.last_update_id();
  }

  std::int64_t snapshot_id() const { return snapshot_id_; }
  std::int64_t final_id() const { return diffs_.back().final_update_id; }
  const binance::OrderBook& book() const { return book_; }

  // Applies diffs until the book id is `id`; false when no diff ends there.
  bool advance_to(std::int64_t id) {
    while (book_.last_update_id() < id && next_ < diffs_.size()) {
      const DepthUpdate& diff = diffs_[next_++];
      if (diff.final_update_id > book_.last_update_id()) book_.apply_update(diff);
    }
    return book_.last_update_id() == id;
  }

 private:
  binance::OrderBook book_;
  std::vector<DepthUpdate> diffs_;
  std::size_t next_ = 0;
  std::int64_t snapshot_id_ = 0;
};

// GET /api/v3/depth, parsed; also checks Binance's weight for the limit.
DepthSnapshot rest_depth(const ExchangeSim& sim, std::size_t limit, int weight) {
  const std::int64_t used_before = sim.used_weight();
  const runtime::HttpResponse response =
      sf::testing::get(sim, "/api/v3/depth?symbol=BTCUSDT&limit=" + std::to_string(limit));
  EXPECT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(sim.used_weight() - used_before, weight);
  binance::Parser parser;
  auto parsed = parser.parse_rest_depth(response.body, *Symbol::parse("BTCUSDT"), 0);
  EXPECT_TRUE(parsed.ok()) << response.body;
  return parsed.ok() ? *parsed : DepthSnapshot{*Symbol::parse("BTCUSDT"), -1, {}, {}, false, 0, 0};
}

void expect_same_levels(const std::vector<PriceLevel>& actual,
                        const std::vector<PriceLevel>& expected, std::int64_t id) {
  ASSERT_EQ(actual.size(), expected.size()) << "book id " << id;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    EXPECT_EQ(actual[i].price, expected[i].price) << "level " << i << ", book id " << id;
    EXPECT_EQ(actual[i].quantity, expected[i].quantity) << "level " << i << ", book id " << id;
  }
}

void expect_top_of(const DepthSnapshot& answer, const binance::OrderBook& book, std::size_t n) {
  const DepthSnapshot expected = book.top(n, false);
  EXPECT_EQ(answer.last_update_id, expected.last_update_id);
  expect_same_levels(answer.bids, expected.bids, answer.last_update_id);
  expect_same_levels(answer.asks, expected.asks, answer.last_update_id);
}

// REST depth follows the replay: the recorded snapshot before the replay starts, then at every
// moment the true book (snapshot + all diffs so far, the ones withheld from clients included)
// at some diff's u no older than the last diff a client received, and at the end the whole
// capture's book.
TEST_F(WsReplayTest, RestDepthIsTheTrueBookAtTheReplayPosition) {
  IndependentBook expected;
  ASSERT_FALSE(HasFailure());
  sf::testing::TempDir empty;
  ExchangeSimOptions options;
  options.data_dir = empty.path().string();
  options.replay_files = {capture_path(kCapture)};
  options.ws_faults.drop_depth_every = 7;
  auto started = ExchangeSim::start(options);
  ASSERT_TRUE(started.ok()) << started.error();
  ExchangeSim& sim = **started;

  // Not started (no connection yet): the recorded snapshot.
  const DepthSnapshot before = rest_depth(sim, 100, 5);
  EXPECT_EQ(before.last_update_id, expected.snapshot_id());
  expect_top_of(before, expected.book(), 100);

  auto client = WsClient::connect(sim.ws_port(), kAllStreams);
  ASSERT_TRUE(client);
  std::int64_t last_seen_u = 0;
  std::int64_t last_answer = 0;
  int mid_replay_answers = 0;
  for (std::size_t frames = 1;; ++frames) {
    auto message = client->read(1s);
    if (!message) break;
    if (message->find("\"e\":\"depthUpdate\"") != std::string::npos) {
      last_seen_u = int_field(*message, "u");
    }
    if (frames % 2000 != 0) continue;
    const DepthSnapshot answer = rest_depth(sim, 20, 5);
    ASSERT_GE(answer.last_update_id, last_seen_u) << "never older than what clients received";
    ASSERT_GE(answer.last_update_id, last_answer);
    last_answer = answer.last_update_id;
    if (answer.last_update_id < expected.final_id()) ++mid_replay_answers;
    ASSERT_TRUE(expected.advance_to(answer.last_update_id))
        << answer.last_update_id << " is no diff's u";
    expect_top_of(answer, expected.book(), 20);
  }
  EXPECT_TRUE(client->timed_out()) << "the capture ended; the connection stays open";
  ASSERT_TRUE(sim.ws().stats().finished);
  EXPECT_GT(sim.ws().stats().depth_dropped, 400u);
  EXPECT_GT(mid_replay_answers, 3);

  const DepthSnapshot end = rest_depth(sim, 5000, 250);
  EXPECT_EQ(end.last_update_id, expected.final_id());
  ASSERT_TRUE(expected.advance_to(expected.final_id()));
  expect_top_of(end, expected.book(), 5000);
}

// REST trades follow the replay too: historicalTrades / trades / aggTrades answer from the
// capture's @trade / @aggTrade frames played so far, never from ones not yet sent.
TEST_F(WsReplayTest, RestTradesAndAggTradesAreTheRecordedOnesPlayedSoFar) {
  SF_REQUIRE_SHARED_DATA(kCryptofeed);
  sf::testing::TempDir empty;
  ExchangeSimOptions options;
  options.data_dir = empty.path().string();
  options.replay_files = {capture_path(kCapture)};
  // Paced (the 346 s capture in ~6 s), so that the replay is mid-way when the client asks; at max
  // speed socket buffers could let it run to the end ahead of a slow reader.
  options.replay_speed = 60;
  auto started = ExchangeSim::start(options);
  ASSERT_TRUE(started.ok()) << started.error();
  ExchangeSim& sim = **started;
  const auto trades = recorded_frames(kCapture, "btcusdt@trade");
  ASSERT_EQ(trades.size(), kTrades);
  const auto first_id = int_field(trades.front(), "t");
  const auto last_id = int_field(trades.back(), "t");
  const std::string from_first =
      "/api/v3/historicalTrades?symbol=BTCUSDT&limit=1000&fromId=" + std::to_string(first_id);

  // Nothing played yet: nothing traded (and the symbol is known without data files).
  auto before = sf::testing::get(sim, from_first);
  ASSERT_EQ(before.status, 200) << before.body;
  EXPECT_EQ(before.body, "[]");

  auto client = WsClient::connect(sim.ws_port(), "/ws/btcusdt@trade");
  ASSERT_TRUE(client);
  simdjson::dom::parser json;
  int mid_replay_answers = 0;
  for (std::size_t n = 1;; ++n) {
    auto message = client->read(1s);
    if (!message) break;
    if (n % 1500 != 0) continue;
    const auto received = int_field(*message, "t");
    // The newest REST trade is at least what the client received and never past the capture.
    auto recent = sf::testing::get(sim, "/api/v3/trades?symbol=BTCUSDT&limit=1");
    ASSERT_EQ(recent.status, 200) << recent.body;
    simdjson::dom::array rows = json.parse(recent.body).get_array();
    ASSERT_EQ(rows.size(), 1u);
    const auto newest = rows.at(0)["id"].get_int64().value();
    EXPECT_GE(newest, received);
    EXPECT_LE(newest, last_id);
    mid_replay_answers += newest < last_id;
    // From an id: ids in order from it, as far as played.
    auto page = sf::testing::get(sim, "/api/v3/historicalTrades?symbol=BTCUSDT&limit=1000&fromId=" +
                                          std::to_string(received - 10));
    ASSERT_EQ(page.status, 200);
    simdjson::dom::array ids = json.parse(page.body).get_array();
    ASSERT_GE(ids.size(), 11u);
    std::int64_t want = received - 10;
    for (auto row : ids) EXPECT_EQ(row["id"].get_int64().value(), want++);
  }
  ASSERT_TRUE(sim.ws().stats().finished);
  EXPECT_GT(mid_replay_answers, 2);

  // Played to the end: every trade, fields as recorded (ms times, quoteQty = price x qty).
  auto all = sf::testing::get(sim, from_first);
  ASSERT_EQ(all.status, 200);
  simdjson::dom::array rows = json.parse(all.body).get_array();
  ASSERT_EQ(rows.size(), 1000u);
  auto first = rows.at(0);
  simdjson::dom::parser frame_json;  // `rows` stays valid: a parser's documents are its own
  simdjson::dom::element frame = frame_json.parse(trades.front())["data"];
  EXPECT_EQ(first["id"].get_int64().value(), first_id);
  EXPECT_EQ(first["price"].get_string().value(), frame["p"].get_string().value());
  EXPECT_EQ(first["qty"].get_string().value(), frame["q"].get_string().value());
  EXPECT_EQ(first["time"].get_int64().value(), frame["T"].get_int64().value());
  EXPECT_EQ(first["isBuyerMaker"].get_bool().value(), frame["m"].get_bool().value());
  const Decimal quote = *Decimal::parse(first["quoteQty"].get_string().value());
  EXPECT_EQ(quote, *Decimal::parse(frame["p"].get_string().value()) *
                       *Decimal::parse(frame["q"].get_string().value()));
  auto last = sf::testing::get(sim, "/api/v3/trades?symbol=BTCUSDT&limit=1");
  EXPECT_NE(last.body.find("\"id\":" + std::to_string(last_id) + ","), std::string::npos);

  // aggTrades from the cryptofeed capture's @aggTrade frames, byte for byte.
  ExchangeSimOptions agg_options;
  agg_options.data_dir = empty.path().string();
  agg_options.replay_files = {capture_path(kCryptofeed)};
  auto agg_sim = ExchangeSim::start(agg_options);
  ASSERT_TRUE(agg_sim.ok()) << agg_sim.error();
  const std::string agg_query = "/api/v3/aggTrades?symbol=NKNUSDT&fromId=0";
  EXPECT_EQ(sf::testing::get(**agg_sim, agg_query).body, "[]") << "not played yet";
  auto agg_client = WsClient::connect((*agg_sim)->ws_port(), "/ws/nknusdt@aggTrade");
  ASSERT_TRUE(agg_client);
  ASSERT_TRUE(agg_client->read(5s));
  for (int i = 0; i < 100 && !(*agg_sim)->ws().stats().finished; ++i)
    std::this_thread::sleep_for(50ms);
  EXPECT_EQ(sf::testing::get(**agg_sim, agg_query).body,
            R"([{"a":15683430,"p":"0.35280000","q":"58.00000000","f":19862790,"l":19862790,)"
            R"("T":1633998523963,"m":false,"M":true}])");

  // Switched off: the data files only (none here: an unknown symbol).
  ExchangeSimOptions off = options;
  off.rest_trades_from_replay = false;
  auto files_only = ExchangeSim::start(off);
  ASSERT_TRUE(files_only.ok());
  EXPECT_EQ(sf::testing::get(**files_only, from_first).status, 400);
}

TEST_F(WsReplayTest, ExchangeSimServesTheReplayOnItsWebSocketPort) {
  SF_REQUIRE_SHARED_DATA(kCryptofeed);
  sf::testing::TempDir empty;
  ExchangeSimOptions options;
  options.data_dir = empty.path().string();
  options.replay_files = {capture_path(kCryptofeed)};
  auto sim = ExchangeSim::start(options);
  ASSERT_TRUE(sim.ok()) << sim.error();
  EXPECT_NE((*sim)->ws_port(), (*sim)->port());
  EXPECT_EQ((*sim)->ws_base_url(), "ws://127.0.0.1:" + std::to_string((*sim)->ws_port()));
  auto client = WsClient::connect((*sim)->ws_port(), "/stream?streams=nknusdt@aggTrade");
  ASSERT_TRUE(client);
  auto message = client->read(5s);
  ASSERT_TRUE(message);
  EXPECT_TRUE(message->starts_with(R"({"stream":"nknusdt@aggTrade","data":{"e":"aggTrade")"))
      << *message;
  EXPECT_EQ((*sim)->ws().stats().frames_loaded, 265u);
}

// A looped replay is a market that goes on: pass 2 sends the recording with every trade id
// continuing where pass 1 ended, depth update ids after a one-id gap (a book keeper resyncs) and
// exchange times a whole number of minutes later; nothing else in a frame changes. REST /depth
// answers with the same ids as the stream.
TEST_F(WsReplayTest, LoopedReplayMovesIdsAndTimesOnWithEachPass) {
  constexpr const char* kFirst5000 = "hftbacktest_ws_spot/btcusdt_20240808_first5000.frames.jsonl";
  SF_REQUIRE_SHARED_DATA(kFirst5000);
  std::vector<std::string> recorded;
  std::string error;
  ASSERT_TRUE(tools::for_each_line(
      capture_path(kFirst5000),
      [&](std::string_view line) {
        while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
        if (line.starts_with("{\"stream\":")) recorded.emplace_back(line);
      },
      &error))
      << error;
  ASSERT_GT(recorded.size(), 4000u);
  std::int64_t min_trade = std::numeric_limits<std::int64_t>::max(), max_trade = 0,
               min_update = std::numeric_limits<std::int64_t>::max(), max_update = 0;
  std::int64_t min_time = std::numeric_limits<std::int64_t>::max(), max_time = 0;
  for (const std::string& frame : recorded) {
    if (frame.find("\"e\":\"trade\"") != std::string::npos) {
      min_trade = std::min(min_trade, int_field(frame, "t"));
      max_trade = std::max(max_trade, int_field(frame, "t"));
    }
    // Depth diffs and best bid/ask share one update-id sequence.
    if (frame.find("\"e\":\"depthUpdate\"") != std::string::npos) {
      min_update = std::min(min_update, int_field(frame, "U"));
      max_update = std::max(max_update, int_field(frame, "u"));
    } else if (frame.find("@bookTicker\"") != std::string::npos) {
      min_update = std::min(min_update, int_field(frame, "u"));
      max_update = std::max(max_update, int_field(frame, "u"));
    }
    for (const char* key : {"E", "T"}) {
      if (const auto t = int_field(frame, key); t > 0) {
        min_time = std::min(min_time, t);
        max_time = std::max(max_time, t);
      }
    }
  }
  ASSERT_LT(max_time - min_time, 60'000) << "the sample spans under a minute";

  auto replay = start_replay({.speed = 0, .loop = true}, {capture_path(kFirst5000)});
  ASSERT_TRUE(replay);
  auto client = WsClient::connect(replay->port(), kAllStreams);
  ASSERT_TRUE(client);
  std::vector<std::string> got;
  while (got.size() < 2 * recorded.size() + 100) {
    auto message = client->read(5s);
    ASSERT_TRUE(message) << "after " << got.size();
    got.push_back(std::move(*message));
  }
  for (std::size_t i = 0; i < recorded.size(); ++i) {
    ASSERT_EQ(got[i], recorded[i]) << "pass 1 is the recording, byte for byte (frame " << i << ")";
  }
  // Unquoted integers masked: what is left (streams, prices, quantities, flags) is unchanged.
  const std::regex integer(R"(:-?[0-9]+([,}]))");
  std::int64_t last_trade_pass1 = 0, first_trade_pass2 = 0, last_u_pass1 = 0, first_u_pass2 = 0;
  for (std::size_t i = 0; i < recorded.size(); ++i) {
    const std::string& before = recorded[i];
    const std::string& after = got[recorded.size() + i];
    ASSERT_EQ(std::regex_replace(after, integer, ":#$1"),
              std::regex_replace(before, integer, ":#$1"))
        << "frame " << i;
    if (before.find("\"e\":\"trade\"") != std::string::npos) {
      EXPECT_EQ(int_field(after, "t"), int_field(before, "t") + (max_trade - min_trade + 1));
      EXPECT_EQ(int_field(after, "T"), int_field(before, "T") + 60'000);
      last_trade_pass1 = int_field(before, "t");
      if (first_trade_pass2 == 0) first_trade_pass2 = int_field(after, "t");
    }
    if (before.find("\"e\":\"depthUpdate\"") != std::string::npos) {
      EXPECT_EQ(int_field(after, "U"), int_field(before, "U") + (max_update - min_update + 2));
      EXPECT_EQ(int_field(after, "E"), int_field(before, "E") + 60'000);
      last_u_pass1 = int_field(before, "u");
      if (first_u_pass2 == 0) first_u_pass2 = int_field(after, "U");
    }
  }
  EXPECT_EQ(first_trade_pass2, last_trade_pass1 + 1) << "the tape goes on without a gap";
  EXPECT_GT(first_u_pass2, max_update + 1) << "after every id of pass 1 and one skipped";
  EXPECT_GT(first_u_pass2, last_u_pass1 + 1) << "a gap: book keepers resync";
  EXPECT_GE(replay->stats().passes_completed, 1);

  // REST /depth in the current pass: the stream's ids, not the recording's.
  const std::int64_t pass = replay->stats().passes_completed;  // before: passes only grow
  const auto body = replay->depth_body("BTCUSDT", 5);
  ASSERT_TRUE(body);
  EXPECT_GT(int_field(*body, "lastUpdateId"),
            max_update + (pass - 1) * (max_update - min_update + 2));
}

}  // namespace
}  // namespace sf::services::exchange_sim
