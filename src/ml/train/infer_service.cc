#include "ml/train/infer_service.h"

#include <simdjson.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "core/wire.h"
#include "ml/gnn/gnn.h"
#include "ml/train/dataset.h"
#include "ml/train/trainer.h"
#include "runtime/json_writer.h"
#include "runtime/log.h"
#include "runtime/service.h"
#include "runtime/store_options.h"

// GCC 12 reports a false -Wrestrict in std::string concatenation at -O3 (GCC bug 105329).
#pragma GCC diagnostic ignored "-Wrestrict"

namespace sf::services {
namespace {

namespace fs = std::filesystem;
constexpr const char* kService = "gnn-infer";

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The newest v<N> under dir (by N), or "".
std::string newest_version(const fs::path& dir) {
  int best = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const auto name = e.path().filename().string();
    if (name.size() < 2 || name[0] != 'v') continue;
    const int n = std::atoi(name.c_str() + 1);
    if (n > best && std::to_string(n) == name.substr(1)) best = n;
  }
  return best > 0 ? "v" + std::to_string(best) : "";
}

Result<std::vector<double>, std::string> number_list(simdjson::dom::element e, const char* what) {
  std::vector<double> out;
  simdjson::dom::array arr;
  if (e.get_array().get(arr)) return unexpected(std::string(what) + " is not a list");
  for (auto v : arr) {
    double d = 0;
    if (v.get_double().get(d)) return unexpected(std::string(what) + " holds a non-number");
    out.push_back(d);
  }
  return out;
}

}  // namespace

void add_gnn_infer_options(runtime::ConfigParser& parser) {
  parser.add({.name = "MODEL_DIR",
              .default_value = "./data/models",
              .help = "where gnn-trainer wrote models",
              .scope = runtime::OptionScope::kPlatform});
  parser.add(
      {.name = "MODEL_NAME", .default_value = "", .help = "the model (gnn-trainer's MODEL_NAME)"});
  parser.add({.name = "MODEL_VERSION", .default_value = "", .help = "v<N>; empty: the newest"});
  parser.add({.name = "GRAPH_DIR",
              .default_value = "./data/graphs",
              .help = "where graphs are",
              .scope = runtime::OptionScope::kPlatform});
  parser.add({.name = "GRAPH_NAME",
              .default_value = "",
              .help = "the graph to score (graph-builder output)"});
  parser.add({.name = "PREDICT_LAST",
              .type = runtime::OptionType::kInt,
              .default_value = "1",
              .help = "score the newest N nodes"});
  parser.add({.name = "GRAPH_SOURCE",
              .default_value = "auto",
              .help = "auto (the store when it holds GRAPH_NAME, else GRAPH_DIR), store or dir"});
  runtime::add_store_options(parser);
}

Result<InferOptions, std::string> gnn_infer_options_from(const runtime::Config& c) {
  InferOptions o;
  o.model_dir = c.get_string("MODEL_DIR");
  o.model_name = c.get_string("MODEL_NAME");
  o.model_version = c.get_string("MODEL_VERSION");
  if (o.model_name.empty()) return unexpected(std::string("MODEL_NAME is required"));
  if (c.get_string("GRAPH_NAME").empty()) return unexpected(std::string("GRAPH_NAME is required"));
  if (!valid_graph_name(c.get_string("GRAPH_NAME")))
    return unexpected("GRAPH_NAME '" + c.get_string("GRAPH_NAME") +
                      "': 1-200 of [A-Za-z0-9_-], starting with a letter");
  o.graph_path = (fs::path(c.get_string("GRAPH_DIR")) / c.get_string("GRAPH_NAME")).string();
  o.topic = c.get_string("KAFKA_TOPIC");
  if (o.topic.empty()) o.topic = o.model_name + "-predictions";
  o.predict_last = static_cast<int>(c.get_int("PREDICT_LAST"));
  if (!ml::train::parse_graph_source(c.get_string("GRAPH_SOURCE"), &o.graph_source))
    return unexpected("GRAPH_SOURCE: '" + c.get_string("GRAPH_SOURCE") +
                      "' is not auto, store or dir");
  if (o.predict_last < 1) return unexpected(std::string("PREDICT_LAST must be at least 1"));
  return o;
}

std::function<runtime::WorkResult(runtime::WorkerContext&)> gnn_infer_body(InferOptions o,
                                                                           store::Store* store) {
  return [o = std::move(o), store](runtime::WorkerContext& ctx) -> runtime::WorkResult {
    auto fail = [](std::string m) {
      return runtime::WorkResult{runtime::Outcome::kError, std::move(m), "{}"};
    };
    const fs::path base = fs::path(o.model_dir) / o.model_name;
    const std::string version = o.model_version.empty() ? newest_version(base) : o.model_version;
    if (version.empty()) return fail("no model version under " + base.string());
    const fs::path vdir = base / version;
    // What the trainer recorded: task, architecture, the target's scale.
    simdjson::dom::parser p1, p2;
    const std::string metrics_text = read_file(vdir / "metrics.json");
    const std::string meta_text = read_file(vdir / "meta.json");
    simdjson::dom::element metrics, meta;
    if (p1.parse(metrics_text).get(metrics))
      return fail("unreadable " + (vdir / "metrics.json").string());
    if (p2.parse(meta_text).get(meta)) return fail("unreadable " + (vdir / "meta.json").string());
    std::string_view task, model_type;
    std::int64_t hidden = 0, heads = 1;
    if (metrics["task"].get(task) || metrics["model_type"].get(model_type) ||
        metrics["config"]["hidden"].get(hidden) || metrics["config"]["heads"].get(heads))
      return fail("metrics.json lacks task / model_type / config.hidden / config.heads");
    auto kind = ml::train::parse_model_type(model_type);
    if (!kind) return fail("unknown model type " + std::string(model_type));
    const bool direction = task == "direction";
    double target_mean = 0, target_std = 1;
    if (!direction &&
        (metrics["target_mean"].get(target_mean) || metrics["target_std"].get(target_std)))
      return fail("metrics.json of a volatility model lacks target_mean / target_std");
    auto model_mean =
        number_list(meta["normalisation"]["mean"].value_unsafe(), "normalisation.mean");
    auto model_std = number_list(meta["normalisation"]["std"].value_unsafe(), "normalisation.std");
    if (!model_mean || !model_std)
      return fail(!model_mean ? model_mean.error() : model_std.error());

    const fs::path graph_dir(o.graph_path);
    auto from = ml::train::prepare_graph_dir(store, graph_dir.filename().string(), graph_dir,
                                             o.graph_source);
    if (!from) return fail(from.error());
    auto ds = ml::train::load_dataset(o.graph_path);
    if (!ds) return fail("graph: " + ds.error());
    const auto& g = ds->graph;
    const std::size_t n = g.num_nodes(), f = g.num_features();
    if (f != model_mean->size()) {
      return fail("the graph has " + std::to_string(f) + " features, the model was trained on " +
                  std::to_string(model_mean->size()));
    }
    // Back to raw values with the graph's own normalisation, then the model's.
    ml::gnn::Graph gg{.num_nodes = static_cast<std::int64_t>(n),
                      .num_features = static_cast<std::int64_t>(f),
                      .x = g.features,
                      .src = {},
                      .dst = {}};
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < f; ++j) {
        const double raw = g.features[i * f + j] * g.norm_std[j] + g.norm_mean[j];
        const double sd = (*model_std)[j] > 0 ? (*model_std)[j] : 1.0;
        gg.x[i * f + j] = static_cast<float>((raw - (*model_mean)[j]) / sd);
      }
    for (const auto& e : g.edges) {
      gg.src.push_back(e.src);
      gg.dst.push_back(e.dst);
    }
    ml::gnn::Model model({.kind = *kind,
                          .in_features = static_cast<std::int64_t>(f),
                          .hidden = hidden,
                          .out_features = direction ? 3 : 1,
                          .heads = heads,
                          .dropout = 0,
                          .seed = 0,
                          .threads = 0});
    if (auto err = model.load((vdir / "model.pt").string()); !err.empty())
      return fail("model: " + err);
    auto out = model.forward(gg);
    if (!out.ok()) return fail("forward: " + out.error);

    const auto interval = parse_interval(g.interval);
    if (!interval) return fail("graph interval " + g.interval);
    std::vector<IndicatorValue> values;
    const std::size_t first = n > static_cast<std::size_t>(o.predict_last)
                                  ? n - static_cast<std::size_t>(o.predict_last)
                                  : 0;
    for (std::size_t i = first; i < n; ++i) {
      const auto sym = Symbol::parse(g.symbols[static_cast<std::size_t>(g.node_symbol[i])]);
      if (!sym) return fail("bad symbol in the graph");
      const std::string prefix = "gnn_" + o.model_name + "_";
      if (direction) {
        const float* z = &out.values[i * 3];
        const double m = std::max({z[0], z[1], z[2]});
        const double e0 = std::exp(z[0] - m), e1 = std::exp(z[1] - m), e2 = std::exp(z[2] - m);
        const double sum = e0 + e1 + e2;
        values.push_back({*sym, *interval, prefix + "p_down", g.node_time[i], e0 / sum});
        values.push_back({*sym, *interval, prefix + "p_flat", g.node_time[i], e1 / sum});
        values.push_back({*sym, *interval, prefix + "p_up", g.node_time[i], e2 / sum});
      } else {
        values.push_back({*sym, *interval, prefix + "volatility", g.node_time[i],
                          out.values[i] * target_std + target_mean});
      }
    }
    std::string rec;
    for (const auto& v : values) {
      rec.clear();
      wire::encode(v, rec);
      if (auto r = ctx.bus().publish(o.topic, v.symbol.view(), rec); !r)
        return fail("publish: " + r.error().message);
    }
    if (auto r = ctx.bus().flush(std::chrono::seconds(30)); !r)
      return fail("flush: " + r.error().message);
    if (store != nullptr)
      if (auto r = store->upsert_indicators(values); !r) return fail("store: " + r.error().message);
    ctx.add_records(static_cast<std::int64_t>(values.size()));
    std::string extra;
    runtime::JsonWriter w(extra);
    w.begin_object()
        .field("model", vdir.string())
        .field("topic", o.topic)
        .field("predictions", static_cast<std::int64_t>(values.size()));
    if (!values.empty()) w.field("last_open_time", values.back().open_time);
    w.end_object();
    return {runtime::Outcome::kFinished,
            "scored " + std::to_string(n - first) + " node(s) with " + vdir.string(), extra};
  };
}

}  // namespace sf::services
