#include "exchange/binance/rest/rest_policy.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace sf::binance {
namespace {

template <class Int>
std::optional<Int> parse_non_negative(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  if (text.empty()) return std::nullopt;
  Int value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < 0) return std::nullopt;
  return value;
}

}  // namespace

const char* to_string(RestEndpoint endpoint) {
  switch (endpoint) {
    case RestEndpoint::kKlines:
      return "klines";
    case RestEndpoint::kAggTrades:
      return "aggTrades";
    case RestEndpoint::kTrades:
      return "trades";
    case RestEndpoint::kHistoricalTrades:
      return "historicalTrades";
    case RestEndpoint::kDepth:
      return "depth";
    case RestEndpoint::kExchangeInfo:
      return "exchangeInfo";
    case RestEndpoint::kTime:
      return "time";
  }
  return "unknown";
}

std::string_view endpoint_path(RestEndpoint endpoint) {
  switch (endpoint) {
    case RestEndpoint::kKlines:
      return "/api/v3/klines";
    case RestEndpoint::kAggTrades:
      return "/api/v3/aggTrades";
    case RestEndpoint::kTrades:
      return "/api/v3/trades";
    case RestEndpoint::kHistoricalTrades:
      return "/api/v3/historicalTrades";
    case RestEndpoint::kDepth:
      return "/api/v3/depth";
    case RestEndpoint::kExchangeInfo:
      return "/api/v3/exchangeInfo";
    case RestEndpoint::kTime:
      return "/api/v3/time";
  }
  return "/";
}

int request_weight(RestEndpoint endpoint, int limit) {
  switch (endpoint) {
    case RestEndpoint::kKlines:
      return 2;
    case RestEndpoint::kAggTrades:
      return 4;
    case RestEndpoint::kTrades:
    case RestEndpoint::kHistoricalTrades:
      return 25;
    case RestEndpoint::kDepth:
      // Binance's default depth limit is 100 (weight 5).
      if (limit <= 100) return 5;
      if (limit <= 500) return 25;
      if (limit <= 1000) return 50;
      return 250;
    case RestEndpoint::kExchangeInfo:
      return 20;
    case RestEndpoint::kTime:
      return 1;
  }
  return 1;
}

std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    const bool unreserved = (byte >= 'A' && byte <= 'Z') || (byte >= 'a' && byte <= 'z') ||
                            (byte >= '0' && byte <= '9') || byte == '-' || byte == '_' ||
                            byte == '.' || byte == '~';
    if (unreserved) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0xF]);
    }
  }
  return out;
}

QueryString& QueryString::add(std::string_view key, std::string_view value) {
  if (!text_.empty()) text_.push_back('&');
  text_ += percent_encode(key);
  text_.push_back('=');
  text_ += percent_encode(value);
  return *this;
}

QueryString& QueryString::add(std::string_view key, std::int64_t value) {
  return add(key, std::string_view(std::to_string(value)));
}

std::chrono::milliseconds BackoffPolicy::delay(int attempt, double unit_random) const {
  const auto cap = std::max<std::int64_t>(max.count(), 0);
  std::int64_t base = std::max<std::int64_t>(initial.count(), 0);
  for (int i = 0; i < attempt && base < cap; ++i) base *= 2;
  base = std::min(base, cap);
  const double fraction = std::clamp(unit_random, 0.0, 1.0);
  const auto half = base / 2;
  const auto jitter =
      static_cast<std::int64_t>(std::floor(static_cast<double>(base - half) * fraction));
  return std::chrono::milliseconds(std::min(half + jitter, base));
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value) {
  const auto seconds = parse_non_negative<std::int64_t>(value);
  if (!seconds) return std::nullopt;
  return std::chrono::seconds(*seconds);
}

std::optional<int> parse_used_weight(std::string_view value) {
  return parse_non_negative<int>(value);
}

WeightTracker::WeightTracker(int budget, std::chrono::milliseconds window)
    : budget_(std::max(budget, 1)), window_(std::max(window, std::chrono::milliseconds(1))) {}

std::optional<std::int64_t> WeightTracker::window_end_ms(std::int64_t now_ms) const {
  if (!window_end_ || now_ms >= *window_end_) return std::nullopt;
  return window_end_;
}

int WeightTracker::used(std::int64_t now_ms) const {
  if (window_pending_) return used_;
  return window_end_ms(now_ms) ? used_ : 0;
}

std::chrono::milliseconds WeightTracker::delay_before(int cost, std::int64_t now_ms) const {
  const int in_use = used(now_ms);
  if (in_use == 0 || in_use + cost <= budget_) return std::chrono::milliseconds(0);
  if (const auto end = window_end_ms(now_ms)) return std::chrono::milliseconds(*end - now_ms);
  // Only requests without answers so far (a response lacking the header): their window opened
  // no later than now.
  return window_;
}

void WeightTracker::on_sent(int cost, std::int64_t now_ms) {
  if (!window_pending_ && !window_end_ms(now_ms)) {
    window_pending_ = true;  // the window this request opens (or lands in) is not known yet
    used_ = 0;
  }
  used_ += cost;
}

void WeightTracker::on_response(std::optional<int> used_weight, std::int64_t now_ms) {
  // The window holding the request started no later than now: now + window is a safe end. One
  // millisecond more because now_ms is truncated: the server may have opened its window later in
  // the same millisecond (on loopback a whole exchange fits in one).
  const std::int64_t safe_end = now_ms + window_.count() + 1;
  if (window_pending_) {
    window_pending_ = false;
    window_end_ = safe_end;
    if (used_weight) used_ = *used_weight;
    return;
  }
  if (!used_weight) return;  // keep the local count
  if (*used_weight < used_ && window_end_ms(now_ms)) {
    // The count fell below what we sent in this window: the server started a new one.
    window_end_ = safe_end;
  }
  used_ = *used_weight;
}

}  // namespace sf::binance
