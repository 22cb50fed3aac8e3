// Downloads for the data.binance.vision reader, behind an interface so that transports can be
// swapped: the HTTPS client being written for the REST API (src/exchange/binance/rest) will plug
// in here as another Fetcher without changes to the reader.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

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
  // Bounds one whole download (connect, request, response). Monthly files run to gigabytes, so
  // this is generous; the loopback tests finish in milliseconds.
  std::chrono::milliseconds timeout{std::chrono::minutes(10)};
};

// A Fetcher for plain http:// URLs on runtime::HttpClient (keep-alive between files of one host).
//
// Limits, until the REST client's TLS stack lands:
//  - https:// URLs, data.binance.vision's own included, fail with kFetch "HTTPS fetcher not
//    available yet". Use a local mirror (a directory or a file:// URL), an http:// mirror, or
//    plug in another Fetcher (VisionOptions::fetcher).
//  - HttpClient buffers the whole response in memory and refuses bodies over 256 MiB, so very
//    large monthly trades files need another Fetcher.
// Not thread-safe: one per VisionReader.
std::unique_ptr<Fetcher> make_http_fetcher(HttpFetcherOptions options = {});

}  // namespace sf::binance
