// `candles` graph: one node per closed candle of one symbol, edges only from past to present.
// Node features (docs/graphs.md has the formulas), each computed from data up to and including
// the node's own candle (src/analytics incremental indicators, fed in time order):
//   log_return, range, clv, log_volume, log_trades, taker_buy_ratio, rv_<W>, rsi_14, macd_hist,
//   bb_pctb, vwap_dev, tod_sin, tod_cos, dow_sin, dow_cos, then any extra columns given.
// Edges: temporal lags 1..k (weight 1/lag) and similarity edges from the top-m most similar past
// nodes (cosine of normalised features) within a lookback of L nodes (weight = cosine).
// Labels are computed separately (direction_labels, volatility_labels) and never enter features.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/events.h"
#include "core/result.h"
#include "ml/graph/graph.h"

namespace sf::ml {

struct CandleGraphOptions {
  int lags = 3;                   // temporal edges t-1..t-lags -> t
  int similarity_top_m = 3;       // similarity edges per node (0: none)
  int similarity_lookback = 288;  // L: candidates are nodes t-L..t-1
  int rv_window = 20;             // W for rv_<W>
  double train_fraction = 0.7;    // normalisation fitted on nodes [0, floor(n * fraction))
};

// Extra, caller-supplied feature columns (one value per candle, NaN = undefined). The caller
// guarantees they are causal (value i uses data up to candle i only).
struct ExtraColumn {
  std::string name;
  std::vector<double> values;
};

// The 15 built-in feature names (rv's carries W).
std::vector<std::string> candle_feature_names(const CandleGraphOptions& opt);

// Raw (unnormalised) features, row-major n x (15 + extra.size()); NaN during warm-up and where
// the source lacks a field (freqtrade rows: trade count and taker-buy volume unknown).
Result<std::vector<double>, std::string> candle_features(
    std::span<const Candle> candles, const CandleGraphOptions& opt,
    const std::vector<ExtraColumn>& extra = {});

// Candles must be one symbol, one interval, closed, strictly increasing open times.
Result<Graph, std::string> build_candle_graph(std::span<const Candle> candles,
                                              const CandleGraphOptions& opt = {},
                                              const std::vector<ExtraColumn>& extra = {});

// Next-candle direction of node i: r = ln(close[i+1] / close[i]); UP (2) if r >= band, DOWN (0)
// if r <= -band, FLAT (1) if |r| < band; -1 for the last node (no next candle).
enum Direction : std::int8_t { kDown = 0, kFlat = 1, kUp = 2, kUnknown = -1 };
inline constexpr double kDefaultFlatBand = 0.0005;  // 5 basis points
std::vector<std::int8_t> direction_labels(std::span<const Candle> candles,
                                          double flat_band = kDefaultFlatBand);

// Realized volatility of the next n candles of node i: sample standard deviation (n - 1) of
// ln(close[i+k] / close[i+k-1]) for k = 1..n; NaN where fewer than n candles follow.
std::vector<double> volatility_labels(std::span<const Candle> candles, int n);

}  // namespace sf::ml
