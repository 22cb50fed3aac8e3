#include "ml/graph/graph_store.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <unordered_map>

namespace sf::ml {

Result<void, std::string> write_labels_csv(const std::filesystem::path& dir, const Graph& graph,
                                           const std::vector<std::int8_t>& direction,
                                           const std::vector<double>& volatility, int vol_horizon) {
  std::ofstream out(dir / "labels.csv");
  out << "node,open_time,direction,volatility_next_" << vol_horizon << "\n";
  char buf[64];
  for (std::size_t i = 0; i < graph.num_nodes(); ++i) {
    const double v = i < volatility.size() ? volatility[i] : std::nan("");
    std::snprintf(buf, sizeof buf, "%.17g", v);
    out << i << ',' << graph.node_time[i] << ','
        << (i < direction.size() ? static_cast<int>(direction[i]) : -1) << ','
        << (std::isnan(v) ? "" : buf) << '\n';
  }
  if (!out) return unexpected("cannot write " + (dir / "labels.csv").string());
  return {};
}

Result<void, std::string> export_labelled_graph(const LabelledGraph& d,
                                                const std::filesystem::path& dir) {
  if (auto r = export_graph(d.graph, dir); !r) return r;
  std::vector<std::int8_t> direction(d.direction.begin(), d.direction.end());
  return write_labels_csv(dir, d.graph, direction, d.volatility, d.vol_horizon);
}

GraphRecord to_graph_record(const LabelledGraph& labelled, std::string name, double created_at) {
  Graph g = labelled.graph;  // meta gets vol_horizon; the caller's graph is left alone
  bool has_horizon = false;
  for (auto& [k, v] : g.params)
    if (k == "vol_horizon") {
      v = labelled.vol_horizon;
      has_horizon = true;
    }
  if (!has_horizon) g.params.emplace_back("vol_horizon", labelled.vol_horizon);

  GraphRecord r;
  r.name = std::move(name);
  r.kind = g.kind;
  r.interval = g.interval;
  r.meta = meta_json(g);
  r.created_at = created_at;
  const std::size_t n = g.num_nodes(), f = g.num_features();
  r.nodes.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    GraphNodeRecord node;
    node.node_id = g.node_id[i];
    node.time = g.node_time[i];
    const auto s = g.node_symbol[i];
    if (s >= 0 && static_cast<std::size_t>(s) < g.symbols.size()) node.symbol = g.symbols[s];
    node.features.assign(g.features.begin() + static_cast<std::ptrdiff_t>(i * f),
                         g.features.begin() + static_cast<std::ptrdiff_t>((i + 1) * f));
    if (i < labelled.direction.size()) node.direction = labelled.direction[i];
    if (i < labelled.volatility.size() && !std::isnan(labelled.volatility[i]))
      node.volatility = labelled.volatility[i];
    r.nodes.push_back(std::move(node));
  }
  r.edges.reserve(g.edges.size());
  for (const Edge& e : g.edges)
    r.edges.push_back({.src = g.node_id[static_cast<std::size_t>(e.src)],
                       .dst = g.node_id[static_cast<std::size_t>(e.dst)],
                       .weight = e.weight,
                       .kind = to_string(e.kind)});
  return r;
}

Result<LabelledGraph, std::string> from_graph_record(const GraphRecord& record) {
  LabelledGraph out;
  Graph& g = out.graph;
  if (auto r = parse_meta_json(record.meta, &g); !r)
    return unexpected("graph " + record.name + " meta: " + r.error());
  out.vol_horizon = static_cast<int>(g.param("vol_horizon", 0));
  const std::size_t n = record.nodes.size(), f = g.num_features();
  std::unordered_map<std::int64_t, std::int64_t> position;
  position.reserve(n);
  g.features.reserve(n * f);
  out.direction.reserve(n);
  out.volatility.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const GraphNodeRecord& node = record.nodes[i];
    if (node.features.size() != f)
      return unexpected("graph " + record.name + ": node " + std::to_string(node.node_id) +
                        " has " + std::to_string(node.features.size()) + " features, meta names " +
                        std::to_string(f));
    position[node.node_id] = static_cast<std::int64_t>(i);
    g.node_id.push_back(node.node_id);
    g.node_time.push_back(node.time);
    std::int32_t sym = -1;
    for (std::size_t s = 0; s < g.symbols.size(); ++s)
      if (g.symbols[s] == node.symbol) sym = static_cast<std::int32_t>(s);
    g.node_symbol.push_back(sym);
    g.features.insert(g.features.end(), node.features.begin(), node.features.end());
    out.direction.push_back(node.direction);
    out.volatility.push_back(node.volatility.value_or(std::numeric_limits<double>::quiet_NaN()));
  }
  g.edges.reserve(record.edges.size());
  for (const GraphEdgeRecord& e : record.edges) {
    Edge edge;
    auto src = position.find(e.src), dst = position.find(e.dst);
    if (src == position.end() || dst == position.end() || !parse_edge_kind(e.kind, &edge.kind))
      return unexpected("graph " + record.name + ": edge " + std::to_string(e.src) + " -> " +
                        std::to_string(e.dst) + " (" + e.kind + ") is not valid");
    edge.src = src->second;
    edge.dst = dst->second;
    edge.weight = e.weight;
    g.edges.push_back(edge);
  }
  return out;
}

}  // namespace sf::ml
