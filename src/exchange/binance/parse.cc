#include "exchange/binance/parse.h"

#include <array>
#include <charconv>
#include <cstring>

#include "core/json_balance.h"

namespace sf::binance {
namespace {

namespace od = simdjson::ondemand;

// The field readers sit on the per-message hot path; inlining them lets the compiler keep the
// on-demand iterator in registers (measured: 560 -> see BENCHMARKS.md).
#define SF_INLINE __attribute__((always_inline)) inline

ParseError make_error(ParseErrc code, std::string_view field, std::string_view reason) {
  return ParseError{code, std::string(field), std::string(reason)};
}

ParseError json_error(simdjson::error_code ec, std::string_view field = {}) {
  if (ec == simdjson::INCORRECT_TYPE || ec == simdjson::NUMBER_ERROR)
    return make_error(ParseErrc::kWrongType, field, simdjson::error_message(ec));
  if (ec == simdjson::NUMBER_OUT_OF_RANGE)
    return make_error(ParseErrc::kBadValue, field, "integer out of 64-bit range");
  return make_error(ParseErrc::kMalformedJson, field, simdjson::error_message(ec));
}

std::string_view trim_right(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// Field readers. Each returns false and fills *err on failure.
class Reader {
 public:
  ParseError error{ParseErrc::kMalformedJson, {}, {}};

  bool fail(ParseErrc code, std::string_view field, std::string_view reason) {
    error = make_error(code, field, reason);
    return false;
  }
  bool fail_json(simdjson::error_code ec, std::string_view field) {
    error = json_error(ec, field);
    return false;
  }

  // A decimal that Binance sends as a JSON string ("61837.63000000"). With allow_number, a JSON
  // number is read from its exact text (OHLCV dumps such as freqtrade's write numbers).
  SF_INLINE bool decimal(od::value& v, std::string_view field, Decimal* out, bool allow_number = false) {
    std::string_view tok = trim_right(v.raw_json_token());
    if (tok.size() >= 2 && tok.front() == '"' && tok.back() == '"') {
      tok = tok.substr(1, tok.size() - 2);
    } else if (!allow_number || tok.empty() || !(tok[0] == '-' || (tok[0] >= '0' && tok[0] <= '9'))) {
      return fail(ParseErrc::kWrongType, field, "expected a decimal string");
    }
    auto d = Decimal::parse(tok);
    if (!d) return fail(ParseErrc::kBadValue, field, to_string(d.error()));
    *out = d.value();
    return true;
  }

  SF_INLINE bool integer(od::value& v, std::string_view field, std::int64_t* out) {
    if (auto ec = v.get_int64().get(*out)) {
      // simdjson reports integers beyond 64 bits as a type error; they are a bad value.
      std::string_view tok = trim_right(v.raw_json_token());
      bool digits = !tok.empty();
      for (char c : tok.substr(tok[0] == '-' ? 1 : 0)) digits = digits && c >= '0' && c <= '9';
      if (digits) return fail(ParseErrc::kBadValue, field, "integer out of 64-bit range");
      return fail_json(ec, field);
    }
    return true;
  }

  SF_INLINE bool time(od::value& v, std::string_view field, TimeUnit unit, TimestampUs* out) {
    std::int64_t raw = 0;
    if (!integer(v, field, &raw)) return false;
    *out = to_micros(raw, unit);
    return true;
  }

  SF_INLINE bool boolean(od::value& v, std::string_view field, bool* out) {
    if (auto ec = v.get_bool().get(*out)) return fail_json(ec, field);
    return true;
  }

  SF_INLINE bool string(od::value& v, std::string_view field, std::string_view* out) {
    if (auto ec = v.get_string().get(*out)) return fail_json(ec, field);
    return true;
  }

  SF_INLINE bool symbol(od::value& v, std::string_view field, Symbol* out) {
    std::string_view s;
    if (!string(v, field, &s)) return false;
    auto sym = Symbol::parse(s);
    if (!sym) return fail(ParseErrc::kBadValue, field, "invalid symbol");
    *out = *sym;
    return true;
  }

  // [["price","qty"], ...]
  bool levels(od::value& v, std::string_view field, std::vector<PriceLevel>* out) {
    od::array arr;
    if (auto ec = v.get_array().get(arr)) return fail_json(ec, field);
    for (auto item : arr) {
      od::array pair;
      if (auto ec = item.get_array().get(pair)) return fail_json(ec, field);
      PriceLevel level;
      int n = 0;
      for (auto x : pair) {
        od::value xv;
        if (auto ec = x.get(xv)) return fail_json(ec, field);
        if (n == 0 && !decimal(xv, field, &level.price)) return false;
        if (n == 1 && !decimal(xv, field, &level.quantity)) return false;
        ++n;
      }
      if (n != 2) return fail(ParseErrc::kBadValue, field, "a level must be [price, quantity]");
      out->push_back(level);
    }
    return true;
  }
};

// Required keys seen while iterating an object, checked at the end.
class Required {
 public:
  Required(std::initializer_list<const char*> keys) {
    for (const char* k : keys) keys_[count_++] = k;
  }
  void see(std::size_t i) { seen_ |= (1u << i); }
  // Returns the first missing key, or nullptr.
  const char* missing() const {
    for (std::size_t i = 0; i < count_; ++i)
      if (!(seen_ & (1u << i))) return keys_[i];
    return nullptr;
  }

 private:
  std::array<const char*, 16> keys_{};
  std::size_t count_ = 0;
  std::uint32_t seen_ = 0;
};

// Single-character keys dominate Binance payloads; compare cheaply.
inline bool key_is(std::string_view key, char c) { return key.size() == 1 && key[0] == c; }

// A key as it appears in the input, without copying. Binance keys never contain escapes; a key
// that does is unescaped the slow way.
template <class Field>
simdjson::error_code read_key(Field& field, std::string_view* out) {
  od::raw_json_string raw;
  if constexpr (std::is_same_v<Field, od::field>) {
    raw = field.key();
  } else {
    if (auto ec = field.key().get(raw)) return ec;
  }
  const char* begin = raw.raw();
  const char* p = begin;
  while (*p != '"' && *p != '\\') ++p;
  if (*p == '"') {
    *out = std::string_view(begin, static_cast<std::size_t>(p - begin));
    return simdjson::SUCCESS;
  }
  return field.unescaped_key().get(*out);
}

// The event type, read from the raw text: Binance writes "e" first, so a scan for "e":" finds it
// without a keyed lookup. The per-type parser checks "e" again, so a wrong guess is an error,
// never a wrong event.
std::string_view sniff_event_type(std::string_view frame) {
  auto p = frame.find("\"e\":\"");
  if (p == std::string_view::npos) return {};
  auto start = p + 5;
  auto end = frame.find('"', start);
  if (end == std::string_view::npos) return {};
  return frame.substr(start, end - start);
}

// Checks an "e" value against the type being parsed.
bool check_event_type(Reader& r, od::value& v, std::string_view expected) {
  std::string_view e;
  if (!r.string(v, "e", &e)) return false;
  if (e != expected) return r.fail(ParseErrc::kBadValue, "e", "event type changed while parsing");
  return true;
}

template <class T>
ParseResult<T> missing_field(const char* key) {
  return unexpected(make_error(ParseErrc::kMissingField, key, "missing required field"));
}

ParseResult<MarketEvent> parse_trade_object(od::object& obj, Reader& r, TimestampUs recv) {
  Symbol symbol;
  std::int64_t id = 0;
  Decimal price, qty;
  TimestampUs event_time = 0, trade_time = 0;
  bool maker = false, best = false, has_best = false;
  Required req{"s", "t", "p", "q", "T", "m"};
  for (auto field_result : obj) {
    // Work on the field in place: copying on-demand values costs store-forwarding stalls.
    if (auto ec = field_result.error()) return unexpected(json_error(ec));
    od::field& field = field_result.value_unsafe();
    std::string_view key;
    if (auto ec = read_key(field, &key)) return unexpected(json_error(ec));
    od::value& v = field.value();
    if (key.size() != 1) continue;
    switch (key[0]) {
      case 's': if (!r.symbol(v, key, &symbol)) return unexpected(r.error); req.see(0); break;
      case 't': if (!r.integer(v, key, &id)) return unexpected(r.error); req.see(1); break;
      case 'p': if (!r.decimal(v, key, &price)) return unexpected(r.error); req.see(2); break;
      case 'q': if (!r.decimal(v, key, &qty)) return unexpected(r.error); req.see(3); break;
      case 'T': if (!r.time(v, key, TimeUnit::kAuto, &trade_time)) return unexpected(r.error); req.see(4); break;
      case 'm': if (!r.boolean(v, key, &maker)) return unexpected(r.error); req.see(5); break;
      case 'E': if (!r.time(v, key, TimeUnit::kAuto, &event_time)) return unexpected(r.error); break;
      case 'M': if (!r.boolean(v, key, &best)) return unexpected(r.error); has_best = true; break;
      case 'e': if (!check_event_type(r, v, "trade")) return unexpected(r.error); break;
      default: break;  // b/a (order ids, removed 2024-06-18) are ignored
    }
  }
  if (const char* k = req.missing()) return missing_field<MarketEvent>(k);
  return MarketEvent{Trade{.symbol = symbol, .trade_id = id, .price = price, .quantity = qty,
                           .trade_time = trade_time, .event_time = event_time,
                           .receive_time = recv, .is_buyer_maker = maker,
                           .is_best_match = has_best ? std::optional<bool>(best) : std::nullopt}};
}

// aggTrade objects: WS (with e/E/s) and REST (symbol given by the caller).
ParseResult<AggTrade> parse_agg_trade_object(od::object& obj, Reader& r, const Symbol* given,
                                             TimestampUs recv, TimeUnit unit) {
  Symbol symbol = given ? *given : Symbol{};
  std::int64_t a = 0, f = 0, l = 0;
  Decimal price, qty;
  TimestampUs event_time = 0, trade_time = 0;
  bool maker = false, best = false, has_best = false, has_symbol = given != nullptr;
  Required req{"a", "p", "q", "f", "l", "T", "m"};
  for (auto field_result : obj) {
    // Work on the field in place: copying on-demand values costs store-forwarding stalls.
    if (auto ec = field_result.error()) return unexpected(json_error(ec));
    od::field& field = field_result.value_unsafe();
    std::string_view key;
    if (auto ec = read_key(field, &key)) return unexpected(json_error(ec));
    od::value& v = field.value();
    if (key.size() != 1) continue;
    switch (key[0]) {
      case 'a': if (!r.integer(v, key, &a)) return unexpected(r.error); req.see(0); break;
      case 'p': if (!r.decimal(v, key, &price)) return unexpected(r.error); req.see(1); break;
      case 'q': if (!r.decimal(v, key, &qty)) return unexpected(r.error); req.see(2); break;
      case 'f': if (!r.integer(v, key, &f)) return unexpected(r.error); req.see(3); break;
      case 'l': if (!r.integer(v, key, &l)) return unexpected(r.error); req.see(4); break;
      case 'T': if (!r.time(v, key, unit, &trade_time)) return unexpected(r.error); req.see(5); break;
      case 'm': if (!r.boolean(v, key, &maker)) return unexpected(r.error); req.see(6); break;
      case 'M': if (!r.boolean(v, key, &best)) return unexpected(r.error); has_best = true; break;
      case 'E': if (!r.time(v, key, unit, &event_time)) return unexpected(r.error); break;
      case 's': if (!r.symbol(v, key, &symbol)) return unexpected(r.error); has_symbol = true; break;
      case 'e': if (!check_event_type(r, v, "aggTrade")) return unexpected(r.error); break;
      default: break;
    }
  }
  if (const char* k = req.missing()) return missing_field<AggTrade>(k);
  if (!has_symbol) return missing_field<AggTrade>("s");
  return AggTrade{.symbol = symbol, .agg_trade_id = a, .price = price, .quantity = qty,
                  .first_trade_id = f, .last_trade_id = l, .trade_time = trade_time,
                  .event_time = event_time, .receive_time = recv, .is_buyer_maker = maker,
                  .is_best_match = has_best ? std::optional<bool>(best) : std::nullopt};
}

ParseResult<MarketEvent> parse_kline_object(od::object& obj, Reader& r, TimestampUs recv) {
  Symbol symbol;
  TimestampUs event_time = 0;
  bool have_k = false;
  // The candle itself lives in "k".
  std::optional<Interval> interval;
  TimestampUs open_time = 0, close_time = 0;
  Decimal o, h, l, c, vol, qv, tbb, tbq, ignore;
  std::int64_t n = 0, first = -1, last = -1;
  bool closed = false;
  Required req{"t", "T", "i", "o", "h", "l", "c", "v", "n", "x", "q", "V", "Q"};
  for (auto field_result : obj) {
    // Work on the field in place: copying on-demand values costs store-forwarding stalls.
    if (auto ec = field_result.error()) return unexpected(json_error(ec));
    od::field& field = field_result.value_unsafe();
    std::string_view key;
    if (auto ec = read_key(field, &key)) return unexpected(json_error(ec));
    od::value& v = field.value();
    if (key_is(key, 's')) {
      if (!r.symbol(v, key, &symbol)) return unexpected(r.error);
    } else if (key_is(key, 'E')) {
      if (!r.time(v, key, TimeUnit::kAuto, &event_time)) return unexpected(r.error);
    } else if (key_is(key, 'e')) {
      if (!check_event_type(r, v, "kline")) return unexpected(r.error);
    } else if (key_is(key, 'k')) {
      have_k = true;
      od::object k;
      if (auto ec = v.get_object().get(k)) return unexpected(json_error(ec, "k"));
      for (auto kf_result : k) {
        if (auto ec = kf_result.error()) return unexpected(json_error(ec));
        od::field& kf = kf_result.value_unsafe();
        std::string_view kk;
        if (auto ec = read_key(kf, &kk)) return unexpected(json_error(ec));
        od::value& kv = kf.value();
        if (kk.size() != 1) continue;
        bool ok = true;
        switch (kk[0]) {
          case 't': ok = r.time(kv, "k.t", TimeUnit::kAuto, &open_time); req.see(0); break;
          case 'T': ok = r.time(kv, "k.T", TimeUnit::kAuto, &close_time); req.see(1); break;
          case 'i': {
            std::string_view s;
            ok = r.string(kv, "k.i", &s);
            if (ok && !(interval = parse_interval(s)))
              ok = r.fail(ParseErrc::kBadValue, "k.i", "unknown interval");
            req.see(2);
            break;
          }
          case 'o': ok = r.decimal(kv, "k.o", &o); req.see(3); break;
          case 'h': ok = r.decimal(kv, "k.h", &h); req.see(4); break;
          case 'l': ok = r.decimal(kv, "k.l", &l); req.see(5); break;
          case 'c': ok = r.decimal(kv, "k.c", &c); req.see(6); break;
          case 'v': ok = r.decimal(kv, "k.v", &vol); req.see(7); break;
          case 'n': ok = r.integer(kv, "k.n", &n); req.see(8); break;
          case 'x': ok = r.boolean(kv, "k.x", &closed); req.see(9); break;
          case 'q': ok = r.decimal(kv, "k.q", &qv); req.see(10); break;
          case 'V': ok = r.decimal(kv, "k.V", &tbb); req.see(11); break;
          case 'Q': ok = r.decimal(kv, "k.Q", &tbq); req.see(12); break;
          case 'f': ok = r.integer(kv, "k.f", &first); break;
          case 'L': ok = r.integer(kv, "k.L", &last); break;
          case 'B': ok = r.decimal(kv, "k.B", &ignore); break;
          case 's':
            if (symbol.empty()) ok = r.symbol(kv, "k.s", &symbol);
            break;
          default: break;
        }
        if (!ok) return unexpected(r.error);
      }
    }
  }
  if (!have_k) return missing_field<MarketEvent>("k");
  if (const char* k = req.missing()) return missing_field<MarketEvent>(k);
  if (symbol.empty()) return missing_field<MarketEvent>("s");
  return MarketEvent{Candle{
      .symbol = symbol, .interval = *interval, .open_time = open_time, .open = o, .high = h,
      .low = l, .close = c, .volume = vol, .close_time = close_time, .quote_asset_volume = qv,
      .number_of_trades = n, .taker_buy_base_asset_volume = tbb,
      .taker_buy_quote_asset_volume = tbq, .ignore = ignore, .first_trade_id = first,
      .last_trade_id = last, .is_closed = closed, .event_time = event_time, .receive_time = recv}};
}

ParseResult<MarketEvent> parse_depth_update_object(od::object& obj, Reader& r, TimestampUs recv) {
  Symbol symbol;
  TimestampUs event_time = 0;
  std::int64_t U = 0, u = 0, pu = 0;
  bool has_pu = false;
  std::vector<PriceLevel> bids, asks;
  Required req{"s", "E", "U", "u", "b", "a"};
  for (auto field_result : obj) {
    // Work on the field in place: copying on-demand values costs store-forwarding stalls.
    if (auto ec = field_result.error()) return unexpected(json_error(ec));
    od::field& field = field_result.value_unsafe();
    std::string_view key;
    if (auto ec = read_key(field, &key)) return unexpected(json_error(ec));
    od::value& v = field.value();
    bool ok = true;
    if (key_is(key, 's')) { ok = r.symbol(v, key, &symbol); req.see(0); }
    else if (key_is(key, 'E')) { ok = r.time(v, key, TimeUnit::kAuto, &event_time); req.see(1); }
    else if (key_is(key, 'U')) { ok = r.integer(v, key, &U); req.see(2); }
    else if (key_is(key, 'u')) { ok = r.integer(v, key, &u); req.see(3); }
    else if (key_is(key, 'b')) { ok = r.levels(v, key, &bids); req.see(4); }
    else if (key_is(key, 'a')) { ok = r.levels(v, key, &asks); req.see(5); }
    else if (key == "pu") { ok = r.integer(v, key, &pu); has_pu = true; }
    else if (key_is(key, 'e')) { ok = check_event_type(r, v, "depthUpdate"); }
    if (!ok) return unexpected(r.error);
  }
  if (const char* k = req.missing()) return missing_field<MarketEvent>(k);
  if (U > u) return unexpected(make_error(ParseErrc::kBadValue, "U", "first update id after final update id"));
  return MarketEvent{DepthUpdate{.symbol = symbol, .event_time = event_time,
                                 .first_update_id = U, .final_update_id = u,
                                 .prev_final_update_id = has_pu ? std::optional(pu) : std::nullopt,
                                 .bids = std::move(bids), .asks = std::move(asks),
                                 .receive_time = recv}};
}

ParseResult<MarketEvent> parse_book_ticker_object(od::object& obj, Reader& r, TimestampUs recv) {
  Symbol symbol;
  std::int64_t u = 0;
  Decimal b, B, a, A;
  TimestampUs event_time = 0;
  Required req{"u", "s", "b", "B", "a", "A"};
  for (auto field_result : obj) {
    // Work on the field in place: copying on-demand values costs store-forwarding stalls.
    if (auto ec = field_result.error()) return unexpected(json_error(ec));
    od::field& field = field_result.value_unsafe();
    std::string_view key;
    if (auto ec = read_key(field, &key)) return unexpected(json_error(ec));
    od::value& v = field.value();
    if (key.size() != 1) continue;
    bool ok = true;
    switch (key[0]) {
      case 'u': ok = r.integer(v, key, &u); req.see(0); break;
      case 's': ok = r.symbol(v, key, &symbol); req.see(1); break;
      case 'b': ok = r.decimal(v, key, &b); req.see(2); break;
      case 'B': ok = r.decimal(v, key, &B); req.see(3); break;
      case 'a': ok = r.decimal(v, key, &a); req.see(4); break;
      case 'A': ok = r.decimal(v, key, &A); req.see(5); break;
      case 'E': ok = r.time(v, key, TimeUnit::kAuto, &event_time); break;
      default: break;
    }
    if (!ok) return unexpected(r.error);
  }
  if (const char* k = req.missing()) return missing_field<MarketEvent>(k);
  return MarketEvent{BookTicker{.symbol = symbol, .update_id = u, .bid_price = b,
                                .bid_quantity = B, .ask_price = a, .ask_quantity = A,
                                .event_time = event_time, .receive_time = recv}};
}

// {"lastUpdateId":..,"bids":[..],"asks":[..]}: REST depth or a partial-book stream.
ParseResult<DepthSnapshot> parse_snapshot_object(od::object& obj, Reader& r, const Symbol& symbol,
                                                 bool partial, TimestampUs recv) {
  std::int64_t last = 0;
  std::vector<PriceLevel> bids, asks;
  TimestampUs event_time = 0;
  Required req{"lastUpdateId", "bids", "asks"};
  for (auto field_result : obj) {
    // Work on the field in place: copying on-demand values costs store-forwarding stalls.
    if (auto ec = field_result.error()) return unexpected(json_error(ec));
    od::field& field = field_result.value_unsafe();
    std::string_view key;
    if (auto ec = read_key(field, &key)) return unexpected(json_error(ec));
    od::value& v = field.value();
    bool ok = true;
    if (key == "lastUpdateId") { ok = r.integer(v, key, &last); req.see(0); }
    else if (key == "bids") { ok = r.levels(v, key, &bids); req.see(1); }
    else if (key == "asks") { ok = r.levels(v, key, &asks); req.see(2); }
    else if (key == "E") { ok = r.time(v, key, TimeUnit::kAuto, &event_time); }
    if (!ok) return unexpected(r.error);
  }
  if (const char* k = req.missing()) return missing_field<DepthSnapshot>(k);
  return DepthSnapshot{.symbol = symbol, .last_update_id = last, .bids = std::move(bids),
                       .asks = std::move(asks), .is_partial = partial, .event_time = event_time,
                       .receive_time = recv};
}

// On Demand iteration of outside input, refused when its structure does not balance (see
// core/json_balance.h: simdjson 3.0 would read past the end).
simdjson::error_code iterate_checked(od::parser& parser, simdjson::padded_string_view text,
                                     od::document& doc) {
  if (!json_balanced(std::string_view(text.data(), text.size()))) return simdjson::TAPE_ERROR;
  return parser.iterate(text).get(doc);
}

// Dispatches a WS payload object by its `e` (or, lacking one, by its shape).
ParseResult<MarketEvent> parse_event_object(od::object& obj, Reader& r, TimestampUs recv,
                                            const StreamName* stream, const Symbol* hint,
                                            std::string_view sniffed) {
  if (sniffed == "trade") return parse_trade_object(obj, r, recv);
  if (sniffed == "depthUpdate") return parse_depth_update_object(obj, r, recv);
  std::string_view e;
  auto found = obj.find_field_unordered("e");
  od::value ev;
  bool has_e = found.get(ev) == simdjson::SUCCESS;
  if (has_e) {
    if (auto ec = ev.get_string().get(e)) return unexpected(json_error(ec, "e"));
  }
  if (auto ec = obj.reset().error()) return unexpected(json_error(ec));
  if (has_e) {
    if (e == "trade") return parse_trade_object(obj, r, recv);
    if (e == "aggTrade") {
      auto t = parse_agg_trade_object(obj, r, nullptr, recv, TimeUnit::kAuto);
      if (!t) return unexpected(t.error());
      return MarketEvent{std::move(t).value()};
    }
    if (e == "kline") return parse_kline_object(obj, r, recv);
    if (e == "depthUpdate") return parse_depth_update_object(obj, r, recv);
    if (e == "bookTicker") return parse_book_ticker_object(obj, r, recv);  // futures form
    return unexpected(make_error(ParseErrc::kUnknownEvent, "e",
                                 "event type '" + std::string(e) + "' is not normalised"));
  }
  // No `e`: spot bookTicker ({u,s,b,B,a,A}) or partial depth ({lastUpdateId,bids,asks}).
  bool is_snapshot = false, is_ticker = false;
  {
    od::value probe;
    if (obj.find_field_unordered("lastUpdateId").get(probe) == simdjson::SUCCESS) is_snapshot = true;
    if (auto ec = obj.reset().error()) return unexpected(json_error(ec));
    if (!is_snapshot && obj.find_field_unordered("u").get(probe) == simdjson::SUCCESS) is_ticker = true;
    if (auto ec = obj.reset().error()) return unexpected(json_error(ec));
  }
  if (is_ticker) return parse_book_ticker_object(obj, r, recv);
  if (is_snapshot) {
    const Symbol* sym = stream ? &stream->symbol : hint;
    if (!sym) return missing_field<MarketEvent>("s");  // raw partial depth: symbol unknown
    auto snap = parse_snapshot_object(obj, r, *sym, true, recv);
    if (!snap) return unexpected(snap.error());
    return MarketEvent{std::move(snap).value()};
  }
  return unexpected(make_error(ParseErrc::kUnknownEvent, "e", "frame has no event type"));
}

// Splits a CSV row into exactly N columns.
template <std::size_t N>
bool split_csv(std::string_view line, std::array<std::string_view, N>* cols, std::size_t* count) {
  line = trim_right(line);
  std::size_t n = 0, start = 0;
  for (std::size_t i = 0; i <= line.size(); ++i) {
    if (i == line.size() || line[i] == ',') {
      if (n == N) {
        *count = N + 1;
        return false;
      }
      (*cols)[n++] = line.substr(start, i - start);
      start = i + 1;
    }
  }
  *count = n;
  return n == N;
}

ParseError csv_error(std::size_t column, std::string_view reason) {
  return make_error(ParseErrc::kBadCsv, "column " + std::to_string(column), reason);
}

bool csv_int(std::string_view s, std::int64_t* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool csv_bool(std::string_view s, bool* out) {
  if (s == "True" || s == "true") return *out = true, true;
  if (s == "False" || s == "false") return *out = false, true;
  return false;
}

}  // namespace

const char* to_string(ParseErrc e) {
  switch (e) {
    case ParseErrc::kMalformedJson: return "malformed_json";
    case ParseErrc::kMissingField: return "missing_field";
    case ParseErrc::kWrongType: return "wrong_type";
    case ParseErrc::kBadValue: return "bad_value";
    case ParseErrc::kUnknownEvent: return "unknown_event";
    case ParseErrc::kBadCsv: return "bad_csv";
  }
  return "unknown";
}

std::string ParseError::message() const {
  if (field.empty()) return std::string(to_string(code)) + ": " + reason;
  return std::string(to_string(code)) + ": field '" + field + "': " + reason;
}

std::optional<StreamName> parse_stream_name(std::string_view stream) {
  auto at = stream.find('@');
  if (at == std::string_view::npos) return std::nullopt;
  auto sym = Symbol::parse(stream.substr(0, at));
  if (!sym) return std::nullopt;
  StreamName name{*sym, false};
  auto rest = stream.substr(at + 1);
  // "depth5", "depth10", "depth20" (optionally "@100ms") are partial books; "depth" is diffs.
  if (rest.size() > 5 && rest.substr(0, 5) == "depth" && rest[5] >= '0' && rest[5] <= '9')
    name.is_partial_depth = true;
  return name;
}

Parser::Parser() { scratch_.reserve(4096); }

simdjson::padded_string_view Parser::pad(std::string_view input) {
  std::size_t need = input.size() + simdjson::SIMDJSON_PADDING;
  if (scratch_.capacity() < need) scratch_.reserve(need * 2);
  scratch_.assign(input.data(), input.size());
  return simdjson::padded_string_view(scratch_.data(), scratch_.size(), scratch_.capacity());
}

ParseResult<MarketEvent> Parser::parse_ws_frame(std::string_view frame, TimestampUs receive_time,
                                                const Symbol* symbol_hint) {
  od::document doc;
  if (auto ec = iterate_checked(parser_, pad(frame), doc)) return unexpected(json_error(ec));
  od::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS)
    return unexpected(make_error(ParseErrc::kMalformedJson, "", "a frame must be a JSON object"));
  Reader r;
  const std::string_view sniffed = sniff_event_type(frame);
  // Combined stream: {"stream":"btcusdt@trade","data":{...}}; Binance sends "stream" first, so
  // one pass suffices; the rare reverse order falls back to a keyed lookup.
  bool combined = false, data_seen_first = false;
  std::optional<StreamName> name;
  std::optional<ParseResult<MarketEvent>> result;
  // A raw event whose type the sniff found starts with "e": parse it directly, without first
  // opening the object just to learn that it is not a combined frame.
  const bool raw_event = !sniffed.empty() && frame.find("{\"e\":") == frame.find('{') &&
                         frame.find('{') != std::string_view::npos;
  if (raw_event) {
    auto event = parse_event_object(obj, r, receive_time, nullptr, symbol_hint, sniffed);
    const char* trailing = nullptr;
    if (event && doc.current_location().get(trailing) == simdjson::SUCCESS)
      return unexpected(make_error(ParseErrc::kMalformedJson, "", "trailing content after the frame"));
    return event;
  }
  for (auto field_result : obj) {
    if (auto ec = field_result.error()) return unexpected(json_error(ec));
    od::field& field = field_result.value_unsafe();
    std::string_view key;
    if (auto ec = read_key(field, &key)) return unexpected(json_error(ec));
    if (!combined && key != "stream" && key != "data") break;  // a raw event
    combined = true;
    od::value& v = field.value();
    if (key == "stream") {
      std::string_view stream;
      if (auto ec = v.get_string().get(stream)) return unexpected(json_error(ec, "stream"));
      name = parse_stream_name(stream);
      if (!name) return unexpected(make_error(ParseErrc::kBadValue, "stream", "invalid stream name"));
    } else if (key == "data") {
      if (!name) {
        data_seen_first = true;
        continue;
      }
      od::object inner;
      if (auto ec = v.get_object().get(inner)) return unexpected(json_error(ec, "data"));
      result.emplace(parse_event_object(inner, r, receive_time, &*name, symbol_hint, sniffed));
      if (!*result) return std::move(*result);
    }
  }
  if (combined) {
    if (!name) return missing_field<MarketEvent>("stream");
    if (!result && data_seen_first) {
      if (auto ec = obj.reset().error()) return unexpected(json_error(ec));
      od::object inner;
      if (auto ec = obj.find_field_unordered("data").get_object().get(inner))
        return unexpected(json_error(ec, "data"));
      result.emplace(parse_event_object(inner, r, receive_time, &*name, symbol_hint, sniffed));
    }
    if (!result) return missing_field<MarketEvent>("data");
    return std::move(*result);
  }
  if (auto ec = obj.reset().error()) return unexpected(json_error(ec));
  auto event = parse_event_object(obj, r, receive_time, nullptr, symbol_hint, sniffed);
  const char* trailing = nullptr;
  if (event && doc.current_location().get(trailing) == simdjson::SUCCESS)
    return unexpected(make_error(ParseErrc::kMalformedJson, "", "trailing content after the frame"));
  return event;
}

ParseResult<std::vector<Candle>> Parser::parse_rest_klines(std::string_view body,
                                                           const Symbol& symbol, Interval interval,
                                                           TimeUnit unit) {
  od::document doc;
  if (auto ec = iterate_checked(parser_, pad(body), doc)) return unexpected(json_error(ec));
  od::array rows;
  if (auto ec = doc.get_array().get(rows)) return unexpected(json_error(ec));
  std::vector<Candle> out;
  Reader r;
  std::size_t row_index = 0;
  for (auto row_result : rows) {
    od::array row;
    if (auto ec = row_result.get_array().get(row)) return unexpected(json_error(ec, "row"));
    TimestampUs open_time = 0, close_time = 0;
    Decimal d[9];  // o h l c v qv tbb tbq ignore
    std::int64_t n = 0;
    std::size_t col = 0;
    for (auto cell_result : row) {
      od::value cell;
      if (auto ec = cell_result.get(cell)) return unexpected(json_error(ec));
      std::string name = "[" + std::to_string(row_index) + "][" + std::to_string(col) + "]";
      bool ok = true;
      switch (col) {
        case 0: ok = r.time(cell, name, unit, &open_time); break;
        case 6: ok = r.time(cell, name, unit, &close_time); break;
        case 8: ok = r.integer(cell, name, &n); break;
        case 1: case 2: case 3: case 4: case 5: ok = r.decimal(cell, name, &d[col - 1]); break;
        case 7: ok = r.decimal(cell, name, &d[5]); break;
        case 9: ok = r.decimal(cell, name, &d[6]); break;
        case 10: ok = r.decimal(cell, name, &d[7]); break;
        case 11: ok = r.decimal(cell, name, &d[8]); break;
        default: break;
      }
      if (!ok) return unexpected(r.error);
      ++col;
    }
    if (col < 12)
      return unexpected(make_error(ParseErrc::kBadValue, "[" + std::to_string(row_index) + "]",
                                   "a kline row has 12 fields, got " + std::to_string(col)));
    out.push_back(Candle{.symbol = symbol, .interval = interval, .open_time = open_time,
                         .open = d[0], .high = d[1], .low = d[2], .close = d[3], .volume = d[4],
                         .close_time = close_time, .quote_asset_volume = d[5],
                         .number_of_trades = n, .taker_buy_base_asset_volume = d[6],
                         .taker_buy_quote_asset_volume = d[7], .ignore = d[8],
                         .first_trade_id = -1, .last_trade_id = -1, .is_closed = true,
                         .event_time = 0, .receive_time = 0});
    ++row_index;
  }
  return out;
}

ParseResult<std::vector<Candle>> Parser::parse_ohlcv_rows(std::string_view body,
                                                          const Symbol& symbol, Interval interval) {
  od::document doc;
  if (auto ec = iterate_checked(parser_, pad(body), doc)) return unexpected(json_error(ec));
  od::array rows;
  if (auto ec = doc.get_array().get(rows)) return unexpected(json_error(ec));
  std::vector<Candle> out;
  Reader r;
  std::size_t row_index = 0;
  const std::int64_t length = interval_micros(interval);
  for (auto row_result : rows) {
    od::array row;
    if (auto ec = row_result.get_array().get(row)) return unexpected(json_error(ec, "row"));
    TimestampUs open_time = 0;
    Decimal d[5];
    std::size_t col = 0;
    for (auto cell_result : row) {
      od::value cell;
      if (auto ec = cell_result.get(cell)) return unexpected(json_error(ec));
      std::string name = "[" + std::to_string(row_index) + "][" + std::to_string(col) + "]";
      bool ok = true;
      if (col == 0) ok = r.time(cell, name, TimeUnit::kAuto, &open_time);
      else if (col <= 5) ok = r.decimal(cell, name, &d[col - 1], /*allow_number=*/true);
      if (!ok) return unexpected(r.error);
      ++col;
    }
    if (col != 6)
      return unexpected(make_error(ParseErrc::kBadValue, "[" + std::to_string(row_index) + "]",
                                   "an OHLCV row has 6 fields, got " + std::to_string(col)));
    out.push_back(Candle{.symbol = symbol, .interval = interval, .open_time = open_time,
                         .open = d[0], .high = d[1], .low = d[2], .close = d[3], .volume = d[4],
                         .close_time = length > 0 ? open_time + length - 1000 : open_time,
                         .quote_asset_volume = Decimal(), .number_of_trades = -1,
                         .taker_buy_base_asset_volume = Decimal(),
                         .taker_buy_quote_asset_volume = Decimal(), .ignore = Decimal(),
                         .first_trade_id = -1, .last_trade_id = -1, .is_closed = true,
                         .event_time = 0, .receive_time = 0});
    ++row_index;
  }
  return out;
}

ParseResult<std::vector<AggTrade>> Parser::parse_rest_agg_trades(std::string_view body,
                                                                 const Symbol& symbol,
                                                                 TimeUnit unit) {
  od::document doc;
  if (auto ec = iterate_checked(parser_, pad(body), doc)) return unexpected(json_error(ec));
  od::array rows;
  if (auto ec = doc.get_array().get(rows)) return unexpected(json_error(ec));
  std::vector<AggTrade> out;
  Reader r;
  for (auto row_result : rows) {
    od::object obj;
    if (auto ec = row_result.get_object().get(obj)) return unexpected(json_error(ec, "row"));
    auto t = parse_agg_trade_object(obj, r, &symbol, 0, unit);
    if (!t) return unexpected(t.error());
    out.push_back(std::move(t).value());
  }
  return out;
}

ParseResult<std::vector<Trade>> Parser::parse_rest_trades(std::string_view body,
                                                          const Symbol& symbol, TimeUnit unit) {
  od::document doc;
  if (auto ec = iterate_checked(parser_, pad(body), doc)) return unexpected(json_error(ec));
  od::array rows;
  if (auto ec = doc.get_array().get(rows)) return unexpected(json_error(ec));
  std::vector<Trade> out;
  Reader r;
  for (auto row_result : rows) {
    od::object obj;
    if (auto ec = row_result.get_object().get(obj)) return unexpected(json_error(ec, "row"));
    std::int64_t id = 0;
    Decimal price, qty;
    TimestampUs time = 0;
    bool maker = false, best = false, has_best = false;
    Required req{"id", "price", "qty", "time", "isBuyerMaker"};
    for (auto field_result : obj) {
      if (auto ec = field_result.error()) return unexpected(json_error(ec));
      od::field& field = field_result.value_unsafe();
      std::string_view key;
      if (auto ec = read_key(field, &key)) return unexpected(json_error(ec));
      od::value& v = field.value();
      bool ok = true;
      if (key == "id") { ok = r.integer(v, key, &id); req.see(0); }
      else if (key == "price") { ok = r.decimal(v, key, &price); req.see(1); }
      else if (key == "qty") { ok = r.decimal(v, key, &qty); req.see(2); }
      else if (key == "time") { ok = r.time(v, key, unit, &time); req.see(3); }
      else if (key == "isBuyerMaker") { ok = r.boolean(v, key, &maker); req.see(4); }
      else if (key == "isBestMatch") { ok = r.boolean(v, key, &best); has_best = true; }
      if (!ok) return unexpected(r.error);
    }
    if (const char* k = req.missing()) return missing_field<std::vector<Trade>>(k);
    out.push_back(Trade{.symbol = symbol, .trade_id = id, .price = price, .quantity = qty,
                        .trade_time = time, .event_time = 0, .receive_time = 0,
                        .is_buyer_maker = maker,
                        .is_best_match = has_best ? std::optional<bool>(best) : std::nullopt});
  }
  return out;
}

ParseResult<DepthSnapshot> Parser::parse_rest_depth(std::string_view body, const Symbol& symbol,
                                                    TimestampUs receive_time) {
  od::document doc;
  if (auto ec = iterate_checked(parser_, pad(body), doc)) return unexpected(json_error(ec));
  od::object obj;
  if (auto ec = doc.get_object().get(obj)) return unexpected(json_error(ec));
  Reader r;
  return parse_snapshot_object(obj, r, symbol, false, receive_time);
}

ParseResult<ApiError> Parser::parse_api_error(std::string_view body) {
  od::document doc;
  if (auto ec = iterate_checked(parser_, pad(body), doc)) return unexpected(json_error(ec));
  od::object obj;
  if (auto ec = doc.get_object().get(obj)) return unexpected(json_error(ec));
  ApiError out;
  Reader r;
  Required req{"code", "msg"};
  for (auto field_result : obj) {
    // Work on the field in place: copying on-demand values costs store-forwarding stalls.
    if (auto ec = field_result.error()) return unexpected(json_error(ec));
    od::field& field = field_result.value_unsafe();
    std::string_view key;
    if (auto ec = read_key(field, &key)) return unexpected(json_error(ec));
    od::value& v = field.value();
    if (key == "code") {
      if (!r.integer(v, key, &out.code)) return unexpected(r.error);
      req.see(0);
    } else if (key == "msg") {
      std::string_view m;
      if (!r.string(v, key, &m)) return unexpected(r.error);
      out.msg.assign(m);
      req.see(1);
    }
  }
  if (const char* k = req.missing()) return missing_field<ApiError>(k);
  return out;
}

ParseResult<ExchangeInfo> Parser::parse_exchange_info(std::string_view body) {
  od::document doc;
  if (auto ec = iterate_checked(parser_, pad(body), doc)) return unexpected(json_error(ec));
  od::object obj;
  if (auto ec = doc.get_object().get(obj)) return unexpected(json_error(ec));
  ExchangeInfo info;
  Reader r;
  bool has_symbols = false;
  for (auto field_result : obj) {
    // Work on the field in place: copying on-demand values costs store-forwarding stalls.
    if (auto ec = field_result.error()) return unexpected(json_error(ec));
    od::field& field = field_result.value_unsafe();
    std::string_view key;
    if (auto ec = read_key(field, &key)) return unexpected(json_error(ec));
    od::value& v = field.value();
    if (key == "timezone") {
      std::string_view s;
      if (!r.string(v, key, &s)) return unexpected(r.error);
      info.timezone.assign(s);
    } else if (key == "serverTime") {
      if (!r.integer(v, key, &info.server_time_ms)) return unexpected(r.error);
    } else if (key == "rateLimits") {
      od::array arr;
      if (auto ec = v.get_array().get(arr)) return unexpected(json_error(ec, key));
      for (auto item : arr) {
        od::object lo;
        if (auto ec = item.get_object().get(lo)) return unexpected(json_error(ec, key));
        RateLimit rl;
        for (auto f : lo) {
          std::string_view k;
          if (auto ec = read_key(f, &k)) return unexpected(json_error(ec));
          od::value fv;
          if (auto ec = f.value().get(fv)) return unexpected(json_error(ec, k));
          std::string_view s;
          std::int64_t n = 0;
          if (k == "rateLimitType" && r.string(fv, k, &s)) rl.type.assign(s);
          else if (k == "interval" && r.string(fv, k, &s)) rl.interval.assign(s);
          else if (k == "intervalNum" && r.integer(fv, k, &n)) rl.interval_num = static_cast<int>(n);
          else if (k == "limit" && r.integer(fv, k, &n)) rl.limit = n;
        }
        info.rate_limits.push_back(std::move(rl));
      }
    } else if (key == "symbols") {
      has_symbols = true;
      od::array arr;
      if (auto ec = v.get_array().get(arr)) return unexpected(json_error(ec, key));
      for (auto item : arr) {
        od::object so;
        if (auto ec = item.get_object().get(so)) return unexpected(json_error(ec, key));
        SymbolInfo si;
        bool has_symbol = false;
        for (auto f : so) {
          std::string_view k;
          if (auto ec = read_key(f, &k)) return unexpected(json_error(ec));
          od::value fv;
          if (auto ec = f.value().get(fv)) return unexpected(json_error(ec, k));
          std::string_view s;
          std::int64_t n = 0;
          bool ok = true;
          if (k == "symbol") { ok = r.symbol(fv, "symbols[].symbol", &si.symbol); has_symbol = ok; }
          else if (k == "status" && (ok = r.string(fv, k, &s))) si.status.assign(s);
          else if (k == "baseAsset" && (ok = r.string(fv, k, &s))) si.base_asset.assign(s);
          else if (k == "quoteAsset" && (ok = r.string(fv, k, &s))) si.quote_asset.assign(s);
          else if (k == "baseAssetPrecision" && (ok = r.integer(fv, k, &n))) si.base_asset_precision = static_cast<int>(n);
          else if (k == "quoteAssetPrecision" && (ok = r.integer(fv, k, &n))) si.quote_asset_precision = static_cast<int>(n);
          else if (k == "filters") {
            od::array filters;
            if (auto ec = fv.get_array().get(filters)) return unexpected(json_error(ec, "filters"));
            for (auto fi : filters) {
              od::object fo;
              if (auto ec = fi.get_object().get(fo)) return unexpected(json_error(ec, "filters"));
              // filterType usually comes first; read fields by name after it.
              std::string_view type;
              for (auto ff : fo) {
                std::string_view fk;
                if (auto ec = read_key(ff, &fk)) return unexpected(json_error(ec));
                od::value ffv;
                if (auto ec = ff.value().get(ffv)) return unexpected(json_error(ec, fk));
                if (fk == "filterType") {
                  if (!r.string(ffv, fk, &type)) return unexpected(r.error);
                  continue;
                }
                Decimal* target = nullptr;
                if (type == "PRICE_FILTER") {
                  if (fk == "minPrice") target = &si.min_price;
                  else if (fk == "maxPrice") target = &si.max_price;
                  else if (fk == "tickSize") target = &si.tick_size;
                } else if (type == "LOT_SIZE") {
                  if (fk == "minQty") target = &si.min_qty;
                  else if (fk == "maxQty") target = &si.max_qty;
                  else if (fk == "stepSize") target = &si.step_size;
                } else if (type == "MIN_NOTIONAL" || type == "NOTIONAL") {
                  if (fk == "minNotional") target = &si.min_notional;
                }
                if (target && !r.decimal(ffv, "filters." + std::string(fk), target))
                  return unexpected(r.error);
              }
            }
          }
          if (!ok) return unexpected(r.error);
        }
        if (!has_symbol) return missing_field<ExchangeInfo>("symbols[].symbol");
        info.symbols.push_back(std::move(si));
      }
    }
  }
  if (!has_symbols) return missing_field<ExchangeInfo>("symbols");
  return info;
}

ParseResult<Candle> parse_kline_csv(std::string_view line, const Symbol& symbol,
                                    Interval interval) {
  std::array<std::string_view, 12> c;
  std::size_t n = 0;
  if (!split_csv(line, &c, &n))
    return unexpected(make_error(ParseErrc::kBadCsv, "", "a kline row has 12 columns, got " + std::to_string(n)));
  std::int64_t open_raw = 0, close_raw = 0, trades = 0;
  if (!csv_int(c[0], &open_raw)) return unexpected(csv_error(0, "open time is not an integer"));
  if (!csv_int(c[6], &close_raw)) return unexpected(csv_error(6, "close time is not an integer"));
  if (!csv_int(c[8], &trades)) return unexpected(csv_error(8, "trade count is not an integer"));
  Decimal d[9];
  static constexpr std::size_t kDecimalColumns[9] = {1, 2, 3, 4, 5, 7, 9, 10, 11};
  for (std::size_t i = 0; i < 9; ++i) {
    auto parsed = Decimal::parse(c[kDecimalColumns[i]]);
    if (!parsed) return unexpected(csv_error(kDecimalColumns[i], to_string(parsed.error())));
    d[i] = parsed.value();
  }
  return Candle{.symbol = symbol, .interval = interval,
                .open_time = to_micros(open_raw, TimeUnit::kAuto), .open = d[0], .high = d[1],
                .low = d[2], .close = d[3], .volume = d[4],
                .close_time = to_micros(close_raw, TimeUnit::kAuto), .quote_asset_volume = d[5],
                .number_of_trades = trades, .taker_buy_base_asset_volume = d[6],
                .taker_buy_quote_asset_volume = d[7], .ignore = d[8], .first_trade_id = -1,
                .last_trade_id = -1, .is_closed = true, .event_time = 0, .receive_time = 0};
}

ParseResult<AggTrade> parse_agg_trade_csv(std::string_view line, const Symbol& symbol) {
  std::array<std::string_view, 8> c;
  std::size_t n = 0;
  if (!split_csv(line, &c, &n))
    return unexpected(make_error(ParseErrc::kBadCsv, "", "an aggTrades row has 8 columns, got " + std::to_string(n)));
  std::int64_t a = 0, f = 0, l = 0, t = 0;
  if (!csv_int(c[0], &a)) return unexpected(csv_error(0, "aggregate trade id is not an integer"));
  if (!csv_int(c[3], &f)) return unexpected(csv_error(3, "first trade id is not an integer"));
  if (!csv_int(c[4], &l)) return unexpected(csv_error(4, "last trade id is not an integer"));
  if (!csv_int(c[5], &t)) return unexpected(csv_error(5, "timestamp is not an integer"));
  auto price = Decimal::parse(c[1]);
  if (!price) return unexpected(csv_error(1, to_string(price.error())));
  auto qty = Decimal::parse(c[2]);
  if (!qty) return unexpected(csv_error(2, to_string(qty.error())));
  bool maker = false, best = false;
  if (!csv_bool(c[6], &maker)) return unexpected(csv_error(6, "expected True or False"));
  if (!csv_bool(c[7], &best)) return unexpected(csv_error(7, "expected True or False"));
  return AggTrade{.symbol = symbol, .agg_trade_id = a, .price = price.value(),
                  .quantity = qty.value(), .first_trade_id = f, .last_trade_id = l,
                  .trade_time = to_micros(t, TimeUnit::kAuto), .event_time = 0,
                  .receive_time = 0, .is_buyer_maker = maker, .is_best_match = best};
}

ParseResult<Trade> parse_trade_csv(std::string_view line, const Symbol& symbol) {
  std::array<std::string_view, 7> c;
  std::size_t n = 0;
  if (!split_csv(line, &c, &n))
    return unexpected(make_error(ParseErrc::kBadCsv, "", "a trades row has 7 columns, got " + std::to_string(n)));
  std::int64_t id = 0, t = 0;
  if (!csv_int(c[0], &id)) return unexpected(csv_error(0, "trade id is not an integer"));
  if (!csv_int(c[4], &t)) return unexpected(csv_error(4, "time is not an integer"));
  auto price = Decimal::parse(c[1]);
  if (!price) return unexpected(csv_error(1, to_string(price.error())));
  auto qty = Decimal::parse(c[2]);
  if (!qty) return unexpected(csv_error(2, to_string(qty.error())));
  if (auto quote = Decimal::parse(c[3]); !quote) return unexpected(csv_error(3, to_string(quote.error())));
  bool maker = false, best = false;
  if (!csv_bool(c[5], &maker)) return unexpected(csv_error(5, "expected True or False"));
  if (!csv_bool(c[6], &best)) return unexpected(csv_error(6, "expected True or False"));
  return Trade{.symbol = symbol, .trade_id = id, .price = price.value(), .quantity = qty.value(),
               .trade_time = to_micros(t, TimeUnit::kAuto), .event_time = 0, .receive_time = 0,
               .is_buyer_maker = maker, .is_best_match = best};
}

}  // namespace sf::binance
