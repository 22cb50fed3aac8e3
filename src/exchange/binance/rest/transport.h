// A synchronous HTTP/1.1 client for http:// and https:// with keep-alive, made for REST polling:
// one connection to one origin, reused between requests, with separate connect and I/O timeouts,
// cancellation while a request is in flight, and failures classified so that the caller can
// decide what to retry (runtime/http_client.h returns only text and speaks plain http).
//
// TLS verifies the server by default: the system CA store (or a given CA file/directory), the
// chain (verify_peer) and the host name (or IP address) against the certificate; SNI is sent for
// host names. Boost.Beast and OpenSSL stay inside transport.cc.
//
// Not thread-safe: one transport per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"
#include "runtime/http_types.h"

namespace sf::binance {

struct BaseUrl {
  bool tls = true;
  std::string host;  // without brackets for IPv6
  std::uint16_t port = 443;
  std::string path_prefix;     // "" or "/prefix" (no trailing slash); prepended to request paths
  std::string origin() const;  // "https://api.binance.com", "http://127.0.0.1:8080"
};

// http[s]://host[:port][/prefix]; no query, fragment or credentials.
Result<BaseUrl, std::string> parse_base_url(std::string_view url);

struct TlsOptions {
  // Off only for experiments: a REST client without verification trusts anyone on the path.
  bool verify_peer = true;
  std::string ca_file;  // PEM bundle to trust instead of the system store
  std::string ca_path;  // directory of hashed CA certificates (c_rehash) instead of the store
};

struct TransportOptions {
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(5)};  // resolve+connect+TLS
  std::chrono::milliseconds io_timeout{std::chrono::seconds(15)};      // write request + read reply
  std::size_t max_body_bytes = 64u << 20;
  std::string user_agent = "streamforge";
  TlsOptions tls;
};

enum class TransportErrc : std::uint8_t {
  kConfig,     // bad URL or TLS settings (CA file unreadable): never retried
  kConnect,    // resolve or TCP connect failed
  kTls,        // handshake failed, certificate not trusted or wrong host: never retried
  kTimeout,    // connect or I/O timeout
  kReset,      // connection reset or closed before a response started
  kTruncated,  // closed mid-response: fewer body bytes than Content-Length, cut chunking
  kProtocol,   // not parsable as HTTP, or body over max_body_bytes
  kCancelled,  // the cancel check turned true while the request was in flight
};

const char* to_string(TransportErrc code);

struct TransportError {
  TransportErrc code = TransportErrc::kConnect;
  std::string message{};
  // Whether a retry may succeed: false for kConfig, kTls, kCancelled and oversize bodies.
  bool transient = true;
};

struct TransportResponse {
  int status = 0;
  runtime::HttpHeaders headers;
  std::string body;
};

class HttpTransport {
 public:
  // Polled every few tens of milliseconds while a request is in flight.
  using CancelCheck = std::function<bool()>;

  // Validates the URL and builds the TLS context (loading the CA store); fails with kConfig.
  static Result<std::unique_ptr<HttpTransport>, TransportError> create(std::string_view base_url,
                                                                       TransportOptions options);
  ~HttpTransport();
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  // GET path_prefix + `target` ("/api/v3/time?x=1"). Any HTTP status is a success here. A
  // kept-alive connection that the server closed while idle is replaced once, transparently.
  Result<TransportResponse, TransportError> get(std::string_view target,
                                                const runtime::HttpHeaders& headers = {},
                                                const CancelCheck& cancelled = {});

  const BaseUrl& base_url() const;
  // TCP connections opened so far (keep-alive reuse keeps this at 1).
  int connections_opened() const;
  void close();

 private:
  struct Impl;
  explicit HttpTransport(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sf::binance
