#include "ml/train/trainer_service.h"

#include <filesystem>
#include <iostream>
#include <vector>

#include "runtime/json_writer.h"
#include "runtime/log.h"
#include "runtime/service.h"
#include "runtime/store_options.h"

namespace sf::services {
namespace {

constexpr const char* kService = "gnn-trainer";

}  // namespace

void add_gnn_trainer_options(runtime::ConfigParser& parser) {
  using runtime::OptionType;
  parser.add({.name = "MINIO_ENDPOINT",
              .default_value = "",
              .help = "S3-compatible store for models (http://host:port); empty: MODEL_DIR only",
              .scope = runtime::OptionScope::kPlatform});
  parser.add({.name = "MINIO_ACCESS_KEY",
              .default_value = "",
              .help = "S3 access key",
              .scope = runtime::OptionScope::kSecret});
  parser.add({.name = "MINIO_SECRET_KEY",
              .default_value = "",
              .help = "S3 secret key",
              .scope = runtime::OptionScope::kSecret});
  parser.add({.name = "MINIO_BUCKET_NAME",
              .default_value = "models",
              .help = "S3 bucket",
              .scope = runtime::OptionScope::kPlatform});
  parser.add({.name = "GRAPH_DIR",
              .default_value = "./data/graphs",
              .help = "graph directories (a graph read from the store is copied here)",
              .scope = runtime::OptionScope::kPlatform});
  parser.add({.name = "GRAPH_SOURCE",
              .default_value = "auto",
              .help = "auto (the store when it holds GRAPH_NAME, else GRAPH_DIR), store or dir"});
  runtime::add_store_options(parser);
  parser.add({.name = "GRAPH_NAME",
              .default_value = "",
              .help = "the graph (graph-builder's GRAPH_NAME)"});
  parser.add({.name = "GRAPH_COLLECTION_NAME",
              .default_value = "",
              .help = "the original's name for GRAPH_NAME"});
  parser.add(
      {.name = "MODEL_TYPE", .default_value = "GCN", .help = "GCN, GraphSAGE, GAT or GATv2"});
  parser.add({.name = "TASK", .default_value = "direction", .help = "direction or volatility"});
  parser.add({.name = "EPOCHS", .type = OptionType::kInt, .default_value = "50", .help = "epochs"});
  parser.add({.name = "LEARNING_RATE",
              .type = OptionType::kDouble,
              .default_value = "0.01",
              .help = "Adam learning rate"});
  parser.add({.name = "HIDDEN",
              .type = OptionType::kInt,
              .default_value = "16",
              .help = "hidden width (per head for GAT/GATv2)"});
  parser.add({.name = "HEADS",
              .type = OptionType::kInt,
              .default_value = "2",
              .help = "attention heads (GAT/GATv2)"});
  parser.add({.name = "MODEL_NAME",
              .default_value = "",
              .help = "model directory name (default QUEUE_ID, else model)"});
  parser.add({.name = "MODEL_DIR",
              .default_value = "./data/models",
              .help = "models go to MODEL_DIR/MODEL_NAME/v<N>",
              .scope = runtime::OptionScope::kPlatform});
  parser.add({.name = "SEED", .type = OptionType::kInt, .default_value = "42", .help = "seed"});
  parser.add({.name = "TRAIN_FRACTION",
              .type = OptionType::kDouble,
              .default_value = "0.7",
              .help = "leading fraction of eligible nodes for training"});
  parser.add({.name = "VALIDATION_FRACTION",
              .type = OptionType::kDouble,
              .default_value = "0.15",
              .help = "next fraction for validation (the rest is test)"});
  parser.add({.name = "EMBARGO",
              .type = OptionType::kInt,
              .default_value = "24",
              .help = "nodes dropped between splits (>= the label horizon)"});
  parser.add({.name = "PATIENCE",
              .type = OptionType::kInt,
              .default_value = "10",
              .help = "early stopping: epochs without validation improvement (0: off)"});
  parser.add({.name = "CHECKPOINT_EVERY",
              .type = OptionType::kInt,
              .default_value = "5",
              .help = "checkpoint every N epochs (0: only on stop)"});
  parser.add({.name = "THREADS",
              .type = OptionType::kInt,
              .default_value = "0",
              .help = "libtorch threads (0: default; 1: deterministic)"});
  parser.add({.name = "SHUFFLE_LABELS",
              .type = OptionType::kBool,
              .default_value = "false",
              .help = "sanity check: permute train labels"});
}

Result<ml::train::TrainerOptions, std::string> gnn_trainer_options_from(
    const runtime::Config& config) {
  ml::train::TrainerOptions o;
  std::string name = config.get_string("GRAPH_NAME");
  if (name.empty()) name = config.get_string("GRAPH_COLLECTION_NAME");
  if (name.empty())
    return unexpected(std::string("GRAPH_NAME (or GRAPH_COLLECTION_NAME) is required"));
  // The name is also a directory under GRAPH_DIR: no path may hide in it.
  if (!valid_graph_name(name))
    return unexpected("GRAPH_NAME '" + name + "': 1-200 of [A-Za-z0-9_-], starting with a letter");
  o.graph_dir = (std::filesystem::path(config.get_string("GRAPH_DIR")) / name).string();
  auto kind = ml::train::parse_model_type(config.get_string("MODEL_TYPE"));
  if (!kind)
    return unexpected("MODEL_TYPE: '" + config.get_string("MODEL_TYPE") +
                      "' is not GCN, GraphSAGE, GAT or GATv2");
  o.model = *kind;
  const auto task = config.get_string("TASK");
  if (task == "direction") {
    o.task = ml::train::Task::kDirection;
  } else if (task == "volatility") {
    o.task = ml::train::Task::kVolatility;
  } else {
    return unexpected("TASK: '" + task + "' is not direction or volatility");
  }
  o.epochs = static_cast<int>(config.get_int("EPOCHS"));
  o.learning_rate = config.get_double("LEARNING_RATE");
  o.hidden = static_cast<int>(config.get_int("HIDDEN"));
  o.heads = static_cast<int>(config.get_int("HEADS"));
  o.model_name = config.get_string("MODEL_NAME");
  if (o.model_name.empty()) o.model_name = config.get_string("QUEUE_ID");
  if (o.model_name.empty()) o.model_name = "model";
  o.model_dir = config.get_string("MODEL_DIR");
  o.seed = static_cast<std::uint64_t>(config.get_int("SEED"));
  o.train_fraction = config.get_double("TRAIN_FRACTION");
  o.validation_fraction = config.get_double("VALIDATION_FRACTION");
  const auto embargo = config.get_int("EMBARGO");
  o.patience = static_cast<int>(config.get_int("PATIENCE"));
  o.checkpoint_every = static_cast<int>(config.get_int("CHECKPOINT_EVERY"));
  o.threads = static_cast<int>(config.get_int("THREADS"));
  o.shuffle_train_labels = config.get_bool("SHUFFLE_LABELS");
  if (o.epochs < 1 || o.hidden < 1 || o.heads < 1 || !(o.learning_rate > 0) || embargo < 0 ||
      o.patience < 0 || o.checkpoint_every < 0 || o.threads < 0)
    return unexpected(std::string(
        "EPOCHS, HIDDEN, HEADS >= 1, LEARNING_RATE > 0, EMBARGO, PATIENCE, CHECKPOINT_EVERY, "
        "THREADS >= 0"));
  if (!(o.train_fraction > 0) || !(o.validation_fraction > 0) ||
      o.train_fraction + o.validation_fraction >= 1)
    return unexpected(std::string("0 < TRAIN_FRACTION, VALIDATION_FRACTION; sum < 1"));
  o.embargo = static_cast<std::size_t>(embargo);
  return o;
}

Result<std::optional<ml::S3Options>, std::string> gnn_trainer_upload_from(
    const runtime::Config& config) {
  if (config.get_string("MINIO_ENDPOINT").empty()) return std::optional<ml::S3Options>{};
  ml::S3Options s3{config.get_string("MINIO_ENDPOINT"), config.get_string("MINIO_ACCESS_KEY"),
                   config.get_string("MINIO_SECRET_KEY"), config.get_string("MINIO_BUCKET_NAME"),
                   "us-east-1"};
  if (auto check = ml::S3ModelStore::open(s3); !check) return unexpected(check.error());
  return std::optional<ml::S3Options>(std::move(s3));
}

std::function<runtime::WorkResult(runtime::WorkerContext&)> gnn_trainer_body(
    ml::train::TrainerOptions o, std::optional<ml::S3Options> upload, GraphInput input) {
  return [o = std::move(o), upload, input](runtime::WorkerContext& ctx) -> runtime::WorkResult {
    const std::filesystem::path graph_dir(o.graph_dir);
    auto from = ml::train::prepare_graph_dir(input.store, graph_dir.filename().string(), graph_dir,
                                             input.source);
    if (!from) return {runtime::Outcome::kError, from.error(), "{}"};
    log::info(kService, "graph ready", {{"graph", graph_dir.filename().string()}, {"from", *from}});
    ml::train::TrainerHooks hooks;
    hooks.stop = [&ctx] { return ctx.stop_requested(); };
    hooks.on_epoch = [&ctx, &o](const ml::train::EpochRecord& r) {
      ctx.add_records(1);
      std::string extra;
      runtime::JsonWriter w(extra);
      w.begin_object()
          .field("epoch", r.epoch)
          .field("train_loss", r.train_loss)
          .field("val_metric", r.val_metric)
          .end_object();
      ctx.report_loading("epoch " + std::to_string(r.epoch) + "/" + std::to_string(o.epochs),
                         extra);
    };
    auto res = ml::train::run_trainer(o, hooks);
    if (!res) return {runtime::Outcome::kError, res.error(), "{}"};
    if (res->interrupted) {
      std::string extra;
      runtime::JsonWriter w(extra);
      w.begin_object()
          .field("checkpoint", ml::train::checkpoint_dir(o))
          .field("epoch", res->epochs_run)
          .end_object();
      return {runtime::Outcome::kInterrupted,
              "stopped after epoch " + std::to_string(res->epochs_run) + ", checkpoint saved",
              extra};
    }
    log::info(kService, "model written", {{"dir", res->version_dir}});
    std::string location = res->version_dir;
    if (upload) {
      auto store = ml::S3ModelStore::open(*upload);
      if (!store) return {runtime::Outcome::kError, store.error(), "{}"};
      const std::string prefix =
          o.model_name + "/" + std::filesystem::path(res->version_dir).filename().string();
      auto keys = ml::put_directory(**store, res->version_dir, prefix);
      if (!keys) return {runtime::Outcome::kError, "model upload: " + keys.error(), "{}"};
      location = (*store)->location(prefix);
      log::info(kService, "model uploaded", {{"location", location}, {"objects", keys->size()}});
    }
    std::string extra;
    runtime::JsonWriter w(extra);
    w.begin_object()
        .field("model_dir", res->version_dir)
        .field("model_location", location)
        .field("best_epoch", res->best_epoch)
        .field("epochs", res->epochs_run)
        .field("resumed_from_epoch", res->resumed_from_epoch)
        .end_object();
    return {runtime::Outcome::kFinished,
            "model " + res->version_dir + ": best epoch " + std::to_string(res->best_epoch) +
                " of " + std::to_string(res->epochs_run),
            extra};
  };
}

Result<ml::train::GraphSource, std::string> graph_source_from(const runtime::Config& config) {
  ml::train::GraphSource source{};
  if (!ml::train::parse_graph_source(config.get_string("GRAPH_SOURCE"), &source))
    return unexpected("GRAPH_SOURCE: '" + config.get_string("GRAPH_SOURCE") +
                      "' is not auto, store or dir");
  return source;
}

}  // namespace sf::services
