#include "core/wire_decode.h"

#include <simdjson.h>

#include <array>
#include <cstring>

#include "core/json_balance.h"
#include "core/wire.h"

namespace sf::wire {
namespace {

namespace od = simdjson::ondemand;

// Every key any record type carries. One pass over the object fills the slots it finds; the
// record's type then decides which are required. Order of keys on the wire does not matter.
enum Key : std::uint8_t {
  kV,
  kType,
  kSymbol,
  kTradeId,
  kPrice,
  kQuantity,
  kTimestamp,
  kIsBuyerMaker,
  kIsBestMatch,
  kFirstTradeId,
  kLastTradeId,
  kInterval,
  kOpenTime,
  kOpen,
  kHigh,
  kLow,
  kClose,
  kVolume,
  kCloseTime,
  kQuoteVolume,
  kNumberOfTrades,
  kTakerBase,
  kTakerQuote,
  kIgnore,
  kIsClosed,
  kFirstUpdateId,
  kFinalUpdateId,
  kPrevFinalUpdateId,
  kBids,
  kAsks,
  kLastUpdateId,
  kIsPartial,
  kUpdateId,
  kBidPrice,
  kBidQuantity,
  kAskPrice,
  kAskQuantity,
  kEventTime,
  kReceiveTime,
  kFirstMissingId,
  kLastMissingId,
  kReason,
  kName,
  kValue,
  kKeyCount
};

struct KeyName {
  std::string_view name;
  Key key;
};

constexpr std::array<KeyName, kKeyCount> kKeys{{
    {"v", kV},
    {"type", kType},
    {"symbol", kSymbol},
    {"trade_id", kTradeId},
    {"price", kPrice},
    {"quantity", kQuantity},
    {"timestamp", kTimestamp},
    {"is_buyer_maker", kIsBuyerMaker},
    {"is_best_match", kIsBestMatch},
    {"first_trade_id", kFirstTradeId},
    {"last_trade_id", kLastTradeId},
    {"interval", kInterval},
    {"open_time", kOpenTime},
    {"open", kOpen},
    {"high", kHigh},
    {"low", kLow},
    {"close", kClose},
    {"volume", kVolume},
    {"close_time", kCloseTime},
    {"quote_asset_volume", kQuoteVolume},
    {"number_of_trades", kNumberOfTrades},
    {"taker_buy_base_asset_volume", kTakerBase},
    {"taker_buy_quote_asset_volume", kTakerQuote},
    {"ignore", kIgnore},
    {"is_closed", kIsClosed},
    {"first_update_id", kFirstUpdateId},
    {"final_update_id", kFinalUpdateId},
    {"prev_final_update_id", kPrevFinalUpdateId},
    {"bids", kBids},
    {"asks", kAsks},
    {"last_update_id", kLastUpdateId},
    {"is_partial", kIsPartial},
    {"update_id", kUpdateId},
    {"bid_price", kBidPrice},
    {"bid_quantity", kBidQuantity},
    {"ask_price", kAskPrice},
    {"ask_quantity", kAskQuantity},
    {"event_time", kEventTime},
    {"receive_time", kReceiveTime},
    {"first_missing_id", kFirstMissingId},
    {"last_missing_id", kLastMissingId},
    {"reason", kReason},
    {"name", kName},
    {"value", kValue},
}};

int find_key(std::string_view k) {
  for (const auto& e : kKeys)
    if (e.name == k) return e.key;
  return -1;
}

enum class Kind : std::uint8_t { kInt, kDecimal, kBool, kString, kLevels, kDouble };

constexpr Kind kind_of(Key k) {
  switch (k) {
    case kPrice:
    case kQuantity:
    case kOpen:
    case kHigh:
    case kLow:
    case kClose:
    case kVolume:
    case kQuoteVolume:
    case kTakerBase:
    case kTakerQuote:
    case kIgnore:
    case kBidPrice:
    case kBidQuantity:
    case kAskPrice:
    case kAskQuantity:
      return Kind::kDecimal;
    case kIsBuyerMaker:
    case kIsBestMatch:
    case kIsClosed:
    case kIsPartial:
      return Kind::kBool;
    case kType:
    case kSymbol:
    case kInterval:
    case kReason:
    case kName:
      return Kind::kString;
    case kBids:
    case kAsks:
      return Kind::kLevels;
    case kValue:
      return Kind::kDouble;
    default:
      return Kind::kInt;
  }
}

WireError error(WireErrc code, std::string_view field, std::string_view reason) {
  return WireError{code, std::string(field), std::string(reason)};
}

std::string_view key_name(Key k) {
  return kKeys[k].name;
}

// The slots one record fills.
struct Fields {
  std::uint64_t seen = 0;
  std::array<std::int64_t, kKeyCount> ints{};
  std::array<Decimal, kKeyCount> decimals{};
  std::array<bool, kKeyCount> bools{};
  double number = 0;  // "value"
  std::array<std::string_view, kKeyCount> strings{};
  std::vector<PriceLevel> bids, asks;

  bool has(Key k) const { return (seen >> k) & 1u; }
};

std::string_view trim_right(std::string_view s) {
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

std::optional<WireError> read_decimal(od::value& v, Key k, Decimal* out) {
  std::string_view tok = trim_right(v.raw_json_token());
  if (tok.size() < 2 || tok.front() != '"' || tok.back() != '"')
    return error(WireErrc::kWrongType, key_name(k), "expected a decimal string");
  auto d = Decimal::parse(tok.substr(1, tok.size() - 2));
  if (!d) return error(WireErrc::kBadValue, key_name(k), to_string(d.error()));
  *out = d.value();
  return std::nullopt;
}

std::optional<WireError> read_levels(od::value& v, Key k, std::vector<PriceLevel>* out) {
  od::array arr;
  if (v.get_array().get(arr)) return error(WireErrc::kWrongType, key_name(k), "expected an array");
  for (auto item : arr) {
    od::array pair;
    if (item.get_array().get(pair))
      return error(WireErrc::kWrongType, key_name(k), "a level must be [price, quantity]");
    PriceLevel level;
    int n = 0;
    for (auto x : pair) {
      od::value xv;
      if (x.get(xv)) return error(WireErrc::kMalformedJson, key_name(k), "bad level");
      if (n == 0)
        if (auto e = read_decimal(xv, k, &level.price)) return e;
      if (n == 1)
        if (auto e = read_decimal(xv, k, &level.quantity)) return e;
      ++n;
    }
    if (n != 2) return error(WireErrc::kBadValue, key_name(k), "a level must be [price, quantity]");
    out->push_back(level);
  }
  return std::nullopt;
}

std::optional<WireError> read_field(od::value& v, Key k, Fields& f) {
  switch (kind_of(k)) {
    case Kind::kInt:
      if (v.get_int64().get(f.ints[k]))
        return error(WireErrc::kWrongType, key_name(k), "expected a 64-bit integer");
      break;
    case Kind::kDecimal:
      if (auto e = read_decimal(v, k, &f.decimals[k])) return e;
      break;
    case Kind::kBool:
      if (v.get_bool().get(f.bools[k]))
        return error(WireErrc::kWrongType, key_name(k), "expected a bool");
      break;
    case Kind::kString:
      if (v.get_string().get(f.strings[k]))
        return error(WireErrc::kWrongType, key_name(k), "expected a string");
      break;
    case Kind::kDouble:
      if (v.get_double().get(f.number))
        return error(WireErrc::kWrongType, key_name(k), "expected a number");
      break;
    case Kind::kLevels:
      if (auto e = read_levels(v, k, k == kBids ? &f.bids : &f.asks)) return e;
      break;
  }
  f.seen |= (1ull << k);
  return std::nullopt;
}

// Checks that every key in `keys` was present.
std::optional<WireError> require(const Fields& f, std::string_view type,
                                 std::initializer_list<Key> keys) {
  for (Key k : keys)
    if (!f.has(k))
      return error(WireErrc::kMissingField, key_name(k), "required by " + std::string(type));
  return std::nullopt;
}

std::int64_t int_or(const Fields& f, Key k, std::int64_t fallback) {
  return f.has(k) ? f.ints[k] : fallback;
}

std::optional<bool> opt_bool(const Fields& f, Key k) {
  return f.has(k) ? std::optional<bool>(f.bools[k]) : std::nullopt;
}

Decoded of_event(std::string_view type, MarketEvent&& event) {
  Decoded d;
  d.type = type;
  d.event.emplace(std::move(event));
  return d;
}

Result<Decoded, WireError> build(Fields& f) {
  if (!f.has(kType))
    return unexpected(error(WireErrc::kMissingField, "type", "every record has a type"));
  if (!f.has(kV))
    return unexpected(error(WireErrc::kMissingField, "v", "every record has a version"));
  if (f.ints[kV] != kSchemaVersion)
    return unexpected(error(WireErrc::kUnsupportedVersion, "v",
                            "version " + std::to_string(f.ints[kV]) + " (this build reads 1)"));
  std::optional<Symbol> symbol;
  if (f.has(kSymbol)) {
    symbol = Symbol::parse(f.strings[kSymbol]);
    if (!symbol) return unexpected(error(WireErrc::kBadValue, "symbol", "invalid symbol"));
  }
  const std::string_view type = f.strings[kType];
  const TimestampUs event_time = int_or(f, kEventTime, 0);
  const TimestampUs receive_time = int_or(f, kReceiveTime, 0);

  if (type == "trade") {
    if (auto e =
            require(f, type, {kSymbol, kTradeId, kPrice, kQuantity, kTimestamp, kIsBuyerMaker}))
      return unexpected(*e);
    return of_event("trade", Trade{.symbol = *symbol,
                                   .trade_id = f.ints[kTradeId],
                                   .price = f.decimals[kPrice],
                                   .quantity = f.decimals[kQuantity],
                                   .trade_time = f.ints[kTimestamp],
                                   .event_time = event_time,
                                   .receive_time = receive_time,
                                   .is_buyer_maker = f.bools[kIsBuyerMaker],
                                   .is_best_match = opt_bool(f, kIsBestMatch)});
  }
  if (type == "agg_trade") {
    if (auto e = require(f, type,
                         {kSymbol, kTradeId, kPrice, kQuantity, kFirstTradeId, kLastTradeId,
                          kTimestamp, kIsBuyerMaker}))
      return unexpected(*e);
    return of_event("agg_trade", AggTrade{.symbol = *symbol,
                                          .agg_trade_id = f.ints[kTradeId],
                                          .price = f.decimals[kPrice],
                                          .quantity = f.decimals[kQuantity],
                                          .first_trade_id = f.ints[kFirstTradeId],
                                          .last_trade_id = f.ints[kLastTradeId],
                                          .trade_time = f.ints[kTimestamp],
                                          .event_time = event_time,
                                          .receive_time = receive_time,
                                          .is_buyer_maker = f.bools[kIsBuyerMaker],
                                          .is_best_match = opt_bool(f, kIsBestMatch)});
  }
  if (type == "candle") {
    if (auto e = require(f, type,
                         {kSymbol, kInterval, kOpenTime, kOpen, kHigh, kLow, kClose, kVolume,
                          kCloseTime, kQuoteVolume, kNumberOfTrades, kTakerBase, kTakerQuote}))
      return unexpected(*e);
    auto interval = parse_interval(f.strings[kInterval]);
    if (!interval) return unexpected(error(WireErrc::kBadValue, "interval", "unknown interval"));
    return of_event("candle", Candle{.symbol = *symbol,
                                     .interval = *interval,
                                     .open_time = f.ints[kOpenTime],
                                     .open = f.decimals[kOpen],
                                     .high = f.decimals[kHigh],
                                     .low = f.decimals[kLow],
                                     .close = f.decimals[kClose],
                                     .volume = f.decimals[kVolume],
                                     .close_time = f.ints[kCloseTime],
                                     .quote_asset_volume = f.decimals[kQuoteVolume],
                                     .number_of_trades = f.ints[kNumberOfTrades],
                                     .taker_buy_base_asset_volume = f.decimals[kTakerBase],
                                     .taker_buy_quote_asset_volume = f.decimals[kTakerQuote],
                                     .ignore = f.has(kIgnore) ? f.decimals[kIgnore] : Decimal{},
                                     .first_trade_id = int_or(f, kFirstTradeId, -1),
                                     .last_trade_id = int_or(f, kLastTradeId, -1),
                                     .is_closed = f.has(kIsClosed) ? f.bools[kIsClosed] : true,
                                     .event_time = event_time,
                                     .receive_time = receive_time});
  }
  if (type == "depth_update") {
    if (auto e = require(f, type, {kSymbol, kFirstUpdateId, kFinalUpdateId, kBids, kAsks}))
      return unexpected(*e);
    return of_event("depth_update",
                    DepthUpdate{.symbol = *symbol,
                                .event_time = event_time,
                                .first_update_id = f.ints[kFirstUpdateId],
                                .final_update_id = f.ints[kFinalUpdateId],
                                .prev_final_update_id =
                                    f.has(kPrevFinalUpdateId)
                                        ? std::optional<std::int64_t>(f.ints[kPrevFinalUpdateId])
                                        : std::nullopt,
                                .bids = std::move(f.bids),
                                .asks = std::move(f.asks),
                                .receive_time = receive_time});
  }
  if (type == "depth_snapshot") {
    if (auto e = require(f, type, {kSymbol, kLastUpdateId, kBids, kAsks})) return unexpected(*e);
    return of_event("depth_snapshot",
                    DepthSnapshot{.symbol = *symbol,
                                  .last_update_id = f.ints[kLastUpdateId],
                                  .bids = std::move(f.bids),
                                  .asks = std::move(f.asks),
                                  .is_partial = f.has(kIsPartial) && f.bools[kIsPartial],
                                  .event_time = event_time,
                                  .receive_time = receive_time});
  }
  if (type == "book_ticker") {
    if (auto e = require(f, type,
                         {kSymbol, kUpdateId, kBidPrice, kBidQuantity, kAskPrice, kAskQuantity}))
      return unexpected(*e);
    return of_event("book_ticker", BookTicker{.symbol = *symbol,
                                              .update_id = f.ints[kUpdateId],
                                              .bid_price = f.decimals[kBidPrice],
                                              .bid_quantity = f.decimals[kBidQuantity],
                                              .ask_price = f.decimals[kAskPrice],
                                              .ask_quantity = f.decimals[kAskQuantity],
                                              .event_time = event_time,
                                              .receive_time = receive_time});
  }
  if (type == "gap") {
    if (auto e = require(f, type, {kSymbol, kFirstMissingId, kLastMissingId}))
      return unexpected(*e);
    Decoded d;
    d.type = "gap";
    d.gap.emplace(GapRecord{*symbol, f.ints[kFirstMissingId], f.ints[kLastMissingId],
                            std::string(f.strings[kReason])});
    return d;
  }
  if (type == "indicator") {
    if (auto e = require(f, type, {kSymbol, kInterval, kName, kOpenTime, kValue}))
      return unexpected(*e);
    auto interval = parse_interval(f.strings[kInterval]);
    if (!interval) return unexpected(error(WireErrc::kBadValue, "interval", "unknown interval"));
    Decoded d;
    d.type = "indicator";
    d.indicator.emplace(IndicatorValue{*symbol, *interval, std::string(f.strings[kName]),
                                       f.ints[kOpenTime], f.number});
    return d;
  }
  if (type == "symbol_info") {
    Decoded d;
    d.type = "symbol_info";
    return d;
  }
  return unexpected(
      error(WireErrc::kUnknownType, "type", "unknown record type \"" + std::string(type) + "\""));
}

}  // namespace

const char* to_string(WireErrc e) {
  switch (e) {
    case WireErrc::kMalformedJson:
      return "malformed_json";
    case WireErrc::kMissingField:
      return "missing_field";
    case WireErrc::kWrongType:
      return "wrong_type";
    case WireErrc::kBadValue:
      return "bad_value";
    case WireErrc::kUnsupportedVersion:
      return "unsupported_version";
    case WireErrc::kUnknownType:
      return "unknown_type";
  }
  return "unknown";
}

std::string WireError::message() const {
  std::string m = to_string(code);
  if (!field.empty()) m += ": " + field;
  if (!reason.empty()) m += (field.empty() ? ": " : " (") + reason + (field.empty() ? "" : ")");
  return m;
}

struct Decoder::Impl {
  od::parser parser;
  std::string buffer;  // padded copy of the input, reused
};

Decoder::Decoder() : impl_(std::make_unique<Impl>()) {}
Decoder::~Decoder() = default;

Result<Decoded, WireError> Decoder::decode(std::string_view json) {
  auto& buf = impl_->buffer;
  buf.assign(json);
  buf.append(simdjson::SIMDJSON_PADDING, '\0');
  od::document doc;
  if (!json_balanced(json) || impl_->parser.iterate(buf.data(), json.size(), buf.size()).get(doc))
    return unexpected(error(WireErrc::kMalformedJson, "", "not valid JSON"));
  od::object obj;
  if (doc.get_object().get(obj))
    return unexpected(error(WireErrc::kMalformedJson, "", "a record must be a JSON object"));
  Fields f;
  for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key))
      return unexpected(error(WireErrc::kMalformedJson, "", "bad key"));
    const int k = find_key(key);
    od::value v;
    if (field.value().get(v)) return unexpected(error(WireErrc::kMalformedJson, key, "bad value"));
    if (k < 0) continue;  // unknown keys are ignored (schema rule)
    if (auto e = read_field(v, static_cast<Key>(k), f)) return unexpected(*e);
  }
  return build(f);
}

Result<Decoded, WireError> decode(std::string_view json) {
  Decoder d;
  return d.decode(json);
}

}  // namespace sf::wire
