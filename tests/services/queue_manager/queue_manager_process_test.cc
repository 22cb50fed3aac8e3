// queue-manager with the local-process launcher on the real Kafka broker and PostgreSQL server:
// historical-load with every stage a separate `streamforge <service>` process talking only
// through Kafka. Mid-run the candle loader is killed with SIGKILL (self-healing restarts it; it
// resumes from its checkpoint) and the queue-manager itself is replaced by a new instance (it
// reloads the workflow from the store and adopts the running processes). The store must end with
// exactly the 2,592 candles, and the history must hold the restart.
//
// Security (docs/security.md): a full historical-load whose every credential is a canary value,
// searched for afterwards in every API response, the store's tables, all logs, /metrics, the
// Kafka topics and the rendered Kubernetes Job manifests; and the local-process launcher's exact
// child environment.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include "bus/kafka_bus.h"
#include "exchange/binance/parse.h"
#include "runtime/api_auth.h"
#include "runtime/http_client.h"
#include "runtime/log.h"
#include "runtime/service.h"
#include "services/exchange_sim/exchange_sim.h"
#include "services/queue_manager/k8s/manifest.h"
#include "services/queue_manager/launchers.h"
#include "services/queue_manager/queue_manager.h"
#include "services/queue_manager/registry.h"
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

// The child of the local-process launcher gets the stage's environment, the stage's secrets and
// PATH/HOME/LANG: nothing else of the parent's (not its other credentials), and secrets it was
// not given neither. A shell script stands in for `streamforge <service>` to print what it got.
TEST(LocalProcessLauncher, TheChildGetsItsEnvironmentAndItsSecretsOnly) {
  const fs::path dir = fs::temp_directory_path() / ("sf_lp_env_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path script = dir / "printenv.sh";
  std::ofstream(script) << "env\n";
  ::setenv("SF_TEST_PARENT_PASSWORD", "parent-only-secret", 1);
  auto secrets = std::make_shared<runtime::SecretStore>();
  secrets->set("ARANGO_PASSWORD", "arango-pw");
  secrets->set("MINIO_SECRET_KEY", "not-for-this-stage");
  qm::LocalProcessLauncher launcher(
      {.binary = "/bin/sh", .log_dir = dir.string(), .kill_grace = 5s});
  qm::StageLaunch launch{
      "q1",   "s1", script.string(), 1, {{"TYPE", "x"}, {"SYMBOL", "BTCUSDT"}}, {"ARANGO_PASSWORD"},
      secrets};
  auto handle = launcher.start(launch);
  ASSERT_TRUE(handle.ok()) << handle.error();
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (launcher.status(*handle).state != qm::RunState::kExited &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  std::ifstream in(dir / "q1" / "s1-a1.log");
  std::set<std::string> names;
  std::string line, all;
  while (std::getline(in, line)) {
    all += line + "\n";
    names.insert(line.substr(0, line.find('=')));
  }
  EXPECT_NE(all.find("ARANGO_PASSWORD=arango-pw\n"), std::string::npos) << all;
  EXPECT_NE(all.find("TYPE=x\n"), std::string::npos) << all;
  EXPECT_EQ(all.find("parent-only-secret"), std::string::npos) << all;
  EXPECT_EQ(all.find("not-for-this-stage"), std::string::npos) << all;
  for (const auto& n : names)  // the shell adds PWD, SHLVL and _
    EXPECT_TRUE(n == "ARANGO_PASSWORD" || n == "TYPE" || n == "SYMBOL" || n == "PATH" ||
                n == "HOME" || n == "LANG" || n == "PWD" || n == "SHLVL" || n == "_")
        << n;
  // A secret the platform does not hold: the launch fails and says which, nothing runs.
  launch.secrets = {"KAFKA_PASSWORD"};
  auto missing = launcher.start(launch);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("KAFKA_PASSWORD"), std::string::npos);
  ::unsetenv("SF_TEST_PARENT_PASSWORD");
  fs::remove_all(dir);
}

std::string run_command(const std::string& command) {
  std::string out;
  if (FILE* p = ::popen(command.c_str(), "r")) {
    char buf[65536];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    ::pclose(p);
  }
  return out;
}

// Where in `text` the canary shows, with some context; "" when it does not.
std::string find_canary(const std::string& text, const std::string& canary) {
  const auto at = text.find(canary);
  if (at == std::string::npos) return "";
  const auto from = at > 160 ? at - 160 : 0;
  return "..." + text.substr(from, 320) + "...";
}

TEST(QueueManagerOnKafka, CanaryCredentialsAppearNowhereAfterAFullHistoricalLoad) {
  const char* bootstrap = std::getenv("SF_TEST_KAFKA_BOOTSTRAP");
  const char* sasl_bootstrap = std::getenv("SF_TEST_KAFKA_SASL_BOOTSTRAP");
  if (!bootstrap || !*bootstrap || !sasl_bootstrap || !*sasl_bootstrap)
    GTEST_SKIP()
        << "set SF_TEST_KAFKA_BOOTSTRAP and SF_TEST_KAFKA_SASL_BOOTSTRAP (scripts/test.sh)";
  store::testing::PostgresTestSchema pg;
  if (!pg.available()) GTEST_SKIP() << pg.unavailable_reason();
  SF_REQUIRE_SHARED_DATA("klines_btcusdt_2020_htm/BTCUSDT-5m-2020-07-01_2020-07-11.csv");

  std::mt19937_64 rng(std::random_device{}());
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(rng()));
  const std::string canary = std::string("sfcanary") + hex;
  const std::string suffix(hex + 10);
  const std::string user = "sf_canary_" + suffix;

  // Real credentials that hold the canary: a PostgreSQL role and a Kafka SCRAM user.
  pg.exec("CREATE ROLE " + user + " LOGIN PASSWORD '" + canary + "-pg'");
  pg.exec("GRANT USAGE, CREATE ON SCHEMA " + pg.schema() + " TO " + user);
  pg.exec("GRANT " + user + " TO CURRENT_USER");  // to drop what it owns at the end
  const std::string base = pg.url();
  const auto scheme_end = base.find("://") + 3, at = base.find('@');
  ASSERT_NE(at, std::string::npos) << "the test DSN has no user";
  const std::string store_url =
      base.substr(0, scheme_end) + user + ":" + canary + "-pg" + base.substr(at);
  const std::string kafka_sh = std::string(SF_REPO_ROOT) + "/scripts/kafka.sh";
  ASSERT_EQ(std::system(("bash " + kafka_sh + " add-scram-user " + user + " " + canary +
                         "-kafka >/dev/null 2>&1")
                            .c_str()),
            0);

  // Every credential variable holds the canary (the ones this run needs work with it).
  auto secrets = std::make_shared<runtime::SecretStore>();
  for (const char* k : {"KAFKA_PASSWORD", "KAFKA_PASSWORD_PRODUCER", "KAFKA_PASSWORD_CONSUMER"})
    secrets->set(k, canary + "-kafka");
  secrets->set("SF_STORE", store_url);
  secrets->set("BINANCE_API_KEY", canary + "-binance-key");
  secrets->set("BINANCE_API_SECRET", canary + "-binance-secret");
  secrets->set("ARANGO_PASSWORD", canary + "-arango");
  secrets->set("MINIO_ACCESS_KEY", canary + "-minio-access");
  secrets->set("MINIO_SECRET_KEY", canary + "-minio-secret");
  const std::string api_token = canary + "-api-token";

  std::mutex log_mu;
  std::string manager_logs;
  log::set_sink([&](std::string_view line) {
    std::lock_guard lock(log_mu);
    manager_logs.append(line);
  });
  struct RestoreLog {
    ~RestoreLog() {
      log::set_sink({});
      log::set_level(log::Level::kInfo);
    }
  } restore_log;
  log::set_level(log::Level::kDebug);

  exchange_sim::ExchangeSimOptions so;
  so.data_dir = sf::testing::shared_data_dir().string();
  auto sim = exchange_sim::ExchangeSim::start(so);
  ASSERT_TRUE(sim.ok()) << sim.error();

  bus::KafkaBusOptions ko;
  ko.bootstrap_servers = sasl_bootstrap;
  ko.security_protocol = "SASL_PLAINTEXT";
  ko.username = user;
  ko.password = canary + "-kafka";
  auto bus = bus::KafkaBus::open(ko);
  ASSERT_TRUE(bus.ok()) << bus.error().message;
  auto store = store::open_store(store_url);
  ASSERT_TRUE(store.ok()) << store.error().message;

  const fs::path logs = fs::temp_directory_path() / ("sf_qm_canary_" + suffix);
  qm::LocalProcessLauncher launcher({.binary = sf::testing::streamforge_bin().string(),
                                     .log_dir = logs.string(),
                                     .kill_grace = 10s});
  qm::QueueManagerOptions qo;
  qo.workflows_dir = std::string(SF_REPO_ROOT) + "/workflows";
  qo.topics = {"qc-" + suffix, "qe-" + suffix};
  qo.group = "queue-manager-" + suffix;
  qo.telemetry_interval = "0.3";
  qo.secrets = secrets;
  qo.base_env = {{"KAFKA_BOOTSTRAP_SERVERS", sasl_bootstrap},
                 {"KAFKA_USER", user},
                 {"KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT"},
                 {"BINANCE_API_URL", (*sim)->rest_base_url()},
                 {"LOG_LEVEL", "debug"}};
  ASSERT_TRUE((*bus)->create_topic(qo.topics.events, 3).ok());
  ASSERT_TRUE((*bus)->create_topic(qo.topics.control, 1).ok());
  qm::QueueManager manager(**bus, **store, launcher, qo);
  ASSERT_TRUE(manager.start().ok());

  auto auth = runtime::ApiAuth::create({.token = api_token, .tokens_file = {}, .oidc = {}});
  ASSERT_TRUE(auth.ok()) << auth.error();
  runtime::HttpServerOptions ho;
  ho.authenticate = [a = *auth](const runtime::HttpRequest& r) { return a->authenticate(r); };
  runtime::HttpServer server(ho);
  manager.install_routes(server);
  ASSERT_TRUE(server.start().ok());

  std::string responses;
  runtime::HttpClient client;
  auto call = [&](const std::string& method, const std::string& path, const std::string& body,
                  const std::string& token) {
    runtime::HttpHeaders h;
    if (!token.empty()) h.set("Authorization", "Bearer " + token);
    auto r = client.request(method, server.base_url() + path, body, h, 30s);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error());
    if (!r.ok()) return runtime::HttpResponse{};
    for (const auto& [k, v] : r->headers) responses += k + ": " + v + "\n";
    responses += r->body + "\n";
    return *r;
  };
  // A wrong token that contains the canary is not echoed either.
  EXPECT_EQ(call("GET", "/queues", "", canary + "-wrong-token").status, 401);
  auto started = call(
      "POST", "/queues",
      R"({"template":"historical-load","symbol":"BTCUSDT","from":"2020-07-01","to":"2020-07-02","interval":"5m"})",
      api_token);
  ASSERT_EQ(started.status, 201) << started.body;
  const auto id_at = started.body.find(R"("queue_id":")") + 12;
  const std::string id = started.body.substr(id_at, started.body.find('"', id_at) - id_at);

  std::string status;
  const auto deadline = std::chrono::steady_clock::now() + 240s;
  while (std::chrono::steady_clock::now() < deadline) {
    status = manager.workflow(id)->status;
    if (status == "finished" || status == "failed" || status == "interrupted") break;
    call("GET", "/queues/" + id, "", api_token);
    std::this_thread::sleep_for(500ms);
  }
  ASSERT_EQ(status, "finished") << manager.workflow(id)->message << "; logs in " << logs;
  // The credentials worked: the stages wrote through Kafka's SCRAM listener into tables owned by
  // the canary role.
  EXPECT_EQ(pg.scalar("SELECT count(*) FROM candles WHERE symbol = 'BTCUSDT'"), "288");
  EXPECT_EQ(pg.scalar("SELECT tableowner FROM pg_tables WHERE schemaname = '" + pg.schema() +
                      "' AND tablename = 'candles'"),
            user);

  for (const std::string& path : std::vector<std::string>{
           "/queues", "/queues/list", "/queues/" + id, "/queues/" + id + "/events",
           "/queues/" + id + "/events?follow=1", "/workflows", "/openapi.json", "/metrics"})
    EXPECT_EQ(call("GET", path, "", api_token).status, 200) << path;
  EXPECT_EQ(find_canary(responses, canary), "") << "API response";

  // The store's tables, every row as text.
  const std::string tables = pg.scalar(
      "SELECT string_agg(tablename, ',') FROM pg_tables WHERE schemaname = '" + pg.schema() + "'");
  ASSERT_NE(tables.find("workflows"), std::string::npos) << tables;
  for (const auto& table : runtime::split_list(tables))
    EXPECT_EQ(
        pg.scalar("SELECT count(*) FROM " + table + " t WHERE t::text LIKE '%" + canary + "%'"),
        "0")
        << "table " << table;

  // Every log: the stages' files and the manager's own lines.
  std::string all_logs;
  for (const auto& entry : fs::recursive_directory_iterator(logs)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path());
    std::stringstream ss;
    ss << in.rdbuf();
    EXPECT_EQ(find_canary(ss.str(), canary), "") << entry.path();
    all_logs += ss.str();
  }
  EXPECT_GT(all_logs.size(), 1000u);
  {
    std::lock_guard lock(log_mu);
    EXPECT_EQ(find_canary(manager_logs, canary), "") << "queue-manager log";
  }

  // Every topic the run wrote: its data topics, DLQs, checkpoints and the protocol topics.
  const std::string metadata = run_command("kcat -b " + std::string(bootstrap) + " -L 2>/dev/null");
  std::vector<std::string> topics;
  for (std::size_t p = metadata.find("topic \""); p != std::string::npos;
       p = metadata.find("topic \"", p + 1)) {
    const auto start = p + 7, end = metadata.find('"', start);
    const std::string t = metadata.substr(start, end - start);
    if (t.starts_with(id) || t == qo.topics.events || t == qo.topics.control ||
        t == "loader-checkpoints")
      topics.push_back(t);
  }
  EXPECT_GE(topics.size(), 5u) << metadata;
  std::size_t records_seen = 0;
  for (const auto& t : topics) {
    const std::string records = run_command("kcat -b " + std::string(bootstrap) + " -C -t " + t +
                                            " -e -q -f '%k %s %h\n' 2>/dev/null");
    records_seen += static_cast<std::size_t>(std::count(records.begin(), records.end(), '\n'));
    EXPECT_EQ(find_canary(records, canary), "") << "topic " << t;
  }
  EXPECT_GT(records_seen, 288u);

  // The Kubernetes Jobs this workflow would be: references into the Secret, never values.
  std::vector<qm::StageLaunch> launches;
  const qm::Workflow finished = *manager.workflow(id);
  for (const auto& s : finished.stages) {
    qm::StageLaunch l{id, s.name, s.service,
                      1,  s.env,  qm::stage_secret_names(s.service, secrets->names())};
    launches.push_back(std::move(l));
  }
  const std::string yaml = qm::k8s::render_jobs(launches, qm::k8s::K8sOptions{});
  EXPECT_EQ(find_canary(yaml, canary), "") << "Job manifests";
  EXPECT_NE(yaml.find("key: \"KAFKA_PASSWORD\""), std::string::npos) << yaml.substr(0, 3000);
  EXPECT_NE(yaml.find("key: \"SF_STORE\""), std::string::npos);
  EXPECT_EQ(yaml.find("key: \"MINIO_SECRET_KEY\""), std::string::npos)  // no stage needs it
      << yaml.substr(0, 3000);

  server.stop();
  manager.shutdown();
  pg.exec("DROP OWNED BY " + user + " CASCADE");
  pg.exec("DROP ROLE " + user);
  fs::remove_all(logs);
}

}  // namespace
}  // namespace sf::services
