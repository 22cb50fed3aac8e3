// The embedded SQLite store (the default backend).
//
// Storage rules: decimals are TEXT exactly as Decimal::to_string() writes them (never REAL, so they
// read back byte-identical, scale included); TimestampUs and 64-bit ids are INTEGER; optional<bool>
// is NULL/0/1; depth levels are compact JSON text [["price","qty"],...]. Telemetry and workflow
// times are the protocol's double unix seconds and stay REAL so they round-trip bit-exact. Tables
// are STRICT, so SQLite refuses a value of the wrong type instead of silently converting it.
//
// The database runs in WAL mode with synchronous=NORMAL (a crash may lose the last commits but
// never corrupts) and a busy timeout, so other processes can read while this one writes. Writes
// reuse statements prepared at open; long batches go through a multi-row INSERT of 64 rows.
//
// Thread safety: one SqliteStore owns one connection; every public method takes an internal
// mutex, so a store may be shared by several threads (calls are serialised).
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "store/store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace sf::store {

class SqliteStore final : public Store {
 public:
  // The schema version this build migrates to; a database at a higher version is refused.
  static int latest_schema_version();

  // Opens or creates the database at `path` (":memory:" for a private in-memory one) and applies
  // missing migrations. Does not create parent directories (open_store does).
  static StoreResult<std::unique_ptr<SqliteStore>> open(const std::string& path);

  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  StoreResult<std::size_t> upsert_trades(std::span<const Trade> batch) override;
  StoreResult<std::size_t> upsert_agg_trades(std::span<const AggTrade> batch) override;
  StoreResult<std::size_t> upsert_candles(std::span<const Candle> batch) override;
  StoreResult<std::size_t> upsert_depth_snapshots(std::span<const DepthSnapshot> batch) override;
  StoreResult<std::size_t> upsert_indicators(std::span<const IndicatorValue> batch) override;
  StoreResult<std::size_t> append_telemetry(std::span<const TelemetryEvent> batch) override;
  StoreResult<void> upsert_workflow(const WorkflowState& state) override;

  StoreResult<std::vector<Trade>> trades(const Symbol& symbol, TimeRange range) override;
  StoreResult<std::vector<AggTrade>> agg_trades(const Symbol& symbol, TimeRange range) override;
  StoreResult<std::vector<Candle>> candles(const Symbol& symbol, Interval interval,
                                           TimeRange range) override;
  StoreResult<std::vector<DepthSnapshot>> depth_snapshots(const Symbol& symbol,
                                                          std::int64_t from_id,
                                                          std::int64_t to_id) override;
  StoreResult<std::vector<IndicatorValue>> indicators(const Symbol& symbol, Interval interval,
                                                      const std::string& name,
                                                      TimeRange range) override;
  StoreResult<std::vector<TelemetryEvent>> telemetry(const std::string& queue_id) override;
  StoreResult<std::optional<WorkflowState>> workflow(const std::string& queue_id) override;
  StoreResult<std::vector<WorkflowState>> workflows() override;
  StoreResult<std::optional<bool>> has_symbol(const Symbol& symbol) override;

  StoreResult<void> replace_graph(const GraphRecord& graph) override;
  StoreResult<std::optional<GraphRecord>> graph(const std::string& name) override;
  StoreResult<std::vector<GraphRecord>> graphs() override;

  StoreResult<int> schema_version() override;
  std::string_view kind() const override { return "sqlite"; }

  // EXPLAIN QUERY PLAN of every read query, as (query name, plan text) pairs: lets tests and
  // operators check that reads are index lookups, not table scans or sorts.
  StoreResult<std::vector<std::pair<std::string, std::string>>> read_query_plans();

 private:
  struct StatementDeleter {
    void operator()(sqlite3_stmt* stmt) const;
  };
  using Statement = std::unique_ptr<sqlite3_stmt, StatementDeleter>;

  // An upsert prepared twice, once at open: for one row, and for a run of rows in one multi-row
  // INSERT, which spreads SQLite's per-statement cost (cursors, VDBE start) over many rows.
  struct Upsert {
    Statement one_row;
    Statement many_rows;  // null where rows are large (depth snapshots) or single (workflows)
  };

  // Prepared once at open and reused for every call.
  struct Statements {
    Statement begin, commit, rollback;
    Upsert trades, agg_trades, candles, depth_snapshots, indicators, telemetry, workflows;
    Statement select_trades, select_agg_trades, select_candles, select_depth_snapshots,
        select_indicators, select_telemetry, select_workflow, select_workflows;
    Statement select_schema_version, select_has_symbol;
  };

  explicit SqliteStore(sqlite3* db);
  StoreResult<void> configure();
  StoreResult<void> migrate();
  StoreResult<void> prepare_statements();
  StoreResult<Statement> prepare(const char* sql);

  // Binds every row with bind_row(Binder&, row) and steps, inside one transaction: all or nothing.
  template <class Row, class BindRow>
  StoreResult<std::size_t> write_batch(const Upsert& upsert, std::span<const Row> batch,
                                       BindRow bind_row);
  StoreError rollback_with(StoreErrc code, std::string message);

  std::mutex mutex_;  // guards everything below (a connection is not for concurrent use)
  sqlite3* db_;
  Statements statements_;
  // Decimal text of the rows being written, bound without a copy; allocated once at open.
  std::vector<char> decimal_text_;
};

}  // namespace sf::store
