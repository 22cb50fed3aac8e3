// loader-ws end to end on the in-process bus: the real BTCUSDT captures of 2024-08-08/09 replayed
// by exchange-sim's WebSocket at max speed with dropped connections and duplicated frames; gaps
// are repaired from the sim's REST historicalTrades (the capture's trades played so far) or,
// without trade data, published as gap records.
#include "services/loader_ws/loader_ws.h"

#include <gtest/gtest.h>
#include <simdjson.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "bus/inproc_bus.h"
#include "exchange/binance/book/order_book.h"
#include "exchange/binance/parse.h"
#include "runtime/metrics.h"
#include "services/exchange_sim/exchange_sim.h"
#include "test_support.h"
#include "tools/normalize.h"

namespace sf::services {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr const char* kDay1 = "hftbacktest_ws_spot/btcusdt_20240808.gz";
constexpr const char* kDay2 = "hftbacktest_ws_spot/btcusdt_20240809.gz";
constexpr const char* kCryptofeed = "cryptofeed_ws_spot_2021-10-12/BINANCE.ws.1.0.txt";
constexpr const char* kCryptofeedFrames =
    "cryptofeed_ws_spot_2021-10-12/combined_stream.frames.jsonl";

std::string shared(const char* relative) {
  return (sf::testing::shared_data_dir() / relative).string();
}

// Calls `fn` with each recorded payload of a `<receive time> <payload>` capture (the prefix and
// the line ending removed); lines without a prefix are skipped.
void for_each_capture_payload(const char* relative,
                              const std::function<void(const std::string&)>& fn) {
  std::string error;
  EXPECT_TRUE(tools::for_each_line(
      shared(relative),
      [&](std::string_view line) {
        const auto space = line.find(' ');
        if (space == std::string_view::npos) return;
        std::string text(line.substr(space + 1));
        while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
        fn(text);
      },
      &error))
      << error;
}

// The capture's @trade frames in order, parsed independently of the loader.
std::vector<Trade> capture_trades(const char* relative) {
  std::vector<Trade> out;
  binance::Parser parser;
  for_each_capture_payload(relative, [&](const std::string& frame) {
    if (frame.find("@trade\"") == std::string::npos) return;
    auto event = parser.parse_ws_frame(frame, 0);
    if (event && std::holds_alternative<Trade>(*event)) out.push_back(std::get<Trade>(*event));
  });
  return out;
}

// Every combined frame of a capture (the part after the receive-time prefix, or the whole line
// for bare-frame files) whose stream name ends with `suffix`, parsed independently of the loader.
std::vector<MarketEvent> capture_events(const char* relative, std::string_view suffix) {
  std::vector<MarketEvent> out;
  binance::Parser parser;
  std::string error;
  const std::string needle = std::string(suffix) + "\"";
  EXPECT_TRUE(tools::for_each_line(
      shared(relative),
      [&](std::string_view line) {
        const auto brace = line.find('{');
        if (brace == std::string_view::npos) return;
        std::string frame(line.substr(brace));
        while (!frame.empty() && (frame.back() == '\n' || frame.back() == '\r')) frame.pop_back();
        const auto stream_end = frame.find("\",\"data\"");
        if (!frame.starts_with("{\"stream\"") || stream_end == std::string::npos) return;
        if (frame.substr(0, stream_end + 1).find(needle) == std::string::npos) return;
        auto event = parser.parse_ws_frame(frame, 0);
        EXPECT_TRUE(event.ok()) << frame;
        if (event) out.push_back(std::move(event).value());
      },
      &error))
      << error;
  return out;
}

struct Record {
  std::string type;
  std::int64_t id = 0;  // trade_id, or first_missing_id of a gap
  std::int64_t last_missing = 0;
  std::int64_t timestamp = 0;
  std::int64_t receive_time = 0;
};

class LoaderWsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SF_REQUIRE_SHARED_DATA(kDay1);
    dir_ = fs::temp_directory_path() / ("sf_loader_ws_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void start_sim(const std::string& data_dir, std::vector<std::string> files,
                 exchange_sim::WsReplayFaults faults, double speed = 0) {
    exchange_sim::ExchangeSimOptions o;
    o.data_dir = data_dir;
    o.replay_files = std::move(files);
    o.replay_speed = speed;
    o.ws_faults = faults;
    o.rest_trades_from_replay = rest_trades_from_replay_;
    auto sim = exchange_sim::ExchangeSim::start(o);
    ASSERT_TRUE(sim.ok()) << sim.error();
    sim_ = std::move(sim).value();
  }

  LoaderWsOptions options() {
    LoaderWsOptions o;
    o.symbols = {*Symbol::parse("BTCUSDT")};
    o.topic = "ws-trades-test";
    o.ws.base_url = sim_->ws_base_url();
    o.ws.initial_backoff = 5ms;
    o.ws.max_backoff = 50ms;
    o.ws.jitter = 0;
    o.ws.stable_after = 10ms;
    o.ws.connect_timeout = 2s;
    o.ws.seed = 1;
    o.rest.base_url = sim_->rest_base_url();
    o.rest.default_retry_after = 1s;
    return o;
  }

  // Runs the loader until `done` holds for the records so far (or `limit` passes), then stops it.
  std::vector<Record> run_until(const LoaderWsOptions& o,
                                const std::function<bool(const std::vector<Record>&)>& done,
                                std::chrono::seconds limit = 40s) {
    runtime::WorkerSettings s;
    s.service = "loader-ws";
    s.queue_id = "q-ws";
    s.type = o.type;
    s.symbol = "BTCUSDT";
    s.telemetry_interval = 200ms;
    runtime::Worker w(bus_, s);
    auto reader = bus_.subscribe({.topics = {o.topic},
                                  .group = "reader-" + runtime::short_id(),
                                  .start = bus::StartFrom::kEarliest,
                                  .offsets = {}});
    EXPECT_TRUE(reader.ok());
    auto running = std::async(std::launch::async, [&] { return w.run(loader_ws_body(o)); });
    std::vector<Record> records;
    simdjson::dom::parser json;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done(records) && std::chrono::steady_clock::now() < deadline) {
      auto batch = (*reader)->poll(100ms, 100000);
      if (!batch) break;
      for (const auto& m : *batch) {
        EXPECT_EQ(m.key, "BTCUSDT");
        simdjson::dom::element doc;
        EXPECT_EQ(json.parse(m.value).get(doc), simdjson::SUCCESS) << m.value;
        Record r;
        r.type = std::string(doc["type"].get_string().value());
        if (r.type == "trade" || r.type == "agg_trade") {
          r.id = doc["trade_id"].get_int64().value();
          r.timestamp = doc["timestamp"].get_int64().value();
          r.receive_time = doc["receive_time"].get_int64().value();
        } else {
          r.id = doc["first_missing_id"].get_int64().value();
          r.last_missing = doc["last_missing_id"].get_int64().value();
          EXPECT_EQ(doc["v"].get_int64().value(), 1);
          EXPECT_EQ(doc["symbol"].get_string().value(), "BTCUSDT");
          EXPECT_FALSE(doc["reason"].get_string().value().empty());
        }
        records.push_back(r);
      }
    }
    // One more telemetry interval, so that a `loading` event follows even a very fast run.
    std::this_thread::sleep_for(300ms);
    w.request_stop("test done");
    EXPECT_EQ(running.wait_for(10s), std::future_status::ready);
    EXPECT_EQ(running.get(), 0);
    EXPECT_EQ(w.outcome(), runtime::Outcome::kInterrupted);
    (*reader)->close();
    return records;
  }

  struct Message {
    std::string topic;
    std::string key;
    std::string value;
  };

  // Runs the loader and reads `topics` until `done` holds for the messages so far (or `limit`
  // passes), then stops the loader; the rest of what it published is read too.
  std::vector<Message> run_raw(const LoaderWsOptions& o, const std::vector<std::string>& topics,
                               const std::function<bool(const std::vector<Message>&)>& done,
                               std::chrono::seconds limit = 40s) {
    runtime::WorkerSettings s;
    s.service = "loader-ws";
    s.queue_id = "q-ws";
    s.type = o.type;
    s.symbol = "BTCUSDT";
    s.telemetry_interval = 200ms;
    runtime::Worker w(bus_, s);
    auto reader = bus_.subscribe({.topics = topics,
                                  .group = "reader-" + runtime::short_id(),
                                  .start = bus::StartFrom::kEarliest,
                                  .offsets = {}});
    EXPECT_TRUE(reader.ok());
    auto running = std::async(std::launch::async, [&] { return w.run(loader_ws_body(o)); });
    std::vector<Message> out;
    auto take = [&](std::chrono::milliseconds wait) {
      auto batch = (*reader)->poll(wait, 100000);
      if (!batch) return false;
      for (auto& m : *batch) out.push_back({m.topic, m.key, std::move(m.value)});
      return !batch->empty();
    };
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done(out) && std::chrono::steady_clock::now() < deadline) take(100ms);
    std::this_thread::sleep_for(300ms);
    w.request_stop("test done");
    EXPECT_EQ(running.wait_for(10s), std::future_status::ready);
    EXPECT_EQ(running.get(), 0);
    EXPECT_EQ(w.outcome(), runtime::Outcome::kInterrupted);
    while (take(100ms)) {
    }
    (*reader)->close();
    return out;
  }

  // True 1.5 s after the replay played its last frame (time for the loader to take what follows).
  bool replay_done() {
    if (!sim_->ws().stats().finished) return false;
    const auto now = std::chrono::steady_clock::now();
    if (!finished_at_) finished_at_ = now;
    return now - *finished_at_ > 1500ms;
  }

  // The worker's telemetry events so far (queue-events), as JSON texts.
  std::vector<std::string> telemetry() {
    auto c = bus_.subscribe({.topics = {"queue-events"},
                             .group = "t-" + runtime::short_id(),
                             .start = bus::StartFrom::kEarliest,
                             .offsets = {}});
    EXPECT_TRUE(c.ok());
    std::vector<std::string> out;
    for (;;) {
      auto b = (*c)->poll(100ms, 100000);
      if (!b || b->empty()) break;
      for (auto& m : *b) out.push_back(std::move(m.value));
    }
    (*c)->close();
    return out;
  }

  fs::path dir_;
  bus::InProcBus bus_;
  std::unique_ptr<exchange_sim::ExchangeSim> sim_;
  std::optional<std::chrono::steady_clock::time_point> finished_at_;
  // false: the sim's REST trades come from data files only, not from the replayed frames.
  bool rest_trades_from_replay_ = true;
};

TEST_F(LoaderWsTest, EveryTradeIdExactlyOnceInOrderDespiteDisconnectsAndDuplicates) {
  SF_REQUIRE_SHARED_DATA(kDay2);
  auto day1 = capture_trades(kDay1);
  auto day2 = capture_trades(kDay2);
  std::vector<std::int64_t> want;
  for (const auto& t : day1) want.push_back(t.trade_id);
  for (const auto& t : day2) want.push_back(t.trade_id);
  ASSERT_EQ(want.size(), 19'904u);
  for (std::size_t i = 1; i < want.size(); ++i) ASSERT_EQ(want[i], want[i - 1] + 1) << "dense ids";

  start_sim(dir_.string(), {shared(kDay1), shared(kDay2)},
            {.disconnect_every = 5000, .duplicate_every = 7});
  auto o = options();
  auto records = run_until(o, [&](const std::vector<Record>& r) {
    return !r.empty() && r.back().type == "trade" && r.back().id >= want.back();
  });

  std::vector<std::int64_t> got;
  for (const auto& r : records) {
    ASSERT_EQ(r.type, "trade") << "gap record for " << r.id << ".." << r.last_missing;
    EXPECT_GT(r.timestamp, 0);
    EXPECT_GT(r.receive_time, 0);
    got.push_back(r.id);
  }
  ASSERT_EQ(got.size(), want.size());
  EXPECT_EQ(got, want);
  const auto& st = *o.stats;
  EXPECT_EQ(st.records.load(), 19'904);
  EXPECT_EQ(st.gaps_published.load(), 0);
  EXPECT_GT(st.duplicates_dropped.load(), 0);
  EXPECT_GE(st.reconnects.load(), 1);
  // The replay goes on while the loader reconnects: what it missed came from REST.
  EXPECT_GT(st.trades_repaired.load(), 0);
  EXPECT_GT(sim_->ws().stats().duplicates_sent, 0u);

  // loading events carry the counts; the stop ends the run as interrupted with the final counts.
  const auto events = telemetry();
  ASSERT_FALSE(events.empty());
  EXPECT_NE(events.back().find("\"interrupted\""), std::string::npos) << events.back();
  EXPECT_NE(events.back().find("\"records\":19904"), std::string::npos) << events.back();
  bool loading_with_counts = false;
  for (const auto& e : events)
    loading_with_counts |= e.find("\"loading\"") != std::string::npos &&
                           e.find("\"duplicates_dropped\"") != std::string::npos &&
                           e.find("\"gaps_published\"") != std::string::npos;
  EXPECT_TRUE(loading_with_counts);
}

TEST_F(LoaderWsTest, WithoutTradeDataAGapRecordIsPublishedAndCounted) {
  // The shared data has BTCUSDT klines but no trades: historicalTrades answers [].
  auto day1 = capture_trades(kDay1);
  ASSERT_EQ(day1.size(), 9'757u);
  // 100x the recorded pace (346 s -> 3.5 s), and a reconnect that waits 100-200 ms: trades are
  // lost while the loader is away (at max speed the rest of the capture could go out during a
  // reconnect on a busy machine, and a loss at the very end is invisible without REST data).
  // One drop, after 6,000 frames: a gap, and the next connection sees the end of the capture (a
  // loss at the very end could not even be detected without REST data: no later frame shows it).
  rest_trades_from_replay_ = false;  // REST without trades: not even the replayed ones
  start_sim(sf::testing::shared_data_dir().string(), {shared(kDay1)},
            {.disconnect_every = 6000, .duplicate_every = 5}, 100);
  auto o = options();
  o.ws.stable_after = 1h;  // every short connection is a flap: backoff 100 ms, then 200 ms
  o.ws.initial_backoff = 100ms;
  o.ws.max_backoff = 200ms;
  const auto last = day1.back().trade_id;
  auto records = run_until(o, [&](const std::vector<Record>& r) {
    return (!r.empty() && r.back().type == "trade" && r.back().id >= last) || replay_done();
  });
  ASSERT_FALSE(records.empty());
  // Trades and gap records together account for every id once, in order.
  std::int64_t next = day1.front().trade_id;
  std::int64_t gaps = 0;
  std::int64_t trades = 0;
  for (const auto& r : records) {
    ASSERT_EQ(r.id, next) << r.type;
    if (r.type == "gap") {
      ASSERT_GE(r.last_missing, r.id);
      next = r.last_missing + 1;
      ++gaps;
    } else {
      ASSERT_EQ(r.type, "trade");
      next = r.id + 1;
      ++trades;
    }
  }
  // The tail can only be missing when a reconnect outlasted the rest of the replay (a very busy
  // machine); then it is lost undetectably, which no loader can avoid without REST data.
  if (next != last + 1) {
    std::cerr << "note: the capture's last " << last + 1 - next << " trades went out while the "
              << "loader was reconnecting\n";
  }
  EXPECT_GE(gaps, 1);
  EXPECT_EQ(o.stats->gaps_published.load(), gaps);
  EXPECT_EQ(o.stats->records.load(), trades);
  EXPECT_EQ(o.stats->trades_repaired.load(), 0);
}

TEST_F(LoaderWsTest, RepairDisabledPublishesGapRecords) {
  start_sim(sf::testing::shared_data_dir().string(), {shared(kDay1)}, {.disconnect_every = 2000},
            100);
  auto o = options();
  o.ws.stable_after = 1h;
  o.ws.initial_backoff = 100ms;
  o.ws.max_backoff = 200ms;
  o.rest_repair = false;
  auto records = run_until(o, [&](const std::vector<Record>&) {
    return o.stats->gaps_published.load() >= 2 || replay_done();
  });
  EXPECT_GE(o.stats->gaps_published.load(), 2);
  std::int64_t gap_records = 0;
  for (const auto& r : records) gap_records += r.type == "gap";
  EXPECT_EQ(gap_records, o.stats->gaps_published.load());
}

// ws_depth. exchange-sim's REST depth is the replay's true book (the capture's snapshot plus
// every diff up to the replay position, withheld ones included), so after each dropped diff the
// loader can resync: every drop causes exactly one resync, nothing goes out from the gap until
// the new snapshot, the published diffs continue each snapshot, and at the end the published
// top-N is the capture's final book.
TEST_F(LoaderWsTest, DepthResyncsOnceAfterEachDroppedDiffAndRecovers) {
  // The capture's book built independently: its REST snapshot (line 8) plus every diff newer
  // than it; and the diffs' U/u in order.
  const Symbol btc = *Symbol::parse("BTCUSDT");
  binance::OrderBook truth(btc);
  std::vector<DepthUpdate> updates;
  std::vector<std::pair<std::int64_t, std::int64_t>> diffs;
  binance::Parser parser;
  for_each_capture_payload(kDay1, [&](const std::string& text) {
    if (text.starts_with("{\"lastUpdateId\"")) {
      auto snapshot = parser.parse_rest_depth(text, btc, 0);
      ASSERT_TRUE(snapshot.ok());
      truth.apply_snapshot(*snapshot);
      return;
    }
    if (text.find("\"e\":\"depthUpdate\"") == std::string::npos) return;
    auto e = parser.parse_ws_frame(text, 0);
    ASSERT_TRUE(e.ok());
    const auto& d = std::get<DepthUpdate>(*e);
    diffs.emplace_back(d.first_update_id, d.final_update_id);
    updates.push_back(d);
  });
  ASSERT_GT(truth.last_update_id(), 0);
  ASSERT_EQ(diffs.size(), 3'451u);
  for (const DepthUpdate& d : updates) {
    if (d.final_update_id > truth.last_update_id()) truth.apply_update(d);
  }
  constexpr std::size_t kDropEvery = 500;
  constexpr std::size_t kDrops = 3'451 / kDropEvery;
  // Where each lost diff leaves the published book: just before it.
  std::vector<std::int64_t> book_at_gap;
  for (std::size_t k = 1; k <= kDrops; ++k)
    book_at_gap.push_back(diffs[k * kDropEvery - 1].first - 1);

  // 100x the recorded pace: the 346 s capture plays in 3.5 s, a drop every ~0.5 s, while a resync
  // (one REST call) takes milliseconds.
  start_sim(dir_.string(), {shared(kDay1)}, {.drop_depth_every = kDropEvery}, 100);
  auto o = options();
  o.type = "ws_depth";
  o.topic = "ws-depth-test";
  o.top_levels = 5;
  o.snapshot_interval = 100ms;
  o.snapshot_retry = 200ms;
  o.depth_limit = 5000;

  runtime::WorkerSettings st;
  st.service = "loader-ws";
  st.queue_id = "q-depth";
  st.type = o.type;
  st.symbol = "BTCUSDT";
  st.telemetry_interval = 200ms;
  runtime::Worker w(bus_, st);
  auto running = std::async(std::launch::async, [&] { return w.run(loader_ws_body(o)); });
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!replay_done() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(50ms);
  w.request_stop("test done");
  ASSERT_EQ(running.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(running.get(), 0);
  ASSERT_TRUE(sim_->ws().stats().finished);
  ASSERT_EQ(sim_->ws().stats().depth_dropped, kDrops);

  auto reader = bus_.subscribe({.topics = {o.topic},
                                .group = "reader-" + runtime::short_id(),
                                .start = bus::StartFrom::kEarliest,
                                .offsets = {}});
  ASSERT_TRUE(reader.ok());
  simdjson::dom::parser json;
  auto levels_of = [](simdjson::dom::element side) {
    std::vector<PriceLevel> out;
    for (simdjson::dom::element level : side.get_array()) {
      simdjson::dom::array pair = level.get_array();
      out.push_back({*Decimal::parse(pair.at(0).get_string().value()),
                     *Decimal::parse(pair.at(1).get_string().value())});
    }
    return out;
  };
  std::int64_t book_id = -1;
  std::int64_t diff_records = 0;
  std::int64_t partial = 0;
  std::vector<std::int64_t> book_before_resync;  // the published book id at each later sync
  std::int64_t last_partial_id = -1;
  std::vector<PriceLevel> last_bids;
  std::vector<PriceLevel> last_asks;
  for (;;) {
    auto batch = (*reader)->poll(100ms, 100000);
    if (!batch || batch->empty()) break;
    for (const auto& m : *batch) {
      simdjson::dom::element doc;
      ASSERT_EQ(json.parse(m.value).get(doc), simdjson::SUCCESS);
      const std::string_view type = doc["type"].get_string().value();
      if (type == "depth_snapshot") {
        const auto id = doc["last_update_id"].get_int64().value();
        if (doc["is_partial"].get_bool().value()) {
          ++partial;
          EXPECT_EQ(id, book_id) << "a top-N snapshot shows the book as published so far";
          last_partial_id = id;
          last_bids = levels_of(doc["bids"]);
          last_asks = levels_of(doc["asks"]);
        } else {
          if (book_id >= 0) book_before_resync.push_back(book_id);
          EXPECT_GE(id, book_id) << "a resync never goes back";
          book_id = id;
        }
      } else {
        ASSERT_EQ(type, "depth_update");
        ASSERT_GE(book_id, 0) << "a diff before any snapshot";
        const auto first = doc["first_update_id"].get_int64().value();
        const auto final = doc["final_update_id"].get_int64().value();
        ASSERT_LE(first, book_id + 1) << "diffs continue the book";
        ASSERT_GT(final, book_id);
        book_id = final;
        ++diff_records;
      }
    }
  }
  (*reader)->close();
  // One sync, then one resync per lost diff, each after everything up to that diff went out and
  // nothing after it.
  EXPECT_EQ(book_before_resync, book_at_gap);
  EXPECT_EQ(o.stats->syncs.load(), static_cast<std::int64_t>(kDrops + 1));
  EXPECT_EQ(o.stats->gap_resyncs.load(), static_cast<std::int64_t>(kDrops));
  EXPECT_EQ(o.stats->diffs_published.load(), diff_records);
  EXPECT_GT(partial, 0);
  EXPECT_GT(diff_records, 3'000);
  // Recovered: the book runs to the capture's end and its published top-N is the true book.
  EXPECT_EQ(book_id, diffs.back().second);
  EXPECT_EQ(last_partial_id, truth.last_update_id());
  const DepthSnapshot top = truth.top(5);
  auto same = [](const std::vector<PriceLevel>& a, const std::vector<PriceLevel>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (!(a[i].price == b[i].price && a[i].quantity == b[i].quantity)) return false;
    }
    return true;
  };
  EXPECT_TRUE(same(last_bids, top.bids));
  EXPECT_TRUE(same(last_asks, top.asks));
  // The @bookTicker cross-check (on by default) ran through every resync and never disagreed.
  EXPECT_GT(o.stats->book_ticker_checks.load(), 0);
  EXPECT_EQ(o.stats->book_ticker_mismatches.load(), 0);
}

// --- ws_agg_trades ------------------------------------------------------------------------------

// No capture holds more than two @aggTrade frames (cryptofeed: one per symbol), too few for gap
// repair. So these frames are GENERATED from the 19,904 real trades of 2024-08-08/09, one
// aggregate per trade (a = f = l = the trade id, the trade's price, quantity, times and side),
// and the sim's REST /api/v3/aggTrades serves the aggregates played so far from the same frames.
TEST_F(LoaderWsTest, AggTradesGeneratedFromRealTradesEveryIdOnceInOrderRepairedFromAggTrades) {
  SF_REQUIRE_SHARED_DATA(kDay2);
  auto trades = capture_trades(kDay1);
  auto day2 = capture_trades(kDay2);
  for (auto& t : day2) trades.push_back(t);
  ASSERT_EQ(trades.size(), 19'904u);
  const fs::path capture = dir_ / "agg_capture.txt";
  {
    std::ofstream frames(capture);
    for (const auto& t : trades) {
      const auto ms = micros_to_millis(t.trade_time);
      const char* maker = t.is_buyer_maker ? "true" : "false";
      frames << t.trade_time * 1000 << " {\"stream\":\"btcusdt@aggTrade\",\"data\":{\"e\":"
             << "\"aggTrade\",\"E\":" << micros_to_millis(t.event_time)
             << ",\"s\":\"BTCUSDT\",\"a\":" << t.trade_id << ",\"p\":\"" << t.price.to_string()
             << "\",\"q\":\"" << t.quantity.to_string() << "\",\"f\":" << t.trade_id
             << ",\"l\":" << t.trade_id << ",\"T\":" << ms << ",\"m\":" << maker
             << ",\"M\":true}}\n";
    }
  }
  start_sim(dir_.string(), {capture.string()}, {.disconnect_every = 5000, .duplicate_every = 7});
  auto o = options();
  o.type = "ws_agg_trades";
  o.topic = "";  // the per-symbol topic
  const std::string topic = "ws-btcusdt-agg-trades";
  const auto last = trades.back().trade_id;
  auto messages = run_raw(o, {topic}, [&](const std::vector<Message>& m) {
    return m.size() >= trades.size() ||
           (!m.empty() && m.back().value.find(std::to_string(last)) != std::string::npos);
  });
  simdjson::dom::parser json;
  std::vector<std::int64_t> got;
  std::size_t i = 0;
  for (const auto& m : messages) {
    ASSERT_EQ(m.topic, topic);
    ASSERT_EQ(m.key, "BTCUSDT");
    simdjson::dom::element doc;
    ASSERT_EQ(json.parse(m.value).get(doc), simdjson::SUCCESS) << m.value;
    ASSERT_EQ(doc["type"].get_string().value(), "agg_trade") << m.value;
    got.push_back(doc["trade_id"].get_int64().value());
    ASSERT_LT(i, trades.size());
    const auto& t = trades[i++];
    // WS and REST-repaired records alike carry the exact decimals and both times.
    EXPECT_EQ(doc["price"].get_string().value(), t.price.to_string());
    EXPECT_EQ(doc["quantity"].get_string().value(), t.quantity.to_string());
    EXPECT_EQ(doc["first_trade_id"].get_int64().value(), t.trade_id);
    EXPECT_EQ(doc["timestamp"].get_int64().value(), t.trade_time);
    EXPECT_GT(doc["receive_time"].get_int64().value(), 0);
  }
  std::vector<std::int64_t> want;
  for (const auto& t : trades) want.push_back(t.trade_id);
  ASSERT_EQ(got.size(), want.size());
  EXPECT_EQ(got, want);
  EXPECT_EQ(o.stats->gaps_published.load(), 0);
  EXPECT_GT(o.stats->duplicates_dropped.load(), 0);
  EXPECT_GE(o.stats->reconnects.load(), 1);
  EXPECT_GT(o.stats->trades_repaired.load(), 0) << "the disconnects lost frames, REST refilled";
  EXPECT_GT(sim_->ws().stats().disconnects_injected, 0u);
}

// --- recorded real frames of the cryptofeed capture (2021-10-12, 4 symbols) ----------------------

TEST_F(LoaderWsTest, RealAggTradeCandleAndBookTickerFramesGoToPerSymbolTopics) {
  SF_REQUIRE_SHARED_DATA(kCryptofeed);
  const auto agg = capture_events(kCryptofeedFrames, "@aggTrade");
  const auto klines = capture_events(kCryptofeedFrames, "@kline_1m");
  const auto tickers = capture_events(kCryptofeedFrames, "@bookTicker");
  ASSERT_EQ(agg.size(), 2u);
  ASSERT_EQ(klines.size(), 2u);
  ASSERT_EQ(tickers.size(), 84u);
  simdjson::dom::parser json;

  struct Case {
    const char* type;
    const std::vector<MarketEvent>* events;
    const char* topic_suffix;
  };
  for (const Case& c :
       {Case{"ws_agg_trades", &agg, "agg-trades"}, Case{"ws_candles_1m", &klines, "candles-1m"},
        Case{"ws_book_ticker", &tickers, "book-ticker"}}) {
    SCOPED_TRACE(c.type);
    // What the capture holds per symbol: (topic, key) -> the records' seq in order.
    std::map<std::string, std::vector<std::int64_t>> want;
    std::vector<std::string> topics;
    std::string symbols;
    for (const auto& e : *c.events) {
      const Symbol& s = std::visit([](const auto& v) -> const Symbol& { return v.symbol; }, e);
      const auto topic = "ws-" + s.lower() + "-" + c.topic_suffix;
      if (!want.contains(topic)) {
        topics.push_back(topic);
        symbols += (symbols.empty() ? "" : ",") + s.str();
      }
      want[topic].push_back(std::visit([](const auto& v) { return v.sequence_id(); }, e));
    }
    finished_at_.reset();
    sim_.reset();
    start_sim(sf::testing::shared_data_dir().string(), {shared(kCryptofeed)}, {});
    auto o = options();
    o.type = c.type;
    o.topic = "";
    o.symbols = *parse_symbol_list(symbols);
    auto messages = run_raw(o, topics, [&](const std::vector<Message>& m) {
      return m.size() >= c.events->size() || replay_done();
    });
    std::map<std::string, std::vector<std::int64_t>> got;
    for (const auto& m : messages) {
      simdjson::dom::element doc;
      ASSERT_EQ(json.parse(m.value).get(doc), simdjson::SUCCESS) << m.value;
      EXPECT_EQ(doc["symbol"].get_string().value(), m.key) << "keyed by symbol";
      EXPECT_EQ(m.topic, "ws-" + Symbol::parse(m.key)->lower() + "-" + c.topic_suffix);
      EXPECT_GT(doc["receive_time"].get_int64().value(), 0);
      got[m.topic].push_back(doc["seq"].get_int64().value());
      const std::string_view type = doc["type"].get_string().value();
      if (type == "candle") {
        // Both recorded klines are open candles (x false); they are published as such.
        EXPECT_FALSE(doc["is_closed"].get_bool().value());
        EXPECT_EQ(doc["interval"].get_string().value(), "1m");
        EXPECT_EQ(doc["open_time"].get_int64().value(), 1'633'998'480'000'000);
        EXPECT_EQ(doc["close_time"].get_int64().value(), 1'633'998'539'999'000);
        EXPECT_GT(doc["event_time"].get_int64().value(), 0);
      } else if (type == "agg_trade") {
        EXPECT_EQ(doc["first_trade_id"].get_int64().value(),
                  doc["last_trade_id"].get_int64().value());
      } else {
        ASSERT_EQ(type, "book_ticker");
      }
    }
    EXPECT_EQ(got, want);
    EXPECT_EQ(o.stats->records.load(), static_cast<std::int64_t>(c.events->size()));
    EXPECT_EQ(o.stats->parse_errors.load(), 0);
  }
}

// 28,040 real @bookTicker frames of 2024-08-08 with every 5th frame sent twice: each ticker once,
// in update-id order.
TEST_F(LoaderWsTest, RealBookTickersInUpdateIdOrderDuplicatesDropped) {
  const auto tickers = capture_events(kDay1, "@bookTicker");
  ASSERT_EQ(tickers.size(), 28'040u);
  std::vector<std::int64_t> want;
  for (const auto& t : tickers) want.push_back(std::get<BookTicker>(t).update_id);
  start_sim(dir_.string(), {shared(kDay1)}, {.duplicate_every = 5});
  auto o = options();
  o.type = "ws_book_ticker";
  o.topic = "";
  auto messages = run_raw(o, {"ws-btcusdt-book-ticker"}, [&](const std::vector<Message>& m) {
    return m.size() >= want.size() || replay_done();
  });
  simdjson::dom::parser json;
  std::vector<std::int64_t> got;
  for (const auto& m : messages) {
    simdjson::dom::element doc;
    ASSERT_EQ(json.parse(m.value).get(doc), simdjson::SUCCESS);
    got.push_back(doc["update_id"].get_int64().value());
  }
  ASSERT_EQ(got.size(), want.size());
  EXPECT_EQ(got, want);
  const auto& last = std::get<BookTicker>(tickers.back());
  simdjson::dom::element doc;
  ASSERT_EQ(json.parse(messages.back().value).get(doc), simdjson::SUCCESS);
  EXPECT_EQ(doc["bid_price"].get_string().value(), last.bid_price.to_string());
  EXPECT_EQ(doc["ask_quantity"].get_string().value(), last.ask_quantity.to_string());
  EXPECT_GT(o.stats->duplicates_dropped.load(), 0);
  EXPECT_EQ(o.stats->duplicates_dropped.load(),
            static_cast<std::int64_t>(sim_->ws().stats().duplicates_sent));
}

// No capture holds a closed kline (cryptofeed's two are open), so these kline frames are
// GENERATED: open updates, a repeated frame, the closing update, an update of an older candle
// arriving late, and the next candle. Open and closed updates are published (a consumer upserts
// by open_time); the repeat and the stale one are dropped.
TEST_F(LoaderWsTest, GeneratedKlineFramesOpenAndClosedUpdatesPublishedStaleOnesDropped) {
  auto frame = [](std::int64_t open_ms, std::int64_t event_ms, const char* close, int trades,
                  bool closed) {
    return "{\"stream\":\"btcusdt@kline_1m\",\"data\":{\"e\":\"kline\",\"E\":" +
           std::to_string(event_ms) + ",\"s\":\"BTCUSDT\",\"k\":{\"t\":" + std::to_string(open_ms) +
           ",\"T\":" + std::to_string(open_ms + 59'999) +
           ",\"s\":\"BTCUSDT\",\"i\":\"1m\",\"f\":100,\"L\":" + std::to_string(99 + trades) +
           ",\"o\":\"61000.00000000\",\"c\":\"" + close +
           "\",\"h\":\"61100.00000000\",\"l\":\"60900.00000000\",\"v\":\"1.50000000\",\"n\":" +
           std::to_string(trades) + ",\"x\":" + (closed ? "true" : "false") +
           ",\"q\":\"91500.00000000\",\"V\":\"0.70000000\",\"Q\":\"42700.00000000\",\"B\":\"0\"}}}";
  };
  constexpr std::int64_t t0 = 1'723'161'240'000;  // 2024-08-08 23:54:00
  constexpr std::int64_t t1 = t0 + 60'000;
  const std::vector<std::string> lines = {
      frame(t0, t0 + 1'000, "61010.00000000", 3, false),
      frame(t0, t0 + 2'000, "61020.00000000", 5, false),
      frame(t0, t0 + 2'000, "61020.00000000", 5, false),  // repeated
      frame(t0, t0 + 60'000, "61030.00000000", 9, true),  // closes t0
      frame(t1, t1 + 1'000, "61040.00000000", 1, false),
      frame(t0, t0 + 59'000, "61025.00000000", 8, false),  // older candle, late
      frame(t1, t1 + 60'000, "61050.00000000", 4, true),
  };
  const fs::path capture = dir_ / "klines.jsonl";
  {
    std::ofstream out(capture);
    for (const auto& l : lines) out << l << '\n';
  }
  start_sim(dir_.string(), {capture.string()}, {});
  auto o = options();
  o.type = "ws_candles_1m";
  o.topic = "";
  auto messages = run_raw(o, {"ws-btcusdt-candles-1m"}, [&](const std::vector<Message>& m) {
    return m.size() >= 5 || replay_done();
  });
  simdjson::dom::parser json;
  std::vector<std::tuple<std::int64_t, std::string, bool>> got;
  for (const auto& m : messages) {
    simdjson::dom::element doc;
    ASSERT_EQ(json.parse(m.value).get(doc), simdjson::SUCCESS);
    EXPECT_EQ(m.key, "BTCUSDT");
    got.emplace_back(doc["open_time"].get_int64().value() / 1000,
                     std::string(doc["close"].get_string().value()),
                     doc["is_closed"].get_bool().value());
  }
  const std::vector<std::tuple<std::int64_t, std::string, bool>> want = {
      {t0, "61010.00000000", false},
      {t0, "61020.00000000", false},
      {t0, "61030.00000000", true},
      {t1, "61040.00000000", false},
      {t1, "61050.00000000", true}};
  EXPECT_EQ(got, want);
  EXPECT_EQ(o.stats->duplicates_dropped.load(), 2);
  EXPECT_FALSE(candle_interval("ws_candles_7m").has_value());
  EXPECT_TRUE(is_loader_ws_type("ws_candles_1h"));
  EXPECT_FALSE(is_loader_ws_type("ws_klines"));
}

// --- ws_depth: the online @bookTicker cross-check -----------------------------------------------

// The clean replay of 2024-08-08/09 (50x the recorded pace, ~13 s). Independently of the loader:
// every diff's final id, and the capture's tickers. A ticker is comparable when its id is a state
// the loader's book passes through: its first snapshot S (taken from the sim at the replay
// position) or a diff's final id after S. Over the whole capture from the recorded snapshot
// that is 1,072 tickers (the data README's figure); the loader starts from its own S.
TEST_F(LoaderWsTest, DepthBookTickerCrossCheckComparesEveryTickerAtABookStateAndAllMatch) {
  SF_REQUIRE_SHARED_DATA(kDay2);
  const Symbol btc = *Symbol::parse("BTCUSDT");
  std::set<std::int64_t> diff_ids;
  std::vector<std::int64_t> ticker_ids;
  std::int64_t recorded_snapshot = 0;
  binance::Parser parser;
  for (const char* file : {kDay1, kDay2}) {
    for_each_capture_payload(file, [&](const std::string& text) {
      if (text.starts_with("{\"lastUpdateId\"")) {
        auto snapshot = parser.parse_rest_depth(text, btc, 0);
        ASSERT_TRUE(snapshot.ok());
        recorded_snapshot = snapshot->last_update_id;
        return;
      }
      auto e = parser.parse_ws_frame(text, 0);
      ASSERT_TRUE(e.ok()) << text;
      if (const auto* d = std::get_if<DepthUpdate>(&*e)) diff_ids.insert(d->final_update_id);
      if (const auto* t = std::get_if<BookTicker>(&*e)) ticker_ids.push_back(t->update_id);
    });
  }
  ASSERT_EQ(ticker_ids.size(), 28'040u + 45'134u);
  auto comparable_from = [&](std::int64_t s) {
    std::int64_t n = 0;
    for (auto u : ticker_ids) n += u == s || (u > s && diff_ids.contains(u));
    return n;
  };
  ASSERT_GT(recorded_snapshot, 0);
  EXPECT_EQ(comparable_from(recorded_snapshot), 1'072);

  auto& checks_metric = metrics::default_registry().counter(
      "sf_loader_ws_book_ticker_checks_total",
      "bookTicker frames compared with the local book at the same update id",
      {{"symbol", "BTCUSDT"}});
  auto& mismatches_metric = metrics::default_registry().counter(
      "sf_loader_ws_book_ticker_mismatches_total",
      "bookTicker frames whose best bid/ask differed from the local book at the same id",
      {{"symbol", "BTCUSDT"}});
  const auto checks_before = checks_metric.value();
  const auto mismatches_before = mismatches_metric.value();

  start_sim(dir_.string(), {shared(kDay1), shared(kDay2)}, {}, 50);
  auto o = options();
  o.type = "ws_depth";
  o.topic = "";
  o.depth_limit = 5000;
  o.snapshot_interval = 0ms;
  ASSERT_TRUE(o.book_ticker_check) << "on by default";
  auto messages = run_raw(
      o, {"ws-btcusdt-depth"}, [&](const std::vector<Message>&) { return replay_done(); }, 45s);
  ASSERT_TRUE(sim_->ws().stats().finished);
  simdjson::dom::parser json;
  std::vector<std::int64_t> syncs;
  for (const auto& m : messages) {
    simdjson::dom::element doc;
    ASSERT_EQ(json.parse(m.value).get(doc), simdjson::SUCCESS);
    if (doc["type"].get_string().value() == "depth_snapshot" &&
        !doc["is_partial"].get_bool().value())
      syncs.push_back(doc["last_update_id"].get_int64().value());
  }
  ASSERT_EQ(syncs.size(), 1u) << "a clean replay syncs once";
  const auto want = comparable_from(syncs[0]);
  std::cerr << "book synced at " << syncs[0] << " (recorded snapshot " << recorded_snapshot
            << "): " << want << " comparable tickers\n";
  EXPECT_GE(want, 900) << "the book synced early in the replay";
  EXPECT_EQ(o.stats->book_ticker_checks.load(), want);
  EXPECT_EQ(o.stats->book_ticker_mismatches.load(), 0);
  EXPECT_EQ(checks_metric.value() - checks_before, static_cast<std::uint64_t>(want));
  EXPECT_EQ(mismatches_metric.value() - mismatches_before, 0u);
  EXPECT_EQ(o.stats->gap_resyncs.load(), 0);
  const auto events = telemetry();
  ASSERT_FALSE(events.empty());
  EXPECT_NE(events.back().find("\"book_ticker_checks\":" + std::to_string(want)), std::string::npos)
      << events.back();
  EXPECT_NE(events.back().find("\"book_ticker_mismatches\":0"), std::string::npos);
}

// --- connection faults end to end through loader-ws ---------------------------------------------

// Binance ends a connection at 24 h; the loader's client switches at its own shorter age first
// (23 h by default). Shortened: the sim ends connections at 8 s, the client switches at 2 s,
// during a ws_trades replay of 19,904 trades at 65x (~10 s). No REST trade data: a single lost
// trade would show as a gap record. (With the sim at 5 s, a 2-core machine loaded by two test
// suites once needed more than the 3 s margin to open the replacement; 6 s is the margin a
// 23 h / 24 h pair gives in spirit.)
TEST_F(LoaderWsTest, ShortenedConnectionAgeSwitchesOverWithoutGapOrDuplicate) {
  SF_REQUIRE_SHARED_DATA(kDay2);
  const auto day1 = capture_trades(kDay1);
  const auto day2 = capture_trades(kDay2);
  std::vector<std::int64_t> want;
  for (const auto& t : day1) want.push_back(t.trade_id);
  for (const auto& t : day2) want.push_back(t.trade_id);
  ASSERT_EQ(want.size(), 19'904u);
  rest_trades_from_replay_ = false;
  start_sim(sf::testing::shared_data_dir().string(), {shared(kDay1), shared(kDay2)},
            {.max_connection_age = 8s}, 65);
  auto o = options();
  o.ws.max_connection_age = 2s;
  o.ws.switch_overlap = 500ms;
  auto records = run_until(
      o,
      [&](const std::vector<Record>& r) {
        return (!r.empty() && r.back().id >= want.back()) || replay_done();
      },
      40s);
  std::vector<std::int64_t> got;
  for (const auto& r : records) {
    ASSERT_EQ(r.type, "trade") << "gap record for " << r.id << ".." << r.last_missing;
    got.push_back(r.id);
  }
  ASSERT_EQ(got.size(), want.size());
  EXPECT_EQ(got, want) << "every id exactly once, in order";
  EXPECT_EQ(o.stats->gaps_published.load(), 0);
  EXPECT_EQ(o.stats->trades_repaired.load(), 0) << "nothing was lost, nothing to repair";
  EXPECT_GE(o.stats->ws_switchovers.load(), 2);
  EXPECT_GT(o.stats->duplicates_dropped.load(), 0) << "the overlaps delivered trades twice";
  std::cerr << "switchovers " << o.stats->ws_switchovers.load() << ", sim age closes "
            << sim_->ws().stats().age_closes << ", overlap duplicates dropped "
            << o.stats->duplicates_dropped.load() << "\n";
}

// A reconnect storm: the sim refuses every connection (HTTP 503) for 2 s from the start, and
// again for 3 s from the moment the first connection drops (after 8,000 trades of a 65x replay).
// The loader's attempts back off exponentially with jitter, stay far below Binance's 300 per
// 5 minutes, and the feed comes back by itself; the trades sent meanwhile are fetched from REST.
TEST_F(LoaderWsTest, ReconnectStormBacksOffWithJitterUnderTheLimitAndRecovers) {
  SF_REQUIRE_SHARED_DATA(kDay2);
  const auto day1 = capture_trades(kDay1);
  const auto day2 = capture_trades(kDay2);
  std::vector<std::int64_t> want;
  for (const auto& t : day1) want.push_back(t.trade_id);
  for (const auto& t : day2) want.push_back(t.trade_id);
  start_sim(dir_.string(), {shared(kDay1), shared(kDay2)},
            {.disconnect_every = 8000, .refuse_connections_for = 2s}, 65);
  auto o = options();
  o.ws.initial_backoff = 100ms;
  o.ws.max_backoff = 1s;
  o.ws.jitter = 0.5;
  o.ws.stable_after = 500ms;
  struct Backoff {
    int attempt;
    std::chrono::milliseconds delay;
  };
  std::mutex mu;
  std::vector<Backoff> backoffs;
  bool second_storm = false;
  exchange_sim::WsReplay& replay = sim_->ws();
  o.on_ws_status = [&](const binance::WsStatus& st) {
    std::lock_guard lock(mu);
    if (st.kind == binance::WsStatus::Kind::kReconnecting && st.reason == "backoff") {
      backoffs.push_back({st.attempt, st.delay});
    } else if (st.kind == binance::WsStatus::Kind::kDisconnected && st.connection_id != 0 &&
               !second_storm) {
      // Runs before the client's next attempt (status callbacks are synchronous).
      second_storm = true;
      replay.set_faults({.refuse_connections_for = 3s});
    }
  };
  auto records = run_until(
      o, [&](const std::vector<Record>& r) { return !r.empty() && r.back().id >= want.back(); },
      45s);
  std::vector<std::int64_t> got;
  for (const auto& r : records) {
    ASSERT_EQ(r.type, "trade") << "gap record for " << r.id << ".." << r.last_missing;
    got.push_back(r.id);
  }
  ASSERT_EQ(got.size(), want.size());
  EXPECT_EQ(got, want) << "the feed recovered and every id is there once";
  EXPECT_EQ(o.stats->gaps_published.load(), 0);
  EXPECT_GT(o.stats->trades_repaired.load(), 0);

  std::lock_guard lock(mu);
  EXPECT_TRUE(second_storm);
  const auto st = sim_->ws().stats();
  EXPECT_GE(st.connections_refused, 4u) << "both storms refused attempts";
  EXPECT_GE(st.connections_accepted, 2u);
  // Every attempt the client made reached the sim: refused or accepted.
  EXPECT_EQ(static_cast<std::uint64_t>(o.stats->ws_attempts.load()),
            st.connections_refused + st.connections_accepted);
  EXPECT_LT(o.stats->ws_attempts.load(), 40) << "backoff, not a storm (Binance allows 300 / 5 min)";
  EXPECT_EQ(o.stats->ws_limiter_waits.load(), 0);
  ASSERT_GE(backoffs.size(), 4u);
  int max_attempt = 0;
  int jittered = 0;
  for (const auto& b : backoffs) {
    const double nominal = std::min(1000.0, 100.0 * std::pow(2.0, b.attempt - 1));
    EXPECT_LE(static_cast<double>(b.delay.count()), nominal) << "attempt " << b.attempt;
    EXPECT_GE(static_cast<double>(b.delay.count()), nominal * 0.5 - 1) << "attempt " << b.attempt;
    jittered += static_cast<double>(b.delay.count()) < nominal * 0.97;
    max_attempt = std::max(max_attempt, b.attempt);
  }
  EXPECT_GE(max_attempt, 3) << "consecutive failures doubled the wait";
  EXPECT_GE(jittered, 2) << "delays are randomised, not lock-step";
  std::cerr << "attempts " << o.stats->ws_attempts.load() << " (refused " << st.connections_refused
            << "), backoffs";
  for (const auto& b : backoffs) std::cerr << ' ' << b.attempt << ':' << b.delay.count() << "ms";
  std::cerr << ", repaired " << o.stats->trades_repaired.load() << "\n";
}

TEST(LoaderWsSymbols, CommaSeparatedListIsUpperCasedAndDeduplicated) {
  auto s = parse_symbol_list("btcusdt, ETHUSDT,btcusdt");
  ASSERT_TRUE(s.ok()) << s.error();
  ASSERT_EQ(s->size(), 2u);
  EXPECT_EQ((*s)[0].view(), "BTCUSDT");
  EXPECT_EQ((*s)[1].view(), "ETHUSDT");
  EXPECT_FALSE(parse_symbol_list("").ok());
  EXPECT_FALSE(parse_symbol_list("BTC/USDT").ok());
}

}  // namespace
}  // namespace sf::services
