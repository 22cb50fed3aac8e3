// The dashboard's market hub: a subscriber gets a snapshot (recent candles, trades, the current
// book) and then every change once and in order; the book it is shown is the book loader-ws
// published (a whole snapshot and contiguous diffs), a partial snapshot shows only the price range
// it knows, a missing diff is shown as resyncing; trades published again are not shown twice; a
// client that never reads loses trades (counted) without holding back anybody else; and all of
// it through the platform's WebSocket /ws/market, which refuses a cross-origin browser.
#include "services/visualizer/market_hub.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <filesystem>
#include <sstream>
#include <thread>

#include "bus/inproc_bus.h"
#include "core/wire.h"
#include "exchange/binance/book/order_book.h"
#include "services/visualizer/visualizer_test_support.h"
#include "ws_test_client.h"

namespace sf::services::visualizer {
namespace {

using namespace std::chrono_literals;

Symbol btc() {
  return *Symbol::parse("BTCUSDT");
}
Decimal d(std::string_view text) {
  return Decimal::parse(text).value();
}

std::vector<PriceLevel> levels(std::initializer_list<std::pair<const char*, const char*>> l) {
  std::vector<PriceLevel> out;
  for (const auto& [p, q] : l) out.push_back({d(p), d(q)});
  return out;
}

DepthSnapshot snapshot(std::int64_t id, std::vector<PriceLevel> bids, std::vector<PriceLevel> asks,
                       bool partial) {
  return DepthSnapshot{.symbol = btc(),
                       .last_update_id = id,
                       .bids = std::move(bids),
                       .asks = std::move(asks),
                       .is_partial = partial,
                       .event_time = id * 1000,
                       .receive_time = 0};
}

DepthUpdate diff(std::int64_t first, std::int64_t last, std::vector<PriceLevel> bids,
                 std::vector<PriceLevel> asks) {
  return DepthUpdate{.symbol = btc(),
                     .event_time = last * 1000,
                     .first_update_id = first,
                     .final_update_id = last,
                     .prev_final_update_id = std::nullopt,
                     .bids = std::move(bids),
                     .asks = std::move(asks),
                     .receive_time = 0};
}

Trade trade(std::int64_t id) {
  return Trade{.symbol = btc(),
               .trade_id = id,
               .price = d("61000.10"),
               .quantity = d("0.5"),
               .trade_time = 1'700'000'000'000'000 + id,
               .event_time = 1'700'000'000'000'000 + id,
               .receive_time = 0,
               .is_buyer_maker = id % 2 == 0,
               .is_best_match = true};
}

Candle candle(std::int64_t minute, const char* close, bool closed, TimestampUs event_time) {
  const TimestampUs open = 1'700'000'000'000'000 + minute * 60'000'000;
  return Candle{.symbol = btc(),
                .interval = Interval::k1m,
                .open_time = open,
                .open = d("100"),
                .high = d("110"),
                .low = d("90"),
                .close = d(close),
                .volume = d("1"),
                .close_time = open + 59'999'000,
                .quote_asset_volume = d("100"),
                .number_of_trades = 3,
                .taker_buy_base_asset_volume = d("0"),
                .taker_buy_quote_asset_volume = d("0"),
                .ignore = d("0"),
                .first_trade_id = -1,
                .last_trade_id = -1,
                .is_closed = closed,
                .event_time = event_time,
                .receive_time = 0};
}

template <class Event>
void publish(bus::Bus& bus, const std::string& topic, const Event& e) {
  std::string out;
  wire::encode(e, out);
  ASSERT_TRUE(bus.publish(topic, "BTCUSDT", out).ok());
}

// Takes from `q` until `done(messages)` or the timeout.
template <class Done>
std::vector<std::string> take_until(ClientQueue& q, Done done, std::uint64_t* dropped = nullptr,
                                    std::chrono::milliseconds timeout = 10s) {
  std::vector<std::string> out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done(out) && std::chrono::steady_clock::now() < deadline) {
    auto b = q.take(20ms);
    if (dropped) *dropped += b.dropped;
    for (auto& m : b.messages) out.push_back(std::move(m));
  }
  return out;
}

std::string type_of(const std::string& json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string_view t;
  if (parser.parse(json).get(doc) || doc["type"].get_string().get(t)) return {};
  return std::string(t);
}

// A book message's levels as the page gets them.
struct Ladder {
  std::string state, known;
  std::int64_t id = -1;
  std::vector<std::pair<std::string, std::string>> bids, asks;
};

Ladder ladder(simdjson::dom::element b) {
  Ladder l;
  l.state = std::string(b["state"].get_string().value());
  l.known = std::string(b["known"].get_string().value());
  l.id = b["last_update_id"].get_int64().value();
  for (auto [name, side] : {std::pair{"bids", &l.bids}, std::pair{"asks", &l.asks}}) {
    const simdjson::dom::array side_levels = b[name].get_array().value();
    for (auto level : side_levels)
      side->emplace_back(std::string(level.at(0).get_string().value()),
                         std::string(level.at(1).get_string().value()));
  }
  return l;
}

Ladder ladder(const std::string& json) {
  simdjson::dom::parser parser;
  return ladder(parser.parse(json).value());
}

// What OrderBook::top shows, as strings.
Ladder expected(const binance::OrderBook& book, std::size_t n) {
  Ladder l;
  l.id = book.last_update_id();
  for (const auto& lv : book.bids().top(n))
    l.bids.emplace_back(lv.price.to_string(), lv.quantity.to_string());
  for (const auto& lv : book.asks().top(n))
    l.asks.emplace_back(lv.price.to_string(), lv.quantity.to_string());
  return l;
}

std::vector<std::string> of_type(const std::vector<std::string>& messages, const char* type) {
  std::vector<std::string> out;
  for (const auto& m : messages)
    if (type_of(m) == type) out.push_back(m);
  return out;
}

TEST(MarketHub, TheBookShownIsLoaderWsBookAtEveryUpdateId) {
  bus::InProcBus bus;
  MarketHub hub(bus);
  auto q = std::make_shared<ClientQueue>(10'000, 10'000);
  const auto c = hub.add_client(q);
  ASSERT_TRUE(hub.subscribe(c, {btc(), {.depth = "wf-depth"}, 3}).ok());
  auto first = take_until(*q, [](const auto& m) { return m.size() >= 2; });
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0], R"({"type":"subscribed","symbol":"BTCUSDT"})");
  EXPECT_NE(first[1].find(R"("book":null)"), std::string::npos) << first[1];

  // The reference: an OrderBook fed the same records, compared after every one.
  binance::OrderBook reference(btc());
  const auto full =
      snapshot(100, levels({{"100.0", "1"}, {"99.5", "2"}, {"99.0", "3"}, {"98.5", "4"}}),
               levels({{"100.5", "1"}, {"101.0", "2"}, {"101.5", "3"}}), false);
  std::vector<DepthUpdate> diffs;
  diffs.push_back(diff(101, 102, levels({{"100.0", "0"}, {"99.8", "5"}}), levels({})));
  diffs.push_back(diff(103, 103, levels({}), levels({{"100.5", "0"}, {"100.7", "0.25"}})));
  diffs.push_back(diff(104, 106, levels({{"99.5", "2.5"}, {"97.0", "9"}}), levels({{"102", "1"}})));
  publish(bus, "wf-depth", full);
  reference.apply_snapshot(full);
  std::vector<Ladder> want{expected(reference, 3)};
  for (const auto& u : diffs) {
    publish(bus, "wf-depth", u);
    reference.apply_update(u);
    want.push_back(expected(reference, 3));
  }
  // Latest wins: wait for the last id, checking every ladder seen on the way.
  std::int64_t last_seen = -1;
  take_until(*q, [&](const auto& messages) {
    for (const auto& m : of_type(messages, "book")) {
      const auto l = ladder(m);
      if (l.id <= last_seen) continue;
      last_seen = l.id;
      const auto it =
          std::find_if(want.begin(), want.end(), [&](const Ladder& w) { return w.id == l.id; });
      EXPECT_NE(it, want.end()) << "a book at an id loader-ws never had: " << l.id;
      if (it == want.end()) continue;
      EXPECT_EQ(l.state, "in_sync");
      EXPECT_EQ(l.known, "full");
      EXPECT_EQ(l.bids, it->bids) << "id " << l.id;
      EXPECT_EQ(l.asks, it->asks) << "id " << l.id;
    }
    return last_seen == 106;
  });
  EXPECT_EQ(last_seen, 106);

  // A diff that skips ids: resyncing, until the next snapshot.
  publish(bus, "wf-depth", diff(108, 109, levels({{"99.9", "1"}}), levels({})));
  auto gap = take_until(*q, [](const auto& m) { return !of_type(m, "book").empty(); });
  ASSERT_FALSE(of_type(gap, "book").empty());
  EXPECT_EQ(ladder(of_type(gap, "book").back()).state, "resyncing");
  publish(bus, "wf-depth", snapshot(120, levels({{"99.0", "1"}}), levels({{"99.5", "1"}}), false));
  auto back = take_until(*q, [](const auto& m) { return !of_type(m, "book").empty(); });
  ASSERT_FALSE(of_type(back, "book").empty());
  const auto resynced = ladder(of_type(back, "book").back());
  EXPECT_EQ(resynced.state, "in_sync");
  EXPECT_EQ(resynced.id, 120);
  EXPECT_EQ(resynced.bids, (std::vector<std::pair<std::string, std::string>>{{"99.0", "1"}}));
}

TEST(MarketHub, APartialSnapshotShowsOnlyThePriceRangeItKnows) {
  bus::InProcBus bus;
  MarketHub hub(bus);
  auto q = std::make_shared<ClientQueue>(1000, 1000);
  const auto c = hub.add_client(q);
  ASSERT_TRUE(hub.subscribe(c, {btc(), {.depth = "wf-depth"}, 5}).ok());
  // A top-2 view: below 99.5 (bids) and above 101.0 (asks) the hub knows nothing.
  publish(bus, "wf-depth",
          snapshot(50, levels({{"100.0", "1"}, {"99.5", "2"}}),
                   levels({{"100.5", "1"}, {"101.0", "2"}}), true));
  // The best bid goes; a level appears below the known range; one inside it.
  publish(bus, "wf-depth",
          diff(51, 51, levels({{"100.0", "0"}, {"98.0", "7"}, {"99.7", "3"}}), levels({})));
  std::optional<Ladder> last;
  take_until(*q, [&](const auto& m) {
    for (const auto& b : of_type(m, "book")) last = ladder(b);
    return last && last->id == 51;
  });
  ASSERT_TRUE(last);
  EXPECT_EQ(last->known, "top");
  EXPECT_EQ(last->state, "in_sync");
  // 98.0 is true but what rests between 99.5 and 98.0 is unknown: it is not shown.
  EXPECT_EQ(last->bids,
            (std::vector<std::pair<std::string, std::string>>{{"99.7", "3"}, {"99.5", "2"}}));
  EXPECT_EQ(last->asks,
            (std::vector<std::pair<std::string, std::string>>{{"100.5", "1"}, {"101.0", "2"}}));
  // A later whole book replaces the partial view and shows every level.
  publish(bus, "wf-depth",
          snapshot(60, levels({{"99.7", "3"}, {"99.5", "2"}, {"98.0", "7"}}),
                   levels({{"100.5", "1"}}), false));
  take_until(*q, [&](const auto& m) {
    for (const auto& b : of_type(m, "book")) last = ladder(b);
    return last->id == 60;
  });
  EXPECT_EQ(last->known, "full");
  EXPECT_EQ(last->bids.size(), 3u);
}

TEST(MarketHub, ASubscriberGetsRecentHistoryThenEveryChangeOnceInOrder) {
  bus::InProcBus bus;
  // Before anybody watches: 300 trades and three candles (the open one updated twice).
  for (int i = 1; i <= 300; ++i) publish(bus, "wf-trades", trade(i));
  publish(bus, "wf-candles", candle(0, "101", true, 1));
  publish(bus, "wf-candles", candle(1, "102", false, 2));
  publish(bus, "wf-candles", candle(1, "103", false, 3));
  publish(bus, "wf-candles", candle(1, "99", false, 2));  // older event: not applied
  MarketHub hub(bus, {.backfill_records = 5000, .trades_kept = 200, .candles_kept = 500});
  auto q = std::make_shared<ClientQueue>(10'000, 1000);
  const auto c = hub.add_client(q);
  // Subscribing before the consumers caught up gives a partial snapshot; the test waits for the
  // hub to have read the backlog by subscribing a second time.
  ASSERT_TRUE(hub.subscribe(c, {btc(), {.trades = "wf-trades", .candles = "wf-candles"}, 20}).ok());
  std::this_thread::sleep_for(500ms);
  ASSERT_TRUE(hub.subscribe(c, {btc(), {.trades = "wf-trades", .candles = "wf-candles"}, 20}).ok());
  auto got = take_until(*q, [](const auto& m) { return of_type(m, "snapshot").size() >= 2; });
  const auto snaps = of_type(got, "snapshot");
  ASSERT_EQ(snaps.size(), 2u);
  simdjson::dom::parser parser;
  auto snap = parser.parse(snaps.back()).value();
  std::vector<std::int64_t> ids;
  const simdjson::dom::array snap_trades = snap["trades"].get_array().value();
  for (auto t : snap_trades) ids.push_back(t["trade_id"].get_int64().value());
  ASSERT_EQ(ids.size(), 200u);  // the last trades_kept
  EXPECT_EQ(ids.front(), 101);
  EXPECT_EQ(ids.back(), 300);
  auto candles = snap["candles"].get_array().value();
  ASSERT_EQ(candles.size(), 2u);
  EXPECT_EQ(std::string_view(candles.at(1)["close"].get_string().value()), "103");
  q->take(0ms);  // drain

  // Deltas: new trades once each, a trade published again is not shown twice, the candle update.
  publish(bus, "wf-trades", trade(301));
  publish(bus, "wf-trades", trade(300));  // a restarted loader's repeat
  publish(bus, "wf-trades", trade(302));
  publish(bus, "wf-candles", candle(1, "104", true, 4));
  auto deltas = take_until(*q, [](const auto& m) {
    return of_type(m, "trade").size() >= 2 && !of_type(m, "candle").empty();
  });
  std::this_thread::sleep_for(200ms);
  for (auto& m : q->take(0ms).messages) deltas.push_back(m);
  const auto trades = of_type(deltas, "trade");
  ASSERT_EQ(trades.size(), 2u);
  EXPECT_NE(trades[0].find(R"("trade_id":301)"), std::string::npos);
  EXPECT_NE(trades[1].find(R"("trade_id":302)"), std::string::npos);
  const auto candle_updates = of_type(deltas, "candle");
  ASSERT_EQ(candle_updates.size(), 1u);
  EXPECT_NE(candle_updates[0].find(R"("close":"104")"), std::string::npos);
  EXPECT_EQ(hub.watched_topics(), 2u);
  hub.remove_client(c);
  EXPECT_EQ(hub.watched_topics(), 0u);
}

TEST(MarketHub, AClientThatNeverReadsLosesTradesAndNobodyElseNotices) {
  bus::InProcBus bus;
  MarketHub hub(bus);
  auto stuck = std::make_shared<ClientQueue>(50, 16);
  auto reader = std::make_shared<ClientQueue>(100'000, 16);
  const auto s = hub.add_client(stuck), r = hub.add_client(reader);
  ASSERT_TRUE(hub.subscribe(s, {btc(), {.trades = "wf-trades"}, 20}).ok());
  ASSERT_TRUE(hub.subscribe(r, {btc(), {.trades = "wf-trades"}, 20}).ok());
  constexpr int kTrades = 5000;
  for (int i = 1; i <= kTrades; ++i) publish(bus, "wf-trades", trade(i));
  std::uint64_t reader_dropped = 0;
  auto got = take_until(
      *reader, [](const auto& m) { return of_type(m, "trade").size() >= kTrades; },
      &reader_dropped);
  EXPECT_EQ(of_type(got, "trade").size(), static_cast<std::size_t>(kTrades));
  EXPECT_EQ(reader_dropped, 0u);
  EXPECT_LE(stuck->queued(), 50u);  // bounded
  auto b = stuck->take(0ms);
  EXPECT_GE(b.dropped, static_cast<std::uint64_t>(kTrades - 50));
  // What it kept are the newest.
  EXPECT_NE(b.messages.back().find("\"trade_id\":" + std::to_string(kTrades)), std::string::npos);
}

// Through the platform's WebSocket: a browser tab that stops reading (its socket buffers full)
// neither slows another client nor makes the server queue without bound: the other client gets
// every trade at once, and the stuck one, once it reads again, finds a "dropped N" marker where
// the server let its oldest trades go, still connected.
TEST(MarketHub, AStuckBrowserNeitherSlowsTheOthersNorGrowsTheServer) {
  TestPlatform platform("market_stuck");
  ASSERT_TRUE(platform.ok()) << platform.error();
  auto& p = *platform;
  const auto port = static_cast<std::uint16_t>(p.port());
  const std::string subscribe =
      R"({"subscribe":"market","symbol":"BTCUSDT","topics":{"trades":"wf-trades"}})";
  // The stuck client: a small receive buffer so that the server side fills up soon.
  boost::asio::io_context io;
  boost::beast::websocket::stream<boost::asio::ip::tcp::socket> stuck(io);
  stuck.next_layer().open(boost::asio::ip::tcp::v4());
  stuck.next_layer().set_option(boost::asio::socket_base::receive_buffer_size(32 << 10));
  stuck.next_layer().connect({boost::asio::ip::make_address("127.0.0.1"), port});
  stuck.handshake("127.0.0.1", "/ws/market");
  stuck.write(boost::asio::buffer(subscribe));
  // Its subscription in place before anything is published (its snapshot came back): otherwise
  // the first trades would simply be before its time, neither sent nor dropped.
  for (bool subscribed = false; !subscribed;) {
    boost::beast::flat_buffer first;
    stuck.read(first);
    subscribed = boost::beast::buffers_to_string(first.data()).find(R"("type":"snapshot")") !=
                 std::string::npos;
  }
  sf::testing::WsTestClient reader(port, "/ws/market", 60s);
  reader.send(subscribe);
  ASSERT_EQ(reader.read(), R"({"type":"subscribed","symbol":"BTCUSDT"})");
  ASSERT_EQ(type_of(reader.read()), "snapshot");

  constexpr int kTrades = 60'000;  // ~20 MB of messages: far beyond every buffer on the way
  std::thread publisher([&] {
    for (int i = 1; i <= kTrades; ++i) {
      publish(p.bus(), "wf-trades", trade(i));
      if (i % 2000 == 0) std::this_thread::sleep_for(20ms);  // ~100k trades/s in bursts
    }
  });
  int received = 0, dropped = 0;
  std::int64_t last_id = 0;
  const auto t0 = std::chrono::steady_clock::now();
  while (last_id < kTrades) {
    const auto m = reader.read();
    if (m.empty()) break;  // the watchdog: 60 s
    if (type_of(m) == "dropped") ++dropped;
    if (type_of(m) != "trade") continue;
    ++received;
    last_id = std::stoll(m.substr(m.find("\"trade_id\":") + 11));
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  publisher.join();
  EXPECT_EQ(received, kTrades);
  EXPECT_EQ(dropped, 0);
  EXPECT_LT(seconds, 30.0);

  // The stuck tab reads again: what it gets plus what was dropped is everything, and the
  // connection is still open.
  std::int64_t stuck_trades = 0, stuck_dropped = 0, stuck_last = 0;
  boost::beast::flat_buffer buffer;
  while (stuck_last < kTrades) {
    buffer.clear();
    boost::beast::error_code ec;
    stuck.read(buffer, ec);
    ASSERT_FALSE(ec) << "the server closed the stuck client: " << ec.message();
    std::istringstream frame(boost::beast::buffers_to_string(buffer.data()));
    for (std::string m; std::getline(frame, m);) {  // several messages to a frame, one per line
      if (type_of(m) == "dropped") {
        simdjson::dom::parser parser;
        stuck_dropped += parser.parse(m).value()["count"].get_int64().value();
      } else if (type_of(m) == "trade") {
        ++stuck_trades;
        stuck_last = std::stoll(m.substr(m.find("\"trade_id\":") + 11));
      }
    }
  }
  EXPECT_GT(stuck_dropped, 0);
  EXPECT_EQ(stuck_trades + stuck_dropped, kTrades);
  boost::beast::error_code ec;
  stuck.close(boost::beast::websocket::close_code::normal, ec);
}

TEST(MarketHub, BadSubscriptionsAreRefusedWithAReason) {
  bus::InProcBus bus;
  MarketHub hub(bus);
  const auto c = hub.add_client(std::make_shared<ClientQueue>(10, 10));
  auto none = hub.subscribe(c, {btc(), {}, 20});
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().find("no topic"), std::string::npos);
  auto bad = hub.subscribe(c, {btc(), {.trades = "a,b"}, 20});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("not a topic name"), std::string::npos);
  EXPECT_FALSE(hub.subscribe(c, {btc(), {.trades = "t"}, 0}).ok());
  EXPECT_FALSE(hub.subscribe(c + 99, {btc(), {.trades = "t"}, 20}).ok());
  EXPECT_EQ(hub.watched_topics(), 0u);
}

TEST(MarketHub, ThePlatformServesItOnAWebSocketAndRefusesOtherOrigins) {
  TestPlatform platform("market_ws");
  ASSERT_TRUE(platform.ok()) << platform.error();
  auto& p = *platform;
  const auto port = static_cast<std::uint16_t>(p.port());
  {
    // Same origin (the page this server served): accepted.
    sf::testing::WsTestClient ws(port, "/ws/market", 20s,
                                 "http://127.0.0.1:" + std::to_string(port));
    ws.send(R"({"subscribe":"market","symbol":"BTCUSDT"})");
    EXPECT_NE(ws.read().find("no topic"), std::string::npos);
    ws.send(R"({"subscribe":"market","symbol":"BTC USDT","topics":{"trades":"t"}})");
    EXPECT_NE(ws.read().find("symbol"), std::string::npos);
    ws.send(R"({"subscribe":"market","symbol":"BTCUSDT","topics":{"trades":"wf-trades"}})");
    EXPECT_EQ(ws.read(), R"({"type":"subscribed","symbol":"BTCUSDT"})");
    EXPECT_EQ(type_of(ws.read()), "snapshot");
    publish(p.bus(), "wf-trades", trade(7));
    const auto t = ws.read();
    EXPECT_EQ(type_of(t), "trade") << t;
    EXPECT_NE(t.find(R"("trade_id":7)"), std::string::npos);
    ws.send(R"({"unsubscribe":"market","symbol":"BTCUSDT"})");
    EXPECT_EQ(ws.read(), R"({"type":"unsubscribed","symbol":"BTCUSDT"})");
  }
  // Another site's page in the same browser: refused before any data flows.
  EXPECT_THROW(sf::testing::WsTestClient(port, "/ws/market", 5s, "http://evil.example"),
               boost::system::system_error);
  EXPECT_THROW(sf::testing::WsTestClient(port, "/ws/topics", 5s, "null"),
               boost::system::system_error);
}

}  // namespace
}  // namespace sf::services::visualizer
