// The connector's crash guarantee on the real broker and the real PostgreSQL server: kill -9 the
// `streamforge arango-connector` process at random points while 1,000,000 trades (and poison
// records) stream through; after restarts the table holds exactly the unique trades of the topic
// (0 lost, 0 duplicated) and every poison record is in the dead-letter topic with its reason.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "bus/kafka_bus.h"
#include "core/wire.h"
#include "services/dummy/process_support.h"
#include "simdjson.h"
#include "store/postgres_test_support.h"
#include "test_support.h"

namespace {

using namespace std::chrono_literals;
using sf::testing::spawn;

std::string bootstrap() {
  const char* v = std::getenv("SF_TEST_KAFKA_BOOTSTRAP");
  return v ? v : "";
}

TEST(ConnectorCrash, KillNineAtRandomPointsLosesAndDuplicatesNothing) {
  if (bootstrap().empty())
    GTEST_SKIP() << "set SF_TEST_KAFKA_BOOTSTRAP (scripts/kafka.sh start prints one)";
  sf::store::testing::PostgresTestSchema pg;
  if (!pg.available()) GTEST_SKIP() << pg.unavailable_reason();

  constexpr int kTrades = 1'000'000;
  constexpr int kPoisonEvery = 20'000;  // 50 poison records spread through the stream
  const std::string suffix = std::to_string(std::random_device{}());
  const std::string topic = "connector-crash-" + suffix;

  sf::bus::KafkaBusOptions ko;
  ko.bootstrap_servers = bootstrap();
  auto bus = sf::bus::KafkaBus::open(ko);
  ASSERT_TRUE(bus.ok()) << bus.error().message;
  ASSERT_TRUE((*bus)->create_topic(topic, 3).ok());
  const auto btc = *sf::Symbol::parse("BTCUSDT");
  const auto eth = *sf::Symbol::parse("ETHUSDT");
  std::string record;
  int poison = 0;
  for (int i = 1; i <= kTrades; ++i) {
    const auto& sym = i % 3 == 0 ? eth : btc;  // two keys: two partitions in use
    record.clear();
    sf::wire::encode(sf::Trade{.symbol = sym,
                               .trade_id = i,
                               .price = sf::Decimal::from_parts(6183763 + i % 1000, 2),
                               .quantity = sf::Decimal::from_parts(100 + i % 7, 5),
                               .trade_time = 1723161255342000 + i,
                               .event_time = 1723161255343000 + i,
                               .receive_time = 0,
                               .is_buyer_maker = i % 2 == 0,
                               .is_best_match = true},
                     record);
    auto r = (*bus)->publish(topic, sym.view(), record);
    ASSERT_TRUE(r.ok()) << r.error().message;
    if (i % kPoisonEvery == 0) {
      ASSERT_TRUE(
          (*bus)->publish(topic, sym.view(), "{\"v\":1,\"type\":\"trade\",\"broken\"").ok());
      ++poison;
    }
  }
  ASSERT_TRUE((*bus)->flush(60s).ok());
  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::to_string(
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()) +
           " s";
  };

  std::vector<std::string> args{"arango-connector",
                                "--queue-id",
                                "crash-" + suffix,
                                "--kafka-topic",
                                topic,
                                "--store",
                                pg.url(),
                                "--finish-when",
                                "end-of-topic",
                                "--batch-records",
                                "5000",
                                "--telemetry-interval",
                                "0.5",
                                "--http-port",
                                "-1"};
  std::vector<std::pair<std::string, std::string>> env{{"KAFKA_BOOTSTRAP_SERVERS", bootstrap()}};

  // Kill it three times, each time at a random moment after it has written something more.
  std::mt19937 rng(std::random_device{}());
  int kills = 0;
  long long stored_before = 0;
  for (int round = 0; round < 3; ++round) {
    auto child = spawn(args, env);
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    long long stored = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      child.drain();
      std::this_thread::sleep_for(100ms);
      const auto n = pg.scalar("SELECT count(*) FROM pg_tables WHERE schemaname = '" + pg.schema() +
                               "' AND tablename = 'trades'");
      if (n == "1") stored = std::stoll(pg.scalar("SELECT count(*) FROM trades"));
      if (stored > stored_before) break;
    }
    ASSERT_GT(stored, stored_before) << "no progress before kill " << round << "\n" << child.err;
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 1500)(rng)));
    kill(child.pid, SIGKILL);
    const int rc = child.wait_exit(10s);
    if (rc == 0) break;  // it finished before the kill landed: nothing left to interrupt
    ASSERT_EQ(rc, 128 + SIGKILL);
    ++kills;
    stored_before = std::stoll(pg.scalar("SELECT count(*) FROM trades"));
    std::cerr << "kill " << kills << " at " << elapsed() << " with " << stored_before
              << " rows stored\n";
    if (stored_before >= kTrades) break;
  }
  EXPECT_GE(kills, 1);

  auto last = spawn(args, env);
  const int last_rc = last.wait_exit(180s);
  std::cerr << "last run ended at " << elapsed() << "\n";
  ASSERT_EQ(last_rc, 0) << last.err.substr(last.err.size() > 4000 ? last.err.size() - 4000 : 0);

  // Exactly the unique trades of the topic.
  EXPECT_EQ(pg.scalar("SELECT count(*) FROM trades"), std::to_string(kTrades));
  EXPECT_EQ(pg.scalar("SELECT count(DISTINCT trade_id) FROM trades"), std::to_string(kTrades));
  EXPECT_EQ(pg.scalar("SELECT min(trade_id) FROM trades"), "1");
  EXPECT_EQ(pg.scalar("SELECT max(trade_id) FROM trades"), std::to_string(kTrades));
  EXPECT_EQ(pg.scalar("SELECT count(*) FROM trades WHERE symbol = 'ETHUSDT'"),
            std::to_string(kTrades / 3));
  // Spot-check exact decimals: trade 777 was written as 61845.40 / 0.00100.
  EXPECT_EQ(pg.scalar("SELECT price || ' ' || quantity FROM trades WHERE trade_id = 777"),
            "61845.40 0.00100");

  // Every poison record is in the DLQ (a crash may repeat one; its source offset identifies it).
  auto c = (*bus)->subscribe({.topics = {topic + ".dlq"},
                              .group = "dlq-check-" + suffix,
                              .start = sf::bus::StartFrom::kEarliest,
                              .offsets = {}});
  ASSERT_TRUE(c.ok());
  std::set<std::pair<long long, long long>> sources;
  const auto until = std::chrono::steady_clock::now() + 30s;
  while (static_cast<int>(sources.size()) < poison && std::chrono::steady_clock::now() < until) {
    auto batch = (*c)->poll(500ms, 1000);
    ASSERT_TRUE(batch.ok());
    for (const auto& m : *batch) {
      simdjson::dom::parser p;
      auto doc = p.parse(m.value);
      ASSERT_FALSE(doc.error()) << m.value;
      EXPECT_EQ(std::string_view(doc["reason"]).rfind("malformed_json", 0), 0u) << m.value;
      sources.emplace(int64_t(doc["source_partition"]), int64_t(doc["source_offset"]));
    }
  }
  EXPECT_EQ(static_cast<int>(sources.size()), poison);
}

}  // namespace
