// Binance spot payloads -> the normalised model (core/events.h), with simdjson on-demand.
//
// Covered: WS `trade`, `aggTrade`, `kline`, `depthUpdate`, `bookTicker`, partial depth
// (`@depth5/10/20`), raw and combined ({"stream":..,"data":..}) frames; REST klines, aggTrades,
// trades, depth, exchangeInfo and {code,msg} error bodies; data.binance.vision CSV rows.
// Unknown keys are ignored. Malformed input returns a ParseError naming the field and the reason;
// nothing here throws on bad input.
//
// A Parser owns simdjson's parser and a padded scratch buffer; reuse one per thread so that
// decoding a frame allocates nothing beyond the event's own vectors (depth levels).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "core/events.h"
#include "core/result.h"
#include "exchange/binance/messages.h"

namespace sf::binance {

// Errors at the codec boundary.
enum class ParseErrc : std::uint8_t {
  kMalformedJson,  // not JSON, truncated, or not the expected shape (object/array)
  kMissingField,   // a required key is absent
  kWrongType,      // a key has the wrong JSON type (e.g. number where a string is required)
  kBadValue,       // the type is right but the value is not (bad decimal, unknown interval/symbol)
  kUnknownEvent,   // a well-formed frame of a kind we do not normalise (e.g. `24hrTicker`)
  kBadCsv,         // wrong column count or an unparsable column
};

struct ParseError {
  ParseErrc code;
  std::string field;   // the key or column at fault ("" when the whole payload is)
  std::string reason;  // human-readable detail
  std::string message() const;  // "field 'p': expected a decimal string"
};

const char* to_string(ParseErrc e);

template <class T>
using ParseResult = Result<T, ParseError>;

// What a combined-stream name tells us: "btcusdt@depth5@100ms" -> symbol BTCUSDT, partial depth.
struct StreamName {
  Symbol symbol;
  bool is_partial_depth = false;
};
std::optional<StreamName> parse_stream_name(std::string_view stream);

class Parser {
 public:
  Parser();

  // A WS frame, raw or combined. `receive_time` is the local arrival time (µs; 0 if unknown).
  // Raw partial-depth frames carry no symbol: pass it as `symbol_hint` (from the subscription).
  ParseResult<MarketEvent> parse_ws_frame(std::string_view frame, TimestampUs receive_time,
                                          const Symbol* symbol_hint = nullptr);

  // REST bodies. Time fields are read in `unit` (kAuto: by magnitude, see core/time.h).
  ParseResult<std::vector<Candle>> parse_rest_klines(std::string_view body, const Symbol& symbol,
                                                     Interval interval,
                                                     TimeUnit unit = TimeUnit::kAuto);
  // Reduced OHLCV rows [open_time, open, high, low, close, volume] with numbers or strings, as
  // freqtrade/ccxt dumps write them. Fields the source lacks: close_time = open + interval - 1 ms,
  // volumes other than base are zero and number_of_trades is -1 (unknown).
  ParseResult<std::vector<Candle>> parse_ohlcv_rows(std::string_view body, const Symbol& symbol,
                                                    Interval interval);
  ParseResult<std::vector<AggTrade>> parse_rest_agg_trades(std::string_view body,
                                                           const Symbol& symbol,
                                                           TimeUnit unit = TimeUnit::kAuto);
  ParseResult<std::vector<Trade>> parse_rest_trades(std::string_view body, const Symbol& symbol,
                                                    TimeUnit unit = TimeUnit::kAuto);
  ParseResult<DepthSnapshot> parse_rest_depth(std::string_view body, const Symbol& symbol,
                                              TimestampUs receive_time);
  ParseResult<ExchangeInfo> parse_exchange_info(std::string_view body);
  // {code,msg}; an error when the body is not an error body.
  ParseResult<ApiError> parse_api_error(std::string_view body);

 private:
  // Copies into the padded scratch buffer when the input cannot be read in place.
  simdjson::padded_string_view pad(std::string_view input);

  simdjson::ondemand::parser parser_;
  std::string scratch_;
};

// data.binance.vision spot CSV rows (no header; ms before 2025, µs after; True/False booleans).
ParseResult<Candle> parse_kline_csv(std::string_view line, const Symbol& symbol,
                                    Interval interval);
ParseResult<AggTrade> parse_agg_trade_csv(std::string_view line, const Symbol& symbol);
ParseResult<Trade> parse_trade_csv(std::string_view line, const Symbol& symbol);

}  // namespace sf::binance
