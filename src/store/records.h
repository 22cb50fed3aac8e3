// Records the store keeps besides market events: indicator values (core/indicator_value.h),
// telemetry and workflow state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/indicator_value.h"
#include "core/interval.h"
#include "core/symbol.h"
#include "core/time.h"

namespace sf {

// The control/telemetry protocol's event, as published on `queue-events`.
// Natural key in the store: (queue_id, producer, timestamp, status).
struct TelemetryEvent {
  std::string queue_id;
  std::string producer;  // telemetry id, e.g. "dummy-service__a1b2c3"
  std::string symbol;
  std::string type;
  std::string status;  // started | loading | finished | interrupted | error | pong
  std::string message;
  std::int64_t records_written = 0;
  bool finished = false;
  double timestamp = 0;      // unix seconds
  std::string extra = "{}";  // a JSON object
};

// A workflow's persisted state. Natural key: queue_id.
struct WorkflowState {
  std::string queue_id;
  std::string status;      // pending | running | finished | failed | interrupted
  std::string definition;  // JSON
  double created_at = 0;
  double updated_at = 0;
};

// A market graph as the store keeps it (docs/graphs.md, "In the store"): graph-builder writes it,
// gnn-trainer and gnn-infer read it. The store does not interpret features or metadata; the
// ml::Graph <-> GraphRecord conversion lives in ml/graph/graph_store.h.
// Natural keys: graphs (name); graph_nodes (graph, idx); graph_edges (graph, idx). Rows keep
// their position (idx) because edge order decides the floating-point summation order in the GNN
// layers, so a graph read back trains bit-identically to the one written.
struct GraphNodeRecord {
  std::int64_t node_id = 0;
  TimestampUs time = 0;  // open time (µs) of the node's last candle
  std::string symbol;
  std::vector<float> features;  // normalised, in the order of meta's feature_names
  // Labels (next-candle direction 0 DOWN / 1 FLAT / 2 UP, -1 unknown; realized volatility of
  // the next N candles, N in meta's params.vol_horizon; nullopt unknown).
  std::int32_t direction = -1;
  std::optional<double> volatility;
  friend bool operator==(const GraphNodeRecord&, const GraphNodeRecord&) = default;
};

struct GraphEdgeRecord {
  std::int64_t src = 0;  // node_id of the source
  std::int64_t dst = 0;
  float weight = 0;
  std::string kind;  // temporal | similarity | correlation
  friend bool operator==(const GraphEdgeRecord&, const GraphEdgeRecord&) = default;
};

struct GraphRecord {
  std::string name;             // [A-Za-z][A-Za-z0-9_-]*, at most 200 chars (ArangoDB
                                // collection rules: <name>_nodes stays under 256 bytes)
  std::string kind;             // candles | assets
  std::string interval;         // "5m"
  std::string meta = "{}";      // JSON object: ml::meta_json() (feature names, normalisation, span)
  double created_at = 0;        // unix seconds
  std::int64_t node_count = 0;  // filled in by the store on read
  std::int64_t edge_count = 0;
  std::vector<GraphNodeRecord> nodes;  // empty in Store::graphs() listings
  std::vector<GraphEdgeRecord> edges;
};

// True when `name` is a valid graph name (see GraphRecord::name).
bool valid_graph_name(std::string_view name);

}  // namespace sf
