// queue-manager inside the embedded platform (`streamforge run`): workflows through its HTTP API,
// end to end over exchange-sim and the shared Binance data; stop; self-healing; API robustness
// and auth.
#include "services/queue_manager/queue_manager.h"

// GCC 12 reports a false -Wrestrict in std::string concatenation at -O3 (GCC bug 105329).
#pragma GCC diagnostic ignored "-Wrestrict"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <filesystem>
#include <fstream>
#include <future>
#include <random>

#include "bus/inproc_bus.h"
#include "exchange/binance/parse.h"
#include "runtime/api_auth.h"
#include "runtime/http_client.h"
#include "runtime/protocol.h"
#include "services/dummy/process_support.h"
#include "services/exchange_sim/exchange_sim.h"
#include "services/platform/platform.h"
#include "services/queue_manager/launchers.h"
#include "test_support.h"
#include "ws_test_client.h"

namespace sf::services {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::string field(const std::string& json, const char* key) {
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  std::string_view v;
  if (p.parse(json).get(doc) || doc[key].get_string().get(v)) return {};
  return std::string(v);
}

class QueueManagerTest : public ::testing::Test {
 protected:
  void start_platform(qm::QueueManagerOptions qo = {}, runtime::HttpServerOptions http = {}) {
    db_ = fs::temp_directory_path() /
          ("sf_qm_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++) + ".db");
    PlatformOptions o;
    o.store_url = "sqlite:" + db_.string();
    o.port = 0;
    if (qo.workflows_dir.empty()) qo.workflows_dir = std::string(SF_REPO_ROOT) + "/workflows";
    qo.telemetry_interval = "0.2";
    if (sim_) qo.base_env["BINANCE_API_URL"] = sim_->rest_base_url();
    o.qm_options = qo;
    o.http = std::move(http);
    auto p = Platform::start(o);
    ASSERT_TRUE(p.ok()) << p.error();
    platform_ = std::move(*p);
  }
  void TearDown() override {
    platform_.reset();
    if (!db_.empty()) {
      fs::remove(db_);
      fs::remove(db_.string() + "-wal");
      fs::remove(db_.string() + "-shm");
    }
  }

  runtime::HttpResponse call(const std::string& method, const std::string& path,
                             const std::string& body = {}, const std::string& token = {}) {
    runtime::HttpHeaders h;
    if (!body.empty()) h.set("Content-Type", "application/json");
    if (!token.empty()) h.set("Authorization", "Bearer " + token);
    auto r = client_.request(method, platform_->base_url() + path, body, h, 30s);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error());
    return r.ok() ? *r : runtime::HttpResponse{};
  }

  // Polls GET /queues/{id} until the workflow has one of the terminal statuses.
  std::string wait_status(const std::string& id, std::chrono::seconds timeout,
                          std::initializer_list<const char*> wanted = {"finished", "failed",
                                                                       "interrupted"}) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string status;
    while (std::chrono::steady_clock::now() < deadline) {
      status = field(call("GET", "/queues/" + id).body, "status");
      for (const char* w : wanted)
        if (status == w) return status;
      std::this_thread::sleep_for(100ms);
    }
    return status;
  }

  static inline int counter_ = 0;
  fs::path db_;
  std::unique_ptr<exchange_sim::ExchangeSim> sim_;
  std::unique_ptr<Platform> platform_;
  runtime::HttpClient client_;
};

TEST_F(QueueManagerTest, HistoricalLoadFinishesAndStoresTheExactCandles) {
  SF_REQUIRE_SHARED_DATA("klines_btcusdt_2020_htm/BTCUSDT-5m-2020-07-01_2020-07-11.csv");
  exchange_sim::ExchangeSimOptions so;
  so.data_dir = sf::testing::shared_data_dir().string();
  auto sim = exchange_sim::ExchangeSim::start(so);
  ASSERT_TRUE(sim.ok()) << sim.error();
  sim_ = std::move(*sim);
  start_platform();

  auto r = call(
      "POST", "/queues",
      R"({"template":"historical-load","symbol":"BTCUSDT","from":"2020-07-01","to":"2020-07-10","interval":"5m"})");
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string id = field(r.body, "queue_id");
  EXPECT_EQ(id.rfind("historical-load-btcusdt-20200701-", 0), 0u) << id;
  EXPECT_NE(r.body.find("\"output_topic\":\"" + id + "-candles-5m\""), std::string::npos) << r.body;
  ASSERT_EQ(wait_status(id, 180s), "finished") << call("GET", "/queues/" + id).body;

  // The store holds exactly the 2,592 candles of the CSV rows in range, field for field.
  const Symbol btc = *Symbol::parse("BTCUSDT");
  auto stored = platform_->store().candles(btc, Interval::k5m, {});
  ASSERT_TRUE(stored.ok());
  std::ifstream in(sf::testing::shared_data_dir() /
                   "klines_btcusdt_2020_htm/BTCUSDT-5m-2020-07-01_2020-07-11.csv");
  std::vector<std::string> want;
  std::string line;
  while (std::getline(in, line)) {
    auto c = binance::parse_kline_csv(line, btc, Interval::k5m);
    if (!c || c->open_time >= 1594339200000000) continue;  // 2020-07-10
    want.push_back(std::to_string(c->open_time) + c->open.to_string() + c->high.to_string() +
                   c->low.to_string() + c->close.to_string() + c->volume.to_string() +
                   c->quote_asset_volume.to_string() + std::to_string(c->number_of_trades));
  }
  ASSERT_EQ(want.size(), 2592u);
  ASSERT_EQ(stored->size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    const auto& c = (*stored)[i];
    ASSERT_EQ(std::to_string(c.open_time) + c.open.to_string() + c.high.to_string() +
                  c.low.to_string() + c.close.to_string() + c.volume.to_string() +
                  c.quote_asset_volume.to_string() + std::to_string(c.number_of_trades),
              want[i])
        << "candle " << i;
  }
  // The indicators stage ran over the candles and its output was persisted.
  auto rsi = platform_->store().indicators(btc, Interval::k5m, "rsi_14", {});
  ASSERT_TRUE(rsi.ok());
  EXPECT_EQ(rsi->size(), 2592u - 14u);
  // History: started ... finished, every stage's events included.
  auto events = call("GET", "/queues/" + id + "/events");
  EXPECT_EQ(events.status, 200);
  EXPECT_NE(events.body.find("\"producer\":\"loader-producer__load-candles__a1\""),
            std::string::npos);
  EXPECT_NE(events.body.find("\"status\":\"finished\""), std::string::npos);
}

#ifdef SF_HAVE_TRAIN
// Scenario 1 in miniature: historical-gnn over exchange-sim ends with a stored model and metrics
// that compare it with the baselines on the same held-out split.
TEST_F(QueueManagerTest, HistoricalGnnProducesAStoredModelAndMetricsAgainstBaselines) {
  SF_REQUIRE_SHARED_DATA("klines_btcusdt_2020_htm/BTCUSDT-5m-2020-07-01_2020-07-11.csv");
  exchange_sim::ExchangeSimOptions so;
  so.data_dir = sf::testing::shared_data_dir().string();
  auto sim = exchange_sim::ExchangeSim::start(so);
  ASSERT_TRUE(sim.ok()) << sim.error();
  sim_ = std::move(*sim);
  const fs::path out = fs::temp_directory_path() / ("sf_qm_gnn_" + std::to_string(::getpid()));
  fs::remove_all(out);
  qm::QueueManagerOptions qo;
  qo.base_env["GRAPH_DIR"] = (out / "graphs").string();
  qo.base_env["MODEL_DIR"] = (out / "models").string();
  start_platform(qo);
  auto r = call(
      "POST", "/queues",
      R"({"template":"historical-gnn","symbol":"BTCUSDT","from":"2020-07-01","to":"2020-07-11","params":{"epochs":"5"}})");
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string id = field(r.body, "queue_id");
  ASSERT_EQ(wait_status(id, 180s), "finished") << call("GET", "/queues/" + id).body;
  const fs::path metrics = out / "models" / id / "v1" / "metrics.json";
  ASSERT_TRUE(fs::exists(metrics)) << metrics;
  std::ifstream in(metrics);
  const std::string json((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  ASSERT_FALSE(p.parse(json).get(doc));
  for (const char* who : {"model", "majority", "persistence", "logistic_regression"}) {
    double ba = -1;
    ASSERT_FALSE(doc["test"][who]["balanced_accuracy"].get(ba)) << who;
    EXPECT_GE(ba, 0.0);
    EXPECT_LE(ba, 1.0);
  }
  std::int64_t nodes = 0;
  ASSERT_FALSE(doc["graph"]["nodes"].get(nodes));
  EXPECT_EQ(nodes, 2880);  // every stored candle of 2020-07-01..10 became a node
  // The graph the trainer read (GRAPH_SOURCE=store) is in the platform's store, labels included.
  auto graph = platform_->store().graph(id);
  ASSERT_TRUE(graph.ok()) << graph.error().message;
  ASSERT_TRUE(graph->has_value());
  EXPECT_EQ((*graph)->node_count, 2880);
  EXPECT_EQ((*graph)->kind, "candles");
  std::size_t labelled = 0;
  for (const auto& n : (*graph)->nodes) labelled += n.direction >= 0;
  EXPECT_EQ(labelled, 2879u);  // all but the last candle have a next candle
  // Features from the store: the persisted indicators. The recorded data holds no aggregate
  // trades of July 2020, so TRADE_FEATURES=auto adds no trade columns.
  const std::string& meta = (*graph)->meta;
  EXPECT_EQ(meta.find("\"at_taker_buy_ratio\""), std::string::npos) << meta;
  for (const char* feature : {"\"ind_atr_14\"", "\"ind_sma_20\"", "\"ind_ema_20\""})
    EXPECT_NE(meta.find(feature), std::string::npos) << feature << " not in " << meta;
  fs::remove_all(out);
}
#endif

TEST_F(QueueManagerTest, StopMidRunInterruptsEveryStageWithinFiveSeconds) {
  start_platform();
  // The test-flow dummy would load for 60 s.
  auto r = call("POST", "/queues/start-test-flow", R"({"params":{"seconds":"60"}})");
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string id = field(r.body, "queue_id");
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline &&
         call("GET", "/queues/" + id).body.find("\"status\":\"running\",\"attempt\"") ==
             std::string::npos)
    std::this_thread::sleep_for(50ms);
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(call("POST", "/queues/" + id + "/stop").status, 202);
  EXPECT_EQ(wait_status(id, 5s), "interrupted");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  auto w = platform_->queue_manager()->workflow(id);
  ASSERT_TRUE(w);
  for (const auto& s : w->stages) EXPECT_EQ(s.status, "interrupted") << s.name;
  // The stage itself reported `interrupted` (the worker contract), not just the manager.
  platform_->wait_recorded(5s);
  auto events = platform_->store().telemetry(id);
  ASSERT_TRUE(events.ok());
  bool stage_interrupted = false;
  for (const auto& e : *events)
    stage_interrupted |= e.producer == "dummy-service__dummy__a1" && e.status == "interrupted";
  EXPECT_TRUE(stage_interrupted);
}

TEST_F(QueueManagerTest, AFailingStageIsRestartedThenTheWorkflowFailsWithTheReason) {
  qm::QueueManagerOptions qo;
  qo.max_restarts = 2;
  qo.restart_backoff_s = 0.1;
  start_platform(qo);
  // An inline workflow: a dummy that fails after 0.3 s, every time.
  auto r = call("POST", "/queues",
                R"({"workflow":{"name":"flaky","stages":[{"name":"flaky","service":"dummy-service",
      "env":{"TYPE":"dummy","FAIL_AFTER":"0.3"}}]},"queue_id":"flaky-1"})");
  ASSERT_EQ(r.status, 201) << r.body;
  ASSERT_EQ(wait_status("flaky-1", 30s), "failed");
  auto w = platform_->queue_manager()->workflow("flaky-1");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->stages[0].attempt, 3);
  EXPECT_NE(w->message.find("failed after 3 attempts"), std::string::npos) << w->message;
  auto events = platform_->store().telemetry("flaky-1");
  ASSERT_TRUE(events.ok());
  int restarts = 0, errors = 0;
  for (const auto& e : *events) {
    restarts += e.producer == "queue-manager" && e.status == "restarting";
    errors += e.status == "error";
  }
  EXPECT_EQ(restarts, 2);
  EXPECT_EQ(errors, 3);
}

TEST_F(QueueManagerTest, AShortTestFlowFinishesAndIsListed) {
  qm::QueueManagerOptions qo;
  qo.restart_backoff_s = 0.1;
  start_platform(qo);
  // test-flow with a half-second dummy: finished, and listed under ?status=finished.
  auto r = call("POST", "/queues", R"({"template":"test-flow","params":{"seconds":"0.5"}})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(wait_status(field(r.body, "queue_id"), 30s), "finished");
  auto list = call("GET", "/queues?status=finished");
  EXPECT_EQ(list.status, 200);
  EXPECT_NE(list.body.find(field(r.body, "queue_id")), std::string::npos);
}

// The dashboard's start form needs each parameter's default and help, not only its name.
TEST_F(QueueManagerTest, TemplatesListTheirParametersWithDefaultsAndHelp) {
  start_platform();
  auto r = call("GET", "/workflows");
  ASSERT_EQ(r.status, 200);
  simdjson::dom::parser parser;
  bool found = false;
  const simdjson::dom::array templates = parser.parse(r.body).get_array().value();
  for (auto t : templates) {
    if (std::string_view(t["name"].get_string().value()) != "realtime-monitor") continue;
    found = true;
    std::map<std::string, std::string> specs;
    const simdjson::dom::array list = t["parameter_specs"].get_array().value();
    for (auto p : list) {
      std::string_view def = "(none)";
      if (!p["default"].is_null()) def = p["default"].get_string().value();
      specs[std::string(p["name"].get_string().value())] =
          std::string(p["required"].get_bool().value() ? "required " : "optional ") +
          std::string(def) +
          (std::string_view(p["help"].get_string().value()).empty() ? "" : " +help");
    }
    EXPECT_EQ(specs["symbol"], "required (none) +help");
    EXPECT_EQ(specs["interval"], "optional 1m +help");
  }
  EXPECT_TRUE(found) << r.body;
}

TEST_F(QueueManagerTest, BadRequestsGetFourHundredsNamingTheField) {
  start_platform();
  struct Case {
    const char* method;
    std::string path;
    std::string body;
    int status;
    const char* mentions;
  };
  const std::vector<Case> cases = {
      {"POST", "/queues", "{not json", 400, "JSON"},
      {"POST", "/queues", "[1,2]", 400, "object"},
      {"POST", "/queues",
       R"({"template":"historical-load","symbol":"BTCUSDT","from":"2020-07-01","to":"2020-07-02","colour":"red"})",
       400, "colour"},
      {"POST", "/queues", R"({"template":42})", 400, "template"},
      {"POST", "/queues", R"({"template":"nope"})", 400, "unknown template"},
      {"POST", "/queues", R"({"template":"historical-load","from":"2020-07-01","to":"2020-07-02"})",
       400, "symbol"},
      {"POST", "/queues",
       R"({"template":"historical-load","symbol":"BTC USDT!","from":"2020-07-01","to":"2020-07-02"})",
       400, "symbol"},
      {"POST", "/queues",
       R"({"template":"historical-load","symbol":"BTCUSDT","from":"July","to":"2020-07-02"})", 400,
       "from"},
      {"POST", "/queues", R"({"template":"test-flow","params":{"seconds":3}})", 400,
       "params.seconds"},
      {"POST", "/queues", R"({"template":"test-flow","params":{"nope":"1"}})", 400, "nope"},
      // A parameter that would turn a topic into a list of topics (the control topic among them).
      {"POST", "/queues",
       R"({"template":"historical-load","symbol":"BTCUSDT","from":"2020-07-01","to":"2020-07-02","interval":"5m,queue-control"})",
       400, R"("interval":)"},
      // Refused when started, not retried and failed later (issue 16): a range that selects
      // nothing, an impossible date, an unknown interval.
      {"POST", "/queues",
       R"({"template":"historical-load","symbol":"BTCUSDT","from":"2020-07-02","to":"2020-07-01"})",
       400, R"("from":"from must be before to)"},
      {"POST", "/queues",
       R"({"template":"historical-load","symbol":"BTCUSDT","from":"2020-07-01","to":"2020-07-01"})",
       400, R"("from":)"},
      {"POST", "/queues",
       R"({"template":"historical-load","symbol":"BTCUSDT","from":"2020-02-30","to":"2020-03-02"})",
       400, R"("from":)"},
      {"POST", "/queues",
       R"({"template":"historical-load","symbol":"BTCUSDT","from":"2020-07-01","to":"2020-07-02","interval":"7m"})",
       400, R"("interval":)"},
      {"POST", "/queues", R"({"template":"realtime-monitor","symbol":"BTCUSDT","interval":"2m"})",
       400, R"("interval":)"},
      {"POST", "/queues", R"({"template":"test-flow","queue_id":"Bad Id!"})", 400, "queue_id"},
      {"POST", "/queues",
       R"({"workflow":{"name":"x","stages":[{"name":"a","service":"dummy-service","inputs":["b"]}]}})",
       400, "unknown input"},
      {"POST", "/queues",
       R"({"workflow":{"name":"x","stages":[{"name":"a","service":"dummy-service","after":["b"]},{"name":"b","service":"dummy-service","after":["a"]}]}})",
       400, "cycle"},
      {"GET", "/queues/does-not-exist", "", 404, "no such queue"},
      {"GET", "/queues/does-not-exist/events", "", 404, "no such queue"},
      {"POST", "/queues/does-not-exist/stop", "", 404, "no queue"},
      {"POST", "/queues/stop", "{}", 400, "queue_id"},
      {"GET", "/queues?colour=red", "", 400, "colour"},
      {"POST", "/queues", std::string(2 << 20, 'x'), 413, ""},
  };
  for (const auto& c : cases) {
    auto r = call(c.method, c.path, c.body);
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.path << " " << c.body.substr(0, 200)
                                  << " -> " << r.body;
    EXPECT_NE(r.body.find(c.mentions), std::string::npos)
        << c.body.substr(0, 200) << " -> " << r.body;
  }
  // Fuzz: random mutations of a valid body never give a 5xx (and never start a bogus workflow).
  const std::string valid =
      R"({"template":"test-flow","symbol":"BTCUSDT","params":{"seconds":"0.1"}})";
  std::mt19937 rng(12345);
  int server_errors = 0;
  for (int i = 0; i < 300; ++i) {
    std::string body = valid;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const std::size_t pos = rng() % body.size();
      const std::string head = body.substr(0, pos), tail = body.substr(pos);
      const char noise[] = "{}[]\",:0a\\";
      switch (rng() % 3) {
        case 0:
          body = head + static_cast<char>(rng() % 256) + (tail.empty() ? "" : tail.substr(1));
          break;
        case 1:
          body = head + (tail.size() > 3 ? tail.substr(3) : "");
          break;
        default:
          body = head + noise[rng() % 10] + tail;
      }
      if (body.empty()) body = "x";
    }
    auto r = call("POST", "/queues", body);
    server_errors += r.status >= 500;
    EXPECT_TRUE(r.status == 201 || (r.status >= 400 && r.status < 500))
        << body << " -> " << r.status;
  }
  EXPECT_EQ(server_errors, 0);
}

TEST_F(QueueManagerTest, TheWorkflowCliStartsWaitsShowsFollowsAndStops) {
  start_platform();
  const std::vector<std::pair<std::string, std::string>> env{{"SF_API_URL", platform_->base_url()}};
  auto run = [&](std::vector<std::string> args) {
    auto child = sf::testing::spawn(std::move(args), env);
    const int rc = child.wait_exit(60s);
    return std::make_pair(rc, child.err);
  };
  // start --wait: exit 0 once the workflow finished.
  auto [rc, err] = run({"workflow", "start", "--template", "test-flow", "--param", "seconds=0.3",
                        "--queue-id", "cli-1", "--wait"});
  EXPECT_EQ(rc, 0) << err;
  EXPECT_EQ(platform_->queue_manager()->workflow("cli-1")->status, "finished");
  EXPECT_EQ(run({"workflow", "show", "cli-1"}).first, 0);
  EXPECT_EQ(run({"workflow", "events", "cli-1", "--follow"}).first, 0);  // ends: the workflow ended
  EXPECT_EQ(run({"workflow", "list", "--status", "finished"}).first, 0);
  // A bad request is a usage error naming the problem; an unknown queue too.
  auto bad = run({"workflow", "start", "--template", "nope"});
  EXPECT_EQ(bad.first, 2);
  EXPECT_NE(bad.second.find("unknown template"), std::string::npos) << bad.second;
  EXPECT_EQ(run({"workflow", "show", "no-such-queue"}).first, 2);
  // stop: a long test-flow, stopped from the CLI, ends interrupted.
  EXPECT_EQ(run({"workflow", "start", "--template", "test-flow", "--param", "seconds=60",
                 "--queue-id", "cli-2"})
                .first,
            0);
  EXPECT_EQ(run({"workflow", "stop", "cli-2"}).first, 0);
  EXPECT_EQ(wait_status("cli-2", 10s), "interrupted");
  // Without a server: a clear error, exit 1.
  auto down = sf::testing::spawn({"workflow", "list"}, {{"SF_API_URL", "http://127.0.0.1:1"}});
  EXPECT_EQ(down.wait_exit(30s), 1);
  EXPECT_NE(down.err.find("cannot reach"), std::string::npos) << down.err;
}

// --- security (docs/security.md) ---------------------------------------------------------------

// A tokens file with one token per scope, the platform's API authenticated by it.
struct ScopedTokens {
  fs::path file;
  std::string read = "read-token-0123456789", operate = "operate-token-0123456789",
              admin = "admin-token-0123456789";
  runtime::HttpServerOptions http;

  ScopedTokens() {
    file = fs::temp_directory_path() / ("sf_tokens_" + std::to_string(::getpid()) + ".txt");
    // The admin token is stored as its SHA-256 only.
    std::ofstream(file) << "# token scope name\n"
                        << read << " read analyst\n"
                        << operate << " operate scheduler\n"
                        << "sha256:" << sha256_hex(admin) << " admin ops\n";
    runtime::ConfigParser parser("test");
    runtime::add_api_security_options(parser);
    auto config = parser.parse({"--sf-api-tokens-file", file.string()},
                               [](const std::string&) { return std::nullopt; });
    EXPECT_TRUE(config.ok());
    auto applied = runtime::apply_api_security(*config, http);
    EXPECT_TRUE(applied.ok()) << (applied.ok() ? "" : applied.error());
  }
  ~ScopedTokens() { fs::remove(file); }

  static std::string sha256_hex(const std::string& text) {
    unsigned char digest[32];
    unsigned int size = 0;
    EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha256(), nullptr);
    std::string hex;
    for (unsigned char c : digest) {
      char buf[3];
      std::snprintf(buf, sizeof buf, "%02x", c);
      hex += buf;
    }
    return hex;
  }
};

TEST_F(QueueManagerTest, WithCredentialsConfiguredEveryRouteAnswers401WithoutAToken) {
  ScopedTokens tokens;
  start_platform({}, tokens.http);
  const std::string body = R"({"template":"test-flow","params":{"seconds":"0.2"}})";
  const std::vector<std::pair<std::string, std::string>> routes = {
      {"GET", "/queues"},
      {"GET", "/queues/list"},
      {"GET", "/queues/x"},
      {"GET", "/queues/x/events"},
      {"GET", "/queues/x/events?follow=1"},
      {"GET", "/ws/queues"},
      {"GET", "/ws/topics"},
      {"GET", "/workflows"},
      {"GET", "/openapi.json"},
      {"GET", "/metrics"},
      {"GET", "/api/v1/workers"},
      {"GET", "/api/v1/queues/x/telemetry"},
      {"POST", "/queues"},
      {"POST", "/queues/start"},
      {"POST", "/queues/start-pipeline"},
      {"POST", "/queues/start-test-flow"},
      {"POST", "/queues/x/stop"},
      {"POST", "/queues/stop"},
      {"POST", "/api/v1/control"},
      {"POST", "/api/v1/dummy"},
  };
  for (const auto& [method, path] : routes) {
    for (const std::string& token : {std::string(), std::string("wrong-token-0123456789"),
                                     ScopedTokens::sha256_hex(tokens.admin)}) {
      auto r = call(method, path, method == "POST" ? body : "", token);
      EXPECT_EQ(r.status, 401) << method << " " << path << " token '" << token << "': " << r.body;
      EXPECT_NE(r.headers.get_or("WWW-Authenticate", "").find("Bearer"), std::string::npos);
    }
  }
  // Probes stay open for kubelets and load balancers.
  EXPECT_EQ(call("GET", "/health/live").status, 200);
  EXPECT_EQ(call("GET", "/health/ready").status, 200);
  EXPECT_EQ(call("GET", "/health/startup").status, 200);

  // read: every read route; nothing that changes anything.
  EXPECT_EQ(call("GET", "/queues", "", tokens.read).status, 200);
  EXPECT_EQ(call("GET", "/workflows", "", tokens.read).status, 200);
  EXPECT_EQ(call("GET", "/metrics", "", tokens.read).status, 200);
  EXPECT_EQ(call("GET", "/queues/x", "", tokens.read).status, 404);
  auto denied = call("POST", "/queues", body, tokens.read);
  EXPECT_EQ(denied.status, 403) << denied.body;
  EXPECT_NE(denied.headers.get_or("WWW-Authenticate", "").find("insufficient_scope"),
            std::string::npos);
  EXPECT_EQ(call("POST", "/queues/x/stop", "", tokens.read).status, 403);
  EXPECT_EQ(
      call("POST", "/api/v1/control", R"({"command":"stop","queue_id":"q"})", tokens.read).status,
      403);

  // operate: templates, not inline workflows.
  auto started = call("POST", "/queues", body, tokens.operate);
  EXPECT_EQ(started.status, 201) << started.body;
  const std::string inline_flow =
      R"({"workflow":{"name":"x","stages":[{"name":"a","service":"dummy-service","env":{"TYPE":"dummy","EXIT_AFTER":"0.2"}}]}})";
  auto inline_denied = call("POST", "/queues", inline_flow, tokens.operate);
  EXPECT_EQ(inline_denied.status, 403) << inline_denied.body;
  EXPECT_NE(inline_denied.body.find("admin"), std::string::npos) << inline_denied.body;
  EXPECT_EQ(platform_->queue_manager()->workflows().size(), 1u);  // nothing launched

  // admin (stored as its hash in the file): inline workflows too.
  auto inline_ok = call("POST", "/queues", inline_flow, tokens.admin);
  EXPECT_EQ(inline_ok.status, 201) << inline_ok.body;

  // A WebSocket from a browser carries its token as access_token.
  auto ws_status = [&](const std::string& query) {
    runtime::HttpHeaders h;
    h.set("Upgrade", "websocket");
    h.set("Connection", "Upgrade");
    h.set("Sec-WebSocket-Version", "13");
    h.set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
    auto r = runtime::http_request("GET", platform_->base_url() + "/ws/queues" + query, {}, h, 5s);
    return r.ok() ? r->status : -1;
  };
  EXPECT_EQ(ws_status(""), 401);
  EXPECT_EQ(ws_status("?access_token=" + tokens.read), 101);
}

TEST_F(QueueManagerTest, InlineWorkflowsMayNotSetPlatformKeysAndNothingIsLaunched) {
  start_platform();
  // Each key is refused with 400 naming it: the loader's variables, endpoints credentials are sent
  // to, credentials themselves, protocol wiring, and anything the service does not declare.
  for (const char* key : {"LD_PRELOAD",
                          "LD_LIBRARY_PATH",
                          "PATH",
                          "HOME",
                          "ARANGO_URL",
                          "BINANCE_API_URL",
                          "BINANCE_WS_URL",
                          "SF_STORE",
                          "POSTGRES_DSN",
                          "KAFKA_BOOTSTRAP_SERVERS",
                          "BUS",
                          "KAFKA_PASSWORD",
                          "ARANGO_PASSWORD",
                          "BINANCE_API_KEY",
                          "HTTP_HOST",
                          "QUEUE_EVENTS_TOPIC",
                          "TELEMETRY_PRODUCER_ID",
                          "GRAPH_DIR",
                          "SF_SECRETS_FILE",
                          "NOT_AN_OPTION"}) {
    const std::string body =
        std::string(
            R"({"workflow":{"name":"evil","stages":[{"name":"a","service":"dummy-service","env":{"TYPE":"dummy",")") +
        key + R"(":"/tmp/x"}}]}})";
    auto r = call("POST", "/queues", body);
    EXPECT_EQ(r.status, 400) << key << ": " << r.body;
    EXPECT_NE(r.body.find(std::string("env.") + key), std::string::npos) << r.body;
  }
  // An unknown service, and a value the service cannot parse, are 400s too.
  auto unknown = call("POST", "/queues",
                      R"({"workflow":{"name":"x","stages":[{"name":"a","service":"rm-rf"}]}})");
  EXPECT_EQ(unknown.status, 400) << unknown.body;
  EXPECT_NE(unknown.body.find("unknown service"), std::string::npos) << unknown.body;
  auto bad_value = call(
      "POST", "/queues",
      R"({"workflow":{"name":"x","stages":[{"name":"a","service":"dummy-service","env":{"EXIT_AFTER":"soon"}}]}})");
  EXPECT_EQ(bad_value.status, 400) << bad_value.body;
  EXPECT_NE(bad_value.body.find("EXIT_AFTER"), std::string::npos) << bad_value.body;
  // Options that parse one by one but that the service refuses together (its own options check,
  // ServiceSpec::check): an empty time range for the loader.
  auto bad_range = call(
      "POST", "/queues",
      R"({"workflow":{"name":"x","stages":[{"name":"a","service":"loader-producer","env":{"TYPE":"api_candles_5m","SYMBOL":"BTCUSDT","TIME_RANGE":"2020-07-02:2020-07-01"}}]}})");
  EXPECT_EQ(bad_range.status, 400) << bad_range.body;
  EXPECT_NE(bad_range.body.find(R"("stages.a":"TIME_RANGE: the end date must be after the start)"),
            std::string::npos)
      << bad_range.body;
  // Nothing was started, stored or launched.
  EXPECT_TRUE(platform_->queue_manager()->workflows().empty());
  auto stored = platform_->store().workflows();
  ASSERT_TRUE(stored.ok());
  EXPECT_TRUE(stored->empty());
  EXPECT_EQ(call("GET", "/api/v1/workers").body, "[]");
}

TEST_F(QueueManagerTest, ATemplateFileThatSetsAPlatformKeyIsRefusedAtStartup) {
  const fs::path dir =
      fs::temp_directory_path() / ("sf_bad_templates_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "leaky.json")
      << R"({"name":"leaky","stages":[{"name":"a","service":"dummy-service","env":{"LD_PRELOAD":"/x.so"}}]})";
  PlatformOptions o;
  o.store_url = "sqlite::memory:";
  o.port = 0;
  o.qm_options.workflows_dir = dir.string();
  auto p = Platform::start(o);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().find("leaky.json"), std::string::npos) << p.error();
  EXPECT_NE(p.error().find("LD_PRELOAD"), std::string::npos) << p.error();
  fs::remove_all(dir);
}

TEST_F(QueueManagerTest, CredentialsNeverReachResponsesRecordsOrTelemetry) {
  const std::string canary = "sfcanary-" + std::to_string(::getpid()) + "-x9q";
  // Credentials reach the manager both ways a deployment gives them: its secret store and (older
  // setups) its base environment, including a store URL with a password.
  qm::QueueManagerOptions qo;
  qo.secrets = std::make_shared<runtime::SecretStore>();
  qo.secrets->set("BINANCE_API_KEY", canary + "-binance");
  qo.secrets->set("KAFKA_PASSWORD", canary + "-kafka");
  qo.base_env["ARANGO_PASSWORD"] = canary + "-arango";
  qo.base_env["MINIO_SECRET_KEY"] = canary + "-minio";
  qo.base_env["SF_STORE_BACKUP"] = "postgresql://sf:" + canary + "@db/x";
  start_platform(qo);
  std::string seen;
  auto r = call("POST", "/queues", R"({"template":"test-flow","params":{"seconds":"0.3"}})");
  ASSERT_EQ(r.status, 201) << r.body;
  seen += r.body;
  const std::string id = field(r.body, "queue_id");
  EXPECT_EQ(wait_status(id, 30s), "finished");
  for (const std::string& path :
       std::vector<std::string>{"/queues", "/queues/" + id, "/queues/" + id + "/events",
                                "/queues/" + id + "/events?follow=1", "/metrics",
                                "/api/v1/queues/" + id + "/telemetry", "/workflows"})
    seen += call("GET", path).body;
  EXPECT_EQ(seen.find(canary), std::string::npos) << seen.substr(seen.find(canary) - 200, 400);
  auto stored = platform_->store().workflows();
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_EQ((*stored)[0].definition.find(canary), std::string::npos);
  EXPECT_EQ((*stored)[0].definition.find("ARANGO_PASSWORD"), std::string::npos);
  auto events = platform_->store().telemetry(id);
  ASSERT_TRUE(events.ok());
  for (const auto& e : *events)
    EXPECT_EQ(runtime::encode_telemetry(e).find(canary), std::string::npos);
}

TEST_F(QueueManagerTest, StoredWorkflowsWithCredentialsAreScrubbedWhenTheManagerStarts) {
  const std::string canary = "sfcanary-old-record-" + std::to_string(::getpid());
  db_ = fs::temp_directory_path() / ("sf_qm_scrub_" + std::to_string(::getpid()) + ".db");
  {
    // A record as earlier versions wrote it: every credential inside each stage's env.
    auto store = store::open_store("sqlite:" + db_.string());
    ASSERT_TRUE(store.ok());
    qm::Workflow w;
    w.queue_id = "old-flow";
    w.template_name = "test-flow";
    w.status = "finished";
    qm::Stage st;
    st.name = "dummy";
    st.service = "dummy-service";
    st.status = "finished";
    st.env = {{"TYPE", "dummy"},
              {"ARANGO_PASSWORD", canary},
              {"BINANCE_API_KEY", canary},
              {"SF_STORE", "postgresql://u:" + canary + "@db/x"}};
    w.stages.push_back(st);
    std::string json = qm::to_json(w);
    // to_json already leaves them out; write the record the way the old code did.
    const std::string env_old =
        R"("env":{"ARANGO_PASSWORD":")" + canary + R"(","BINANCE_API_KEY":")" + canary +
        R"(","SF_STORE":"postgresql://u:)" + canary + R"(@db/x","TYPE":"dummy"})";
    const auto at = json.find(R"("env":{)");
    ASSERT_NE(at, std::string::npos);
    json = json.substr(0, at) + env_old + json.substr(json.find('}', at) + 1);
    ASSERT_NE(json.find(canary), std::string::npos);
    ASSERT_TRUE((*store)->upsert_workflow({"old-flow", "finished", json, 1, 1}).ok());
  }
  PlatformOptions o;
  o.store_url = "sqlite:" + db_.string();
  o.port = 0;
  o.qm_options.workflows_dir = std::string(SF_REPO_ROOT) + "/workflows";
  auto p = Platform::start(o);
  ASSERT_TRUE(p.ok()) << p.error();
  platform_ = std::move(*p);
  auto stored = platform_->store().workflows();
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_EQ((*stored)[0].definition.find(canary), std::string::npos) << (*stored)[0].definition;
  EXPECT_NE((*stored)[0].definition.find(R"("TYPE":"dummy")"), std::string::npos);
  EXPECT_EQ(call("GET", "/queues/old-flow").body.find(canary), std::string::npos);
}

// --- live updates ----------------------------------------------------------------------------

// The body of a chunked response, chunk framing removed.
std::string dechunk(std::string_view raw) {
  std::string out;
  for (;;) {
    const std::size_t eol = raw.find("\r\n");
    if (eol == std::string_view::npos) break;
    const std::size_t size = std::stoul(std::string(raw.substr(0, eol)), nullptr, 16);
    if (size == 0) break;
    if (raw.size() < eol + 2 + size + 2) break;
    out.append(raw.substr(eol + 2, size));
    raw.remove_prefix(eol + 2 + size + 2);
  }
  return out;
}

struct SseEvent {
  std::string event;
  std::string data;
};

std::vector<SseEvent> parse_sse(std::string_view body) {
  std::vector<SseEvent> events;
  for (;;) {
    const std::size_t end = body.find("\n\n");
    if (end == std::string_view::npos) break;
    std::string_view block = body.substr(0, end);
    body.remove_prefix(end + 2);
    SseEvent e;
    while (!block.empty()) {
      const std::size_t nl = block.find('\n');
      std::string_view line = block.substr(0, nl);
      block.remove_prefix(nl == std::string_view::npos ? block.size() : nl + 1);
      if (line.starts_with("event: ")) e.event = std::string(line.substr(7));
      if (line.starts_with("data: ")) e.data = std::string(line.substr(6));
    }
    if (!e.event.empty()) events.push_back(std::move(e));
  }
  return events;
}

TEST_F(QueueManagerTest, FollowedEventsStreamUntilTheWorkflowEnds) {
  start_platform();
  auto r = call("POST", "/queues",
                R"({"template":"test-flow","queue_id":"sse-flow","params":{"seconds":"1"}})");
  ASSERT_EQ(r.status, 201) << r.body;

  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{.tv_sec = 20, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(platform_->port()));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  const std::string request =
      "GET /queues/sse-flow/events?follow=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  ASSERT_EQ(::send(fd, request.data(), request.size(), 0), static_cast<ssize_t>(request.size()));
  const auto started = std::chrono::steady_clock::now();
  std::string raw;
  std::string status_at_first_event;
  bool closed_by_server = false;
  for (;;) {
    char buffer[4096];
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n == 0) closed_by_server = true;
    if (n <= 0) break;
    raw.append(buffer, static_cast<std::size_t>(n));
    if (status_at_first_event.empty() && raw.find("event: telemetry") != std::string::npos)
      status_at_first_event = field(call("GET", "/queues/sse-flow").body, "status");
  }
  ::close(fd);
  ASSERT_TRUE(closed_by_server) << "the stream did not end by itself:\n" << raw;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 25s);
  // The first event came while the workflow was still running: live, not after the fact.
  EXPECT_EQ(status_at_first_event, "running");

  const std::size_t head_end = raw.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos) << raw;
  const std::string head = raw.substr(0, head_end);
  EXPECT_NE(head.find("HTTP/1.1 200"), std::string::npos) << head;
  EXPECT_NE(head.find("Content-Type: text/event-stream"), std::string::npos) << head;
  EXPECT_NE(head.find("Transfer-Encoding: chunked"), std::string::npos) << head;
  EXPECT_TRUE(raw.ends_with("0\r\n\r\n")) << "no final chunk";
  const auto events = parse_sse(dechunk(std::string_view(raw).substr(head_end + 4)));
  ASSERT_GE(events.size(), 4u) << raw;

  // started (queue-manager) ... the dummy's started ... its finished ... workflow finished, end.
  std::vector<std::string> statuses;  // "producer:status"
  for (std::size_t i = 0; i + 1 < events.size(); ++i) {
    ASSERT_EQ(events[i].event, "telemetry") << events[i].data;
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(events[i].data).get(doc), simdjson::SUCCESS) << events[i].data;
    std::string_view producer, status, queue;
    ASSERT_EQ(doc["producer"].get_string().get(producer), simdjson::SUCCESS);
    ASSERT_EQ(doc["status"].get_string().get(status), simdjson::SUCCESS);
    ASSERT_EQ(doc["queue_id"].get_string().get(queue), simdjson::SUCCESS);
    EXPECT_EQ(queue, "sse-flow");
    statuses.push_back((producer == "queue-manager" ? "qm:" : "dummy:") + std::string(status));
  }
  EXPECT_EQ(events.back().event, "end");
  EXPECT_EQ(field(events.back().data, "status"), "finished") << events.back().data;
  ASSERT_FALSE(statuses.empty());
  EXPECT_EQ(statuses.front(), "qm:started");
  EXPECT_EQ(statuses.back(), "qm:finished");
  auto at = [&](const std::string& what) {
    return std::find(statuses.begin(), statuses.end(), what) - statuses.begin();
  };
  const auto dummy_started = at("dummy:started");
  const auto dummy_finished = at("dummy:finished");
  EXPECT_LT(dummy_started, dummy_finished);
  EXPECT_LT(dummy_finished, static_cast<long>(statuses.size()) - 1);
  // Nothing twice: every stored event exactly once, as in the plain JSON history.
  auto history = call("GET", "/queues/sse-flow/events");
  EXPECT_EQ(history.status, 200);
  simdjson::dom::parser parser;
  simdjson::dom::array stored;
  ASSERT_EQ(parser.parse(history.body).get(stored), simdjson::SUCCESS) << history.body;
  EXPECT_EQ(stored.size(), statuses.size());

  // A finished workflow: the stored events, then end at once. Bad values: 400, unknown: 404.
  auto done = call("GET", "/queues/sse-flow/events?follow=1");
  EXPECT_EQ(done.status, 200);
  EXPECT_EQ(parse_sse(done.body).size(), statuses.size() + 1);
  EXPECT_EQ(call("GET", "/queues/sse-flow/events?follow=maybe").status, 400);
  EXPECT_EQ(call("GET", "/queues/nope/events?follow=1").status, 404);
}

TEST_F(QueueManagerTest, WebSocketClientsSeeWorkflowsChange) {
  start_platform();
  sf::testing::WsTestClient ws(static_cast<std::uint16_t>(platform_->port()), "/ws/queues");
  const std::string first = ws.read();
  EXPECT_EQ(field(first, "type"), "workflows") << first;
  EXPECT_NE(first.find(R"("workflows":[])"), std::string::npos) << first;

  auto r = call("POST", "/queues",
                R"({"template":"test-flow","queue_id":"ws-flow","params":{"seconds":"1"}})");
  ASSERT_EQ(r.status, 201) << r.body;
  ws.send(R"({"subscribe":"ws-flow"})");
  std::vector<std::string> statuses;
  bool subscribed = false;
  for (;;) {
    const std::string message = ws.read();
    if (message.empty()) break;
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(message).get(doc), simdjson::SUCCESS) << message;
    std::string_view type;
    ASSERT_EQ(doc["type"].get_string().get(type), simdjson::SUCCESS) << message;
    if (type == "subscribed") {
      subscribed = true;
      continue;
    }
    ASSERT_EQ(type, "workflow") << message;
    std::string_view queue, status;
    ASSERT_EQ(doc["workflow"]["queue_id"].get_string().get(queue), simdjson::SUCCESS) << message;
    ASSERT_EQ(doc["workflow"]["status"].get_string().get(status), simdjson::SUCCESS) << message;
    EXPECT_EQ(queue, "ws-flow");
    statuses.emplace_back(status);
    if (status == "finished") break;
  }
  ws.close();
  EXPECT_TRUE(subscribed);
  ASSERT_FALSE(statuses.empty());
  EXPECT_EQ(statuses.back(), "finished");
  EXPECT_GE(statuses.size(), 2u);  // "running" updates, then finished
}

}  // namespace
}  // namespace sf::services

namespace sf::services {
namespace {

// Regression (scenario 2): a workflow resumed from the store by a later platform process carries
// the handles of the earlier one. Handles restarted at "thread-1-<stage>" in every process, so
// stopping the resumed workflow stopped another workflow's stages of the same names.
TEST(InProcessLauncher, HandlesOfAnotherProcessNeverNameThisProcesssRuns) {
  bus::InProcBus bus;
  qm::InProcessLauncher earlier(bus, qm::Embedded{});
  qm::InProcessLauncher later(bus, qm::Embedded{});
  qm::StageLaunch launch{"q-old", "dummy", "dummy-service", 1, {{"QUEUE_ID", "q-old"}}};
  auto old_handle = earlier.start(launch);
  ASSERT_TRUE(old_handle.ok()) << old_handle.error();
  launch.queue_id = launch.env["QUEUE_ID"] = "q-new";
  auto new_handle = later.start(launch);
  ASSERT_TRUE(new_handle.ok()) << new_handle.error();
  EXPECT_NE(*old_handle, *new_handle);
  EXPECT_EQ(later.status(*old_handle).state, qm::RunState::kUnknown);
  later.stop(*old_handle);  // what resuming q-old in the later process does
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(later.status(*new_handle).state, qm::RunState::kRunning);
  later.stop(*new_handle);
  earlier.stop(*old_handle);
}

}  // namespace
}  // namespace sf::services
