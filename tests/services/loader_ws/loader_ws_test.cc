// loader-ws end to end on the in-process bus: the real BTCUSDT captures of 2024-08-08/09 replayed
// by exchange-sim's WebSocket at max speed with dropped connections and duplicated frames; gaps
// are repaired from the sim's REST historicalTrades (a trades CSV built from the same captures) or,
// without trade data, published as gap records.
#include "services/loader_ws/loader_ws.h"

#include <gtest/gtest.h>
#include <simdjson.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "bus/inproc_bus.h"
#include "exchange/binance/book/order_book.h"
#include "exchange/binance/parse.h"
#include "services/exchange_sim/exchange_sim.h"
#include "test_support.h"
#include "tools/normalize.h"

namespace sf::services {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr const char* kDay1 = "hftbacktest_ws_spot/btcusdt_20240808.gz";
constexpr const char* kDay2 = "hftbacktest_ws_spot/btcusdt_20240809.gz";

std::string shared(const char* relative) {
  return (sf::testing::shared_data_dir() / relative).string();
}

// The capture's @trade frames in order, parsed independently of the loader.
std::vector<Trade> capture_trades(const char* relative) {
  std::vector<Trade> out;
  binance::Parser parser;
  std::string error;
  EXPECT_TRUE(tools::for_each_line(
      shared(relative),
      [&](std::string_view line) {
        const auto space = line.find(' ');
        if (space == std::string_view::npos) return;
        std::string frame(line.substr(space + 1));
        if (frame.find("@trade\"") == std::string::npos) return;
        auto event = parser.parse_ws_frame(frame, 0);
        if (event && std::holds_alternative<Trade>(*event)) out.push_back(std::get<Trade>(*event));
      },
      &error))
      << error;
  return out;
}

// The trades as data.binance.vision writes them (7 columns, ms), so that the sim's data index
// serves them on /api/v3/historicalTrades.
void write_trades_csv(const fs::path& path, const std::vector<Trade>& trades) {
  std::ofstream out(path);
  for (const auto& t : trades) {
    out << t.trade_id << ',' << t.price.to_string() << ',' << t.quantity.to_string() << ','
        << (t.price * t.quantity).rescaled(8).to_string() << ',' << micros_to_millis(t.trade_time)
        << ',' << (t.is_buyer_maker ? "True" : "False") << ",True\n";
  }
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
        if (r.type == "trade") {
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
};

TEST_F(LoaderWsTest, EveryTradeIdExactlyOnceInOrderDespiteDisconnectsAndDuplicates) {
  SF_REQUIRE_SHARED_DATA(kDay2);
  auto day1 = capture_trades(kDay1);
  auto day2 = capture_trades(kDay2);
  write_trades_csv(dir_ / "BTCUSDT-trades-2024-08-08.csv", day1);
  write_trades_csv(dir_ / "BTCUSDT-trades-2024-08-09.csv", day2);
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
  std::string error;
  ASSERT_TRUE(tools::for_each_line(
      shared(kDay1),
      [&](std::string_view line) {
        const auto space = line.find(' ');
        if (space == std::string_view::npos) return;
        std::string text(line.substr(space + 1));
        while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
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
      },
      &error))
      << error;
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
