#include "services/visualizer/models_api.h"

// GCC 12 reports a false -Wrestrict on std::string concatenation at -O3 (GCC bug 105329).
#pragma GCC diagnostic ignored "-Wrestrict"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <vector>

#include "core/interval.h"
#include "core/symbol.h"
#include "ml/graph/candle_graph.h"
#include "runtime/json_writer.h"
#include "services/visualizer/history_api.h"

namespace sf::services::visualizer {
namespace {

namespace fs = std::filesystem;

constexpr std::uintmax_t kMaxMetricsBytes = 16 << 20;

// v<N> -> N; -1 for anything else.
int version_number(const std::string& name) {
  if (name.size() < 2 || name[0] != 'v') return -1;
  int n = 0;
  auto [p, ec] = std::from_chars(name.data() + 1, name.data() + name.size(), n);
  return ec == std::errc() && p == name.data() + name.size() ? n : -1;
}

// A file's text; empty when missing, unreadable or over kMaxMetricsBytes.
std::string read_small_file(const fs::path& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec || size > kMaxMetricsBytes) return {};
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A model's version directories (v<N>), newest first.
std::vector<fs::path> model_versions(const fs::path& model) {
  std::error_code ec;
  std::vector<std::pair<int, fs::path>> versions;
  for (const auto& e : fs::directory_iterator(model, ec))
    if (int n = version_number(e.path().filename().string()); n >= 0 && e.is_directory(ec))
      versions.emplace_back(n, e.path());
  std::sort(versions.begin(), versions.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<fs::path> out;
  for (auto& [n, dir] : versions) out.push_back(std::move(dir));
  return out;
}

runtime::HttpResponse models(const std::string& model_dir) {
  std::string out;
  runtime::JsonWriter j(out);
  j.begin_object().key("models").begin_array();
  std::error_code ec;
  std::vector<fs::path> names;
  for (const auto& e : fs::directory_iterator(model_dir, ec))
    if (e.is_directory(ec)) names.push_back(e.path());
  std::sort(names.begin(), names.end());
  simdjson::dom::parser parser;
  for (const auto& dir : names) {
    for (const auto& vdir : model_versions(dir)) {
      j.begin_object()
          .field("name", dir.filename().string())
          .field("version", vdir.filename().string());
      const std::string text = read_small_file(vdir / "metrics.json");
      // Only a JSON object goes into the answer as it is: a file being written, or anything
      // else, must not break the document.
      simdjson::dom::element doc;
      if (text.empty()) {
        j.field("error", "no metrics.json");
      } else if (parser.parse(text).get(doc) || !doc.is_object()) {
        j.field("error", "metrics.json is not a JSON object");
      } else {
        j.field_raw("metrics", simdjson::minify(doc));
      }
      j.end_object();
    }
  }
  j.end_array().end_object();
  return runtime::HttpResponse::json(200, out);
}

runtime::HttpResponse graphs(store::Store& store) {
  auto list = store.graphs();
  if (!list) return runtime::HttpResponse::error(500, "store read failed: " + list.error().message);
  std::string out;
  runtime::JsonWriter j(out);
  j.begin_object().key("graphs").begin_array();
  for (const auto& g : *list)
    j.begin_object()
        .field("name", g.name)
        .field("kind", g.kind)
        .field("interval", g.interval)
        .field("created_at", g.created_at)
        .field("nodes", g.node_count)
        .field("edges", g.edge_count)
        .end_object();
  j.end_array().end_object();
  return runtime::HttpResponse::json(200, out);
}

runtime::HttpResponse graph_snapshot(store::Store& store, const runtime::HttpRequest& r) {
  const std::string& name = r.path_params.at("name");
  if (!valid_graph_name(name)) return runtime::HttpResponse::error(400, "not a graph name");
  std::optional<TimestampUs> at;
  if (auto t = r.query_param("time")) {
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(t->data(), t->data() + t->size(), v);
    if (ec != std::errc() || p != t->data() + t->size() || v < 0)
      return runtime::HttpResponse::error(400, "time: unix microseconds");
    at = v;
  }
  auto g = store.graph(name);
  if (!g) return runtime::HttpResponse::error(500, "store read failed: " + g.error().message);
  if (!*g) return runtime::HttpResponse::json(404, R"({"error":"no such graph"})");
  // The slice: the newest node time (at or before `at`).
  TimestampUs time = -1;
  for (const auto& n : (*g)->nodes)
    if ((!at || n.time <= *at) && n.time > time) time = n.time;
  std::set<std::int64_t> ids;
  std::string out;
  runtime::JsonWriter j(out);
  j.begin_object()
      .field("name", (*g)->name)
      .field("kind", (*g)->kind)
      .field("interval", (*g)->interval)
      .field("time", static_cast<std::int64_t>(time));
  j.key("nodes").begin_array();
  for (const auto& n : (*g)->nodes) {
    if (n.time != time) continue;
    ids.insert(n.node_id);
    j.begin_object()
        .field("node_id", n.node_id)
        .field("symbol", n.symbol)
        .field("direction", static_cast<std::int64_t>(n.direction));
    if (n.volatility)
      j.field("volatility", *n.volatility);
    else
      j.field_null("volatility");
    j.end_object();
  }
  j.end_array().key("edges").begin_array();
  for (const auto& e : (*g)->edges) {
    if (!ids.count(e.src) || !ids.count(e.dst)) continue;
    j.begin_object()
        .field("src", e.src)
        .field("dst", e.dst)
        .field("weight", static_cast<double>(e.weight))
        .field("kind", e.kind)
        .end_object();
  }
  j.end_array().end_object();
  return runtime::HttpResponse::json(200, out);
}

// What a model version says about the data it predicts: from its meta.json (the training
// graph's: interval, symbols, params.flat_band, params.vol_horizon).
struct ModelData {
  std::string interval;
  std::string symbol;
  double flat_band = ml::kDefaultFlatBand;
  int vol_horizon = 12;  // graph-builder's VOL_HORIZON default
};

ModelData model_data(const fs::path& version_dir) {
  ModelData d;
  simdjson::dom::parser parser;
  simdjson::dom::element meta;
  if (parser.parse(read_small_file(version_dir / "meta.json")).get(meta)) return d;
  std::string_view text;
  if (!meta["interval"].get_string().get(text)) d.interval = std::string(text);
  simdjson::dom::array symbols;
  if (!meta["symbols"].get_array().get(symbols) && symbols.size() > 0 &&
      !symbols.at(0).get_string().get(text))
    d.symbol = std::string(text);
  double v = 0;
  if (!meta["params"]["flat_band"].get_double().get(v) && v >= 0) d.flat_band = v;
  if (!meta["params"]["vol_horizon"].get_double().get(v) && v >= 2 && v <= 10'000)
    d.vol_horizon = static_cast<int>(v);
  return d;
}

// GET /api/v1/models/{name}/predictions[?symbol=S][&interval=I][&from=MS][&to=MS][&limit=N]:
// gnn-infer's stored predictions of model `name` (indicator rows gnn_<name>_p_down/_p_flat/_p_up,
// or gnn_<name>_volatility) next to what then happened, from the stored candles and with the
// model's own labelling (ml/graph/candle_graph.h: the next candle's direction with the training
// graph's flat band, or the realised volatility of the next vol_horizon candles). Symbol and
// interval default to the model's training graph.
runtime::HttpResponse predictions(store::Store& store, const std::string& model_dir,
                                  const runtime::HttpRequest& r) {
  const std::string& name = r.path_params.at("name");
  if (!valid_graph_name(name)) return runtime::HttpResponse::error(400, "not a model name");
  const auto versions = model_versions(fs::path(model_dir) / name);
  if (versions.empty()) return runtime::HttpResponse::json(404, R"({"error":"no such model"})");
  // The newest version that says what it predicts (one being written has no meta.json yet).
  ModelData d;
  for (const auto& vdir : versions)
    if (d = model_data(vdir); !d.interval.empty()) break;

  for (const auto& [k, v] : r.query)
    if (k != "symbol" && k != "interval" && k != "from" && k != "to" && k != "limit")
      return runtime::HttpResponse::error(400, k + ": unknown query parameter");
  if ((!r.query_param("symbol") && d.symbol.empty()) ||
      (!r.query_param("interval") && d.interval.empty())) {
    // Nothing to look up (no meta.json, or one without them): an empty answer that says why.
    return runtime::HttpResponse::json(
        200,
        R"({"model":")" + name +
            R"(","predictions":[],"scored":0,"note":"the model's meta.json names no symbol or interval: pass symbol and interval"})");
  }
  const auto symbol = Symbol::parse(r.query_param("symbol").value_or(d.symbol));
  if (!symbol) return runtime::HttpResponse::error(400, "symbol: not a symbol");
  const auto interval = parse_interval(r.query_param("interval").value_or(d.interval));
  if (!interval || interval_micros(*interval) <= 0)
    return runtime::HttpResponse::error(400, "interval: required, e.g. 5m (not 1M)");
  // Milliseconds that still fit in microseconds.
  constexpr std::int64_t kMaxMs = std::numeric_limits<std::int64_t>::max() / 1000;
  const auto from_ms = int_param(r, "from", 0, 0, kMaxMs);
  const auto to_ms = int_param(r, "to", kMaxMs, 0, kMaxMs);
  const auto limit = int_param(r, "limit", 500, 0, kMaxMs);
  if (!from_ms || !to_ms || *from_ms >= *to_ms)
    return runtime::HttpResponse::error(400, "from, to: unix milliseconds, from before to");
  if (!limit || *limit < 1 || *limit > 5000)
    return runtime::HttpResponse::error(400, "limit: an integer in 1..5000");
  const store::TimeRange range{*from_ms * 1000, *to_ms * 1000};

  const std::string prefix = "gnn_" + name + "_";
  auto read = [&](const char* what) {
    return store.indicators(*symbol, *interval, prefix + what, range);
  };
  auto up = read("p_up");
  if (!up) return runtime::HttpResponse::error(500, "store read failed: " + up.error().message);
  const bool direction = !up->empty();
  std::vector<IndicatorValue> down, flat, vol;
  if (direction) {
    auto d0 = read("p_down");
    auto d1 = read("p_flat");
    if (!d0 || !d1) return runtime::HttpResponse::error(500, "store read failed");
    down = std::move(*d0);
    flat = std::move(*d1);
  } else {
    auto v = read("volatility");
    if (!v) return runtime::HttpResponse::error(500, "store read failed: " + v.error().message);
    vol = std::move(*v);
  }
  const std::vector<IndicatorValue>& main = direction ? *up : vol;
  const std::size_t first =
      main.size() > static_cast<std::size_t>(*limit) ? main.size() - *limit : 0;

  // The candles that decide the outcomes: from the first prediction to the horizon after the last.
  const std::int64_t step = interval_micros(*interval);
  std::map<TimestampUs, Candle> candles;
  if (first < main.size()) {
    const int ahead = direction ? 1 : d.vol_horizon;
    auto rows = store.candles(*symbol, *interval,
                              {main[first].open_time, main.back().open_time + (ahead + 1) * step});
    if (!rows)
      return runtime::HttpResponse::error(500, "store read failed: " + rows.error().message);
    for (auto& c : *rows)
      if (c.is_closed) candles.emplace(c.open_time, std::move(c));
  }
  // The candle at `t` and the `n` after it, when all are stored and closed.
  auto run_from = [&](TimestampUs t, int n) -> std::vector<Candle> {
    std::vector<Candle> run;
    for (int k = 0; k <= n; ++k) {
      const auto it = candles.find(t + k * step);
      if (it == candles.end()) return {};
      run.push_back(it->second);
    }
    return run;
  };
  // The value of series `v` (time order) at `t`; none where it has no finite one.
  auto value_at = [](const std::vector<IndicatorValue>& v, TimestampUs t) -> std::optional<double> {
    const auto it =
        std::lower_bound(v.begin(), v.end(), t,
                         [](const IndicatorValue& x, TimestampUs at) { return x.open_time < at; });
    if (it == v.end() || it->open_time != t || !std::isfinite(it->value)) return std::nullopt;
    return it->value;
  };

  std::string out;
  runtime::JsonWriter j(out);
  j.begin_object()
      .field("model", name)
      .field("symbol", symbol->view())
      .field("interval", interval_name(*interval))
      .field("task", direction ? "direction" : "volatility");
  if (direction)
    j.field("flat_band", d.flat_band);
  else
    j.field("vol_horizon", static_cast<std::int64_t>(d.vol_horizon));
  std::int64_t scored = 0, hits = 0;
  double abs_error = 0;
  j.key("predictions").begin_array();
  for (std::size_t i = first; i < main.size(); ++i) {
    const TimestampUs t = main[i].open_time;
    j.begin_object().field("time", static_cast<std::int64_t>(t));
    if (direction) {
      const auto pd = value_at(down, t), pf = value_at(flat, t), pu = value_at(main, t);
      if (!pd || !pf || !pu) {
        j.field_null("predicted").field_null("actual").end_object();
        continue;
      }
      j.field("p_down", *pd).field("p_flat", *pf).field("p_up", *pu);
      const std::int64_t predicted = *pu >= *pf && *pu >= *pd ? ml::kUp
                                     : *pf >= *pd             ? ml::kFlat
                                                              : ml::kDown;
      j.field("predicted", predicted);
      const auto run = run_from(t, 1);
      const int actual =
          run.empty() ? int{ml::kUnknown} : int{ml::direction_labels(run, d.flat_band)[0]};
      if (actual == ml::kUnknown) {
        j.field_null("actual");
      } else {
        j.field("actual", static_cast<std::int64_t>(actual));
        ++scored;
        hits += predicted == actual;
      }
    } else {
      const auto predicted = value_at(main, t);
      if (!predicted) {
        j.field_null("predicted").field_null("actual").end_object();
        continue;
      }
      j.field("predicted", *predicted);
      const auto run = run_from(t, d.vol_horizon);
      const double actual =
          run.empty() ? std::nan("") : ml::volatility_labels(run, d.vol_horizon)[0];
      if (std::isnan(actual)) {
        j.field_null("actual");
      } else {
        j.field("actual", actual);
        ++scored;
        abs_error += std::abs(actual - *predicted);
      }
    }
    j.end_object();
  }
  j.end_array().field("scored", scored);
  if (direction)
    j.field("hits", hits);
  else if (scored > 0)
    j.field("mae", abs_error / static_cast<double>(scored));
  j.end_object();
  return runtime::HttpResponse::json(200, out);
}

}  // namespace

void install_models_routes(runtime::HttpServer& server, store::Store& store,
                           std::string model_dir) {
  server.route("GET", "/api/v1/models",
               [model_dir](const runtime::HttpRequest&) { return models(model_dir); });
  server.route("GET", "/api/v1/models/{name}/predictions",
               [&store, model_dir](const runtime::HttpRequest& r) {
                 return predictions(store, model_dir, r);
               });
  server.route("GET", "/api/v1/graphs",
               [&store](const runtime::HttpRequest&) { return graphs(store); });
  server.route("GET", "/api/v1/graphs/{name}/snapshot",
               [&store](const runtime::HttpRequest& r) { return graph_snapshot(store, r); });
}

}  // namespace sf::services::visualizer
