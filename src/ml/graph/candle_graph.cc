#include "ml/graph/candle_graph.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "analytics/indicators.h"

namespace sf::ml {

namespace {

constexpr std::size_t kBuiltin = 15;

Result<void, std::string> check_series(std::span<const Candle> candles) {
  for (std::size_t i = 0; i < candles.size(); ++i) {
    const Candle& c = candles[i];
    if (!c.is_closed) return unexpected("candle " + std::to_string(i) + " is not closed");
    if (i == 0) continue;
    if (c.symbol != candles[0].symbol)
      return unexpected("candle " + std::to_string(i) + ": another symbol");
    if (c.interval != candles[0].interval)
      return unexpected("candle " + std::to_string(i) + ": another interval");
    if (c.open_time <= candles[i - 1].open_time)
      return unexpected("candle " + std::to_string(i) + ": open times not increasing");
  }
  return {};
}

// Seconds since midnight UTC and day of week (Monday = 0) of a µs time.
void time_parts(TimestampUs t, double* sec_of_day, int* dow) {
  const std::int64_t s = t >= 0 ? t / 1'000'000 : -((-t + 999'999) / 1'000'000);
  std::int64_t days = s >= 0 ? s / 86400 : -((-s + 86399) / 86400);
  *sec_of_day = static_cast<double>(s - days * 86400);
  *dow = static_cast<int>(((days + 3) % 7 + 7) % 7);  // 1970-01-01 was a Thursday
}

}  // namespace

std::vector<std::string> candle_feature_names(const CandleGraphOptions& opt) {
  return {"log_return",
          "range",
          "clv",
          "log_volume",
          "log_trades",
          "taker_buy_ratio",
          "rv_" + std::to_string(opt.rv_window),
          "rsi_14",
          "macd_hist",
          "bb_pctb",
          "vwap_dev",
          "tod_sin",
          "tod_cos",
          "dow_sin",
          "dow_cos"};
}

Result<std::vector<double>, std::string> candle_features(std::span<const Candle> candles,
                                                         const CandleGraphOptions& opt,
                                                         const std::vector<ExtraColumn>& extra) {
  if (auto ok = check_series(candles); !ok) return unexpected(ok.error());
  if (opt.rv_window < 2) return unexpected(std::string("rv_window must be >= 2"));
  for (const auto& col : extra)
    if (col.values.size() != candles.size())
      return unexpected("extra column " + col.name + ": " + std::to_string(col.values.size()) +
                        " values for " + std::to_string(candles.size()) + " candles");
  const std::size_t n = candles.size();
  const std::size_t f = kBuiltin + extra.size();
  std::vector<double> out(n * f);

  analytics::Rsi rsi(14);
  analytics::Macd macd(12, 26, 9);
  analytics::Bollinger bb(20, 2.0, 2.0);
  analytics::Vwap vwap(Interval::k1d);
  analytics::RealizedVolatility rv(opt.rv_window);
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  constexpr double kTwoPi = 2 * std::numbers::pi;

  double prev_close = kNaN;
  for (std::size_t i = 0; i < n; ++i) {
    const Candle& c = candles[i];
    const double o = c.open.to_double(), h = c.high.to_double(), l = c.low.to_double(),
                 cl = c.close.to_double(), v = c.volume.to_double();
    (void)o;
    double* row = &out[i * f];
    row[0] = std::isnan(prev_close) ? kNaN : std::log(cl / prev_close);
    row[1] = (h - l) / cl;
    row[2] = h > l ? (cl - l) / (h - l) : 0.5;
    row[3] = std::log1p(v);
    const bool known = c.number_of_trades >= 0;  // -1: the source has no trade count / taker
    row[4] = known ? std::log1p(static_cast<double>(c.number_of_trades)) : kNaN;
    row[5] = !known ? kNaN : (v > 0 ? c.taker_buy_base_asset_volume.to_double() / v : 0.5);
    row[6] = rv.update(cl);
    row[7] = rsi.update(cl);
    const auto m = macd.update(cl);
    row[8] = m.hist / cl;
    const auto b = bb.update(cl);
    row[9] = std::isnan(b.upper) ? kNaN
             : b.upper > b.lower ? (cl - b.lower) / (b.upper - b.lower)
                                 : 0.5;
    const double vw = vwap.update(c.open_time, h, l, cl, v);
    row[10] = cl / vw - 1.0;
    double sod = 0;
    int dow = 0;
    time_parts(c.open_time, &sod, &dow);
    row[11] = std::sin(kTwoPi * sod / 86400.0);
    row[12] = std::cos(kTwoPi * sod / 86400.0);
    row[13] = std::sin(kTwoPi * dow / 7.0);
    row[14] = std::cos(kTwoPi * dow / 7.0);
    for (std::size_t k = 0; k < extra.size(); ++k) row[kBuiltin + k] = extra[k].values[i];
    prev_close = cl;
  }
  return out;
}

Result<Graph, std::string> build_candle_graph(std::span<const Candle> candles,
                                              const CandleGraphOptions& opt,
                                              const std::vector<ExtraColumn>& extra) {
  if (opt.lags < 0 || opt.similarity_top_m < 0 || opt.similarity_lookback < 0)
    return unexpected(std::string("lags, similarity_top_m and similarity_lookback must be >= 0"));
  if (!(opt.train_fraction > 0 && opt.train_fraction <= 1))
    return unexpected(std::string("train_fraction must be in (0, 1]"));
  auto raw = candle_features(candles, opt, extra);
  if (!raw) return unexpected(raw.error());

  Graph g;
  g.kind = "candles";
  const std::size_t n = candles.size();
  if (n > 0) {
    g.symbols.push_back(candles[0].symbol.str());
    g.interval = std::string(interval_name(candles[0].interval));
  }
  g.feature_names = candle_feature_names(opt);
  for (const auto& col : extra) g.feature_names.push_back(col.name);
  const std::size_t f = g.feature_names.size();

  g.node_id.resize(n);
  g.node_time.resize(n);
  g.node_symbol.assign(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    g.node_id[i] = static_cast<std::int64_t>(i);
    g.node_time[i] = candles[i].open_time;
  }
  // Warm-up: leading rows where a feature that is defined somewhere later is still NaN.
  std::vector<bool> ever(f, false);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < f; ++j) ever[j] = ever[j] || !std::isnan((*raw)[i * f + j]);
  g.warmup_nodes = n;
  for (std::size_t i = 0; i < n; ++i) {
    bool all = true;
    for (std::size_t j = 0; j < f && all; ++j) all = !ever[j] || !std::isnan((*raw)[i * f + j]);
    if (all) {
      g.warmup_nodes = i;
      break;
    }
  }

  g.train_nodes = static_cast<std::size_t>(std::floor(static_cast<double>(n) * opt.train_fraction));
  g.train_end_time = g.train_nodes > 0 ? g.node_time[g.train_nodes - 1] : 0;
  fit_zscore(*raw, f, g.train_nodes, &g.norm_mean, &g.norm_std);
  g.features = apply_zscore(*raw, f, g.norm_mean, g.norm_std);

  // Edges, grouped by destination in increasing order.
  std::vector<double> norm(n, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    double s = 0;
    for (std::size_t j = 0; j < f; ++j) s += double(g.features[i * f + j]) * g.features[i * f + j];
    norm[i] = std::sqrt(s);
  }
  const std::size_t lags = static_cast<std::size_t>(opt.lags);
  const std::size_t top_m = static_cast<std::size_t>(opt.similarity_top_m);
  const std::size_t lookback = static_cast<std::size_t>(opt.similarity_lookback);
  g.edges.reserve(n * (lags + top_m));
  std::vector<std::pair<double, std::size_t>> cand;
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t lag = 1; lag <= lags && lag <= i; ++lag)
      g.edges.push_back({static_cast<std::int64_t>(i - lag), static_cast<std::int64_t>(i),
                         static_cast<float>(1.0 / static_cast<double>(lag)), EdgeKind::kTemporal});
    if (top_m == 0 || norm[i] == 0) continue;
    cand.clear();
    const float* a = &g.features[i * f];
    for (std::size_t j = i > lookback ? i - lookback : 0; j < i; ++j) {
      if (norm[j] == 0) continue;
      const float* b = &g.features[j * f];
      double dot = 0;
      for (std::size_t k = 0; k < f; ++k) dot += double(a[k]) * b[k];
      cand.emplace_back(dot / (norm[i] * norm[j]), j);
    }
    const std::size_t keep = std::min(top_m, cand.size());
    // Most similar first; ties to the more recent node.
    std::partial_sort(cand.begin(), cand.begin() + static_cast<std::ptrdiff_t>(keep), cand.end(),
                      [](const auto& x, const auto& y) {
                        return x.first != y.first ? x.first > y.first : x.second > y.second;
                      });
    for (std::size_t k = 0; k < keep; ++k)
      g.edges.push_back({static_cast<std::int64_t>(cand[k].second), static_cast<std::int64_t>(i),
                         static_cast<float>(cand[k].first), EdgeKind::kSimilarity});
  }

  g.params = {{"lags", opt.lags},
              {"similarity_top_m", opt.similarity_top_m},
              {"similarity_lookback", opt.similarity_lookback},
              {"rv_window", opt.rv_window},
              {"train_fraction", opt.train_fraction},
              {"rsi_period", 14},
              {"macd_fast", 12},
              {"macd_slow", 26},
              {"macd_signal", 9},
              {"bb_period", 20},
              {"bb_k", 2}};
  return g;
}

std::vector<std::int8_t> direction_labels(std::span<const Candle> candles, double flat_band) {
  std::vector<std::int8_t> out(candles.size(), kUnknown);
  for (std::size_t i = 0; i + 1 < candles.size(); ++i) {
    const double r = std::log(candles[i + 1].close.to_double() / candles[i].close.to_double());
    out[i] = std::abs(r) < flat_band ? kFlat : (r > 0 ? kUp : kDown);
  }
  return out;
}

std::vector<double> volatility_labels(std::span<const Candle> candles, int n) {
  std::vector<double> out(candles.size(), std::numeric_limits<double>::quiet_NaN());
  if (n < 2) return out;
  const std::size_t N = static_cast<std::size_t>(n);
  std::vector<double> rets(N);
  for (std::size_t i = 0; i + N < candles.size(); ++i) {
    double sum = 0;
    for (std::size_t k = 1; k <= N; ++k) {
      rets[k - 1] =
          std::log(candles[i + k].close.to_double() / candles[i + k - 1].close.to_double());
      sum += rets[k - 1];
    }
    const double mean = sum / static_cast<double>(N);
    double ss = 0;
    for (double x : rets) ss += (x - mean) * (x - mean);
    out[i] = std::sqrt(ss / static_cast<double>(N - 1));
  }
  return out;
}

}  // namespace sf::ml
