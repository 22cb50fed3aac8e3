#include "exchange/binance/vision/fetcher.h"

#include <fstream>

#include "runtime/http_client.h"

namespace sf::binance {
namespace {

class HttpFetcher final : public Fetcher {
 public:
  explicit HttpFetcher(HttpFetcherOptions options) : options_(options) {}

  Result<void, VisionError> fetch(const std::string& url,
                                  const std::filesystem::path& dest) override {
    if (url.starts_with("https://"))
      return vision_error(VisionErrc::kFetch, url,
                          "HTTPS fetcher not available yet: the TLS client of "
                          "src/exchange/binance/rest has not landed; use a local mirror (a "
                          "directory or file:// URL), an http:// mirror, or plug in a Fetcher");
    if (!url.starts_with("http://"))
      return vision_error(VisionErrc::kFetch, url, "the HTTP fetcher handles http:// URLs only");
    auto response = client_.get(url, options_.timeout);
    if (!response) return vision_error(VisionErrc::kFetch, url, response.error());
    if (response->status == 404) return vision_error(VisionErrc::kNotFound, url, "HTTP 404");
    if (response->status != 200)
      return vision_error(VisionErrc::kFetch, url, "HTTP " + std::to_string(response->status));
    std::ofstream out(dest, std::ios::binary | std::ios::trunc);
    out.write(response->body.data(), static_cast<std::streamsize>(response->body.size()));
    out.close();
    if (!out) return vision_error(VisionErrc::kIo, dest.string(), "cannot write the download");
    return {};
  }

 private:
  HttpFetcherOptions options_;
  runtime::HttpClient client_;
};

}  // namespace

std::unique_ptr<Fetcher> make_http_fetcher(HttpFetcherOptions options) {
  return std::make_unique<HttpFetcher>(options);
}

}  // namespace sf::binance
