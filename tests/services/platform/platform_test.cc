// The embedded platform (`streamforge run`): hosted workers, control API, telemetry recorder,
// dead-lettering, and `streamforge ctl` against it as a real process.
#include "services/platform/platform.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdio>
#include <fstream>
#include <thread>

#include "runtime/http_client.h"
#include "services/dummy/process_support.h"
#include "test_support.h"

namespace sf::services {
namespace {

using namespace std::chrono_literals;

class PlatformTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sf_platform_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    PlatformOptions o;
    o.store_url = "sqlite:" + (dir_ / "sf.db").string();
    o.port = 0;
    auto p = Platform::start(o);
    ASSERT_TRUE(p.ok()) << p.error();
    platform_ = std::move(p).value();
  }
  void TearDown() override {
    platform_.reset();
    std::filesystem::remove_all(dir_);
  }

  runtime::HttpResponse post(const std::string& path, const std::string& body) {
    auto r = runtime::http_request("POST", platform_->base_url() + path, body);
    EXPECT_TRUE(r.ok()) << r.error();
    return r.ok() ? std::move(r).value() : runtime::HttpResponse{};
  }
  runtime::HttpResponse get(const std::string& path) {
    auto r = runtime::http_request("GET", platform_->base_url() + path);
    EXPECT_TRUE(r.ok()) << r.error();
    return r.ok() ? std::move(r).value() : runtime::HttpResponse{};
  }

  std::vector<TelemetryEvent> stored(const std::string& queue_id) {
    platform_->wait_recorded(5s);
    auto e = platform_->store().telemetry(queue_id);
    EXPECT_TRUE(e.ok());
    return e.ok() ? *e : std::vector<TelemetryEvent>{};
  }

  std::filesystem::path dir_;
  std::unique_ptr<Platform> platform_;
};

TEST_F(PlatformTest, StartPingStopThroughTheApiAndTelemetryIsStored) {
  auto started = post("/api/v1/dummy",
                      R"({"queue_id":"api-q","simulate_loading":true,"telemetry_interval":0.1})");
  ASSERT_EQ(started.status, 201) << started.body;
  EXPECT_NE(started.body.find("\"queue_id\":\"api-q\""), std::string::npos);
  auto pong = post("/api/v1/control",
                   R"({"command":"ping","queue_id":"api-q","expect_pong":true,"timeout_ms":5000})");
  ASSERT_EQ(pong.status, 200) << pong.body;
  EXPECT_NE(pong.body.find("\"rtt_ms\":"), std::string::npos);
  std::this_thread::sleep_for(300ms);
  auto stop = post("/api/v1/control", R"({"command":"stop","queue_id":"api-q"})");
  ASSERT_EQ(stop.status, 202) << stop.body;
  ASSERT_TRUE(platform_->wait_workers(5s));
  auto events = stored("api-q");
  ASSERT_GE(events.size(), 4u);
  EXPECT_EQ(events.front().status, "started");
  EXPECT_EQ(events.back().status, "interrupted");
  bool saw_pong = false, saw_loading = false;
  for (const auto& e : events) {
    saw_pong |= e.status == "pong";
    saw_loading |= e.status == "loading" && e.records_written > 0;
  }
  EXPECT_TRUE(saw_pong);
  EXPECT_TRUE(saw_loading);
  auto listed = get("/api/v1/queues/api-q/telemetry");
  EXPECT_EQ(listed.status, 200);
  EXPECT_NE(listed.body.find("\"status\":\"interrupted\""), std::string::npos);
  auto workers = get("/api/v1/workers");
  EXPECT_NE(workers.body.find("\"outcome\":\"interrupted\""), std::string::npos) << workers.body;
}

TEST_F(PlatformTest, PingWithoutWorkerTimesOutWith504) {
  auto r = post("/api/v1/control",
                R"({"command":"ping","queue_id":"nobody","expect_pong":true,"timeout_ms":200})");
  EXPECT_EQ(r.status, 504);
  EXPECT_NE(r.body.find("no pong"), std::string::npos);
}

TEST_F(PlatformTest, BadRequestsGet400NamingTheField) {
  struct Case {
    const char* path;
    const char* body;
    const char* mention;
  };
  for (const auto& c :
       {Case{"/api/v1/control", "{not json", "malformed"}, Case{"/api/v1/control", "[1]", "object"},
        Case{"/api/v1/control", R"({"command":"stop"})", "queue_id"},
        Case{"/api/v1/control", R"({"command":"explode","queue_id":"q"})", "command"},
        Case{"/api/v1/control", R"({"command":1,"queue_id":"q"})", "command"},
        Case{"/api/v1/control", R"({"command":"stop","queue_id":"q","extra":1})", "extra"},
        Case{"/api/v1/control", R"({"command":"ping","queue_id":"q","timeout_ms":-5})",
             "timeout_ms"},
        Case{"/api/v1/dummy", R"({"exit_after":"soon"})", "exit_after"},
        Case{"/api/v1/dummy", R"({"telemetry_interval":0})", "telemetry_interval"},
        Case{"/api/v1/dummy", R"({"bogus":true})", "bogus"}}) {
    auto r = post(c.path, c.body);
    EXPECT_EQ(r.status, 400) << c.body << " -> " << r.body;
    EXPECT_NE(r.body.find(c.mention), std::string::npos) << c.body << " -> " << r.body;
  }
  EXPECT_EQ(get("/api/v1/nothing-here").status, 404);
  EXPECT_EQ(get("/health/ready").status, 200);
}

TEST_F(PlatformTest, UndecodableTelemetryIsDeadLetteredAndRecordingGoesOn) {
  auto& bus = platform_->bus();
  auto dlq = bus.subscribe({.topics = {"queue-events.dlq"},
                            .group = "t",
                            .start = bus::StartFrom::kEarliest,
                            .offsets = {}});
  ASSERT_TRUE(dlq.ok());
  ASSERT_TRUE(bus.publish("queue-events", "x", "garbage{").ok());
  ASSERT_TRUE(bus.publish("queue-events", "x", R"({"queue_id":"x"})").ok());  // no status
  ASSERT_TRUE(bus.publish("queue-events", "x",
                          R"({"queue_id":"x","producer":"p","status":"started","timestamp":1.5})")
                  .ok());
  std::vector<bus::Message> dead;
  for (int i = 0; i < 50 && dead.size() < 2; ++i) {
    auto m = (*dlq)->poll(100ms);
    ASSERT_TRUE(m.ok());
    for (auto& x : *m) dead.push_back(x);
  }
  ASSERT_EQ(dead.size(), 2u);
  EXPECT_NE(dead[0].value.find("\"reason\":\"malformed JSON"), std::string::npos) << dead[0].value;
  EXPECT_NE(dead[0].value.find("\"offset\":0"), std::string::npos);
  EXPECT_NE(dead[1].value.find("status"), std::string::npos) << dead[1].value;
  auto events = stored("x");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].status, "started");
}

TEST_F(PlatformTest, RecorderIsIdempotentForReplayedTelemetry) {
  auto& bus = platform_->bus();
  const char* e =
      R"({"queue_id":"dup","producer":"p","status":"loading","records_written":5,"timestamp":100.25})";
  ASSERT_TRUE(bus.publish("queue-events", "dup", e).ok());
  ASSERT_TRUE(bus.publish("queue-events", "dup", e).ok());  // an at-least-once replay
  EXPECT_EQ(stored("dup").size(), 1u);
}

// `streamforge ctl` as a user runs it, against this platform's API.
TEST_F(PlatformTest, CtlCommandPingsAndStops) {
  ASSERT_EQ(post("/api/v1/dummy", R"({"queue_id":"ctl-q"})").status, 201);
  std::string env = "SF_API_URL=" + platform_->base_url() + " ";
  auto run = [&](const std::string& args, std::string* out) {
    FILE* p = popen(
        (env + sf::testing::streamforge_bin().string() + " ctl " + args + " 2>&1").c_str(), "r");
    char buf[512];
    while (fgets(buf, sizeof buf, p)) *out += buf;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  };
  std::string out;
  EXPECT_EQ(run("ping --queue-id ctl-q --expect-pong --repeat 3 --interval 0.05", &out), 0) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 4) << out;  // 3 pongs + summary
  EXPECT_NE(out.find("3 pongs: min"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(run("ping --queue-id nobody --expect-pong --timeout 0.2", &out), 1) << out;
  out.clear();
  EXPECT_EQ(run("stop --queue-id ctl-q", &out), 0) << out;
  EXPECT_TRUE(platform_->wait_workers(5s));
  out.clear();
  EXPECT_EQ(run("explode --queue-id q", &out), 2) << out;
  out.clear();
  EXPECT_EQ(run("ping", &out), 2) << out;  // --queue-id is required
}

}  // namespace
}  // namespace sf::services

namespace sf::services {
namespace {

// `streamforge run --demo` on the real PostgreSQL server: the main job works on the server-grade
// store, and the DSN's password is never printed.
TEST(PlatformOnPostgres, RunDemoStoresTelemetryAndNeverPrintsThePassword) {
  const char* dsn = std::getenv("SF_TEST_POSTGRES_DSN");
  if (!dsn || !*dsn)
    GTEST_SKIP() << "set SF_TEST_POSTGRES_DSN (scripts/postgres.sh start prints one)";
  std::string cmd = "cd " + std::filesystem::temp_directory_path().string() + " && POSTGRES_DSN='" +
                    dsn + "' " + sf::testing::streamforge_bin().string() +
                    " run --demo --port 0 2>&1";
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[1024];
  while (fgets(buf, sizeof buf, p)) out += buf;
  int st = pclose(p);
  EXPECT_EQ(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 0) << out;
  EXPECT_NE(out.find("demo: final status finished"), std::string::npos) << out;
  std::string url(dsn);
  auto at = url.find('@');
  auto colon = url.rfind(':', at);
  ASSERT_NE(at, std::string::npos);
  std::string password = url.substr(colon + 1, at - colon - 1);
  EXPECT_EQ(out.find(":" + password + "@"), std::string::npos) << out;
}

// `streamforge run` as users start it: credentials in its environment and in SF_SECRETS_FILE,
// tokens in SF_API_TOKENS_FILE. Every route but the probes wants a token, and no credential shows
// in any response or log line; without credentials it will not serve off loopback.
std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

TEST(PlatformProcess, RunWithCredentialsAuthenticatesEveryRouteAndLeaksNoSecret) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("sf_platform_proc_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string canary = "sfcanary-run-" + std::to_string(::getpid());
  std::ofstream(dir / "tokens")
      << "reader-token-0123456789 read\noperator-token-0123456789 operate\n";
  std::ofstream(dir / "secrets.env") << "KAFKA_PASSWORD=" << canary << "-kafka\n";
  const std::uint16_t port = free_port();
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  auto child = sf::testing::spawn(
      {"run", "--port", std::to_string(port), "--store", "sqlite:" + (dir / "sf.db").string()},
      {{"SF_API_TOKENS_FILE", (dir / "tokens").string()},
       {"SF_SECRETS_FILE", (dir / "secrets.env").string()},
       {"ARANGO_PASSWORD", canary + "-arango"},
       {"BINANCE_API_KEY", canary + "-binance"},
       {"LOG_LEVEL", "debug"}});
  auto call = [&](const std::string& method, const std::string& path, const std::string& token,
                  const std::string& body = {}) {
    runtime::HttpHeaders h;
    if (!token.empty()) h.set("Authorization", "Bearer " + token);
    child.drain();  // keep its stderr pipe from filling up
    auto r = runtime::http_request(method, base + path, body, h, 10s);
    if (r.ok()) return *r;
    runtime::HttpResponse failed;
    failed.status = -1;
    return failed;
  };
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (call("GET", "/health/ready", "").status != 200 &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(100ms);
  ASSERT_EQ(call("GET", "/health/ready", "").status, 200) << (child.drain(), child.err);
  EXPECT_EQ(call("GET", "/queues", "").status, 401);
  EXPECT_EQ(call("GET", "/metrics", "").status, 401);
  EXPECT_EQ(call("GET", "/queues", "reader-token-0123456789").status, 200);
  EXPECT_EQ(
      call("POST", "/queues", "reader-token-0123456789", R"({"template":"test-flow"})").status,
      403);
  auto started = call("POST", "/queues", "operator-token-0123456789",
                      R"({"template":"test-flow","params":{"seconds":"0.3"}})");
  ASSERT_EQ(started.status, 201) << started.body;
  const auto at = started.body.find(R"("queue_id":")") + 12;
  const std::string id = started.body.substr(at, started.body.find('"', at) - at);
  std::string seen = started.body, status;
  deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline && status != "finished") {
    auto w = call("GET", "/queues/" + id, "reader-token-0123456789");
    status = w.body.find(R"("status":"finished")") != std::string::npos ? "finished" : "";
    seen += w.body;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(status, "finished");
  seen += call("GET", "/queues/" + id + "/events", "reader-token-0123456789").body;
  seen += call("GET", "/metrics", "reader-token-0123456789").body;
  EXPECT_EQ(seen.find(canary), std::string::npos);
  ::kill(child.pid, SIGTERM);
  EXPECT_EQ(child.wait_exit(15s), 0);
  EXPECT_GT(child.err.size(), 100u);
  EXPECT_EQ(child.err.find(canary), std::string::npos) << child.err;
  // No credentials: loopback only.
  auto open = sf::testing::spawn({"run", "--host", "0.0.0.0", "--port", "0", "--store",
                                  "sqlite:" + (dir / "sf2.db").string()});
  EXPECT_EQ(open.wait_exit(15s), 2);
  EXPECT_NE(open.err.find("without credentials"), std::string::npos) << open.err;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sf::services
