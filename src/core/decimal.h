// Exact decimal numbers for prices and quantities.
//
// A Decimal is a signed 128-bit integer mantissa and a scale (digits after the point):
// value = mantissa / 10^scale. The scale is the one the number was written with, so
// "61837.63000000" parses to (6183763000000, 8) and formats back byte-identical. 128 bits hold
// 38 digits: base volumes of meme coins (1e13 units at 8 decimals) overflow int64 but not this.
//
// Arithmetic:
//  - +, - are exact; the result has the larger scale of the two operands.
//  - * is exact while the scale sum is at most kMaxScale (18); beyond that the product is rounded
//    half-to-even to kMaxScale digits.
//  - divide() rounds half-to-even (banker's rounding) to a caller-chosen scale; it is the only
//    inexact operation, used for averages such as VWAP.
//  - Overflow beyond 38 digits throws std::overflow_error: it cannot happen with market data and
//    would be a programming error, not bad input.
// Comparison is by value: 1.0 == 1.00. Use identical() for mantissa+scale equality.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace sf {

enum class DecimalErrc : std::uint8_t {
  kEmpty,          // ""
  kBadCharacter,   // anything but [-+]digits[.digits]
  kNoDigits,       // "-", ".", "-."
  kTooManyDigits,  // more than 38 significant digits or more than 18 after the point
};

const char* to_string(DecimalErrc e);

enum class Rounding : std::uint8_t { kHalfEven, kHalfUp, kDown /* toward zero */ };

class Decimal {
 public:
  using Mantissa = __int128;
  static constexpr int kMaxScale = 18;
  static constexpr int kMaxDigits = 38;
  // Longest text format_to() writes: sign, 38 digits, point, leading "0".
  static constexpr std::size_t kMaxTextLength = 42;

  constexpr Decimal() = default;
  static Decimal from_parts(Mantissa mantissa, int scale);
  static Decimal from_int(std::int64_t v) { return from_parts(v, 0); }

  static Result<Decimal, DecimalErrc> parse(std::string_view text);
  // The full parser (up to 38 digits); parse() falls back to it.
  static Result<Decimal, DecimalErrc> parse_general(std::string_view text);

  // Writes the text form into buf (at least kMaxTextLength bytes); returns the length.
  std::size_t format_to(char* buf) const;
  std::string to_string() const;

  Mantissa mantissa() const { return mantissa_; }
  int scale() const { return scale_; }
  bool is_zero() const { return mantissa_ == 0; }
  bool is_negative() const { return mantissa_ < 0; }
  int signum() const { return mantissa_ > 0 ? 1 : (mantissa_ < 0 ? -1 : 0); }

  // Same value at another scale; rounds when the scale shrinks.
  Decimal rescaled(int scale, Rounding rounding = Rounding::kHalfEven) const;
  // Drops trailing zeros after the point (1.2300 -> 1.23).
  Decimal normalized() const;

  // Lossy conversion for statistics and ML features only, never on the data path.
  double to_double() const;

  Decimal operator-() const { return from_parts(-mantissa_, scale_); }
  friend Decimal operator+(const Decimal& a, const Decimal& b);
  friend Decimal operator-(const Decimal& a, const Decimal& b);
  friend Decimal operator*(const Decimal& a, const Decimal& b);
  Decimal& operator+=(const Decimal& o) { return *this = *this + o; }
  Decimal& operator-=(const Decimal& o) { return *this = *this - o; }
  // a / b rounded to `scale` digits. Returns false (and leaves *out) when b is zero.
  static bool divide(const Decimal& a, const Decimal& b, int scale, Decimal* out,
                     Rounding rounding = Rounding::kHalfEven);

  friend std::strong_ordering operator<=>(const Decimal& a, const Decimal& b);
  friend bool operator==(const Decimal& a, const Decimal& b) { return (a <=> b) == 0; }
  bool identical(const Decimal& o) const { return mantissa_ == o.mantissa_ && scale_ == o.scale_; }

 private:
  Mantissa mantissa_ = 0;
  std::int8_t scale_ = 0;
};

// 10^n for 0 <= n <= 38.
Decimal::Mantissa pow10_i128(int n);

// Inline fast path for what Binance sends (at most 18 digits, plain [-]digits[.digits]): it runs
// for every price and quantity, and a call returning the 128-bit mantissa through memory costs a
// store-forwarding stall per field. Anything else takes the general parser.
inline Result<Decimal, DecimalErrc> Decimal::parse(std::string_view text) {
  const char* p = text.data();
  const char* const end = p + text.size();
  const bool negative = p != end && *p == '-';
  if (p != end && (*p == '-' || *p == '+')) ++p;
  std::uint64_t value = 0;
  int digits = 0;
  const char* dot = nullptr;
  for (; p != end; ++p) {
    const unsigned d = static_cast<unsigned>(*p) - '0';
    if (d < 10) {
      value = value * 10 + d;
      ++digits;
    } else if (*p == '.' && dot == nullptr) {
      dot = p;
    } else {
      return parse_general(text);
    }
  }
  const long frac = dot ? end - dot - 1 : 0;
  if (digits == 0 || digits > 18 || frac > kMaxScale) return parse_general(text);
  Decimal d;
  d.mantissa_ = negative ? -static_cast<Mantissa>(value) : static_cast<Mantissa>(value);
  d.scale_ = static_cast<std::int8_t>(frac);
  return d;
}

}  // namespace sf
