#include "services/exchange_sim/rest_api.h"

#include <algorithm>
#include <charconv>
#include <initializer_list>
#include <optional>
#include <set>
#include <span>

#include "core/interval.h"
#include "core/result.h"
#include "core/time.h"
#include "runtime/json_writer.h"

namespace sf::services::exchange_sim {
namespace {

using runtime::HttpRequest;
using runtime::HttpResponse;

constexpr std::string_view kPing = "/api/v3/ping";
constexpr std::string_view kTime = "/api/v3/time";
constexpr std::string_view kExchangeInfo = "/api/v3/exchangeInfo";
constexpr std::string_view kKlines = "/api/v3/klines";
constexpr std::string_view kUiKlines = "/api/v3/uiKlines";
constexpr std::string_view kAggTrades = "/api/v3/aggTrades";
constexpr std::string_view kTrades = "/api/v3/trades";
constexpr std::string_view kHistoricalTrades = "/api/v3/historicalTrades";
constexpr std::string_view kDepth = "/api/v3/depth";

constexpr std::string_view kPaths[] = {kPing,      kTime,   kExchangeInfo,     kKlines, kUiKlines,
                                       kAggTrades, kTrades, kHistoricalTrades, kDepth};

// The legal ranges Binance quotes in its -1100 messages.
constexpr std::string_view kSymbolRange = "^[A-Z0-9-_.]{1,20}$";
constexpr std::string_view kLongRange = "^[0-9]{1,20}$";
constexpr std::string_view kSymbolsRange =
    R"(^\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\]$)";
constexpr std::string_view kBoolRange = "^(true|false)$";

constexpr std::size_t kMaxDepthLimit = 5000;

struct ApiError {
  int code = 0;
  std::string msg;
};

template <class T>
using ApiResult = Result<T, ApiError>;

ApiError illegal_chars(std::string_view name, std::string_view legal_range) {
  return {-1100, "Illegal characters found in parameter '" + std::string(name) +
                     "'; legal range is '" + std::string(legal_range) + "'."};
}
ApiError mandatory_missing(std::string_view name) {
  return {-1102, "Mandatory parameter '" + std::string(name) +
                     "' was not sent, was empty/null, or malformed."};
}
ApiError empty_param(std::string_view name) {
  return {-1105, "Parameter '" + std::string(name) + "' was empty."};
}
ApiError overflowed(std::string_view name) {
  return {-1108, "Parameter '" + std::string(name) + "' overflowed."};
}
ApiError invalid_data(std::string_view name) {
  return {-1130, "Data sent for parameter '" + std::string(name) + "' is not valid."};
}
ApiError invalid_symbol() {
  return {-1121, "Invalid symbol."};
}
ApiError bad_combination() {
  return {-1128, "Combination of optional parameters invalid."};
}

HttpResponse error_response(const ApiError& error) {
  return binance_error(400, error.code, error.msg);
}

HttpResponse json_response(std::string body) {
  HttpResponse response = HttpResponse::json(200, std::move(body));
  response.content_type = std::string(kBinanceJsonContentType);
  return response;
}

bool is_digits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool is_symbol_text(std::string_view text) {
  if (text.empty() || text.size() > 20) return false;
  return std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
  });
}

// The query parameters of one request.
class Query {
 public:
  explicit Query(const HttpRequest& request) : request_(request) {}

  std::optional<std::string_view> get(std::string_view name) const {
    return request_.query_param(name);
  }

  // Binance rejects repeated parameters (-1101), more parameters than the endpoint takes (-1101)
  // and parameters it did not read (-1104).
  std::optional<ApiError> check_names(std::initializer_list<std::string_view> accepted) const {
    const auto& query = request_.query;
    std::size_t read = 0;
    for (auto it = query.begin(); it != query.end(); it = query.upper_bound(it->first)) {
      if (query.count(it->first) > 1) {
        return ApiError{-1101, "Duplicate values for a parameter detected."};
      }
      if (std::find(accepted.begin(), accepted.end(), it->first) != accepted.end()) ++read;
    }
    if (query.size() > accepted.size()) {
      return ApiError{-1101, "Too many parameters; expected '" + std::to_string(accepted.size()) +
                                 "' and received '" + std::to_string(query.size()) + "'."};
    }
    if (read < query.size()) {
      return ApiError{-1104, "Not all sent parameters were read; read '" + std::to_string(read) +
                                 "' parameter(s) but was sent '" + std::to_string(query.size()) +
                                 "'."};
    }
    return std::nullopt;
  }

 private:
  const HttpRequest& request_;
};

ApiResult<std::string_view> required_symbol(const Query& query) {
  auto symbol = query.get("symbol");
  if (!symbol || symbol->empty()) return unexpected(mandatory_missing("symbol"));
  if (!is_symbol_text(*symbol)) return unexpected(illegal_chars("symbol", kSymbolRange));
  return *symbol;
}

ApiResult<std::optional<std::int64_t>> optional_long(const Query& query, std::string_view name) {
  auto text = query.get(name);
  if (!text) return std::optional<std::int64_t>();
  if (text->empty()) return unexpected(empty_param(name));
  if (text->size() > 20 || !is_digits(*text)) return unexpected(illegal_chars(name, kLongRange));
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc() || end != text->data() + text->size()) {
    return unexpected(overflowed(name));
  }
  return std::optional<std::int64_t>(value);
}

// Binance clamps a limit above the endpoint's maximum; 0 is not a valid limit.
ApiResult<std::size_t> limit_param(const Query& query, std::size_t fallback, std::size_t maximum) {
  auto limit = optional_long(query, "limit");
  if (!limit) return unexpected(limit.error());
  if (!*limit) return fallback;
  if (**limit < 1) return unexpected(invalid_data("limit"));
  return std::min(static_cast<std::size_t>(**limit), maximum);
}

// startTime/endTime may be sent in ms or µs (Binance tells them apart by magnitude).
ApiResult<std::optional<TimestampUs>> optional_time(const Query& query, std::string_view name) {
  auto value = optional_long(query, name);
  if (!value) return unexpected(value.error());
  if (!*value) return std::optional<TimestampUs>();
  return std::optional<TimestampUs>(to_micros(**value, TimeUnit::kAuto));
}

// X-MBX-TIME-UNIT: MICROSECOND switches every time in the response to µs.
ApiResult<bool> wants_microseconds(const HttpRequest& request) {
  auto unit = request.header("X-MBX-TIME-UNIT");
  if (!unit) return false;
  if (runtime::iequals(*unit, "MICROSECOND")) return true;
  if (runtime::iequals(*unit, "MILLISECOND")) return false;
  return unexpected(
      ApiError{-1194, "Invalid value for time unit; expected either MICROSECOND or MILLISECOND."});
}

// Binance spells intervals case-sensitively (1m minute, 1M month); "1mo" is only a file-name form.
std::optional<Interval> rest_interval(std::string_view text) {
  auto interval = parse_interval(text);
  if (!interval || interval_name(*interval) != text) return std::nullopt;
  return interval;
}

// "0", "+8", "-5", "05:30", "+14:00" -> offset in minutes; nullopt when malformed or outside
// Binance's range -12:00..+14:00.
std::optional<int> time_zone_minutes(std::string_view text) {
  int sign = 1;
  if (!text.empty() && (text[0] == '+' || text[0] == '-')) {
    sign = text[0] == '-' ? -1 : 1;
    text.remove_prefix(1);
  }
  const auto colon = text.find(':');
  const std::string_view hours_text = text.substr(0, colon);
  const std::string_view minutes_text =
      colon == std::string_view::npos ? std::string_view("0") : text.substr(colon + 1);
  auto two_digits = [](std::string_view digits) -> std::optional<int> {
    if (digits.empty() || digits.size() > 2 || !is_digits(digits)) return std::nullopt;
    return digits.size() == 1 ? digits[0] - '0' : (digits[0] - '0') * 10 + (digits[1] - '0');
  };
  const auto hours = two_digits(hours_text);
  const auto minutes = two_digits(minutes_text);
  if (!hours || !minutes || *minutes >= 60) return std::nullopt;
  const int total = sign * (*hours * 60 + *minutes);
  if (total < -12 * 60 || total > 14 * 60) return std::nullopt;
  return total;
}

// Rows [first, last) of a series.
struct RowSpan {
  std::size_t first = 0;
  std::size_t last = 0;
};

// Binance's ordering rules: no start/end -> the most recent `limit`; only start -> the oldest
// `limit` from start; only end -> the newest `limit` up to end; both -> from start, capped at end.
// Both bounds are inclusive.
RowSpan select_by_time(std::span<const SeriesRow> rows, std::optional<TimestampUs> start,
                       std::optional<TimestampUs> end, std::size_t limit) {
  const auto begin = rows.begin();
  const std::size_t lo =
      start ? static_cast<std::size_t>(std::lower_bound(begin, rows.end(), *start,
                                                        [](const SeriesRow& row, TimestampUs t) {
                                                          return row.time_us < t;
                                                        }) -
                                       begin)
            : 0;
  const std::size_t hi =
      end ? static_cast<std::size_t>(std::upper_bound(begin, rows.end(), *end,
                                                      [](TimestampUs t, const SeriesRow& row) {
                                                        return t < row.time_us;
                                                      }) -
                                     begin)
          : rows.size();
  if (lo >= hi) return {lo, lo};
  if (start) return {lo, std::min(hi, lo + limit)};
  return {hi - std::min(limit, hi - lo), hi};
}

// From id `from_id` (inclusive), the oldest `limit` rows.
RowSpan select_from_id(std::span<const SeriesRow> rows, std::int64_t from_id, std::size_t limit) {
  const std::size_t lo = static_cast<std::size_t>(
      std::lower_bound(rows.begin(), rows.end(), from_id,
                       [](const SeriesRow& row, std::int64_t id) { return row.id < id; }) -
      rows.begin());
  return {lo, std::min(rows.size(), lo + limit)};
}

std::string render_rows(std::span<const SeriesRow> rows, RowSpan span, bool microseconds) {
  std::string out = "[";
  if (span.last > span.first) {
    out.reserve(2 + (span.last - span.first) * (rows[span.first].json.size() + 40));
    for (std::size_t i = span.first; i < span.last; ++i) {
      if (i > span.first) out.push_back(',');
      rows[i].render(out, microseconds);
    }
  }
  out.push_back(']');
  return out;
}

bool is_symbol_status(std::string_view status) {
  return status == "TRADING" || status == "HALT" || status == "BREAK" || status == "CANCEL_ONLY";
}

ApiResult<std::optional<std::string_view>> optional_symbol_status(const Query& query) {
  auto status = query.get("symbolStatus");
  if (!status) return std::optional<std::string_view>();
  if (!is_symbol_status(*status)) return unexpected(ApiError{-1122, "Invalid symbolStatus."});
  return std::optional<std::string_view>(*status);
}

ApiError status_mismatch() {
  return {-1220, "The symbol's status does not match the requested symbolStatus."};
}

// symbols=["BTCUSDT","BNBBTC"] exactly as Binance's regex allows it.
ApiResult<std::vector<std::string_view>> symbol_list(std::string_view text) {
  const ApiError error = illegal_chars("symbols", kSymbolsRange);
  if (text.size() < 2 || text.front() != '[' || text.back() != ']') return unexpected(error);
  std::vector<std::string_view> symbols;
  std::string_view rest = text.substr(1, text.size() - 2);
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    if (item.size() < 2 || item.front() != '"' || item.back() != '"') return unexpected(error);
    item = item.substr(1, item.size() - 2);
    if (!is_symbol_text(item)) return unexpected(error);
    symbols.push_back(item);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
    if (rest.empty()) return unexpected(error);  // trailing comma
  }
  return symbols;
}

// permissions=SPOT or permissions=["MARGIN","LEVERAGED"].
std::vector<std::string> permission_list(std::string_view text) {
  std::vector<std::string> permissions;
  if (!text.empty() && text.front() == '[') {
    std::string current;
    for (char c : text) {
      if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_') {
        current.push_back(c);
      } else if (!current.empty()) {
        permissions.push_back(std::move(current));
        current.clear();
      }
    }
  } else if (!text.empty()) {
    permissions.emplace_back(text);
  }
  return permissions;
}

bool has_any_permission(const SymbolInfoEntry& entry, const std::vector<std::string>& wanted) {
  return std::any_of(wanted.begin(), wanted.end(), [&](const std::string& permission) {
    return std::binary_search(entry.permissions.begin(), entry.permissions.end(), permission);
  });
}

std::int64_t response_time(TimestampUs us, bool microseconds) {
  return microseconds ? us : micros_to_millis(us);
}

}  // namespace

HttpResponse binance_error(int http_status, int code, std::string_view msg) {
  runtime::JsonWriter json;
  json.begin_object().field("code", code).field("msg", msg).end_object();
  HttpResponse response = HttpResponse::json(http_status, json.take());
  response.content_type = std::string(kBinanceJsonContentType);
  return response;
}

std::span<const std::string_view> RestApi::paths() {
  return kPaths;
}

int RestApi::weight(std::string_view path, const HttpRequest& request) {
  if (path == kPing || path == kTime) return 1;
  if (path == kExchangeInfo) return 20;
  if (path == kKlines || path == kUiKlines) return 2;
  if (path == kAggTrades) return 4;
  if (path == kTrades || path == kHistoricalTrades) return 25;
  if (path == kDepth) {
    std::int64_t limit = 100;
    if (auto text = request.query_param("limit"); text && is_digits(*text) && text->size() <= 18) {
      limit = std::stoll(std::string(*text));
    }
    limit = std::min<std::int64_t>(limit, kMaxDepthLimit);
    if (limit <= 100) return 5;
    if (limit <= 500) return 25;
    if (limit <= 1000) return 50;
    return 250;
  }
  return 1;
}

HttpResponse RestApi::handle(std::string_view path, const HttpRequest& request,
                             std::int64_t weight_limit) const {
  if (path == kPing) return ping(request);
  if (path == kTime) return time(request);
  if (path == kExchangeInfo) return exchange_info(request, weight_limit);
  if (path == kKlines || path == kUiKlines) return klines(request);
  if (path == kAggTrades) return agg_trades(request);
  if (path == kTrades) return trades(request, false);
  if (path == kHistoricalTrades) return trades(request, true);
  if (path == kDepth) return depth(request);
  return binance_error(404, -1000, "Unknown endpoint.");
}

HttpResponse RestApi::ping(const HttpRequest& request) const {
  if (auto error = Query(request).check_names({})) return error_response(*error);
  return json_response("{}");
}

HttpResponse RestApi::time(const HttpRequest& request) const {
  if (auto error = Query(request).check_names({})) return error_response(*error);
  auto microseconds = wants_microseconds(request);
  if (!microseconds) return error_response(microseconds.error());
  runtime::JsonWriter json;
  json.begin_object().field("serverTime", response_time(now_micros(), *microseconds)).end_object();
  return json_response(json.take());
}

HttpResponse RestApi::exchange_info(const HttpRequest& request, std::int64_t weight_limit) const {
  const Query query(request);
  if (auto error = query.check_names(
          {"symbol", "symbols", "permissions", "showPermissionSets", "symbolStatus"})) {
    return error_response(*error);
  }
  auto microseconds = wants_microseconds(request);
  if (!microseconds) return error_response(microseconds.error());
  const auto symbol = query.get("symbol");
  const auto symbols = query.get("symbols");
  const auto permissions = query.get("permissions");
  if ((symbol && symbols) || (permissions && (symbol || symbols))) {
    return error_response(bad_combination());
  }
  if (auto show = query.get("showPermissionSets"); show && *show != "true" && *show != "false") {
    return error_response(illegal_chars("showPermissionSets", kBoolRange));
  }
  auto status = optional_symbol_status(query);
  if (!status) return error_response(status.error());

  const ExchangeInfoData& info = data_.exchange_info();
  std::string selected;
  const std::string* symbols_json = &info.all_symbols_json;
  if (symbol || symbols) {
    std::vector<std::string_view> names;
    if (symbol) {
      if (symbol->empty()) return error_response(empty_param("symbol"));
      if (!is_symbol_text(*symbol)) return error_response(illegal_chars("symbol", kSymbolRange));
      names.push_back(*symbol);
    } else {
      auto list = symbol_list(*symbols);
      if (!list) return error_response(list.error());
      names = std::move(list).value();
      std::set<std::string_view> unique(names.begin(), names.end());
      if (unique.size() != names.size()) {
        return error_response({-1151, "Symbol is present multiple times in the list."});
      }
    }
    selected = "[";
    for (std::size_t i = 0; i < names.size(); ++i) {
      const SymbolInfoEntry* entry = info.find(names[i]);
      if (!entry) return error_response(invalid_symbol());
      if (*status && entry->status != **status) return error_response(status_mismatch());
      if (i > 0) selected.push_back(',');
      selected.append(entry->json);
    }
    selected.push_back(']');
    symbols_json = &selected;
  } else if (permissions || *status) {
    const auto wanted = permissions ? permission_list(*permissions) : std::vector<std::string>();
    selected = "[";
    bool first = true;
    for (const SymbolInfoEntry& entry : info.symbols) {
      if (*status && entry.status != **status) continue;
      if (permissions && !has_any_permission(entry, wanted)) continue;
      if (!first) selected.push_back(',');
      first = false;
      selected.append(entry.json);
    }
    selected.push_back(']');
    symbols_json = &selected;
  }

  std::string body;
  body.reserve(symbols_json->size() + info.exchange_filters_json.size() + 512);
  runtime::JsonWriter json(body);
  json.begin_object()
      .field("timezone", "UTC")
      .field("serverTime", response_time(now_micros(), *microseconds));
  json.key("rateLimits").begin_array();
  // The weight limit is the one this simulator enforces; the others are Binance's (2026).
  json.begin_object()
      .field("rateLimitType", "REQUEST_WEIGHT")
      .field("interval", "MINUTE")
      .field("intervalNum", 1)
      .field("limit", weight_limit)
      .end_object();
  json.begin_object()
      .field("rateLimitType", "ORDERS")
      .field("interval", "SECOND")
      .field("intervalNum", 10)
      .field("limit", 100)
      .end_object();
  json.begin_object()
      .field("rateLimitType", "ORDERS")
      .field("interval", "DAY")
      .field("intervalNum", 1)
      .field("limit", 200000)
      .end_object();
  json.begin_object()
      .field("rateLimitType", "RAW_REQUESTS")
      .field("interval", "MINUTE")
      .field("intervalNum", 5)
      .field("limit", 300000)
      .end_object();
  json.end_array();
  json.field_raw("exchangeFilters", info.exchange_filters_json);
  json.field_raw("symbols", *symbols_json);
  json.end_object();
  return json_response(std::move(body));
}

HttpResponse RestApi::klines(const HttpRequest& request) const {
  const Query query(request);
  if (auto error =
          query.check_names({"symbol", "interval", "startTime", "endTime", "timeZone", "limit"})) {
    return error_response(*error);
  }
  auto symbol = required_symbol(query);
  if (!symbol) return error_response(symbol.error());
  auto interval_text = query.get("interval");
  if (!interval_text || interval_text->empty()) {
    return error_response(mandatory_missing("interval"));
  }
  auto interval = rest_interval(*interval_text);
  if (!interval) return error_response({-1120, "Invalid interval."});
  auto start = optional_time(query, "startTime");
  if (!start) return error_response(start.error());
  auto end = optional_time(query, "endTime");
  if (!end) return error_response(end.error());
  if (auto zone = query.get("timeZone")) {
    auto minutes = time_zone_minutes(*zone);
    if (!minutes) return error_response(invalid_data("timeZone"));
    // Bars in another time zone would have to be re-aggregated from finer data, which the
    // recordings may not have: only UTC is served.
    if (*minutes != 0) {
      return error_response(
          {-1130,
           "Data sent for parameter 'timeZone' is not valid: exchange-sim serves UTC "
           "klines only (timeZone=0)."});
    }
  }
  auto limit = limit_param(query, 500, 1000);
  if (!limit) return error_response(limit.error());
  auto microseconds = wants_microseconds(request);
  if (!microseconds) return error_response(microseconds.error());
  if (!data_.knows_symbol(*symbol)) return error_response(invalid_symbol());
  const auto* rows = data_.klines(*symbol, *interval);
  const auto series = rows ? std::span<const SeriesRow>(*rows) : std::span<const SeriesRow>();
  const RowSpan span = select_by_time(series, *start, *end, *limit);
  return json_response(render_rows(series, span, *microseconds));
}

HttpResponse RestApi::agg_trades(const HttpRequest& request) const {
  const Query query(request);
  if (auto error = query.check_names({"symbol", "fromId", "startTime", "endTime", "limit"})) {
    return error_response(*error);
  }
  auto symbol = required_symbol(query);
  if (!symbol) return error_response(symbol.error());
  auto from_id = optional_long(query, "fromId");
  if (!from_id) return error_response(from_id.error());
  auto start = optional_time(query, "startTime");
  if (!start) return error_response(start.error());
  auto end = optional_time(query, "endTime");
  if (!end) return error_response(end.error());
  // Paging is either by id or by time, never both.
  if (*from_id && (*start || *end)) return error_response(bad_combination());
  auto limit = limit_param(query, 500, 1000);
  if (!limit) return error_response(limit.error());
  auto microseconds = wants_microseconds(request);
  if (!microseconds) return error_response(microseconds.error());
  // A symbol with replayed trades is known even without data files.
  const auto live = trade_source_ ? trade_source_(*symbol, true) : std::nullopt;
  if (!live && !data_.knows_symbol(*symbol)) return error_response(invalid_symbol());
  const auto* rows = live ? nullptr : data_.agg_trades(*symbol);
  const auto series =
      live ? *live : (rows ? std::span<const SeriesRow>(*rows) : std::span<const SeriesRow>());
  const RowSpan span = *from_id ? select_from_id(series, **from_id, *limit)
                                : select_by_time(series, *start, *end, *limit);
  return json_response(render_rows(series, span, *microseconds));
}

HttpResponse RestApi::trades(const HttpRequest& request, bool historical) const {
  const Query query(request);
  auto names_error = historical ? query.check_names({"symbol", "limit", "fromId"})
                                : query.check_names({"symbol", "limit"});
  if (names_error) return error_response(*names_error);
  auto symbol = required_symbol(query);
  if (!symbol) return error_response(symbol.error());
  std::optional<std::int64_t> from_id;
  if (historical) {
    auto parsed = optional_long(query, "fromId");
    if (!parsed) return error_response(parsed.error());
    from_id = *parsed;
  }
  auto limit = limit_param(query, 500, 1000);
  if (!limit) return error_response(limit.error());
  auto microseconds = wants_microseconds(request);
  if (!microseconds) return error_response(microseconds.error());
  const auto live = trade_source_ ? trade_source_(*symbol, false) : std::nullopt;
  if (!live && !data_.knows_symbol(*symbol)) return error_response(invalid_symbol());
  const auto* rows = live ? nullptr : data_.trades(*symbol);
  const auto series =
      live ? *live : (rows ? std::span<const SeriesRow>(*rows) : std::span<const SeriesRow>());
  const RowSpan span = from_id ? select_from_id(series, *from_id, *limit)
                               : select_by_time(series, std::nullopt, std::nullopt, *limit);
  return json_response(render_rows(series, span, *microseconds));
}

HttpResponse RestApi::depth(const HttpRequest& request) const {
  const Query query(request);
  if (auto error = query.check_names({"symbol", "limit", "symbolStatus"})) {
    return error_response(*error);
  }
  auto symbol = required_symbol(query);
  if (!symbol) return error_response(symbol.error());
  auto limit = limit_param(query, 100, kMaxDepthLimit);
  if (!limit) return error_response(limit.error());
  auto status = optional_symbol_status(query);
  if (!status) return error_response(status.error());
  // A symbol with a replayed book is known even without data files.
  std::optional<std::string> live =
      depth_source_ ? depth_source_(*symbol, *limit) : std::optional<std::string>();
  if (!live && !data_.knows_symbol(*symbol)) return error_response(invalid_symbol());
  if (*status) {
    // Symbols known only from data files (no exchangeInfo entry) count as TRADING.
    const SymbolInfoEntry* entry = data_.exchange_info().find(*symbol);
    const std::string_view actual = entry ? std::string_view(entry->status) : "TRADING";
    if (actual != **status) return error_response(status_mismatch());
  }
  if (live) return json_response(std::move(*live));
  // Without a recorded snapshot the book is empty but well-formed (lastUpdateId 0).
  const DepthBook* book = data_.depth(*symbol);
  std::string body = "{\"lastUpdateId\":";
  body.append(std::to_string(book ? book->last_update_id : 0));
  auto append_side = [&](std::string_view key, const std::vector<std::string>* levels) {
    body.append(",\"").append(key).append("\":[");
    if (levels) {
      const std::size_t count = std::min(*limit, levels->size());
      for (std::size_t i = 0; i < count; ++i) {
        if (i > 0) body.push_back(',');
        body.append((*levels)[i]);
      }
    }
    body.push_back(']');
  };
  append_side("bids", book ? &book->bids : nullptr);
  append_side("asks", book ? &book->asks : nullptr);
  body.push_back('}');
  return json_response(std::move(body));
}

}  // namespace sf::services::exchange_sim
