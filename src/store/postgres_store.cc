#include "store/postgres_store.h"

#include <libpq-fe.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <string_view>
#include <utility>

#include "store/levels_json.h"
#include "store/row_readers.h"

namespace sf::store {
namespace {

// ---------------------------------------------------------------------------------------------
// Schema

struct Migration {
  int version;
  const char* description;
  const char* sql;
};

// Ordered; append new steps, never edit an applied one. Each runs once, in the same transaction
// as its schema_migrations row. Column names match SqliteStore's, so queries carry over.
//
// Text keys are COLLATE "C": byte order, as SQLite sorts, whatever the database's locale, and
// memcmp comparisons in the b-trees. Time-range reads of trades go through a
// (symbol, time, id) index so they never sort; the other reads are served by the primary key.
constexpr Migration kMigrations[] = {
    {1, "market data, indicators, telemetry and workflows", R"sql(
CREATE TABLE trades (
  symbol TEXT COLLATE "C" NOT NULL,
  trade_id BIGINT NOT NULL,
  price NUMERIC NOT NULL,
  quantity NUMERIC NOT NULL,
  trade_time BIGINT NOT NULL,
  event_time BIGINT NOT NULL,
  receive_time BIGINT NOT NULL,
  is_buyer_maker BOOLEAN NOT NULL,
  is_best_match BOOLEAN,
  PRIMARY KEY (symbol, trade_id)
);
CREATE INDEX trades_by_time ON trades (symbol, trade_time, trade_id);

CREATE TABLE agg_trades (
  symbol TEXT COLLATE "C" NOT NULL,
  agg_trade_id BIGINT NOT NULL,
  price NUMERIC NOT NULL,
  quantity NUMERIC NOT NULL,
  first_trade_id BIGINT NOT NULL,
  last_trade_id BIGINT NOT NULL,
  trade_time BIGINT NOT NULL,
  event_time BIGINT NOT NULL,
  receive_time BIGINT NOT NULL,
  is_buyer_maker BOOLEAN NOT NULL,
  is_best_match BOOLEAN,
  PRIMARY KEY (symbol, agg_trade_id)
);
CREATE INDEX agg_trades_by_time ON agg_trades (symbol, trade_time, agg_trade_id);

CREATE TABLE candles (
  symbol TEXT COLLATE "C" NOT NULL,
  interval TEXT COLLATE "C" NOT NULL,
  open_time BIGINT NOT NULL,
  open NUMERIC NOT NULL,
  high NUMERIC NOT NULL,
  low NUMERIC NOT NULL,
  close NUMERIC NOT NULL,
  volume NUMERIC NOT NULL,
  close_time BIGINT NOT NULL,
  quote_asset_volume NUMERIC NOT NULL,
  number_of_trades BIGINT NOT NULL,
  taker_buy_base_asset_volume NUMERIC NOT NULL,
  taker_buy_quote_asset_volume NUMERIC NOT NULL,
  ignore_value NUMERIC NOT NULL,
  first_trade_id BIGINT NOT NULL,
  last_trade_id BIGINT NOT NULL,
  is_closed BOOLEAN NOT NULL,
  event_time BIGINT NOT NULL,
  receive_time BIGINT NOT NULL,
  PRIMARY KEY (symbol, interval, open_time)
);

CREATE TABLE depth_snapshots (
  symbol TEXT COLLATE "C" NOT NULL,
  last_update_id BIGINT NOT NULL,
  bids JSONB NOT NULL,
  asks JSONB NOT NULL,
  is_partial BOOLEAN NOT NULL,
  event_time BIGINT NOT NULL,
  receive_time BIGINT NOT NULL,
  PRIMARY KEY (symbol, last_update_id)
);

CREATE TABLE indicators (
  symbol TEXT COLLATE "C" NOT NULL,
  interval TEXT COLLATE "C" NOT NULL,
  name TEXT COLLATE "C" NOT NULL,
  open_time BIGINT NOT NULL,
  value DOUBLE PRECISION NOT NULL,
  PRIMARY KEY (symbol, interval, name, open_time)
);

CREATE TABLE telemetry (
  queue_id TEXT COLLATE "C" NOT NULL,
  producer TEXT COLLATE "C" NOT NULL,
  symbol TEXT NOT NULL,
  type TEXT NOT NULL,
  status TEXT COLLATE "C" NOT NULL,
  message TEXT NOT NULL,
  records_written BIGINT NOT NULL,
  finished BOOLEAN NOT NULL,
  timestamp DOUBLE PRECISION NOT NULL,
  extra TEXT NOT NULL,
  PRIMARY KEY (queue_id, producer, timestamp, status)
);
CREATE INDEX telemetry_by_time ON telemetry (queue_id, timestamp, producer, status);

CREATE TABLE workflows (
  queue_id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
  status TEXT NOT NULL,
  definition TEXT NOT NULL,
  created_at DOUBLE PRECISION NOT NULL,
  updated_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX workflows_by_creation ON workflows (created_at, queue_id);
)sql"},
    // Graphs (records.h GraphRecord). Rows keep their position (idx) in the written vectors.
    // Features are REAL[]: float4 prints as its shortest exact text (extra_float_digits > 0), so
    // they read back bit-identical, subnormals included, and stay queryable (features[1]). Edges
    // carry no foreign key: its per-row check would triple the cost of bulk-loading a big graph's
    // edges; replace_graph deletes them with the graph instead. Rows carry the writing
    // transaction's id (generation, a column default COPY fills in): a replacement's rows never
    // reuse the keys of the rows it just deleted, whose dead index entries would otherwise be
    // re-checked by every insert (twice the cost of a first write, measured).
    {2, "graphs", R"sql(
CREATE TABLE graphs (
  name TEXT COLLATE "C" NOT NULL PRIMARY KEY,
  kind TEXT NOT NULL,
  interval TEXT NOT NULL,
  meta JSONB NOT NULL,
  created_at DOUBLE PRECISION NOT NULL,
  node_count BIGINT NOT NULL,
  edge_count BIGINT NOT NULL,
  generation BIGINT NOT NULL DEFAULT txid_current()
);

CREATE TABLE graph_nodes (
  graph TEXT COLLATE "C" NOT NULL REFERENCES graphs (name) ON DELETE CASCADE,
  idx INTEGER NOT NULL,
  node_id BIGINT NOT NULL,
  time_us BIGINT NOT NULL,
  symbol TEXT NOT NULL,
  features REAL[] NOT NULL,
  direction SMALLINT NOT NULL,
  volatility DOUBLE PRECISION,
  generation BIGINT NOT NULL DEFAULT txid_current(),
  PRIMARY KEY (graph, generation, idx)
);

CREATE TABLE graph_edges (
  graph TEXT COLLATE "C" NOT NULL,
  idx INTEGER NOT NULL,
  src BIGINT NOT NULL,
  dst BIGINT NOT NULL,
  weight REAL NOT NULL,
  kind TEXT NOT NULL,
  generation BIGINT NOT NULL DEFAULT txid_current(),
  PRIMARY KEY (graph, generation, idx)
);
)sql"},
};

constexpr int kLatestVersion = kMigrations[std::size(kMigrations) - 1].version;

// Kept outside the migration list: it is how the list's progress is recorded.
constexpr const char* kCreateMigrationsTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INTEGER PRIMARY KEY,"
    " applied_at BIGINT NOT NULL)";  // µs since the epoch

// Serialises migrations of one schema across processes (the first key says "streamforge", the
// second which schema).
constexpr const char* kLockMigrations =
    "SELECT pg_advisory_xact_lock(1397116786, hashtext(COALESCE(current_schema(), '')))";

// extra_float_digits 3: doubles print as their shortest exact text (PostgreSQL 12+), so they read
// back bit-exact. temp_buffers: a 100,000-row staging batch stays in memory; it only takes effect
// before the session's first TEMP table access, hence before prepare_session().
constexpr const char* kSessionSettings =
    "SET extra_float_digits = 3; SET client_min_messages = warning; SET temp_buffers = '64MB'";

// A COPY chunk is sent once the buffer holds this much more, so the server parses while we format.
constexpr std::size_t kCopyChunkBytes = 1 << 20;
// A formatted batch is kept for a retry; a buffer grown beyond this by a huge batch is released.
constexpr std::size_t kCopyBufferKeepBytes = 64 << 20;
// After a batch of an append-mostly table met existing keys (a replay), this many following
// batches of that table go straight to the merge path: a replay rarely comes alone.
constexpr int kMergeOnlyBatchesAfterConflict = 8;

constexpr std::string_view kUniqueViolation = "23505";

// A table's columns in the field order of its struct: COPY writes and the selects read in this
// order, so one list keeps writes and reads in step.
struct TableSpec {
  const char* table;
  const char* columns;      // comma-separated, struct order
  const char* natural_key;  // comma-separated
  // New keys are the rule (live capture appends increasing ids), so a batch is first tried as a
  // plain COPY into the table; other tables (candles replaced when they close, workflow states)
  // always merge.
  bool append_mostly;
};

enum TableId : std::size_t {
  kTradesTable,
  kAggTradesTable,
  kCandlesTable,
  kDepthSnapshotsTable,
  kIndicatorsTable,
  kTelemetryTable,
  kWorkflowsTable,
};

constexpr TableSpec kTables[] = {
    {"trades",
     "symbol, trade_id, price, quantity, trade_time, event_time, receive_time, is_buyer_maker, "
     "is_best_match",
     "symbol, trade_id", true},
    {"agg_trades",
     "symbol, agg_trade_id, price, quantity, first_trade_id, last_trade_id, trade_time, "
     "event_time, receive_time, is_buyer_maker, is_best_match",
     "symbol, agg_trade_id", true},
    {"candles",
     "symbol, interval, open_time, open, high, low, close, volume, close_time, "
     "quote_asset_volume, number_of_trades, taker_buy_base_asset_volume, "
     "taker_buy_quote_asset_volume, ignore_value, first_trade_id, last_trade_id, is_closed, "
     "event_time, receive_time",
     "symbol, interval, open_time", false},
    {"depth_snapshots", "symbol, last_update_id, bids, asks, is_partial, event_time, receive_time",
     "symbol, last_update_id", true},
    {"indicators", "symbol, interval, name, open_time, value", "symbol, interval, name, open_time",
     false},
    {"telemetry",
     "queue_id, producer, symbol, type, status, message, records_written, finished, timestamp, "
     "extra",
     "queue_id, producer, timestamp, status", true},
    {"workflows", "queue_id, status, definition, created_at, updated_at", "queue_id", false},
};

std::vector<std::string_view> split_columns(std::string_view list) {
  std::vector<std::string_view> out;
  while (!list.empty()) {
    std::size_t comma = list.find(',');
    std::string_view column = list.substr(0, comma);
    while (!column.empty() && column.front() == ' ') column.remove_prefix(1);
    while (!column.empty() && column.back() == ' ') column.remove_suffix(1);
    out.push_back(column);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return out;
}

// The statements of one table's write paths.
struct TableSql {
  std::string copy_direct;  // COPY straight into the table (append-mostly tables)
  std::string create_staging;
  std::string copy_staging;
  std::string merge;  // staging -> table
};

std::string staging_name(const TableSpec& spec) {
  return std::string("pg_temp.") + spec.table + "_staging";
}

TableSql make_table_sql(const TableSpec& spec) {
  const std::string staging = staging_name(spec);
  TableSql sql;
  sql.copy_direct = std::string("COPY ") + spec.table + " (" + spec.columns + ") FROM STDIN";
  // Session-private and never WAL-logged; ON COMMIT DELETE ROWS empties it cheaply (a truncate)
  // at every commit, and a rolled-back batch's rows are invisible anyway. COPY numbers the rows
  // in input order through `seq`'s identity, so both COPYs take the same data.
  sql.create_staging = std::string("CREATE TEMP TABLE IF NOT EXISTS ") + spec.table +
                       "_staging (seq BIGINT GENERATED ALWAYS AS IDENTITY, LIKE " + spec.table +
                       ") ON COMMIT DELETE ROWS";
  sql.copy_staging = "COPY " + staging + " (" + spec.columns + ") FROM STDIN";
  // DISTINCT ON keeps one row per key, the batch's last (highest seq): ON CONFLICT DO UPDATE
  // refuses to touch a row twice in one statement. Rows arrive in key order, which keeps the
  // index insertions local. An existing key is replaced in every non-key column, unless the
  // stored row is already identical: a replayed batch then writes nothing (no new row versions,
  // index entries or WAL). Rows compare as text, which tells 1.0 from 1.00 and 0 from -0 where
  // the types' own equality would not.
  std::vector<std::string_view> key = split_columns(spec.natural_key);
  sql.merge = std::string("INSERT INTO ") + spec.table + " (" + spec.columns +
              ") SELECT DISTINCT ON (" + spec.natural_key + ") " + spec.columns + " FROM " +
              staging + " ORDER BY " + spec.natural_key + ", seq DESC ON CONFLICT (" +
              spec.natural_key + ") DO UPDATE SET ";
  bool first = true;
  for (std::string_view column : split_columns(spec.columns)) {
    if (std::find(key.begin(), key.end(), column) != key.end()) continue;
    if (!first) sql.merge += ", ";
    first = false;
    sql.merge.append(column).append(" = EXCLUDED.").append(column);
  }
  sql.merge.append(" WHERE ").append(spec.table).append("::text IS DISTINCT FROM EXCLUDED::text");
  return sql;
}

const TableSql& table_sql(std::size_t table) {
  static const std::vector<TableSql> all = [] {
    std::vector<TableSql> out;
    for (const TableSpec& spec : kTables) out.push_back(make_table_sql(spec));
    return out;
  }();
  return all[table];
}

std::string select_sql(const TableSpec& spec, const char* where_and_order) {
  return std::string("SELECT ") + spec.columns + " FROM " + spec.table + " " + where_and_order;
}

// Prepared once per session: (statement name, SQL). Ordered like SqliteStore's reads.
std::vector<std::pair<const char*, std::string>> read_statements() {
  return {
      {"select_trades", select_sql(kTables[kTradesTable],
                                   "WHERE symbol = $1 AND trade_time >= $2 AND trade_time < $3 "
                                   "ORDER BY trade_time, trade_id")},
      {"select_agg_trades", select_sql(kTables[kAggTradesTable],
                                       "WHERE symbol = $1 AND trade_time >= $2 AND trade_time < $3 "
                                       "ORDER BY trade_time, agg_trade_id")},
      {"select_candles",
       select_sql(kTables[kCandlesTable],
                  "WHERE symbol = $1 AND interval = $2 AND open_time >= $3 AND open_time < $4 "
                  "ORDER BY open_time")},
      {"select_depth_snapshots",
       select_sql(kTables[kDepthSnapshotsTable],
                  "WHERE symbol = $1 AND last_update_id >= $2 AND last_update_id <= $3 "
                  "ORDER BY last_update_id")},
      {"select_indicators",
       select_sql(kTables[kIndicatorsTable],
                  "WHERE symbol = $1 AND interval = $2 AND name = $3 AND open_time >= $4 "
                  "AND open_time < $5 ORDER BY open_time")},
      {"select_telemetry", select_sql(kTables[kTelemetryTable],
                                      "WHERE queue_id = $1 ORDER BY timestamp, producer, status")},
      {"select_workflow", select_sql(kTables[kWorkflowsTable], "WHERE queue_id = $1")},
      {"select_workflows", select_sql(kTables[kWorkflowsTable], "ORDER BY created_at, queue_id")},
      {"select_schema_version", "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"},
      {"select_has_symbol",
       "SELECT EXISTS (SELECT 1 FROM trades WHERE symbol = $1) OR "
       "EXISTS (SELECT 1 FROM agg_trades WHERE symbol = $1) OR "
       "EXISTS (SELECT 1 FROM candles WHERE symbol = $1) OR "
       "EXISTS (SELECT 1 FROM depth_snapshots WHERE symbol = $1) OR "
       "EXISTS (SELECT 1 FROM indicators WHERE symbol = $1)"},
  };
}

// Graphs: the columns in the order the COPYs write and the reads decode them.
constexpr const char* kGraphColumns =
    "name, kind, interval, meta, created_at, node_count, edge_count";
constexpr const char* kGraphNodeColumns =
    "graph, idx, node_id, time_us, symbol, features, direction, volatility";
constexpr const char* kGraphEdgeColumns = "graph, idx, src, dst, weight, kind";

// Prepared once per session besides read_statements(): graph writes and reads.
std::vector<std::pair<const char*, std::string>> graph_statements() {
  const std::string graph_columns = kGraphColumns;
  return {
      // Serialises writers of one graph name (in this schema) until their transaction ends, so
      // concurrent replacements of a graph follow each other instead of failing on its key.
      {"lock_graph",
       "SELECT pg_advisory_xact_lock(1397116787, "
       "hashtext(COALESCE(current_schema(), '') || '.' || $1))"},
      {"delete_graph_edges", "DELETE FROM graph_edges WHERE graph = $1"},
      // Its nodes go with it (ON DELETE CASCADE).
      {"delete_graph", "DELETE FROM graphs WHERE name = $1"},
      {"insert_graph",
       "INSERT INTO graphs (" + graph_columns + ") VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7)"},
      {"select_graph", "SELECT " + graph_columns + " FROM graphs WHERE name = $1"},
      {"select_graphs", "SELECT " + graph_columns + " FROM graphs ORDER BY name"},
      {"select_graph_nodes",
       "SELECT node_id, time_us, symbol, features, direction, volatility FROM graph_nodes "
       "WHERE graph = $1 AND generation = (SELECT generation FROM graphs WHERE name = $1) "
       "ORDER BY idx"},
      {"select_graph_edges",
       "SELECT src, dst, weight, kind FROM graph_edges WHERE graph = $1 "
       "AND generation = (SELECT generation FROM graphs WHERE name = $1) ORDER BY idx"},
  };
}

// ---------------------------------------------------------------------------------------------
// DSN secrets

constexpr std::string_view kRedacted = "***";

struct Span {
  std::size_t pos;
  std::size_t length;
};

// Any "scheme://" URL, not only PostgreSQL's: a mistyped scheme must not leak its password either.
bool is_url(std::string_view dsn) {
  const std::size_t separator = dsn.find("://");
  if (separator == 0 || separator == std::string_view::npos) return false;
  return std::all_of(dsn.begin(), dsn.begin() + static_cast<std::ptrdiff_t>(separator), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
  });
}

// Where a DSN spells its password: a URL's user info ("user:PASSWORD@") and `password=` query
// parameters, or a key/value string's `password = VALUE` (VALUE possibly 'quoted').
std::vector<Span> password_spans(std::string_view dsn) {
  std::vector<Span> spans;
  if (is_url(dsn)) {
    const std::size_t start = dsn.find("://") + 3;
    // Like libpq: user info ends at the first '@' before any '/'.
    const std::size_t at = dsn.find_first_of("@/", start);
    if (at != std::string_view::npos && dsn[at] == '@') {
      const std::size_t colon = dsn.find(':', start);
      if (colon != std::string_view::npos && colon < at)
        spans.push_back({colon + 1, at - colon - 1});
    }
    std::size_t query = dsn.find('?', start);
    while (query != std::string_view::npos) {
      const std::size_t key = query + 1;
      const std::size_t end = std::min(dsn.find('&', key), dsn.size());
      const std::string_view parameter = dsn.substr(key, end - key);
      if (parameter.starts_with("password=")) {
        spans.push_back({key + 9, end - key - 9});
      }
      query = end < dsn.size() ? end : std::string_view::npos;
    }
    return spans;
  }
  std::size_t pos = 0;
  auto skip_space = [&] {
    while (pos < dsn.size() && std::isspace(static_cast<unsigned char>(dsn[pos]))) ++pos;
  };
  while (true) {
    skip_space();
    if (pos >= dsn.size()) break;
    const std::size_t key_start = pos;
    while (pos < dsn.size() && dsn[pos] != '=' &&
           !std::isspace(static_cast<unsigned char>(dsn[pos])))
      ++pos;
    const std::string_view key = dsn.substr(key_start, pos - key_start);
    skip_space();
    if (pos >= dsn.size() || dsn[pos] != '=') break;  // malformed: libpq will say so
    ++pos;
    skip_space();
    const std::size_t value_start = pos;
    if (pos < dsn.size() && dsn[pos] == '\'') {
      ++pos;
      while (pos < dsn.size() && dsn[pos] != '\'') pos += dsn[pos] == '\\' ? 2 : 1;
      pos = std::min(pos + 1, dsn.size());
    } else {
      while (pos < dsn.size() && !std::isspace(static_cast<unsigned char>(dsn[pos]))) {
        pos += dsn[pos] == '\\' ? 2 : 1;
      }
      pos = std::min(pos, dsn.size());
    }
    if (key == "password") spans.push_back({value_start, pos - value_start});
  }
  return spans;
}

std::string percent_decoded(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    unsigned value = 0;
    if (text[i] == '%' && i + 2 < text.size() &&
        std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16).ptr ==
            text.data() + i + 3) {
      out.push_back(static_cast<char>(value));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

// Every form the password may take in a message: as written, decoded, and as libpq parsed it.
std::vector<std::string> dsn_secrets(const std::string& dsn) {
  std::vector<std::string> secrets;
  for (const Span& span : password_spans(dsn)) {
    std::string_view raw = std::string_view(dsn).substr(span.pos, span.length);
    secrets.emplace_back(raw);
    secrets.push_back(percent_decoded(raw));
    if (raw.size() >= 2 && raw.front() == '\'' && raw.back() == '\'') {
      secrets.emplace_back(raw.substr(1, raw.size() - 2));
    }
  }
  char* parse_error = nullptr;
  if (PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &parse_error)) {
    for (PQconninfoOption* option = options; option->keyword != nullptr; ++option) {
      if (std::strcmp(option->keyword, "password") == 0 && option->val != nullptr) {
        secrets.emplace_back(option->val);
      }
    }
    PQconninfoFree(options);
  }
  PQfreemem(parse_error);
  std::erase_if(secrets, [](const std::string& s) { return s.empty(); });
  // Longest first, so a secret containing another is replaced whole.
  std::sort(secrets.begin(), secrets.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  secrets.erase(std::unique(secrets.begin(), secrets.end()), secrets.end());
  return secrets;
}

std::string scrub(std::string message, const std::vector<std::string>& secrets) {
  for (const std::string& secret : secrets) {
    for (std::size_t pos = message.find(secret); pos != std::string::npos;
         pos = message.find(secret, pos + kRedacted.size())) {
      message.replace(pos, secret.size(), kRedacted);
    }
  }
  return message;
}

std::string trimmed(std::string text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  return text;
}

// ---------------------------------------------------------------------------------------------
// libpq helpers

struct ResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

StoreError make_error(StoreErrc code, std::string message) {
  return {code, std::move(message)};
}

// The server's message for a failed result ("primary; detail"), or libpq's when there is none.
std::string result_message(pg_conn* conn, const PGresult* result) {
  if (result != nullptr) {
    const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
    if (primary != nullptr) {
      std::string message = primary;
      if (const char* detail = PQresultErrorField(result, PG_DIAG_MESSAGE_DETAIL)) {
        message.append(" (").append(detail).append(")");
      }
      return message;
    }
    if (const char* text = PQresultErrorMessage(result); text != nullptr && text[0] != '\0') {
      return trimmed(text);
    }
    if (PQresultStatus(result) != PGRES_FATAL_ERROR) {
      return std::string("unexpected result ") + PQresStatus(PQresultStatus(result));
    }
  }
  std::string message = trimmed(PQerrorMessage(conn));
  return message.empty() ? "no result from the server" : message;
}

// ---------------------------------------------------------------------------------------------
// COPY text format and result decoding

// Appends rows of COPY text format (tab-separated columns, \N for NULL) to a buffer, the columns
// in call order.
class CopyRow {
 public:
  explicit CopyRow(std::string* out) : out_(out) {}

  void begin() { first_column_ = true; }
  void end() { out_->push_back('\n'); }

  // Backslash, newline, carriage return and tab are COPY's special characters.
  CopyRow& text(std::string_view value) {
    separate();
    if (value.find_first_of("\\\n\r\t") == std::string_view::npos) {
      out_->append(value);
      return *this;
    }
    for (char c : value) {
      switch (c) {
        case '\\':
          out_->append("\\\\");
          break;
        case '\n':
          out_->append("\\n");
          break;
        case '\r':
          out_->append("\\r");
          break;
        case '\t':
          out_->append("\\t");
          break;
        default:
          out_->push_back(c);
      }
    }
    return *this;
  }
  // Symbols, intervals, decimals, numbers and level JSON never hold a special character.
  CopyRow& symbol(const Symbol& value) { return plain(value.view()); }
  CopyRow& interval(Interval value) { return plain(interval_name(value)); }
  CopyRow& decimal(const Decimal& value) {
    char buf[Decimal::kMaxTextLength + 2];
    return plain(std::string_view(buf, value.format_to(buf)));
  }
  CopyRow& json(std::string_view value) { return plain(value); }
  CopyRow& int64(std::int64_t value) {
    separate();
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
    out_->append(buf, static_cast<std::size_t>(end - buf));
    return *this;
  }
  CopyRow& boolean(bool value) { return plain(value ? "t" : "f"); }
  CopyRow& optional_boolean(std::optional<bool> value) {
    if (!value) return plain("\\N");
    return boolean(*value);
  }
  // The shortest text that reads back as the same double; PostgreSQL's spellings for the rest.
  CopyRow& real(double value) {
    if (std::isnan(value)) return plain("NaN");
    if (std::isinf(value)) return plain(value > 0 ? "Infinity" : "-Infinity");
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
    return plain(std::string_view(buf, static_cast<std::size_t>(end - buf)));
  }
  CopyRow& optional_real(std::optional<double> value) {
    if (!value) return plain("\\N");
    return real(*value);
  }
  // REAL: the shortest text that reads back as the same float (subnormals included).
  CopyRow& real4(float value) {
    separate();
    append_float(value);
    return *this;
  }
  // REAL[] as an array literal, "{1.5,-1e-39,3.4028235e+38}".
  CopyRow& real4_array(const std::vector<float>& values) {
    separate();
    out_->push_back('{');
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (i > 0) out_->push_back(',');
      append_float(values[i]);
    }
    out_->push_back('}');
    return *this;
  }

 private:
  void append_float(float value) {
    if (std::isnan(value)) {
      out_->append("NaN");
    } else if (std::isinf(value)) {
      out_->append(value > 0 ? "Infinity" : "-Infinity");
    } else {
      char buf[24];
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
      out_->append(buf, static_cast<std::size_t>(end - buf));
    }
  }
  void separate() {
    if (!first_column_) out_->push_back('\t');
    first_column_ = false;
  }
  CopyRow& plain(std::string_view value) {
    separate();
    out_->append(value);
    return *this;
  }

  std::string* out_;
  bool first_column_ = true;
};

// Reads one result row's columns 0..n in call order (braced initialisers evaluate left to right,
// so an event built with designated initialisers reads its columns in struct order). A value that
// cannot be decoded is recorded and replaced by a default; the caller checks failed() once per
// row.
class ColumnReader {
 public:
  ColumnReader(const PGresult* result, int row, const char* table)
      : result_(result), row_(row), table_(table) {}

  std::string_view text() {
    const int column = index_++;
    return {PQgetvalue(result_, row_, column),
            static_cast<std::size_t>(PQgetlength(result_, row_, column))};
  }
  std::string string() { return std::string(text()); }
  Symbol symbol() {
    std::string_view raw = text();
    std::optional<Symbol> parsed = Symbol::parse(raw);
    if (!parsed) return fail<Symbol>("symbol", raw);
    return *parsed;
  }
  Interval interval() {
    std::string_view raw = text();
    std::optional<Interval> parsed = parse_interval(raw);
    if (!parsed) return fail<Interval>("interval", raw);
    return *parsed;
  }
  Decimal decimal() {
    std::string_view raw = text();
    auto parsed = Decimal::parse(raw);
    if (!parsed) return fail<Decimal>("decimal", raw);
    return *parsed;
  }
  std::int64_t int64() {
    std::string_view raw = text();
    std::int64_t value = 0;
    auto [end, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), value);
    if (ec != std::errc() || end != raw.data() + raw.size()) {
      return fail<std::int64_t>("integer", raw);
    }
    return value;
  }
  bool boolean() {
    std::string_view raw = text();
    if (raw == "t") return true;
    if (raw != "f") return fail<bool>("boolean", raw);
    return false;
  }
  std::optional<bool> optional_boolean() {
    if (PQgetisnull(result_, row_, index_)) {
      ++index_;
      return std::nullopt;
    }
    return boolean();
  }
  double real() {
    if (PQgetisnull(result_, row_, index_)) {
      ++index_;
      return std::numeric_limits<double>::quiet_NaN();
    }
    std::string_view raw = text();
    if (raw == "NaN") return std::numeric_limits<double>::quiet_NaN();
    if (raw == "Infinity") return std::numeric_limits<double>::infinity();
    if (raw == "-Infinity") return -std::numeric_limits<double>::infinity();
    double value = 0;
    auto [end, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), value);
    if (ec != std::errc() || end != raw.data() + raw.size()) return fail<double>("double", raw);
    return value;
  }
  std::optional<double> optional_real() {
    if (PQgetisnull(result_, row_, index_)) {
      ++index_;
      return std::nullopt;
    }
    return real();
  }
  float real4() {
    std::string_view raw = text();
    float value = 0;
    if (!parse_float(raw, &value)) return fail<float>("real", raw);
    return value;
  }
  // A REAL[] without NULL elements, as PostgreSQL prints it: "{1.5,-1e-39}".
  std::vector<float> real4_array() {
    std::string_view raw = text();
    std::vector<float> values;
    if (raw.size() < 2 || raw.front() != '{' || raw.back() != '}') {
      return fail<std::vector<float>>("real array", raw);
    }
    std::string_view items = raw.substr(1, raw.size() - 2);
    while (!items.empty()) {
      const std::size_t comma = items.find(',');
      float value = 0;
      if (!parse_float(items.substr(0, comma), &value)) {
        return fail<std::vector<float>>("real array", raw);
      }
      values.push_back(value);
      if (comma == std::string_view::npos) break;
      items.remove_prefix(comma + 1);
      if (items.empty()) return fail<std::vector<float>>("real array", raw);
    }
    return values;
  }
  std::vector<PriceLevel> levels() {
    std::string_view raw = text();
    std::vector<PriceLevel> parsed;
    if (!parse_levels_json(raw, &parsed)) return fail<std::vector<PriceLevel>>("depth levels", raw);
    return parsed;
  }

  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }

 private:
  template <class T>
  T fail(const char* what, std::string_view raw) {
    if (error_.empty()) {
      error_ = std::string(table_) + "." + PQfname(result_, index_ - 1) + ": bad " + what + " '" +
               std::string(raw.substr(0, 64)) + "'";
    }
    return T{};
  }

  // PostgreSQL's float4 text: shortest exact digits, or NaN / Infinity / -Infinity.
  static bool parse_float(std::string_view raw, float* value) {
    if (raw == "NaN") {
      *value = std::numeric_limits<float>::quiet_NaN();
    } else if (raw == "Infinity") {
      *value = std::numeric_limits<float>::infinity();
    } else if (raw == "-Infinity") {
      *value = -std::numeric_limits<float>::infinity();
    } else {
      auto [end, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), *value);
      return ec == std::errc() && end == raw.data() + raw.size();
    }
    return true;
  }

  const PGresult* result_;
  int row_;
  const char* table_;
  int index_ = 0;
  std::string error_;
};

// The record builders live in store/row_readers.h (shared with the other backend).
AggTrade read_agg_trade(ColumnReader& r) { return rows::read_agg_trade(r); }
Candle read_candle(ColumnReader& r) { return rows::read_candle(r); }
DepthSnapshot read_depth_snapshot(ColumnReader& r) { return rows::read_depth_snapshot(r); }
IndicatorValue read_indicator(ColumnReader& r) { return rows::read_indicator(r); }
TelemetryEvent read_telemetry(ColumnReader& r) { return rows::read_telemetry(r); }
Trade read_trade(ColumnReader& r) { return rows::read_trade(r); }
WorkflowState read_workflow(ColumnReader& r) { return rows::read_workflow(r); }

std::string int_param(std::int64_t value) {
  return std::to_string(value);
}

// The shortest text that reads back as the same double (finite values).
std::string real_param(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  return std::string(buf, static_cast<std::size_t>(end - buf));
}

GraphRecord read_graph(ColumnReader& r) {
  GraphRecord g;
  g.name = r.string();
  g.kind = r.string();
  g.interval = r.string();
  g.meta = r.string();
  g.created_at = r.real();
  g.node_count = r.int64();
  g.edge_count = r.int64();
  return g;
}

GraphNodeRecord read_graph_node(ColumnReader& r) {
  GraphNodeRecord n;
  n.node_id = r.int64();
  n.time = r.int64();
  n.symbol = r.string();
  n.features = r.real4_array();
  n.direction = static_cast<std::int32_t>(r.int64());
  n.volatility = r.optional_real();
  return n;
}

GraphEdgeRecord read_graph_edge(ColumnReader& r) {
  GraphEdgeRecord e;
  e.src = r.int64();
  e.dst = r.int64();
  e.weight = r.real4();
  e.kind = r.string();
  return e;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Lifecycle

int PostgresStore::latest_schema_version() {
  return kLatestVersion;
}

std::string PostgresStore::redact_dsn(const std::string& dsn) {
  std::string out = dsn;
  std::vector<Span> spans = password_spans(dsn);
  // From the back, so earlier positions stay valid.
  std::sort(spans.begin(), spans.end(), [](Span a, Span b) { return a.pos > b.pos; });
  for (const Span& span : spans) out.replace(span.pos, span.length, kRedacted);
  return out;
}

PostgresStore::PostgresStore(pg_conn* conn, std::string redacted_dsn,
                             std::vector<std::string> secrets)
    : conn_(conn), redacted_dsn_(std::move(redacted_dsn)), secrets_(std::move(secrets)) {}

PostgresStore::~PostgresStore() {
  PQfinish(conn_);
}

StoreResult<std::unique_ptr<PostgresStore>> PostgresStore::open(const std::string& dsn) {
  std::vector<std::string> secrets = dsn_secrets(dsn);
  // Later keywords win over earlier ones and over what the DSN (expanded from "dbname") says:
  // the DSN may override the connect timeout and the application name, never the encoding.
  const char* const keywords[] = {"connect_timeout", "application_name", "dbname",
                                  "client_encoding", nullptr};
  const char* const values[] = {"10", "streamforge", dsn.c_str(), "UTF8", nullptr};
  pg_conn* conn = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (conn == nullptr) {
    return unexpected(make_error(StoreErrc::kOpen, "cannot allocate a PostgreSQL connection"));
  }
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = "cannot connect to PostgreSQL at '" + redact_dsn(dsn) +
                          "': " + scrub(trimmed(PQerrorMessage(conn)), secrets);
    PQfinish(conn);
    return unexpected(make_error(StoreErrc::kOpen, std::move(message)));
  }
  // Notices (e.g. "relation already exists, skipping") would go to stderr by default.
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  std::unique_ptr<PostgresStore> store(
      new PostgresStore(conn, redact_dsn(dsn), std::move(secrets)));
  if (auto r = store->configure_session(); !r) return unexpected(r.error());
  if (auto r = store->migrate(); !r) return unexpected(r.error());
  if (auto r = store->prepare_session(); !r) return unexpected(r.error());
  return store;
}

std::string PostgresStore::connection_message() const {
  return scrub(trimmed(PQerrorMessage(conn_)), secrets_);
}

StoreResult<void> PostgresStore::exec(const char* sql, StoreErrc code, const std::string& what) {
  PgResult result(PQexec(conn_, sql));
  const ExecStatusType status = PQresultStatus(result.get());
  if (result == nullptr || (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)) {
    return unexpected(
        make_error(code, what + ": " + scrub(result_message(conn_, result.get()), secrets_)));
  }
  return {};
}

StoreResult<void> PostgresStore::configure_session() {
  return exec(kSessionSettings, StoreErrc::kOpen, "configuring the PostgreSQL session");
}

StoreResult<void> PostgresStore::migrate() {
  auto fail = [this](std::string message) {
    if (PQtransactionStatus(conn_) != PQTRANS_IDLE) PQclear(PQexec(conn_, "ROLLBACK"));
    return unexpected(make_error(StoreErrc::kMigration, scrub(std::move(message), secrets_)));
  };
  auto run = [this](const char* sql) -> std::optional<std::string> {
    PgResult result(PQexec(conn_, sql));
    const ExecStatusType status = PQresultStatus(result.get());
    if (result != nullptr && (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)) {
      return std::nullopt;
    }
    return result_message(conn_, result.get());
  };
  if (auto error = run("BEGIN")) return fail("starting the migration transaction: " + *error);
  if (auto error = run(kLockMigrations)) return fail("locking the schema for migration: " + *error);
  if (auto error = run(kCreateMigrationsTable))
    return fail("creating schema_migrations: " + *error);

  PgResult version(PQexec(conn_, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"));
  if (PQresultStatus(version.get()) != PGRES_TUPLES_OK || PQntuples(version.get()) != 1) {
    return fail("reading schema_migrations: " + result_message(conn_, version.get()));
  }
  const int current = std::atoi(PQgetvalue(version.get(), 0, 0));
  if (current > kLatestVersion) {
    return fail("database schema version " + std::to_string(current) +
                " is newer than this build supports (" + std::to_string(kLatestVersion) +
                "); use a newer streamforge");
  }
  for (const Migration& migration : kMigrations) {
    if (migration.version <= current) continue;
    if (auto error = run(migration.sql)) {
      return fail("migration " + std::to_string(migration.version) + " (" + migration.description +
                  "): " + *error);
    }
    const std::string record = "INSERT INTO schema_migrations (version, applied_at) VALUES (" +
                               std::to_string(migration.version) + ", " +
                               std::to_string(now_micros()) + ")";
    if (auto error = run(record.c_str())) return fail("recording migration: " + *error);
  }
  if (auto error = run("COMMIT")) return fail("committing migrations: " + *error);
  return {};
}

StoreResult<void> PostgresStore::prepare_session() {
  for (std::size_t table = 0; table < std::size(kTables); ++table) {
    if (auto r = exec(table_sql(table).create_staging.c_str(), StoreErrc::kOpen,
                      std::string("creating the staging table of ") + kTables[table].table);
        !r)
      return r;
  }
  for (const auto& statements : {read_statements(), graph_statements()}) {
    for (const auto& [name, sql] : statements) {
      PgResult result(PQprepare(conn_, name, sql.c_str(), 0, nullptr));
      if (PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
        return unexpected(
            make_error(StoreErrc::kOpen, std::string("preparing ") + name + ": " +
                                             scrub(result_message(conn_, result.get()), secrets_)));
      }
    }
  }
  return {};
}

StoreResult<void> PostgresStore::ensure_connected(StoreErrc code) {
  if (PQstatus(conn_) == CONNECTION_OK) return {};
  PQreset(conn_);
  if (PQstatus(conn_) != CONNECTION_OK) {
    return unexpected(make_error(
        code, "reconnecting to PostgreSQL at '" + redacted_dsn_ + "': " + connection_message()));
  }
  auto ready = configure_session();
  if (ready) ready = prepare_session();
  if (!ready) return unexpected(make_error(code, "after reconnecting: " + ready.error().message));
  return {};
}

// ---------------------------------------------------------------------------------------------
// Writes

StoreError PostgresStore::rollback_with(StoreErrc code, std::string message) {
  if (PQstatus(conn_) == CONNECTION_OK && PQtransactionStatus(conn_) != PQTRANS_IDLE) {
    PQclear(PQexec(conn_, "ROLLBACK"));
  }
  return make_error(code, scrub(std::move(message), secrets_));
}

struct PostgresStore::CopyOutcome {
  bool ok = true;
  std::string sqlstate;  // of the failure, e.g. "23505" for a unique violation
  std::string message;
};

template <class Row, class FormatRow>
PostgresStore::CopyOutcome PostgresStore::copy_rows(const std::string& copy_sql,
                                                    std::span<const Row> batch,
                                                    FormatRow& format_row, bool formatted) {
  auto failure = [this](const PGresult* result) {
    const char* sqlstate =
        result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
    return CopyOutcome{false, sqlstate != nullptr ? sqlstate : "", result_message(conn_, result)};
  };
  {
    PgResult copy(PQexec(conn_, copy_sql.c_str()));
    if (PQresultStatus(copy.get()) != PGRES_COPY_IN) return failure(copy.get());
  }
  bool sent = true;
  std::size_t sent_bytes = 0;
  auto send_from = [&](std::size_t end) {
    if (sent && end > sent_bytes) {
      sent = PQputCopyData(conn_, copy_buffer_.data() + sent_bytes,
                           static_cast<int>(end - sent_bytes)) == 1;
    }
    sent_bytes = end;
  };
  if (formatted) {
    // A retry: the batch is still in the buffer.
    for (std::size_t end = 0; end < copy_buffer_.size();) {
      end = std::min(end + kCopyChunkBytes, copy_buffer_.size());
      send_from(end);
    }
  } else {
    copy_buffer_.clear();
    CopyRow row(&copy_buffer_);
    for (const Row& value : batch) {
      row.begin();
      format_row(row, value);
      row.end();
      if (copy_buffer_.size() - sent_bytes >= kCopyChunkBytes) send_from(copy_buffer_.size());
    }
    send_from(copy_buffer_.size());
  }
  // Failing to send leaves the connection broken; ending the COPY with a reason aborts it where
  // the connection still works.
  std::string send_error = sent ? std::string() : connection_message();
  if (PQputCopyEnd(conn_, sent ? nullptr : "sending COPY data failed") != 1) {
    return CopyOutcome{false, "", connection_message()};
  }
  PgResult result(PQgetResult(conn_));
  CopyOutcome outcome;
  if (!sent) {
    outcome = CopyOutcome{false, "", send_error};
  } else if (PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
    outcome = failure(result.get());
  }
  // Drain: libpq hands out a null result once the command is complete.
  while (PGresult* extra = PQgetResult(conn_)) PQclear(extra);
  return outcome;
}

template <class Row, class FormatRow>
StoreResult<std::size_t> PostgresStore::write_batch(std::size_t table, std::span<const Row> batch,
                                                    FormatRow format_row) {
  static_assert(std::size(kTables) == std::tuple_size_v<decltype(merge_only_batches_)>);
  if (batch.empty()) return std::size_t{0};
  if (auto r = ensure_connected(StoreErrc::kWrite); !r) return unexpected(r.error());
  const TableSql& sql = table_sql(table);
  const std::string what = std::string("writing ") + kTables[table].table;
  // The formatted batch is kept for a retry, but a huge one's memory is not kept for good.
  struct ReleaseHugeBuffer {
    std::string& buffer;
    ~ReleaseHugeBuffer() {
      if (buffer.capacity() > kCopyBufferKeepBytes) std::string().swap(buffer);
    }
  } release_huge_buffer{copy_buffer_};

  // Fast path: one COPY straight into the table, a transaction of its own (all or nothing). It
  // fails on the first key the table (or the batch) already has; then nothing was written and
  // the batch goes the merge way.
  bool formatted = false;
  if (kTables[table].append_mostly && merge_only_batches_[table] == 0) {
    CopyOutcome direct = copy_rows(sql.copy_direct, batch, format_row, false);
    if (direct.ok) return batch.size();
    if (direct.sqlstate != kUniqueViolation) {
      return unexpected(rollback_with(StoreErrc::kWrite, what + ": " + direct.message));
    }
    merge_only_batches_[table] = kMergeOnlyBatchesAfterConflict;
    formatted = true;
  } else if (merge_only_batches_[table] > 0) {
    --merge_only_batches_[table];
  }

  // Merge path, one transaction: COPY into the staging table, then upsert from it.
  if (auto r = exec("BEGIN", StoreErrc::kWrite, what + ": BEGIN"); !r) {
    return unexpected(rollback_with(StoreErrc::kWrite, r.error().message));
  }
  if (CopyOutcome staged = copy_rows(sql.copy_staging, batch, format_row, formatted); !staged.ok) {
    return unexpected(rollback_with(StoreErrc::kWrite, what + ": " + staged.message));
  }
  {
    PgResult merged(PQexec(conn_, sql.merge.c_str()));
    if (PQresultStatus(merged.get()) != PGRES_COMMAND_OK) {
      return unexpected(
          rollback_with(StoreErrc::kWrite, what + ": " + result_message(conn_, merged.get())));
    }
  }
  PgResult commit(PQexec(conn_, "COMMIT"));
  // A COMMIT of a transaction the server had already aborted reports success as "ROLLBACK".
  if (PQresultStatus(commit.get()) != PGRES_COMMAND_OK ||
      std::strcmp(PQcmdStatus(commit.get()), "COMMIT") != 0) {
    return unexpected(rollback_with(StoreErrc::kWrite,
                                    what + ": COMMIT: " + result_message(conn_, commit.get())));
  }
  return batch.size();
}

StoreResult<std::size_t> PostgresStore::upsert_trades(std::span<const Trade> batch) {
  std::lock_guard lock(mutex_);
  return write_batch(kTradesTable, batch, [](CopyRow& r, const Trade& t) {
    r.symbol(t.symbol)
        .int64(t.trade_id)
        .decimal(t.price)
        .decimal(t.quantity)
        .int64(t.trade_time)
        .int64(t.event_time)
        .int64(t.receive_time)
        .boolean(t.is_buyer_maker)
        .optional_boolean(t.is_best_match);
  });
}

StoreResult<std::size_t> PostgresStore::upsert_agg_trades(std::span<const AggTrade> batch) {
  std::lock_guard lock(mutex_);
  return write_batch(kAggTradesTable, batch, [](CopyRow& r, const AggTrade& t) {
    r.symbol(t.symbol)
        .int64(t.agg_trade_id)
        .decimal(t.price)
        .decimal(t.quantity)
        .int64(t.first_trade_id)
        .int64(t.last_trade_id)
        .int64(t.trade_time)
        .int64(t.event_time)
        .int64(t.receive_time)
        .boolean(t.is_buyer_maker)
        .optional_boolean(t.is_best_match);
  });
}

StoreResult<std::size_t> PostgresStore::upsert_candles(std::span<const Candle> batch) {
  std::lock_guard lock(mutex_);
  return write_batch(kCandlesTable, batch, [](CopyRow& r, const Candle& c) {
    r.symbol(c.symbol)
        .interval(c.interval)
        .int64(c.open_time)
        .decimal(c.open)
        .decimal(c.high)
        .decimal(c.low)
        .decimal(c.close)
        .decimal(c.volume)
        .int64(c.close_time)
        .decimal(c.quote_asset_volume)
        .int64(c.number_of_trades)
        .decimal(c.taker_buy_base_asset_volume)
        .decimal(c.taker_buy_quote_asset_volume)
        .decimal(c.ignore)
        .int64(c.first_trade_id)
        .int64(c.last_trade_id)
        .boolean(c.is_closed)
        .int64(c.event_time)
        .int64(c.receive_time);
  });
}

StoreResult<std::size_t> PostgresStore::upsert_depth_snapshots(
    std::span<const DepthSnapshot> batch) {
  std::lock_guard lock(mutex_);
  // Reused across rows: its capacity grows to the largest book and then stays.
  std::string levels_json;
  return write_batch(kDepthSnapshotsTable, batch, [&](CopyRow& r, const DepthSnapshot& d) {
    r.symbol(d.symbol).int64(d.last_update_id);
    levels_json.clear();
    append_levels_json(d.bids, &levels_json);
    r.json(levels_json);
    levels_json.clear();
    append_levels_json(d.asks, &levels_json);
    r.json(levels_json).boolean(d.is_partial).int64(d.event_time).int64(d.receive_time);
  });
}

StoreResult<std::size_t> PostgresStore::upsert_indicators(std::span<const IndicatorValue> batch) {
  std::lock_guard lock(mutex_);
  return write_batch(kIndicatorsTable, batch, [](CopyRow& r, const IndicatorValue& v) {
    r.symbol(v.symbol).interval(v.interval).text(v.name).int64(v.open_time).real(v.value);
  });
}

StoreResult<std::size_t> PostgresStore::append_telemetry(std::span<const TelemetryEvent> batch) {
  std::lock_guard lock(mutex_);
  return write_batch(kTelemetryTable, batch, [](CopyRow& r, const TelemetryEvent& e) {
    r.text(e.queue_id)
        .text(e.producer)
        .text(e.symbol)
        .text(e.type)
        .text(e.status)
        .text(e.message)
        .int64(e.records_written)
        .boolean(e.finished)
        .real(e.timestamp)
        .text(e.extra);
  });
}

StoreResult<void> PostgresStore::upsert_workflow(const WorkflowState& state) {
  std::lock_guard lock(mutex_);
  auto written = write_batch(
      kWorkflowsTable, std::span<const WorkflowState>(&state, 1),
      [](CopyRow& r, const WorkflowState& w) {
        r.text(w.queue_id).text(w.status).text(w.definition).real(w.created_at).real(w.updated_at);
      });
  if (!written) return unexpected(written.error());
  return {};
}

// ---------------------------------------------------------------------------------------------
// Reads

template <class T, class ReadRow>
StoreResult<std::vector<T>> PostgresStore::query(const char* statement, const char* table,
                                                 std::initializer_list<std::string> params,
                                                 ReadRow read_row) {
  if (auto r = ensure_connected(StoreErrc::kRead); !r) return unexpected(r.error());
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const std::string& param : params) values.push_back(param.c_str());
  PgResult result(PQexecPrepared(conn_, statement, static_cast<int>(values.size()), values.data(),
                                 nullptr, nullptr, /*resultFormat=text*/ 0));
  if (PQresultStatus(result.get()) != PGRES_TUPLES_OK) {
    return unexpected(
        make_error(StoreErrc::kRead, std::string("reading ") + table + ": " +
                                         scrub(result_message(conn_, result.get()), secrets_)));
  }
  const int rows = PQntuples(result.get());
  std::vector<T> out;
  out.reserve(static_cast<std::size_t>(rows));
  for (int i = 0; i < rows; ++i) {
    ColumnReader reader(result.get(), i, table);
    T row = read_row(reader);
    if (reader.failed()) return unexpected(make_error(StoreErrc::kCorrupt, reader.error()));
    out.push_back(std::move(row));
  }
  return out;
}

StoreResult<std::vector<Trade>> PostgresStore::trades(const Symbol& symbol, TimeRange range) {
  std::lock_guard lock(mutex_);
  return query<Trade>("select_trades", "trades",
                      {symbol.str(), int_param(range.from), int_param(range.to)}, read_trade);
}

StoreResult<std::vector<AggTrade>> PostgresStore::agg_trades(const Symbol& symbol,
                                                             TimeRange range) {
  std::lock_guard lock(mutex_);
  return query<AggTrade>("select_agg_trades", "agg_trades",
                         {symbol.str(), int_param(range.from), int_param(range.to)},
                         read_agg_trade);
}

StoreResult<std::vector<Candle>> PostgresStore::candles(const Symbol& symbol, Interval interval,
                                                        TimeRange range) {
  std::lock_guard lock(mutex_);
  return query<Candle>("select_candles", "candles",
                       {symbol.str(), std::string(interval_name(interval)), int_param(range.from),
                        int_param(range.to)},
                       read_candle);
}

StoreResult<std::vector<DepthSnapshot>> PostgresStore::depth_snapshots(const Symbol& symbol,
                                                                       std::int64_t from_id,
                                                                       std::int64_t to_id) {
  std::lock_guard lock(mutex_);
  return query<DepthSnapshot>("select_depth_snapshots", "depth_snapshots",
                              {symbol.str(), int_param(from_id), int_param(to_id)},
                              read_depth_snapshot);
}

StoreResult<std::vector<IndicatorValue>> PostgresStore::indicators(const Symbol& symbol,
                                                                   Interval interval,
                                                                   const std::string& name,
                                                                   TimeRange range) {
  std::lock_guard lock(mutex_);
  return query<IndicatorValue>("select_indicators", "indicators",
                               {symbol.str(), std::string(interval_name(interval)), name,
                                int_param(range.from), int_param(range.to)},
                               read_indicator);
}

StoreResult<std::vector<TelemetryEvent>> PostgresStore::telemetry(const std::string& queue_id) {
  std::lock_guard lock(mutex_);
  return query<TelemetryEvent>("select_telemetry", "telemetry", {queue_id}, read_telemetry);
}

StoreResult<std::optional<WorkflowState>> PostgresStore::workflow(const std::string& queue_id) {
  std::lock_guard lock(mutex_);
  auto rows = query<WorkflowState>("select_workflow", "workflows", {queue_id}, read_workflow);
  if (!rows) return unexpected(rows.error());
  if (rows->empty()) return std::optional<WorkflowState>();
  return std::optional<WorkflowState>(std::move(rows->front()));
}

StoreResult<std::vector<WorkflowState>> PostgresStore::workflows() {
  std::lock_guard lock(mutex_);
  return query<WorkflowState>("select_workflows", "workflows", {}, read_workflow);
}

StoreResult<std::optional<bool>> PostgresStore::has_symbol(const Symbol& symbol) {
  std::lock_guard lock(mutex_);
  auto rows = query<bool>("select_has_symbol", "market tables", {std::string(symbol.view())},
                          [](ColumnReader& r) { return r.boolean(); });
  if (!rows) return unexpected(rows.error());
  return std::optional<bool>(!rows->empty() && rows->front());
}

StoreResult<int> PostgresStore::schema_version() {
  std::lock_guard lock(mutex_);
  auto rows = query<std::int64_t>("select_schema_version", "schema_migrations", {},
                                  [](ColumnReader& r) { return r.int64(); });
  if (!rows) return unexpected(rows.error());
  if (rows->size() != 1) {
    return unexpected(make_error(StoreErrc::kRead, "reading schema_migrations: no row"));
  }
  return static_cast<int>(rows->front());
}

StoreResult<std::vector<std::pair<std::string, std::string>>> PostgresStore::read_query_plans() {
  std::lock_guard lock(mutex_);
  if (auto r = ensure_connected(StoreErrc::kRead); !r) return unexpected(r.error());
  const std::pair<const char*, const char*> queries[] = {
      {"trades", "select_trades('BTCUSDT', 0, 1)"},
      {"agg_trades", "select_agg_trades('BTCUSDT', 0, 1)"},
      {"candles", "select_candles('BTCUSDT', '1m', 0, 1)"},
      {"depth_snapshots", "select_depth_snapshots('BTCUSDT', 0, 1)"},
      {"indicators", "select_indicators('BTCUSDT', '1m', 'rsi_14', 0, 1)"},
      {"telemetry", "select_telemetry('q1')"},
      {"workflow", "select_workflow('q1')"},
      {"workflows", "select_workflows"},
  };
  // SET LOCAL: the settings end with the transaction, which changes nothing else.
  if (auto r = exec("BEGIN; SET LOCAL enable_seqscan = off; SET LOCAL enable_sort = off",
                    StoreErrc::kRead, "explaining reads");
      !r) {
    return unexpected(rollback_with(StoreErrc::kRead, r.error().message));
  }
  std::vector<std::pair<std::string, std::string>> plans;
  for (const auto& [name, execute] : queries) {
    const std::string sql = std::string("EXPLAIN (COSTS OFF) EXECUTE ") + execute;
    PgResult result(PQexec(conn_, sql.c_str()));
    if (PQresultStatus(result.get()) != PGRES_TUPLES_OK) {
      return unexpected(rollback_with(StoreErrc::kRead, std::string("explaining ") + name + ": " +
                                                            result_message(conn_, result.get())));
    }
    std::string plan;
    for (int row = 0; row < PQntuples(result.get()); ++row) {
      if (!plan.empty()) plan += "; ";
      std::string_view line = PQgetvalue(result.get(), row, 0);
      while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
      plan += line;
    }
    plans.emplace_back(name, std::move(plan));
  }
  PQclear(PQexec(conn_, "ROLLBACK"));
  return plans;
}

// ---------------------------------------------------------------------------------------------
// Graphs

StoreResult<void> PostgresStore::exec_prepared(const char* statement,
                                               std::initializer_list<std::string> params,
                                               StoreErrc code, const std::string& what) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const std::string& param : params) values.push_back(param.c_str());
  PgResult result(PQexecPrepared(conn_, statement, static_cast<int>(values.size()), values.data(),
                                 nullptr, nullptr, /*resultFormat=text*/ 0));
  const ExecStatusType status = PQresultStatus(result.get());
  if (result == nullptr || (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)) {
    return unexpected(
        make_error(code, what + ": " + scrub(result_message(conn_, result.get()), secrets_)));
  }
  return {};
}

// One transaction: the old graph of that name goes (its edges, then the row and, by cascade, its
// nodes), the new one's row is inserted and its nodes and edges are COPYed in written order.
StoreResult<void> PostgresStore::replace_graph(const GraphRecord& graph) {
  if (auto ok = check_graph(graph); !ok) return ok;
  std::lock_guard lock(mutex_);
  if (auto r = ensure_connected(StoreErrc::kWrite); !r) return unexpected(r.error());
  const std::string what = "writing graph '" + graph.name + "'";
  struct ReleaseHugeBuffer {
    std::string& buffer;
    ~ReleaseHugeBuffer() {
      if (buffer.capacity() > kCopyBufferKeepBytes) std::string().swap(buffer);
    }
  } release_huge_buffer{copy_buffer_};

  if (auto r = exec("BEGIN", StoreErrc::kWrite, what + ": BEGIN"); !r) {
    return unexpected(rollback_with(StoreErrc::kWrite, r.error().message));
  }
  for (const char* statement : {"lock_graph", "delete_graph_edges", "delete_graph"}) {
    if (auto r = exec_prepared(statement, {graph.name}, StoreErrc::kWrite, what); !r) {
      return unexpected(rollback_with(StoreErrc::kWrite, r.error().message));
    }
  }
  if (auto r = exec_prepared(
          "insert_graph",
          {graph.name, graph.kind, graph.interval, graph.meta, real_param(graph.created_at),
           int_param(static_cast<std::int64_t>(graph.nodes.size())),
           int_param(static_cast<std::int64_t>(graph.edges.size()))},
          StoreErrc::kWrite, what);
      !r) {
    return unexpected(rollback_with(StoreErrc::kWrite, r.error().message));
  }

  const std::span<const GraphNodeRecord> nodes(graph.nodes);
  auto format_node = [&](CopyRow& r, const GraphNodeRecord& n) {
    r.text(graph.name)
        .int64(&n - nodes.data())
        .int64(n.node_id)
        .int64(n.time)
        .text(n.symbol)
        .real4_array(n.features)
        .int64(n.direction)
        .optional_real(n.volatility);
  };
  static const std::string copy_nodes =
      std::string("COPY graph_nodes (") + kGraphNodeColumns + ") FROM STDIN";
  if (CopyOutcome copied = copy_rows(copy_nodes, nodes, format_node, false); !copied.ok) {
    return unexpected(rollback_with(StoreErrc::kWrite, what + ": nodes: " + copied.message));
  }

  const std::span<const GraphEdgeRecord> edges(graph.edges);
  auto format_edge = [&](CopyRow& r, const GraphEdgeRecord& e) {
    r.text(graph.name)
        .int64(&e - edges.data())
        .int64(e.src)
        .int64(e.dst)
        .real4(e.weight)
        .text(e.kind);
  };
  static const std::string copy_edges =
      std::string("COPY graph_edges (") + kGraphEdgeColumns + ") FROM STDIN";
  if (CopyOutcome copied = copy_rows(copy_edges, edges, format_edge, false); !copied.ok) {
    return unexpected(rollback_with(StoreErrc::kWrite, what + ": edges: " + copied.message));
  }

  PgResult commit(PQexec(conn_, "COMMIT"));
  // A COMMIT of a transaction the server had already aborted reports success as "ROLLBACK".
  if (PQresultStatus(commit.get()) != PGRES_COMMAND_OK ||
      std::strcmp(PQcmdStatus(commit.get()), "COMMIT") != 0) {
    return unexpected(rollback_with(StoreErrc::kWrite,
                                    what + ": COMMIT: " + result_message(conn_, commit.get())));
  }
  return {};
}

// The graph row, nodes and edges are read in one REPEATABLE READ transaction, so a replacement
// committed meanwhile is seen entirely or not at all.
StoreResult<std::optional<GraphRecord>> PostgresStore::graph(const std::string& name) {
  std::lock_guard lock(mutex_);
  if (auto r = ensure_connected(StoreErrc::kRead); !r) return unexpected(r.error());
  const std::string what = "reading graph '" + name + "'";
  if (auto r = exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", StoreErrc::kRead,
                    what + ": BEGIN");
      !r) {
    return unexpected(rollback_with(StoreErrc::kRead, r.error().message));
  }
  auto fail = [this](const StoreError& error) {
    return unexpected(rollback_with(error.code, error.message));
  };
  auto rows = query<GraphRecord>("select_graph", "graphs", {name}, read_graph);
  if (!rows) return fail(rows.error());
  std::optional<GraphRecord> out;
  if (!rows->empty()) {
    out = std::move(rows->front());
    auto nodes =
        query<GraphNodeRecord>("select_graph_nodes", "graph_nodes", {name}, read_graph_node);
    if (!nodes) return fail(nodes.error());
    auto edges =
        query<GraphEdgeRecord>("select_graph_edges", "graph_edges", {name}, read_graph_edge);
    if (!edges) return fail(edges.error());
    out->nodes = std::move(*nodes);
    out->edges = std::move(*edges);
  }
  // A connection lost and re-established between the reads would have left the transaction.
  if (PQtransactionStatus(conn_) != PQTRANS_INTRANS) {
    return fail(make_error(StoreErrc::kRead, what + ": the connection was lost"));
  }
  if (auto r = exec("COMMIT", StoreErrc::kRead, what + ": COMMIT"); !r) return fail(r.error());
  return out;
}

StoreResult<std::vector<GraphRecord>> PostgresStore::graphs() {
  std::lock_guard lock(mutex_);
  return query<GraphRecord>("select_graphs", "graphs", {}, read_graph);
}

}  // namespace sf::store
