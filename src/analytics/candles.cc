#include "analytics/candles.h"

#include <array>
#include <stdexcept>
#include <utility>

namespace sf::analytics {
namespace {

using M = Decimal::Mantissa;

constexpr std::int64_t kDayUs = 86'400'000'000LL;
constexpr std::int64_t kWeekUs = 7 * kDayUs;
// 1970-01-01 was a Thursday: Binance's weeks start on Monday, 4 days later.
constexpr std::int64_t kWeekOriginUs = 4 * kDayUs;

constexpr std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

// Howard Hinnant's civil-from-days / days-from-civil (proleptic Gregorian, UTC).
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

constexpr void civil_from_days(std::int64_t z, std::int64_t* y, unsigned* m) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<std::int64_t>(yoe) + era * 400 + (*m <= 2);
}

constexpr std::array<M, 19> kPow10 = [] {
  std::array<M, 19> p{};
  p[0] = 1;
  for (std::size_t i = 1; i < p.size(); ++i) p[i] = p[i - 1] * 10;
  return p;
}();

// The mantissa of d at scale s; false when digits beyond s are not zero.
inline bool to_scale(const Decimal& d, int s, M* out) {
  const int ds = d.scale();
  if (ds == s) {
    *out = d.mantissa();
    return true;
  }
  if (ds < s) {
    *out = d.mantissa() * kPow10[static_cast<std::size_t>(s - ds)];
    return true;
  }
  const M p = kPow10[static_cast<std::size_t>(ds - s)];
  if (d.mantissa() % p != 0) return false;
  *out = d.mantissa() / p;
  return true;
}

}  // namespace

TimestampUs bucket_open(TimestampUs t, Interval interval) {
  switch (interval) {
    case Interval::k1w:
      return floor_div(t - kWeekOriginUs, kWeekUs) * kWeekUs + kWeekOriginUs;
    case Interval::k1M: {
      std::int64_t y = 0;
      unsigned m = 0;
      civil_from_days(floor_div(t, kDayUs), &y, &m);
      return days_from_civil(y, m, 1) * kDayUs;
    }
    default: {
      const std::int64_t iv = interval_micros(interval);
      return floor_div(t, iv) * iv;
    }
  }
}

TimestampUs bucket_next(TimestampUs open, Interval interval) {
  if (interval != Interval::k1M) return open + interval_micros(interval);
  std::int64_t y = 0;
  unsigned m = 0;
  civil_from_days(floor_div(open, kDayUs), &y, &m);
  if (m == 12) return days_from_civil(y + 1, 1, 1) * kDayUs;
  return days_from_civil(y, m + 1, 1) * kDayUs;
}

const char* to_string(AggregateErrc e) {
  switch (e) {
    case AggregateErrc::kLateTrade:
      return "trade before the open candle (out of order)";
    case AggregateErrc::kTooPrecise:
      return "price or quantity has more decimals than the configured scale";
  }
  return "?";
}

const char* to_string(RollupErrc e) {
  switch (e) {
    case RollupErrc::kIntervalMismatch:
      return "candle interval does not divide the target interval";
    case RollupErrc::kOutOfOrder:
      return "candle before the bucket being built (out of order)";
  }
  return "?";
}

// ---------------------------------------------------------------------------------------------
// TradeCandleAggregator

TradeCandleAggregator::TradeCandleAggregator(AggregatorOptions options, Sink sink)
    : opt_(options), sink_(std::move(sink)) {
  if (opt_.price_scale < 0 || opt_.quantity_scale < 0 || opt_.quote_scale < 0 ||
      opt_.price_scale + opt_.quantity_scale > Decimal::kMaxScale ||
      opt_.quote_scale > Decimal::kMaxScale)
    throw std::invalid_argument("aggregator scales out of range (price + quantity <= 18)");
  if (opt_.close_time_offset < 0 || opt_.close_time_offset >= 1'000'000)
    throw std::invalid_argument("close_time_offset must be in [0, 1 s)");
  if (!sink_) throw std::invalid_argument("aggregator needs a sink");
}

void TradeCandleAggregator::start(TimestampUs open_time) {
  open_ = true;
  open_time_ = open_time;
  end_ = bucket_next(open_time, opt_.interval);
  vol_ = quote_ = tb_vol_ = tb_quote_ = 0;
  count_ = 0;
  first_id_ = last_id_ = -1;
}

Candle TradeCandleAggregator::make(bool closed, TimestampUs event_time) const {
  const int ps = opt_.price_scale, qs = opt_.quantity_scale;
  const int exact_quote_scale = ps + qs;
  return Candle{
      .symbol = opt_.symbol,
      .interval = opt_.interval,
      .open_time = open_time_,
      .open = Decimal::from_parts(o_, ps),
      .high = Decimal::from_parts(h_, ps),
      .low = Decimal::from_parts(l_, ps),
      .close = Decimal::from_parts(c_, ps),
      .volume = Decimal::from_parts(vol_, qs),
      .close_time = end_ - opt_.close_time_offset,
      .quote_asset_volume =
          Decimal::from_parts(quote_, exact_quote_scale).rescaled(opt_.quote_scale),
      .number_of_trades = count_,
      .taker_buy_base_asset_volume = Decimal::from_parts(tb_vol_, qs),
      .taker_buy_quote_asset_volume =
          Decimal::from_parts(tb_quote_, exact_quote_scale).rescaled(opt_.quote_scale),
      .ignore = Decimal::from_int(0),
      .first_trade_id = first_id_,
      .last_trade_id = last_id_,
      .is_closed = closed,
      .event_time = event_time,
      .receive_time = 0,
  };
}

void TradeCandleAggregator::emit(bool closed, TimestampUs event_time) {
  sink_(make(closed, event_time));
  ++emitted_;
  have_close_ = true;
  open_ = false;
}

// Flat candles for every empty bucket from end_ (the bucket after the one just closed) up to,
// not including, the bucket opening at open_limit.
void TradeCandleAggregator::emit_flat_until(TimestampUs open_limit, TimestampUs event_time) {
  if (opt_.empty_buckets != EmptyBuckets::kFlat || !have_close_) return;
  TimestampUs next = end_;
  while (next < open_limit) {
    start(next);
    o_ = h_ = l_ = c_;  // c_ still holds the previous close
    emit(true, event_time);
    next = end_;
  }
}

Result<void, AggregateErrc> TradeCandleAggregator::add(TimestampUs trade_time, const Decimal& price,
                                                       const Decimal& quantity, bool is_buyer_maker,
                                                       std::int64_t first_id, std::int64_t last_id,
                                                       std::int64_t trade_count,
                                                       TimestampUs event_time) {
  M p = 0, q = 0;
  if (!to_scale(price, opt_.price_scale, &p) || !to_scale(quantity, opt_.quantity_scale, &q))
    return unexpected(AggregateErrc::kTooPrecise);
  if (!open_ || trade_time >= end_) {
    if (open_) {
      emit(true, event_time);
    } else if (have_close_ && trade_time < end_) {
      return unexpected(AggregateErrc::kLateTrade);  // its bucket was already emitted
    }
    const TimestampUs open = bucket_open(trade_time, opt_.interval);
    if (have_close_) emit_flat_until(open, event_time);
    start(open);
    o_ = h_ = l_ = p;
    first_id_ = first_id;
  } else if (trade_time < open_time_) {
    return unexpected(AggregateErrc::kLateTrade);
  }
  if (p > h_) h_ = p;
  if (p < l_) l_ = p;
  c_ = p;
  const M notional = p * q;
  vol_ += q;
  quote_ += notional;
  if (!is_buyer_maker) {  // the taker bought
    tb_vol_ += q;
    tb_quote_ += notional;
  }
  count_ += trade_count;
  last_id_ = last_id;
  return {};
}

void TradeCandleAggregator::advance_to(TimestampUs event_time) {
  if (open_) {
    if (event_time < end_) return;
    emit(true, event_time);
  }
  if (!have_close_) return;
  emit_flat_until(bucket_open(event_time, opt_.interval), event_time);
}

void TradeCandleAggregator::flush() {
  if (open_) emit(false, 0);
}

std::optional<Candle> TradeCandleAggregator::current() const {
  if (!open_) return std::nullopt;
  return make(false, 0);
}

// ---------------------------------------------------------------------------------------------
// CandleRollup

CandleRollup::CandleRollup(Interval target, Sink sink, TimestampUs close_time_offset)
    : target_(target), sink_(std::move(sink)), offset_(close_time_offset) {
  if (!sink_) throw std::invalid_argument("rollup needs a sink");
}

namespace {
bool divides(Interval source, Interval target) {
  if (source == target) return true;
  const std::int64_t s = interval_micros(source);
  if (s == 0) return false;  // 1M rolls up into nothing coarser
  if (target == Interval::k1M || target == Interval::k1w) return kDayUs % s == 0;
  const std::int64_t t = interval_micros(target);
  return s < t && t % s == 0;
}
}  // namespace

void CandleRollup::emit(bool closed) {
  sink_(Candle{
      .symbol = symbol_,
      .interval = target_,
      .open_time = open_time_,
      .open = o_,
      .high = h_,
      .low = l_,
      .close = c_,
      .volume = vol_,
      .close_time = close_time_,
      .quote_asset_volume = quote_,
      .number_of_trades = count_,
      .taker_buy_base_asset_volume = tb_vol_,
      .taker_buy_quote_asset_volume = tb_quote_,
      .ignore = Decimal::from_int(0),
      .first_trade_id = first_id_,
      .last_trade_id = last_id_,
      .is_closed = closed,
      .event_time = event_time_,
      .receive_time = 0,
  });
  ++emitted_;
  open_ = false;
}

Result<void, RollupErrc> CandleRollup::add(const Candle& c) {
  if (!divides(c.interval, target_)) return unexpected(RollupErrc::kIntervalMismatch);
  if (open_ && c.open_time < open_time_) return unexpected(RollupErrc::kOutOfOrder);
  if (open_ && c.open_time >= end_) emit(true);
  if (!open_) {
    if (emitted_ > 0 && c.open_time < end_) return unexpected(RollupErrc::kOutOfOrder);
    open_ = true;
    symbol_ = c.symbol;
    open_time_ = bucket_open(c.open_time, target_);
    end_ = bucket_next(open_time_, target_);
    o_ = c.open;
    h_ = c.high;
    l_ = c.low;
    vol_ = c.volume;
    quote_ = c.quote_asset_volume;
    tb_vol_ = c.taker_buy_base_asset_volume;
    tb_quote_ = c.taker_buy_quote_asset_volume;
    count_ = c.number_of_trades;
    first_id_ = c.first_trade_id;
  } else {
    if (c.high > h_) h_ = c.high;
    if (c.low < l_) l_ = c.low;
    vol_ += c.volume;
    quote_ += c.quote_asset_volume;
    tb_vol_ += c.taker_buy_base_asset_volume;
    tb_quote_ += c.taker_buy_quote_asset_volume;
    count_ = (count_ < 0 || c.number_of_trades < 0) ? -1 : count_ + c.number_of_trades;
    if (first_id_ < 0) first_id_ = c.first_trade_id;
  }
  c_ = c.close;
  if (c.last_trade_id >= 0) last_id_ = c.last_trade_id;
  event_time_ = c.event_time;
  // A candle cut short by a halt (it closed before its own nominal close) carries its cut
  // close_time into the coarser bar while it is the last one; otherwise the nominal close.
  const TimestampUs own_nominal = bucket_next(c.open_time, c.interval) - offset_;
  const TimestampUs nominal = end_ - offset_;
  close_time_ = c.close_time < own_nominal ? c.close_time : nominal;
  if (c.close_time >= nominal && c.is_closed) emit(true);
  return {};
}

void CandleRollup::advance_to(TimestampUs event_time) {
  if (open_ && event_time >= end_) emit(true);
}

void CandleRollup::flush() {
  if (open_) emit(false);
}

// ---------------------------------------------------------------------------------------------

void append_kline_csv(const Candle& c, std::string& out) {
  // Binance writes ms before 2025 and µs in the µs-era files; keep µs when ms would lose digits.
  const bool ms = c.open_time % 1000 == 0 && c.close_time % 1000 == 0;
  auto put_time = [&](TimestampUs t) { out += std::to_string(ms ? micros_to_millis(t) : t); };
  char buf[Decimal::kMaxTextLength];
  auto put_dec = [&](const Decimal& d) { out.append(buf, d.format_to(buf)); };
  put_time(c.open_time);
  out += ',';
  put_dec(c.open);
  out += ',';
  put_dec(c.high);
  out += ',';
  put_dec(c.low);
  out += ',';
  put_dec(c.close);
  out += ',';
  put_dec(c.volume);
  out += ',';
  put_time(c.close_time);
  out += ',';
  put_dec(c.quote_asset_volume);
  out += ',';
  out += std::to_string(c.number_of_trades);
  out += ',';
  put_dec(c.taker_buy_base_asset_volume);
  out += ',';
  put_dec(c.taker_buy_quote_asset_volume);
  out += ',';
  put_dec(c.ignore);
}

}  // namespace sf::analytics
