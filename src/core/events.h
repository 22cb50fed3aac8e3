// The normalised market-data model. Every event carries exchange time, local receive time and its
// exchange sequence id. Events are immutable once built: every member is const and events are
// built in one go (designated initialisers) by the codecs.
//
// Times are microseconds since the epoch (see core/time.h). A time the source does not provide is
// 0 (for example REST trades carry no event time; recorded captures without a prefix carry no
// receive time).
#pragma once

#include <cstdint>
#include <optional>
#include <variant>
#include <vector>

#include "core/decimal.h"
#include "core/interval.h"
#include "core/symbol.h"
#include "core/time.h"

namespace sf {

// One raw trade (Binance `@trade`, REST /trades, data.binance.vision trades). seq = trade_id.
struct Trade {
  const Symbol symbol;
  const std::int64_t trade_id;
  const Decimal price;
  const Decimal quantity;
  const TimestampUs trade_time;
  const TimestampUs event_time;    // WS `E`; 0 from REST and files
  const TimestampUs receive_time;  // local clock when the frame arrived; 0 if unknown
  const bool is_buyer_maker;
  const std::optional<bool> is_best_match;  // `M`; absent where the source has none
  std::int64_t sequence_id() const { return trade_id; }
};

// An aggregate trade (`@aggTrade`, REST /aggTrades, aggTrades files). seq = agg_trade_id (`a`).
struct AggTrade {
  const Symbol symbol;
  const std::int64_t agg_trade_id;
  const Decimal price;
  const Decimal quantity;
  const std::int64_t first_trade_id;  // `f`
  const std::int64_t last_trade_id;   // `l`
  const TimestampUs trade_time;
  const TimestampUs event_time;
  const TimestampUs receive_time;
  const bool is_buyer_maker;
  const std::optional<bool> is_best_match;
  std::int64_t sequence_id() const { return agg_trade_id; }
};

// A kline / candle with all 12 Binance fields, its interval and whether it is closed.
// seq = open time in ms (Binance identifies klines by open time).
struct Candle {
  const Symbol symbol;
  const Interval interval;
  const TimestampUs open_time;
  const Decimal open;
  const Decimal high;
  const Decimal low;
  const Decimal close;
  const Decimal volume;  // base asset volume
  const TimestampUs close_time;
  const Decimal quote_asset_volume;
  const std::int64_t number_of_trades;
  const Decimal taker_buy_base_asset_volume;
  const Decimal taker_buy_quote_asset_volume;
  const Decimal ignore;               // field 11; not always "0" in 2017 data
  const std::int64_t first_trade_id;  // WS `f`; -1 where the source has none
  const std::int64_t last_trade_id;   // WS `L`; -1 where the source has none
  const bool is_closed;               // WS `x`; REST/file rows are taken as closed
  const TimestampUs event_time;
  const TimestampUs receive_time;
  std::int64_t sequence_id() const { return micros_to_millis(open_time); }
};

struct PriceLevel {
  Decimal price;
  Decimal quantity;  // zero = remove the level (diff depth)
};

// A diff-depth event (`@depth`, `@depth@100ms`). seq = final update id `u`.
struct DepthUpdate {
  const Symbol symbol;
  const TimestampUs event_time;
  const std::int64_t first_update_id;                     // `U`
  const std::int64_t final_update_id;                     // `u`
  const std::optional<std::int64_t> prev_final_update_id;  // `pu`, futures only
  const std::vector<PriceLevel> bids;
  const std::vector<PriceLevel> asks;
  const TimestampUs receive_time;
  std::int64_t sequence_id() const { return final_update_id; }
};

// An order-book snapshot: REST /depth, or a partial-book stream (`@depth5/10/20`, is_partial).
// seq = lastUpdateId.
struct DepthSnapshot {
  const Symbol symbol;
  const std::int64_t last_update_id;
  const std::vector<PriceLevel> bids;  // best (highest) first
  const std::vector<PriceLevel> asks;  // best (lowest) first
  const bool is_partial;
  const TimestampUs event_time;  // 0: REST snapshots carry no time
  const TimestampUs receive_time;
  std::int64_t sequence_id() const { return last_update_id; }
};

// Best bid/ask (`@bookTicker`). seq = order-book update id `u`.
struct BookTicker {
  const Symbol symbol;
  const std::int64_t update_id;
  const Decimal bid_price;
  const Decimal bid_quantity;
  const Decimal ask_price;
  const Decimal ask_quantity;
  const TimestampUs event_time;  // spot JSON has none (0); futures carry `E`
  const TimestampUs receive_time;
  std::int64_t sequence_id() const { return update_id; }
};

using MarketEvent = std::variant<Trade, AggTrade, Candle, DepthUpdate, DepthSnapshot, BookTicker>;

// Wire `type` names: trade, agg_trade, candle, depth_update, depth_snapshot, book_ticker.
const char* event_type_name(const MarketEvent& e);

}  // namespace sf
