// Historical spot data from data.binance.vision's bulk files: klines, aggTrades and trades of
// one symbol over a time range, streamed as normalised events (core/events.h).
//
//   auto reader = VisionReader::open({.base_url = "/srv/binance-mirror"});
//   if (!reader) return fail(reader.error().to_string());
//   VisionRequest request{.symbol = *Symbol::parse("BTCUSDT"), .kind = VisionKind::kKlines,
//                         .interval = Interval::k5m, .from = from_us, .to = to_us};
//   auto stats = reader->read(request, [&](const MarketEvent& e) { ...; return true; });
//
// Where files come from (VisionOptions::base_url, else $BINANCE_VISION_URL, else
// https://data.binance.vision), in Binance's layout (layout.h) below that base:
//  - a directory path or a file:// URL: a local mirror, read in place (nothing is copied);
//  - an http(s):// URL: each file is downloaded once through the Fetcher into the cache
//    (VisionOptions::cache_dir, default ${XDG_CACHE_HOME:-~/.cache}/streamforge/vision), under
//    <cache>/<host[_port]>/data/spot/..., and read from there afterwards. The default Fetcher
//    (make_http_fetcher, fetcher.h) speaks http:// and https:// with certificate verification
//    against the system CA store, and streams each file to disk whatever its size.
//
// Which files: plan() widens [from, to) to whole UTC days and takes the monthly file for every
// calendar month the range covers entirely and daily files for the rest. Where a monthly file is
// missing (not in the mirror, or a 404), the daily files of that month are read instead; a
// missing daily file is kNotFound naming the path or URL expected.
//
// Verification: when a .CHECKSUM exists beside a zip, the zip's SHA-256 must match it before a
// single row is read (kChecksumMismatch otherwise; a cached download that fails is fetched once
// more, then removed). A zip without a .CHECKSUM is read and counted in checksums_missing, or
// refused with kChecksumMissing when require_checksum is set.
//
// Rows: each zip member is streamed with zip_fread in chunks (tools::for_each_line_until), never
// unpacked to disk, and parsed with the CSV parsers of parse.h, which read 13-digit times as ms
// and 16-digit ones as µs (spot files switched on 2025-01-01). Rows outside [from, to) are
// dropped (klines by open time, trades by trade time). A first line that does not start with a
// digit is a header (futures files have one; spot files should not): it is skipped with a
// warning and counted. A row the parser rejects is kBadRow naming file and line, or is skipped
// and counted with BadRowPolicy::kSkip.
//
// A VisionReader is not thread-safe: use one per thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/events.h"
#include "exchange/binance/vision/error.h"
#include "exchange/binance/vision/fetcher.h"
#include "exchange/binance/vision/layout.h"

namespace sf::binance {

inline constexpr const char* kDefaultVisionUrl = "https://data.binance.vision";
inline constexpr const char* kVisionUrlEnv = "BINANCE_VISION_URL";

enum class BadRowPolicy : std::uint8_t {
  kStop,  // the first bad row ends read() with kBadRow
  kSkip,  // bad rows are skipped and counted (VisionStats::skipped_rows, row_errors)
};

struct VisionOptions {
  // "" -> $BINANCE_VISION_URL -> kDefaultVisionUrl. An http(s):// URL, a file:// URL, or a
  // directory path; the `data/` folder of the layout lies directly below it.
  std::string base_url{};
  // Downloads go here; "" -> ${XDG_CACHE_HOME:-$HOME/.cache}/streamforge/vision. Unused for
  // local mirrors.
  std::filesystem::path cache_dir{};
  // nullptr -> make_http_fetcher(). Unused for local mirrors.
  std::shared_ptr<Fetcher> fetcher{};
  // Refuse zips without a .CHECKSUM (kChecksumMissing) instead of counting them.
  bool require_checksum = false;
  BadRowPolicy bad_rows = BadRowPolicy::kStop;
  // How many skipped-row messages VisionStats::row_errors keeps.
  std::size_t max_row_errors_kept = 20;
};

enum class ChecksumStatus : std::uint8_t { kVerified, kMissing };

// What happened to one file during read().
struct VisionFileReport {
  VisionFile file{};
  std::filesystem::path local_path{};  // where it was read from: the mirror or the cache
  ChecksumStatus checksum = ChecksumStatus::kMissing;
  bool downloaded = false;  // fetched by this read (false: local mirror or cache hit)
  std::uint64_t rows = 0;   // events handed to the callback from this file
};

struct VisionStats {
  std::uint64_t files = 0;              // zips opened (a file stopped early counts)
  std::uint64_t rows = 0;               // events handed to the callback
  std::uint64_t rows_out_of_range = 0;  // parsed rows outside [from, to), dropped
  std::uint64_t skipped_rows = 0;       // rows the parser rejected (BadRowPolicy::kSkip)
  std::uint64_t header_rows = 0;        // header lines detected and skipped
  std::uint64_t checksums_verified = 0;
  std::uint64_t checksums_missing = 0;    // zips read without a .CHECKSUM beside them
  std::uint64_t downloads = 0;            // files fetched (zips and .CHECKSUMs)
  std::uint64_t cache_hits = 0;           // zips found in the cache instead of downloaded
  std::uint64_t monthly_fallbacks = 0;    // months read from daily files (monthly file missing)
  bool stopped = false;                   // the callback returned false
  std::vector<std::string> row_errors{};  // the first skipped rows, "file line N: reason"
  std::vector<VisionFileReport> file_reports{};  // in reading order
};

// Receives each event in file order; return false to stop reading (not an error).
using VisionEventCallback = std::function<bool(const MarketEvent& event)>;

class VisionReader {
 public:
  // Resolves the base (options, environment, default) and the cache directory.
  // kConfig: unknown URL scheme, a local mirror directory that does not exist, or a remote base
  // with no cache directory to be found (no cache_dir, XDG_CACHE_HOME or HOME).
  static VisionResult<VisionReader> open(VisionOptions options = {});

  // The files read() would read, in order, with `location` filled in. For a local mirror a
  // missing monthly file is already replaced by its daily files; for a remote base existence is
  // only learnt when downloading, so the monthly file is listed and read() falls back.
  VisionResult<std::vector<VisionFile>> plan(const VisionRequest& request) const;

  // Streams the request's events to `on_event`. Events handed out before an error stay handed
  // out: the error says which file (and line) stopped the read.
  VisionResult<VisionStats> read(const VisionRequest& request, const VisionEventCallback& on_event);

  bool is_local() const { return is_local_; }
  // The base URL (remote) or the mirror directory (local), without a trailing slash.
  const std::string& base() const { return base_; }
  // Where downloads go; empty for a local mirror.
  const std::filesystem::path& cache_root() const { return cache_root_; }

 private:
  struct Resolved;  // a file made readable: local path and checksum state

  VisionReader() = default;
  VisionResult<std::vector<VisionFile>> plan_files(const VisionRequest& request,
                                                   std::uint64_t* monthly_fallbacks) const;
  std::string location_of(const VisionFile& file) const;
  VisionResult<Resolved> resolve(const VisionFile& file, VisionStats* stats);
  VisionResult<Resolved> download(const VisionFile& file, VisionStats* stats);
  Result<void, VisionError> fetch_into_cache(const std::string& url,
                                             const std::filesystem::path& dest, VisionStats* stats);
  Result<void, VisionError> stream_rows(const VisionRequest& request, const Resolved& resolved,
                                        const VisionEventCallback& on_event, VisionStats* stats,
                                        VisionFileReport* report);

  VisionOptions options_;
  bool is_local_ = false;
  std::string base_;
  std::filesystem::path cache_root_;  // <cache_dir>/<host[_port]>
};

}  // namespace sf::binance
