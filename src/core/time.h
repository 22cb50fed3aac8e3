// Timestamps. Internally every time is an int64 count of microseconds since the Unix epoch (UTC):
// Binance moved data.binance.vision spot files to microseconds on 2025-01-01 and offers µs on REST
// and WS, so milliseconds would lose data.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace sf {

using TimestampUs = std::int64_t;

enum class TimeUnit : std::uint8_t { kAuto, kMilliseconds, kMicroseconds };

// A 13-digit Binance time is milliseconds, a 16-digit one microseconds. Anything at or above 1e14
// is read as µs (1e14 ms would be the year 5138; 1e14 µs is 1973).
inline constexpr std::int64_t kMicrosThreshold = 100'000'000'000'000LL;

constexpr TimestampUs to_micros(std::int64_t value, TimeUnit unit) {
  switch (unit) {
    case TimeUnit::kMilliseconds:
      return value * 1000;
    case TimeUnit::kMicroseconds:
      return value;
    case TimeUnit::kAuto:
      break;
  }
  return value >= kMicrosThreshold || value <= -kMicrosThreshold ? value : value * 1000;
}

// Floor division so that negative times round towards minus infinity.
constexpr std::int64_t micros_to_millis(TimestampUs us) {
  return us >= 0 ? us / 1000 : -((-us + 999) / 1000);
}

inline TimestampUs now_micros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline double now_unix_seconds() { return static_cast<double>(now_micros()) / 1e6; }

// ISO-8601 UTC with microseconds, e.g. 2024-08-08T23:54:15.208000Z.
std::string format_iso8601(TimestampUs us);

// Parses YYYY-MM-DD (midnight UTC); returns false on a malformed or impossible date.
bool parse_date(const std::string& text, TimestampUs* out);

}  // namespace sf
