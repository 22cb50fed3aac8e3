// The recorded market data that exchange-sim serves, indexed once at startup.
//
// A data directory is searched recursively for files named as Binance names them (CSV files
// plain, .zip or .csv.gz):
//   SYMBOL-INTERVAL-*.csv   klines (12 columns, no header; data.binance.vision / REST layout)
//   SYMBOL-aggTrades-*.csv  aggregate trades (8 columns)
//   SYMBOL-trades-*.csv     trades (7 columns)
//   SYMBOL-depth-*.json     one REST /api/v3/depth body (order-book snapshot)
//   *.json                  an /api/v3/exchangeInfo body (recognised by content; the symbols of
//                           every such file are merged, the newest file winning)
// Anything else is skipped. Rows keep the original text of every decimal field, so responses
// carry strings byte-identical to the source files. Each series is sorted by open time / id and
// overlapping files are de-duplicated by that key.
//
// Every row is pre-rendered as its JSON response element with the time fields cut out: a request
// only copies slices and writes the times in the unit the client asked for.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/interval.h"
#include "core/result.h"
#include "core/time.h"

namespace sf::services::exchange_sim {

// One kline or trade, pre-rendered.
struct SeriesRow {
  std::int64_t id = 0;            // aggregate/trade id; open time (µs) for klines
  TimestampUs time_us = 0;        // trade time or open time
  TimestampUs close_time_us = 0;  // klines only
  std::int64_t trade_count = 0;   // klines only: decides between duplicate rows
  // The JSON element without its time fields; `time_at` (and for klines `close_time_at`) are the
  // offsets where they go.
  std::string json;
  std::uint32_t time_at = 0;
  std::uint32_t close_time_at = 0;
  bool has_close_time = false;

  // Appends the element with its times in ms (Binance's default) or µs.
  void render(std::string& out, bool microseconds) const;
};

struct DepthBook {
  std::int64_t last_update_id = 0;
  // Pre-rendered ["price","qty"] pairs, in the snapshot's order (bids best first, asks best
  // first).
  std::vector<std::string> bids;
  std::vector<std::string> asks;
  std::string source_file;
};

struct SymbolInfoEntry {
  std::string name;
  std::string status;                    // TRADING, HALT, BREAK, ...
  std::vector<std::string> permissions;  // "permissions" and every "permissionSets" entry
  std::string json;                      // the symbol object, minified, as in the source
};

struct ExchangeInfoData {
  std::vector<SymbolInfoEntry> symbols;  // first-seen order (Binance's)
  std::map<std::string, std::size_t, std::less<>> by_name;
  std::string exchange_filters_json = "[]";  // from the newest file
  std::string all_symbols_json = "[]";       // every symbol, pre-joined for unfiltered requests
  std::int64_t newest_server_time_ms = 0;

  const SymbolInfoEntry* find(std::string_view name) const;
};

struct DataIndexStats {
  std::size_t files_indexed = 0;
  std::size_t files_skipped = 0;
  std::size_t bad_rows = 0;        // rows that failed to parse (logged per file)
  std::size_t duplicate_rows = 0;  // rows dropped because another file had the same key
  std::size_t kline_rows = 0;
  std::size_t agg_trade_rows = 0;
  std::size_t trade_rows = 0;
  std::size_t depth_books = 0;
  std::size_t exchange_info_symbols = 0;
};

class DataIndex {
 public:
  // Indexes `dir` recursively. Fails if the directory cannot be read or a data file cannot be
  // opened; malformed rows are counted and skipped.
  static Result<std::unique_ptr<DataIndex>, std::string> load(const std::string& dir);

  // nullptr when the data has no such series.
  const std::vector<SeriesRow>* klines(std::string_view symbol, Interval interval) const;
  const std::vector<SeriesRow>* agg_trades(std::string_view symbol) const;
  const std::vector<SeriesRow>* trades(std::string_view symbol) const;
  const DepthBook* depth(std::string_view symbol) const;

  // A symbol of any exchangeInfo file or of any data file.
  bool knows_symbol(std::string_view symbol) const;
  const ExchangeInfoData& exchange_info() const { return exchange_info_; }
  const DataIndexStats& stats() const { return stats_; }
  // Symbols that have at least one data series, sorted.
  std::vector<std::string> data_symbols() const;

 private:
  struct SymbolData {
    std::map<Interval, std::vector<SeriesRow>> klines;
    std::vector<SeriesRow> agg_trades;
    std::vector<SeriesRow> trades;
    std::optional<DepthBook> depth;
  };
  friend class DataIndexLoader;

  const SymbolData* find(std::string_view symbol) const;

  std::map<std::string, SymbolData, std::less<>> symbols_;
  ExchangeInfoData exchange_info_;
  DataIndexStats stats_;
};

}  // namespace sf::services::exchange_sim
