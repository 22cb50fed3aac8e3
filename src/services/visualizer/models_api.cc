#include "services/visualizer/models_api.h"

// GCC 12 reports a false -Wrestrict on std::string concatenation at -O3 (GCC bug 105329).
#pragma GCC diagnostic ignored "-Wrestrict"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <vector>

#include "runtime/json_writer.h"

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
    std::vector<std::pair<int, fs::path>> versions;
    for (const auto& e : fs::directory_iterator(dir, ec))
      if (int n = version_number(e.path().filename().string()); n >= 0 && e.is_directory(ec))
        versions.emplace_back(n, e.path());
    std::sort(versions.begin(), versions.end(),
              [](const auto& a, const auto& b) { return a.first > b.first; });
    for (const auto& [n, vdir] : versions) {
      j.begin_object()
          .field("name", dir.filename().string())
          .field("version", vdir.filename().string());
      const fs::path metrics = vdir / "metrics.json";
      const auto size = fs::file_size(metrics, ec);
      std::string text;
      if (!ec && size <= kMaxMetricsBytes) {
        std::ifstream in(metrics);
        std::stringstream ss;
        ss << in.rdbuf();
        text = ss.str();
      }
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

}  // namespace

void install_models_routes(runtime::HttpServer& server, store::Store& store,
                           std::string model_dir) {
  server.route("GET", "/api/v1/models",
               [model_dir](const runtime::HttpRequest&) { return models(model_dir); });
  server.route("GET", "/api/v1/graphs",
               [&store](const runtime::HttpRequest&) { return graphs(store); });
  server.route("GET", "/api/v1/graphs/{name}/snapshot",
               [&store](const runtime::HttpRequest& r) { return graph_snapshot(store, r); });
}

}  // namespace sf::services::visualizer
