// Binance spot REST market data (`/api/v3`) -> the normalised model (core/events.h).
//
//   auto client = BinanceRestClient::create({.base_url = "https://api.binance.com"});
//   if (!client) ...client.error().describe()...
//   auto candles = (*client)->klines(btcusdt, Interval::k5m, from, std::nullopt, 1000);
//   auto done = (*client)->for_each_kline(btcusdt, Interval::k5m, from, to,
//                                         [&](const Candle& c) { return sink(c); });
//
// Every call goes through one policy (binance-formats.md §1.1):
//  - Request weight: each endpoint's cost (rest_policy.h) is checked against `weight_budget`
//    using the server's X-MBX-USED-WEIGHT-1M from the previous response (it counts every client
//    on our IP); a request that would exceed the budget waits until the window resets
//    (WeightTracker in rest_policy.h).
//  - 429: wait Retry-After (or `default_retry_after`) and resend, at most
//    `max_rate_limit_retries` times, then kRateLimited. A Retry-After longer than
//    `max_rate_limit_wait` is not waited out: kRateLimited at once, with retry_after set. Later
//    calls also wait for (or refuse during) a Retry-After still running: requests sent while
//    rate limited are what gets an IP banned.
//  - 418 (IP ban): never resent; kBanned with Retry-After, and every call until the ban ends
//    fails the same way without sending anything (each request during a ban lengthens it).
//  - 5xx, timeouts, connection failures and truncated bodies: at most `max_retries` resends
//    with jittered exponential backoff (BackoffPolicy).
//  - A Binance {code,msg} body (4xx): kApiError with api_code/api_message; never resent.
//  - Cancellation (cancel() or `stop_token`) is checked before each request, between pages, every
//    20 ms while waiting and while a request is in flight: a call returns kCancelled within
//    about 50 ms.
//
// Times are TimestampUs (µs); they are sent to Binance in milliseconds. Decimal fields keep
// Binance's text exactly (no floating point anywhere).
//
// Not thread-safe, except cancel(), cancel_requested() and stats(), which any thread may call.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <vector>

#include "core/events.h"
#include "core/result.h"
#include "exchange/binance/messages.h"
#include "exchange/binance/rest/rest_policy.h"
#include "exchange/binance/rest/transport.h"

namespace sf::runtime {
class Config;
class ConfigParser;
}  // namespace sf::runtime

namespace sf::binance {

// The one error type at the client's boundary.
enum class RestErrc : std::uint8_t {
  kConfig,       // bad options (URL, CA file) or arguments (limit out of range, empty range)
  kTransport,    // connect failure, reset or truncated response, after the retries
  kTimeout,      // connect or I/O timeout, after the retries
  kTls,          // TLS handshake or certificate verification failed (not retried)
  kHttpStatus,   // a status without a Binance error body: 5xx after the retries, 403 (WAF), 404
  kBadResponse,  // a 2xx body that does not parse (after the retries if it looked truncated)
  kApiError,     // Binance {code,msg}, e.g. -1121 Invalid symbol (not retried)
  kRateLimited,  // 429 still after max_rate_limit_retries waits, or Retry-After too long
  kBanned,       // 418: the IP is banned for retry_after (not retried)
  kGap,          // paging saw rows missing, repeated or out of order
  kCancelled,    // cancel()/stop_token, or a paging callback returned false
};

const char* to_string(RestErrc code);

struct RestError {
  // Every member has an initializer so that designated initializers may leave any out.
  RestErrc code = RestErrc::kTransport;
  std::string message{};
  std::string endpoint{};     // "klines", ... ("" when no request was involved)
  int http_status = 0;        // 0 when no response arrived
  std::int64_t api_code = 0;  // Binance's code for kApiError (and 4xx/5xx bodies that had one)
  std::string api_message{};
  std::optional<std::chrono::seconds> retry_after{};  // kBanned, kRateLimited
  int attempts = 0;                                   // requests sent for this call

  // "klines: api error -1121 (Invalid symbol.) [HTTP 400]"
  std::string describe() const;
};

template <class T>
using RestResult = Result<T, RestError>;

struct RestClientOptions {
  std::string base_url = "https://api.binance.com";  // BINANCE_API_URL
  // Sent as X-MBX-APIKEY on historicalTrades only (no other market-data endpoint needs it).
  std::string api_key;

  // Request-weight budget per window; Binance allows 6000 per minute per IP, half is left to
  // other processes sharing the IP.
  int weight_budget = 3000;
  // The server's rate-limit window (X-MBX-USED-WEIGHT-1M: one minute); when it starts is learnt
  // from the header (WeightTracker).
  std::chrono::milliseconds weight_window{std::chrono::minutes(1)};

  int max_retries = 5;  // 5xx, timeouts, resets, truncated bodies
  BackoffPolicy backoff;
  int max_rate_limit_retries = 5;                                      // 429s waited out per call
  std::chrono::seconds default_retry_after{std::chrono::seconds(10)};  // 429 without the header
  std::chrono::seconds max_rate_limit_wait{std::chrono::minutes(5)};

  std::chrono::milliseconds connect_timeout{std::chrono::seconds(5)};
  std::chrono::milliseconds request_timeout{std::chrono::seconds(15)};  // Binance gives up at 10 s
  TlsOptions tls;

  // Sends X-MBX-TIME-UNIT: MICROSECOND so that trade times keep their µs (spot data since 2025);
  // parsing accepts either unit.
  bool microsecond_timestamps = false;
  int page_limit = 1000;  // rows per request when paging (Binance's maximum)

  std::stop_token stop_token;     // checked like cancel()
  std::uint64_t jitter_seed = 0;  // 0: random
};

// BINANCE_API_URL, BINANCE_API_KEY, BINANCE_WEIGHT_BUDGET, BINANCE_MAX_RETRIES,
// BINANCE_HTTP_TIMEOUT, BINANCE_CA_FILE, BINANCE_TLS_VERIFY.
void add_rest_client_options(runtime::ConfigParser& parser);
RestClientOptions rest_client_options(const runtime::Config& config);

// Counters for metrics; a consistent-enough snapshot (each field is read atomically).
struct RestClientStats {
  std::uint64_t requests = 0;            // HTTP requests sent (retries included)
  std::uint64_t retries = 0;             // resends after a failure or a 429
  std::uint64_t transient_failures = 0;  // 5xx, timeouts, resets, truncated bodies
  std::uint64_t rate_limited = 0;        // 429 responses
  std::uint64_t bans = 0;                // 418 responses
  std::uint64_t api_errors = 0;          // {code,msg} responses
  std::uint64_t weight_waits = 0;        // times a request waited for the weight window
  std::uint64_t weight_wait_ms = 0;
  std::uint64_t connections = 0;  // TCP connections opened
  int last_used_weight = 0;       // last X-MBX-USED-WEIGHT-1M seen
  int max_used_weight = 0;        // largest X-MBX-USED-WEIGHT-1M seen
};

// What a paging call delivered.
struct PagingSummary {
  std::int64_t pages = 0;  // requests that returned a page
  std::int64_t rows = 0;   // rows passed to the callback
  // Open time (µs) of the last candle, or id of the last aggregate trade, delivered.
  std::optional<std::int64_t> last_key;
};

class BinanceRestClient {
 public:
  using CandleCallback = std::function<bool(const Candle&)>;  // false: stop (kCancelled)
  using AggTradeCallback = std::function<bool(const AggTrade&)>;

  static RestResult<std::unique_ptr<BinanceRestClient>> create(RestClientOptions options);
  ~BinanceRestClient();
  BinanceRestClient(const BinanceRestClient&) = delete;
  BinanceRestClient& operator=(const BinanceRestClient&) = delete;

  // GET /api/v3/klines. `start_time`/`end_time` (inclusive) select by open time; limit 1..1000.
  RestResult<std::vector<Candle>> klines(const Symbol& symbol, Interval interval,
                                         std::optional<TimestampUs> start_time,
                                         std::optional<TimestampUs> end_time, int limit = 500);
  // GET /api/v3/aggTrades; `from_id` is inclusive; limit 1..1000.
  RestResult<std::vector<AggTrade>> agg_trades(const Symbol& symbol,
                                               std::optional<std::int64_t> from_id,
                                               std::optional<TimestampUs> start_time,
                                               std::optional<TimestampUs> end_time,
                                               int limit = 500);
  // GET /api/v3/trades (most recent); limit 1..1000.
  RestResult<std::vector<Trade>> trades(const Symbol& symbol, int limit = 500);
  // GET /api/v3/historicalTrades from `from_id` (nullopt: most recent); limit 1..1000.
  RestResult<std::vector<Trade>> historical_trades(const Symbol& symbol,
                                                   std::optional<std::int64_t> from_id,
                                                   int limit = 500);
  // GET /api/v3/depth; limit 1..5000 (weight 5/25/50/250).
  RestResult<DepthSnapshot> depth(const Symbol& symbol, int limit = 100);
  // GET /api/v3/exchangeInfo for some symbols (empty: all).
  RestResult<ExchangeInfo> exchange_info(std::span<const Symbol> symbols = {});
  // GET /api/v3/time. Also measures the offset between the server's clock and ours
  // (clock_offset()).
  RestResult<TimestampUs> server_time();

  // Every candle with open time in [from, to), oldest first, in pages of `page_limit`
  // (startTime = last open time + interval). Gaps in time are real (exchange halts) and passed
  // over; a candle repeated or out of order is kGap. A range reaching the present ends with the
  // candle still open.
  RestResult<PagingSummary> for_each_kline(const Symbol& symbol, Interval interval,
                                           TimestampUs from, TimestampUs to,
                                           const CandleCallback& callback);
  // Every aggregate trade with trade time in [from, to): the first page is found by startTime,
  // the next ones by fromId = last id + 1. Ids must be dense (+1 per row, across pages too):
  // anything else is kGap. Without microsecond_timestamps the times compared are the
  // milliseconds Binance reports, so bounds finer than a millisecond are not exact.
  RestResult<PagingSummary> for_each_agg_trade(const Symbol& symbol, TimestampUs from,
                                               TimestampUs to, const AggTradeCallback& callback);
  // Every aggregate trade from `from_id` on: up to trade time `to` (exclusive) if given, else
  // until a page comes back short (caught up with the present).
  RestResult<PagingSummary> for_each_agg_trade_from_id(const Symbol& symbol, std::int64_t from_id,
                                                       std::optional<TimestampUs> to,
                                                       const AggTradeCallback& callback);

  // Makes the call in progress (and later ones) return kCancelled soon; thread-safe.
  void cancel();
  void reset_cancel();
  bool cancel_requested() const;

  RestClientStats stats() const;
  // Weight believed used in the current window (server header, plus local costs since).
  int used_weight() const;
  const BaseUrl& base_url() const;
  // Server clock minus local clock, from the last server_time() (0 before).
  std::chrono::milliseconds clock_offset() const;

 private:
  struct Impl;
  explicit BinanceRestClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sf::binance
