// `streamforge exchange-sim` as a process, and ccxt (an independent Binance client) against the
// in-process simulator.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "sim_test_support.h"

namespace sf::services::exchange_sim {
namespace {

using namespace std::chrono_literals;

// The streamforge binary with stdout and stderr on pipes.
struct SimProcess {
  pid_t pid = -1;
  int out_fd = -1;
  int err_fd = -1;
  std::string out;
  std::string err;

  static SimProcess spawn(std::vector<std::string> args) {
    int out_pipe[2];
    int err_pipe[2];
    EXPECT_EQ(pipe(out_pipe), 0);
    EXPECT_EQ(pipe(err_pipe), 0);
    SimProcess process;
    process.pid = fork();
    if (process.pid == 0) {
      dup2(out_pipe[1], 1);
      dup2(err_pipe[1], 2);
      close(out_pipe[0]);
      close(err_pipe[0]);
      std::string bin = sf::testing::streamforge_bin().string();
      std::vector<char*> argv{bin.data()};
      for (auto& arg : args) argv.push_back(arg.data());
      argv.push_back(nullptr);
      execv(bin.c_str(), argv.data());
      _exit(127);
    }
    close(out_pipe[1]);
    close(err_pipe[1]);
    fcntl(out_pipe[0], F_SETFL, O_NONBLOCK);
    fcntl(err_pipe[0], F_SETFL, O_NONBLOCK);
    process.out_fd = out_pipe[0];
    process.err_fd = err_pipe[0];
    return process;
  }

  void drain() {
    char buffer[4096];
    for (auto [fd, text] : {std::pair{out_fd, &out}, std::pair{err_fd, &err}}) {
      for (;;) {
        const ssize_t n = read(fd, buffer, sizeof buffer);
        if (n <= 0) break;
        text->append(buffer, static_cast<std::size_t>(n));
      }
    }
  }

  // The first `count` lines of stdout, waiting up to `timeout` for them.
  std::vector<std::string> stdout_lines(std::size_t count, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      drain();
      std::vector<std::string> lines;
      std::size_t start = 0;
      for (auto end = out.find('\n'); end != std::string::npos; end = out.find('\n', start)) {
        lines.push_back(out.substr(start, end - start));
        start = end + 1;
      }
      if (lines.size() >= count || std::chrono::steady_clock::now() > deadline) return lines;
      std::this_thread::sleep_for(20ms);
    }
  }

  int wait_exit(std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      drain();
      if (waitpid(pid, &status, WNOHANG) == pid) {
        drain();
        close(out_fd);
        close(err_fd);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(20ms);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
  }
};

TEST(ExchangeSimCli, PrintsTheRestAndWebSocketUrlsFirstThenServes) {
  SF_REQUIRE_SHARED_DATA(sf::testing::kKlines5mFile);
  auto process =
      SimProcess::spawn({"exchange-sim", "--data", sf::testing::shared_data_dir().string(),
                         "--port", "0", "--weight-limit", "100"});
  const auto lines = process.stdout_lines(2, 20s);
  ASSERT_GE(lines.size(), 2u) << "stdout: " << process.out << "\nstderr: " << process.err;
  ASSERT_TRUE(lines[0].starts_with("http://127.0.0.1:")) << lines[0];
  const std::string port = lines[0].substr(std::string("http://127.0.0.1:").size());
  // WebSocket streams have their own port (HttpServer cannot hand over upgraded connections).
  ASSERT_TRUE(lines[1].starts_with("ws://127.0.0.1:")) << lines[1];
  EXPECT_NE(lines[1], "ws://127.0.0.1:" + port);

  auto ping = runtime::http_request("GET", lines[0] + "/api/v3/ping");
  ASSERT_TRUE(ping.ok()) << ping.error();
  EXPECT_EQ(ping->status, 200);
  EXPECT_EQ(ping->body, "{}");
  auto info = runtime::http_request("GET", lines[0] + "/api/v3/exchangeInfo?symbol=BTCUSDT");
  ASSERT_TRUE(info.ok());
  EXPECT_NE(info->body.find("\"limit\":100"), std::string::npos) << "--weight-limit";
  auto ready = runtime::http_request("GET", lines[0] + "/health/ready");
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(ready->status, 200);
  auto metrics = runtime::http_request("GET", lines[0] + "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_NE(metrics->body.find("sf_exchange_sim_weight_used_total"), std::string::npos);

  kill(process.pid, SIGTERM);
  EXPECT_EQ(process.wait_exit(), 0) << process.err;
  EXPECT_EQ(process.out.find('\n', process.out.find('\n') + 1) + 1, process.out.size())
      << "nothing but the two URL lines on stdout: " << process.out;
}

TEST(ExchangeSimCli, FaultFlagsReachTheServer) {
  SF_REQUIRE_SHARED_DATA(sf::testing::kKlines5mFile);
  auto process = SimProcess::spawn(
      {"exchange-sim", "--data", sf::testing::shared_data_dir().string(), "--fail-429-after", "1",
       "--fail-429-count", "1", "--retry-after", "3", "--log-level", "warn"});
  const auto lines = process.stdout_lines(2, 20s);
  ASSERT_GE(lines.size(), 2u) << process.err;
  EXPECT_EQ(runtime::http_request("GET", lines[0] + "/api/v3/ping")->status, 200);
  auto limited = runtime::http_request("GET", lines[0] + "/api/v3/ping");
  ASSERT_TRUE(limited.ok());
  EXPECT_EQ(limited->status, 429);
  EXPECT_EQ(limited->headers.get_or("Retry-After", ""), "3");
  EXPECT_EQ(runtime::http_request("GET", lines[0] + "/api/v3/ping")->status, 200);
  kill(process.pid, SIGINT);
  EXPECT_EQ(process.wait_exit(), 0) << process.err;
}

TEST(ExchangeSimCli, UsageErrors) {
  auto missing = SimProcess::spawn({"exchange-sim"});
  EXPECT_EQ(missing.wait_exit(), 2) << missing.err;
  auto help = SimProcess::spawn({"exchange-sim", "--help"});
  EXPECT_EQ(help.wait_exit(), 0);
  EXPECT_NE(help.out.find("--fail-418-after"), std::string::npos) << help.out;
  auto bad_dir = SimProcess::spawn({"exchange-sim", "--data", "/nonexistent/exchange-sim"});
  EXPECT_EQ(bad_dir.wait_exit(), 1) << bad_dir.err;
}

// The Python interpreter for the ccxt check: the venv scripts/install-test-python.sh creates, or
// python3.
std::string test_python() {
  std::string venv;
  if (const char* configured = std::getenv("SF_PY_VENV")) {
    venv = configured;
  } else if (const char* home = std::getenv("HOME")) {
    venv = std::string(home) + "/.cache/streamforge/venv";
  }
  if (!venv.empty() && access((venv + "/bin/python").c_str(), X_OK) == 0) {
    return venv + "/bin/python";
  }
  return "python3";
}

struct CommandResult {
  int exit_code = -1;
  std::string output;
};

CommandResult run_command(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buffer;
  while (std::fgets(buffer.data(), buffer.size(), pipe)) result.output += buffer.data();
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

TEST(ExchangeSimCcxt, CcxtFetchesOhlcvAndTradesMatchingTheSourceFiles) {
  SF_REQUIRE_SHARED_DATA(sf::testing::kKlines5mFile);
  SF_REQUIRE_SHARED_DATA(sf::testing::kAggTradesFile);
  const std::string python = test_python();
  const auto probe = run_command(python + " -c 'import ccxt; print(ccxt.__version__)'");
  if (probe.exit_code != 0) {
    GTEST_SKIP() << "ccxt is not importable with " << python
                 << " (run scripts/install-test-python.sh): " << probe.output;
  }
  // A sim of its own: the shared one may carry another test's faults.
  ExchangeSimOptions options;
  options.data_dir = sf::testing::shared_data_dir().string();
  auto sim = ExchangeSim::start(options);
  ASSERT_TRUE(sim.ok()) << sim.error();
  const std::string script =
      std::string(SF_REPO_ROOT) + "/tests/services/exchange_sim/ccxt_check.py";
  const auto run = run_command(python + " " + script + " " + (*sim)->rest_base_url() + " " +
                               sf::testing::shared_data_dir().string());
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("ccxt check passed"), std::string::npos) << run.output;
  EXPECT_GT((*sim)->stats().requests, 5u);
}

}  // namespace
}  // namespace sf::services::exchange_sim
