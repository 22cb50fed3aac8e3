// graph-builder: stored candles -> a market graph (src/ml/graph, docs/graphs.md) for gnn-trainer.
//
// Reads the closed candles of SYMBOL (one symbol for GRAPH_KIND `candles`, a comma-separated list
// for `assets`), INTERVAL and TIME_RANGE (YYYY-MM-DD:YYYY-MM-DD, end exclusive) from the store,
// builds the graph with normalisation fitted on the training span only (TRAIN_FRACTION) and its
// labels (next-candle direction with the FLAT band FLAT_BAND, realized volatility of the next
// VOL_HORIZON candles; for `assets`, each symbol's candle after the snapshot), and writes it under
// GRAPH_NAME (or the original's GRAPH_COLLECTION_NAME; default `<symbol>_<kind>_<interval>_<from>`)
//  - to the store (Store::replace_graph: graphs / graph_nodes / graph_edges tables in SQLite and
//    PostgreSQL; a vertex and an edge collection plus a named graph in ArangoDB), the system of
//    record gnn-trainer and gnn-infer read;
//  - and, unless GRAPH_DIR is empty, to GRAPH_DIR/<name> as nodes.csv, edges.csv, meta.json and
//    labels.csv for pandas / PyTorch Geometric.
// `candles` graphs take extra node features from the store (docs/graphs.md, "Features from the
// store"): INDICATOR_FEATURES, stored indicator columns (indicator-calculator's names, e.g.
// atr_14,sma_20; price levels become distances from the close), and TRADE_FEATURES (auto | on |
// off), per-candle aggregates of the stored aggregate trades (count, taker-buy share, largest
// trade's share, mean trade size).
// Telemetry `finished` carries {"graph","store","graph_dir","nodes","edges","features",...};
// too few candles is an `error` naming the counts.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/interval.h"
#include "core/result.h"
#include "ml/graph/asset_graph.h"
#include "ml/graph/candle_graph.h"
#include "runtime/config.h"
#include "runtime/worker.h"
#include "store/store.h"

namespace sf::services {

struct GraphBuilderOptions {
  std::string kind = "candles";  // GRAPH_KIND: candles | assets
  std::vector<Symbol> symbols;
  Interval interval = Interval::k5m;
  TimestampUs from = 0, to = 0;
  std::string graph_dir = "./data/graphs";
  std::string graph_name;  // "" = derived
  ml::CandleGraphOptions candles;
  ml::AssetGraphOptions assets;
  std::vector<std::string> indicator_features;  // INDICATOR_FEATURES
  std::string trade_features = "auto";          // TRADE_FEATURES: auto | on | off
  double flat_band = ml::kDefaultFlatBand;
  int vol_horizon = 12;
};

void add_graph_builder_options(runtime::ConfigParser& parser);
Result<GraphBuilderOptions, std::string> graph_builder_options_from(const runtime::Config& config);

// `store` must outlive the run.
std::function<runtime::WorkResult(runtime::WorkerContext&)> graph_builder_body(
    GraphBuilderOptions options, store::Store& store);

// Stored indicator `names` of `candles`' symbol and interval as feature columns aligned with the
// candles (NaN where a candle has no value): `ind_<name>`, price levels (sma_, ema_, vwap,
// bb_upper/middle/lower) as value / close - 1 and atr_ as value / close, so that no column
// carries the price level; other indicators as stored. Causal: indicator-calculator computes the
// value of candle i from candles up to i.
Result<std::vector<ml::ExtraColumn>, std::string> indicator_columns(
    store::Store& store, const std::vector<Candle>& candles, const std::vector<std::string>& names);

// Per-candle aggregates of the stored aggregate trades inside each candle (read a day at a time):
// at_log_count = ln(1 + n), at_taker_buy_ratio = taker-buy qty / qty, at_max_share = largest
// trade qty / qty, at_log_mean_qty = ln(qty / n); NaN for a candle without trades. Returns no
// columns when the range holds no aggregate trade at all (`*trades_seen` = 0).
Result<std::vector<ml::ExtraColumn>, std::string> trade_columns(store::Store& store,
                                                                const std::vector<Candle>& candles,
                                                                std::int64_t* trades_seen);

int graph_builder_main(int argc, char** argv);

}  // namespace sf::services
