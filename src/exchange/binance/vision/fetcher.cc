#include "exchange/binance/vision/fetcher.h"

namespace sf::binance {
namespace {

TransportOptions transport_options(const HttpFetcherOptions& options) {
  TransportOptions transport;
  transport.connect_timeout = options.connect_timeout;
  transport.io_timeout = options.io_timeout;
  transport.user_agent = options.user_agent;
  transport.tls = options.tls;
  return transport;
}

DownloadOptions download_options(const HttpFetcherOptions& options) {
  DownloadOptions download;
  download.max_bytes = options.max_bytes;
  download.timeout = options.timeout;
  download.max_redirects = options.max_redirects;
  download.max_retries = options.max_retries;
  download.backoff = options.backoff;
  return download;
}

class HttpFetcher final : public Fetcher {
 public:
  explicit HttpFetcher(const HttpFetcherOptions& options)
      : downloader_(transport_options(options), download_options(options)) {}

  Result<void, VisionError> fetch(const std::string& url,
                                  const std::filesystem::path& dest) override {
    if (!url.starts_with("http://") && !url.starts_with("https://"))
      return vision_error(VisionErrc::kFetch, url, "the HTTP fetcher handles http(s):// URLs only");
    auto response = downloader_.download(url, dest);
    if (!response) {
      const DownloadError& error = response.error();
      if (error.local_file)
        return vision_error(VisionErrc::kIo, dest.string(), error.error.message);
      std::string message = std::string(to_string(error.error.code)) + ": " + error.error.message;
      if (error.attempts > 1) message += " (after " + std::to_string(error.attempts) + " attempts)";
      return vision_error(VisionErrc::kFetch, url, std::move(message));
    }
    if (response->status == 404) return vision_error(VisionErrc::kNotFound, url, "HTTP 404");
    // 200 only: a 206 or 204 would not be the whole file.
    if (response->status != 200) {
      std::string message = "HTTP " + std::to_string(response->status);
      if (response->url != url) message += " from " + response->url;
      return vision_error(VisionErrc::kFetch, url, std::move(message));
    }
    return {};
  }

 private:
  HttpDownloader downloader_;
};

}  // namespace

std::unique_ptr<Fetcher> make_http_fetcher(const HttpFetcherOptions& options) {
  return std::make_unique<HttpFetcher>(options);
}

std::unique_ptr<Fetcher> make_http_fetcher() {
  const HttpFetcherOptions defaults;
  return make_http_fetcher(defaults);
}

}  // namespace sf::binance
