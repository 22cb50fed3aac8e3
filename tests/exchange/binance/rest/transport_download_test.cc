// HttpTransport::download and HttpDownloader against a local HTTP server (runtime::HttpServer):
// bodies far above the 64 MiB limit of get() stream to disk intact, with Content-Length and with
// chunking; statuses, redirects, retries and limits behave as transport.h says.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "exchange/binance/rest/transport.h"
#include "runtime/http_server.h"

namespace sf::binance {
namespace {

namespace fs = std::filesystem;
using runtime::HttpRequest;
using runtime::HttpResponse;
using std::chrono::milliseconds;

constexpr std::size_t kBigBytes = std::size_t{70} << 20;  // above get()'s 64 MiB default

// Deterministic, incompressible-looking bytes, so that a misplaced chunk cannot go unnoticed.
std::string pseudo_random_bytes(std::size_t size) {
  std::string bytes(size, '\0');
  std::uint64_t state = 0x5eed;
  for (std::size_t i = 0; i < size; i += 8) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    const std::uint64_t word = state ^ (state >> 29);
    for (std::size_t j = 0; j < 8 && i + j < size; ++j) {
      bytes[i + j] = static_cast<char>(word >> (8 * j));
    }
  }
  return bytes;
}

std::string hex(const unsigned char* data, unsigned size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < size; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 15];
  }
  return out;
}

std::string sha256_of(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned size = 0;
  EXPECT_EQ(EVP_Digest(bytes.data(), bytes.size(), digest, &size, EVP_sha256(), nullptr), 1);
  return hex(digest, size);
}

std::string sha256_of_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  EVP_DigestInit_ex(context, EVP_sha256(), nullptr);
  std::string buffer(1 << 20, '\0');
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    EVP_DigestUpdate(context, buffer.data(), static_cast<std::size_t>(in.gcount()));
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned size = 0;
  EVP_DigestFinal_ex(context, digest, &size);
  EVP_MD_CTX_free(context);
  return hex(digest, size);
}

class DownloadTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    big_ = new std::string(pseudo_random_bytes(kBigBytes));
    big_sha_ = new std::string(sha256_of(*big_));
  }
  static void TearDownTestSuite() {
    delete big_;
    delete big_sha_;
    big_ = nullptr;
    big_sha_ = nullptr;
  }

  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "transport-download-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    server_.route("GET", "/big", [](const HttpRequest&) {
      return HttpResponse::text(200, *big_, "application/zip");
    });
    server_.route("GET", "/big-chunked", [](const HttpRequest&) {
      HttpResponse response = HttpResponse::text(200, "", "application/zip");
      auto offset = std::make_shared<std::size_t>(0);
      response.stream = [offset](std::string& out) {
        constexpr std::size_t kPiece = 1 << 20;
        const std::size_t n = std::min(kPiece, big_->size() - *offset);
        out.append(*big_, *offset, n);
        *offset += n;
        return *offset < big_->size();
      };
      return response;
    });
    server_.route("GET", "/small", [](const HttpRequest&) {
      return HttpResponse::text(200, "hello, file\n", "text/plain");
    });
    server_.route("GET", "/missing",
                  [](const HttpRequest&) { return HttpResponse::error(404, "no such file"); });
    server_.route("GET", "/moved/{hops}", [](const HttpRequest& request) {
      const int hops = std::stoi(std::string(request.path_param("hops")));
      HttpResponse response = HttpResponse::text(302, "");
      // Relative Locations: the downloader resolves them against the URL that sent them.
      response.headers.set("Location", hops <= 1 ? "/small" : std::to_string(hops - 1));
      return response;
    });
    server_.route("GET", "/flaky", [this](const HttpRequest&) {
      if (flaky_calls_++ < 2) return HttpResponse::error(503, "busy");
      return HttpResponse::text(200, "finally\n", "text/plain");
    });
    auto started = server_.start();
    ASSERT_TRUE(started.ok()) << started.error();
  }

  void TearDown() override {
    server_.stop();
    std::error_code ignored;
    if (!dir_.empty()) fs::remove_all(dir_, ignored);
  }

  static TransportOptions quick() {
    TransportOptions options;
    options.connect_timeout = milliseconds(3000);
    options.io_timeout = milliseconds(5000);
    return options;
  }
  static DownloadOptions fast_retries() {
    DownloadOptions options;
    options.backoff = BackoffPolicy{.initial = milliseconds(1), .max = milliseconds(5)};
    return options;
  }

  static std::string* big_;
  static std::string* big_sha_;
  fs::path dir_;
  std::atomic<int> flaky_calls_{0};
  runtime::HttpServer server_;
};

std::string* DownloadTest::big_ = nullptr;
std::string* DownloadTest::big_sha_ = nullptr;

TEST_F(DownloadTest, BodyOverSixtyFourMibStreamsToDisk) {
  auto transport = HttpTransport::create(server_.base_url(), quick());
  ASSERT_TRUE(transport.ok()) << transport.error().message;
  for (const char* target : {"/big", "/big-chunked"}) {
    const fs::path dest = dir_ / "big.zip";
    auto response = (*transport)->download(target, dest);
    ASSERT_TRUE(response.ok()) << target << ": " << response.error().error.message;
    EXPECT_EQ(response->status, 200) << target;
    EXPECT_EQ(response->bytes, kBigBytes) << target;
    EXPECT_EQ(fs::file_size(dest), kBigBytes) << target;
    EXPECT_EQ(sha256_of_file(dest), *big_sha_) << target;
  }
  // get() still refuses such a body, as a non-transient protocol error.
  auto buffered = (*transport)->get("/big");
  ASSERT_FALSE(buffered.ok());
  EXPECT_EQ(buffered.error().code, TransportErrc::kProtocol);
  EXPECT_FALSE(buffered.error().transient);
}

TEST_F(DownloadTest, DownloaderKeepsTheConnectionAliveBetweenFiles) {
  HttpDownloader downloader(quick(), fast_retries());
  for (int i = 0; i < 3; ++i) {
    auto response = downloader.download(server_.base_url() + "/small", dir_ / "small.txt");
    ASSERT_TRUE(response.ok()) << response.error().error.message;
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->bytes, 12u);
  }
  EXPECT_EQ(downloader.connections_opened(), 1);
  std::ifstream in(dir_ / "small.txt");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "hello, file\n");
}

TEST_F(DownloadTest, NotFoundIsAStatusAndCreatesNoFile) {
  HttpDownloader downloader(quick(), fast_retries());
  const fs::path dest = dir_ / "missing.zip";
  auto response = downloader.download(server_.base_url() + "/missing", dest);
  ASSERT_TRUE(response.ok()) << response.error().error.message;
  EXPECT_EQ(response->status, 404);
  EXPECT_FALSE(response->ok());
  EXPECT_EQ(response->bytes, 0u);
  EXPECT_EQ(response->attempts, 1);  // a 404 is an answer, not a failure to retry
  EXPECT_FALSE(fs::exists(dest));
}

TEST_F(DownloadTest, RedirectsAreFollowedUpToTheLimit) {
  HttpDownloader downloader(quick(), fast_retries());
  auto response = downloader.download(server_.base_url() + "/moved/3", dir_ / "small.txt");
  ASSERT_TRUE(response.ok()) << response.error().error.message;
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->redirects, 3);
  EXPECT_EQ(response->url, server_.base_url() + "/small");
  EXPECT_EQ(fs::file_size(dir_ / "small.txt"), 12u);

  auto options = fast_retries();
  options.max_redirects = 2;
  HttpDownloader strict(quick(), options);
  auto refused = strict.download(server_.base_url() + "/moved/3", dir_ / "small2.txt");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().error.code, TransportErrc::kProtocol);
  EXPECT_NE(refused.error().error.message.find("redirects"), std::string::npos)
      << refused.error().error.message;
}

TEST_F(DownloadTest, ServerErrorsAreRetriedWithBackoff) {
  HttpDownloader downloader(quick(), fast_retries());
  auto response = downloader.download(server_.base_url() + "/flaky", dir_ / "flaky.txt");
  ASSERT_TRUE(response.ok()) << response.error().error.message;
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->attempts, 3);
  EXPECT_EQ(fs::file_size(dir_ / "flaky.txt"), 8u);

  flaky_calls_ = 0;
  auto options = fast_retries();
  options.max_retries = 1;
  HttpDownloader impatient(quick(), options);
  auto gave_up = impatient.download(server_.base_url() + "/flaky", dir_ / "flaky2.txt");
  ASSERT_TRUE(gave_up.ok()) << gave_up.error().error.message;
  EXPECT_EQ(gave_up->status, 503);  // the last answer, for the caller to judge
  EXPECT_EQ(gave_up->attempts, 2);
}

TEST_F(DownloadTest, LimitsAndLocalFailures) {
  auto options = fast_retries();
  options.max_bytes = 1 << 20;
  HttpDownloader limited(quick(), options);
  auto too_big = limited.download(server_.base_url() + "/big", dir_ / "big.zip");
  ASSERT_FALSE(too_big.ok());
  EXPECT_EQ(too_big.error().error.code, TransportErrc::kProtocol);
  EXPECT_FALSE(too_big.error().error.transient);
  EXPECT_EQ(too_big.error().attempts, 1);  // not retried

  HttpDownloader downloader(quick(), fast_retries());
  auto unwritable = downloader.download(server_.base_url() + "/small", dir_ / "no/such/dir/f");
  ASSERT_FALSE(unwritable.ok());
  EXPECT_TRUE(unwritable.error().local_file);
  EXPECT_EQ(unwritable.error().attempts, 1);

  auto refused = downloader.download("http://127.0.0.1:1/small", dir_ / "refused");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().error.code, TransportErrc::kConnect);
  EXPECT_EQ(refused.error().attempts, 4);  // the first try and max_retries = 3 more

  auto not_http = downloader.download("ftp://127.0.0.1/x", dir_ / "x");
  ASSERT_FALSE(not_http.ok());
  EXPECT_EQ(not_http.error().error.code, TransportErrc::kConfig);
}

}  // namespace
}  // namespace sf::binance
