#include "core/decimal.h"

#include <cmath>
#include <stdexcept>

namespace sf {
namespace {

using M = Decimal::Mantissa;

constexpr M make_max() {
  M v = 1;
  for (int i = 0; i < Decimal::kMaxDigits; ++i) v *= 10;
  return v - 1;  // 38 nines
}
constexpr M kMaxMantissa = make_max();

struct Pow10Table {
  M v[39];
  constexpr Pow10Table() : v() {
    v[0] = 1;
    for (int i = 1; i < 39; ++i) v[i] = v[i - 1] * 10;
  }
};
constexpr Pow10Table kPow10;

[[noreturn]] void overflow(const char* what) {
  throw std::overflow_error(std::string("Decimal overflow in ") + what);
}

M checked(M v, const char* what) {
  if (v > kMaxMantissa || v < -kMaxMantissa) overflow(what);
  return v;
}

M mul_checked(M a, M b, const char* what) {
  M r;
  if (__builtin_mul_overflow(a, b, &r)) overflow(what);
  return checked(r, what);
}

// Divides n by d (> 0) rounding per mode.
M div_round(M n, M d, Rounding mode) {
  M q = n / d;
  M r = n % d;
  if (r == 0 || mode == Rounding::kDown) return q;
  M abs_r = r < 0 ? -r : r;
  M twice = abs_r * 2;  // abs_r < d <= 10^38 fits twice in int128 (max ~1.7e38)
  bool away;
  if (twice > d)
    away = true;
  else if (twice < d)
    away = false;
  else
    away = mode == Rounding::kHalfUp || (q % 2 != 0);
  if (!away) return q;
  return (n < 0) ? q - 1 : q + 1;
}

}  // namespace

const char* to_string(DecimalErrc e) {
  switch (e) {
    case DecimalErrc::kEmpty: return "empty decimal";
    case DecimalErrc::kBadCharacter: return "invalid character in decimal";
    case DecimalErrc::kNoDigits: return "decimal has no digits";
    case DecimalErrc::kTooManyDigits: return "decimal has too many digits";
  }
  return "unknown decimal error";
}

M pow10_i128(int n) { return kPow10.v[n]; }

Decimal Decimal::from_parts(M mantissa, int scale) {
  if (scale < 0 || scale > kMaxScale) throw std::invalid_argument("Decimal scale out of range");
  Decimal d;
  d.mantissa_ = checked(mantissa, "from_parts");
  d.scale_ = static_cast<std::int8_t>(scale);
  return d;
}

Result<Decimal, DecimalErrc> Decimal::parse_general(std::string_view text) {
  if (text.empty()) return unexpected(DecimalErrc::kEmpty);
  std::size_t i = 0;
  bool negative = false;
  if (text[0] == '-' || text[0] == '+') {
    negative = text[0] == '-';
    i = 1;
  }
  // Accumulate in 64 bits while it cannot overflow (18 digits), then in 128 bits.
  std::uint64_t small = 0;
  M mantissa = 0;
  bool wide = false;
  int digits = 0;       // significant digits accumulated (leading zeros skipped)
  int frac_digits = 0;  // digits after the point
  bool any_digit = false;
  bool seen_point = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c >= '0' && c <= '9') {
      any_digit = true;
      if (seen_point) {
        if (++frac_digits > kMaxScale) return unexpected(DecimalErrc::kTooManyDigits);
      }
      if ((wide ? mantissa != 0 : small != 0) || c != '0') {
        if (++digits > kMaxDigits) return unexpected(DecimalErrc::kTooManyDigits);
      }
      if (!wide && digits > 18) {
        wide = true;
        mantissa = static_cast<M>(small);
      }
      if (wide)
        mantissa = mantissa * 10 + (c - '0');
      else
        small = small * 10 + static_cast<std::uint64_t>(c - '0');
    } else if (c == '.' && !seen_point) {
      seen_point = true;
    } else {
      return unexpected(DecimalErrc::kBadCharacter);
    }
  }
  if (!any_digit) return unexpected(DecimalErrc::kNoDigits);
  if (!wide) mantissa = static_cast<M>(small);
  Decimal d;
  d.mantissa_ = negative ? -mantissa : mantissa;
  d.scale_ = static_cast<std::int8_t>(frac_digits);
  return d;
}


std::size_t Decimal::format_to(char* buf) const {
  // Digits of |mantissa| in reverse.
  char tmp[48];
  int n = 0;
  M v = mantissa_ < 0 ? -mantissa_ : mantissa_;
  // 128-bit division is slow; market values nearly always fit in 64 bits.
  if (v <= static_cast<M>(UINT64_MAX)) {
    auto small = static_cast<std::uint64_t>(v);
    do {
      tmp[n++] = static_cast<char>('0' + small % 10);
      small /= 10;
    } while (small != 0);
  } else {
    do {
      tmp[n++] = static_cast<char>('0' + static_cast<int>(v % 10));
      v /= 10;
    } while (v != 0);
  }
  while (n <= scale_) tmp[n++] = '0';  // at least one digit before the point
  std::size_t len = 0;
  if (mantissa_ < 0) buf[len++] = '-';
  for (int i = n - 1; i >= 0; --i) {
    buf[len++] = tmp[i];
    if (i == scale_ && scale_ > 0) buf[len++] = '.';
  }
  return len;
}

std::string Decimal::to_string() const {
  char buf[kMaxTextLength + 2];
  return std::string(buf, format_to(buf));
}

Decimal Decimal::rescaled(int scale, Rounding rounding) const {
  if (scale < 0 || scale > kMaxScale) throw std::invalid_argument("Decimal scale out of range");
  if (scale == scale_) return *this;
  if (scale > scale_) return from_parts(mul_checked(mantissa_, kPow10.v[scale - scale_], "rescale"), scale);
  return from_parts(div_round(mantissa_, kPow10.v[scale_ - scale], rounding), scale);
}

Decimal Decimal::normalized() const {
  M m = mantissa_;
  int s = scale_;
  while (s > 0 && m % 10 == 0) {
    m /= 10;
    --s;
  }
  return from_parts(m, s);
}

double Decimal::to_double() const {
  return static_cast<double>(mantissa_) / std::pow(10.0, scale_);
}

Decimal operator+(const Decimal& a, const Decimal& b) {
  int s = a.scale_ > b.scale_ ? a.scale_ : b.scale_;
  M x = a.scale_ == s ? a.mantissa_ : mul_checked(a.mantissa_, kPow10.v[s - a.scale_], "+");
  M y = b.scale_ == s ? b.mantissa_ : mul_checked(b.mantissa_, kPow10.v[s - b.scale_], "+");
  return Decimal::from_parts(checked(x + y, "+"), s);
}

Decimal operator-(const Decimal& a, const Decimal& b) { return a + (-b); }

Decimal operator*(const Decimal& a, const Decimal& b) {
  int s = a.scale_ + b.scale_;
  M r;
  if (!__builtin_mul_overflow(a.mantissa_, b.mantissa_, &r) && r <= kMaxMantissa &&
      r >= -kMaxMantissa) {
    if (s <= Decimal::kMaxScale) return Decimal::from_parts(r, s);
    return Decimal::from_parts(div_round(r, kPow10.v[s - Decimal::kMaxScale], Rounding::kHalfEven),
                               Decimal::kMaxScale);
  }
  // The exact product does not fit: drop trailing zeros and retry before giving up.
  Decimal na = a.normalized(), nb = b.normalized();
  if (na.identical(a) && nb.identical(b)) overflow("*");
  return na * nb;
}

bool Decimal::divide(const Decimal& a, const Decimal& b, int scale, Decimal* out, Rounding rounding) {
  if (b.mantissa_ == 0) return false;
  if (scale < 0 || scale > kMaxScale) throw std::invalid_argument("Decimal scale out of range");
  // a/b = (ma / 10^sa) / (mb / 10^sb); result mantissa = ma * 10^(scale + sb - sa) / mb.
  int shift = scale + b.scale_ - a.scale_;
  M num = a.mantissa_;
  M den = b.mantissa_;
  if (shift >= 0)
    num = mul_checked(num, kPow10.v[shift], "divide");
  else
    den = mul_checked(den, kPow10.v[-shift], "divide");
  if (den < 0) {
    num = -num;
    den = -den;
  }
  *out = from_parts(div_round(num, den, rounding), scale);
  return true;
}

std::strong_ordering operator<=>(const Decimal& a, const Decimal& b) {
  if (a.scale_ == b.scale_) return a.mantissa_ <=> b.mantissa_;
  // Compare a - b's sign without overflow: rescale the smaller-scale operand when it fits.
  int s = a.scale_ > b.scale_ ? a.scale_ : b.scale_;
  M x, y;
  bool ox = a.scale_ != s && __builtin_mul_overflow(a.mantissa_, kPow10.v[s - a.scale_], &x);
  bool oy = b.scale_ != s && __builtin_mul_overflow(b.mantissa_, kPow10.v[s - b.scale_], &y);
  if (a.scale_ == s) x = a.mantissa_;
  if (b.scale_ == s) y = b.mantissa_;
  if (ox) return a.mantissa_ < 0 ? std::strong_ordering::less : std::strong_ordering::greater;
  if (oy) return b.mantissa_ < 0 ? std::strong_ordering::greater : std::strong_ordering::less;
  return x <=> y;
}

}  // namespace sf
