// Workers as separate OS processes talking only through the real Kafka broker: one stop reaches
// every instance of a queue, pings are answered, and `streamforge ctl` drives it all.
#include <gtest/gtest.h>

#include <cstdio>
#include <random>

#include "process_support.h"

namespace {

using namespace std::chrono_literals;
using sf::testing::Child;
using sf::testing::spawn;

std::string bootstrap() {
  const char* v = std::getenv("SF_TEST_KAFKA_BOOTSTRAP");
  return v ? v : "";
}

bool wait_for(Child& c, const std::string& needle, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    c.drain();
    if (c.err.find(needle) != std::string::npos) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

int run_ctl(const std::string& args, std::string* out) {
  std::string cmd = "KAFKA_BOOTSTRAP_SERVERS=" + bootstrap() + " " +
                    sf::testing::streamforge_bin().string() + " ctl " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  char buf[512];
  while (fgets(buf, sizeof buf, p)) *out += buf;
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(DummyOverKafka, OneStopReachesEveryProcessOfTheQueue) {
  if (bootstrap().empty()) GTEST_SKIP() << "set SF_TEST_KAFKA_BOOTSTRAP (scripts/kafka.sh start prints one)";
  const std::string queue = "kq-" + std::to_string(std::random_device{}());
  std::vector<std::pair<std::string, std::string>> env{{"KAFKA_BOOTSTRAP_SERVERS", bootstrap()}};
  auto a = spawn({"dummy-service", "--queue-id", queue, "--http-port", "-1", "--telemetry-producer-id", "dummy__pa"}, env);
  // The second one selects Kafka with the --bus flag instead of the environment.
  auto b = spawn({"dummy-service", "--queue-id", queue, "--http-port", "-1", "--telemetry-producer-id", "dummy__pb",
                  "--bus", "kafka://" + bootstrap()});
  ASSERT_TRUE(wait_for(a, "\"status\":\"started\"", 30s)) << a.err;
  ASSERT_TRUE(wait_for(b, "\"status\":\"started\"", 30s)) << b.err;

  std::string out;
  EXPECT_EQ(run_ctl("ping --queue-id " + queue + " --target dummy__pb --expect-pong --timeout 20", &out), 0) << out;
  EXPECT_NE(out.find("pong from dummy__pb"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(run_ctl("stop --queue-id " + queue, &out), 0) << out;
  EXPECT_EQ(a.wait_exit(30s), 0) << a.err;
  EXPECT_EQ(b.wait_exit(30s), 0) << b.err;
  EXPECT_NE(a.err.find("\"status\":\"interrupted\""), std::string::npos) << a.err;
  EXPECT_NE(b.err.find("\"status\":\"interrupted\""), std::string::npos) << b.err;
  EXPECT_NE(b.err.find("\"status\":\"pong\""), std::string::npos);
  EXPECT_EQ(a.err.find("\"status\":\"pong\""), std::string::npos);  // the ping targeted b
}

TEST(DummyOverKafka, UnknownBusUrlIsAUsageError) {
  auto c = spawn({"dummy-service", "--queue-id", "x", "--http-port", "-1", "--bus", "rabbitmq://h"});
  EXPECT_EQ(c.wait_exit(10s), 2) << c.err;
  EXPECT_NE(c.err.find("unknown BUS 'rabbitmq://h'"), std::string::npos) << c.err;
}

TEST(DummyOverKafka, UnreachableBrokerIsAClearStartupError) {
  auto c = spawn({"dummy-service", "--queue-id", "x", "--http-port", "-1"},
                 {{"KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1"}});
  EXPECT_EQ(c.wait_exit(60s), 2) << c.err;
  EXPECT_NE(c.err.find("cannot reach kafka at 127.0.0.1:1"), std::string::npos) << c.err;
}

}  // namespace
