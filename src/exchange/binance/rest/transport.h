// A synchronous HTTP/1.1 client for http:// and https:// with keep-alive, made for REST polling:
// one connection to one origin, reused between requests, with separate connect and I/O timeouts,
// cancellation while a request is in flight, and failures classified so that the caller can
// decide what to retry (runtime/http_client.h returns only text).
//
// TLS verifies the server by default: the system CA store (or a given CA file/directory), the
// chain (verify_peer) and the host name (or IP address) against the certificate; SNI is sent for
// host names. Boost.Beast and OpenSSL stay inside transport.cc.
//
// Large files (data.binance.vision's monthly zips run to gigabytes) are streamed to disk instead:
// HttpTransport::download for one origin, HttpDownloader for whole URLs with redirects and retries.
//
// Not thread-safe: one transport per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"
#include "exchange/binance/rest/rest_policy.h"
#include "runtime/http_types.h"
#include "runtime/tls.h"

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

// TLS 1.2+, peer verification against ca_file / ca_path or the system store (runtime/tls.h).
using TlsOptions = runtime::TlsOptions;

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

struct DownloadOptions {
  // Refuses bodies above this (kProtocol, not retried): a bound against a runaway server, far
  // above the largest data.binance.vision file.
  std::uint64_t max_bytes = std::uint64_t{16} << 30;
  // The whole download (HttpDownloader: all attempts and waits together); 0 for none. Stalls are
  // bounded by TransportOptions::io_timeout, which applies to every chunk read.
  std::chrono::milliseconds timeout{0};
  runtime::HttpHeaders headers{};  // extra request headers
  // HttpDownloader only: redirects followed (301/302/303/307/308), and resends after transient
  // failures (timeouts, resets, truncated bodies, HTTP 408/429/5xx) with `backoff` between them.
  int max_redirects = 5;
  int max_retries = 3;
  BackoffPolicy backoff{.initial = std::chrono::milliseconds(500),
                        .max = std::chrono::milliseconds(10'000)};
  // Polled while a request is in flight and between retries; true aborts with kCancelled.
  std::function<bool()> cancelled{};
};

struct DownloadResponse {
  int status = 0;  // the final status (after redirects, for HttpDownloader)
  runtime::HttpHeaders headers;
  // Body bytes written to `dest`: only a 2xx body is written there; other bodies (a 404 page, a
  // redirect's) are read and dropped, and `dest` is not created for them.
  std::uint64_t bytes = 0;
  std::string url;   // HttpDownloader: the URL that answered (after redirects)
  int attempts = 0;  // HttpDownloader: requests sent, redirects and retries included
  int redirects = 0;
  bool ok() const { return status >= 200 && status < 300; }
};

struct DownloadError {
  TransportError error;
  // `dest` could not be created or written (error.code is kConfig, never retried): the network
  // side was fine, the local disk was not.
  bool local_file = false;
  std::string url{};  // the URL last requested (HttpDownloader)
  int attempts = 0;
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

  // Streams the body of GET path_prefix + `target` into the file `dest` (created or truncated)
  // in chunks: nothing is buffered whole, so the size is bounded by options.max_bytes only. Any
  // HTTP status is a success here, like get(); a non-2xx body is dropped, not written. One
  // request (the stale keep-alive replacement of get() aside): max_redirects, max_retries and
  // backoff are HttpDownloader's. A failed download may leave a partial `dest` behind.
  Result<DownloadResponse, DownloadError> download(std::string_view target,
                                                   const std::filesystem::path& dest,
                                                   const DownloadOptions& options = {});

  const BaseUrl& base_url() const;
  // TCP connections opened so far (keep-alive reuse keeps this at 1).
  int connections_opened() const;
  void close();

 private:
  struct Impl;
  explicit HttpTransport(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Downloads whole http(s):// URLs to files on HttpTransport::download, keeping one kept-alive
// transport per origin (a mirror's files come from one host; a CDN may redirect to a second).
//  - Redirects: up to options.max_redirects, relative Locations resolved; https -> http is
//    refused (kProtocol) so that a redirect cannot strip TLS from a verified download.
//  - Retries: transient transport failures and HTTP 408, 429 and 5xx are resent up to
//    options.max_retries times with options.backoff (429/503 honour a Retry-After up to the
//    backoff's max); each attempt starts the file again from byte 0.
//  - Any other final status is returned as it is: the caller decides what 404 or 403 means.
// Not thread-safe: one per thread.
class HttpDownloader {
 public:
  explicit HttpDownloader(TransportOptions transport_options = {}, DownloadOptions options = {});
  ~HttpDownloader();
  HttpDownloader(const HttpDownloader&) = delete;
  HttpDownloader& operator=(const HttpDownloader&) = delete;

  Result<DownloadResponse, DownloadError> download(std::string_view url,
                                                   const std::filesystem::path& dest);

  // TCP connections opened so far, over all origins.
  int connections_opened() const;

 private:
  Result<HttpTransport*, TransportError> transport_for(const BaseUrl& url);

  TransportOptions transport_options_;
  DownloadOptions options_;
  std::map<std::string, std::unique_ptr<HttpTransport>> transports_;  // by origin
  std::uint64_t random_state_;
};

}  // namespace sf::binance
