#include "ml/graph/asset_graph.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "analytics/indicators.h"
#include "ml/graph/candle_graph.h"

namespace sf::ml {

std::vector<std::string> asset_feature_names() {
  return {"ret_window", "rv_window", "ret_last", "log_volume_mean",
          "range_mean", "rsi_14",    "corr_mean"};
}

Result<Graph, std::string> build_asset_graph(const std::vector<std::vector<Candle>>& series,
                                             const AssetGraphOptions& opt) {
  if (opt.window < 2 || opt.step < 1)
    return unexpected(std::string("window must be >= 2 and step >= 1"));
  if (!(opt.train_fraction > 0 && opt.train_fraction <= 1))
    return unexpected(std::string("train_fraction must be in (0, 1]"));
  if (opt.top_k < 0) return unexpected(std::string("top_k must be >= 0"));
  const std::size_t P = series.size();
  if (P < 2) return unexpected(std::string("an assets graph needs at least two symbols"));
  const std::size_t n = series[0].size();
  for (std::size_t p = 0; p < P; ++p) {
    if (series[p].size() != n)
      return unexpected("series " + std::to_string(p) + " has " + std::to_string(series[p].size()) +
                        " candles, series 0 has " + std::to_string(n));
    for (std::size_t i = 0; i < n; ++i) {
      if (series[p][i].open_time != series[0][i].open_time)
        return unexpected("series " + std::to_string(p) + " is not aligned at candle " +
                          std::to_string(i));
      if (!series[p][i].is_closed)
        return unexpected("series " + std::to_string(p) + ": candle " + std::to_string(i) +
                          " is not closed");
      if (i > 0 && series[p][i].open_time <= series[p][i - 1].open_time)
        return unexpected("series " + std::to_string(p) + ": open times not increasing");
    }
  }

  const std::size_t W = static_cast<std::size_t>(opt.window);
  const std::size_t step = static_cast<std::size_t>(opt.step);
  const std::size_t S = n > W ? (n - 1 - W) / step + 1 : 0;

  // Per-symbol series: log return (index 0 undefined), log volume, range, RSI after each candle.
  std::vector<std::vector<double>> ret(P, std::vector<double>(n, 0.0)), lvol(P, ret[0]),
      range(P, ret[0]), rsi(P, ret[0]);
  for (std::size_t p = 0; p < P; ++p) {
    analytics::Rsi r14(14);
    for (std::size_t i = 0; i < n; ++i) {
      const Candle& c = series[p][i];
      const double cl = c.close.to_double();
      ret[p][i] = i == 0 ? 0.0 : std::log(cl / series[p][i - 1].close.to_double());
      lvol[p][i] = std::log1p(c.volume.to_double());
      range[p][i] = (c.high.to_double() - c.low.to_double()) / cl;
      rsi[p][i] = r14.update(cl);
    }
  }

  Graph g;
  g.kind = "assets";
  if (n > 0) g.interval = std::string(interval_name(series[0][0].interval));
  for (const auto& s : series) g.symbols.push_back(s.empty() ? "" : s[0].symbol.str());
  g.feature_names = asset_feature_names();
  const std::size_t f = g.feature_names.size();
  std::vector<double> raw(S * P * f);
  std::vector<double> mean(P), sd(P), corr(P * P);

  for (std::size_t s = 0; s < S; ++s) {
    const std::size_t e = asset_snapshot_end(opt, s);
    const std::size_t lo = e + 1 - W;  // returns lo..e (lo >= 1)
    for (std::size_t p = 0; p < P; ++p) {
      double sum = 0;
      for (std::size_t t = lo; t <= e; ++t) sum += ret[p][t];
      mean[p] = sum / static_cast<double>(W);
      double ss = 0;
      for (std::size_t t = lo; t <= e; ++t) ss += (ret[p][t] - mean[p]) * (ret[p][t] - mean[p]);
      sd[p] = std::sqrt(ss);  // centred norm
    }
    for (std::size_t a = 0; a < P; ++a) {
      corr[a * P + a] = 1.0;
      for (std::size_t b = a + 1; b < P; ++b) {
        double sab = 0;
        for (std::size_t t = lo; t <= e; ++t) sab += (ret[a][t] - mean[a]) * (ret[b][t] - mean[b]);
        const double rho = sd[a] > 0 && sd[b] > 0 ? sab / (sd[a] * sd[b]) : 0.0;
        corr[a * P + b] = corr[b * P + a] = rho;
      }
    }
    for (std::size_t p = 0; p < P; ++p) {
      const std::size_t node = s * P + p;
      g.node_id.push_back(static_cast<std::int64_t>(node));
      g.node_time.push_back(series[p][e].open_time);
      g.node_symbol.push_back(static_cast<std::int32_t>(p));
      double* row = &raw[node * f];
      row[0] = std::log(series[p][e].close.to_double() / series[p][e - W].close.to_double());
      row[1] = sd[p] / std::sqrt(static_cast<double>(W - 1));
      row[2] = ret[p][e];
      double lv = 0, rg = 0, cm = 0;
      for (std::size_t t = lo; t <= e; ++t) {
        lv += lvol[p][t];
        rg += range[p][t];
      }
      for (std::size_t q = 0; q < P; ++q)
        if (q != p) cm += corr[p * P + q];
      row[3] = lv / static_cast<double>(W);
      row[4] = rg / static_cast<double>(W);
      row[5] = rsi[p][e];
      row[6] = cm / static_cast<double>(P - 1);
    }
    // Edges into snapshot s, by destination.
    for (std::size_t dst = 0; dst < P; ++dst) {
      const auto dst_id = static_cast<std::int64_t>(s * P + dst);
      if (opt.temporal_edges && s > 0)
        g.edges.push_back(
            {static_cast<std::int64_t>((s - 1) * P + dst), dst_id, 1.0f, EdgeKind::kTemporal});
      std::vector<std::size_t> srcs;
      for (std::size_t src = 0; src < P; ++src) {
        if (src == dst) continue;
        if (opt.top_k > 0 || std::abs(corr[src * P + dst]) >= opt.threshold) srcs.push_back(src);
      }
      if (opt.top_k > 0) {
        std::stable_sort(srcs.begin(), srcs.end(), [&](std::size_t x, std::size_t y) {
          return std::abs(corr[x * P + dst]) > std::abs(corr[y * P + dst]);
        });
        if (srcs.size() > static_cast<std::size_t>(opt.top_k))
          srcs.resize(static_cast<std::size_t>(opt.top_k));
        std::sort(srcs.begin(), srcs.end());
      }
      for (std::size_t src : srcs)
        g.edges.push_back({static_cast<std::int64_t>(s * P + src), dst_id,
                           static_cast<float>(corr[src * P + dst]), EdgeKind::kCorrelation});
    }
  }

  // The RSI needs 15 candles: with window >= 15 every snapshot is defined.
  g.warmup_nodes = 0;
  for (std::size_t i = 0; i < S * P; ++i) {
    bool all = true;
    for (std::size_t j = 0; j < f; ++j) all = all && !std::isnan(raw[i * f + j]);
    if (all) break;
    g.warmup_nodes = i + 1;
  }
  const std::size_t train_snapshots =
      static_cast<std::size_t>(std::floor(static_cast<double>(S) * opt.train_fraction));
  g.train_nodes = train_snapshots * P;
  g.train_end_time = g.train_nodes > 0 ? g.node_time[g.train_nodes - 1] : 0;
  fit_zscore(raw, f, g.train_nodes, &g.norm_mean, &g.norm_std);
  g.features = apply_zscore(raw, f, g.norm_mean, g.norm_std);
  g.params = {{"window", opt.window},
              {"step", opt.step},
              {"threshold", opt.threshold},
              {"top_k", opt.top_k},
              {"temporal_edges", opt.temporal_edges ? 1 : 0},
              {"train_fraction", opt.train_fraction},
              {"snapshots", static_cast<double>(S)},
              {"rsi_period", 14}};
  return g;
}

void asset_labels(const std::vector<std::vector<Candle>>& series, const AssetGraphOptions& opt,
                  std::size_t num_nodes, double flat_band, int vol_horizon,
                  std::vector<int>* direction, std::vector<double>* volatility) {
  direction->assign(num_nodes, -1);
  volatility->assign(num_nodes, std::numeric_limits<double>::quiet_NaN());
  const std::size_t pairs = series.size();
  if (pairs == 0) return;
  for (std::size_t p = 0; p < pairs; ++p) {
    const auto d = direction_labels(series[p], flat_band);
    const auto v = volatility_labels(series[p], vol_horizon);
    for (std::size_t i = p; i < num_nodes; i += pairs) {
      const std::size_t e = asset_snapshot_end(opt, i / pairs);
      if (e < d.size()) (*direction)[i] = d[e];
      if (e < v.size()) (*volatility)[i] = v[e];
    }
  }
}

}  // namespace sf::ml
