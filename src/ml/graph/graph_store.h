// A graph with its labels, and its conversion to and from the store's GraphRecord
// (store/records.h), so graph-builder can write graphs to the store (SQLite / PostgreSQL tables,
// ArangoDB vertex + edge collections and a named graph) and gnn-trainer / gnn-infer can read them
// back bit-identically.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "ml/graph/graph.h"
#include "store/records.h"

namespace sf::ml {

struct LabelledGraph {
  Graph graph;
  std::vector<int> direction;      // per node: 0 DOWN, 1 FLAT, 2 UP, -1 unknown
  std::vector<double> volatility;  // per node: realized volatility of the next N; NaN unknown
  int vol_horizon = 0;             // that N
};

// dir/labels.csv: node,open_time,direction,volatility_next_N (row i = node i; missing labels
// unknown: direction -1, volatility empty).
Result<void, std::string> write_labels_csv(const std::filesystem::path& dir, const Graph& graph,
                                           const std::vector<std::int8_t>& direction,
                                           const std::vector<double>& volatility, int vol_horizon);

// The directory form graph-builder writes and gnn-trainer reads: export_graph + labels.csv.
Result<void, std::string> export_labelled_graph(const LabelledGraph& labelled,
                                                const std::filesystem::path& dir);

// The record replace_graph() stores. meta = meta_json(graph) with params.vol_horizon set to
// labelled.vol_horizon; missing labels (shorter vectors) are stored as unknown.
GraphRecord to_graph_record(const LabelledGraph& labelled, std::string name, double created_at);

// Back from a record read by Store::graph(): features, normalisation, span and params from meta;
// node_symbol from the node rows' symbols (by meta's symbols order). Edge ends are node ids and
// are mapped back to positions.
Result<LabelledGraph, std::string> from_graph_record(const GraphRecord& record);

}  // namespace sf::ml
