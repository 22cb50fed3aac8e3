// gnn-infer: scores the newest nodes of a graph with a stored model, for the dashboard.
//
// Loads the model version MODEL_VERSION (default: the newest vN) of MODEL_NAME under MODEL_DIR
// (what gnn-trainer wrote: model.pt, metrics.json with the task and architecture, meta.json with
// the training graph's normalisation), reads the graph GRAPH_NAME (graph-builder's output for a
// recent window; from the store or GRAPH_DIR as GRAPH_SOURCE says, see trainer_service.h),
// re-normalises its features with the MODEL's normalisation (the window's own would shift every
// feature), runs the model on the whole graph and takes the last PREDICT_LAST nodes. Direction
// models give p_down / p_flat / p_up (softmax of the logits), volatility models the predicted
// realized volatility (de-standardised with the training target's mean and std). Predictions are
// published as `indicator` records (docs/schemas.md) named `gnn_<model_name>_p_up` ... or
// `gnn_<model_name>_volatility`, keyed by symbol, on KAFKA_TOPIC (default
// `<model_name>-predictions`), and written to the store's indicators table.
#pragma once

#include <functional>
#include <string>

#include "core/result.h"
#include "ml/train/dataset.h"
#include "runtime/config.h"
#include "runtime/worker.h"
#include "store/store.h"

namespace sf::services {

struct InferOptions {
  std::string model_dir = "./data/models";
  std::string model_name;
  std::string model_version;                                            // "" = newest
  std::string graph_path;                                               // GRAPH_DIR/GRAPH_NAME
  ml::train::GraphSource graph_source = ml::train::GraphSource::kAuto;  // GRAPH_SOURCE
  std::string topic;
  int predict_last = 1;
};

void add_gnn_infer_options(runtime::ConfigParser& parser);
Result<InferOptions, std::string> gnn_infer_options_from(const runtime::Config& config);
// `store` may be null (predictions go to the bus only; the graph comes from GRAPH_DIR). Hosted by
// qm::run_hosted_service ("gnn-infer").
std::function<runtime::WorkResult(runtime::WorkerContext&)> gnn_infer_body(InferOptions options,
                                                                           store::Store* store);

}  // namespace sf::services
