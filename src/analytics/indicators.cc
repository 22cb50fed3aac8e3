// The candle indicators follow TA-Lib's C code (ta_SMA.c, ta_EMA.c, ta_RSI.c, ta_MACD.c,
// ta_BBANDS.c, ta_ATR.c + ta_TRANGE.c, ta_OBV.c) with the same floating-point operations in the
// same order where that is what TA-Lib 0.8 (PyPI ta-lib 0.8.2) does: SMA, EMA, OBV, MACD and the
// Bollinger middle come out bit-identical; RSI and ATR within a few ulps. Compiled with
// -ffp-contract=off so that no fused multiply-add changes a rounding.
#include "analytics/indicators.h"

#include <simdjson.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>

#include "analytics/candles.h"
#include "core/json_balance.h"

namespace sf::analytics {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// TA-Lib's TA_IS_ZERO / TA_IS_ZERO_OR_NEG.
inline bool ta_is_zero(double v) {
  return -0.00000001 < v && v < 0.00000001;
}
inline bool ta_is_zero_or_neg(double v) {
  return v < 0.00000001;
}
inline double per_to_k(int period) {
  return 2.0 / static_cast<double>(period + 1);
}

void require_period(int p, const char* what) {
  if (p < 1) throw std::invalid_argument(std::string(what) + " must be >= 1");
}

}  // namespace

// --- Sma -------------------------------------------------------------------------------------

Sma::Sma(int period) : n_(period) {
  require_period(period, "SMA period");
  buf_.assign(static_cast<std::size_t>(n_), 0.0);
}

double Sma::update(double x) {
  total_ += x;
  buf_[static_cast<std::size_t>(pos_)] = x;
  pos_ = pos_ + 1 == n_ ? 0 : pos_ + 1;
  if (count_ < n_ && ++count_ < n_) return kNaN;
  const double out = total_ / n_;
  total_ -= buf_[static_cast<std::size_t>(pos_)];  // the oldest of the window just output
  return out;
}

// --- Ema -------------------------------------------------------------------------------------

Ema::Ema(int period) : n_(period), k_(per_to_k(period)) {
  require_period(period, "EMA period");
}

double Ema::update(double x) {
  if (count_ < n_) {
    sum_ += x;
    if (++count_ < n_) return kNaN;
    ema_ = sum_ / n_;
    return ema_;
  }
  ema_ = ((x - ema_) * k_) + ema_;
  return ema_;
}

// --- Rsi -------------------------------------------------------------------------------------

Rsi::Rsi(int period) : n_(period) {
  if (period < 2) throw std::invalid_argument("RSI period must be >= 2");
}

double Rsi::update(double x) {
  if (count_ == 0) {
    prev_ = x;
    ++count_;
    return kNaN;
  }
  const double change = x - prev_;
  prev_ = x;
  if (count_ <= n_) {  // seeding: the first n changes
    if (change < 0)
      loss_ -= change;
    else
      gain_ += change;
    if (++count_ <= n_) return kNaN;
    loss_ /= n_;
    gain_ /= n_;
  } else {
    loss_ *= (n_ - 1);
    gain_ *= (n_ - 1);
    if (change < 0)
      loss_ -= change;
    else
      gain_ += change;
    loss_ /= n_;
    gain_ /= n_;
  }
  const double total = gain_ + loss_;
  return ta_is_zero(total) ? 0.0 : 100.0 * (gain_ / total);
}

// --- Macd ------------------------------------------------------------------------------------

Macd::Macd(int fast, int slow, int signal)
    : fast_(fast), slow_(slow), signal_(signal), signal_ema_(signal) {
  if (fast < 2 || slow < 2 || signal < 1)
    throw std::invalid_argument("MACD periods: fast, slow >= 2, signal >= 1");
  if (slow_ < fast_) std::swap(slow_, fast_);  // as TA-Lib does
  kf_ = per_to_k(fast_);
  ks_ = per_to_k(slow_);
  warm_.reserve(static_cast<std::size_t>(slow_));
}

Macd::Value Macd::update(double x) {
  Value v{kNaN, kNaN, kNaN};
  if (count_ < slow_) {
    warm_.push_back(x);
    if (++count_ < slow_) return v;
    double s = 0;
    for (int i = 0; i < slow_; ++i) s += warm_[static_cast<std::size_t>(i)];
    ema_slow_ = s / slow_;
    double f = 0;
    for (int i = slow_ - fast_; i < slow_; ++i) f += warm_[static_cast<std::size_t>(i)];
    ema_fast_ = f / fast_;
  } else {
    ema_fast_ = ((x - ema_fast_) * kf_) + ema_fast_;
    ema_slow_ = ((x - ema_slow_) * ks_) + ema_slow_;
  }
  const double macd = ema_fast_ - ema_slow_;
  const double signal = signal_ema_.update(macd);
  if (std::isnan(signal)) return v;
  return {macd, signal, macd - signal};
}

// --- Bollinger -------------------------------------------------------------------------------

Bollinger::Bollinger(int period, double k_up, double k_down)
    : n_(period), k_up_(k_up), k_down_(k_down), sma_(period) {
  buf_.assign(static_cast<std::size_t>(n_), 0.0);
}

Bollinger::Value Bollinger::update(double x) {
  const double middle = sma_.update(x);
  double& slot = buf_[static_cast<std::size_t>(pos_)];
  const bool full = count_ == n_;
  if (full) {
    const double d_old = slot - anchor_;
    s1_ -= d_old;
    s2_ -= d_old * d_old;
  } else {
    ++count_;
  }
  slot = x;
  pos_ = pos_ + 1 == n_ ? 0 : pos_ + 1;
  const double d = x - anchor_;
  s1_ += d;
  s2_ += d * d;
  if (count_ < n_) return {kNaN, kNaN, kNaN};
  // The deviation from sums of (x - anchor), re-anchored on the window mean once per window
  // (amortised O(1)): no catastrophic cancellation of sum(x^2) - n*mean^2 at BTC price levels,
  // and no drift. TA-Lib 0.8 computes it to about 1e-12 of the two-pass value; so does this.
  if (++since_anchor_ >= n_ || !full) {
    since_anchor_ = 0;
    anchor_ = middle;
    s1_ = s2_ = 0;
    for (const double v : buf_) {
      const double e = v - anchor_;
      s1_ += e;
      s2_ += e * e;
    }
  }
  const double m1 = s1_ / n_;
  const double var = s2_ / n_ - m1 * m1;
  const double sd = ta_is_zero_or_neg(var) ? 0.0 : std::sqrt(var);
  if (k_up_ == k_down_) {
    if (k_up_ == 1.0) return {middle + sd, middle, middle - sd};
    const double d = sd * k_up_;
    return {middle + d, middle, middle - d};
  }
  double up = sd, down = sd;
  if (k_up_ != 1.0) up = sd * k_up_;
  if (k_down_ != 1.0) down = sd * k_down_;
  return {middle + up, middle, middle - down};
}

// --- Atr -------------------------------------------------------------------------------------

Atr::Atr(int period) : n_(period) {
  require_period(period, "ATR period");
}

double Atr::update(double high, double low, double close) {
  if (count_ == 0) {
    prev_close_ = close;
    ++count_;
    return n_ == 1 ? high - low : kNaN;  // TA-Lib's ATR(1) is TRANGE, which starts at bar 1
  }
  double tr = high - low;
  const double a = std::fabs(prev_close_ - high);
  if (a > tr) tr = a;
  const double b = std::fabs(prev_close_ - low);
  if (b > tr) tr = b;
  prev_close_ = close;
  if (n_ == 1) return tr;
  if (count_ <= n_) {
    sum_ += tr;
    if (++count_ <= n_) return kNaN;
    atr_ = sum_ / n_;
    return atr_;
  }
  atr_ *= (n_ - 1);
  atr_ += tr;
  atr_ /= n_;
  return atr_;
}

// --- Obv -------------------------------------------------------------------------------------

double Obv::update(double close, double volume) {
  if (!started_) {
    started_ = true;
    obv_ = volume;
  } else if (close > prev_close_) {
    obv_ += volume;
  } else if (close < prev_close_) {
    obv_ -= volume;
  }
  prev_close_ = close;
  return obv_;
}

// --- Vwap ------------------------------------------------------------------------------------

double Vwap::update(TimestampUs open_time, double high, double low, double close, double volume) {
  const TimestampUs b = bucket_open(open_time, anchor_);
  if (b != bucket_) {
    bucket_ = b;
    pv_ = v_ = 0;
  }
  const double typical = (high + low + close) / 3.0;
  pv_ += typical * volume;
  v_ += volume;
  return v_ > 0 ? pv_ / v_ : typical;
}

// --- RealizedVolatility ----------------------------------------------------------------------

RealizedVolatility::RealizedVolatility(int window) : n_(window) {
  if (window < 2) throw std::invalid_argument("realized volatility window must be >= 2");
  buf_.assign(static_cast<std::size_t>(n_), 0.0);
}

double RealizedVolatility::update(double close) {
  if (!have_prev_) {
    have_prev_ = true;
    prev_ = close;
    return kNaN;
  }
  const double r = std::log(close / prev_);
  prev_ = close;
  double& slot = buf_[static_cast<std::size_t>(pos_)];
  if (count_ == n_) {
    sum_ -= slot;
    sum2_ -= slot * slot;
  } else {
    ++count_;
  }
  slot = r;
  sum_ += r;
  sum2_ += r * r;
  pos_ = pos_ + 1 == n_ ? 0 : pos_ + 1;
  // Re-sum once per window so that add/subtract rounding cannot drift (amortised O(1)).
  if (++since_resum_ >= n_) {
    since_resum_ = 0;
    sum_ = sum2_ = 0;
    for (int i = 0; i < count_; ++i) {
      const double v = buf_[static_cast<std::size_t>(i)];
      sum_ += v;
      sum2_ += v * v;
    }
  }
  if (count_ < n_) return kNaN;
  const double var = (sum2_ - sum_ * sum_ / n_) / (n_ - 1);
  return var > 0 ? std::sqrt(var) : 0.0;
}

// --- book imbalance --------------------------------------------------------------------------

double book_imbalance(const DepthSnapshot& book, int levels) {
  Decimal bid, ask;
  const auto nb = std::min<std::size_t>(book.bids.size(), static_cast<std::size_t>(levels));
  const auto na = std::min<std::size_t>(book.asks.size(), static_cast<std::size_t>(levels));
  for (std::size_t i = 0; i < nb; ++i) bid += book.bids[i].quantity;
  for (std::size_t i = 0; i < na; ++i) ask += book.asks[i].quantity;
  const Decimal total = bid + ask;
  if (total.is_zero()) return kNaN;
  return (bid - ask).to_double() / total.to_double();
}

// --- configuration ---------------------------------------------------------------------------

namespace {

struct Known {
  const char* name;
  std::vector<std::pair<const char*, double>> defaults;
  bool has_source;
};

const std::vector<Known>& known() {
  static const std::vector<Known> k = {
      {"sma", {{"period", 20}}, true},
      {"ema", {{"period", 20}}, true},
      {"rsi", {{"period", 14}}, true},
      {"macd", {{"fast", 12}, {"slow", 26}, {"signal", 9}}, true},
      {"bbands", {{"period", 20}, {"nbdevup", 2}, {"nbdevdn", 2}}, true},
      {"atr", {{"period", 14}}, false},
      {"vwap", {}, false},
      {"obv", {}, false},
      {"rv", {{"window", 20}}, true},
      {"obi", {{"levels", 10}}, false},
  };
  return k;
}

const Known* find_known(std::string_view name) {
  for (const auto& k : known())
    if (name == k.name) return &k;
  return nullptr;
}

std::string known_names() {
  std::string s;
  for (const auto& k : known()) {
    if (!s.empty()) s += ", ";
    s += k.name;
  }
  return s;
}

double param(const IndicatorSpec& spec, std::string_view key) {
  for (const auto& [k, v] : spec.params)
    if (k == key) return v;
  throw std::logic_error("missing param");
}

std::string fmt_num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

enum class Source : std::uint8_t { kOpen, kHigh, kLow, kClose, kVolume };

bool parse_source(std::string_view s, Source* out) {
  if (s == "close")
    *out = Source::kClose;
  else if (s == "open")
    *out = Source::kOpen;
  else if (s == "high")
    *out = Source::kHigh;
  else if (s == "low")
    *out = Source::kLow;
  else if (s == "volume")
    *out = Source::kVolume;
  else
    return false;
  return true;
}

double pick(const Candle& c, Source s) {
  switch (s) {
    case Source::kOpen:
      return c.open.to_double();
    case Source::kHigh:
      return c.high.to_double();
    case Source::kLow:
      return c.low.to_double();
    case Source::kClose:
      return c.close.to_double();
    case Source::kVolume:
      return c.volume.to_double();
  }
  return kNaN;
}

// Column suffix for a non-default input series.
std::string source_suffix(const IndicatorSpec& s) {
  return s.source == "close" ? std::string() : "_" + s.source;
}

class SeriesIndicator : public Indicator {
 protected:
  explicit SeriesIndicator(const IndicatorSpec& s) { parse_source(s.source, &source_); }
  double input(const Candle& c) const { return pick(c, source_); }
  Source source_ = Source::kClose;
};

class SmaInd final : public SeriesIndicator {
 public:
  explicit SmaInd(const IndicatorSpec& s)
      : SeriesIndicator(s), sma_(static_cast<int>(param(s, "period"))) {
    columns_ = {"sma_" + fmt_num(param(s, "period")) + source_suffix(s)};
  }
  void update(const Candle& c, double* out) override { out[0] = sma_.update(input(c)); }

 private:
  Sma sma_;
};

class EmaInd final : public SeriesIndicator {
 public:
  explicit EmaInd(const IndicatorSpec& s)
      : SeriesIndicator(s), ema_(static_cast<int>(param(s, "period"))) {
    columns_ = {"ema_" + fmt_num(param(s, "period")) + source_suffix(s)};
  }
  void update(const Candle& c, double* out) override { out[0] = ema_.update(input(c)); }

 private:
  Ema ema_;
};

class RsiInd final : public SeriesIndicator {
 public:
  explicit RsiInd(const IndicatorSpec& s)
      : SeriesIndicator(s), rsi_(static_cast<int>(param(s, "period"))) {
    columns_ = {"rsi_" + fmt_num(param(s, "period")) + source_suffix(s)};
  }
  void update(const Candle& c, double* out) override { out[0] = rsi_.update(input(c)); }

 private:
  Rsi rsi_;
};

class MacdInd final : public SeriesIndicator {
 public:
  explicit MacdInd(const IndicatorSpec& s)
      : SeriesIndicator(s),
        macd_(static_cast<int>(param(s, "fast")), static_cast<int>(param(s, "slow")),
              static_cast<int>(param(s, "signal"))) {
    const std::string p = "_" + fmt_num(param(s, "fast")) + "_" + fmt_num(param(s, "slow")) + "_" +
                          fmt_num(param(s, "signal")) + source_suffix(s);
    columns_ = {"macd" + p, "macd_signal" + p, "macd_hist" + p};
  }
  void update(const Candle& c, double* out) override {
    const auto v = macd_.update(input(c));
    out[0] = v.macd;
    out[1] = v.signal;
    out[2] = v.hist;
  }

 private:
  Macd macd_;
};

class BbandsInd final : public SeriesIndicator {
 public:
  explicit BbandsInd(const IndicatorSpec& s)
      : SeriesIndicator(s),
        bb_(static_cast<int>(param(s, "period")), param(s, "nbdevup"), param(s, "nbdevdn")) {
    std::string p = "_" + fmt_num(param(s, "period")) + "_" + fmt_num(param(s, "nbdevup"));
    if (param(s, "nbdevdn") != param(s, "nbdevup")) p += "_" + fmt_num(param(s, "nbdevdn"));
    p += source_suffix(s);
    columns_ = {"bb_upper" + p, "bb_middle" + p, "bb_lower" + p};
  }
  void update(const Candle& c, double* out) override {
    const auto v = bb_.update(input(c));
    out[0] = v.upper;
    out[1] = v.middle;
    out[2] = v.lower;
  }

 private:
  Bollinger bb_;
};

class AtrInd final : public Indicator {
 public:
  explicit AtrInd(const IndicatorSpec& s) : atr_(static_cast<int>(param(s, "period"))) {
    columns_ = {"atr_" + fmt_num(param(s, "period"))};
  }
  void update(const Candle& c, double* out) override {
    out[0] = atr_.update(c.high.to_double(), c.low.to_double(), c.close.to_double());
  }

 private:
  Atr atr_;
};

class VwapInd final : public Indicator {
 public:
  VwapInd(const IndicatorSpec& s, Interval anchor) : vwap_(anchor) {
    columns_ = {s.anchor == "1d" ? std::string("vwap") : "vwap_" + s.anchor};
  }
  void update(const Candle& c, double* out) override {
    out[0] = vwap_.update(c.open_time, c.high.to_double(), c.low.to_double(), c.close.to_double(),
                          c.volume.to_double());
  }

 private:
  Vwap vwap_;
};

class ObvInd final : public Indicator {
 public:
  ObvInd() { columns_ = {"obv"}; }
  void update(const Candle& c, double* out) override {
    out[0] = obv_.update(c.close.to_double(), c.volume.to_double());
  }

 private:
  Obv obv_;
};

class RvInd final : public SeriesIndicator {
 public:
  explicit RvInd(const IndicatorSpec& s)
      : SeriesIndicator(s), rv_(static_cast<int>(param(s, "window"))) {
    columns_ = {"rv_" + fmt_num(param(s, "window")) + source_suffix(s)};
  }
  void update(const Candle& c, double* out) override { out[0] = rv_.update(input(c)); }

 private:
  RealizedVolatility rv_;
};

class ObiInd final : public Indicator {
 public:
  explicit ObiInd(const IndicatorSpec& s) : levels_(static_cast<int>(param(s, "levels"))) {
    columns_ = {"obi_" + fmt_num(param(s, "levels"))};
  }
  void update(const Candle&, double* out) override { out[0] = last_; }
  void on_book(const DepthSnapshot& b) override { last_ = book_imbalance(b, levels_); }

 private:
  int levels_;
  double last_ = kNaN;
};

// Integer params that must be whole and at least `min`.
std::string check_int(const IndicatorSpec& s, const char* key, int min) {
  const double v = param(s, key);
  if (v != std::floor(v) || v < min || v > 1'000'000)
    return s.name + ": param '" + key + "' must be an integer >= " + std::to_string(min);
  return {};
}

std::string validate(const IndicatorSpec& s) {
  std::string e;
  if (s.name == "sma" || s.name == "ema" || s.name == "atr")
    e = check_int(s, "period", 1);
  else if (s.name == "rsi")
    e = check_int(s, "period", 2);
  else if (s.name == "bbands") {
    e = check_int(s, "period", 2);
    if (e.empty() && (param(s, "nbdevup") < 0 || param(s, "nbdevdn") < 0))
      e = "bbands: nbdevup and nbdevdn must be >= 0";
  } else if (s.name == "macd") {
    e = check_int(s, "fast", 2);
    if (e.empty()) e = check_int(s, "slow", 2);
    if (e.empty()) e = check_int(s, "signal", 1);
  } else if (s.name == "rv")
    e = check_int(s, "window", 2);
  else if (s.name == "obi")
    e = check_int(s, "levels", 1);
  return e;
}

}  // namespace

Result<std::vector<IndicatorSpec>, std::string> parse_indicators_config(std::string_view json) {
  std::vector<IndicatorSpec> specs;
  const auto blank = json.find_first_not_of(" \t\r\n");
  if (blank == std::string_view::npos) {
    for (const auto& k : known()) {
      if (std::string_view(k.name) == "obi") continue;  // needs book snapshots, not candles
      IndicatorSpec s;
      s.name = k.name;
      for (const auto& [key, v] : k.defaults) s.params.emplace_back(key, v);
      specs.push_back(std::move(s));
    }
    return specs;
  }
  simdjson::ondemand::parser parser;
  simdjson::padded_string padded(json);
  auto fail = [](std::string msg) { return unexpected("INDICATORS_CONFIG: " + std::move(msg)); };
  if (!json_balanced(json)) return fail("not valid JSON (unbalanced braces or brackets)");
  try {
    auto doc = parser.iterate(padded);
    simdjson::ondemand::array arr;
    if (doc.get_array().get(arr)) return fail("expected a JSON list of {\"name\",\"params\"}");
    std::size_t index = 0;
    for (auto item : arr) {
      const std::string where = "entry " + std::to_string(index++);
      simdjson::ondemand::object obj;
      if (item.get_object().get(obj)) return fail(where + ": expected an object");
      IndicatorSpec spec;
      std::vector<std::pair<std::string, double>> given;
      bool have_name = false;
      for (auto field : obj) {
        std::string_view key;
        if (field.unescaped_key().get(key)) return fail(where + ": bad key");
        if (key == "name") {
          std::string_view name;
          if (field.value().get_string().get(name))
            return fail(where + ": 'name' must be a string");
          spec.name = std::string(name);
          have_name = true;
        } else if (key == "params") {
          simdjson::ondemand::object params;
          if (field.value().get_object().get(params))
            return fail(where + ": 'params' must be an object");
          for (auto p : params) {
            std::string_view pk;
            if (p.unescaped_key().get(pk)) return fail(where + ": bad param key");
            if (pk == "source" || pk == "anchor") {
              std::string_view sv;
              if (p.value().get_string().get(sv))
                return fail(where + ": param '" + std::string(pk) + "' must be a string");
              (pk == "source" ? spec.source : spec.anchor) = std::string(sv);
              given.emplace_back(std::string(pk), 0.0);
              continue;
            }
            double v = 0;
            if (p.value().get_double().get(v))
              return fail(where + ": param '" + std::string(pk) + "' must be a number");
            given.emplace_back(std::string(pk), v);
          }
        }  // other keys are ignored, as everywhere in our JSON
      }
      if (!have_name) return fail(where + ": missing 'name'");
      const Known* k = find_known(spec.name);
      if (!k)
        return fail(where + ": unknown indicator '" + spec.name + "' (known: " + known_names() +
                    ")");
      for (const auto& [key, v] : k->defaults) spec.params.emplace_back(key, v);
      for (const auto& [key, v] : given) {
        if (key == "source") {
          Source src;
          if (!k->has_source || !parse_source(spec.source, &src))
            return fail(where + " (" + spec.name + "): bad source '" + spec.source +
                        "' (open, high, low, close, volume; not for atr/vwap/obv/obi)");
          continue;
        }
        if (key == "anchor") {
          if (spec.name != "vwap" || !parse_interval(spec.anchor))
            return fail(where + " (" + spec.name + "): 'anchor' is a vwap param and an interval");
          continue;
        }
        bool found = false;
        for (auto& [dk, dv] : spec.params)
          if (dk == key) {
            dv = v;
            found = true;
          }
        if (!found) return fail(where + " (" + spec.name + "): unknown param '" + key + "'");
      }
      if (auto e = validate(spec); !e.empty()) return fail(where + " (" + e + ")");
      specs.push_back(std::move(spec));
    }
  } catch (const simdjson::simdjson_error& e) {
    return fail(std::string("malformed JSON: ") + e.what());
  }
  if (specs.empty()) return fail("the list is empty");
  return specs;
}

Result<std::unique_ptr<Indicator>, std::string> make_indicator(const IndicatorSpec& s) {
  if (find_known(s.name) == nullptr) return unexpected("unknown indicator '" + s.name + "'");
  if (auto e = validate(s); !e.empty()) return unexpected(e);
  std::unique_ptr<Indicator> p;
  if (s.name == "sma")
    p = std::make_unique<SmaInd>(s);
  else if (s.name == "ema")
    p = std::make_unique<EmaInd>(s);
  else if (s.name == "rsi")
    p = std::make_unique<RsiInd>(s);
  else if (s.name == "macd")
    p = std::make_unique<MacdInd>(s);
  else if (s.name == "bbands")
    p = std::make_unique<BbandsInd>(s);
  else if (s.name == "atr")
    p = std::make_unique<AtrInd>(s);
  else if (s.name == "vwap") {
    auto anchor = parse_interval(s.anchor);
    if (!anchor) return unexpected("vwap: bad anchor '" + s.anchor + "'");
    p = std::make_unique<VwapInd>(s, *anchor);
  } else if (s.name == "obv")
    p = std::make_unique<ObvInd>();
  else if (s.name == "rv")
    p = std::make_unique<RvInd>(s);
  else
    p = std::make_unique<ObiInd>(s);
  return p;
}

Result<IndicatorSet, std::string> IndicatorSet::create(const std::vector<IndicatorSpec>& specs) {
  IndicatorSet set;
  for (const auto& s : specs) {
    auto ind = make_indicator(s);
    if (!ind) return unexpected(ind.error());
    for (const auto& col : (*ind)->columns()) {
      for (const auto& existing : set.columns_)
        if (existing == col) return unexpected("duplicate output column '" + col + "'");
      set.columns_.push_back(col);
    }
    set.indicators_.push_back(std::move(ind).value());
  }
  set.values_.assign(set.columns_.size(), kNaN);
  return set;
}

Result<IndicatorSet, std::string> IndicatorSet::from_json(std::string_view json) {
  auto specs = parse_indicators_config(json);
  if (!specs) return unexpected(specs.error());
  return create(*specs);
}

std::span<const double> IndicatorSet::update(const Candle& c) {
  double* out = values_.data();
  for (auto& ind : indicators_) {
    ind->update(c, out);
    out += ind->columns().size();
  }
  return values_;
}

void IndicatorSet::on_book(const DepthSnapshot& book) {
  for (auto& ind : indicators_) ind->on_book(book);
}

}  // namespace sf::analytics
