// runtime::HttpClient over https against an in-process Beast TLS server whose self-signed
// certificates are made at test time (OpenSSL API, nothing on disk but a temporary CA file):
// trusted via a client option or $SF_CA_FILE it works and keeps the connection alive; untrusted, or
// issued for another host name, the handshake fails and says why. Also S3ModelStore over https.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ml/model_store/model_store.h"
#include "runtime/http_client.h"
#include "runtime/http_server.h"
#include "runtime/metrics.h"
#include "runtime/tls.h"
#include "tls_test_support.h"

namespace sf::runtime {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

using testing::KeyAndCert;
using testing::make_self_signed;

// A keep-alive HTTPS server on 127.0.0.1: answers every request 200 with "hello <target>" and
// echoes the Host header it got as X-Got-Host.
class TlsTestServer {
 public:
  // `drop_after_reply`: close each connection right after its first reply, though the reply
  // promised keep-alive (a server timing out an idle connection).
  explicit TlsTestServer(const KeyAndCert& identity, bool drop_after_reply = false)
      : drop_after_reply_(drop_after_reply),
        context_(ssl::context::tls_server),
        acceptor_(io_, {net::ip::address_v4::loopback(), 0}) {
    context_.use_certificate_chain(net::buffer(identity.cert_pem));
    context_.use_private_key(net::buffer(identity.key_pem), ssl::context::pem);
    port_ = acceptor_.local_endpoint().port();
    net::co_spawn(io_, accept_loop(), net::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~TlsTestServer() {
    io_.stop();
    thread_.join();
  }
  TlsTestServer(const TlsTestServer&) = delete;
  TlsTestServer& operator=(const TlsTestServer&) = delete;

  std::uint16_t port() const { return port_; }
  std::string url(const std::string& host = "127.0.0.1") const {
    return "https://" + host + ":" + std::to_string(port_);
  }
  int accepted() const { return accepted_; }
  int handshakes() const { return handshakes_; }
  std::string last_sni() const {
    std::lock_guard lock(mu_);
    return last_sni_;
  }
  std::string last_host() const {
    std::lock_guard lock(mu_);
    return last_host_;
  }

 private:
  net::awaitable<void> accept_loop() {
    for (;;) {
      beast::error_code ec;
      tcp::socket socket =
          co_await acceptor_.async_accept(net::redirect_error(net::use_awaitable, ec));
      if (ec) co_return;
      ++accepted_;
      net::co_spawn(io_, serve(std::move(socket)), net::detached);
    }
  }

  net::awaitable<void> serve(tcp::socket socket) {
    beast::error_code ec;
    ssl::stream<tcp::socket> stream(std::move(socket), context_);
    co_await stream.async_handshake(ssl::stream_base::server,
                                    net::redirect_error(net::use_awaitable, ec));
    if (ec) co_return;
    ++handshakes_;
    if (const char* sni = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name)) {
      std::lock_guard lock(mu_);
      last_sni_ = sni;
    }
    beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> request;
      co_await http::async_read(stream, buffer, request,
                                net::redirect_error(net::use_awaitable, ec));
      if (ec) co_return;
      {
        std::lock_guard lock(mu_);
        last_host_ = std::string(request[http::field::host]);
      }
      http::response<http::string_body> response(http::status::ok, request.version());
      response.set("X-Got-Host", request[http::field::host]);
      response.body() = "hello " + std::string(request.target());
      response.keep_alive(request.keep_alive());
      response.prepare_payload();
      co_await http::async_write(stream, response, net::redirect_error(net::use_awaitable, ec));
      if (ec || !request.keep_alive() || drop_after_reply_) co_return;
    }
  }

  const bool drop_after_reply_;
  ssl::context context_;
  net::io_context io_;
  tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::atomic<int> accepted_{0};
  std::atomic<int> handshakes_{0};
  mutable std::mutex mu_;
  std::string last_sni_;
  std::string last_host_;
  std::thread thread_;
};

// A temporary PEM file (the CA bundle a client is told to trust), removed at scope exit.
class TempPem {
 public:
  explicit TempPem(const std::string& pem) {
    std::string pattern = (std::filesystem::temp_directory_path() / "sf-tls-XXXXXX").string();
    const int fd = mkstemp(pattern.data());
    if (fd < 0) throw std::runtime_error("mkstemp failed");
    ::close(fd);
    path_ = pattern;
    std::ofstream(path_) << pem;
  }
  ~TempPem() { std::filesystem::remove(path_); }
  TempPem(const TempPem&) = delete;
  TempPem& operator=(const TempPem&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Sets $SF_CA_FILE (or unsets it, for "") for the scope.
class ScopedCaFileEnv {
 public:
  explicit ScopedCaFileEnv(const std::string& value) {
    if (const char* old = std::getenv(kCaFileEnv)) old_ = old;
    if (value.empty()) {
      unsetenv(kCaFileEnv);
    } else {
      setenv(kCaFileEnv, value.c_str(), 1);
    }
  }
  ~ScopedCaFileEnv() {
    if (old_) {
      setenv(kCaFileEnv, old_->c_str(), 1);
    } else {
      unsetenv(kCaFileEnv);
    }
  }
  ScopedCaFileEnv(const ScopedCaFileEnv&) = delete;
  ScopedCaFileEnv& operator=(const ScopedCaFileEnv&) = delete;

 private:
  std::optional<std::string> old_;
};

TlsOptions trusting(const std::string& ca_file) {
  TlsOptions tls;
  tls.ca_file = ca_file;
  tls.system_store_too = true;
  return tls;
}

TEST(HttpClientTlsTest, TrustedCertificateWorksAndTheConnectionIsKeptAlive) {
  const KeyAndCert identity = make_self_signed("localhost", "DNS:localhost,IP:127.0.0.1");
  TlsTestServer server(identity);
  TempPem ca(identity.cert_pem);
  HttpClient client(trusting(ca.path()));

  auto first = client.get(server.url() + "/a");
  ASSERT_TRUE(first) << first.error();
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(first->body, "hello /a");
  EXPECT_EQ(first->headers.get_or("X-Got-Host", ""), "127.0.0.1:" + std::to_string(server.port()));
  auto second = client.request("POST", server.url() + "/b?x=1", "{}");
  ASSERT_TRUE(second) << second.error();
  EXPECT_EQ(second->body, "hello /b?x=1");
  EXPECT_EQ(client.connections_opened(), 1);
  EXPECT_EQ(server.accepted(), 1);
  EXPECT_EQ(server.last_sni(), "");  // IP literals are not sent as SNI

  // A host name: SNI carries it, and the certificate's DNS name matches.
  auto by_name = client.get(server.url("localhost") + "/c");
  ASSERT_TRUE(by_name) << by_name.error();
  EXPECT_EQ(by_name->body, "hello /c");
  EXPECT_EQ(server.last_sni(), "localhost");
  EXPECT_EQ(client.connections_opened(), 2);  // another host: another connection
}

TEST(HttpClientTlsTest, KeptAliveConnectionClosedByTheServerIsReopened) {
  const KeyAndCert identity = make_self_signed("localhost", "DNS:localhost,IP:127.0.0.1");
  TlsTestServer server(identity, /*drop_after_reply=*/true);
  TempPem ca(identity.cert_pem);
  HttpClient client(trusting(ca.path()));
  for (int i = 0; i < 3; ++i) {
    auto response = client.get(server.url() + "/r");
    ASSERT_TRUE(response) << i << ": " << response.error();
    EXPECT_EQ(response->body, "hello /r");
    std::this_thread::sleep_for(20ms);  // let the close arrive
  }
  EXPECT_EQ(client.connections_opened(), 3);
}

TEST(HttpClientTlsTest, CaFileFromTheEnvironmentIsTrusted) {
  const KeyAndCert identity = make_self_signed("localhost", "DNS:localhost,IP:127.0.0.1");
  TlsTestServer server(identity);
  TempPem ca(identity.cert_pem);
  ScopedCaFileEnv env(ca.path());

  HttpClient client;
  for (int i = 0; i < 3; ++i) {
    auto response = client.get(server.url() + "/n" + std::to_string(i));
    ASSERT_TRUE(response) << response.error();
    EXPECT_EQ(response->body, "hello /n" + std::to_string(i));
  }
  EXPECT_EQ(client.connections_opened(), 1);
  EXPECT_EQ(server.handshakes(), 1);

  auto one_shot = http_request("GET", server.url() + "/once");
  ASSERT_TRUE(one_shot) << one_shot.error();
  EXPECT_EQ(one_shot->body, "hello /once");
}

TEST(HttpClientTlsTest, UntrustedCertificateFailsVerification) {
  const KeyAndCert identity = make_self_signed("localhost", "DNS:localhost,IP:127.0.0.1");
  TlsTestServer server(identity);
  ScopedCaFileEnv env("");  // the system store only

  HttpClient client;
  auto response = client.get(server.url() + "/");
  ASSERT_FALSE(response);
  EXPECT_NE(response.error().find("certificate verify failed"), std::string::npos)
      << response.error();
  EXPECT_NE(response.error().find("self-signed"), std::string::npos) << response.error();
  EXPECT_EQ(server.handshakes(), 0);

  // Turning verification off (experiments only) lets it through.
  TlsOptions insecure;
  insecure.verify_peer = false;
  HttpClient trusting_anyone(insecure);
  auto through = trusting_anyone.get(server.url() + "/x");
  ASSERT_TRUE(through) << through.error();
  EXPECT_EQ(through->body, "hello /x");
}

TEST(HttpClientTlsTest, CertificateForAnotherHostFailsHostNameVerification) {
  const KeyAndCert identity = make_self_signed("other.example", "DNS:other.example");
  TlsTestServer server(identity);
  TempPem ca(identity.cert_pem);
  HttpClient client(trusting(ca.path()));

  for (const std::string host : {"127.0.0.1", "localhost"}) {
    auto response = client.get(server.url(host) + "/");
    ASSERT_FALSE(response) << host;
    EXPECT_NE(response.error().find("certificate verify failed"), std::string::npos)
        << response.error();
    EXPECT_NE(response.error().find("hostname mismatch"), std::string::npos) << response.error();
  }
  EXPECT_EQ(server.handshakes(), 0);
}

TEST(HttpClientTlsTest, UnreadableCaFileIsReported) {
  HttpClient client(trusting("/nonexistent/sf-ca.pem"));
  auto response = client.get("https://127.0.0.1:1/");
  ASSERT_FALSE(response);
  EXPECT_NE(response.error().find("cannot load CA file /nonexistent/sf-ca.pem"), std::string::npos)
      << response.error();
}

TEST(HttpClientTlsTest, SwitchingSchemeOpensANewConnection) {
  const KeyAndCert identity = make_self_signed("localhost", "DNS:localhost,IP:127.0.0.1");
  TlsTestServer secure(identity);
  TempPem ca(identity.cert_pem);
  metrics::Registry registry;
  HttpServer plain(HttpServerOptions{.registry = &registry});
  ASSERT_TRUE(plain.start());

  HttpClient client(trusting(ca.path()));
  ASSERT_TRUE(client.get(plain.base_url() + "/health/live"));
  ASSERT_TRUE(client.get(secure.url() + "/s"));
  ASSERT_TRUE(client.get(secure.url() + "/s"));
  ASSERT_TRUE(client.get(plain.base_url() + "/health/live"));
  EXPECT_EQ(client.connections_opened(), 3);
  EXPECT_EQ(secure.accepted(), 1);
}

TEST(HttpClientTlsTest, S3ModelStoreSpeaksHttps) {
  const KeyAndCert identity = make_self_signed("localhost", "DNS:localhost,IP:127.0.0.1");
  TlsTestServer server(identity);
  TempPem ca(identity.cert_pem);
  ScopedCaFileEnv env(ca.path());

  ml::S3Options options;
  options.endpoint = server.url("localhost");
  options.access_key = "a";
  options.secret_key = "s";
  options.bucket = "models";
  auto store = ml::S3ModelStore::open(options);
  ASSERT_TRUE(store) << store.error();
  // The stand-in answers 200 to everything: bucket creation and the object PUT go through TLS.
  auto put = (*store)->put("m/weights.pt", "bytes");
  ASSERT_TRUE(put) << put.error();
  EXPECT_GE(server.handshakes(), 1);
  EXPECT_EQ(server.last_sni(), "localhost");
  EXPECT_EQ(server.last_host(), "localhost:" + std::to_string(server.port()));  // as signed

  options.endpoint = "https://minio.example";  // default port 443
  auto default_port = ml::S3ModelStore::open(options);
  ASSERT_TRUE(default_port) << default_port.error();
  EXPECT_NE((*default_port)->location("k").find("(minio.example)"), std::string::npos)
      << (*default_port)->location("k");
}

}  // namespace
}  // namespace sf::runtime
