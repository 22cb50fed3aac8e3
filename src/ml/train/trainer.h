// gnn-trainer core (docs/gnn.md, "Trainer"): graph directory + labels -> chronological split ->
// GNN trained full-graph with the loss masked to train nodes, early stopping on validation,
// baselines on the same split and features, metrics.json + weights + meta.json under
// <model_dir>/<model_name>/v<N>/, checkpoints for stop / crash and resume. Torch-free header.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "ml/gnn/gnn.h"
#include "ml/train/dataset.h"

namespace sf::ml::train {

struct TrainerOptions {
  std::string graph_dir;  // the directory holding nodes.csv, edges.csv, meta.json, labels.csv
  gnn::LayerKind model = gnn::LayerKind::kGcn;
  Task task = Task::kDirection;
  int epochs = 50;
  double learning_rate = 0.01;
  int hidden = 16;
  int heads = 2;  // GAT / GATv2 only (GCN and GraphSAGE use 1)
  std::string model_dir = "./data/models";
  std::string model_name = "model";
  std::uint64_t seed = 42;
  double train_fraction = 0.7;
  double validation_fraction = 0.15;
  std::size_t embargo = 24;  // eligible nodes dropped between train/validation and validation/test
  int patience = 10;         // epochs without validation improvement before stopping; 0 = never
  int checkpoint_every = 5;  // epochs; 0 = only on stop
  int threads = 0;           // libtorch intra-op threads; 0 = libtorch's default
  // Test / sanity switch (SHUFFLE_LABELS): permute the labels among the train nodes (seeded), so
  // nothing learnable remains; test metrics must fall to the majority / chance level.
  bool shuffle_train_labels = false;
};

// Model type names as the original's MODEL_TYPE: GCN, GraphSAGE, GAT, GATv2 (case-insensitive;
// also gcn, sage, gat, gatv2).
std::optional<gnn::LayerKind> parse_model_type(std::string_view name);
std::string model_type_name(gnn::LayerKind kind);

struct EpochRecord {
  int epoch = 0;          // 1-based
  double train_loss = 0;  // masked loss before the epoch's update
  double val_metric = 0;  // direction: validation macro F1; volatility: validation RMSE
};

struct TrainerHooks {
  std::function<bool()> stop;                        // polled between epochs
  std::function<void(const EpochRecord&)> on_epoch;  // after every epoch
};

struct TrainerResult {
  bool interrupted = false;    // stop requested: a checkpoint was saved, nothing else written
  int resumed_from_epoch = 0;  // epochs already done in the checkpoint this run resumed (0: fresh)
  int epochs_run = 0;          // total epochs done (including resumed ones)
  int best_epoch = 0;
  bool stopped_early = false;
  std::string version_dir;   // <model_dir>/<model_name>/v<N> (finished runs only)
  std::string metrics_json;  // what metrics.json holds
  std::vector<EpochRecord> history;
  Split split;
};

// Runs (or resumes) a training. Errors: unreadable input, an empty split, bad options.
Result<TrainerResult, std::string> run_trainer(const TrainerOptions& options,
                                               const TrainerHooks& hooks = {});

// The checkpoint directory of a model name: <model_dir>/<model_name>/checkpoint.
std::string checkpoint_dir(const TrainerOptions& options);

}  // namespace sf::ml::train
