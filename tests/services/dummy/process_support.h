// Test helper: runs the streamforge binary as a child process and captures its stderr.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "test_support.h"

namespace sf::testing {

using namespace std::chrono_literals;

struct Child {
  pid_t pid = -1;
  int err_fd = -1;
  std::string err;

  // Reads what stderr has so far (non-blocking).
  void drain() {
    char buf[4096];
    for (;;) {
      ssize_t n = read(err_fd, buf, sizeof buf);
      if (n <= 0) break;
      err.append(buf, static_cast<std::size_t>(n));
    }
  }
  int wait_exit(std::chrono::milliseconds timeout = 10s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      drain();
      if (waitpid(pid, &status, WNOHANG) == pid) {
        drain();
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(20ms);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
  }
};

// Starts `streamforge ARGS...` with extra environment variables; stderr is captured.
inline Child spawn(std::vector<std::string> args, std::vector<std::pair<std::string, std::string>> env = {}) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  Child c;
  c.pid = fork();
  if (c.pid == 0) {
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    dup2(fds[1], 2);
    close(fds[0]);
    std::vector<char*> argv;
    std::string bin = sf::testing::streamforge_bin().string();
    argv.push_back(bin.data());
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  close(fds[1]);
  fcntl(fds[0], F_SETFL, O_NONBLOCK);
  c.err_fd = fds[0];
  return c;
}


}  // namespace sf::testing
