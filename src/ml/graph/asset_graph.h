// `assets` graph: a rolling sequence of snapshots over several aligned symbols. Snapshot s ends at
// candle e_s = window + s * step (inclusive); it has one node per symbol (id s * P + p, time =
// open time of candle e_s) whose features use that symbol's candles e_s - window .. e_s only.
// Edges:
//   correlation  i -> j within a snapshot (i != j), weight = Pearson correlation of the two
//                symbols' log returns r_{e-window+1..e} (two-pass: means, then centred sums).
//                Correlation is symmetric; with a threshold (|rho| >= threshold) both directions
//                are emitted with the same weight; with top_k each destination keeps its k
//                strongest |rho| sources, so i -> j can exist without j -> i.
//   temporal     symbol p at snapshot s-1 -> p at snapshot s (weight 1).
// So every edge has src time <= dst time: same-time edges are contemporaneous, computed from
// data up to that time. Features (z-scored, fitted on the first train_fraction of snapshots):
//   ret_window, rv_window, ret_last, log_volume_mean, range_mean, rsi_14, corr_mean.
#pragma once

#include <span>
#include <vector>

#include "core/events.h"
#include "core/result.h"
#include "ml/graph/graph.h"

namespace sf::ml {

struct AssetGraphOptions {
  int window = 288;             // W candles of log returns per correlation / feature window
  int step = 12;                // candles between snapshots
  double threshold = 0.5;       // keep |rho| >= threshold (when top_k == 0)
  int top_k = 0;                // > 0: keep the k strongest sources per destination instead
  bool temporal_edges = true;   // link each symbol's consecutive snapshots
  double train_fraction = 0.7;  // normalisation fitted on snapshots [0, floor(S * fraction))
};

std::vector<std::string> asset_feature_names();

// series[p] is symbol p's closed candles; all must share the same open times.
Result<Graph, std::string> build_asset_graph(const std::vector<std::vector<Candle>>& series,
                                             const AssetGraphOptions& opt = {});

// Labels of an assets graph built with `opt` from `series`: node (s, p) gets symbol p's
// direction_labels / volatility_labels at candle asset_snapshot_end(opt, s), i.e. the move of
// the candle after the snapshot. -1 / NaN where unknown.
void asset_labels(const std::vector<std::vector<Candle>>& series, const AssetGraphOptions& opt,
                  std::size_t num_nodes, double flat_band, int vol_horizon,
                  std::vector<int>* direction, std::vector<double>* volatility);

// Candle index where snapshot s ends.
inline std::size_t asset_snapshot_end(const AssetGraphOptions& opt, std::size_t s) {
  return static_cast<std::size_t>(opt.window) + s * static_cast<std::size_t>(opt.step);
}

}  // namespace sf::ml
