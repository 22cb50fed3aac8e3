// data.binance.vision's file layout and the choice of files for a time range.
//
//   {base}/data/spot/{daily|monthly}/klines/{SYMBOL}/{interval}/{SYMBOL}-{interval}-{date}.zip
//   {base}/data/spot/{daily|monthly}/aggTrades/{SYMBOL}/{SYMBOL}-aggTrades-{date}.zip
//   {base}/data/spot/{daily|monthly}/trades/{SYMBOL}/{SYMBOL}-trades-{date}.zip
//   <zip>.CHECKSUM   one `sha256sum` line: `<64 hex>  <zip name>`
//
// {date} is YYYY-MM-DD for daily files and YYYY-MM for monthly ones; the 1M interval is spelled
// "1mo" in paths. Everything here is pure (no I/O): the reader (vision.h) adds locations and
// existence checks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/interval.h"
#include "core/symbol.h"
#include "core/time.h"
#include "exchange/binance/vision/error.h"

namespace sf::binance {

enum class VisionKind : std::uint8_t { kKlines, kAggTrades, kTrades };

// The path segment: "klines", "aggTrades", "trades".
const char* to_string(VisionKind kind);

enum class VisionPeriod : std::uint8_t { kDaily, kMonthly };

// "daily", "monthly".
const char* to_string(VisionPeriod period);

// The interval as data.binance.vision spells it in paths and names: "5m", ..., "1mo" for 1M.
std::string_view vision_interval_name(Interval interval);

// What to read: one symbol, one kind of file, and a half-open UTC range [from, to) in µs.
// Klines are selected by open time, trades and aggTrades by trade time.
struct VisionRequest {
  Symbol symbol{};
  VisionKind kind = VisionKind::kKlines;
  std::optional<Interval> interval{};  // required for klines, must be empty otherwise
  TimestampUs from = 0;                // inclusive
  TimestampUs to = 0;                  // exclusive
};

// kConfig when the request cannot be planned (no symbol, from >= to, interval missing or
// misplaced).
Result<void, VisionError> validate(const VisionRequest& request);

// One bulk file.
struct VisionFile {
  VisionPeriod period = VisionPeriod::kDaily;
  TimestampUs start = 0;        // midnight UTC of the first day the file covers
  TimestampUs end = 0;          // midnight UTC after the last day (exclusive)
  std::string name{};           // "BTCUSDT-5m-2020-07-01.zip"
  std::string relative_path{};  // "data/spot/daily/klines/BTCUSDT/5m/BTCUSDT-5m-2020-07-01.zip"
  std::string location{};       // full URL or local path; filled in by VisionReader::plan
};

// The file of `period` that starts at `start` (midnight of a day, or of a month's first day).
VisionFile vision_file(const VisionRequest& request, VisionPeriod period, TimestampUs start);

// The files covering [from, to) widened to whole UTC days, in time order: a monthly file for every
// calendar month the widened range covers entirely, daily files for the days around them.
// The request must be valid (validate()).
std::vector<VisionFile> plan_vision_files(const VisionRequest& request);

// The daily files that replace a monthly one, limited to the days that meet [from, to).
std::vector<VisionFile> daily_files_of_month(const VisionRequest& request,
                                             const VisionFile& monthly);

// Midnight UTC of the first day of the month after the one holding `time`.
TimestampUs next_month_start(TimestampUs time);

inline constexpr TimestampUs kMicrosPerDay = 86'400'000'000LL;

}  // namespace sf::binance
