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
#include "ml/graph/graph_store.h"
#include "store/store.h"

namespace sf::ml::train {

enum class Task { kDirection, kVolatility };
const char* to_string(Task t);

// A graph with its labels (ml/graph/graph_store.h): the same value whether it came from a
// directory or from the store.
using Dataset = ml::LabelledGraph;

// Reads dir/{nodes.csv,edges.csv,meta.json,labels.csv}. Nodes that labels.csv does not list are
// unknown; a row naming a node that does not exist is an error.
Result<Dataset, std::string> load_dataset(const std::filesystem::path& dir);

// labels.csv is written by ml::write_labels_csv (ml/graph/graph_store.h).
using ml::write_labels_csv;

// A dataset is written with ml::export_labelled_graph (ml/graph/graph_store.h).

// Where a run takes its graph from: GRAPH_SOURCE.
enum class GraphSource {
  kAuto,   // the store when it holds the graph (and a store is given), else the directory
  kStore,  // the store; an error when it does not hold the graph
  kDir,    // the directory only
};
bool parse_graph_source(std::string_view text, GraphSource* out);

// Makes `dir` hold graph `name` for a run (the trainer and gnn-infer read directories): with the
// store as source, the stored graph is read and written to `dir` (a local copy, replaced every
// run, so the run sees exactly what the store holds). Returns where the graph came from
// ("store" or "dir"); an error when neither has it.
Result<std::string, std::string> prepare_graph_dir(store::Store* store, const std::string& name,
                                                   const std::filesystem::path& dir,
                                                   GraphSource source);

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
