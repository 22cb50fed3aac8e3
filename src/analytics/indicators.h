// Incremental technical indicators over candle streams: O(1) work and no allocation per candle,
// so they run live. Values are doubles (statistics, not prices); NaN means "not defined yet"
// (warm-up). The candle-based ones follow TA-Lib's algorithms operation for operation (seeding,
// running sums, Wilder smoothing, MACD's aligned EMAs, Bollinger's population deviation), so
// their values equal TA-Lib's (see docs/analytics.md and tests/analytics/indicators_test.cc).
//
// INDICATORS_CONFIG selects them: a JSON list of {"name": ..., "params": {...}}; see
// parse_indicators_config() and docs/analytics.md for names, defaults and output columns.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/events.h"
#include "core/result.h"

namespace sf::analytics {

// --- building blocks (usable on their own) --------------------------------------------------

// Simple moving average (TA-Lib SMA): first value after `period` inputs.
class Sma {
 public:
  explicit Sma(int period);
  double update(double x);

 private:
  int n_;
  std::vector<double> buf_;
  int pos_ = 0, count_ = 0;
  double total_ = 0;
};

// Exponential moving average (TA-Lib EMA): seeded with the SMA of the first `period` inputs,
// then ema += (x - ema) * 2 / (period + 1).
class Ema {
 public:
  explicit Ema(int period);
  double update(double x);
  bool ready() const { return count_ >= n_; }

 private:
  int n_;
  double k_;
  int count_ = 0;
  double sum_ = 0, ema_ = 0;
};

// Wilder's RSI (TA-Lib RSI): average gain/loss seeded with the mean of the first `period`
// changes; first value after period + 1 inputs.
class Rsi {
 public:
  explicit Rsi(int period);
  double update(double x);

 private:
  int n_;
  int count_ = 0;
  double prev_ = 0, gain_ = 0, loss_ = 0;
};

// MACD as TA-Lib computes it: the slow EMA is seeded with the SMA of the first `slow` inputs and
// the fast EMA with the SMA of the `fast` inputs ending at the same bar (not the first `fast`),
// so both start together; the signal EMA is seeded with the SMA of the first `signal` MACD
// values. All three outputs start at bar slow + signal - 2.
class Macd {
 public:
  struct Value {
    double macd, signal, hist;
  };
  Macd(int fast, int slow, int signal);
  Value update(double x);

 private:
  int fast_, slow_, signal_;
  double kf_, ks_;
  std::vector<double> warm_;  // the first `slow` inputs
  double ema_fast_ = 0, ema_slow_ = 0;
  Ema signal_ema_;
  int count_ = 0;
};

// Bollinger bands (TA-Lib BBANDS, SMA middle): middle +- k * population standard deviation of
// the window. The middle is TA-Lib's SMA bit for bit; the deviation is computed from anchored
// sums (see indicators.cc), as accurate as TA-Lib 0.8's.
class Bollinger {
 public:
  struct Value {
    double upper, middle, lower;
  };
  Bollinger(int period, double k_up, double k_down);
  Value update(double x);

 private:
  int n_;
  double k_up_, k_down_;
  Sma sma_;
  std::vector<double> buf_;
  int pos_ = 0, count_ = 0, since_anchor_ = 0;
  double anchor_ = 0, s1_ = 0, s2_ = 0;
};

// Average true range with Wilder smoothing (TA-Lib ATR): the first value is the mean of the
// first `period` true ranges (which start at the second bar).
class Atr {
 public:
  explicit Atr(int period);
  double update(double high, double low, double close);

 private:
  int n_;
  int count_ = 0;
  double prev_close_ = 0, sum_ = 0, atr_ = 0;
};

// On-balance volume (TA-Lib OBV): starts at the first bar's volume.
class Obv {
 public:
  double update(double close, double volume);

 private:
  bool started_ = false;
  double prev_close_ = 0, obv_ = 0;
};

// VWAP anchored per `anchor` bucket (default UTC day): sum(typical * volume) / sum(volume) over
// the candles of the current anchor bucket, typical = (high + low + close) / 3. Where the bucket
// has no volume yet, the typical price.
class Vwap {
 public:
  explicit Vwap(Interval anchor = Interval::k1d) : anchor_(anchor) {}
  double update(TimestampUs open_time, double high, double low, double close, double volume);

 private:
  Interval anchor_;
  TimestampUs bucket_ = INT64_MIN;
  double pv_ = 0, v_ = 0;
};

// Realized volatility: sample standard deviation (n - 1) of the last `window` log returns
// ln(close_t / close_t-1); not annualised. First value after window + 1 closes.
class RealizedVolatility {
 public:
  explicit RealizedVolatility(int window);
  double update(double close);

 private:
  int n_;
  std::vector<double> buf_;
  int pos_ = 0, count_ = 0, since_resum_ = 0;
  bool have_prev_ = false;
  double prev_ = 0, sum_ = 0, sum2_ = 0;
};

// Order-book imbalance over the top `levels` levels of a book snapshot:
// (bid qty - ask qty) / (bid qty + ask qty), in [-1, 1]; NaN for an empty book.
double book_imbalance(const DepthSnapshot& book, int levels);

// --- configuration ---------------------------------------------------------------------------

struct IndicatorSpec {
  std::string name;  // sma ema rsi macd bbands atr vwap obv rv obi
  std::vector<std::pair<std::string, double>> params;
  std::string source = "close";  // input series for sma/ema/rsi/macd/bbands/rv
  std::string anchor = "1d";     // vwap
};

// Parses INDICATORS_CONFIG. An empty (or blank) text selects the defaults (every candle
// indicator with default params). Errors name the entry and the reason.
Result<std::vector<IndicatorSpec>, std::string> parse_indicators_config(std::string_view json);

// One configured indicator: its output columns and how it updates.
class Indicator {
 public:
  virtual ~Indicator() = default;
  const std::vector<std::string>& columns() const { return columns_; }
  // Writes columns().size() values (NaN during warm-up).
  virtual void update(const Candle& c, double* out) = 0;
  virtual void on_book(const DepthSnapshot&) {}

 protected:
  std::vector<std::string> columns_;
};

Result<std::unique_ptr<Indicator>, std::string> make_indicator(const IndicatorSpec& spec);

// A configured list of indicators with one flat row of output values per candle.
class IndicatorSet {
 public:
  static Result<IndicatorSet, std::string> create(const std::vector<IndicatorSpec>& specs);
  static Result<IndicatorSet, std::string> from_json(std::string_view json);

  const std::vector<std::string>& columns() const { return columns_; }
  // The values after this candle, one per column (NaN: not defined yet). Valid until the next
  // call.
  std::span<const double> update(const Candle& c);
  // Order-book snapshots for `obi`: its value at a candle is that of the latest snapshot.
  void on_book(const DepthSnapshot& book);

 private:
  std::vector<std::unique_ptr<Indicator>> indicators_;
  std::vector<std::string> columns_;
  std::vector<double> values_;
};

}  // namespace sf::analytics
