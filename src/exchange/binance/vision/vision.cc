#include "exchange/binance/vision/vision.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <system_error>

#include "exchange/binance/parse.h"
#include "exchange/binance/vision/checksum.h"
#include "runtime/log.h"
#include "tools/normalize.h"

namespace sf::binance {

const char* to_string(VisionErrc code) {
  switch (code) {
    case VisionErrc::kConfig:
      return "config";
    case VisionErrc::kNotFound:
      return "not_found";
    case VisionErrc::kFetch:
      return "fetch";
    case VisionErrc::kIo:
      return "io";
    case VisionErrc::kChecksumMissing:
      return "checksum_missing";
    case VisionErrc::kBadChecksumFile:
      return "bad_checksum_file";
    case VisionErrc::kChecksumMismatch:
      return "checksum_mismatch";
    case VisionErrc::kBadArchive:
      return "bad_archive";
    case VisionErrc::kBadRow:
      return "bad_row";
  }
  return "unknown";
}

std::string VisionError::to_string() const {
  std::string text = binance::to_string(code);
  text += ": ";
  if (!location.empty()) {
    text += location;
    if (line != 0) text += " line " + std::to_string(line);
    text += ": ";
  }
  text += message;
  return text;
}

namespace {

constexpr std::string_view kLogger = "vision";
constexpr std::uintmax_t kMaxChecksumFileBytes = 64 * 1024;

bool is_remote_url(std::string_view base) {
  return base.starts_with("http://") || base.starts_with("https://");
}

void strip_trailing_slashes(std::string* text) {
  while (text->size() > 1 && text->back() == '/') text->pop_back();
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// file:///srv/mirror and file://localhost/srv/mirror -> /srv/mirror (percent escapes decoded).
VisionResult<std::string> path_from_file_url(const std::string& url) {
  std::string_view rest = std::string_view(url).substr(7);
  if (rest.starts_with("localhost/")) rest.remove_prefix(9);
  if (!rest.starts_with("/"))
    return vision_error(VisionErrc::kConfig, url,
                        "a file:// URL needs an absolute path (file:///dir) on this host");
  std::string path;
  for (std::size_t i = 0; i < rest.size(); ++i) {
    if (rest[i] == '%' && i + 2 < rest.size() && hex_value(rest[i + 1]) >= 0 &&
        hex_value(rest[i + 2]) >= 0) {
      path += static_cast<char>(hex_value(rest[i + 1]) * 16 + hex_value(rest[i + 2]));
      i += 2;
    } else {
      path += rest[i];
    }
  }
  return path;
}

// http://127.0.0.1:8080/mirror -> "127.0.0.1_8080_mirror": one cache folder per remote base, so
// that two mirrors never mix their files.
std::string cache_folder_for(std::string_view url) {
  url.remove_prefix(url.find("://") + 3);
  std::string folder;
  for (char c : url) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '-';
    folder += keep ? c : '_';
  }
  return folder;
}

VisionResult<std::filesystem::path> default_cache_dir() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg && *xdg) return std::filesystem::path(xdg) / "streamforge" / "vision";
  const char* home = std::getenv("HOME");
  if (home && *home) return std::filesystem::path(home) / ".cache" / "streamforge" / "vision";
  return vision_error(VisionErrc::kConfig, "",
                      "no cache directory: set VisionOptions::cache_dir, XDG_CACHE_HOME or HOME");
}

bool file_exists(const std::filesystem::path& path) {
  std::error_code ec;
  return std::filesystem::exists(path, ec);
}

std::filesystem::path checksum_path_of(const std::filesystem::path& zip) {
  std::filesystem::path path = zip;
  path += ".CHECKSUM";
  return path;
}

// Checks `zip` against the .CHECKSUM at `checksum`; `location` names the zip in errors.
Result<void, VisionError> verify_checksum(const std::filesystem::path& zip,
                                          const std::filesystem::path& checksum,
                                          const std::string& zip_name,
                                          const std::string& location) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(checksum, ec);
  if (ec) return vision_error(VisionErrc::kIo, checksum.string(), ec.message());
  if (size > kMaxChecksumFileBytes)
    return vision_error(VisionErrc::kBadChecksumFile, checksum.string(),
                        "too large for a sha256sum line (" + std::to_string(size) + " bytes)");
  std::ifstream in(checksum, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in && !in.eof()) return vision_error(VisionErrc::kIo, checksum.string(), "cannot read");
  auto expected = parse_checksum_line(text, zip_name, checksum.string());
  if (!expected) return unexpected(expected.error());
  auto actual = sha256_file_hex(zip);
  if (!actual) return unexpected(actual.error());
  if (*actual != *expected)
    return vision_error(VisionErrc::kChecksumMismatch, location,
                        "sha256 " + *actual + " differs from the .CHECKSUM's " + *expected);
  return {};
}

bool starts_like_header(std::string_view line) {
  const char c = line.front();
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '"';
}

}  // namespace

struct VisionReader::Resolved {
  std::filesystem::path local_path;
  std::string location;  // the URL for downloads, the path for a mirror
  ChecksumStatus checksum = ChecksumStatus::kMissing;
  bool downloaded = false;
};

VisionResult<VisionReader> VisionReader::open(VisionOptions options) {
  std::string base = options.base_url;
  if (base.empty()) {
    const char* env = std::getenv(kVisionUrlEnv);
    base = env && *env ? env : kDefaultVisionUrl;
  }
  VisionReader reader;
  if (is_remote_url(base)) {
    strip_trailing_slashes(&base);
    std::filesystem::path cache = options.cache_dir;
    if (cache.empty()) {
      auto fallback = default_cache_dir();
      if (!fallback) return unexpected(fallback.error());
      cache = *fallback;
    }
    reader.cache_root_ = cache / cache_folder_for(base);
    if (!options.fetcher) options.fetcher = make_http_fetcher();
    reader.is_local_ = false;
  } else {
    if (base.starts_with("file://")) {
      auto path = path_from_file_url(base);
      if (!path) return unexpected(path.error());
      base = *path;
    } else if (base.find("://") != std::string::npos) {
      return vision_error(VisionErrc::kConfig, base,
                          "unsupported URL scheme (http://, https://, file:// or a directory)");
    }
    strip_trailing_slashes(&base);
    std::error_code ec;
    if (!std::filesystem::is_directory(base, ec))
      return vision_error(VisionErrc::kConfig, base, "local mirror directory does not exist");
    reader.is_local_ = true;
  }
  reader.base_ = std::move(base);
  reader.options_ = std::move(options);
  return reader;
}

std::string VisionReader::location_of(const VisionFile& file) const {
  if (is_local_) return (std::filesystem::path(base_) / file.relative_path).string();
  return base_ + "/" + file.relative_path;
}

VisionResult<std::vector<VisionFile>> VisionReader::plan(const VisionRequest& request) const {
  std::uint64_t monthly_fallbacks = 0;
  return plan_files(request, &monthly_fallbacks);
}

VisionResult<std::vector<VisionFile>> VisionReader::plan_files(
    const VisionRequest& request, std::uint64_t* monthly_fallbacks) const {
  if (auto valid = validate(request); !valid) return unexpected(valid.error());
  std::vector<VisionFile> files;
  for (auto& file : plan_vision_files(request)) {
    if (is_local_ && file.period == VisionPeriod::kMonthly && !file_exists(location_of(file))) {
      ++*monthly_fallbacks;
      for (auto& daily : daily_files_of_month(request, file)) {
        daily.location = location_of(daily);
        files.push_back(std::move(daily));
      }
      continue;
    }
    file.location = location_of(file);
    files.push_back(std::move(file));
  }
  return files;
}

Result<void, VisionError> VisionReader::fetch_into_cache(const std::string& url,
                                                         const std::filesystem::path& dest,
                                                         VisionStats* stats) {
  std::error_code ec;
  std::filesystem::create_directories(dest.parent_path(), ec);
  if (ec) return vision_error(VisionErrc::kIo, dest.parent_path().string(), ec.message());
  // A unique temporary name, renamed into place once complete: readers in other threads or
  // processes never see a partial file, and an interrupted download leaves no cache entry.
  static std::atomic<std::uint64_t> sequence{0};
  std::filesystem::path partial = dest;
  partial += ".part-" + std::to_string(::getpid()) + "-" + std::to_string(++sequence);
  auto fetched = options_.fetcher->fetch(url, partial);
  if (!fetched) {
    std::filesystem::remove(partial, ec);
    return fetched;
  }
  std::filesystem::rename(partial, dest, ec);
  if (ec) {
    std::filesystem::remove(partial, ec);
    return vision_error(VisionErrc::kIo, dest.string(), "cannot move the download into place");
  }
  ++stats->downloads;
  return {};
}

VisionResult<VisionReader::Resolved> VisionReader::download(const VisionFile& file,
                                                            VisionStats* stats) {
  Resolved resolved{.local_path = cache_root_ / file.relative_path, .location = location_of(file)};
  const std::filesystem::path checksum = checksum_path_of(resolved.local_path);
  const std::string checksum_url = resolved.location + ".CHECKSUM";
  const bool cached = file_exists(resolved.local_path);
  if (cached) {
    ++stats->cache_hits;
  } else {
    if (auto got = fetch_into_cache(resolved.location, resolved.local_path, stats); !got)
      return unexpected(got.error());
    resolved.downloaded = true;
  }
  // Absence of a .CHECKSUM is not cached: it is asked for again on every read, so one that
  // Binance publishes later is picked up.
  if (!file_exists(checksum)) {
    auto got = fetch_into_cache(checksum_url, checksum, stats);
    if (!got && got.error().code != VisionErrc::kNotFound) return unexpected(got.error());
  }
  if (!file_exists(checksum)) {
    if (options_.require_checksum)
      return vision_error(VisionErrc::kChecksumMissing, checksum_url, "no .CHECKSUM on the server");
    return resolved;
  }
  auto verified = verify_checksum(resolved.local_path, checksum, file.name, resolved.location);
  if (!verified && cached) {
    // The cached copy may be damaged or superseded (Binance replaces files when it fixes data):
    // fetch both once more before giving up.
    log::warn(kLogger, "cached file fails its checksum, downloading again",
              {{"url", resolved.location}, {"error", verified.error().message}});
    std::error_code ec;
    std::filesystem::remove(resolved.local_path, ec);
    std::filesystem::remove(checksum, ec);
    if (auto got = fetch_into_cache(resolved.location, resolved.local_path, stats); !got)
      return unexpected(got.error());
    resolved.downloaded = true;
    if (auto got = fetch_into_cache(checksum_url, checksum, stats); !got)
      return unexpected(got.error());
    verified = verify_checksum(resolved.local_path, checksum, file.name, resolved.location);
  }
  if (!verified) {
    // Never leave a file that failed verification where the next read would take it.
    std::error_code ec;
    std::filesystem::remove(resolved.local_path, ec);
    std::filesystem::remove(checksum, ec);
    return unexpected(verified.error());
  }
  resolved.checksum = ChecksumStatus::kVerified;
  return resolved;
}

VisionResult<VisionReader::Resolved> VisionReader::resolve(const VisionFile& file,
                                                           VisionStats* stats) {
  if (!is_local_) return download(file, stats);
  Resolved resolved{.local_path = location_of(file), .location = location_of(file)};
  if (!file_exists(resolved.local_path))
    return vision_error(VisionErrc::kNotFound, resolved.location, "not in the local mirror");
  const std::filesystem::path checksum = checksum_path_of(resolved.local_path);
  if (!file_exists(checksum)) {
    if (options_.require_checksum)
      return vision_error(VisionErrc::kChecksumMissing, checksum.string(),
                          "no .CHECKSUM beside the zip");
    return resolved;
  }
  if (auto verified = verify_checksum(resolved.local_path, checksum, file.name, resolved.location);
      !verified)
    return unexpected(verified.error());
  resolved.checksum = ChecksumStatus::kVerified;
  return resolved;
}

Result<void, VisionError> VisionReader::stream_rows(const VisionRequest& request,
                                                    const Resolved& resolved,
                                                    const VisionEventCallback& on_event,
                                                    VisionStats* stats, VisionFileReport* report) {
  std::uint64_t line_no = 0;
  std::optional<VisionError> failure;
  const std::string& file_name = report->file.name;

  // Returns false when reading must end (the callback said stop, or a bad row with kStop).
  auto bad_row = [&](const ParseError& error) {
    if (options_.bad_rows == BadRowPolicy::kStop) {
      failure = VisionError{.code = VisionErrc::kBadRow,
                            .location = resolved.location,
                            .line = line_no,
                            .message = error.message()};
      return false;
    }
    ++stats->skipped_rows;
    if (stats->row_errors.size() < options_.max_row_errors_kept)
      stats->row_errors.push_back(file_name + " line " + std::to_string(line_no) + ": " +
                                  error.message());
    return true;
  };
  auto deliver = [&](TimestampUs time, MarketEvent&& event) {
    if (time < request.from || time >= request.to) {
      ++stats->rows_out_of_range;
      return true;
    }
    ++stats->rows;
    ++report->rows;
    if (on_event(event)) return true;
    stats->stopped = true;
    return false;
  };

  std::string read_error;
  const bool read_ok = tools::for_each_line_until(
      resolved.local_path.string(),
      [&](std::string_view line) {
        ++line_no;
        if (line_no == 1 && line.starts_with("\xEF\xBB\xBF")) line.remove_prefix(3);  // BOM
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
        if (line.empty()) return true;
        if (line_no == 1 && starts_like_header(line)) {
          ++stats->header_rows;
          log::warn(kLogger, "skipped a header row (spot files have none)",
                    {{"file", resolved.location}, {"header", line.substr(0, 200)}});
          return true;
        }
        switch (request.kind) {
          case VisionKind::kKlines: {
            auto candle = parse_kline_csv(line, request.symbol, *request.interval);
            if (!candle) return bad_row(candle.error());
            const TimestampUs open_time = candle->open_time;
            return deliver(open_time, MarketEvent{std::move(candle).value()});
          }
          case VisionKind::kAggTrades: {
            auto trade = parse_agg_trade_csv(line, request.symbol);
            if (!trade) return bad_row(trade.error());
            const TimestampUs time = trade->trade_time;
            return deliver(time, MarketEvent{std::move(trade).value()});
          }
          case VisionKind::kTrades: {
            auto trade = parse_trade_csv(line, request.symbol);
            if (!trade) return bad_row(trade.error());
            const TimestampUs time = trade->trade_time;
            return deliver(time, MarketEvent{std::move(trade).value()});
          }
        }
        return true;
      },
      &read_error);
  if (!read_ok) return vision_error(VisionErrc::kBadArchive, resolved.location, read_error);
  if (failure) return unexpected(std::move(*failure));
  return {};
}

VisionResult<VisionStats> VisionReader::read(const VisionRequest& request,
                                             const VisionEventCallback& on_event) {
  VisionStats stats;
  auto planned = plan_files(request, &stats.monthly_fallbacks);
  if (!planned) return unexpected(planned.error());
  std::vector<VisionFile> files = std::move(planned).value();

  std::size_t i = 0;
  while (i < files.size()) {
    auto resolved = resolve(files[i], &stats);
    if (!resolved) {
      // Only a remote monthly file can be missing here (plan_files checked the mirror's).
      if (resolved.error().code == VisionErrc::kNotFound &&
          files[i].period == VisionPeriod::kMonthly) {
        log::info(kLogger, "monthly file missing, reading the daily files of that month",
                  {{"file", files[i].location}});
        std::vector<VisionFile> dailies = daily_files_of_month(request, files[i]);
        for (auto& daily : dailies) daily.location = location_of(daily);
        const auto at = files.erase(files.begin() + static_cast<std::ptrdiff_t>(i));
        files.insert(at, dailies.begin(), dailies.end());
        ++stats.monthly_fallbacks;
        continue;  // i now points at the first daily file
      }
      return unexpected(resolved.error());
    }
    if (resolved->checksum == ChecksumStatus::kVerified)
      ++stats.checksums_verified;
    else
      ++stats.checksums_missing;
    ++stats.files;
    VisionFileReport report{.file = files[i],
                            .local_path = resolved->local_path,
                            .checksum = resolved->checksum,
                            .downloaded = resolved->downloaded};
    auto streamed = stream_rows(request, *resolved, on_event, &stats, &report);
    stats.file_reports.push_back(std::move(report));
    if (!streamed) return unexpected(streamed.error());
    if (stats.stopped) break;
    ++i;
  }
  return stats;
}

}  // namespace sf::binance
