#include "exchange/binance/vision/layout.h"

#include <cstdio>

namespace sf::binance {
namespace {

struct CivilDate {
  std::int64_t year;
  unsigned month;  // 1..12
  unsigned day;    // 1..31
};

// Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian, days since 1970-01-01).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

CivilDate civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2), m, d};
}

// Floor division, so that times before 1970 still land on the right day.
std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

std::int64_t day_of(TimestampUs t) {
  return floor_div(t, kMicrosPerDay);
}

TimestampUs midnight(std::int64_t day) {
  return day * kMicrosPerDay;
}

std::string date_text(TimestampUs start, VisionPeriod period) {
  const CivilDate date = civil_from_days(day_of(start));
  char buf[32];
  if (period == VisionPeriod::kMonthly) {
    std::snprintf(buf, sizeof buf, "%04lld-%02u", static_cast<long long>(date.year), date.month);
  } else {
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u", static_cast<long long>(date.year),
                  date.month, date.day);
  }
  return buf;
}

}  // namespace

const char* to_string(VisionKind kind) {
  switch (kind) {
    case VisionKind::kKlines:
      return "klines";
    case VisionKind::kAggTrades:
      return "aggTrades";
    case VisionKind::kTrades:
      return "trades";
  }
  return "?";
}

const char* to_string(VisionPeriod period) {
  return period == VisionPeriod::kMonthly ? "monthly" : "daily";
}

std::string_view vision_interval_name(Interval interval) {
  return interval == Interval::k1M ? std::string_view("1mo") : interval_name(interval);
}

Result<void, VisionError> validate(const VisionRequest& request) {
  if (request.symbol.empty())
    return vision_error(VisionErrc::kConfig, "", "request without a symbol");
  if (request.from >= request.to)
    return vision_error(VisionErrc::kConfig, "",
                        "empty time range [" + format_iso8601(request.from) + ", " +
                            format_iso8601(request.to) + ")");
  if (request.kind == VisionKind::kKlines && !request.interval)
    return vision_error(VisionErrc::kConfig, "", "a klines request needs an interval");
  if (request.kind != VisionKind::kKlines && request.interval)
    return vision_error(
        VisionErrc::kConfig, "",
        std::string("an interval applies to klines only, not ") + to_string(request.kind));
  return {};
}

TimestampUs next_month_start(TimestampUs time) {
  const CivilDate date = civil_from_days(day_of(time));
  const bool december = date.month == 12;
  return midnight(
      days_from_civil(date.year + (december ? 1 : 0), december ? 1 : date.month + 1, 1));
}

VisionFile vision_file(const VisionRequest& request, VisionPeriod period, TimestampUs start) {
  VisionFile file;
  file.period = period;
  file.start = start;
  file.end = period == VisionPeriod::kMonthly ? next_month_start(start) : start + kMicrosPerDay;
  const std::string symbol = request.symbol.str();
  std::string dir = std::string("data/spot/") + to_string(period) + "/" + to_string(request.kind) +
                    "/" + symbol + "/";
  std::string stem = symbol + "-";
  if (request.kind == VisionKind::kKlines) {
    const std::string interval(vision_interval_name(*request.interval));
    dir += interval + "/";
    stem += interval;
  } else {
    stem += to_string(request.kind);
  }
  file.name = stem + "-" + date_text(start, period) + ".zip";
  file.relative_path = dir + file.name;
  return file;
}

std::vector<VisionFile> plan_vision_files(const VisionRequest& request) {
  std::vector<VisionFile> files;
  const TimestampUs first = midnight(day_of(request.from));
  const TimestampUs last = midnight(day_of(request.to - 1) + 1);  // exclusive, whole days
  for (TimestampUs cursor = first; cursor < last;) {
    const bool month_starts_here = civil_from_days(day_of(cursor)).day == 1;
    const TimestampUs month_end = next_month_start(cursor);
    if (month_starts_here && month_end <= last) {
      files.push_back(vision_file(request, VisionPeriod::kMonthly, cursor));
      cursor = month_end;
    } else {
      files.push_back(vision_file(request, VisionPeriod::kDaily, cursor));
      cursor += kMicrosPerDay;
    }
  }
  return files;
}

std::vector<VisionFile> daily_files_of_month(const VisionRequest& request,
                                             const VisionFile& monthly) {
  std::vector<VisionFile> files;
  for (TimestampUs day = monthly.start; day < monthly.end; day += kMicrosPerDay) {
    if (day + kMicrosPerDay <= request.from || day >= request.to) continue;
    files.push_back(vision_file(request, VisionPeriod::kDaily, day));
  }
  return files;
}

}  // namespace sf::binance
