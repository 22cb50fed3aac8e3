#include "ml/train/trainer.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <sstream>

#include "ml/train/baselines.h"
#include "ml/train/metrics.h"
#include "runtime/json_writer.h"

namespace sf::ml::train {

namespace fs = std::filesystem;

std::optional<gnn::LayerKind> parse_model_type(std::string_view name) {
  std::string s(name);
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (s == "graphsage") s = "sage";
  return gnn::parse_layer_kind(s);
}

std::string model_type_name(gnn::LayerKind kind) {
  switch (kind) {
    case gnn::LayerKind::kGcn:
      return "GCN";
    case gnn::LayerKind::kSage:
      return "GraphSAGE";
    case gnn::LayerKind::kGat:
      return "GAT";
    case gnn::LayerKind::kGatV2:
      return "GATv2";
  }
  return "?";
}

std::string checkpoint_dir(const TrainerOptions& o) {
  return (fs::path(o.model_dir) / o.model_name / "checkpoint").string();
}

namespace {

constexpr int kClasses = 3;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// What must match for a checkpoint to be resumed (EPOCHS, PATIENCE, CHECKPOINT_EVERY and THREADS
// may change between runs).
std::string signature(const TrainerOptions& o) {
  std::ostringstream s;
  s << fs::absolute(o.graph_dir).lexically_normal().string() << '|' << model_type_name(o.model)
    << '|' << to_string(o.task) << '|' << num(o.learning_rate) << '|' << o.hidden << '|' << o.heads
    << '|' << o.seed << '|' << num(o.train_fraction) << '|' << num(o.validation_fraction) << '|'
    << o.embargo << '|' << o.shuffle_train_labels;
  return s.str();
}

struct State {
  std::string signature;
  int epoch = 0;
  int best_epoch = 0;
  double best_metric = kNaN;
  int bad_epochs = 0;
  std::vector<EpochRecord> history;
};

Result<void, std::string> write_text(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) return unexpected("cannot write " + tmp.string());
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return unexpected("cannot rename " + tmp.string() + ": " + ec.message());
  return {};
}

Result<void, std::string> save_checkpoint(const fs::path& dir, const gnn::Model& model,
                                          const State& st) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  const fs::path tmp = dir / "model.pt.tmp";
  if (auto err = model.save(tmp.string()); !err.empty()) return unexpected(err);
  fs::rename(tmp, dir / "model.pt", ec);
  if (ec) return unexpected("cannot rename checkpoint: " + ec.message());
  std::ostringstream s;
  s << "signature=" << st.signature << "\nepoch=" << st.epoch << "\nbest_epoch=" << st.best_epoch
    << "\nbest_metric=" << num(st.best_metric) << "\nbad_epochs=" << st.bad_epochs << '\n';
  for (const auto& h : st.history)
    s << "history=" << h.epoch << ',' << num(h.train_loss) << ',' << num(h.val_metric) << '\n';
  return write_text(dir / "state.txt", s.str());
}

std::optional<State> read_checkpoint(const fs::path& dir) {
  std::ifstream in(dir / "state.txt");
  if (!in || !fs::exists(dir / "model.pt")) return std::nullopt;
  State st;
  std::string line;
  while (std::getline(in, line)) {
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string k = line.substr(0, eq), v = line.substr(eq + 1);
    if (k == "signature") {
      st.signature = v;
    } else if (k == "epoch") {
      st.epoch = std::atoi(v.c_str());
    } else if (k == "best_epoch") {
      st.best_epoch = std::atoi(v.c_str());
    } else if (k == "best_metric") {
      st.best_metric = std::strtod(v.c_str(), nullptr);
    } else if (k == "bad_epochs") {
      st.bad_epochs = std::atoi(v.c_str());
    } else if (k == "history") {
      EpochRecord r;
      char* p = nullptr;
      r.epoch = static_cast<int>(std::strtol(v.c_str(), &p, 10));
      r.train_loss = std::strtod(p + 1, &p);
      r.val_metric = std::strtod(p + 1, &p);
      st.history.push_back(r);
    }
  }
  if (st.epoch <= 0 || static_cast<int>(st.history.size()) != st.epoch) return std::nullopt;
  return st;
}

std::vector<double> softmax_rows(const std::vector<float>& logits, std::size_t k) {
  std::vector<double> p(logits.size());
  for (std::size_t r = 0; r * k < logits.size(); ++r) {
    double mx = -1e300, s = 0;
    for (std::size_t c = 0; c < k; ++c) mx = std::max(mx, static_cast<double>(logits[r * k + c]));
    for (std::size_t c = 0; c < k; ++c) s += (p[r * k + c] = std::exp(logits[r * k + c] - mx));
    for (std::size_t c = 0; c < k; ++c) p[r * k + c] /= s;
  }
  return p;
}

void write_cls(runtime::JsonWriter& w, const ClassificationMetrics& m) {
  w.begin_object()
      .field("n", m.n)
      .field("accuracy", m.accuracy)
      .field("balanced_accuracy", m.balanced_accuracy)
      .field("macro_f1", m.macro_f1)
      .field("roc_auc_ovr", m.roc_auc_ovr)
      .key("confusion")
      .begin_array();
  for (const auto& row : m.confusion) {
    w.begin_array();
    for (auto v : row) w.value(v);
    w.end_array();
  }
  w.end_array().end_object();
}

void write_reg(runtime::JsonWriter& w, const RegressionMetrics& m) {
  w.begin_object()
      .field("n", m.n)
      .field("rmse", m.rmse)
      .field("mae", m.mae)
      .field("r2", m.r2)
      .end_object();
}

template <typename T>
std::vector<T> pick(const std::vector<T>& v, const std::vector<std::int64_t>& nodes) {
  std::vector<T> out;
  out.reserve(nodes.size());
  for (auto i : nodes) out.push_back(v[static_cast<std::size_t>(i)]);
  return out;
}

fs::path next_version_dir(const fs::path& base) {
  for (int v = 1;; ++v) {
    fs::path p = base / ("v" + std::to_string(v));
    if (!fs::exists(p)) return p;
  }
}

}  // namespace

Result<TrainerResult, std::string> run_trainer(const TrainerOptions& o, const TrainerHooks& hooks) {
  if (o.epochs < 1 || o.hidden < 1 || o.heads < 1 || !(o.learning_rate > 0))
    return unexpected(std::string("EPOCHS, HIDDEN, HEADS >= 1 and LEARNING_RATE > 0 required"));
  if (!(o.train_fraction > 0) || !(o.validation_fraction > 0) ||
      o.train_fraction + o.validation_fraction >= 1)
    return unexpected(std::string(
        "TRAIN_FRACTION, VALIDATION_FRACTION > 0 with TRAIN_FRACTION + VALIDATION_FRACTION < 1"));
  if (o.model_name.empty() || o.model_name.find('/') != std::string::npos || o.model_name == "." ||
      o.model_name == "..")
    return unexpected("MODEL_NAME '" + o.model_name + "' is not a directory name");
  auto ds = load_dataset(o.graph_dir);
  if (!ds) return unexpected(ds.error());
  const ml::Graph& g = ds->graph;
  const std::size_t n = g.num_nodes(), f = g.num_features();
  const bool cls = o.task == Task::kDirection;
  if (!cls && ds->vol_horizon < 1)
    return unexpected(std::string("labels.csv: volatility horizon must be >= 1"));

  std::vector<bool> labelled(n);
  for (std::size_t i = 0; i < n; ++i)
    labelled[i] = cls ? ds->direction[i] >= 0 : !std::isnan(ds->volatility[i]);
  TrainerResult res;
  res.split = chronological_split(g, labelled, o.train_fraction, o.validation_fraction, o.embargo);
  const Split& sp = res.split;
  if (sp.train.empty() || sp.validation.empty() || sp.test.empty())
    return unexpected("split too small: train " + std::to_string(sp.train.size()) +
                      ", validation " + std::to_string(sp.validation.size()) + ", test " +
                      std::to_string(sp.test.size()) + " nodes");

  // Labels the learners see (train labels optionally permuted).
  std::vector<int> y_cls = ds->direction;
  std::vector<double> y_reg = ds->volatility;
  if (o.shuffle_train_labels) {
    std::mt19937_64 rng(o.seed ^ 0x9E3779B97F4A7C15ull);
    for (std::size_t i = sp.train.size(); i > 1; --i) {
      const auto j = static_cast<std::size_t>(rng() % i);
      const auto a = static_cast<std::size_t>(sp.train[i - 1]);
      const auto b = static_cast<std::size_t>(sp.train[j]);
      std::swap(y_cls[a], y_cls[b]);
      std::swap(y_reg[a], y_reg[b]);
    }
  }

  // Targets and mask.
  std::vector<std::uint8_t> mask(n, 0);
  for (auto i : sp.train) mask[static_cast<std::size_t>(i)] = 1;
  std::vector<float> target(n, 0.0f);
  std::vector<float> class_weights;
  std::vector<std::int64_t> class_count(kClasses, 0);
  double y_mean = 0, y_std = 1;
  if (cls) {
    for (auto i : sp.train)
      class_count[static_cast<std::size_t>(y_cls[static_cast<std::size_t>(i)])]++;
    for (int c = 0; c < kClasses; ++c)
      class_weights.push_back(
          class_count[static_cast<std::size_t>(c)] > 0
              ? static_cast<float>(
                    static_cast<double>(sp.train.size()) /
                    (kClasses * static_cast<double>(class_count[static_cast<std::size_t>(c)])))
              : 0.0f);
    for (auto i : sp.train)
      target[static_cast<std::size_t>(i)] = static_cast<float>(y_cls[static_cast<std::size_t>(i)]);
  } else {
    double s = 0, s2 = 0;
    for (auto i : sp.train) s += y_reg[static_cast<std::size_t>(i)];
    y_mean = s / static_cast<double>(sp.train.size());
    for (auto i : sp.train) {
      const double d = y_reg[static_cast<std::size_t>(i)] - y_mean;
      s2 += d * d;
    }
    y_std = std::sqrt(s2 / static_cast<double>(sp.train.size()));
    if (!(y_std > 1e-300)) y_std = 1;
    for (auto i : sp.train)
      target[static_cast<std::size_t>(i)] =
          static_cast<float>((y_reg[static_cast<std::size_t>(i)] - y_mean) / y_std);
  }

  gnn::Graph gg{.num_nodes = static_cast<std::int64_t>(n),
                .num_features = static_cast<std::int64_t>(f),
                .x = g.features,
                .src = {},
                .dst = {}};
  gg.src.reserve(g.edges.size());
  gg.dst.reserve(g.edges.size());
  for (const auto& e : g.edges) {
    gg.src.push_back(e.src);
    gg.dst.push_back(e.dst);
  }
  const bool attention = o.model == gnn::LayerKind::kGat || o.model == gnn::LayerKind::kGatV2;
  gnn::ModelConfig mc{.kind = o.model,
                      .in_features = static_cast<std::int64_t>(f),
                      .hidden = o.hidden,
                      .out_features = cls ? kClasses : 1,
                      .heads = attention ? o.heads : 1,
                      .dropout = 0.0,
                      .seed = o.seed,
                      .threads = o.threads};
  gnn::Model model(mc);
  if (auto err = gnn::validate(mc, gg); !err.empty()) return unexpected("graph: " + err);

  // Validation metric of the current weights: macro F1 (higher is better) or RMSE (lower).
  auto evaluate = [&](const std::vector<float>& out, const std::vector<std::int64_t>& nodes,
                      ClassificationMetrics* cm, RegressionMetrics* rm) {
    if (cls) {
      std::vector<int> pred;
      std::vector<float> logits;
      for (auto i : nodes) {
        const auto r = static_cast<std::size_t>(i) * kClasses;
        logits.insert(logits.end(), out.begin() + static_cast<std::ptrdiff_t>(r),
                      out.begin() + static_cast<std::ptrdiff_t>(r + kClasses));
        pred.push_back(static_cast<int>(
            std::max_element(out.begin() + static_cast<std::ptrdiff_t>(r),
                             out.begin() + static_cast<std::ptrdiff_t>(r + kClasses)) -
            (out.begin() + static_cast<std::ptrdiff_t>(r))));
      }
      *cm = classification_metrics(pick(ds->direction, nodes), pred, kClasses,
                                   softmax_rows(logits, kClasses));
      return cm->macro_f1;
    }
    std::vector<double> pred;
    for (auto i : nodes) pred.push_back(out[static_cast<std::size_t>(i)] * y_std + y_mean);
    *rm = regression_metrics(pick(ds->volatility, nodes), pred);
    return rm->rmse;
  };
  auto better = [&](double a, double best) {
    if (std::isnan(best)) return !std::isnan(a);
    return cls ? a > best : a < best;
  };

  const fs::path ckpt = checkpoint_dir(o);
  State st;
  st.signature = signature(o);
  if (auto prev = read_checkpoint(ckpt); prev && prev->signature == st.signature) {
    if (auto err = model.load((ckpt / "model.pt").string()); !err.empty())
      return unexpected("resume: " + err);
    st = *prev;
    res.resumed_from_epoch = st.epoch;
  } else {
    std::error_code ec;
    fs::remove_all(ckpt, ec);
  }

  gnn::TrainStepOptions step{.loss = cls ? gnn::LossKind::kCrossEntropy : gnn::LossKind::kMse,
                             .mask = mask,
                             .class_weights = class_weights,
                             .lr = o.learning_rate};
  for (int epoch = st.epoch + 1; epoch <= o.epochs; ++epoch) {
    if (hooks.stop && hooks.stop()) {
      if (auto r = save_checkpoint(ckpt, model, st); !r) return unexpected(r.error());
      res.interrupted = true;
      res.epochs_run = st.epoch;
      res.best_epoch = st.best_epoch;
      res.history = st.history;
      return res;
    }
    auto t = model.train_step_masked(gg, target, step);
    if (!t.ok()) return unexpected("train step: " + t.error);
    auto out = model.forward(gg);
    if (!out.ok()) return unexpected("forward: " + out.error);
    ClassificationMetrics cm;
    RegressionMetrics rm;
    const double metric = evaluate(out.values, sp.validation, &cm, &rm);
    EpochRecord rec{.epoch = epoch, .train_loss = t.loss, .val_metric = metric};
    st.history.push_back(rec);
    st.epoch = epoch;
    if (better(metric, st.best_metric)) {
      st.best_metric = metric;
      st.best_epoch = epoch;
      st.bad_epochs = 0;
      std::error_code ec;
      fs::create_directories(ckpt, ec);
      if (auto err = model.save((ckpt / "best.pt").string()); !err.empty()) return unexpected(err);
    } else {
      ++st.bad_epochs;
    }
    if (hooks.on_epoch) hooks.on_epoch(rec);
    if (o.checkpoint_every > 0 && epoch % o.checkpoint_every == 0)
      if (auto r = save_checkpoint(ckpt, model, st); !r) return unexpected(r.error());
    if (o.patience > 0 && st.bad_epochs >= o.patience) {
      res.stopped_early = epoch < o.epochs;
      break;
    }
  }
  res.epochs_run = st.epoch;
  res.best_epoch = st.best_epoch;
  res.history = st.history;
  if (st.best_epoch > 0 && fs::exists(ckpt / "best.pt"))
    if (auto err = model.load((ckpt / "best.pt").string()); !err.empty()) return unexpected(err);
  auto final_out = model.forward(gg);
  if (!final_out.ok()) return unexpected("forward: " + final_out.error);

  // Persistence: the label of the same symbol's node `lag` steps back (direction: 1, the previous
  // candle's direction, known at t; volatility: N, the realized volatility of the last N candles).
  const std::size_t lag = cls ? 1 : static_cast<std::size_t>(ds->vol_horizon);
  std::vector<std::int64_t> prev(n, -1);
  {
    std::map<std::int32_t, std::vector<std::int64_t>> by_symbol;
    for (std::size_t i = 0; i < n; ++i)
      by_symbol[g.node_symbol.empty() ? 0 : g.node_symbol[i]].push_back(
          static_cast<std::int64_t>(i));
    for (auto& [sym, nodes] : by_symbol) {
      std::stable_sort(nodes.begin(), nodes.end(), [&](std::int64_t a, std::int64_t b) {
        return g.node_time[static_cast<std::size_t>(a)] < g.node_time[static_cast<std::size_t>(b)];
      });
      for (std::size_t p = lag; p < nodes.size(); ++p)
        prev[static_cast<std::size_t>(nodes[p])] = nodes[p - lag];
    }
  }
  const FeatureMatrix fx{.x = g.features.data(), .rows = n, .cols = f};

  std::string json;
  runtime::JsonWriter w(json);
  w.begin_object()
      .field("format", "streamforge-gnn-metrics/1")
      .field("task", to_string(o.task))
      .field("model_type", model_type_name(o.model));
  w.key("config")
      .begin_object()
      .field("graph_dir", o.graph_dir)
      .field("model_name", o.model_name)
      .field("epochs", o.epochs)
      .field("learning_rate", o.learning_rate)
      .field("hidden", o.hidden)
      .field("heads", mc.heads)
      .field("seed", o.seed)
      .field("train_fraction", o.train_fraction)
      .field("validation_fraction", o.validation_fraction)
      .field("embargo", static_cast<std::int64_t>(o.embargo))
      .field("patience", o.patience)
      .field("checkpoint_every", o.checkpoint_every)
      .field("shuffle_train_labels", o.shuffle_train_labels)
      .field("parameters", model.num_parameters())
      .end_object();
  w.key("graph")
      .begin_object()
      .field("kind", g.kind)
      .field("nodes", static_cast<std::int64_t>(n))
      .field("edges", static_cast<std::int64_t>(g.edges.size()))
      .field("features", static_cast<std::int64_t>(f))
      .field("warmup_nodes", static_cast<std::int64_t>(g.warmup_nodes))
      .end_object();
  auto span = [&](const char* name, const std::vector<std::int64_t>& nodes) {
    w.key(name)
        .begin_object()
        .field("nodes", static_cast<std::int64_t>(nodes.size()))
        .field("first_node", nodes.front())
        .field("last_node", nodes.back())
        .field("start_us", g.node_time[static_cast<std::size_t>(nodes.front())])
        .field("end_us", g.node_time[static_cast<std::size_t>(nodes.back())])
        .end_object();
  };
  w.key("split").begin_object();
  span("train", sp.train);
  span("validation", sp.validation);
  span("test", sp.test);
  w.field("embargo", static_cast<std::int64_t>(o.embargo))
      .field("embargoed", static_cast<std::int64_t>(sp.embargoed))
      .field("excluded_warmup", static_cast<std::int64_t>(sp.excluded_warmup))
      .field("excluded_unlabelled", static_cast<std::int64_t>(sp.excluded_unlabelled))
      .end_object();
  w.field("resumed_from_epoch", res.resumed_from_epoch)
      .field("epochs_run", res.epochs_run)
      .field("best_epoch", res.best_epoch)
      .field("stopped_early", res.stopped_early)
      .field("validation_metric", cls ? "macro_f1" : "rmse");
  w.key("history").begin_array();
  for (const auto& h : res.history)
    w.begin_object()
        .field("epoch", h.epoch)
        .field("train_loss", h.train_loss)
        .field("val_metric", h.val_metric)
        .end_object();
  w.end_array();

  if (cls) {
    w.key("class_weights").begin_array();
    for (auto c : class_weights) w.value(static_cast<double>(c));
    w.end_array();
    const int major = majority_class(y_cls, sp.train, kClasses);
    LogisticRegression lr;
    std::vector<double> cw(class_weights.begin(), class_weights.end());
    lr.fit(fx, y_cls, sp.train, kClasses, cw);
    for (const auto* which : {"validation", "test"}) {
      const auto& nodes = std::string(which) == "test" ? sp.test : sp.validation;
      const auto truth = pick(ds->direction, nodes);
      ClassificationMetrics model_m;
      RegressionMetrics unused;
      evaluate(final_out.values, nodes, &model_m, &unused);
      std::vector<int> maj(nodes.size(), major), pers;
      std::vector<double> maj_s, pers_s;
      for (std::size_t r = 0; r < nodes.size(); ++r) {
        const auto p = prev[static_cast<std::size_t>(nodes[r])];
        const int c = p >= 0 && ds->direction[static_cast<std::size_t>(p)] >= 0
                          ? ds->direction[static_cast<std::size_t>(p)]
                          : major;
        pers.push_back(c);
        for (int k = 0; k < kClasses; ++k) {
          maj_s.push_back(k == major ? 1.0 : 0.0);
          pers_s.push_back(k == c ? 1.0 : 0.0);
        }
      }
      const auto lrs = lr.predict(fx, nodes);
      w.key(which).begin_object().key("model");
      write_cls(w, model_m);
      w.key("majority");
      write_cls(w, classification_metrics(truth, maj, kClasses, maj_s));
      w.key("persistence");
      write_cls(w, classification_metrics(truth, pers, kClasses, pers_s));
      w.key("logistic_regression");
      write_cls(w, classification_metrics(truth, lrs.predicted, kClasses, lrs.scores));
      w.end_object();
    }
  } else {
    LinearRegression lin;
    lin.fit(fx, y_reg, sp.train);
    double train_mean = 0;
    for (auto i : sp.train) train_mean += y_reg[static_cast<std::size_t>(i)];
    train_mean /= static_cast<double>(sp.train.size());
    w.field("target_mean", y_mean).field("target_std", y_std);
    for (const auto* which : {"validation", "test"}) {
      const auto& nodes = std::string(which) == "test" ? sp.test : sp.validation;
      const auto truth = pick(ds->volatility, nodes);
      ClassificationMetrics unused;
      RegressionMetrics model_m;
      evaluate(final_out.values, nodes, &unused, &model_m);
      std::vector<double> mean_p(nodes.size(), train_mean), pers;
      for (auto i : nodes) {
        const auto p = prev[static_cast<std::size_t>(i)];
        const double v = p >= 0 ? ds->volatility[static_cast<std::size_t>(p)] : kNaN;
        pers.push_back(std::isnan(v) ? train_mean : v);
      }
      w.key(which).begin_object().key("model");
      write_reg(w, model_m);
      w.key("train_mean");
      write_reg(w, regression_metrics(truth, mean_p));
      w.key("persistence");
      write_reg(w, regression_metrics(truth, pers));
      w.key("linear_regression");
      write_reg(w, regression_metrics(truth, lin.predict(fx, nodes)));
      w.end_object();
    }
  }
  w.end_object();
  res.metrics_json = json;

  std::error_code ec;
  const fs::path base = fs::path(o.model_dir) / o.model_name;
  fs::create_directories(base, ec);
  const fs::path vdir = next_version_dir(base);
  fs::create_directories(vdir, ec);
  if (ec) return unexpected("cannot create " + vdir.string() + ": " + ec.message());
  if (auto err = model.save((vdir / "model.pt").string()); !err.empty()) return unexpected(err);
  fs::copy_file(fs::path(o.graph_dir) / "meta.json", vdir / "meta.json",
                fs::copy_options::overwrite_existing, ec);
  if (ec) return unexpected("cannot copy meta.json: " + ec.message());
  if (auto r = write_text(vdir / "metrics.json", json + "\n"); !r) return unexpected(r.error());
  fs::remove_all(ckpt, ec);
  res.version_dir = vdir.string();
  return res;
}

}  // namespace sf::ml::train
