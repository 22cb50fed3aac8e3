// gnn-trainer service: trains a GNN on a graph written by graph-builder (docs/gnn.md, "Trainer").
// Environment (the original's names, each a flag too): GRAPH_NAME (or GRAPH_COLLECTION_NAME),
// GRAPH_SOURCE (auto | store | dir: the store's graph, copied to GRAPH_DIR/<name>, or that
// directory as graph-builder exported it), the store options (SF_STORE, ARANGO_URL, ...),
// MODEL_TYPE (GCN, GraphSAGE, GAT, GATv2), TASK (direction | volatility), EPOCHS, LEARNING_RATE,
// HIDDEN, HEADS, MODEL_NAME (default QUEUE_ID, else "model"), MODEL_DIR
// (./data/models), SEED, TRAIN_FRACTION, VALIDATION_FRACTION, EMBARGO, PATIENCE,
// CHECKPOINT_EVERY, THREADS, SHUFFLE_LABELS. Telemetry: `loading` every epoch with extra
// {"epoch","train_loss","val_metric"}; stop -> checkpoint -> `interrupted`; `finished` carries
// {"model_dir","best_epoch","epochs"}. A restart with the same MODEL_NAME resumes from the
// checkpoint. Hosted by qm::run_hosted_service ("gnn-trainer").
#pragma once

#include <functional>
#include <string>

#include "core/result.h"
#include "ml/model_store/model_store.h"
#include "ml/train/trainer.h"
#include "runtime/config.h"
#include "runtime/worker.h"
#include "store/store.h"

namespace sf::services {

void add_gnn_trainer_options(runtime::ConfigParser& parser);
Result<ml::train::TrainerOptions, std::string> gnn_trainer_options_from(
    const runtime::Config& config);

// The object store the finished model is copied to (MINIO_ENDPOINT, MINIO_ACCESS_KEY,
// MINIO_SECRET_KEY, MINIO_BUCKET_NAME, as the original), or none: the model stays in MODEL_DIR.
Result<std::optional<ml::S3Options>, std::string> gnn_trainer_upload_from(
    const runtime::Config& config);

// Where the trainer (and gnn-infer) read their graph: GRAPH_SOURCE with a store (the platform's
// embedded one, or the stage's SF_STORE / ARANGO_URL; null: directories only).
struct GraphInput {
  store::Store* store = nullptr;
  ml::train::GraphSource source = ml::train::GraphSource::kAuto;
};
Result<ml::train::GraphSource, std::string> graph_source_from(const runtime::Config& config);

// With `upload`, the version directory is also put under `<model_name>/v<N>/` in the bucket. The
// graph named by options.graph_dir's last component is taken from input.store when
// input.source says so (ml::train::prepare_graph_dir). `input.store` must outlive the run.
std::function<runtime::WorkResult(runtime::WorkerContext&)> gnn_trainer_body(
    ml::train::TrainerOptions options, std::optional<ml::S3Options> upload = std::nullopt,
    GraphInput input = {});

}  // namespace sf::services
