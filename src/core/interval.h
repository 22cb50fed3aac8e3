// Kline intervals as Binance names them (1s ... 1M).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace sf {

enum class Interval : std::uint8_t {
  k1s, k1m, k3m, k5m, k15m, k30m, k1h, k2h, k4h, k6h, k8h, k12h, k1d, k3d, k1w, k1M
};

// Binance spelling: "1s", "1m", ..., "1M" (REST/WS). data.binance.vision paths use "1mo" for 1M,
// which parse_interval also accepts.
std::optional<Interval> parse_interval(std::string_view text);
std::string_view interval_name(Interval iv);
// Fixed length in microseconds; 0 for 1M (calendar months vary).
std::int64_t interval_micros(Interval iv);

}  // namespace sf
