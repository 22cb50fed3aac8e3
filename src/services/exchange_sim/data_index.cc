#include "services/exchange_sim/data_index.h"

#include <simdjson.h>

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "core/decimal.h"
#include "core/json_balance.h"
#include "exchange/binance/parse.h"
#include "runtime/log.h"
#include "tools/normalize.h"

namespace sf::services::exchange_sim {
namespace {

constexpr std::string_view kLogger = "exchange-sim";

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// CSV data files: plain, or compressed the way data.binance.vision ships them.
bool is_csv_file(std::string_view name) {
  return ends_with(name, ".csv") || ends_with(name, ".zip") || ends_with(name, ".csv.gz");
}

// The fields of one CSV row (the row was already validated by the binance:: CSV parser).
std::vector<std::string_view> split_fields(std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
  std::vector<std::string_view> fields;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= line.size(); ++i) {
    if (i == line.size() || line[i] == ',') {
      fields.push_back(line.substr(start, i - start));
      start = i + 1;
    }
  }
  return fields;
}

// Decimal fields were validated by Decimal::parse, so they hold only [-+.0-9] and need no escaping.
void append_quoted(std::string& out, std::string_view decimal_text) {
  out.push_back('"');
  out.append(decimal_text);
  out.push_back('"');
}

void append_int(std::string& out, std::int64_t value) {
  out.append(std::to_string(value));
}

const char* json_bool(bool value) {
  return value ? "true" : "false";
}

// The first line of a file that is not a data row (futures CSVs carry a header); skipped quietly.
bool looks_like_header(std::string_view line, std::uint64_t line_no) {
  return line_no == 1 && !line.empty() && (line[0] < '0' || line[0] > '9');
}

bool is_blank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

std::string minify_json(std::string_view raw) {
  std::string out(raw.size(), '\0');
  std::size_t length = 0;
  if (simdjson::minify(raw.data(), raw.size(), out.data(), length) != simdjson::SUCCESS) {
    return std::string(raw);
  }
  out.resize(length);
  return out;
}

}  // namespace

void SeriesRow::render(std::string& out, bool microseconds) const {
  auto append_time = [&](TimestampUs us) {
    out.append(std::to_string(microseconds ? us : micros_to_millis(us)));
  };
  out.append(json, 0, time_at);
  append_time(time_us);
  if (has_close_time) {
    out.append(json, time_at, close_time_at - time_at);
    append_time(close_time_us);
    out.append(json, close_time_at);
  } else {
    out.append(json, time_at);
  }
}

const SymbolInfoEntry* ExchangeInfoData::find(std::string_view name) const {
  auto it = by_name.find(name);
  return it == by_name.end() ? nullptr : &symbols[it->second];
}

// Builds a DataIndex file by file, then sorts and de-duplicates every series.
class DataIndexLoader {
 public:
  explicit DataIndexLoader(DataIndex& index) : index_(index) {}

  Result<void, std::string> load_dir(const std::string& dir) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) {
      return unexpected("data directory not found: " + dir);
    }
    std::vector<std::filesystem::path> files;
    std::filesystem::recursive_directory_iterator it(
        dir, std::filesystem::directory_options::follow_directory_symlink, ec);
    if (ec) return unexpected("cannot read data directory " + dir + ": " + ec.message());
    for (const auto& entry : it) {
      if (entry.is_regular_file(ec)) files.push_back(entry.path());
    }
    // A fixed order makes de-duplication and the exchangeInfo merge independent of readdir().
    std::sort(files.begin(), files.end());
    for (const auto& path : files) {
      if (auto loaded = load_file(path.string()); !loaded) return loaded;
    }
    finish();
    return {};
  }

 private:
  Result<void, std::string> load_file(const std::string& path) {
    const std::string name = std::filesystem::path(path).filename().string();
    if (name.empty() || name[0] == '.') {
      ++index_.stats_.files_skipped;
      return {};
    }
    const tools::SourceHints hints = tools::hints_from_filename(path);
    using Kind = tools::SourceHints::Kind;
    if (hints.symbol && hints.kind != Kind::kUnknown && is_csv_file(name)) {
      return load_series(path, hints);
    }
    if (ends_with(name, ".json")) {
      if (hints.symbol && name.starts_with(std::string(hints.symbol->view()) + "-depth")) {
        return load_depth(path, hints.symbol->str());
      }
      return load_json_document(path);
    }
    ++index_.stats_.files_skipped;
    return {};
  }

  Result<void, std::string> load_series(const std::string& path, const tools::SourceHints& hints) {
    using Kind = tools::SourceHints::Kind;
    const Symbol symbol = *hints.symbol;
    DataIndex::SymbolData& data = index_.symbols_[symbol.str()];
    std::vector<SeriesRow>* rows = nullptr;
    if (hints.kind == Kind::kKlines) {
      if (!hints.interval) {
        ++index_.stats_.files_skipped;
        return {};
      }
      rows = &data.klines[*hints.interval];
    } else if (hints.kind == Kind::kAggTrades) {
      rows = &data.agg_trades;
    } else {
      rows = &data.trades;
    }
    std::uint64_t line_no = 0;
    std::size_t bad_rows = 0;
    std::string first_error;
    std::string error;
    const bool read = tools::for_each_line(
        path,
        [&](std::string_view line) {
          ++line_no;
          if (is_blank(line) || looks_like_header(line, line_no)) return;
          std::optional<std::string> problem;
          if (hints.kind == Kind::kKlines) {
            problem = add_kline(line, symbol, *hints.interval, *rows);
          } else if (hints.kind == Kind::kAggTrades) {
            problem = add_agg_trade(line, symbol, *rows);
          } else {
            problem = add_trade(line, symbol, *rows);
          }
          if (problem) {
            if (bad_rows++ == 0) first_error = "line " + std::to_string(line_no) + ": " + *problem;
          }
        },
        &error);
    if (!read) return unexpected("cannot read " + path + ": " + error);
    ++index_.stats_.files_indexed;
    if (bad_rows > 0) {
      index_.stats_.bad_rows += bad_rows;
      log::warn(kLogger, "skipped malformed rows",
                {{"file", path}, {"rows", bad_rows}, {"first", first_error}});
    }
    log::debug(kLogger, "indexed", {{"file", path}, {"lines", line_no}});
    return {};
  }

  static std::optional<std::string> add_kline(std::string_view line, const Symbol& symbol,
                                              Interval interval, std::vector<SeriesRow>& rows) {
    auto candle = binance::parse_kline_csv(line, symbol, interval);
    if (!candle) return candle.error().message();
    const auto f = split_fields(line);
    SeriesRow row;
    row.id = candle->open_time;
    row.time_us = candle->open_time;
    row.close_time_us = candle->close_time;
    row.trade_count = candle->number_of_trades;
    row.has_close_time = true;
    std::string& json = row.json;
    json.reserve(line.size() + 24);
    json.push_back('[');
    row.time_at = static_cast<std::uint32_t>(json.size());
    for (std::size_t i = 1; i <= 5; ++i) {
      json.push_back(',');
      append_quoted(json, f[i]);
    }
    json.push_back(',');
    row.close_time_at = static_cast<std::uint32_t>(json.size());
    json.push_back(',');
    append_quoted(json, f[7]);
    json.push_back(',');
    append_int(json, candle->number_of_trades);
    for (std::size_t i = 9; i <= 11; ++i) {
      json.push_back(',');
      append_quoted(json, f[i]);
    }
    json.push_back(']');
    rows.push_back(std::move(row));
    return std::nullopt;
  }

  static std::optional<std::string> add_agg_trade(std::string_view line, const Symbol& symbol,
                                                  std::vector<SeriesRow>& rows) {
    auto trade = binance::parse_agg_trade_csv(line, symbol);
    if (!trade) return trade.error().message();
    const auto f = split_fields(line);
    SeriesRow row;
    row.id = trade->agg_trade_id;
    row.time_us = trade->trade_time;
    std::string& json = row.json;
    json.reserve(line.size() + 48);
    json.append("{\"a\":");
    append_int(json, trade->agg_trade_id);
    json.append(",\"p\":");
    append_quoted(json, f[1]);
    json.append(",\"q\":");
    append_quoted(json, f[2]);
    json.append(",\"f\":");
    append_int(json, trade->first_trade_id);
    json.append(",\"l\":");
    append_int(json, trade->last_trade_id);
    json.append(",\"T\":");
    row.time_at = static_cast<std::uint32_t>(json.size());
    json.append(",\"m\":").append(json_bool(trade->is_buyer_maker));
    json.append(",\"M\":").append(json_bool(trade->is_best_match.value_or(true)));
    json.push_back('}');
    rows.push_back(std::move(row));
    return std::nullopt;
  }

  static std::optional<std::string> add_trade(std::string_view line, const Symbol& symbol,
                                              std::vector<SeriesRow>& rows) {
    auto trade = binance::parse_trade_csv(line, symbol);
    if (!trade) return trade.error().message();
    const auto f = split_fields(line);
    SeriesRow row;
    row.id = trade->trade_id;
    row.time_us = trade->trade_time;
    std::string& json = row.json;
    json.reserve(line.size() + 80);
    json.append("{\"id\":");
    append_int(json, trade->trade_id);
    json.append(",\"price\":");
    append_quoted(json, f[1]);
    json.append(",\"qty\":");
    append_quoted(json, f[2]);
    json.append(",\"quoteQty\":");
    append_quoted(json, f[3]);
    json.append(",\"time\":");
    row.time_at = static_cast<std::uint32_t>(json.size());
    json.append(",\"isBuyerMaker\":").append(json_bool(trade->is_buyer_maker));
    json.append(",\"isBestMatch\":").append(json_bool(trade->is_best_match.value_or(true)));
    json.push_back('}');
    rows.push_back(std::move(row));
    return std::nullopt;
  }

  // A REST /api/v3/depth body saved as SYMBOL-depth-*.json. Of several, the newest book wins.
  Result<void, std::string> load_depth(const std::string& path, const std::string& symbol) {
    std::string text;
    std::string error;
    if (!tools::read_all(path, &text, &error))
      return unexpected("cannot read " + path + ": " + error);
    DepthBook book;
    book.source_file = path;
    simdjson::ondemand::parser parser;
    simdjson::padded_string padded(text);
    auto parsed = [&]() -> bool {
      simdjson::ondemand::document doc;
      if (!json_balanced(text) || parser.iterate(padded).get(doc)) return false;
      simdjson::ondemand::object root;
      if (doc.get_object().get(root)) return false;
      bool has_id = false;
      for (auto field : root) {
        std::string_view key;
        if (field.unescaped_key().get(key)) return false;
        if (key == "lastUpdateId") {
          if (field.value().get_int64().get(book.last_update_id)) return false;
          has_id = true;
        } else if (key == "bids" || key == "asks") {
          if (!read_levels(field.value(), key == "bids" ? book.bids : book.asks)) return false;
        }
      }
      return has_id;
    }();
    if (!parsed) {
      ++index_.stats_.files_skipped;
      log::warn(kLogger, "not a depth snapshot, skipped", {{"file", path}});
      return {};
    }
    ++index_.stats_.files_indexed;
    auto& slot = index_.symbols_[symbol].depth;
    if (!slot || slot->last_update_id < book.last_update_id) slot = std::move(book);
    return {};
  }

  static bool read_levels(simdjson::ondemand::value value, std::vector<std::string>& levels) {
    simdjson::ondemand::array array;
    if (value.get_array().get(array)) return false;
    for (auto level_value : array) {
      simdjson::ondemand::array level;
      if (level_value.get_array().get(level)) return false;
      std::string rendered = "[";
      int count = 0;
      for (auto part : level) {
        std::string_view text;
        if (part.get_string().get(text) || !Decimal::parse(text)) return false;
        if (count++ > 0) rendered.push_back(',');
        append_quoted(rendered, text);
      }
      if (count != 2) return false;
      rendered.push_back(']');
      levels.push_back(std::move(rendered));
    }
    return true;
  }

  // Any *.json: indexed when it is an exchangeInfo body, skipped otherwise.
  Result<void, std::string> load_json_document(const std::string& path) {
    std::string text;
    std::string error;
    if (!tools::read_all(path, &text, &error))
      return unexpected("cannot read " + path + ": " + error);
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string::npos || text[first] != '{') {
      ++index_.stats_.files_skipped;
      return {};
    }
    simdjson::ondemand::parser parser;
    simdjson::padded_string padded(text);
    std::int64_t server_time = 0;
    std::string exchange_filters;
    std::vector<std::string_view> raw_symbols;
    bool has_symbols = false;
    auto parsed = [&]() -> bool {
      simdjson::ondemand::document doc;
      if (!json_balanced(text) || parser.iterate(padded).get(doc)) return false;
      simdjson::ondemand::object root;
      if (doc.get_object().get(root)) return false;
      for (auto field : root) {
        std::string_view key;
        if (field.unescaped_key().get(key)) return false;
        if (key == "serverTime") {
          if (field.value().get_int64().get(server_time)) return false;
        } else if (key == "exchangeFilters") {
          simdjson::ondemand::array filters;
          std::string_view raw;
          if (field.value().get_array().get(filters) || filters.raw_json().get(raw)) return false;
          exchange_filters = minify_json(raw);
        } else if (key == "symbols") {
          simdjson::ondemand::array symbols;
          if (field.value().get_array().get(symbols)) return false;
          has_symbols = true;
          for (auto element : symbols) {
            simdjson::ondemand::object symbol;
            std::string_view raw;
            if (element.get_object().get(symbol) || symbol.raw_json().get(raw)) return false;
            raw_symbols.push_back(raw);
          }
        }
      }
      return true;
    }();
    if (!parsed || !has_symbols) {
      ++index_.stats_.files_skipped;
      if (!parsed) log::debug(kLogger, "json file skipped (not exchangeInfo)", {{"file", path}});
      return {};
    }
    std::size_t added = 0;
    for (std::string_view raw : raw_symbols) {
      auto entry = symbol_entry(raw);
      if (!entry) {
        log::warn(kLogger, "exchangeInfo symbol skipped",
                  {{"file", path}, {"error", entry.error()}});
        continue;
      }
      merge_symbol(std::move(entry).value(), server_time);
      ++added;
    }
    if (server_time >= index_.exchange_info_.newest_server_time_ms) {
      index_.exchange_info_.newest_server_time_ms = server_time;
      if (!exchange_filters.empty()) index_.exchange_info_.exchange_filters_json = exchange_filters;
    }
    ++index_.stats_.files_indexed;
    log::debug(kLogger, "indexed exchangeInfo", {{"file", path}, {"symbols", added}});
    return {};
  }

  static Result<SymbolInfoEntry, std::string> symbol_entry(std::string_view raw) {
    SymbolInfoEntry entry;
    entry.json = minify_json(raw);
    simdjson::ondemand::parser parser;
    simdjson::padded_string padded(entry.json);
    simdjson::ondemand::document doc;
    simdjson::ondemand::object object;
    if (!json_balanced(entry.json) || parser.iterate(padded).get(doc) ||
        doc.get_object().get(object)) {
      return unexpected(std::string("not an object"));
    }
    for (auto field : object) {
      std::string_view key;
      if (field.unescaped_key().get(key)) return unexpected(std::string("bad key"));
      std::string_view text;
      if (key == "symbol") {
        if (field.value().get_string().get(text)) return unexpected(std::string("bad 'symbol'"));
        entry.name = std::string(text);
      } else if (key == "status") {
        if (field.value().get_string().get(text)) return unexpected(std::string("bad 'status'"));
        entry.status = std::string(text);
      } else if (key == "permissions" || key == "permissionSets") {
        // permissions: ["SPOT","MARGIN"]; permissionSets (2024+): [["SPOT","MARGIN"],[...]].
        simdjson::ondemand::array outer;
        if (field.value().get_array().get(outer)) continue;
        for (auto item : outer) {
          simdjson::ondemand::array inner;
          if (item.get_string().get(text) == simdjson::SUCCESS) {
            entry.permissions.emplace_back(text);
          } else if (item.get_array().get(inner) == simdjson::SUCCESS) {
            for (auto permission : inner) {
              if (permission.get_string().get(text) == simdjson::SUCCESS) {
                entry.permissions.emplace_back(text);
              }
            }
          }
        }
      }
    }
    if (entry.name.empty()) return unexpected(std::string("no 'symbol'"));
    std::sort(entry.permissions.begin(), entry.permissions.end());
    entry.permissions.erase(std::unique(entry.permissions.begin(), entry.permissions.end()),
                            entry.permissions.end());
    return entry;
  }

  // The entry of the file with the newest serverTime wins; the first-seen position is kept.
  void merge_symbol(SymbolInfoEntry entry, std::int64_t server_time) {
    ExchangeInfoData& info = index_.exchange_info_;
    auto it = info.by_name.find(entry.name);
    if (it == info.by_name.end()) {
      info.by_name.emplace(entry.name, info.symbols.size());
      info.symbols.push_back(std::move(entry));
      symbol_server_times_.push_back(server_time);
      return;
    }
    if (server_time >= symbol_server_times_[it->second]) {
      info.symbols[it->second] = std::move(entry);
      symbol_server_times_[it->second] = server_time;
    }
  }

  // Sorts every series by key and drops rows that another (overlapping) file already had.
  void dedupe(std::vector<SeriesRow>& rows, bool klines) {
    std::stable_sort(rows.begin(), rows.end(),
                     [](const SeriesRow& a, const SeriesRow& b) { return a.id < b.id; });
    std::size_t kept = 0;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      if (kept > 0 && rows[kept - 1].id == rows[i].id) {
        ++index_.stats_.duplicate_rows;
        // The last kline of a REST download may be unfinished; a later download of the same
        // bar has at least as many trades, so the busier copy is the more complete one.
        if (klines && rows[i].trade_count > rows[kept - 1].trade_count) {
          rows[kept - 1] = std::move(rows[i]);
        }
        continue;
      }
      if (kept != i) rows[kept] = std::move(rows[i]);
      ++kept;
    }
    rows.resize(kept);
  }

  // Time-range queries binary-search trade times, which needs them ordered like the ids.
  static bool times_follow_ids(const std::vector<SeriesRow>& rows) {
    return std::is_sorted(rows.begin(), rows.end(), [](const SeriesRow& a, const SeriesRow& b) {
      return a.time_us < b.time_us;
    });
  }

  void finish() {
    DataIndexStats& stats = index_.stats_;
    for (auto& [symbol, data] : index_.symbols_) {
      for (auto& [interval, rows] : data.klines) {
        dedupe(rows, true);
        stats.kline_rows += rows.size();
      }
      dedupe(data.agg_trades, false);
      dedupe(data.trades, false);
      stats.agg_trade_rows += data.agg_trades.size();
      stats.trade_rows += data.trades.size();
      for (const auto* rows : {&data.agg_trades, &data.trades}) {
        if (!times_follow_ids(*rows)) {
          log::warn(kLogger, "trade times are not ordered like their ids; time ranges may be off",
                    {{"symbol", symbol}});
        }
      }
      if (data.depth) ++stats.depth_books;
    }
    ExchangeInfoData& info = index_.exchange_info_;
    std::string all = "[";
    for (std::size_t i = 0; i < info.symbols.size(); ++i) {
      if (i > 0) all.push_back(',');
      all.append(info.symbols[i].json);
    }
    all.push_back(']');
    info.all_symbols_json = std::move(all);
    stats.exchange_info_symbols = info.symbols.size();
  }

  DataIndex& index_;
  // serverTime of the file each exchangeInfo symbol entry came from (same order as symbols).
  std::vector<std::int64_t> symbol_server_times_;
};

Result<std::unique_ptr<DataIndex>, std::string> DataIndex::load(const std::string& dir) {
  auto index = std::make_unique<DataIndex>();
  DataIndexLoader loader(*index);
  if (auto loaded = loader.load_dir(dir); !loaded) return unexpected(loaded.error());
  return index;
}

const DataIndex::SymbolData* DataIndex::find(std::string_view symbol) const {
  auto it = symbols_.find(symbol);
  return it == symbols_.end() ? nullptr : &it->second;
}

const std::vector<SeriesRow>* DataIndex::klines(std::string_view symbol, Interval interval) const {
  const SymbolData* data = find(symbol);
  if (!data) return nullptr;
  auto it = data->klines.find(interval);
  return it == data->klines.end() ? nullptr : &it->second;
}

const std::vector<SeriesRow>* DataIndex::agg_trades(std::string_view symbol) const {
  const SymbolData* data = find(symbol);
  return data && !data->agg_trades.empty() ? &data->agg_trades : nullptr;
}

const std::vector<SeriesRow>* DataIndex::trades(std::string_view symbol) const {
  const SymbolData* data = find(symbol);
  return data && !data->trades.empty() ? &data->trades : nullptr;
}

const DepthBook* DataIndex::depth(std::string_view symbol) const {
  const SymbolData* data = find(symbol);
  return data && data->depth ? &*data->depth : nullptr;
}

bool DataIndex::knows_symbol(std::string_view symbol) const {
  return find(symbol) != nullptr || exchange_info_.find(symbol) != nullptr;
}

std::vector<std::string> DataIndex::data_symbols() const {
  std::vector<std::string> names;
  for (const auto& [name, data] : symbols_) names.push_back(name);
  return names;
}

}  // namespace sf::services::exchange_sim
