// queue-manager with the local-process launcher on the real Kafka broker and PostgreSQL server:
// historical-load with every stage a separate `streamforge <service>` process talking only
// through Kafka. Mid-run the candle loader is killed with SIGKILL (self-healing restarts it; it
// resumes from its checkpoint) and the queue-manager itself is replaced by a new instance (it
// reloads the workflow from the store and adopts the running processes). The store must end with
// exactly the 2,592 candles, and the history must hold the restart.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "bus/kafka_bus.h"
#include "exchange/binance/parse.h"
#include "services/exchange_sim/exchange_sim.h"
#include "services/queue_manager/launchers.h"
#include "services/queue_manager/queue_manager.h"
#include "store/postgres_test_support.h"
#include "test_support.h"

namespace sf::services {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

TEST(QueueManagerOnKafka, LocalProcessesSurviveKillNineAndAManagerRestart) {
  const char* bootstrap = std::getenv("SF_TEST_KAFKA_BOOTSTRAP");
  if (!bootstrap || !*bootstrap)
    GTEST_SKIP() << "set SF_TEST_KAFKA_BOOTSTRAP (scripts/kafka.sh start prints one)";
  store::testing::PostgresTestSchema pg;
  if (!pg.available()) GTEST_SKIP() << pg.unavailable_reason();
  SF_REQUIRE_SHARED_DATA("klines_btcusdt_2020_htm/BTCUSDT-5m-2020-07-01_2020-07-11.csv");

  exchange_sim::ExchangeSimOptions so;
  so.data_dir = sf::testing::shared_data_dir().string();
  so.faults.slow_ms = 150;  // 26 pages of 100 candles: the load takes ~4 s
  auto sim = exchange_sim::ExchangeSim::start(so);
  ASSERT_TRUE(sim.ok()) << sim.error();

  const std::string suffix = std::to_string(std::random_device{}() % 1000000);
  bus::KafkaBusOptions ko;
  ko.bootstrap_servers = bootstrap;
  auto bus = bus::KafkaBus::open(ko);
  ASSERT_TRUE(bus.ok()) << bus.error().message;
  auto store = store::open_store(pg.url());
  ASSERT_TRUE(store.ok()) << store.error().message;

  const fs::path logs = fs::temp_directory_path() / ("sf_qm_logs_" + suffix);
  qm::LocalProcessLauncher launcher({.binary = sf::testing::streamforge_bin().string(),
                                     .log_dir = logs.string(),
                                     .kill_grace = 10s});
  qm::QueueManagerOptions qo;
  qo.workflows_dir = std::string(SF_REPO_ROOT) + "/workflows";
  qo.topics = {"qc-" + suffix, "qe-" + suffix};  // private protocol topics: no other test's events
  qo.group = "queue-manager-" + suffix;
  qo.telemetry_interval = "0.3";
  qo.restart_backoff_s = 0.5;
  qo.exit_grace_s = 2;
  qo.base_env = {{"KAFKA_BOOTSTRAP_SERVERS", bootstrap},
                 {"SF_STORE", pg.url()},
                 {"BINANCE_API_URL", (*sim)->rest_base_url()},
                 {"LIMIT", "100"},
                 {"BATCH_RECORDS", "200"},  // loader checkpoints (and connector batches) every 200
                 {"LOG_LEVEL", "info"}};
  ASSERT_TRUE((*bus)->create_topic(qo.topics.events, 3).ok());
  ASSERT_TRUE((*bus)->create_topic(qo.topics.control, 1).ok());

  auto manager = std::make_unique<qm::QueueManager>(**bus, **store, launcher, qo);
  ASSERT_TRUE(manager->start().ok());
  auto started = manager->start_workflow(
      "historical-load",
      {{"symbol", "BTCUSDT"}, {"from", "2020-07-01"}, {"to", "2020-07-10"}, {"interval", "5m"}});
  ASSERT_TRUE(started.ok()) << started.error().message;
  const std::string id = started->queue_id;

  // Once the candle loader has written something, kill it without warning.
  auto stage = [&](const char* name) {
    auto w = manager->workflow(id);
    return w ? *w->stage(name) : qm::Stage{};
  };
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline &&
         (stage("load-candles").records_written == 0 || stage("load-candles").status != "running"))
    std::this_thread::sleep_for(50ms);
  const auto loader = stage("load-candles");
  ASSERT_GT(loader.records_written, 0) << "the loader never reported progress; logs in " << logs;
  ASSERT_LT(loader.records_written, 2592) << "the loader finished before it could be killed";
  const int pid = launcher.pid(loader.handle);
  ASSERT_GT(pid, 0);
  ASSERT_EQ(::kill(pid, SIGKILL), 0);

  // Self-healing starts attempt 2; then the manager itself is replaced mid-run.
  deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline && stage("load-candles").attempt < 2)
    std::this_thread::sleep_for(50ms);
  ASSERT_EQ(stage("load-candles").attempt, 2)
      << "status " << stage("load-candles").status << ": " << stage("load-candles").message
      << " records " << stage("load-candles").records_written << " (killed at "
      << loader.records_written << ")";
  manager->shutdown();
  manager.reset();
  manager = std::make_unique<qm::QueueManager>(**bus, **store, launcher, qo);
  ASSERT_TRUE(manager->start().ok());

  deadline = std::chrono::steady_clock::now() + 240s;
  std::string status;
  while (std::chrono::steady_clock::now() < deadline) {
    status = manager->workflow(id)->status;
    if (status == "finished" || status == "failed" || status == "interrupted") break;
    std::this_thread::sleep_for(200ms);
  }
  ASSERT_EQ(status, "finished") << manager->workflow(id)->message << "; logs in " << logs;

  // Exactly the candles of the CSV, no gap, no duplicate.
  EXPECT_EQ(pg.scalar("SELECT count(*) FROM candles WHERE symbol = 'BTCUSDT' AND interval = '5m'"),
            "2592");
  EXPECT_EQ(pg.scalar("SELECT count(DISTINCT open_time) FROM candles WHERE symbol = 'BTCUSDT'"),
            "2592");
  const Symbol btc = *Symbol::parse("BTCUSDT");
  auto stored = (*store)->candles(btc, Interval::k5m, {});
  ASSERT_TRUE(stored.ok());
  std::ifstream in(sf::testing::shared_data_dir() /
                   "klines_btcusdt_2020_htm/BTCUSDT-5m-2020-07-01_2020-07-11.csv");
  std::string line;
  std::size_t i = 0;
  while (std::getline(in, line) && i < stored->size()) {
    auto c = binance::parse_kline_csv(line, btc, Interval::k5m);
    if (!c || c->open_time >= 1594339200000000) continue;
    const auto& s = (*stored)[i++];
    ASSERT_EQ(s.open_time, c->open_time);
    ASSERT_EQ(s.close.to_string(), c->close.to_string());
    ASSERT_EQ(s.quote_asset_volume.to_string(), c->quote_asset_volume.to_string());
  }
  EXPECT_EQ(i, 2592u);
  // The history survived the manager restart and records the self-healing restart.
  auto events = (*store)->telemetry(id);
  ASSERT_TRUE(events.ok());
  int restarting = 0, loader_finished = 0;
  for (const auto& e : *events) {
    restarting += e.producer == "queue-manager" && e.status == "restarting";
    loader_finished += e.producer == "loader-producer__load-candles__a2" && e.status == "finished";
  }
  EXPECT_EQ(restarting, 1);
  EXPECT_EQ(loader_finished, 1);
  manager->shutdown();
  fs::remove_all(logs);
}

}  // namespace
}  // namespace sf::services
