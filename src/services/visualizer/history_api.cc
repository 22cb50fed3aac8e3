#include "services/visualizer/history_api.h"

#include <simdjson.h>

#include <charconv>
#include <limits>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/interval.h"
#include "core/symbol.h"
#include "core/time.h"
#include "core/wire.h"
#include "runtime/json_writer.h"
#include "runtime/service.h"

namespace sf::services::visualizer {
namespace {

constexpr std::int64_t kDefaultLimit = 500;
constexpr std::int64_t kMaxLimit = 5000;
constexpr TimestampUs kDefaultSpan = 24LL * 3600 * 1'000'000;

runtime::HttpResponse bad(std::string_view field, std::string_view what) {
  std::string out;
  runtime::JsonWriter j(out);
  j.begin_object().field("error", "invalid request").key("fields").begin_object();
  j.field(field, what).end_object().end_object();
  return runtime::HttpResponse::json(400, out);
}

// Unix milliseconds or YYYY-MM-DD.
std::optional<TimestampUs> parse_time(const std::string& text) {
  TimestampUs day = 0;
  if (parse_date(text, &day)) return day;
  std::int64_t ms = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
  if (ec != std::errc() || p != text.data() + text.size() || ms < 0 || ms > 32503680000000LL)
    return std::nullopt;
  return ms * 1000;
}

struct Query {
  Symbol symbol;
  std::optional<Interval> interval;
  std::string name;
  store::TimeRange range;
  std::size_t limit = kDefaultLimit;
};

// The query parameters `allowed` names, checked; a 400 naming the first bad one.
std::variant<Query, runtime::HttpResponse> parse_query(const runtime::HttpRequest& r,
                                                       bool with_interval, bool with_name) {
  for (const auto& [k, v] : r.query) {
    const bool known = k == "symbol" || k == "from" || k == "to" || k == "limit" ||
                       (with_interval && k == "interval") || (with_name && k == "name");
    if (!known) return bad(k, "unknown query parameter");
  }
  const auto symbol_text = r.query_param("symbol");
  if (!symbol_text) return bad("symbol", "required, e.g. BTCUSDT");
  auto symbol = Symbol::parse(*symbol_text);
  if (!symbol) return bad("symbol", "not a symbol");
  Query q{*symbol, std::nullopt, {}, {}, static_cast<std::size_t>(kDefaultLimit)};
  if (with_interval) {
    const auto text = r.query_param("interval");
    if (!text) return bad("interval", "required, e.g. 5m");
    q.interval = parse_interval(*text);
    if (!q.interval) return bad("interval", "not an interval (1s, 1m, 5m, 1h, 1d, ...)");
  }
  if (with_name) {
    const auto text = r.query_param("name");
    if (!text || text->empty() || text->size() > 64) return bad("name", "required, e.g. rsi_14");
    q.name = std::string(*text);
  }
  q.range.to = now_micros();
  if (auto to = r.query_param("to")) {
    auto t = parse_time(std::string(*to));
    if (!t) return bad("to", "unix milliseconds or YYYY-MM-DD");
    q.range.to = *t;
  }
  q.range.from = q.range.to - kDefaultSpan;
  if (auto from = r.query_param("from")) {
    auto t = parse_time(std::string(*from));
    if (!t) return bad("from", "unix milliseconds or YYYY-MM-DD");
    q.range.from = *t;
  }
  if (q.range.from >= q.range.to) return bad("from", "must be before to");
  const auto limit = int_param(r, "limit", kDefaultLimit, 1, kMaxLimit);
  if (!limit) return bad("limit", "an integer in 1..5000");
  q.limit = static_cast<std::size_t>(*limit);
  return q;
}

// Whether the store knows `symbol`: some market record of it is stored, or some workflow (any
// status) was started for it (its `symbol` parameter names it; a comma-separated list for
// multi-symbol templates). A store that cannot tell knows every symbol.
bool store_knows_symbol(store::Store& store, const Symbol& symbol) {
  if (auto stored = store.has_symbol(symbol); !stored || !stored->has_value() || **stored)
    return true;
  auto workflows = store.workflows();
  if (!workflows) return true;  // cannot tell: not a 404
  simdjson::dom::parser parser;
  for (const auto& w : *workflows) {
    simdjson::dom::element doc;
    std::string_view symbols;
    if (parser.parse(w.definition).get(doc) || doc["params"]["symbol"].get_string().get(symbols))
      continue;
    for (const auto& s : runtime::split_list(std::string(symbols)))
      if (const auto parsed = Symbol::parse(s); parsed && *parsed == symbol) return true;
  }
  return false;
}

// An empty answer for a symbol that nothing in this store has ever loaded is a 404 (a typo, or
// the wrong store), not an empty chart; found records always answer 200.
runtime::HttpResponse unknown_symbol(const Symbol& symbol) {
  std::string out;
  runtime::JsonWriter j(out);
  j.begin_object()
      .field("error", "unknown symbol")
      .field("symbol", symbol.view())
      .field("message",
             "no records and no workflow for this symbol in this store; "
             "GET /api/v1/market/sources lists the live ones, GET /queues the workflows")
      .end_object();
  return runtime::HttpResponse::json(404, out);
}

// The newest `limit` of `records` (time order kept) as the response body.
template <class Record>
runtime::HttpResponse reply(const Query& q, const std::vector<Record>& records) {
  const std::size_t first = records.size() > q.limit ? records.size() - q.limit : 0;
  std::string out = R"({"symbol":")";
  out += q.symbol.view();
  out += R"(","count":)" + std::to_string(records.size() - first) + R"(,"records":[)";
  for (std::size_t i = first; i < records.size(); ++i) {
    if (i > first) out += ',';
    wire::encode(records[i], out);
  }
  out += "]}";
  return runtime::HttpResponse::json(200, out);
}

runtime::HttpResponse store_failed(const store::StoreError& e) {
  return runtime::HttpResponse::error(500, "store read failed: " + e.message);
}

// GET `path`: the query checked (with or without interval and name), then `read(query)` from the
// store, the newest `limit` of it as the body.
template <class Read>
void history_route(runtime::HttpServer& server, store::Store& store, std::string path,
                   bool with_interval, bool with_name, Read read) {
  server.route("GET", std::move(path), [=, &store](const runtime::HttpRequest& r) {
    auto parsed = parse_query(r, with_interval, with_name);
    if (auto* error = std::get_if<runtime::HttpResponse>(&parsed)) return *error;
    const Query& q = std::get<Query>(parsed);
    auto rows = read(q);
    if (!rows) return store_failed(rows.error());
    if (rows->empty() && !store_knows_symbol(store, q.symbol)) return unknown_symbol(q.symbol);
    return reply(q, *rows);
  });
}

// GET /api/v1/history/book?symbol=S[&from_id=A][&to_id=B][&limit=N]: stored order-book snapshots
// by update id (the store keys them so), the newest N (default 10).
runtime::HttpResponse book_history(store::Store& store, const runtime::HttpRequest& r) {
  for (const auto& [k, v] : r.query)
    if (k != "symbol" && k != "from_id" && k != "to_id" && k != "limit")
      return bad(k, "unknown query parameter");
  const auto symbol_text = r.query_param("symbol");
  if (!symbol_text) return bad("symbol", "required, e.g. BTCUSDT");
  auto symbol = Symbol::parse(*symbol_text);
  if (!symbol) return bad("symbol", "not a symbol");
  constexpr auto kMaxId = std::numeric_limits<std::int64_t>::max();
  auto from_id = int_param(r, "from_id", 0, 0, kMaxId);
  if (!from_id) return bad("from_id", "a non-negative update id");
  auto to_id = int_param(r, "to_id", kMaxId, 0, kMaxId);
  if (!to_id) return bad("to_id", "a non-negative update id");
  if (*from_id > *to_id) return bad("from_id", "must not be above to_id");
  auto limit = int_param(r, "limit", 10, 1, kMaxLimit);
  if (!limit) return bad("limit", "an integer in 1..5000");
  auto rows = store.depth_snapshots(*symbol, *from_id, *to_id);
  if (!rows) return store_failed(rows.error());
  if (rows->empty() && !store_knows_symbol(store, *symbol)) return unknown_symbol(*symbol);
  Query q{*symbol, std::nullopt, {}, {}, static_cast<std::size_t>(*limit)};
  return reply(q, *rows);
}

}  // namespace

std::optional<std::int64_t> int_param(const runtime::HttpRequest& r, std::string_view key,
                                      std::int64_t fallback, std::int64_t lo, std::int64_t hi) {
  auto text = r.query_param(key);
  if (!text) return fallback;
  std::int64_t n = 0;
  auto [p, ec] = std::from_chars(text->data(), text->data() + text->size(), n);
  if (ec != std::errc() || p != text->data() + text->size() || n < lo || n > hi)
    return std::nullopt;
  return n;
}

void install_history_routes(runtime::HttpServer& server, store::Store& store) {
  history_route(server, store, "/api/v1/history/candles", true, false,
                [&store](const Query& q) { return store.candles(q.symbol, *q.interval, q.range); });
  history_route(server, store, "/api/v1/history/trades", false, false,
                [&store](const Query& q) { return store.trades(q.symbol, q.range); });
  history_route(server, store, "/api/v1/history/agg-trades", false, false,
                [&store](const Query& q) { return store.agg_trades(q.symbol, q.range); });
  history_route(server, store, "/api/v1/history/indicators", true, true, [&store](const Query& q) {
    return store.indicators(q.symbol, *q.interval, q.name, q.range);
  });
  server.route("GET", "/api/v1/history/book",
               [&store](const runtime::HttpRequest& r) { return book_history(store, r); });
}

}  // namespace sf::services::visualizer
