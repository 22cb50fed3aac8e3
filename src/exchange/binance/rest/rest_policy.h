// The pure pieces of the Binance REST client, kept apart from networking so that they can be
// tested without a server: request weights, query strings, retry backoff, Retry-After parsing and
// the request-weight budget.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sf::binance {

// The spot endpoints the client calls.
enum class RestEndpoint : std::uint8_t {
  kKlines,
  kAggTrades,
  kTrades,
  kHistoricalTrades,
  kDepth,
  kExchangeInfo,
  kTime,
};

const char* to_string(RestEndpoint endpoint);           // "klines", "aggTrades", ...
std::string_view endpoint_path(RestEndpoint endpoint);  // "/api/v3/klines", ...

// REQUEST_WEIGHT cost of one call (binance-formats.md §1.1, current since 2025-03-10): klines 2,
// aggTrades 4, trades 25, historicalTrades 25, exchangeInfo 20, time 1, depth by `limit`:
// 1-100 -> 5, 101-500 -> 25, 501-1000 -> 50, above -> 250.
int request_weight(RestEndpoint endpoint, int limit = 0);

// Builds "a=1&b=x" with values percent-encoded (RFC 3986 unreserved characters kept).
class QueryString {
 public:
  QueryString& add(std::string_view key, std::string_view value);
  QueryString& add(std::string_view key, std::int64_t value);
  const std::string& str() const { return text_; }
  bool empty() const { return text_.empty(); }

 private:
  std::string text_;
};

std::string percent_encode(std::string_view text);

// Exponential backoff with jitter for transient failures (5xx, timeouts, resets, truncated
// bodies). Attempt n (0-based) waits in [base/2, base] where base = min(initial * 2^n, max):
// "equal jitter" keeps a floor so that retries never hammer the server, and the random half
// spreads out clients that failed together.
struct BackoffPolicy {
  std::chrono::milliseconds initial{200};
  std::chrono::milliseconds max{10'000};

  // `unit_random` in [0, 1) picks the point in the interval (tests pass fixed values).
  std::chrono::milliseconds delay(int attempt, double unit_random) const;
};

// Reads a Retry-After header: a non-negative integer number of seconds (Binance sends nothing
// else). HTTP-dates and garbage give nullopt so that the caller falls back to its default.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value);

// Reads X-MBX-USED-WEIGHT-1M (a non-negative integer); nullopt when malformed.
std::optional<int> parse_used_weight(std::string_view value);

// Keeps request weight under a budget per window (Binance: 6000 per IP per minute; the default
// budget is half of that so that other processes on the same IP keep room). The server's
// X-MBX-USED-WEIGHT-1M header is the truth, since it counts every client on the IP: each response
// overwrites the local count, and between responses (or when a response lacks the header) the
// costs of requests sent are added locally.
//
// When the window ends is learnt from the header too, never assumed: Binance's windows are clock
// minutes, exchange-sim's open at an IP's first request, and our clock is not the server's. A
// window is taken to have started no earlier than the response that first shows it (the first
// response, or one whose count fell below what we had already sent in the window), so the
// estimated end is never before the real one: waiting for it cannot run into the old window's
// count. (If another client on the IP hides a reset by pushing the count up again, the estimate
// is one window early and one request may go over the budget, still far below the limit.)
//
// Times are milliseconds on any monotonic clock.
class WeightTracker {
 public:
  explicit WeightTracker(int budget, std::chrono::milliseconds window = std::chrono::minutes(1));

  // How long to wait before a request of `cost` may be sent at `now_ms`: zero when it fits the
  // current window, otherwise until the window ends. A request costing more than the whole
  // budget goes out in a fresh window (it could never fit otherwise).
  std::chrono::milliseconds delay_before(int cost, std::int64_t now_ms) const;

  void on_sent(int cost, std::int64_t now_ms);
  // `used_weight`: the header value, nullopt when the response had none.
  void on_response(std::optional<int> used_weight, std::int64_t now_ms);

  // Weight believed used in the current window (0 once it is over).
  int used(std::int64_t now_ms) const;
  int budget() const { return budget_; }
  std::chrono::milliseconds window() const { return window_; }
  // The estimated end of the current window; nullopt when none is known to be open.
  std::optional<std::int64_t> window_end_ms(std::int64_t now_ms) const;

 private:
  int budget_;
  std::chrono::milliseconds window_;
  std::optional<std::int64_t> window_end_;  // set by the response that opened the window
  bool window_pending_ = false;             // requests sent in a new window, no response seen yet
  int used_ = 0;
};

}  // namespace sf::binance
