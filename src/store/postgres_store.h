// The PostgreSQL store (libpq), with the same semantics as SqliteStore.
//
// Storage rules: decimals are NUMERIC. PostgreSQL keeps each NUMERIC value's written scale
// ('61837.63000000'::numeric prints back '61837.63000000', '0.00000000' stays '0.00000000'), so
// they round-trip byte-identical while users can still compute with them in SQL. TimestampUs and
// 64-bit ids are BIGINT, flags BOOLEAN, depth levels JSONB ([["price","qty"],...], decimals kept as
// JSON strings), indicator values and the protocol's double unix seconds DOUBLE PRECISION (read
// and written as shortest round-trip text, so they come back bit-exact, NaN included). Telemetry
// `extra` and workflow definitions stay TEXT: they come back byte-identical, which JSONB (it
// re-formats) would not guarantee.
//
// Graphs: one `graphs` row (meta JSONB) with `graph_nodes` and `graph_edges` rows keyed by
// (graph, idx), idx being the position in the written vectors; node features are REAL[] (float4
// prints as its shortest exact text, so features come back bit-identical). replace_graph is one
// transaction: it deletes the old graph (edges, then the row, whose nodes go by ON DELETE CASCADE)
// and COPYs the new rows in, under an advisory lock on the name so concurrent replacements of one
// graph follow each other. graph() reads in one REPEATABLE READ transaction.
//
// Writes: each batch is one transaction (all or nothing); any error rolls the whole batch back and
// comes back as kWrite with the server's message. Rows travel as COPY text, two ways:
//  - Append-mostly tables (trades, agg trades, depth snapshots, telemetry), where live capture
//    brings new keys: one plain COPY straight into the table, as fast as psql's \copy. If the
//    table (or the batch itself) already holds one of its keys, the COPY fails with a unique
//    violation, writes nothing, and the batch takes the merge path; so do the next few batches of
//    that table, since replays come in runs.
//  - Merge: COPY into a session-private TEMP staging table, then one INSERT ... SELECT DISTINCT ON
//    (natural key) ... ON CONFLICT (natural key) DO UPDATE. DISTINCT ON keeps the batch's last
//    row for a key (ordered by the staging table's identity column, i.e. input order), as
//    SQLite's row-by-row upsert does; without it PostgreSQL would refuse a batch that touches a
//    key twice. Candles, indicators and workflows always merge.
//
// Migrations run in one transaction under an advisory lock, so two processes opening a fresh
// schema at once do not both apply a step. Tables live in the connection's search_path schema
// (a DSN may choose it with `options=-csearch_path=NAME`).
//
// Thread safety: one PostgresStore owns one connection (a libpq connection is not for concurrent
// use); every public method takes an internal mutex, so a store may be shared by several threads
// and calls are serialised. A connection found broken at the start of a call is re-established
// (PQreset) and its session state (settings, staging tables, prepared statements) rebuilt; the
// call that saw it break fails.
//
// Messages never contain the DSN's password: DSNs are echoed with it replaced by "***", and it is
// scrubbed from anything libpq or the server says.
#pragma once

#include <array>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/store.h"

struct pg_conn;

namespace sf::store {

class PostgresStore final : public Store {
 public:
  // The schema version this build migrates to; a database at a higher version is refused.
  static int latest_schema_version();

  // Connects to `dsn` (a postgres:// or postgresql:// URL, or a libpq "key=value" string) and
  // applies missing migrations. kOpen when the server cannot be reached or refuses the login.
  static StoreResult<std::unique_ptr<PostgresStore>> open(const std::string& dsn);

  // `dsn` with its password (URL user info, `password=` parameter or key) replaced by "***".
  static std::string redact_dsn(const std::string& dsn);

  ~PostgresStore() override;
  PostgresStore(const PostgresStore&) = delete;
  PostgresStore& operator=(const PostgresStore&) = delete;

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
  std::string_view kind() const override { return "postgres"; }

  // EXPLAIN of every read query, as (query name, plan text) pairs, planned with sequential scans
  // and sorts disabled: a plan still holding a "Seq Scan" or "Sort" node means no index can serve
  // that read in order. (With them enabled the planner rightly prefers both on small tables.)
  StoreResult<std::vector<std::pair<std::string, std::string>>> read_query_plans();

 private:
  PostgresStore(pg_conn* conn, std::string redacted_dsn, std::vector<std::string> secrets);

  // Session settings; must run before the session's first use of a TEMP table.
  StoreResult<void> configure_session();
  StoreResult<void> migrate();
  // Per-connection objects over the migrated schema: TEMP staging tables, prepared statements.
  StoreResult<void> prepare_session();
  // Re-establishes a broken connection (and its session state) before a call uses it.
  StoreResult<void> ensure_connected(StoreErrc code);

  // Runs statements without parameters; an error is `code` with the server's message.
  StoreResult<void> exec(const char* sql, StoreErrc code, const std::string& what);
  // Writes a batch into table `table` (a TableId), formatting each row as COPY text with
  // format_row(CopyRow&, row): a plain COPY into the table for append-mostly tables, else (or
  // when that meets an existing key) COPY into a staging table and merge, in one transaction.
  template <class Row, class FormatRow>
  StoreResult<std::size_t> write_batch(std::size_t table, std::span<const Row> batch,
                                       FormatRow format_row);
  struct CopyOutcome;
  // Runs `copy_sql` (COPY ... FROM STDIN) with the batch: formats it into copy_buffer_ while
  // sending, or, when `formatted`, sends what copy_buffer_ already holds.
  template <class Row, class FormatRow>
  CopyOutcome copy_rows(const std::string& copy_sql, std::span<const Row> batch,
                        FormatRow& format_row, bool formatted);
  StoreError rollback_with(StoreErrc code, std::string message);
  // Runs a prepared statement with text parameters, ignoring any rows it returns; an error is
  // `code` with `what` and the server's message.
  StoreResult<void> exec_prepared(const char* statement, std::initializer_list<std::string> params,
                                  StoreErrc code, const std::string& what);
  // Runs a prepared select with text parameters; decodes each row with read_row(ColumnReader&).
  template <class T, class ReadRow>
  StoreResult<std::vector<T>> query(const char* statement, const char* table,
                                    std::initializer_list<std::string> params, ReadRow read_row);

  // What libpq last said about the connection, secrets scrubbed.
  std::string connection_message() const;

  std::mutex mutex_;  // guards everything below (a libpq connection is not for concurrent use)
  pg_conn* conn_;
  const std::string redacted_dsn_;
  const std::vector<std::string> secrets_;  // the password as written in the DSN and decoded
  // COPY data of the batch being written; its capacity is kept between batches.
  std::string copy_buffer_;
  // Per table (TableId): batches still to send straight to the merge path after a conflict.
  std::array<int, 7> merge_only_batches_{};
};

}  // namespace sf::store
