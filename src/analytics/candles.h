// Trades -> candles and candles -> coarser candles, exact, with Binance's kline conventions
// (docs/analytics.md):
//
//  - Buckets are aligned to the UTC epoch: open = floor(t / interval) * interval, except 1w
//    (weeks start Monday 00:00 UTC, as Binance's 1w klines do; the epoch was a Thursday) and 1M
//    (calendar months, UTC).
//  - close_time = next bucket's open - close_time_offset (1 ms by default: Binance's ms-era klines
//    close at open + interval - 1 ms; our times are µs, so that is next_open - 1000).
//  - A bucket is closed when a trade of a later bucket arrives or advance_to(event_time) passes its
//    end. Buckets without trades during normal trading become flat candles (open = high = low =
//    close = previous close, zero volumes, 0 trades, ids -1), as Binance publishes them; during an
//    exchange halt Binance publishes none, which a trade stream cannot tell apart from a quiet
//    market, so EmptyBuckets::kSkip is offered for that case.
//  - Prices and volumes are accumulated as integer mantissas at fixed scales (8 decimals, Binance
//    spot's format) so that the output formats byte-identically with Binance's CSV and the hot
//    path neither allocates nor rescales. The quote volume is summed exactly at price scale +
//    quantity scale and rounded half-even to quote_scale only when the candle is emitted.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "core/decimal.h"
#include "core/events.h"
#include "core/interval.h"
#include "core/result.h"
#include "core/symbol.h"

namespace sf::analytics {

// Open time of the bucket holding t.
TimestampUs bucket_open(TimestampUs t, Interval interval);
// Open time of the bucket after the one opening at `open` (= its exclusive end).
TimestampUs bucket_next(TimestampUs open, Interval interval);

enum class EmptyBuckets : std::uint8_t {
  kFlat,  // emit a flat zero-volume candle (Binance during normal trading; default)
  kSkip,  // emit nothing (Binance during halts)
};

struct AggregatorOptions {
  Symbol symbol;
  Interval interval = Interval::k1m;
  EmptyBuckets empty_buckets = EmptyBuckets::kFlat;
  int price_scale = 8;                   // open/high/low/close
  int quantity_scale = 8;                // base volume and taker-buy base volume
  int quote_scale = 8;                   // quote volumes, rounded half-even from the exact sum
  TimestampUs close_time_offset = 1000;  // close_time = next open - this (µs)
};

enum class AggregateErrc : std::uint8_t {
  kLateTrade,   // trade time before the open bucket (out of order across buckets): ignored
  kTooPrecise,  // price/quantity has non-zero digits beyond the configured scale: ignored
};
const char* to_string(AggregateErrc e);

// Trades (raw or aggregate) -> candles of one interval for one symbol. Not thread-safe.
class TradeCandleAggregator {
 public:
  using Sink = std::function<void(const Candle&)>;

  // Throws std::invalid_argument on inconsistent options (configuration error).
  TradeCandleAggregator(AggregatorOptions options, Sink sink);

  Result<void, AggregateErrc> add(const Trade& t) {
    return add(t.trade_time, t.price, t.quantity, t.is_buyer_maker, t.trade_id, t.trade_id, 1,
               t.event_time);
  }
  // Counts the raw trades it aggregates (l - f + 1), as Binance's kline trade count does.
  Result<void, AggregateErrc> add(const AggTrade& t) {
    return add(t.trade_time, t.price, t.quantity, t.is_buyer_maker, t.first_trade_id,
               t.last_trade_id, t.last_trade_id - t.first_trade_id + 1, t.event_time);
  }
  // The hot path: no allocation, no rescaling when the scales match the options.
  Result<void, AggregateErrc> add(TimestampUs trade_time, const Decimal& price,
                                  const Decimal& quantity, bool is_buyer_maker,
                                  std::int64_t first_id, std::int64_t last_id,
                                  std::int64_t trade_count, TimestampUs event_time);

  // Closes every bucket that ends at or before `event_time` (flat candles included).
  void advance_to(TimestampUs event_time);
  // Emits the open bucket as it stands (is_closed = false) and forgets it; end of input.
  void flush();
  // The open bucket as a candle (is_closed = false), if any.
  std::optional<Candle> current() const;

  std::int64_t candles_emitted() const { return emitted_; }
  const AggregatorOptions& options() const { return opt_; }

 private:
  using M = Decimal::Mantissa;
  void start(TimestampUs open_time);
  void emit(bool closed, TimestampUs event_time);
  void emit_flat_until(TimestampUs open_limit, TimestampUs event_time);
  Candle make(bool closed, TimestampUs event_time) const;

  AggregatorOptions opt_;
  Sink sink_;
  bool open_ = false;
  bool have_close_ = false;  // a previous close exists (for flat candles)
  TimestampUs open_time_ = 0;
  TimestampUs end_ = 0;
  M o_ = 0, h_ = 0, l_ = 0, c_ = 0, vol_ = 0, quote_ = 0, tb_vol_ = 0, tb_quote_ = 0;
  std::int64_t count_ = 0, first_id_ = -1, last_id_ = -1;
  std::int64_t emitted_ = 0;
};

enum class RollupErrc : std::uint8_t {
  kIntervalMismatch,  // the candle's interval does not divide the target interval
  kOutOfOrder,        // open time before the bucket being built
};
const char* to_string(RollupErrc e);

// Candles -> coarser candles, exact: open of the first, close of the last, max high, min low,
// sums of volumes and trade counts, first/last trade id. A bucket closes when a candle of a later
// bucket arrives, when a candle reaching the bucket's end arrives, on advance_to() or flush().
// close_time is the bucket's nominal close, except when the last candle in it was cut short by a
// halt (close_time before its own nominal close): then the cut close_time, as Binance does.
class CandleRollup {
 public:
  using Sink = std::function<void(const Candle&)>;
  CandleRollup(Interval target, Sink sink, TimestampUs close_time_offset = 1000);

  Result<void, RollupErrc> add(const Candle& c);
  void advance_to(TimestampUs event_time);
  // Emits the open bucket (is_closed = false unless its last candle reached the bucket's end).
  void flush();
  std::int64_t candles_emitted() const { return emitted_; }

 private:
  void emit(bool closed);

  Interval target_;
  Sink sink_;
  TimestampUs offset_;
  bool open_ = false;
  Symbol symbol_;
  TimestampUs open_time_ = 0, end_ = 0, close_time_ = 0;
  Decimal o_, h_, l_, c_, vol_, quote_, tb_vol_, tb_quote_;
  std::int64_t count_ = 0, first_id_ = -1, last_id_ = -1;
  TimestampUs event_time_ = 0;
  std::int64_t emitted_ = 0;
};

// One Binance 12-column kline CSV row (times in ms, no newline) appended to `out`.
void append_kline_csv(const Candle& c, std::string& out);

}  // namespace sf::analytics
