// The HTTPS path against a local TLS server (`openssl s_server -www`, certificate made for the
// test): a trusted certificate for the right host works; a self-signed one without a CA (system
// store) and a trusted one for another host fail verification.
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

#include "exchange/binance/rest/rest_client.h"
#include "exchange/binance/rest/transport.h"

extern char** environ;

namespace sf::binance {
namespace {

using std::chrono::milliseconds;

std::string find_openssl() {
  for (const char* candidate : {"/usr/bin/openssl", "/usr/local/bin/openssl"}) {
    if (access(candidate, X_OK) == 0) return candidate;
  }
  return {};
}

int free_loopback_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  close(fd);
  return port;
}

bool port_accepts(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool connected = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  close(fd);
  return connected;
}

// A self-signed certificate for DNS:localhost (no IP address), and s_server serving it on
// 127.0.0.1.
class TlsServer : public ::testing::Test {
 protected:
  void SetUp() override {
    openssl_ = find_openssl();
    if (openssl_.empty()) GTEST_SKIP() << "openssl command not found";
    std::string pattern =
        (std::filesystem::temp_directory_path() / "rest-tls-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    cert_ = (dir_ / "cert.pem").string();
    key_ = (dir_ / "key.pem").string();
    const std::string make_cert =
        openssl_ + " req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2" +
        " -subj /CN=localhost -addext subjectAltName=DNS:localhost -keyout " + key_ + " -out " +
        cert_ + " >/dev/null 2>&1";
    ASSERT_EQ(std::system(make_cert.c_str()), 0) << make_cert;

    port_ = free_loopback_port();
    ASSERT_NE(port_, 0);
    const std::string accept = "127.0.0.1:" + std::to_string(port_);
    std::vector<std::string> args = {openssl_, "s_server", "-accept", accept, "-cert",
                                     cert_,    "-key",     key_,      "-www", "-quiet"};
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    const int spawned =
        posix_spawn(&server_pid_, openssl_.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ASSERT_EQ(spawned, 0);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!port_accepts(port_)) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "s_server did not start";
      std::this_thread::sleep_for(milliseconds(20));
    }
  }

  void TearDown() override {
    if (server_pid_ > 0) {
      kill(server_pid_, SIGTERM);
      int status = 0;
      waitpid(server_pid_, &status, 0);
    }
    if (!dir_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
    }
  }

  std::string url(const std::string& host) const {
    return "https://" + host + ":" + std::to_string(port_);
  }

  std::string openssl_;
  std::filesystem::path dir_;
  std::string cert_;
  std::string key_;
  int port_ = 0;
  pid_t server_pid_ = -1;
};

TransportOptions quick(std::string ca_file = {}) {
  TransportOptions options;
  options.connect_timeout = milliseconds(3000);
  options.io_timeout = milliseconds(3000);
  options.tls.ca_file = std::move(ca_file);
  return options;
}

TEST_F(TlsServer, TrustedCertificateForTheHostWorks) {
  auto transport = HttpTransport::create(url("localhost"), quick(cert_));
  ASSERT_TRUE(transport.ok()) << transport.error().message;
  auto response = (*transport)->get("/");
  ASSERT_TRUE(response.ok()) << to_string(response.error().code) << ": "
                             << response.error().message;
  EXPECT_EQ(response->status, 200);
  EXPECT_NE(response->body.find("s_server"), std::string::npos) << response->body.substr(0, 200);
}

TEST_F(TlsServer, SelfSignedCertificateFailsWithTheSystemStore) {
  auto transport = HttpTransport::create(url("localhost"), quick());
  ASSERT_TRUE(transport.ok()) << transport.error().message;
  auto response = (*transport)->get("/");
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code, TransportErrc::kTls) << response.error().message;
  EXPECT_FALSE(response.error().transient);
  EXPECT_NE(response.error().message.find("certificate verify failed"), std::string::npos)
      << response.error().message;

  // The client reports it as kTls at once, without retrying.
  RestClientOptions options;
  options.base_url = url("localhost");
  auto client = BinanceRestClient::create(options);
  ASSERT_TRUE(client.ok()) << client.error().describe();
  auto time = (*client)->server_time();
  ASSERT_FALSE(time.ok());
  EXPECT_EQ(time.error().code, RestErrc::kTls) << time.error().describe();
  EXPECT_EQ(time.error().attempts, 1);
}

TEST_F(TlsServer, DownloadStreamsOverTls) {
  HttpDownloader downloader(quick(cert_));
  const std::string dest = (dir_ / "status.html").string();
  auto response = downloader.download(url("localhost") + "/", dest);
  ASSERT_TRUE(response.ok()) << to_string(response.error().error.code) << ": "
                             << response.error().error.message;
  EXPECT_EQ(response->status, 200);
  EXPECT_GT(response->bytes, 0u);
  EXPECT_EQ(std::filesystem::file_size(dest), response->bytes);

  // Without the test CA the system store has no reason to trust it: not retried.
  HttpDownloader untrusting(quick());
  auto refused = untrusting.download(url("localhost") + "/", (dir_ / "refused").string());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().error.code, TransportErrc::kTls) << refused.error().error.message;
  EXPECT_EQ(refused.error().attempts, 1);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "refused"));
}

TEST_F(TlsServer, TrustedCertificateForAnotherHostFails) {
  // The certificate names DNS:localhost only; 127.0.0.1 is not in it.
  auto transport = HttpTransport::create(url("127.0.0.1"), quick(cert_));
  ASSERT_TRUE(transport.ok()) << transport.error().message;
  auto response = (*transport)->get("/");
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code, TransportErrc::kTls) << response.error().message;
}

TEST_F(TlsServer, VerificationCanBeTurnedOff) {
  auto options = quick();
  options.tls.verify_peer = false;
  auto transport = HttpTransport::create(url("127.0.0.1"), options);
  ASSERT_TRUE(transport.ok()) << transport.error().message;
  auto response = (*transport)->get("/");
  ASSERT_TRUE(response.ok()) << response.error().message;
  EXPECT_EQ(response->status, 200);
}

TEST_F(TlsServer, ClientUsesTheConfiguredCaFile) {
  RestClientOptions options;
  options.base_url = url("localhost");
  options.tls.ca_file = cert_;
  options.max_retries = 0;
  auto client = BinanceRestClient::create(options);
  ASSERT_TRUE(client.ok()) << client.error().describe();
  // The handshake succeeds; s_server's HTML status page is then no Binance body.
  auto time = (*client)->server_time();
  ASSERT_FALSE(time.ok());
  EXPECT_EQ(time.error().code, RestErrc::kBadResponse) << time.error().describe();
  EXPECT_EQ(time.error().http_status, 200);
}

}  // namespace
}  // namespace sf::binance
