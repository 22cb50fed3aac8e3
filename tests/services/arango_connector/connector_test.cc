// arango-connector on the in-process bus and a real SQLite store: what lands in the store, the
// dead-letter topic, commits only after writes, the upstream hand-off, stop/restart and store
// failures.
#include <gtest/gtest.h>

#include <future>
#include <set>

#include "bus/inproc_bus.h"
#include "core/wire.h"
#include "core/wire_decode.h"
#include "runtime/protocol.h"
#include "services/arango_connector/arango_connector.h"
#include "simdjson.h"
#include "store/sqlite_store.h"

namespace sf::services {
namespace {

using namespace std::chrono_literals;

const Symbol kBtc = *Symbol::parse("BTCUSDT");

Trade trade(std::int64_t id, const char* price = "61837.63000000") {
  return Trade{.symbol = kBtc,
               .trade_id = id,
               .price = *Decimal::parse(price),
               .quantity = *Decimal::parse("0.00100000"),
               .trade_time = 1723161255342000 + id,
               .event_time = 1723161255343000 + id,
               .receive_time = 1723161254061862 + id,
               .is_buyer_maker = id % 2 == 0,
               .is_best_match = true};
}

std::string encoded(const Trade& t) {
  std::string s;
  wire::encode(t, s);
  return s;
}

// A real SQLite store whose writes can be made to fail (fault injection around the real thing).
class FlakyStore : public store::Store {
 public:
  explicit FlakyStore(store::Store& inner) : inner_(inner) {}
  std::atomic<int> fail_next{0};  // this many upserts fail
  std::atomic<int> writes{0};

  store::StoreResult<std::size_t> upsert_trades(std::span<const Trade> b) override {
    ++writes;
    if (fail_next > 0) {
      --fail_next;
      return unexpected(store::StoreError{store::StoreErrc::kWrite, "injected failure"});
    }
    return inner_.upsert_trades(b);
  }
  store::StoreResult<std::size_t> upsert_agg_trades(std::span<const AggTrade> b) override {
    return inner_.upsert_agg_trades(b);
  }
  store::StoreResult<std::size_t> upsert_candles(std::span<const Candle> b) override {
    return inner_.upsert_candles(b);
  }
  store::StoreResult<std::size_t> upsert_depth_snapshots(
      std::span<const DepthSnapshot> b) override {
    return inner_.upsert_depth_snapshots(b);
  }
  store::StoreResult<std::size_t> upsert_indicators(std::span<const IndicatorValue> b) override {
    return inner_.upsert_indicators(b);
  }
  store::StoreResult<std::size_t> append_telemetry(std::span<const TelemetryEvent> b) override {
    return inner_.append_telemetry(b);
  }
  store::StoreResult<void> upsert_workflow(const WorkflowState& s) override {
    return inner_.upsert_workflow(s);
  }
  store::StoreResult<std::vector<Trade>> trades(const Symbol& s, store::TimeRange r) override {
    return inner_.trades(s, r);
  }
  store::StoreResult<std::vector<AggTrade>> agg_trades(const Symbol& s,
                                                       store::TimeRange r) override {
    return inner_.agg_trades(s, r);
  }
  store::StoreResult<std::vector<Candle>> candles(const Symbol& s, Interval i,
                                                  store::TimeRange r) override {
    return inner_.candles(s, i, r);
  }
  store::StoreResult<std::vector<DepthSnapshot>> depth_snapshots(const Symbol& s, std::int64_t a,
                                                                 std::int64_t b) override {
    return inner_.depth_snapshots(s, a, b);
  }
  store::StoreResult<std::vector<IndicatorValue>> indicators(const Symbol& s, Interval i,
                                                             const std::string& n,
                                                             store::TimeRange r) override {
    return inner_.indicators(s, i, n, r);
  }
  store::StoreResult<std::vector<TelemetryEvent>> telemetry(const std::string& q) override {
    return inner_.telemetry(q);
  }
  store::StoreResult<void> replace_graph(const GraphRecord& g) override {
    return inner_.replace_graph(g);
  }
  store::StoreResult<std::optional<GraphRecord>> graph(const std::string& n) override {
    return inner_.graph(n);
  }
  store::StoreResult<std::vector<GraphRecord>> graphs() override { return inner_.graphs(); }
  store::StoreResult<std::optional<WorkflowState>> workflow(const std::string& q) override {
    return inner_.workflow(q);
  }
  store::StoreResult<std::vector<WorkflowState>> workflows() override { return inner_.workflows(); }
  store::StoreResult<int> schema_version() override { return inner_.schema_version(); }
  std::string_view kind() const override { return "flaky-sqlite"; }

 private:
  store::Store& inner_;
};

class ConnectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::SqliteStore::open(":memory:");
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(s).value();
  }

  runtime::WorkerSettings settings(const std::string& queue_id) {
    runtime::WorkerSettings s;
    s.service = "arango-connector";
    s.queue_id = queue_id;
    s.producer = "arango-connector__" + queue_id;
    s.telemetry_interval = 200ms;
    return s;
  }

  ConnectorOptions options(const std::string& topic, FinishWhen when = FinishWhen::kEndOfTopic) {
    ConnectorOptions o;
    o.topics = {topic};
    o.group = "arango-connector-" + topic;
    o.batch_records = 1000;
    o.batch_max_delay = 50ms;
    o.finish_when = when;
    o.store_retry_for = 5s;
    return o;
  }

  void publish(const std::string& topic, const std::string& value) {
    ASSERT_TRUE(bus_.publish(topic, "BTCUSDT", value).ok());
  }

  std::vector<bus::Message> read_all(const std::string& topic) {
    auto c = bus_.subscribe({.topics = {topic},
                             .group = "reader-" + runtime::short_id(),
                             .start = bus::StartFrom::kEarliest,
                             .offsets = {}});
    EXPECT_TRUE(c.ok());
    std::vector<bus::Message> out;
    for (;;) {
      auto b = (*c)->poll(50ms, 100000);
      if (!b || b->empty()) break;
      for (auto& m : *b) out.push_back(std::move(m));
    }
    (*c)->close();
    return out;
  }

  std::size_t stored_trades() {
    auto t = store_->trades(kBtc, {});
    EXPECT_TRUE(t.ok());
    return t ? t->size() : 0;
  }

  bus::InProcBus bus_;
  std::unique_ptr<store::SqliteStore> store_;
};

TEST_F(ConnectorTest, StoresEveryRecordOnceAndDeadLettersPoison) {
  const std::string topic = "trades-a";
  for (int i = 1; i <= 2500; ++i) publish(topic, encoded(trade(i)));
  publish(topic, encoded(trade(7)));  // a replayed record: same key, no second row
  publish(topic, "{not json");
  publish(
      topic,
      R"({"v":1,"type":"trade","symbol":"BTCUSDT","trade_id":9001,"quantity":"1","timestamp":1,"is_buyer_maker":true})");
  publish(topic, encoded(trade(9002, "-1.00")));  // decodes, fails validation
  publish(
      topic,
      R"({"v":1,"type":"gap","symbol":"BTCUSDT","first_missing_id":5000,"last_missing_id":5001,"reason":"x"})");
  Candle c{.symbol = kBtc,
           .interval = Interval::k1m,
           .open_time = 1723161240000000,
           .open = *Decimal::parse("1.0"),
           .high = *Decimal::parse("2.0"),
           .low = *Decimal::parse("0.5"),
           .close = *Decimal::parse("1.5"),
           .volume = *Decimal::parse("10"),
           .close_time = 1723161299999000,
           .quote_asset_volume = *Decimal::parse("15"),
           .number_of_trades = 3,
           .taker_buy_base_asset_volume = *Decimal::parse("4"),
           .taker_buy_quote_asset_volume = *Decimal::parse("6"),
           .ignore = {},
           .first_trade_id = 1,
           .last_trade_id = 3,
           .is_closed = true,
           .event_time = 0,
           .receive_time = 0};
  std::string cs;
  wire::encode(c, cs);
  publish(topic, cs);
  std::string is;
  wire::encode(IndicatorValue{kBtc, Interval::k1m, "rsi_14", 1723161240000000, 55.5}, is);
  publish(topic, is);

  ConnectorStats stats;
  runtime::Worker w(bus_, settings("q1"));
  EXPECT_EQ(w.run(connector_body(options(topic), *store_, &stats)), 0);
  EXPECT_EQ(w.outcome(), runtime::Outcome::kFinished);

  EXPECT_EQ(stored_trades(), 2500u);
  auto trades = store_->trades(kBtc, {});
  ASSERT_TRUE(trades.ok());
  EXPECT_EQ(encoded((*trades)[41]), encoded(trade(42)));  // every field round-trips exactly
  auto candles = store_->candles(kBtc, Interval::k1m, {});
  ASSERT_TRUE(candles.ok());
  ASSERT_EQ(candles->size(), 1u);
  EXPECT_EQ((*candles)[0].high.to_string(), "2.0");
  auto ind = store_->indicators(kBtc, Interval::k1m, "rsi_14", {});
  ASSERT_TRUE(ind.ok());
  ASSERT_EQ(ind->size(), 1u);
  EXPECT_EQ((*ind)[0].value, 55.5);

  EXPECT_EQ(stats.consumed.load(), 2507);  // 2500 + 1 replay + 3 poison + gap, candle, indicator
  EXPECT_EQ(stats.dead_letters.load(), 3);
  EXPECT_EQ(stats.skipped.load(), 1);  // the gap record

  auto dlq = read_all(topic + ".dlq");
  ASSERT_EQ(dlq.size(), 3u);
  std::vector<std::string> reasons;
  for (const auto& m : dlq) {
    simdjson::dom::parser p;
    auto doc = p.parse(m.value);
    ASSERT_FALSE(doc.error()) << m.value;
    EXPECT_EQ(std::string_view(doc["type"]), "dead_letter");
    EXPECT_EQ(std::string_view(doc["source_topic"]), topic);
    EXPECT_GE(int64_t(doc["source_offset"]), 2501);
    EXPECT_EQ(m.key, "BTCUSDT");
    reasons.emplace_back(std::string_view(doc["reason"]));
  }
  EXPECT_EQ(reasons[0].rfind("malformed_json", 0), 0u) << reasons[0];
  EXPECT_NE(reasons[1].find("price"), std::string::npos) << reasons[1];
  EXPECT_NE(reasons[2].find("price must be positive"), std::string::npos) << reasons[2];
  // The raw record is kept for replay.
  EXPECT_NE(dlq[0].value.find(R"("value":"{not json")"), std::string::npos) << dlq[0].value;
}

TEST_F(ConnectorTest, StopFlushesCommitsAndARestartContinuesWhereItStopped) {
  const std::string topic = "trades-b";
  for (int i = 1; i <= 3000; ++i) publish(topic, encoded(trade(i)));
  ConnectorStats first;
  runtime::Worker w1(bus_, settings("q2"));
  auto done = std::async(std::launch::async, [&] {
    return w1.run(connector_body(options(topic, FinishWhen::kNever), *store_, &first));
  });
  // Caught up, then stopped: everything written, offsets committed.
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (first.written.load() < 3000 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  ASSERT_EQ(first.written.load(), 3000);
  w1.request_stop("test");
  EXPECT_EQ(done.get(), 0);
  EXPECT_EQ(w1.outcome(), runtime::Outcome::kInterrupted);

  for (int i = 3001; i <= 3500; ++i) publish(topic, encoded(trade(i)));
  ConnectorStats second;
  runtime::Worker w2(bus_, settings("q2"));
  EXPECT_EQ(w2.run(connector_body(options(topic), *store_, &second)), 0);
  EXPECT_EQ(second.consumed.load(), 500);  // only what came after the commit
  EXPECT_EQ(stored_trades(), 3500u);
}

TEST_F(ConnectorTest, WaitsForTheUpstreamFinishedEventThenFinishesAtTheEndOfTheTopic) {
  const std::string topic = "trades-c";
  for (int i = 1; i <= 1200; ++i) publish(topic, encoded(trade(i)));
  ConnectorStats stats;
  runtime::Worker w(bus_, settings("q3"));
  auto done = std::async(std::launch::async, [&] {
    return w.run(connector_body(options(topic, FinishWhen::kUpstreamFinished), *store_, &stats));
  });
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (stats.written.load() < 1200 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  ASSERT_EQ(stats.written.load(), 1200);
  // Caught up, but the loader has not said it is done: the connector keeps going.
  EXPECT_EQ(done.wait_for(500ms), std::future_status::timeout);

  // Another queue's finished event, and one of ours for another topic, change nothing.
  TelemetryEvent other{.queue_id = "other",
                       .producer = "loader-producer__x",
                       .symbol = "BTCUSDT",
                       .type = "api_trades",
                       .status = "finished",
                       .message = "",
                       .records_written = 1,
                       .finished = true,
                       .timestamp = 1,
                       .extra = R"({"records":1300,"topic":"trades-c"})"};
  ASSERT_TRUE(bus_.publish("queue-events", "other", runtime::encode_telemetry(other)).ok());
  TelemetryEvent wrong_topic = other;
  wrong_topic.queue_id = "q3";
  wrong_topic.extra = R"({"records":5,"topic":"elsewhere"})";
  ASSERT_TRUE(bus_.publish("queue-events", "q3", runtime::encode_telemetry(wrong_topic)).ok());
  EXPECT_EQ(done.wait_for(500ms), std::future_status::timeout);

  // The loader published 100 more, then its finished event: the connector persists them and ends.
  for (int i = 1201; i <= 1300; ++i) publish(topic, encoded(trade(i)));
  TelemetryEvent ours = other;
  ours.queue_id = "q3";
  ASSERT_TRUE(bus_.publish("queue-events", "q3", runtime::encode_telemetry(ours)).ok());
  ASSERT_EQ(done.wait_for(20s), std::future_status::ready);
  EXPECT_EQ(done.get(), 0);
  EXPECT_EQ(w.outcome(), runtime::Outcome::kFinished);
  EXPECT_EQ(stats.written.load(), 1300);
  EXPECT_EQ(stats.upstream_records.load(), 1300);
  EXPECT_EQ(stored_trades(), 1300u);
}

TEST_F(ConnectorTest, StoreFailuresAreRetriedAndNothingIsCommittedUntilWritten) {
  const std::string topic = "trades-d";
  for (int i = 1; i <= 100; ++i) publish(topic, encoded(trade(i)));
  FlakyStore flaky(*store_);
  flaky.fail_next = 3;
  ConnectorStats stats;
  runtime::Worker w(bus_, settings("q4"));
  EXPECT_EQ(w.run(connector_body(options(topic), flaky, &stats)), 0);
  EXPECT_EQ(stats.store_retries.load(), 3);
  EXPECT_EQ(stored_trades(), 100u);

  // A store that stays down: the connector gives up with `error` and commits nothing, so the next
  // run reads the same records again.
  const std::string topic2 = "trades-e";
  for (int i = 101; i <= 150; ++i) publish(topic2, encoded(trade(i)));
  flaky.fail_next = 1'000'000;
  auto o = options(topic2);
  o.store_retry_for = 300ms;
  runtime::Worker w2(bus_, settings("q5"));
  EXPECT_EQ(w2.run(connector_body(o, flaky, nullptr)), 1);
  EXPECT_EQ(w2.outcome(), runtime::Outcome::kError);
  EXPECT_EQ(stored_trades(), 100u);

  flaky.fail_next = 0;
  ConnectorStats again;
  runtime::Worker w3(bus_, settings("q5"));
  EXPECT_EQ(w3.run(connector_body(o, flaky, &again)), 0);
  EXPECT_EQ(again.consumed.load(), 50);
  EXPECT_EQ(stored_trades(), 150u);
}

}  // namespace
}  // namespace sf::services
