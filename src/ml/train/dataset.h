// The gnn-trainer's input: a graph directory written by graph-builder / ml::export_graph
// (nodes.csv, edges.csv, meta.json) plus labels.csv (node,open_time,direction,volatility_next_N),
// and the chronological train / validation / test split with an embargo gap. Torch-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/result.h"
#include "ml/graph/graph.h"

namespace sf::ml::train {

enum class Task { kDirection, kVolatility };
const char* to_string(Task t);

struct Dataset {
  ml::Graph graph;
  std::vector<int> direction;      // per node: 0 DOWN, 1 FLAT, 2 UP, -1 unknown
  std::vector<double> volatility;  // per node: realized volatility of the next N; NaN unknown
  int vol_horizon = 0;             // N of the labels.csv column volatility_next_N
};

// Reads dir/{nodes.csv,edges.csv,meta.json,labels.csv}. Nodes that labels.csv does not list are
// unknown; a row naming a node that does not exist is an error.
Result<Dataset, std::string> load_dataset(const std::filesystem::path& dir);

// Writes dir/labels.csv as graph-builder does (row i = node i).
Result<void, std::string> write_labels_csv(const std::filesystem::path& dir, const ml::Graph& graph,
                                           const std::vector<std::int8_t>& direction,
                                           const std::vector<double>& volatility, int vol_horizon);

struct Split {
  std::vector<std::int64_t> train, validation, test;  // node indices, in time order
  std::size_t excluded_warmup = 0;                    // nodes < graph.warmup_nodes
  std::size_t excluded_unlabelled = 0;                // label unknown
  std::size_t embargoed = 0;                          // dropped in the two embargo gaps
};

// Eligible nodes (index >= warmup_nodes, label known) in (time, index) order: the first
// floor(n * train_fraction) train, then `embargo` nodes dropped, the next
// floor(n * validation_fraction) validation, `embargo` dropped, the rest test. A boundary never
// splits nodes of equal time (it moves forward), so every validation node is strictly later than
// every train node and every test node strictly later than every validation node.
Split chronological_split(const ml::Graph& graph, const std::vector<bool>& labelled,
                          double train_fraction, double validation_fraction, std::size_t embargo);

}  // namespace sf::ml::train
