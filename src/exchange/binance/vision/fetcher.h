// Downloads for the data.binance.vision reader, behind an interface so that transports can be
// swapped (tests plug in their own; see VisionOptions::fetcher).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "exchange/binance/rest/transport.h"
#include "exchange/binance/vision/error.h"

namespace sf::binance {

class Fetcher {
 public:
  virtual ~Fetcher() = default;

  // Downloads `url` into the file `dest` (created or truncated). The reader passes a temporary
  // name and renames it into the cache once this returns ok, so an implementation need not be
  // atomic, and a failed one may leave a partial `dest` behind (the reader removes it).
  // Errors: kNotFound when the server has no such file (HTTP 404), kFetch for anything else
  // that went wrong in transit, kIo when `dest` cannot be written.
  virtual Result<void, VisionError> fetch(const std::string& url,
                                          const std::filesystem::path& dest) = 0;
};

struct HttpFetcherOptions {
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};  // resolve+connect+TLS
  // No byte for this long fails the attempt (which is then retried): a stall bound, not a
  // bound on the whole file, since monthly trades files run to gigabytes.
  std::chrono::milliseconds io_timeout{std::chrono::seconds(60)};
  // Bounds one whole download, retries included; 0 for none (the default: io_timeout catches
  // stalls, and a slow link may need hours for a large file).
  std::chrono::milliseconds timeout{0};
  std::uint64_t max_bytes = std::uint64_t{16} << 30;
  int max_redirects = 5;
  // Resends after timeouts, resets, truncated bodies and HTTP 408/429/5xx, with backoff.
  int max_retries = 3;
  BackoffPolicy backoff{.initial = std::chrono::milliseconds(500),
                        .max = std::chrono::milliseconds(10'000)};
  // Verification is on by default against the system CA store; ca_file (a PEM bundle) or
  // ca_path replaces the store, for a mirror with its own CA.
  TlsOptions tls;
  std::string user_agent = "streamforge-vision";
};

// A Fetcher for http:// and https:// URLs on HttpDownloader (exchange/binance/rest/transport.h):
// the body is streamed to `dest` in chunks (no size limit but max_bytes), redirects are followed
// (https never downgraded to http), transient failures retried with backoff, and connections
// kept alive between files of one host. 404 is kNotFound; any other status but 200 is kFetch
// "HTTP <status>", as is a TLS failure (with the certificate verification error in the message).
// Not thread-safe: one per VisionReader.
std::unique_ptr<Fetcher> make_http_fetcher(const HttpFetcherOptions& options);
// With the default options. (An overload rather than a default argument: GCC 12 reports a false
// maybe-uninitialized on the temporary options when the call is inlined into its callers.)
std::unique_ptr<Fetcher> make_http_fetcher();

}  // namespace sf::binance
