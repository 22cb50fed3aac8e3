// A minimal synchronous HTTP/1.1 client (http and https) for tests, the CLI and simple
// service-to-service calls.
//
//   auto response = http_request("GET", "http://127.0.0.1:8080/health/ready");
//   if (!response) log::warn("cli", "unreachable", {{"error", response.error()}});
//   else if (response->status == 200) ...
//
// An HttpClient keeps its connection open between requests to the same scheme, host and port
// (keep-alive, TLS connections included); it is not thread-safe: use one per thread.
//
// https verifies the server's certificate chain and host name, by default against the system CA
// store plus the PEM bundle named by $SF_CA_FILE (for private CAs such as an in-cluster MinIO's);
// see runtime/tls.h.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"
#include "runtime/http_types.h"
#include "runtime/tls.h"

namespace sf::runtime {

struct HttpUrl {
  std::string host;          // without brackets for IPv6
  std::uint16_t port = 80;   // 443 when tls and none was given
  std::string target = "/";  // path and query, as given
  bool tls = false;          // https://
};

// Parses http[s]://host[:port][/path][?query]; other schemes are rejected.
Result<HttpUrl, std::string> parse_http_url(std::string_view url);

inline constexpr std::chrono::milliseconds kDefaultHttpTimeout{std::chrono::seconds(10)};

class HttpClient {
 public:
  // Verifies https peers per default_client_tls() (system store plus $SF_CA_FILE, read now).
  HttpClient();
  explicit HttpClient(TlsOptions tls);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends one request and reads the whole response; `timeout` bounds the entire exchange
  // (connect, TLS handshake, write, read). Errors (bad URL, refused, timeout, TLS handshake or
  // certificate verification failure, malformed response) come back as text; any HTTP status,
  // 4xx/5xx included, is a successful exchange. The Host header, unless given, is host:port
  // (just host for https on port 443).
  Result<HttpResponse, std::string> request(
      std::string_view method, std::string_view url, std::string_view body = {},
      const HttpHeaders& headers = {}, std::chrono::milliseconds timeout = kDefaultHttpTimeout);
  Result<HttpResponse, std::string> get(std::string_view url,
                                        std::chrono::milliseconds timeout = kDefaultHttpTimeout) {
    return request("GET", url, {}, {}, timeout);
  }

  // Closes the kept-alive connection, if any.
  void close();
  // TCP connections opened so far (tells whether keep-alive reused one).
  int connections_opened() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One request on a fresh connection.
Result<HttpResponse, std::string> http_request(
    std::string_view method, std::string_view url, std::string_view body = {},
    const HttpHeaders& headers = {}, std::chrono::milliseconds timeout = kDefaultHttpTimeout);

}  // namespace sf::runtime
