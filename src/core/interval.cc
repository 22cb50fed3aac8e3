#include "core/interval.h"

#include <array>

namespace sf {
namespace {

struct IntervalInfo {
  Interval interval;
  std::string_view name;
  std::int64_t micros;
};

constexpr std::int64_t kSec = 1'000'000;
constexpr std::array<IntervalInfo, 16> kIntervals = {{
    {Interval::k1s, "1s", kSec},
    {Interval::k1m, "1m", 60 * kSec},
    {Interval::k3m, "3m", 3 * 60 * kSec},
    {Interval::k5m, "5m", 5 * 60 * kSec},
    {Interval::k15m, "15m", 15 * 60 * kSec},
    {Interval::k30m, "30m", 30 * 60 * kSec},
    {Interval::k1h, "1h", 3600 * kSec},
    {Interval::k2h, "2h", 2 * 3600 * kSec},
    {Interval::k4h, "4h", 4 * 3600 * kSec},
    {Interval::k6h, "6h", 6 * 3600 * kSec},
    {Interval::k8h, "8h", 8 * 3600 * kSec},
    {Interval::k12h, "12h", 12 * 3600 * kSec},
    {Interval::k1d, "1d", 86400 * kSec},
    {Interval::k3d, "3d", 3 * 86400 * kSec},
    {Interval::k1w, "1w", 7 * 86400 * kSec},
    {Interval::k1M, "1M", 0},
}};

}  // namespace

std::optional<Interval> parse_interval(std::string_view text) {
  if (text == "1mo") return Interval::k1M;
  for (const auto& info : kIntervals)
    if (info.name == text) return info.interval;
  return std::nullopt;
}

std::string_view interval_name(Interval iv) { return kIntervals[static_cast<std::size_t>(iv)].name; }

std::int64_t interval_micros(Interval iv) { return kIntervals[static_cast<std::size_t>(iv)].micros; }

}  // namespace sf
