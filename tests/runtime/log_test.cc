#include "runtime/log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <simdjson.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/time.h"

namespace sf::log {
namespace {

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    set_level(Level::kDebug);
    set_sink([this](std::string_view line) { lines_.emplace_back(line); });
  }
  void TearDown() override {
    set_sink(nullptr);
    set_level(Level::kInfo);
    set_global_fields({});
  }

  // Parses line `i` (asserting it is one JSON object ending in '\n').
  simdjson::dom::element line(std::size_t i) {
    EXPECT_LT(i, lines_.size());
    const std::string& text = lines_.at(i);
    EXPECT_TRUE(text.ends_with("\n"));
    EXPECT_EQ(text.find('\n'), text.size() - 1) << "embedded newline in " << text;
    simdjson::dom::element element;
    const auto error = parser_.parse(text).get(element);
    EXPECT_EQ(error, simdjson::SUCCESS) << text;
    return element;
  }

  std::vector<std::string> lines_;
  simdjson::dom::parser parser_;
};

TEST_F(LogTest, WritesOneJsonObjectWithStandardAndExtraFields) {
  const std::string before = format_iso8601(now_micros());
  const std::string topic = "trades";
  info("bus", "published",
       {{"topic", topic},
        {"count", 3},
        {"bytes", std::size_t{1024}},
        {"ratio", 0.25},
        {"ok", true},
        {"nothing", nullptr},
        {"view", std::string_view("v")}});
  const std::string after = format_iso8601(now_micros());
  ASSERT_EQ(lines_.size(), 1u);
  auto doc = line(0);
  const std::string ts{std::string_view(doc["ts"])};
  EXPECT_TRUE(std::regex_match(ts, std::regex(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z)")))
      << ts;
  EXPECT_LE(before, ts);
  EXPECT_GE(after, ts);
  EXPECT_EQ(std::string_view(doc["level"]), "info");
  EXPECT_EQ(std::string_view(doc["logger"]), "bus");
  EXPECT_EQ(std::string_view(doc["msg"]), "published");
  EXPECT_EQ(std::string_view(doc["topic"]), "trades");
  EXPECT_EQ(int64_t(doc["count"]), 3);
  EXPECT_EQ(uint64_t(doc["bytes"]), 1024u);
  EXPECT_EQ(double(doc["ratio"]), 0.25);
  EXPECT_TRUE(bool(doc["ok"]));
  EXPECT_TRUE(doc["nothing"].is_null());
  EXPECT_EQ(std::string_view(doc["view"]), "v");
  // Standard fields come first, in a fixed order.
  EXPECT_TRUE(lines_[0].starts_with(R"({"ts":")"));
  EXPECT_NE(lines_[0].find(R"("level":"info","logger":"bus","msg":"published","topic")"),
            std::string::npos);
}

TEST_F(LogTest, LevelsAndFiltering) {
  debug("a", "d");
  info("a", "i");
  warn("a", "w");
  error("a", "e");
  ASSERT_EQ(lines_.size(), 4u);
  EXPECT_EQ(std::string_view(line(0)["level"]), "debug");
  EXPECT_EQ(std::string_view(line(1)["level"]), "info");
  EXPECT_EQ(std::string_view(line(2)["level"]), "warn");
  EXPECT_EQ(std::string_view(line(3)["level"]), "error");

  lines_.clear();
  set_level(Level::kWarn);
  EXPECT_FALSE(enabled(Level::kInfo));
  EXPECT_TRUE(enabled(Level::kError));
  debug("a", "d");
  info("a", "i");
  warn("a", "w");
  write(Level::kInfo, "a", "direct write honours the level too");
  ASSERT_EQ(lines_.size(), 1u);
  EXPECT_EQ(std::string_view(line(0)["msg"]), "w");
}

TEST_F(LogTest, ParseLevel) {
  EXPECT_EQ(*parse_level("DEBUG"), Level::kDebug);
  EXPECT_EQ(*parse_level("info"), Level::kInfo);
  EXPECT_EQ(*parse_level("Warning"), Level::kWarn);
  EXPECT_EQ(*parse_level("warn"), Level::kWarn);
  EXPECT_EQ(*parse_level("error"), Level::kError);
  auto bad = parse_level("loud");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("loud"), std::string::npos);
}

TEST_F(LogTest, RedactsSecretsWhateverTheirType) {
  info("auth", "login",
       {{"password", "hunter2"},
        {"api_token", "abc"},
        {"clientSecret", 12345},
        {"DB_PASSWORD_FILE", "/x"},
        {"user", "alice"}});
  auto doc = line(0);
  EXPECT_EQ(std::string_view(doc["password"]), "***");
  EXPECT_EQ(std::string_view(doc["api_token"]), "***");
  EXPECT_EQ(std::string_view(doc["clientSecret"]), "***");
  EXPECT_EQ(std::string_view(doc["DB_PASSWORD_FILE"]), "***");
  EXPECT_EQ(std::string_view(doc["user"]), "alice");
  EXPECT_EQ(lines_[0].find("hunter2"), std::string::npos);
  EXPECT_EQ(lines_[0].find("12345"), std::string::npos);
  EXPECT_TRUE(is_sensitive_key("Token"));
  EXPECT_TRUE(is_sensitive_key("BINANCE_API_KEY"));  // regression: API keys were logged in clear
  EXPECT_TRUE(is_sensitive_key("apiKey"));
  EXPECT_FALSE(is_sensitive_key("topic"));
}

TEST_F(LogTest, EscapesMessagesAndKeepsKeysUnique) {
  info("x\"y", "multi\nline \"quoted\" \x01", {{"msg", "clash"}, {"level", 7}});
  auto doc = line(0);
  EXPECT_EQ(std::string_view(doc["logger"]), "x\"y");
  EXPECT_EQ(std::string_view(doc["msg"]), "multi\nline \"quoted\" \x01");
  EXPECT_EQ(std::string_view(doc["_msg"]), "clash");
  EXPECT_EQ(int64_t(doc["_level"]), 7);
  EXPECT_EQ(std::string_view(doc["level"]), "info");
}

TEST_F(LogTest, GlobalFieldsAndNamedLogger) {
  set_global_fields({{"service", "dummy-service"}, {"auth_token", "t"}});
  Logger logger("worker");
  logger.warn("lagging", {{"lag_ms", 1200.5}});
  auto doc = line(0);
  EXPECT_EQ(std::string_view(doc["logger"]), "worker");
  EXPECT_EQ(std::string_view(doc["level"]), "warn");
  EXPECT_EQ(std::string_view(doc["service"]), "dummy-service");
  EXPECT_EQ(std::string_view(doc["auth_token"]), "***");
  EXPECT_EQ(double(doc["lag_ms"]), 1200.5);
}

TEST_F(LogTest, DynamicFieldLists) {
  std::vector<Field> fields;
  fields.push_back({"a", 1});
  fields.push_back({"b", "two"});
  write(Level::kInfo, "x", "dynamic", fields);
  auto doc = line(0);
  EXPECT_EQ(int64_t(doc["a"]), 1);
  EXPECT_EQ(std::string_view(doc["b"]), "two");
}

// Through the real stderr sink: four threads logging at once must produce only whole lines.
TEST(LogStderrTest, ConcurrentLinesNeverInterleave) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("sf_log_test_" + std::to_string(::getpid()) + ".log");
  const int file = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0600);
  ASSERT_GE(file, 0);
  std::fflush(stderr);
  const int saved_stderr = ::dup(STDERR_FILENO);
  ASSERT_GE(::dup2(file, STDERR_FILENO), 0);

  constexpr int kThreads = 4;
  constexpr int kLinesPerThread = 500;
  const std::string padding(300, 'p');  // long lines make torn writes likelier to show
  {
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kLinesPerThread; ++i) {
          info("concurrency", "line", {{"thread", t}, {"i", i}, {"padding", padding}});
        }
      });
    }
    for (auto& thread : threads) thread.join();
  }

  ::dup2(saved_stderr, STDERR_FILENO);
  ::close(saved_stderr);
  ::close(file);

  std::ifstream in(path);
  std::string text;
  simdjson::dom::parser parser;
  std::vector<int> next_index(kThreads, 0);
  int count = 0;
  while (std::getline(in, text)) {
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(text).get(doc), simdjson::SUCCESS) << "torn line: " << text;
    const auto thread = int64_t(doc["thread"]);
    ASSERT_GE(thread, 0);
    ASSERT_LT(thread, kThreads);
    // Each thread's lines arrive in order.
    EXPECT_EQ(int64_t(doc["i"]), next_index[static_cast<std::size_t>(thread)]++);
    ++count;
  }
  EXPECT_EQ(count, kThreads * kLinesPerThread);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace sf::log
