// Test helper: a directory served over HTTPS on loopback by `openssl s_server -WWW` (which serves
// the files below its working directory), with a certificate made for 127.0.0.1 by the test.
// s_server answers one request per connection (HTTP/1.0, body up to the close), and a missing
// file as "200 ok" with an error text, so only serve files that exist.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace sf::testing {

inline std::string find_openssl() {
  for (const char* candidate : {"/usr/bin/openssl", "/usr/local/bin/openssl"}) {
    if (access(candidate, X_OK) == 0) return candidate;
  }
  return {};
}

inline int free_loopback_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  close(fd);
  return port;
}

inline bool loopback_port_accepts(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool connected = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  close(fd);
  return connected;
}

class TlsMirror {
 public:
  // Call start() (with ASSERT_NO_FATAL_FAILURE) before use; `work_dir` holds the key pair.
  TlsMirror(std::filesystem::path root, std::filesystem::path work_dir)
      : root_(std::move(root)), work_dir_(std::move(work_dir)) {}
  TlsMirror(const TlsMirror&) = delete;
  TlsMirror& operator=(const TlsMirror&) = delete;
  ~TlsMirror() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
  }

  // False (with the reason in `skip_reason`) when there is no openssl command to run.
  void start() {
    const std::string openssl = find_openssl();
    if (openssl.empty()) {
      skip_reason_ = "openssl command not found";
      return;
    }
    std::filesystem::create_directories(work_dir_);
    cert_ = (work_dir_ / "mirror-cert.pem").string();
    const std::string key = (work_dir_ / "mirror-key.pem").string();
    const std::string make_cert =
        openssl + " req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2" +
        " -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout " + key + " -out " +
        cert_ + " >/dev/null 2>&1";
    ASSERT_EQ(std::system(make_cert.c_str()), 0) << make_cert;
    port_ = free_loopback_port();
    ASSERT_NE(port_, 0);
    std::vector<std::string> args = {
        openssl, "s_server", "-accept", "127.0.0.1:" + std::to_string(port_),
        "-cert", cert_,      "-key",    key,
        "-WWW",  "-quiet"};
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addchdir_np(&actions, root_.c_str());
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    const int spawned =
        posix_spawn(&pid_, openssl.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ASSERT_EQ(spawned, 0);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!loopback_port_accepts(port_)) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "s_server did not start";
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  const std::string& skip_reason() const { return skip_reason_; }
  std::string base_url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  // The self-signed certificate, to be trusted as a CA.
  const std::string& ca_file() const { return cert_; }

 private:
  std::filesystem::path root_;
  std::filesystem::path work_dir_;
  std::string skip_reason_;
  std::string cert_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace sf::testing
