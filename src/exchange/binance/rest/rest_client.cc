#include "exchange/binance/rest/rest_client.h"

#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <thread>
#include <utility>

#include "core/json_balance.h"
#include "exchange/binance/parse.h"
#include "runtime/config.h"

namespace sf::binance {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Sleeping waits wake this often to look at the cancel flag.
constexpr milliseconds kWaitSlice{20};
constexpr int kMaxRowsPerRequest = 1000;
constexpr int kMaxDepthLimit = 5000;
// Binance's shortest ban, assumed when a 418 comes without Retry-After.
constexpr std::chrono::seconds kBanWithoutRetryAfter{std::chrono::minutes(2)};

std::int64_t wall_clock_ms() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// µs -> ms for Binance request parameters (floor, like micros_to_millis).
std::int64_t to_request_ms(TimestampUs us) {
  return micros_to_millis(us);
}

// The smallest whole millisecond at or after `us`.
std::int64_t ceil_millis(TimestampUs us) {
  return -micros_to_millis(-us);
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\n' || text.front() == '\r' ||
                           text.front() == '\t'))
    text.remove_prefix(1);
  while (!text.empty() &&
         (text.back() == ' ' || text.back() == '\n' || text.back() == '\r' || text.back() == '\t'))
    text.remove_suffix(1);
  return text;
}

// A body cut short in transit (a server that lies about Content-Length, or closes early with
// none) fails to parse as JSON; that, unlike a well-formed body of the wrong shape, is worth
// another request.
bool looks_truncated(std::string_view body, const ParseError& error) {
  const std::string_view trimmed = trim(body);
  if (trimmed.empty()) return true;
  if (trimmed.back() != ']' && trimmed.back() != '}') return true;
  return error.code == ParseErrc::kMalformedJson;
}

std::string snippet(std::string_view body) {
  constexpr std::size_t kMax = 200;
  std::string out(trim(body).substr(0, kMax));
  if (trim(body).size() > kMax) out += "...";
  return out;
}

RestErrc from_transport(TransportErrc code) {
  switch (code) {
    case TransportErrc::kConfig:
      return RestErrc::kConfig;
    case TransportErrc::kTls:
      return RestErrc::kTls;
    case TransportErrc::kTimeout:
      return RestErrc::kTimeout;
    case TransportErrc::kCancelled:
      return RestErrc::kCancelled;
    case TransportErrc::kConnect:
    case TransportErrc::kReset:
    case TransportErrc::kTruncated:
    case TransportErrc::kProtocol:
      return RestErrc::kTransport;
  }
  return RestErrc::kTransport;
}

RestError config_error(std::string message, RestEndpoint endpoint) {
  return RestError{
      .code = RestErrc::kConfig, .message = std::move(message), .endpoint = to_string(endpoint)};
}

}  // namespace

const char* to_string(RestErrc code) {
  switch (code) {
    case RestErrc::kConfig:
      return "config";
    case RestErrc::kTransport:
      return "transport";
    case RestErrc::kTimeout:
      return "timeout";
    case RestErrc::kTls:
      return "tls";
    case RestErrc::kHttpStatus:
      return "http_status";
    case RestErrc::kBadResponse:
      return "bad_response";
    case RestErrc::kApiError:
      return "api_error";
    case RestErrc::kRateLimited:
      return "rate_limited";
    case RestErrc::kBanned:
      return "banned";
    case RestErrc::kGap:
      return "gap";
    case RestErrc::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

std::string RestError::describe() const {
  // append() rather than operator+ chains: GCC 12 reports a false -Wrestrict on those.
  std::string out;
  if (!endpoint.empty()) out.append(endpoint).append(": ");
  out.append(to_string(code));
  if (code == RestErrc::kApiError || api_code != 0) {
    out.append(" ").append(std::to_string(api_code)).append(" (").append(api_message).append(")");
  }
  if (!message.empty()) out.append(": ").append(message);
  if (http_status != 0) out.append(" [HTTP ").append(std::to_string(http_status)).append("]");
  if (retry_after) {
    out.append(" [Retry-After ").append(std::to_string(retry_after->count())).append(" s]");
  }
  if (attempts > 1) out.append(" [").append(std::to_string(attempts)).append(" attempts]");
  return out;
}

void add_rest_client_options(runtime::ConfigParser& parser) {
  using runtime::OptionType;
  parser.add({.name = "BINANCE_API_URL",
              .default_value = "https://api.binance.com",
              .help = "Binance REST base URL (http:// for exchange-sim)",
              .scope = runtime::OptionScope::kPlatform});
  parser.add({.name = "BINANCE_API_KEY",
              .help = "API key, sent on historicalTrades only",
              .scope = runtime::OptionScope::kSecret});
  parser.add({.name = "BINANCE_WEIGHT_BUDGET",
              .type = OptionType::kInt,
              .default_value = "3000",
              .help = "Request weight to use per minute (Binance allows 6000 per IP)"});
  parser.add({.name = "BINANCE_MAX_RETRIES",
              .type = OptionType::kInt,
              .default_value = "5",
              .help = "Resends after 5xx, timeouts, resets and truncated bodies"});
  parser.add({.name = "BINANCE_HTTP_TIMEOUT",
              .type = OptionType::kDuration,
              .default_value = "15s",
              .help = "Timeout for one request (write + read)"});
  parser.add({.name = "BINANCE_CA_FILE",
              .help = "PEM CA bundle instead of the system store",
              .scope = runtime::OptionScope::kPlatform});
  parser.add({.name = "BINANCE_TLS_VERIFY",
              .type = OptionType::kBool,
              .default_value = "true",
              .help = "Verify the server certificate and host name",
              .scope = runtime::OptionScope::kPlatform});
}

RestClientOptions rest_client_options(const runtime::Config& config) {
  RestClientOptions options;
  options.base_url = config.get_string("BINANCE_API_URL");
  if (config.has("BINANCE_API_KEY")) options.api_key = config.get_string("BINANCE_API_KEY");
  options.weight_budget = static_cast<int>(config.get_int("BINANCE_WEIGHT_BUDGET"));
  options.max_retries = static_cast<int>(config.get_int("BINANCE_MAX_RETRIES"));
  options.request_timeout = config.get_duration("BINANCE_HTTP_TIMEOUT");
  if (config.has("BINANCE_CA_FILE")) options.tls.ca_file = config.get_string("BINANCE_CA_FILE");
  options.tls.verify_peer = config.get_bool("BINANCE_TLS_VERIFY");
  return options;
}

struct BinanceRestClient::Impl {
  RestClientOptions options;
  std::unique_ptr<HttpTransport> transport;
  Parser parser;
  WeightTracker weight;
  std::mt19937_64 random;
  std::atomic<bool> cancel_flag{false};
  std::atomic<std::int64_t> clock_offset_ms{0};
  std::int64_t last_sent_wall_ms = 0;             // when the latest request went out (local clock)
  std::optional<Clock::time_point> banned_until;  // from a 418's Retry-After
  std::optional<Clock::time_point> retry_not_before;  // from a 429's Retry-After

  struct Counters {
    std::atomic<std::uint64_t> requests{0}, retries{0}, transient_failures{0}, rate_limited{0},
        bans{0}, api_errors{0}, weight_waits{0}, weight_wait_ms{0}, connections{0};
    std::atomic<int> last_used_weight{0}, max_used_weight{0};
  } counters;

  Impl(RestClientOptions opts, std::unique_ptr<HttpTransport> http)
      : options(std::move(opts)),
        transport(std::move(http)),
        weight(options.weight_budget, options.weight_window),
        random(options.jitter_seed != 0 ? options.jitter_seed : std::random_device{}()) {}

  bool cancelled() const {
    return cancel_flag.load(std::memory_order_relaxed) || options.stop_token.stop_requested();
  }

  // The weight tracker's clock: only durations matter, so a monotonic one.
  static std::int64_t monotonic_ms() {
    return std::chrono::duration_cast<milliseconds>(Clock::now().time_since_epoch()).count();
  }

  // Sleeps for `duration` unless cancelled first; false when cancelled.
  bool wait_for(milliseconds duration) {
    const auto until = Clock::now() + duration;
    while (!cancelled()) {
      const auto now = Clock::now();
      if (now >= until) return true;
      std::this_thread::sleep_for(std::min<Clock::duration>(kWaitSlice, until - now));
    }
    return false;
  }

  RestError cancelled_error(RestEndpoint endpoint, int attempts) const {
    return RestError{.code = RestErrc::kCancelled,
                     .message = "cancelled",
                     .endpoint = to_string(endpoint),
                     .attempts = attempts};
  }

  // Before any request: refuses while a 418 ban lasts, waits out a 429's Retry-After (or
  // refuses when that is longer than max_rate_limit_wait). nullopt: go ahead.
  std::optional<RestError> wait_out_server_holds(RestEndpoint endpoint, int attempts) {
    const auto now = Clock::now();
    if (banned_until && now < *banned_until) {
      const auto left = std::chrono::ceil<std::chrono::seconds>(*banned_until - now);
      return RestError{.code = RestErrc::kBanned,
                       .message = "IP banned (HTTP 418 earlier); nothing is sent until it ends",
                       .endpoint = to_string(endpoint),
                       .retry_after = left,
                       .attempts = attempts};
    }
    if (retry_not_before && now < *retry_not_before) {
      const auto left = std::chrono::ceil<std::chrono::seconds>(*retry_not_before - now);
      if (left > options.max_rate_limit_wait) {
        return RestError{.code = RestErrc::kRateLimited,
                         .message = "rate limited (HTTP 429 earlier); Retry-After not over",
                         .endpoint = to_string(endpoint),
                         .retry_after = left,
                         .attempts = attempts};
      }
      if (!wait_for(std::chrono::duration_cast<milliseconds>(*retry_not_before - now))) {
        return cancelled_error(endpoint, attempts);
      }
    }
    return std::nullopt;
  }

  // Waits until a request of `cost` fits the weight budget; false when cancelled meanwhile.
  bool wait_for_weight(int cost) {
    for (;;) {
      const milliseconds delay = weight.delay_before(cost, monotonic_ms());
      if (delay.count() <= 0) return true;
      counters.weight_waits.fetch_add(1, std::memory_order_relaxed);
      const auto started = Clock::now();
      const bool finished = wait_for(delay);
      counters.weight_wait_ms.fetch_add(
          static_cast<std::uint64_t>(
              std::chrono::duration_cast<milliseconds>(Clock::now() - started).count()),
          std::memory_order_relaxed);
      if (!finished) return false;
    }
  }

  void note_used_weight(const runtime::HttpHeaders& headers) {
    std::optional<int> used;
    if (auto value = headers.get("X-MBX-USED-WEIGHT-1M")) {
      used = parse_used_weight(*value);
    } else if (auto legacy = headers.get("X-MBX-USED-WEIGHT")) {
      used = parse_used_weight(*legacy);
    }
    weight.on_response(used, monotonic_ms());
    if (used) {
      counters.last_used_weight.store(*used, std::memory_order_relaxed);
      int seen = counters.max_used_weight.load(std::memory_order_relaxed);
      while (*used > seen && !counters.max_used_weight.compare_exchange_weak(seen, *used)) {
      }
    }
  }

  // execute() for a call whose 2xx body one parser turns into the result.
  template <class T, class Parse>
  RestResult<T> fetch(RestEndpoint endpoint, int cost, const QueryString& query, bool with_api_key,
                      const Parse& parse) {
    std::optional<T> out;
    auto done = execute(endpoint, cost, target(endpoint, query), with_api_key,
                        [&](std::string_view body) -> std::optional<ParseError> {
                          auto parsed = parse(body);
                          if (!parsed) return parsed.error();
                          out.emplace(std::move(parsed).value());
                          return std::nullopt;
                        });
    if (!done) return unexpected(done.error());
    return std::move(*out);
  }

  // Applies the retry policy to one call. `parse` turns a 2xx body into the caller's value and
  // returns the parse error, if any.
  using BodyParser = std::function<std::optional<ParseError>(std::string_view body)>;

  Result<void, RestError> execute(RestEndpoint endpoint, int cost, const std::string& target,
                                  bool with_api_key, const BodyParser& parse) {
    runtime::HttpHeaders headers;
    if (options.microsecond_timestamps) headers.add("X-MBX-TIME-UNIT", "MICROSECOND");
    if (with_api_key && !options.api_key.empty()) headers.add("X-MBX-APIKEY", options.api_key);
    const HttpTransport::CancelCheck cancel_check = [this] { return cancelled(); };
    const char* name = to_string(endpoint);

    int attempts = 0;
    int transient_retries = 0;
    int rate_limit_retries = 0;
    auto fail = [&](RestErrc code, std::string message, int status = 0) {
      return RestError{.code = code,
                       .message = std::move(message),
                       .endpoint = name,
                       .http_status = status,
                       .attempts = attempts};
    };
    // After a transient failure: true to resend (after backoff), false to give up.
    auto retry_transient = [&]() -> bool {
      counters.transient_failures.fetch_add(1, std::memory_order_relaxed);
      if (transient_retries >= options.max_retries) return false;
      std::uniform_real_distribution<double> unit(0.0, 1.0);
      const milliseconds delay = options.backoff.delay(transient_retries, unit(random));
      ++transient_retries;
      counters.retries.fetch_add(1, std::memory_order_relaxed);
      return wait_for(delay);
    };

    for (;;) {
      if (cancelled()) return unexpected(cancelled_error(endpoint, attempts));
      if (auto refusal = wait_out_server_holds(endpoint, attempts)) {
        return unexpected(std::move(*refusal));
      }
      if (!wait_for_weight(cost)) return unexpected(cancelled_error(endpoint, attempts));
      weight.on_sent(cost, monotonic_ms());
      ++attempts;
      counters.requests.fetch_add(1, std::memory_order_relaxed);
      const int connections_before = transport->connections_opened();
      last_sent_wall_ms = wall_clock_ms();
      auto response = transport->get(target, headers, cancel_check);
      counters.connections.fetch_add(
          static_cast<std::uint64_t>(transport->connections_opened() - connections_before),
          std::memory_order_relaxed);

      if (!response) {
        const TransportError& error = response.error();
        if (error.code == TransportErrc::kCancelled || cancelled()) {
          return unexpected(cancelled_error(endpoint, attempts));
        }
        if (error.transient && retry_transient()) continue;
        if (cancelled()) return unexpected(cancelled_error(endpoint, attempts));
        return unexpected(fail(from_transport(error.code), error.message));
      }

      note_used_weight(response->headers);
      const int status = response->status;
      const std::string_view body = response->body;

      if (status == 418 || status == 429) {
        const auto retry_after = response->headers.get("Retry-After")
                                     ? parse_retry_after(*response->headers.get("Retry-After"))
                                     : std::nullopt;
        RestError error =
            fail(status == 418 ? RestErrc::kBanned : RestErrc::kRateLimited,
                 status == 418 ? "IP banned (HTTP 418)" : "rate limited (HTTP 429)", status);
        error.retry_after = retry_after;
        if (auto api = parser.parse_api_error(body)) {
          error.api_code = api->code;
          error.api_message = api->msg;
        }
        if (status == 418) {
          counters.bans.fetch_add(1, std::memory_order_relaxed);
          // Every request during a ban lengthens it (2 minutes up to 3 days): send none.
          const std::chrono::seconds ban = retry_after.value_or(kBanWithoutRetryAfter);
          banned_until = Clock::now() + ban;
          error.retry_after = ban;
          return unexpected(std::move(error));
        }
        counters.rate_limited.fetch_add(1, std::memory_order_relaxed);
        const std::chrono::seconds wait = retry_after.value_or(options.default_retry_after);
        // Requests before Retry-After has passed lead to a ban: later calls wait for it too.
        retry_not_before = Clock::now() + wait;
        if (rate_limit_retries >= options.max_rate_limit_retries ||
            wait > options.max_rate_limit_wait) {
          error.retry_after = wait;
          return unexpected(std::move(error));
        }
        ++rate_limit_retries;
        counters.retries.fetch_add(1, std::memory_order_relaxed);
        continue;  // the wait happens at the top of the loop
      }

      if (status >= 500) {
        if (retry_transient()) continue;
        if (cancelled()) return unexpected(cancelled_error(endpoint, attempts));
        RestError error = fail(RestErrc::kHttpStatus, "server error: " + snippet(body), status);
        if (auto api = parser.parse_api_error(body)) {
          error.api_code = api->code;
          error.api_message = api->msg;
        }
        return unexpected(std::move(error));
      }

      if (status >= 200 && status < 300) {
        auto parse_error = parse(body);
        if (!parse_error) return {};
        // A 2xx carrying {code,msg} is still Binance refusing the request.
        if (auto api = parser.parse_api_error(body)) {
          counters.api_errors.fetch_add(1, std::memory_order_relaxed);
          RestError error = fail(RestErrc::kApiError, "", status);
          error.api_code = api->code;
          error.api_message = api->msg;
          return unexpected(std::move(error));
        }
        if (looks_truncated(body, *parse_error)) {
          // The connection delivered a partial body; do not read the next reply from it.
          transport->close();
          if (retry_transient()) continue;
          if (cancelled()) return unexpected(cancelled_error(endpoint, attempts));
        }
        return unexpected(
            fail(RestErrc::kBadResponse, parse_error->message() + " in " + snippet(body), status));
      }

      // 3xx and 4xx: not retried.
      if (auto api = parser.parse_api_error(body)) {
        counters.api_errors.fetch_add(1, std::memory_order_relaxed);
        RestError error = fail(RestErrc::kApiError, "", status);
        error.api_code = api->code;
        error.api_message = api->msg;
        return unexpected(std::move(error));
      }
      return unexpected(fail(RestErrc::kHttpStatus, snippet(body), status));
    }
  }

  std::string target(RestEndpoint endpoint, const QueryString& query) const {
    std::string out(endpoint_path(endpoint));
    if (!query.empty()) {
      out.push_back('?');
      out += query.str();
    }
    return out;
  }
};

BinanceRestClient::BinanceRestClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BinanceRestClient::~BinanceRestClient() = default;

RestResult<std::unique_ptr<BinanceRestClient>> BinanceRestClient::create(
    RestClientOptions options) {
  auto config_failure = [](std::string message) {
    return unexpected(RestError{.code = RestErrc::kConfig, .message = std::move(message)});
  };
  if (options.weight_budget <= 0) return config_failure("weight_budget must be positive");
  if (options.weight_window.count() <= 0) return config_failure("weight_window must be positive");
  if (options.max_retries < 0 || options.max_rate_limit_retries < 0) {
    return config_failure("retry limits must not be negative");
  }
  if (options.page_limit < 1 || options.page_limit > kMaxRowsPerRequest) {
    return config_failure("page_limit must be 1..1000");
  }
  TransportOptions transport_options;
  transport_options.connect_timeout = options.connect_timeout;
  transport_options.io_timeout = options.request_timeout;
  transport_options.tls = options.tls;
  auto transport = HttpTransport::create(options.base_url, std::move(transport_options));
  if (!transport) return config_failure(transport.error().message);
  auto impl = std::make_unique<Impl>(std::move(options), std::move(*transport));
  return std::unique_ptr<BinanceRestClient>(new BinanceRestClient(std::move(impl)));
}

RestResult<std::vector<Candle>> BinanceRestClient::klines(const Symbol& symbol, Interval interval,
                                                          std::optional<TimestampUs> start_time,
                                                          std::optional<TimestampUs> end_time,
                                                          int limit) {
  constexpr auto kEndpoint = RestEndpoint::kKlines;
  if (limit < 1 || limit > kMaxRowsPerRequest) {
    return unexpected(config_error("limit must be 1..1000", kEndpoint));
  }
  QueryString query;
  query.add("symbol", symbol.view()).add("interval", interval_name(interval));
  if (start_time) query.add("startTime", to_request_ms(*start_time));
  if (end_time) query.add("endTime", to_request_ms(*end_time));
  query.add("limit", std::int64_t{limit});
  return impl_->fetch<std::vector<Candle>>(
      kEndpoint, request_weight(kEndpoint), query, false, [&](std::string_view body) {
        return impl_->parser.parse_rest_klines(body, symbol, interval);
      });
}

RestResult<std::vector<AggTrade>> BinanceRestClient::agg_trades(
    const Symbol& symbol, std::optional<std::int64_t> from_id,
    std::optional<TimestampUs> start_time, std::optional<TimestampUs> end_time, int limit) {
  constexpr auto kEndpoint = RestEndpoint::kAggTrades;
  if (limit < 1 || limit > kMaxRowsPerRequest) {
    return unexpected(config_error("limit must be 1..1000", kEndpoint));
  }
  QueryString query;
  query.add("symbol", symbol.view());
  if (from_id) query.add("fromId", *from_id);
  if (start_time) query.add("startTime", to_request_ms(*start_time));
  if (end_time) query.add("endTime", to_request_ms(*end_time));
  query.add("limit", std::int64_t{limit});
  return impl_->fetch<std::vector<AggTrade>>(
      kEndpoint, request_weight(kEndpoint), query, false,
      [&](std::string_view body) { return impl_->parser.parse_rest_agg_trades(body, symbol); });
}

RestResult<std::vector<Trade>> BinanceRestClient::trades(const Symbol& symbol, int limit) {
  constexpr auto kEndpoint = RestEndpoint::kTrades;
  if (limit < 1 || limit > kMaxRowsPerRequest) {
    return unexpected(config_error("limit must be 1..1000", kEndpoint));
  }
  QueryString query;
  query.add("symbol", symbol.view()).add("limit", std::int64_t{limit});
  return impl_->fetch<std::vector<Trade>>(
      kEndpoint, request_weight(kEndpoint), query, false,
      [&](std::string_view body) { return impl_->parser.parse_rest_trades(body, symbol); });
}

RestResult<std::vector<Trade>> BinanceRestClient::historical_trades(
    const Symbol& symbol, std::optional<std::int64_t> from_id, int limit) {
  constexpr auto kEndpoint = RestEndpoint::kHistoricalTrades;
  if (limit < 1 || limit > kMaxRowsPerRequest) {
    return unexpected(config_error("limit must be 1..1000", kEndpoint));
  }
  QueryString query;
  query.add("symbol", symbol.view()).add("limit", std::int64_t{limit});
  if (from_id) query.add("fromId", *from_id);
  return impl_->fetch<std::vector<Trade>>(
      kEndpoint, request_weight(kEndpoint), query, true,
      [&](std::string_view body) { return impl_->parser.parse_rest_trades(body, symbol); });
}

RestResult<DepthSnapshot> BinanceRestClient::depth(const Symbol& symbol, int limit) {
  constexpr auto kEndpoint = RestEndpoint::kDepth;
  if (limit < 1 || limit > kMaxDepthLimit) {
    return unexpected(config_error("limit must be 1..5000", kEndpoint));
  }
  QueryString query;
  query.add("symbol", symbol.view()).add("limit", std::int64_t{limit});
  return impl_->fetch<DepthSnapshot>(
      kEndpoint, request_weight(kEndpoint, limit), query, false, [&](std::string_view body) {
        return impl_->parser.parse_rest_depth(body, symbol, now_micros());
      });
}

RestResult<ExchangeInfo> BinanceRestClient::exchange_info(std::span<const Symbol> symbols) {
  constexpr auto kEndpoint = RestEndpoint::kExchangeInfo;
  QueryString query;
  if (symbols.size() == 1) {
    query.add("symbol", symbols.front().view());
  } else if (!symbols.empty()) {
    std::string list = "[";
    for (std::size_t i = 0; i < symbols.size(); ++i) {
      if (i != 0) list += ',';
      list += '"';
      list += symbols[i].view();
      list += '"';
    }
    list += ']';
    query.add("symbols", list);
  }
  return impl_->fetch<ExchangeInfo>(
      kEndpoint, request_weight(kEndpoint), query, false,
      [&](std::string_view body) { return impl_->parser.parse_exchange_info(body); });
}

RestResult<TimestampUs> BinanceRestClient::server_time() {
  constexpr auto kEndpoint = RestEndpoint::kTime;
  std::optional<TimestampUs> out;
  simdjson::ondemand::parser json;
  auto done = impl_->execute(
      kEndpoint, request_weight(kEndpoint), impl_->target(kEndpoint, QueryString()), false,
      [&](std::string_view body) -> std::optional<ParseError> {
        const simdjson::padded_string padded(body);
        std::int64_t server_ms = 0;
        simdjson::ondemand::document doc;
        if (!json_balanced(body))
          return ParseError{ParseErrc::kMalformedJson, "", "unbalanced JSON"};
        if (auto ec = json.iterate(padded).get(doc)) {
          return ParseError{ParseErrc::kMalformedJson, "", simdjson::error_message(ec)};
        }
        if (auto ec = doc["serverTime"].get_int64().get(server_ms)) {
          return ParseError{
              ec == simdjson::NO_SUCH_FIELD ? ParseErrc::kMissingField : ParseErrc::kWrongType,
              "serverTime", simdjson::error_message(ec)};
        }
        out = to_micros(server_ms, TimeUnit::kAuto);
        // The server read its clock about halfway through the exchange.
        const std::int64_t received_ms = wall_clock_ms();
        impl_->clock_offset_ms.store(
            micros_to_millis(*out) - (impl_->last_sent_wall_ms + received_ms) / 2,
            std::memory_order_relaxed);
        return std::nullopt;
      });
  if (!done) return unexpected(done.error());
  return *out;
}

RestResult<PagingSummary> BinanceRestClient::for_each_kline(const Symbol& symbol, Interval interval,
                                                            TimestampUs from, TimestampUs to,
                                                            const CandleCallback& callback) {
  PagingSummary summary;
  if (to <= from) return summary;
  const std::int64_t interval_ms = interval_micros(interval) / 1000;
  // Calendar months have no fixed length; one millisecond past the last open time is as exact.
  const std::int64_t step_ms = interval_ms > 0 ? interval_ms : 1;
  // Open times are whole milliseconds: the range [from, to) in µs covers open times
  // [ceil(from), ceil(to) - 1] in ms.
  std::int64_t start_ms = ceil_millis(from);
  const std::int64_t last_ms = ceil_millis(to) - 1;
  std::optional<TimestampUs> last_open;
  bool reached_end = false;
  while (!reached_end && start_ms <= last_ms) {
    if (impl_->cancelled()) {
      return unexpected(impl_->cancelled_error(RestEndpoint::kKlines, 0));
    }
    auto page =
        klines(symbol, interval, start_ms * 1000, last_ms * 1000, impl_->options.page_limit);
    if (!page) return unexpected(page.error());
    ++summary.pages;
    if (page->empty()) break;
    const std::optional<TimestampUs> last_open_before_page = last_open;
    for (const Candle& candle : *page) {
      if (candle.open_time < start_ms * 1000 || (last_open && candle.open_time <= *last_open)) {
        return unexpected(RestError{
            .code = RestErrc::kGap,
            .message = "kline open time " + format_iso8601(candle.open_time) +
                       (last_open ? " after " + format_iso8601(*last_open) : std::string()) +
                       " is repeated or out of order (page from " +
                       format_iso8601(start_ms * 1000) + ")",
            .endpoint = to_string(RestEndpoint::kKlines)});
      }
      if (candle.open_time >= to) {  // the server ignored endTime; nothing more is wanted
        reached_end = true;
        break;
      }
      last_open = candle.open_time;
      ++summary.rows;
      summary.last_key = candle.open_time;
      if (!callback(candle)) {
        return unexpected(RestError{.code = RestErrc::kCancelled,
                                    .message = "stopped by the callback",
                                    .endpoint = to_string(RestEndpoint::kKlines)});
      }
    }
    if (last_open == last_open_before_page) break;  // nothing new: do not ask again
    start_ms = micros_to_millis(*last_open) + step_ms;
  }
  return summary;
}

RestResult<PagingSummary> BinanceRestClient::for_each_agg_trade(const Symbol& symbol,
                                                                TimestampUs from, TimestampUs to,
                                                                const AggTradeCallback& callback) {
  PagingSummary summary;
  if (to <= from) return summary;
  constexpr auto kEndpoint = RestEndpoint::kAggTrades;
  const int limit = impl_->options.page_limit;
  std::optional<std::int64_t> next_id;  // the id the next row must carry
  for (;;) {
    if (impl_->cancelled()) return unexpected(impl_->cancelled_error(kEndpoint, 0));
    // The first page is located by time (startTime is sent in ms: rows of the same millisecond
    // before `from` are skipped below); after that, by id, which cannot skip or repeat a row.
    auto page = next_id ? agg_trades(symbol, next_id, std::nullopt, std::nullopt, limit)
                        : agg_trades(symbol, std::nullopt, from, std::nullopt, limit);
    if (!page) return unexpected(page.error());
    ++summary.pages;
    if (page->empty()) return summary;
    for (const AggTrade& trade : *page) {
      if (next_id && trade.agg_trade_id != *next_id) {
        return unexpected(RestError{.code = RestErrc::kGap,
                                    .message = "aggregate trade id " +
                                               std::to_string(trade.agg_trade_id) + " where " +
                                               std::to_string(*next_id) + " was expected",
                                    .endpoint = to_string(kEndpoint)});
      }
      next_id = trade.agg_trade_id + 1;
      if (trade.trade_time < from) continue;
      if (trade.trade_time >= to) return summary;
      ++summary.rows;
      summary.last_key = trade.agg_trade_id;
      if (!callback(trade)) {
        return unexpected(RestError{.code = RestErrc::kCancelled,
                                    .message = "stopped by the callback",
                                    .endpoint = to_string(kEndpoint)});
      }
    }
  }
}

RestResult<PagingSummary> BinanceRestClient::for_each_agg_trade_from_id(
    const Symbol& symbol, std::int64_t from_id, std::optional<TimestampUs> to,
    const AggTradeCallback& callback) {
  PagingSummary summary;
  constexpr auto kEndpoint = RestEndpoint::kAggTrades;
  const int limit = impl_->options.page_limit;
  std::int64_t next_id = from_id;
  for (;;) {
    if (impl_->cancelled()) return unexpected(impl_->cancelled_error(kEndpoint, 0));
    auto page = agg_trades(symbol, next_id, std::nullopt, std::nullopt, limit);
    if (!page) return unexpected(page.error());
    ++summary.pages;
    for (const AggTrade& trade : *page) {
      if (trade.agg_trade_id != next_id) {
        return unexpected(RestError{.code = RestErrc::kGap,
                                    .message = "aggregate trade id " +
                                               std::to_string(trade.agg_trade_id) + " where " +
                                               std::to_string(next_id) + " was expected",
                                    .endpoint = to_string(kEndpoint)});
      }
      ++next_id;
      if (to && trade.trade_time >= *to) return summary;
      ++summary.rows;
      summary.last_key = trade.agg_trade_id;
      if (!callback(trade)) {
        return unexpected(RestError{.code = RestErrc::kCancelled,
                                    .message = "stopped by the callback",
                                    .endpoint = to_string(kEndpoint)});
      }
    }
    // Without an end time, a short page means we have caught up with the present.
    if (page->empty() || (!to && static_cast<int>(page->size()) < limit)) return summary;
  }
}

void BinanceRestClient::cancel() {
  impl_->cancel_flag.store(true, std::memory_order_relaxed);
}
void BinanceRestClient::reset_cancel() {
  impl_->cancel_flag.store(false, std::memory_order_relaxed);
}
bool BinanceRestClient::cancel_requested() const {
  return impl_->cancelled();
}

RestClientStats BinanceRestClient::stats() const {
  const auto& c = impl_->counters;
  constexpr auto kRelaxed = std::memory_order_relaxed;
  return RestClientStats{.requests = c.requests.load(kRelaxed),
                         .retries = c.retries.load(kRelaxed),
                         .transient_failures = c.transient_failures.load(kRelaxed),
                         .rate_limited = c.rate_limited.load(kRelaxed),
                         .bans = c.bans.load(kRelaxed),
                         .api_errors = c.api_errors.load(kRelaxed),
                         .weight_waits = c.weight_waits.load(kRelaxed),
                         .weight_wait_ms = c.weight_wait_ms.load(kRelaxed),
                         .connections = c.connections.load(kRelaxed),
                         .last_used_weight = c.last_used_weight.load(kRelaxed),
                         .max_used_weight = c.max_used_weight.load(kRelaxed)};
}

int BinanceRestClient::used_weight() const {
  return impl_->weight.used(impl_->monotonic_ms());
}
const BaseUrl& BinanceRestClient::base_url() const {
  return impl_->transport->base_url();
}
std::chrono::milliseconds BinanceRestClient::clock_offset() const {
  return std::chrono::milliseconds(impl_->clock_offset_ms.load(std::memory_order_relaxed));
}

}  // namespace sf::binance
