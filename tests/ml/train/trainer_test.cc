// gnn-trainer on the freqtrade BTC 5m candles (last 6,000): metrics.json with the model and every
// baseline, a chronological split with the embargo, shuffled labels falling to chance,
// determinism, stop -> checkpoint -> resume, and the service body's telemetry.
#include "ml/train/trainer.h"

#include <gtest/gtest.h>
#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

#include "bus/inproc_bus.h"
#include "core/wire_decode.h"
#include "exchange/binance/parse.h"
#include "ml/gnn/gnn.h"
#include "ml/graph/asset_graph.h"
#include "ml/graph/candle_graph.h"
#include "ml/train/infer_service.h"
#include "ml/train/trainer_service.h"
#include "runtime/protocol.h"
#include "runtime/service.h"
#include "runtime/worker.h"
#include "store/store.h"
#include "test_support.h"

namespace sf::ml::train {
namespace {

namespace fs = std::filesystem;
constexpr const char* kBtc = "klines_5m_2022_freqtrade/BTC_USDT-5m.json";

// Temp root for this process; the BTC graph (last 6,000 candles) exported once into it.
const fs::path& root() {
  static const fs::path r = [] {
    auto p = fs::temp_directory_path() / ("sf_trainer_test_" + std::to_string(::getpid()));
    fs::remove_all(p);
    fs::create_directories(p);
    return p;
  }();
  return r;
}

// Empty when the data is missing or the build failed (the test asserts).
std::string btc_graph_dir() {
  static const std::string dir = []() -> std::string {
    std::ifstream in(sf::testing::shared_data_dir() / kBtc);
    std::string body((std::istreambuf_iterator<char>(in)), {});
    binance::Parser parser;
    auto rows = parser.parse_ohlcv_rows(body, *Symbol::parse("BTCUSDT"), Interval::k5m);
    if (!rows || rows->size() < 6000) return {};
    std::vector<Candle> candles(rows->end() - 6000, rows->end());
    auto g = ml::build_candle_graph(candles);
    if (!g) return {};
    const auto d = root() / "btc";
    if (!ml::export_graph(*g, d)) return {};
    if (!write_labels_csv(d, *g, ml::direction_labels(candles), ml::volatility_labels(candles, 12),
                          12))
      return {};
    return d.string();
  }();
  return dir;
}

// Removes the temp root at the end of the run.
class CleanUp : public ::testing::Environment {
 public:
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root(), ec);
  }
};
[[maybe_unused]] const auto* const kCleanUp = ::testing::AddGlobalTestEnvironment(new CleanUp);

TrainerOptions small(const std::string& model_dir) {
  TrainerOptions o;
  o.graph_dir = btc_graph_dir();
  o.model = gnn::LayerKind::kGcn;
  o.epochs = 20;
  o.hidden = 8;
  o.learning_rate = 0.02;
  o.model_dir = (root() / model_dir).string();
  o.model_name = "btc";
  o.seed = 7;
  o.patience = 0;
  o.checkpoint_every = 0;
  o.threads = 1;
  return o;
}

simdjson::dom::element parse(simdjson::dom::parser& p, const std::string& json) {
  return p.parse(json);
}

double num(simdjson::dom::element e, std::string_view path) {
  double v = 0;
  auto r = e.at_pointer(path);
  if (r.error()) {
    ADD_FAILURE() << "missing " << path;
    return NAN;
  }
  if (r.is_double()) return r.get_double().value();
  if (r.is_int64()) return static_cast<double>(r.get_int64().value());
  if (r.is_uint64()) return static_cast<double>(r.get_uint64().value());
  ADD_FAILURE() << path << " is not a number";
  return v;
}

TEST(GnnTrainer, DirectionOnBtcCandlesWritesModelAndBaselinesOnAChronologicalSplit) {
  SF_REQUIRE_SHARED_DATA(kBtc);
  ASSERT_FALSE(btc_graph_dir().empty());
  auto o = small("a");
  o.patience = 5;
  auto res = run_trainer(o);
  ASSERT_TRUE(res.ok()) << res.error();
  EXPECT_FALSE(res->interrupted);
  EXPECT_EQ(res->version_dir, (fs::path(o.model_dir) / "btc" / "v1").string());
  for (const char* f : {"metrics.json", "model.pt", "meta.json"})
    EXPECT_TRUE(fs::exists(fs::path(res->version_dir) / f)) << f;
  EXPECT_FALSE(fs::exists(checkpoint_dir(o)));  // removed once finished
  std::ifstream in(fs::path(res->version_dir) / "metrics.json");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(text, res->metrics_json + "\n");
  simdjson::dom::parser p;
  auto m = parse(p, text);
  for (const char* who : {"model", "majority", "persistence", "logistic_regression"})
    for (const char* metric : {"accuracy", "balanced_accuracy", "macro_f1", "roc_auc_ovr"}) {
      const double v = num(m, std::string("/test/") + who + "/" + metric);
      EXPECT_TRUE(v >= 0 && v <= 1) << who << " " << metric << " " << v;
    }
  // Majority predicts one class: balanced accuracy exactly 1/3 and AUC 1/2.
  EXPECT_NEAR(num(m, "/test/majority/balanced_accuracy"), 1.0 / 3, 1e-12);
  EXPECT_NEAR(num(m, "/test/majority/roc_auc_ovr"), 0.5, 1e-12);
  // Split sizes add up to the node count.
  const auto& s = res->split;
  EXPECT_EQ(s.train.size() + s.validation.size() + s.test.size() + s.embargoed + s.excluded_warmup +
                s.excluded_unlabelled,
            6000u);
  EXPECT_EQ(num(m, "/split/train/nodes"), static_cast<double>(s.train.size()));
  EXPECT_EQ(num(m, "/split/test/nodes"), num(m, "/test/model/n"));
  EXPECT_EQ(s.excluded_warmup, 33u);     // MACD warm-up
  EXPECT_EQ(s.excluded_unlabelled, 1u);  // the last candle has no next one
  // Chronology: every validation node after every train node, every test node after those, with
  // at least EMBARGO nodes between (the eligible nodes are consecutive here: exactly EMBARGO).
  EXPECT_EQ(s.validation.front() - s.train.back(), static_cast<std::int64_t>(o.embargo) + 1);
  EXPECT_EQ(s.test.front() - s.validation.back(), static_cast<std::int64_t>(o.embargo) + 1);
  for (std::size_t i = 1; i < s.train.size(); ++i) ASSERT_LT(s.train[i - 1], s.train[i]);
  EXPECT_LT(num(m, "/split/train/end_us"), num(m, "/split/validation/start_us"));
  EXPECT_LT(num(m, "/split/validation/end_us"), num(m, "/split/test/start_us"));
  // History: one entry per epoch, best epoch within it.
  EXPECT_EQ(res->history.size(), static_cast<std::size_t>(res->epochs_run));
  EXPECT_GE(res->best_epoch, 1);
  EXPECT_LE(res->best_epoch, res->epochs_run);
  // A second run with the same name is version 2.
  auto again = run_trainer(o);
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_EQ(again->version_dir, (fs::path(o.model_dir) / "btc" / "v2").string());
}

TEST(GnnTrainer, VolatilityTaskReportsRegressionBaselines) {
  SF_REQUIRE_SHARED_DATA(kBtc);
  ASSERT_FALSE(btc_graph_dir().empty());
  auto o = small("vol");
  o.task = Task::kVolatility;
  o.epochs = 10;
  auto res = run_trainer(o);
  ASSERT_TRUE(res.ok()) << res.error();
  simdjson::dom::parser p;
  auto m = parse(p, res->metrics_json);
  for (const char* who : {"model", "train_mean", "persistence", "linear_regression"}) {
    EXPECT_GT(num(m, std::string("/test/") + who + "/rmse"), 0) << who;
    EXPECT_GT(num(m, std::string("/test/") + who + "/mae"), 0) << who;
  }
  // Volatility clusters: on this fixed span, the linear regression on the features (rv_20 among
  // them) explains part of the variance (R2 > 0; measured 0.18) and persistence of the last 12
  // candles' RV has a lower MAE than the constant train mean (its RMSE is higher: 12-sample RV
  // is noisy and spiky).
  EXPECT_GT(num(m, "/test/linear_regression/r2"), 0);
  EXPECT_LT(num(m, "/test/persistence/mae"), num(m, "/test/train_mean/mae"));
  EXPECT_EQ(res->split.excluded_unlabelled, 12u);  // the last 12 nodes have no next-12 RV
}

// Shuffled train labels leave nothing to learn: the test balanced accuracy must be near chance.
// Any predictor independent of the true labels has expected balanced accuracy exactly 1/3
// (mean over classes of P(predict c)); the model's predictions still depend on features that are
// (weakly) related to the true labels, and the test span is ~880 nodes (~290 per class), so the
// per-class recall noise is ~0.03 and the mean's ~0.02; margin 0.06 is ~3 sigma.
TEST(GnnTrainer, ShuffledLabelsFallToChance) {
  SF_REQUIRE_SHARED_DATA(kBtc);
  ASSERT_FALSE(btc_graph_dir().empty());
  auto o = small("shuffled");
  o.shuffle_train_labels = true;
  o.epochs = 30;
  auto res = run_trainer(o);
  ASSERT_TRUE(res.ok()) << res.error();
  simdjson::dom::parser p;
  auto m = parse(p, res->metrics_json);
  const double bacc = num(m, "/test/model/balanced_accuracy");
  const double lr_bacc = num(m, "/test/logistic_regression/balanced_accuracy");
  std::cout << "shuffled: model test balanced accuracy " << bacc << ", logistic regression "
            << lr_bacc << "\n";
  EXPECT_NEAR(bacc, 1.0 / 3, 0.06);
  EXPECT_NEAR(lr_bacc, 1.0 / 3, 0.06);
}

TEST(GnnTrainer, SameSeedSameMetrics) {
  SF_REQUIRE_SHARED_DATA(kBtc);
  ASSERT_FALSE(btc_graph_dir().empty());
  auto a = run_trainer(small("det1"));
  auto o2 = small("det2");
  auto b = run_trainer(o2);
  ASSERT_TRUE(a.ok()) << a.error();
  ASSERT_TRUE(b.ok()) << b.error();
  // model_dir is not in metrics.json: the documents are identical byte for byte.
  EXPECT_EQ(a->metrics_json, b->metrics_json);
  auto o3 = small("det3");
  o3.seed = 8;
  auto c = run_trainer(o3);
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_NE(a->history.back().train_loss, c->history.back().train_loss);
}

TEST(GnnTrainer, AGraphReadFromTheStoreTrainsExactlyLikeItsDirectory) {
  SF_REQUIRE_SHARED_DATA(kBtc);
  ASSERT_FALSE(btc_graph_dir().empty());
  auto dataset = load_dataset(btc_graph_dir());
  ASSERT_TRUE(dataset.ok()) << dataset.error();
  auto store = store::open_store("sqlite:" + (root() / "graphs.db").string());
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->replace_graph(ml::to_graph_record(*dataset, "btc_stored", 1.0)).ok());

  const fs::path copy = root() / "copies" / "btc_stored";
  auto from = prepare_graph_dir(store->get(), "btc_stored", copy, GraphSource::kStore);
  ASSERT_TRUE(from.ok()) << from.error();
  EXPECT_EQ(*from, "store");
  auto direct = run_trainer(small("from_dir"));
  auto o = small("from_store");
  o.graph_dir = copy.string();
  auto stored = run_trainer(o);
  ASSERT_TRUE(direct.ok()) << direct.error();
  ASSERT_TRUE(stored.ok()) << stored.error();
  ASSERT_EQ(stored->history.size(), direct->history.size());
  for (std::size_t i = 0; i < direct->history.size(); ++i) {
    EXPECT_EQ(stored->history[i].train_loss, direct->history[i].train_loss) << "epoch " << i + 1;
    EXPECT_EQ(stored->history[i].val_metric, direct->history[i].val_metric) << "epoch " << i + 1;
  }
  EXPECT_EQ(stored->split.test, direct->split.test);

  // auto: the store when it holds the graph, else the directory; store: the store or an error.
  auto fallback = prepare_graph_dir(store->get(), "btc", btc_graph_dir(), GraphSource::kAuto);
  ASSERT_TRUE(fallback.ok()) << fallback.error();
  EXPECT_EQ(*fallback, "dir");
  auto missing = prepare_graph_dir(store->get(), "btc", btc_graph_dir(), GraphSource::kStore);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("no graph named 'btc'"), std::string::npos) << missing.error();
  auto nowhere = prepare_graph_dir(store->get(), "nowhere", root() / "nowhere", GraphSource::kAuto);
  ASSERT_FALSE(nowhere.ok());
}

TEST(GnnTrainer, StopCheckpointsAndResumeContinuesFromTheSavedEpoch) {
  SF_REQUIRE_SHARED_DATA(kBtc);
  ASSERT_FALSE(btc_graph_dir().empty());
  auto o = small("resume");
  o.epochs = 8;
  o.checkpoint_every = 2;
  int seen = 0;
  TrainerHooks stop_after_3{.stop = [&] { return seen >= 3; },
                            .on_epoch = [&](const EpochRecord&) { ++seen; }};
  auto first = run_trainer(o, stop_after_3);
  ASSERT_TRUE(first.ok()) << first.error();
  EXPECT_TRUE(first->interrupted);
  EXPECT_EQ(first->epochs_run, 3);
  EXPECT_TRUE(fs::exists(fs::path(checkpoint_dir(o)) / "state.txt"));
  EXPECT_TRUE(fs::exists(fs::path(checkpoint_dir(o)) / "model.pt"));
  EXPECT_FALSE(fs::exists(fs::path(o.model_dir) / "btc" / "v1"));

  std::vector<int> epochs;
  TrainerHooks record{.stop = {},
                      .on_epoch = [&](const EpochRecord& r) { epochs.push_back(r.epoch); }};
  auto second = run_trainer(o, record);
  ASSERT_TRUE(second.ok()) << second.error();
  EXPECT_FALSE(second->interrupted);
  EXPECT_EQ(second->resumed_from_epoch, 3);
  EXPECT_EQ(epochs, (std::vector<int>{4, 5, 6, 7, 8}));
  ASSERT_EQ(second->history.size(), 8u);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(second->history[static_cast<std::size_t>(i)].train_loss,
              first->history[static_cast<std::size_t>(i)].train_loss);

  // Weights and Adam state were restored: the same losses as an uninterrupted run.
  auto so = small("resume_straight");
  so.epochs = 8;
  auto straight = run_trainer(so);
  ASSERT_TRUE(straight.ok()) << straight.error();
  for (std::size_t i = 0; i < 8; ++i)
    EXPECT_NEAR(second->history[i].train_loss, straight->history[i].train_loss, 1e-6) << i;
}

TEST(GnnTrainer, ServiceBodyReportsEveryEpochAndFinishes) {
  SF_REQUIRE_SHARED_DATA(kBtc);
  ASSERT_FALSE(btc_graph_dir().empty());
  runtime::ConfigParser parser("gnn-trainer");
  runtime::add_worker_options(parser);
  sf::services::add_gnn_trainer_options(parser);
  const std::map<std::string, std::string> env = {{"GRAPH_DIR", root().string()},
                                                  {"GRAPH_NAME", "btc"},
                                                  {"MODEL_TYPE", "GraphSAGE"},
                                                  {"EPOCHS", "3"},
                                                  {"HIDDEN", "4"},
                                                  {"THREADS", "1"},
                                                  {"MODEL_DIR", (root() / "svc").string()},
                                                  {"QUEUE_ID", "q-train"}};
  auto config = parser.parse({}, [&](const std::string& k) -> std::optional<std::string> {
    auto it = env.find(k);
    return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
  });
  ASSERT_TRUE(config.ok()) << config.error();
  auto o = sf::services::gnn_trainer_options_from(*config);
  ASSERT_TRUE(o.ok()) << o.error();
  EXPECT_EQ(o->model_name, "q-train");
  EXPECT_EQ(o->model, gnn::LayerKind::kSage);
  bus::InProcBus bus;
  bus::SubscribeOptions so;
  so.topics = {"queue-events"};
  so.group = "watch";
  auto consumer = bus.subscribe(so);
  ASSERT_TRUE(consumer.ok());
  runtime::WorkerSettings ws;
  ws.service = "gnn-trainer";
  ws.queue_id = "q-train";
  ws.telemetry_interval = std::chrono::hours(1);
  runtime::Worker w(bus, ws);
  EXPECT_EQ(w.run(sf::services::gnn_trainer_body(*o)), 0);
  EXPECT_EQ(w.outcome(), runtime::Outcome::kFinished);
  EXPECT_TRUE(fs::exists(root() / "svc" / "q-train" / "v1" / "metrics.json"));
  std::vector<std::string> extras;
  std::string last;
  for (int i = 0; i < 20; ++i) {
    auto msgs = (*consumer)->poll(std::chrono::milliseconds(50), 100);
    ASSERT_TRUE(msgs.ok());
    if (msgs->empty()) break;
    for (const auto& msg : *msgs) {
      auto e = runtime::decode_telemetry(msg.value);
      ASSERT_TRUE(e.ok()) << e.error();
      last = e->status;
      if (e->status == "loading" && e->extra.find("\"epoch\"") != std::string::npos)
        extras.push_back(e->extra);
    }
  }
  ASSERT_EQ(extras.size(), 3u);
  simdjson::dom::parser p;
  for (std::size_t i = 0; i < extras.size(); ++i) {
    auto e = parse(p, extras[i]);
    EXPECT_EQ(num(e, "/epoch"), static_cast<double>(i + 1));
    EXPECT_GT(num(e, "/train_loss"), 0);
    EXPECT_GE(num(e, "/val_metric"), 0);
  }
  EXPECT_EQ(last, "finished");
}

TEST(GnnTrainer, BadInputIsAnErrorNamingTheProblem) {
  auto o = small("bad");
  o.graph_dir = (root() / "no-such-graph").string();
  auto r = run_trainer(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("no-such-graph"), std::string::npos) << r.error();
  o = small("bad");
  o.train_fraction = 0.9;
  o.validation_fraction = 0.2;
  EXPECT_FALSE(run_trainer(o).ok());
  EXPECT_FALSE(parse_model_type("GCNN"));
  EXPECT_EQ(parse_model_type("GraphSAGE"), gnn::LayerKind::kSage);
  EXPECT_EQ(parse_model_type("GATv2"), gnn::LayerKind::kGatV2);
}

// The sf_gnn additions the trainer uses: masked steps (only masked nodes move the loss) and
// save / load.
TEST(GnnModelTraining, MaskedCrossEntropyStepAndSaveLoad) {
  gnn::Graph g{.num_nodes = 4,
               .num_features = 2,
               .x = {1, 0, 0, 1, 1, 1, -1, 0},
               .src = {0, 1, 2, 3},
               .dst = {1, 2, 3, 0}};
  gnn::ModelConfig c{.kind = gnn::LayerKind::kGcn,
                     .in_features = 2,
                     .hidden = 16,
                     .out_features = 3,
                     .seed = 3,
                     .threads = 1};
  gnn::Model a(c);
  gnn::TrainStepOptions step{.loss = gnn::LossKind::kCrossEntropy,
                             .mask = {1, 1, 0, 0},
                             .class_weights = {1, 2, 1},
                             .lr = 0.01};
  // Unmasked targets may be anything (here out of range): ignored.
  const std::vector<float> y = {0, 2, 99, -1};
  auto first = a.train_step_masked(g, y, step);
  ASSERT_TRUE(first.ok()) << first.error;
  for (int i = 0; i < 150; ++i) ASSERT_TRUE(a.train_step_masked(g, y, step).ok());
  auto later = a.train_step_masked(g, y, step);
  EXPECT_LT(later.loss, first.loss * 0.5);
  step.mask = {0, 0, 0, 0};
  EXPECT_FALSE(a.train_step_masked(g, y, step).ok());
  step.mask = {1, 0, 1, 0};
  EXPECT_FALSE(a.train_step_masked(g, y, step).ok());  // node 2's target is not a class
  // save -> load into a fresh model: same outputs, and the next step matches (Adam state).
  const auto path = (root() / "model_roundtrip.pt").string();
  ASSERT_EQ(a.save(path), "");
  gnn::Model b(gnn::ModelConfig{c.kind, c.in_features, c.hidden, c.out_features, 1, 0.0, 99, 1});
  EXPECT_NE(b.forward(g).values, a.forward(g).values);
  ASSERT_EQ(b.load(path), "");
  EXPECT_EQ(b.forward(g).values, a.forward(g).values);
  step.mask = {1, 1, 0, 0};
  EXPECT_EQ(b.train_step_masked(g, y, step).loss, a.train_step_masked(g, y, step).loss);
  EXPECT_EQ(b.forward(g).values, a.forward(g).values);
  EXPECT_NE(b.load((root() / "missing.pt").string()), "");
}

// Not run by ctest (DISABLED_): the full-data numbers in docs/gnn.md. Run with
//   build/tests/gnn_trainer_test --gtest_also_run_disabled_tests --gtest_filter='*FullFreqtrade*'
// (SF_FULL_EPOCHS overrides the epochs, default 100; the metrics.json files are printed).
// gnn-infer: the stored model scores the newest nodes; on the training graph itself (same
// normalisation) its probabilities are the model's own softmax, published and stored.
TEST(GnnInfer, ScoresTheNewestNodesPublishesAndStoresProbabilities) {
  SF_REQUIRE_SHARED_DATA(kBtc);
  auto o = small("infer-models");
  o.epochs = 5;
  auto res = run_trainer(o);
  ASSERT_TRUE(res.ok()) << res.error();
  services::InferOptions io;
  io.model_dir = o.model_dir;
  io.model_name = "btc";
  io.graph_path = btc_graph_dir();
  io.topic = "btc-predictions";
  io.predict_last = 4;
  auto store = store::open_store("sqlite::memory:");
  ASSERT_TRUE(store.ok());
  bus::InProcBus bus;
  runtime::WorkerSettings ws;
  ws.service = "gnn-infer";
  ws.queue_id = "q-infer";
  runtime::Worker w(bus, ws);
  EXPECT_EQ(w.run(services::gnn_infer_body(io, store->get())), 0);
  ASSERT_EQ(w.outcome(), runtime::Outcome::kFinished);
  // The model's own forward pass over the same graph, for comparison.
  auto ds = load_dataset(btc_graph_dir());
  ASSERT_TRUE(ds.ok());
  const auto& g = ds->graph;
  gnn::Graph gg{.num_nodes = static_cast<std::int64_t>(g.num_nodes()),
                .num_features = static_cast<std::int64_t>(g.num_features()),
                .x = g.features,
                .src = {},
                .dst = {}};
  for (const auto& e : g.edges) {
    gg.src.push_back(e.src);
    gg.dst.push_back(e.dst);
  }
  gnn::Model model({.kind = gnn::LayerKind::kGcn,
                    .in_features = gg.num_features,
                    .hidden = 8,
                    .out_features = 3,
                    .heads = 1,
                    .dropout = 0,
                    .seed = 0,
                    .threads = 1});
  ASSERT_EQ(model.load((fs::path(res->version_dir) / "model.pt").string()), "");
  auto out = model.forward(gg);
  ASSERT_TRUE(out.ok());
  const auto last = g.num_nodes() - 1;
  const float* z = &out.values[last * 3];
  const double m = std::max({z[0], z[1], z[2]});
  const double sum = std::exp(z[0] - m) + std::exp(z[1] - m) + std::exp(z[2] - m);
  const double want_up = std::exp(z[2] - m) / sum;
  // Stored: 4 nodes x 3 probabilities, summing to 1 per node.
  const Symbol btc = *Symbol::parse("BTCUSDT");
  double total = 0;
  for (const char* name : {"gnn_btc_p_down", "gnn_btc_p_flat", "gnn_btc_p_up"}) {
    auto v = (*store)->indicators(btc, Interval::k5m, name, {});
    ASSERT_TRUE(v.ok());
    ASSERT_EQ(v->size(), 4u) << name;
    EXPECT_EQ(v->back().open_time, g.node_time[last]);
    total += v->back().value;
    if (std::string(name) == "gnn_btc_p_up") {
      EXPECT_NEAR(v->back().value, want_up, 1e-6);
    }
  }
  EXPECT_NEAR(total, 1.0, 1e-9);
  // Published as indicator records, keyed by symbol.
  auto c = bus.subscribe({.topics = {"btc-predictions"},
                          .group = "check",
                          .start = bus::StartFrom::kEarliest,
                          .offsets = {}});
  ASSERT_TRUE(c.ok());
  auto msgs = (*c)->poll(std::chrono::milliseconds(500), 100);
  ASSERT_TRUE(msgs.ok());
  ASSERT_EQ(msgs->size(), 12u);
  auto d = wire::decode((*msgs)[0].value);
  ASSERT_TRUE(d.ok());
  ASSERT_TRUE(d->indicator.has_value());
  EXPECT_EQ((*msgs)[0].key, "BTCUSDT");
}

TEST(GnnInfer, AMissingModelOrGraphIsAnError) {
  services::InferOptions io;
  io.model_dir = (root() / "nothing-here").string();
  io.model_name = "none";
  io.graph_path = btc_graph_dir();
  bus::InProcBus bus;
  runtime::WorkerSettings ws;
  ws.service = "gnn-infer";
  ws.queue_id = "q-infer-bad";
  runtime::Worker w(bus, ws);
  EXPECT_EQ(w.run(services::gnn_infer_body(io, nullptr)), 1);
  EXPECT_EQ(w.outcome(), runtime::Outcome::kError);
}

// Prints "mean +- sample std (min .. max)" of each test metric over the seeds' metrics.json, for
// the model and (once, they do not depend on the seed) the baselines.
void print_seed_summary(const std::string& name, const std::vector<std::string>& metrics_json) {
  simdjson::dom::parser parser;
  std::map<std::string, std::vector<double>> values;
  std::vector<std::string> order;
  for (const auto& json : metrics_json) {
    simdjson::dom::element doc = parser.parse(json);
    simdjson::dom::object test;
    if (doc["test"].get(test)) continue;
    for (auto [who, metrics] : test) {
      simdjson::dom::object m;
      if (metrics.get(m)) continue;
      for (auto [metric, v] : m) {
        double x = 0;
        if (v.get(x)) continue;
        const std::string key = std::string(who) + " " + std::string(metric);
        if (!values.contains(key)) order.push_back(key);
        values[key].push_back(x);
      }
    }
  }
  std::cout << "=== " << name << ": test metrics over " << metrics_json.size() << " seeds\n";
  for (const auto& key : order) {
    const auto& v = values[key];
    double mean = 0, ss = 0;
    for (double x : v) mean += x;
    mean /= static_cast<double>(v.size());
    for (double x : v) ss += (x - mean) * (x - mean);
    const double sd = v.size() > 1 ? std::sqrt(ss / static_cast<double>(v.size() - 1)) : 0;
    std::printf("  %-40s %.4g +- %.2g (%.4g .. %.4g)\n", key.c_str(), mean, sd,
                *std::min_element(v.begin(), v.end()), *std::max_element(v.begin(), v.end()));
  }
}

TEST(GnnTrainer, DISABLED_FullFreqtradeCandlesAndAssets) {
  SF_REQUIRE_SHARED_DATA(kBtc);
  const int epochs = std::getenv("SF_FULL_EPOCHS") ? std::atoi(std::getenv("SF_FULL_EPOCHS")) : 100;
  const int seeds = std::getenv("SF_FULL_SEEDS") ? std::atoi(std::getenv("SF_FULL_SEEDS")) : 5;
  auto series = [](const std::string& base) {
    std::ifstream in(sf::testing::shared_data_dir() / "klines_5m_2022_freqtrade" /
                     (base + "_USDT-5m.json"));
    std::string body((std::istreambuf_iterator<char>(in)), {});
    binance::Parser parser;
    auto rows = parser.parse_ohlcv_rows(body, *Symbol::parse(base + "USDT"), Interval::k5m);
    return rows ? std::move(rows).value() : std::vector<Candle>{};
  };
  auto run = [&](const std::string& dir, gnn::LayerKind kind, Task task) {
    std::vector<std::string> metrics;
    std::string name;
    for (int seed = 1; seed <= seeds; ++seed) {
      TrainerOptions o;
      o.graph_dir = dir;
      o.model = kind;
      o.task = task;
      o.epochs = epochs;
      o.hidden = 16;
      o.learning_rate = 0.01;
      o.patience = 20;
      o.seed = static_cast<std::uint64_t>(seed);
      o.model_dir = (root() / "full").string();
      name =
          fs::path(dir).filename().string() + "_" + model_type_name(kind) + "_" + to_string(task);
      o.model_name = name + "_seed" + std::to_string(seed);
      o.threads = 2;
      auto r = run_trainer(o);
      ASSERT_TRUE(r.ok()) << r.error();
      std::cout << "--- " << o.model_name << " epochs " << r->epochs_run << " best "
                << r->best_epoch << "\n";
      metrics.push_back(r->metrics_json);
    }
    std::cout << metrics.front() << "\n";
    print_seed_summary(name, metrics);
  };
  // candles: BTC, the whole series.
  const auto btc = series("BTC");
  ASSERT_GT(btc.size(), 28000u);
  auto g = ml::build_candle_graph(btc);
  ASSERT_TRUE(g.ok());
  const auto cdir = root() / "btc_full";
  ASSERT_TRUE(ml::export_graph(*g, cdir).ok());
  ASSERT_TRUE(
      write_labels_csv(cdir, *g, ml::direction_labels(btc), ml::volatility_labels(btc, 12), 12)
          .ok());
  for (auto kind : {gnn::LayerKind::kGcn, gnn::LayerKind::kSage, gnn::LayerKind::kGat})
    run(cdir.string(), kind, Task::kDirection);
  run(cdir.string(), gnn::LayerKind::kGcn, Task::kVolatility);
  // assets: 13 pairs; node (s, p) labelled with p's next candle after the snapshot's end (the
  // labels graph-builder stores, ml::asset_labels).
  std::vector<std::vector<Candle>> all;
  for (const auto& base : {"ADA", "ATOM", "AVAX", "BTC", "DOT", "LINK", "LUNA", "MATIC", "NEAR",
                           "SAND", "SOL", "TRX", "XRP"})
    all.push_back(series(base));
  ml::AssetGraphOptions ao;
  auto ag = ml::build_asset_graph(all, ao);
  ASSERT_TRUE(ag.ok()) << ag.error();
  LabelledGraph assets;
  assets.graph = std::move(*ag);
  assets.vol_horizon = 12;
  ml::asset_labels(all, ao, assets.graph.num_nodes(), ml::kDefaultFlatBand, 12, &assets.direction,
                   &assets.volatility);
  const auto adir = root() / "assets_full";
  ASSERT_TRUE(ml::export_labelled_graph(assets, adir).ok());
  for (auto kind : {gnn::LayerKind::kGcn, gnn::LayerKind::kSage})
    run(adir.string(), kind, Task::kDirection);
}

}  // namespace
}  // namespace sf::ml::train
