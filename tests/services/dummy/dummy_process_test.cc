// dummy-service as a real OS process: exit codes, SIGTERM, JSON logs on stderr, health endpoints.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "process_support.h"
#include "runtime/http_client.h"
#include "test_support.h"

namespace {

using namespace std::chrono_literals;
using sf::testing::Child;
using sf::testing::spawn;

bool every_line_is_json(const std::string& text) {
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    std::string line = text.substr(start, end - start);
    if (!line.empty() && (line.front() != '{' || line.back() != '}')) return false;
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return true;
}

TEST(DummyProcess, ExitAfterFinishesWithZero) {
  auto c = spawn({"dummy-service", "--queue-id", "p1", "--exit-after", "0.3", "--http-port", "-1"});
  EXPECT_EQ(c.wait_exit(), 0) << c.err;
  EXPECT_NE(c.err.find("\"status\":\"started\""), std::string::npos) << c.err;
  EXPECT_NE(c.err.find("\"status\":\"finished\""), std::string::npos) << c.err;
  EXPECT_TRUE(every_line_is_json(c.err)) << c.err;
}

TEST(DummyProcess, FailAfterExitsWithOne) {
  auto c = spawn({"dummy-service", "--queue-id", "p2", "--fail-after", "0.2", "--http-port", "-1"});
  EXPECT_EQ(c.wait_exit(), 1) << c.err;
  EXPECT_NE(c.err.find("\"status\":\"error\""), std::string::npos) << c.err;
}

TEST(DummyProcess, SigtermGivesInterrupted) {
  auto c = spawn({"dummy-service", "--queue-id", "p3", "--http-port", "-1"});
  for (int i = 0; i < 100 && c.err.find("\"status\":\"started\"") == std::string::npos; ++i) {
    std::this_thread::sleep_for(20ms);
    c.drain();
  }
  kill(c.pid, SIGTERM);
  EXPECT_EQ(c.wait_exit(), 0) << c.err;
  EXPECT_NE(c.err.find("\"status\":\"interrupted\""), std::string::npos) << c.err;
}

TEST(DummyProcess, ServesHealthAndMetrics) {
  auto c = spawn({"dummy-service", "--queue-id", "p4", "--http-port", "0", "--simulate-loading",
                  "--telemetry-interval", "0.1"});
  std::string url;
  for (int i = 0; i < 200 && url.empty(); ++i) {
    std::this_thread::sleep_for(20ms);
    c.drain();
    auto p = c.err.find("\"url\":\"");
    if (p != std::string::npos) url = c.err.substr(p + 7, c.err.find('"', p + 7) - (p + 7));
  }
  ASSERT_FALSE(url.empty()) << c.err;
  std::this_thread::sleep_for(300ms);
  auto live = sf::runtime::http_request("GET", url + "/health/live");
  ASSERT_TRUE(live.ok()) << live.error();
  EXPECT_EQ(live->status, 200);
  auto ready = sf::runtime::http_request("GET", url + "/health/ready");
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(ready->status, 200);
  auto metrics = sf::runtime::http_request("GET", url + "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_NE(metrics->body.find("sf_telemetry_events_total{service=\"dummy-service\",status=\"loading\"}"),
            std::string::npos)
      << metrics->body;
  kill(c.pid, SIGINT);
  EXPECT_EQ(c.wait_exit(), 0) << c.err;
}

TEST(DummyProcess, BadFlagIsUsageError) {
  auto c = spawn({"dummy-service", "--no-such-flag"});
  EXPECT_EQ(c.wait_exit(), 2);
  auto h = spawn({"dummy-service", "--help"});
  EXPECT_EQ(h.wait_exit(), 0);
}

}  // namespace
