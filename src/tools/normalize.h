// `streamforge normalize`: Binance payloads in, normalised wire records (docs/schemas.md) out.
//
// Input is read line by line: recorded WS captures (optionally prefixed by a receive time as in
// hftbacktest's "<ns> <frame>" or cryptofeed's "<seconds>: <frame>"), cryptofeed's REST
// recordings ("<url> -> <seconds>: <body>"), REST bodies, and data.binance.vision CSV rows.
// A file named *.json is read as one JSON document (pretty-printed bodies, exchangeInfo,
// freqtrade OHLCV arrays). *.gz and *.zip are decompressed on the fly. File names in Binance's
// layout (BTCUSDT-5m-..., BTCUSDT-aggTrades-..., BTC_USDT-5m.json) supply symbol and interval,
// which --symbol / --interval override.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/events.h"
#include "exchange/binance/parse.h"

namespace sf::tools {

// What a Binance file name says about its content.
struct SourceHints {
  std::optional<Symbol> symbol;
  std::optional<Interval> interval;
  enum class Kind : std::uint8_t { kUnknown, kKlines, kAggTrades, kTrades } kind = Kind::kUnknown;
};
SourceHints hints_from_filename(std::string_view path);

struct NormalizeStats {
  std::uint64_t lines = 0;
  std::uint64_t records = 0;
  std::uint64_t errors = 0;
  std::uint64_t skipped = 0;  // lines with no payload (blank lines, a capture's URL header)
};

class Normalizer {
 public:
  // Called with every record (wire JSON, no newline) and every error ("line N: reason").
  using RecordSink = std::function<void(std::string_view record, const MarketEvent* event)>;
  using ErrorSink = std::function<void(std::string_view message)>;

  Normalizer(RecordSink on_record, ErrorSink on_error);

  void set_hints(const SourceHints& hints) { hints_ = hints; }
  // Normalises one line; line_no is for error messages.
  void line(std::string_view text, std::uint64_t line_no);
  // Normalises a whole JSON document (a *.json file).
  void document(std::string_view text);

  const NormalizeStats& stats() const { return stats_; }

 private:
  void payload(std::string_view body, TimestampUs receive_time, std::string_view url,
               std::uint64_t line_no);
  void emit(const MarketEvent& e);
  void error(std::uint64_t line_no, std::string_view reason);
  void emit_symbol_infos(const binance::ExchangeInfo& info);

  RecordSink on_record_;
  ErrorSink on_error_;
  SourceHints hints_;
  binance::Parser parser_;
  NormalizeStats stats_;
  std::string buffer_;
};

// Streams a file (plain, .gz or .zip members) to `on_line`; "-" is stdin. Returns false with a
// message when the file cannot be read.
bool for_each_line(const std::string& path,
                   const std::function<void(std::string_view line)>& on_line, std::string* error);
// The same, but `on_line` returns false to stop early; stopping is not a failure (returns true).
// Zip members are read with zip_fread in chunks, never unpacked to disk, and libzip checks each
// member's CRC, so a damaged archive fails with libzip's reason in *error.
bool for_each_line_until(const std::string& path,
                         const std::function<bool(std::string_view line)>& on_line,
                         std::string* error);
// Reads a whole (possibly compressed) file into *out.
bool read_all(const std::string& path, std::string* out, std::string* error);

// The CLI entry: streamforge normalize [--strict] [--symbol S] [--interval I] [FILE...]
int normalize_main(int argc, char** argv);

}  // namespace sf::tools
