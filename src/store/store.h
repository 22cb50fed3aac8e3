// The store interface. Implementations: SQLite (store/sqlite_store.h, the embedded default) and
// PostgreSQL (issue 3). Writes are idempotent batched upserts keyed by natural keys, so replaying a
// batch (at-least-once delivery, a crash before commit) never duplicates a row.
//
// Natural keys:
//   trades            (symbol, trade_id)
//   agg_trades        (symbol, agg_trade_id)
//   candles           (symbol, interval, open_time)
//   depth_snapshots   (symbol, last_update_id)
//   indicators        (symbol, interval, name, open_time)
//   telemetry         (queue_id, producer, timestamp, status)
//   workflows         (queue_id)
//   graphs            (name), with graph_nodes / graph_edges keyed by (graph, position)
// An upsert of an existing key replaces the row (a candle that was open when first written is
// replaced by its closed version).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/events.h"
#include "core/result.h"
#include "store/records.h"

namespace sf::store {

// Errors at the store boundary.
enum class StoreErrc : std::uint8_t {
  kOpen,       // cannot open/connect
  kMigration,  // schema migration failed or the database is newer than this build
  kWrite,      // a write or its transaction failed (nothing of the batch was written)
  kRead,       // a query failed
  kCorrupt,    // a stored value could not be decoded
  kConfig,     // bad store URL
};

struct StoreError {
  StoreErrc code;
  std::string message;
};

const char* to_string(StoreErrc e);

template <class T>
using StoreResult = Result<T, StoreError>;

// Half-open time range [from, to) in microseconds.
struct TimeRange {
  TimestampUs from = 0;
  TimestampUs to = INT64_MAX;
};

class Store {
 public:
  virtual ~Store() = default;

  // Each upsert writes the whole batch in one transaction (all or nothing) and returns the number
  // of records in the batch.
  virtual StoreResult<std::size_t> upsert_trades(std::span<const Trade> batch) = 0;
  virtual StoreResult<std::size_t> upsert_agg_trades(std::span<const AggTrade> batch) = 0;
  virtual StoreResult<std::size_t> upsert_candles(std::span<const Candle> batch) = 0;
  virtual StoreResult<std::size_t> upsert_depth_snapshots(std::span<const DepthSnapshot> batch) = 0;
  virtual StoreResult<std::size_t> upsert_indicators(std::span<const IndicatorValue> batch) = 0;
  virtual StoreResult<std::size_t> append_telemetry(std::span<const TelemetryEvent> batch) = 0;
  virtual StoreResult<void> upsert_workflow(const WorkflowState& state) = 0;

  // Range queries, ordered by natural key (time, then id).
  virtual StoreResult<std::vector<Trade>> trades(const Symbol& symbol, TimeRange range) = 0;
  virtual StoreResult<std::vector<AggTrade>> agg_trades(const Symbol& symbol, TimeRange range) = 0;
  virtual StoreResult<std::vector<Candle>> candles(const Symbol& symbol, Interval interval,
                                                   TimeRange range) = 0;
  // Snapshots whose last_update_id is in [from_id, to_id].
  virtual StoreResult<std::vector<DepthSnapshot>> depth_snapshots(const Symbol& symbol,
                                                                  std::int64_t from_id,
                                                                  std::int64_t to_id) = 0;
  virtual StoreResult<std::vector<IndicatorValue>> indicators(const Symbol& symbol,
                                                              Interval interval,
                                                              const std::string& name,
                                                              TimeRange range) = 0;
  // Telemetry of one queue in timestamp order.
  virtual StoreResult<std::vector<TelemetryEvent>> telemetry(const std::string& queue_id) = 0;
  virtual StoreResult<std::optional<WorkflowState>> workflow(const std::string& queue_id) = 0;
  virtual StoreResult<std::vector<WorkflowState>> workflows() = 0;
  // Whether any market record of `symbol` (trade, aggregate trade, candle, depth snapshot,
  // indicator) is stored: an index probe per table, for telling an unknown symbol from a quiet
  // range. Backends without it answer nullopt ("cannot tell").
  virtual StoreResult<std::optional<bool>> has_symbol(const Symbol& /*symbol*/) {
    return std::optional<bool>();
  }

  // Graphs (records.h GraphRecord). replace_graph writes the whole graph (metadata, nodes, edges)
  // in one transaction, replacing any graph of that name entirely (kConfig on an invalid name).
  // graph() returns nodes and edges in the order written; graphs() lists every graph's metadata
  // and counts without nodes and edges, ordered by name.
  virtual StoreResult<void> replace_graph(const GraphRecord& graph) = 0;
  virtual StoreResult<std::optional<GraphRecord>> graph(const std::string& name) = 0;
  virtual StoreResult<std::vector<GraphRecord>> graphs() = 0;

  // The schema version the database is at after migrations.
  virtual StoreResult<int> schema_version() = 0;
  // "sqlite", "postgres" or "arango".
  virtual std::string_view kind() const = 0;
};

// The checks every backend runs before replace_graph writes anything: a valid name, unique node
// ids, one feature count for all nodes, finite features, volatilities and weights (JSON, and so
// SQLite's and ArangoDB's encodings, has no NaN or infinity), direction in -1..2, edge kinds
// temporal | similarity | correlation and edge ends that are nodes of the graph. kConfig naming the
// first problem.
StoreResult<void> check_graph(const GraphRecord& graph);

// Opens a store from a URL: "sqlite:PATH" (PATH may be ":memory:"). Creates parent directories
// and applies migrations; or a PostgreSQL URL, "postgres://user:pass@host:port/db" (also
// "postgresql://..."), with the same semantics (src/store/postgres_store.h).
StoreResult<std::unique_ptr<Store>> open_store(const std::string& url);

// A store URL fit for logs and terminals: any password replaced by "***".
std::string redact_store_url(const std::string& url);

}  // namespace sf::store
