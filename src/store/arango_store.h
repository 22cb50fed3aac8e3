// The ArangoDB store, over ArangoDB's HTTP API (store/arango_client.h). Same semantics as
// SqliteStore: idempotent batched upserts on natural keys, range queries ordered by natural key.
//
// Naming (as the original StreamForge: database `streamforge`, one collection per symbol and
// data kind). Collections, unless a collection name is given:
//   <symbol_lower>_trades, <symbol_lower>_agg_trades, <symbol_lower>_candles_<interval>,
//   <symbol_lower>_depth_snapshots, <symbol_lower>_indicators_<interval>,
//   telemetry, workflows, sf_meta (schema version)
// (prefixed with "sf_" if the symbol does not start with a letter, as ArangoDB requires). With a
// collection name (the original's COLLECTION_NAME, e.g. btcusdt_api_candles_5m_2024_08_01; URL
// parameter `collection=`), every market record goes into that one collection; telemetry,
// workflows and sf_meta keep theirs.
//
// Documents: `_key` is derived from the natural key, so a rewrite replaces the same document
// (imports with onDuplicate=replace). Keys: BTCUSDT_trade_<id>, BTCUSDT_agg_<id>,
// BTCUSDT_candle_<interval>_<open_time>, BTCUSDT_depth_<last_update_id>,
// BTCUSDT_indicator_<interval>_<name>_<open_time>, <queue_id>_<producer>_<timestamp>_<status>
// (telemetry), <queue_id> (workflows). Parts are escaped to ArangoDB's key alphabet: any byte
// outside letters, digits and - : . @ ( ) + , = ; $ ! * ' becomes %XX (so '_' only separates
// parts and keys are injective); a key over 254 bytes keeps its first 200 bytes plus a 64-bit hash.
//
// Every market document carries `symbol`, `series` ("trade", "agg_trade", "candle/<interval>",
// "depth", "indicator/<interval>/<name>"), `time` (microseconds, the range attribute) and `ord`
// (the 64-bit id as a 20-digit sortable string). Decimals are JSON strings exactly as the Decimal
// prints; 64-bit ids are decimal strings (ArangoDB may read large JSON numbers as doubles);
// microsecond times are numbers (exact below 2^53, i.e. until the year 2255); indicator values
// are numbers, null plus `value_special` ("nan", "inf", "-inf") when not finite; telemetry
// `extra` and workflow definitions are strings, byte-identical. Persistent indexes:
// [symbol, series, time] and [symbol, series, ord] on market collections, [queue_id, timestamp]
// on telemetry, [created_at] on workflows.
//
// Writes: batches are cut into chunks of `write_chunk` documents (one import request each); the
// last occurrence of a key in a batch wins. ArangoDB has no multi-request transaction here, so a
// failed batch may leave its earlier chunks written; a retry of the batch converges (replace by
// key). Reads: AQL with bind parameters through /_api/cursor, `batch_size` results per round
// trip. A collection is created (with its indexes) the first time it is written; reading one that
// does not exist yields nothing.
//
// Graphs (Store::replace_graph), in ArangoDB's native graph model:
//   graphs          one document per graph, _key = name: kind, interval, meta (the JSON object
//                   embedded), created_at, node_count, edge_count;
//   <name>_nodes    document (vertex) collection, one document per node, _key = node_id in
//                   decimal: idx (position), node_id (decimal string), time_us, symbol, features
//                   (numbers in shortest float form), direction, volatility (number or null);
//   <name>_edges    edge collection, _key = idx in decimal: _from/_to "<name>_nodes/<node_id>",
//                   idx, src, dst (decimal strings), weight (shortest float form), kind;
//                   both with a persistent index on [idx];
//   named graph <name> (gharial) with the one edge definition
//                   {<name>_edges: [<name>_nodes] -> [<name>_nodes]}, for AQL traversals and the
//                   UI.
// A non-finite float or volatility is stored as the string "nan", "inf" or "-inf". Numbers read
// back as doubles; a float's shortest text parsed as a double and cast to float is the same float,
// so a graph reads back bit-identically. Bulk imports cannot share a transaction, so
// replace_graph removes the graph document first, truncates (or creates) both collections,
// imports nodes then edges in chunks of `write_chunk`, ensures the named graph and writes the
// graph document last: a reader never takes a half-written graph for a whole one. graph() reads
// the document, then nodes and edges ordered by idx, and answers kCorrupt when the counts (or the
// document's revision, read again at the end) disagree: the graph is being written or incomplete.
#pragma once

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "store/arango_client.h"
#include "store/store.h"

namespace sf::store {

struct ArangoStoreOptions {
  ArangoConfig client;
  std::string collection_name;  // COLLECTION_NAME: one collection for all market records
  std::size_t write_chunk = 10000;
  std::size_t batch_size = 5000;  // cursor batchSize
};

class ArangoStore final : public Store {
 public:
  static constexpr int kSchemaVersion = 1;

  // arango://[user[:password]@]host[:port][/database][?collection=NAME&batch_size=N&
  //   write_chunk=N&cursor_next=POST|PUT]
  // (also arango+http://; arango+https:// over TLS). Port 8529, database "streamforge" and
  // user/password from ARANGO_USER/ARANGO_PASSWORD when the URL has none. User info is
  // percent-decoded.
  static StoreResult<ArangoStoreOptions> parse_url(const std::string& url);
  static bool is_arango_url(const std::string& url);
  // The URL with its password replaced by "***".
  static std::string redact_url(const std::string& url);

  // Connects, creates the database if missing and checks the schema version (kOpen, kMigration).
  static StoreResult<std::unique_ptr<ArangoStore>> open(ArangoStoreOptions options);

  // The escaped key of one natural-key part (exposed for tests and tools).
  static std::string key_part(std::string_view text);
  // The collection a symbol's records of one kind go to without a collection name:
  // kind is "trades", "agg_trades", "candles_1m", ...
  static std::string collection_for(const Symbol& symbol, std::string_view kind);

  ArangoClient& client() { return *client_; }

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

  StoreResult<void> replace_graph(const GraphRecord& graph) override;
  StoreResult<std::optional<GraphRecord>> graph(const std::string& name) override;
  StoreResult<std::vector<GraphRecord>> graphs() override;

  StoreResult<int> schema_version() override;
  std::string_view kind() const override { return "arango"; }

 private:
  struct Doc {
    std::string key;
    std::string json;  // one line
  };
  enum class Coll : std::uint8_t {
    kMarket,
    kTelemetry,
    kWorkflows,
    kMeta,
    kGraphs,
    kGraphNodes,
    kGraphEdges
  };

  ArangoStore(ArangoStoreOptions options, std::unique_ptr<ArangoClient> client);

  std::string market_collection(const Symbol& symbol, std::string_view kind) const;
  StoreResult<void> ensure_collection(const std::string& name, Coll type);
  // Creates the collection with its indexes (they are ensured when it existed, too) and caches
  // it: true when this call created it.
  StoreResult<bool> create_collection(const std::string& name, Coll type);
  // An empty collection of that name: truncated when it exists, created (and cached) otherwise.
  StoreResult<void> reset_collection(const std::string& name, Coll type);
  StoreResult<std::size_t> write(const std::string& collection, Coll type, std::vector<Doc> docs);
  // Writes market documents grouped by their collection; returns `count` (the batch size).
  using ByCollection = std::unordered_map<std::string, std::vector<Doc>>;
  StoreResult<std::size_t> write_market(ByCollection by_collection, std::size_t count);
  StoreResult<std::size_t> query(std::string_view aql, std::string_view bind_vars,
                                 const ArangoClient::DocumentCallback& on_document);

  ArangoStoreOptions options_;
  std::unique_ptr<ArangoClient> client_;
  std::mutex ensured_mutex_;
  // replace_graph is a sequence of requests with no server transaction: writers of this store
  // take turns, so two threads never interleave their truncates and imports (other processes
  // writing the same graph are not excluded; readers detect that through the revision check).
  std::mutex graph_write_mutex_;
  std::set<std::string> ensured_;
};

}  // namespace sf::store
