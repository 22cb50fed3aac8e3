// Graph value type shared by the graph builders (candle_graph.h, asset_graph.h), the future
// graph-builder service and the GNN trainer, and its directory export: nodes.csv, edges.csv and
// meta.json (see docs/graphs.md for the exact layout), readable by pandas / PyTorch Geometric.
//
// Features are stored already normalised (z-score with parameters fitted on the training span
// only; NaN -> 0 after normalisation), as float, row-major: features[node * num_features + j].
// The normalisation parameters travel with the graph so that new data is scaled identically.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "core/time.h"

namespace sf::ml {

enum class EdgeKind : std::uint8_t {
  kTemporal = 0,     // candles: node t-lag -> node t; assets: symbol at snapshot s-1 -> s
  kSimilarity = 1,   // candles: most similar past node -> node
  kCorrelation = 2,  // assets: symbol i -> symbol j in the same snapshot, weight = correlation
};
const char* to_string(EdgeKind k);
bool parse_edge_kind(std::string_view text, EdgeKind* out);

struct Edge {
  std::int64_t src = 0;
  std::int64_t dst = 0;
  float weight = 0;
  EdgeKind kind = EdgeKind::kTemporal;
  friend bool operator==(const Edge&, const Edge&) = default;
};

struct Graph {
  std::string kind;                  // "candles" or "assets"
  std::string interval;              // "5m"
  std::vector<std::string> symbols;  // node_symbol indexes this

  // Nodes: id i is row i. time = open time (µs) of the node's last candle.
  std::vector<std::int64_t> node_id;
  std::vector<TimestampUs> node_time;
  std::vector<std::int32_t> node_symbol;
  std::vector<std::string> feature_names;
  std::vector<float> features;  // row-major, num_nodes() x num_features()

  std::vector<Edge> edges;

  // Normalisation (per feature), fitted on nodes [0, train_nodes).
  std::vector<double> norm_mean;
  std::vector<double> norm_std;
  std::size_t train_nodes = 0;
  TimestampUs train_end_time = 0;  // time of the last training node (0 when none)
  std::size_t warmup_nodes = 0;    // leading nodes with at least one undefined raw feature

  std::vector<std::pair<std::string, double>> params;  // builder parameters, for the record

  std::size_t num_nodes() const { return node_id.size(); }
  std::size_t num_features() const { return feature_names.size(); }
  float feature(std::size_t node, std::size_t j) const {
    return features[node * feature_names.size() + j];
  }
  std::size_t count_edges(EdgeKind k) const;
  double param(std::string_view name, double fallback = 0) const;
};

// meta.json text: kind, interval, symbols, feature_names, normalisation {mean, std}, span
// {start_us, end_us, train_nodes, train_end_us, warmup_nodes}, counts {nodes, edges, features,
// edges_by_kind}, params.
std::string meta_json(const Graph& g);

// Fills kind, interval, symbols, feature_names, normalisation, span fields and params of `g`
// from meta_json() text (meta.json, or the store's graphs.meta).
Result<void, std::string> parse_meta_json(std::string_view json, Graph* g);

// Writes dir/nodes.csv, dir/edges.csv, dir/meta.json (creating dir). Floats are written in their
// shortest round-trip form, so import_graph() reads back bit-identical values.
Result<void, std::string> export_graph(const Graph& g, const std::filesystem::path& dir);
Result<Graph, std::string> import_graph(const std::filesystem::path& dir);

// Z-score fit over rows [0, train_rows) of a row-major double matrix, ignoring NaN. A feature
// with fewer than two defined values or a standard deviation below 1e-12 gets std 1 (and mean 0
// when it has no defined value). Population standard deviation. NaN and infinities count as
// undefined.
void fit_zscore(const std::vector<double>& raw, std::size_t cols, std::size_t train_rows,
                std::vector<double>* mean, std::vector<double>* std);
// (x - mean) / std as float; NaN, infinities and a non-finite result -> 0.
std::vector<float> apply_zscore(const std::vector<double>& raw, std::size_t cols,
                                const std::vector<double>& mean, const std::vector<double>& std);

}  // namespace sf::ml
