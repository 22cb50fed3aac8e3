#include "ml/graph/graph.h"

#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>
#include <system_error>

#include "runtime/json_writer.h"

namespace sf::ml {

const char* to_string(EdgeKind k) {
  switch (k) {
    case EdgeKind::kTemporal:
      return "temporal";
    case EdgeKind::kSimilarity:
      return "similarity";
    case EdgeKind::kCorrelation:
      return "correlation";
  }
  return "?";
}

bool parse_edge_kind(std::string_view text, EdgeKind* out) {
  for (EdgeKind k : {EdgeKind::kTemporal, EdgeKind::kSimilarity, EdgeKind::kCorrelation}) {
    if (text == to_string(k)) {
      *out = k;
      return true;
    }
  }
  return false;
}

std::size_t Graph::count_edges(EdgeKind k) const {
  std::size_t n = 0;
  for (const Edge& e : edges) n += e.kind == k;
  return n;
}

double Graph::param(std::string_view name, double fallback) const {
  for (const auto& [k, v] : params)
    if (k == name) return v;
  return fallback;
}

void fit_zscore(const std::vector<double>& raw, std::size_t cols, std::size_t train_rows,
                std::vector<double>* mean, std::vector<double>* std) {
  mean->assign(cols, 0.0);
  std->assign(cols, 1.0);
  for (std::size_t j = 0; j < cols; ++j) {
    double sum = 0;
    std::size_t n = 0;
    for (std::size_t i = 0; i < train_rows; ++i) {
      const double x = raw[i * cols + j];
      if (!std::isfinite(x)) continue;
      sum += x;
      ++n;
    }
    if (n == 0) continue;
    const double m = sum / static_cast<double>(n);
    double ss = 0;
    for (std::size_t i = 0; i < train_rows; ++i) {
      const double x = raw[i * cols + j];
      if (!!std::isfinite(x)) ss += (x - m) * (x - m);
    }
    (*mean)[j] = m;
    const double sd = std::sqrt(ss / static_cast<double>(n));
    if (n >= 2 && sd >= 1e-12) (*std)[j] = sd;
  }
}

std::vector<float> apply_zscore(const std::vector<double>& raw, std::size_t cols,
                                const std::vector<double>& mean, const std::vector<double>& std) {
  std::vector<float> out(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const std::size_t j = i % cols;
    const double x = raw[i];
    // Undefined (NaN) and non-finite values become 0, the training mean: a feature is always a
    // finite float, as the store requires.
    const float z = static_cast<float>((x - mean[j]) / std[j]);
    out[i] = std::isfinite(x) && std::isfinite(z) ? z : 0.0f;
  }
  return out;
}

namespace {

void append_float(std::string& out, float v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

template <class T>
void append_int(std::string& out, T v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

Result<void, std::string> write_file(const std::filesystem::path& p, const std::string& text) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  if (!f) return unexpected("cannot open " + p.string() + " for writing");
  f.write(text.data(), static_cast<std::streamsize>(text.size()));
  f.close();
  if (!f) return unexpected("cannot write " + p.string());
  return {};
}

Result<std::string, std::string> read_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) return unexpected("cannot open " + p.string());
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::string_view> split_csv(std::string_view line) {
  std::vector<std::string_view> cells;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = line.find(',', start);
    if (comma == std::string_view::npos) {
      cells.push_back(line.substr(start));
      return cells;
    }
    cells.push_back(line.substr(start, comma - start));
    start = comma + 1;
  }
}

template <class T>
bool parse_num(std::string_view s, T* out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

}  // namespace

std::string meta_json(const Graph& g) {
  runtime::JsonWriter w;
  w.begin_object();
  w.field("format", "streamforge-graph/1");
  w.field("kind", g.kind).field("interval", g.interval);
  w.key("symbols").begin_array();
  for (const auto& s : g.symbols) w.value(s);
  w.end_array();
  w.key("feature_names").begin_array();
  for (const auto& s : g.feature_names) w.value(s);
  w.end_array();
  w.key("normalisation").begin_object().field("method", "zscore");
  w.key("mean").begin_array();
  for (double v : g.norm_mean) w.value(v);
  w.end_array().key("std").begin_array();
  for (double v : g.norm_std) w.value(v);
  w.end_array().end_object();
  w.key("span").begin_object();
  w.field("start_us", g.node_time.empty() ? std::int64_t{0} : g.node_time.front());
  w.field("end_us", g.node_time.empty() ? std::int64_t{0} : g.node_time.back());
  w.field("train_nodes", static_cast<std::uint64_t>(g.train_nodes));
  w.field("train_end_us", static_cast<std::int64_t>(g.train_end_time));
  w.field("warmup_nodes", static_cast<std::uint64_t>(g.warmup_nodes));
  w.end_object();
  w.key("counts").begin_object();
  w.field("nodes", static_cast<std::uint64_t>(g.num_nodes()));
  w.field("edges", static_cast<std::uint64_t>(g.edges.size()));
  w.field("features", static_cast<std::uint64_t>(g.num_features()));
  w.key("edges_by_kind").begin_object();
  for (EdgeKind k : {EdgeKind::kTemporal, EdgeKind::kSimilarity, EdgeKind::kCorrelation})
    w.field(to_string(k), static_cast<std::uint64_t>(g.count_edges(k)));
  w.end_object().end_object();
  w.key("params").begin_object();
  for (const auto& [k, v] : g.params) w.field(k, v);
  w.end_object();
  w.end_object();
  return std::string(w.view());
}

Result<void, std::string> export_graph(const Graph& g, const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return unexpected("cannot create " + dir.string() + ": " + ec.message());
  const std::size_t f = g.num_features();
  if (g.features.size() != g.num_nodes() * f || g.node_time.size() != g.num_nodes() ||
      g.node_symbol.size() != g.num_nodes())
    return unexpected(std::string("inconsistent graph: node arrays differ in size"));

  std::string nodes = "node_id,time_us,symbol";
  for (const auto& name : g.feature_names) nodes += "," + name;
  nodes += '\n';
  nodes.reserve(nodes.size() + g.num_nodes() * (40 + 12 * f));
  for (std::size_t i = 0; i < g.num_nodes(); ++i) {
    append_int(nodes, g.node_id[i]);
    nodes += ',';
    append_int(nodes, g.node_time[i]);
    nodes += ',';
    const auto s = g.node_symbol[i];
    if (s >= 0 && static_cast<std::size_t>(s) < g.symbols.size()) nodes += g.symbols[s];
    for (std::size_t j = 0; j < f; ++j) {
      nodes += ',';
      append_float(nodes, g.features[i * f + j]);
    }
    nodes += '\n';
  }
  if (auto r = write_file(dir / "nodes.csv", nodes); !r) return r;

  std::string edges = "src,dst,weight,kind\n";
  edges.reserve(edges.size() + g.edges.size() * 32);
  for (const Edge& e : g.edges) {
    append_int(edges, e.src);
    edges += ',';
    append_int(edges, e.dst);
    edges += ',';
    append_float(edges, e.weight);
    edges += ',';
    edges += to_string(e.kind);
    edges += '\n';
  }
  if (auto r = write_file(dir / "edges.csv", edges); !r) return r;
  return write_file(dir / "meta.json", meta_json(g) + "\n");
}

Result<void, std::string> parse_meta_json(std::string_view json, Graph* out) {
  Graph& g = *out;
  try {
    simdjson::dom::parser parser;
    simdjson::dom::element meta = parser.parse(simdjson::padded_string(json));
    g.kind = std::string(std::string_view(meta["kind"]));
    g.interval = std::string(std::string_view(meta["interval"]));
    for (auto s : meta["symbols"].get_array()) g.symbols.emplace_back(std::string_view(s));
    for (auto s : meta["feature_names"].get_array())
      g.feature_names.emplace_back(std::string_view(s));
    for (auto v : meta["normalisation"]["mean"].get_array()) g.norm_mean.push_back(double(v));
    for (auto v : meta["normalisation"]["std"].get_array()) g.norm_std.push_back(double(v));
    auto span = meta["span"];
    g.train_nodes = static_cast<std::size_t>(std::uint64_t(span["train_nodes"]));
    g.train_end_time = std::int64_t(span["train_end_us"]);
    g.warmup_nodes = static_cast<std::size_t>(std::uint64_t(span["warmup_nodes"]));
    for (auto [k, v] : meta["params"].get_object())
      g.params.emplace_back(std::string(k), double(v));
  } catch (const simdjson::simdjson_error& e) {
    return unexpected(std::string(e.what()));
  }
  return {};
}

Result<Graph, std::string> import_graph(const std::filesystem::path& dir) {
  Graph g;
  auto meta_text = read_file(dir / "meta.json");
  if (!meta_text) return unexpected(meta_text.error());
  if (auto r = parse_meta_json(*meta_text, &g); !r) return unexpected("meta.json: " + r.error());

  auto nodes_text = read_file(dir / "nodes.csv");
  if (!nodes_text) return unexpected(nodes_text.error());
  std::string_view rest = *nodes_text;
  auto next_line = [&rest](std::string_view* line) {
    if (rest.empty()) return false;
    const std::size_t nl = rest.find('\n');
    *line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    return true;
  };
  std::string_view line;
  if (!next_line(&line)) return unexpected(std::string("nodes.csv: empty"));
  const std::size_t f = g.feature_names.size();
  if (split_csv(line).size() != 3 + f)
    return unexpected(std::string("nodes.csv: header does not match meta.json feature_names"));
  std::size_t row = 1;
  while (next_line(&line)) {
    ++row;
    if (line.empty()) continue;
    auto cells = split_csv(line);
    std::int64_t id = 0, t = 0;
    if (cells.size() != 3 + f || !parse_num(cells[0], &id) || !parse_num(cells[1], &t))
      return unexpected("nodes.csv line " + std::to_string(row) + ": malformed");
    g.node_id.push_back(id);
    g.node_time.push_back(t);
    std::int32_t sym = -1;
    for (std::size_t s = 0; s < g.symbols.size(); ++s)
      if (g.symbols[s] == cells[2]) sym = static_cast<std::int32_t>(s);
    g.node_symbol.push_back(sym);
    for (std::size_t j = 0; j < f; ++j) {
      float v = 0;
      if (!parse_num(cells[3 + j], &v))
        return unexpected("nodes.csv line " + std::to_string(row) + ": bad feature");
      g.features.push_back(v);
    }
  }

  auto edges_text = read_file(dir / "edges.csv");
  if (!edges_text) return unexpected(edges_text.error());
  rest = *edges_text;
  if (!next_line(&line)) return unexpected(std::string("edges.csv: empty"));
  row = 1;
  while (next_line(&line)) {
    ++row;
    if (line.empty()) continue;
    auto cells = split_csv(line);
    Edge e;
    if (cells.size() != 4 || !parse_num(cells[0], &e.src) || !parse_num(cells[1], &e.dst) ||
        !parse_num(cells[2], &e.weight) || !parse_edge_kind(cells[3], &e.kind))
      return unexpected("edges.csv line " + std::to_string(row) + ": malformed");
    g.edges.push_back(e);
  }
  return g;
}

}  // namespace sf::ml
