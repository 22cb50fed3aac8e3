#include "tools/normalize.h"

#include <zip.h>
#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>

#include "core/wire.h"

namespace sf::tools {
namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Quote assets that mark a file-name token as a symbol (btcusdt_20240808.gz -> BTCUSDT).
bool looks_like_symbol(std::string_view upper) {
  static constexpr std::string_view kQuotes[] = {"USDT", "USDC", "FDUSD", "BUSD", "TUSD", "BTC",
                                                 "ETH",  "BNB",  "EUR",   "TRY",  "BRL",  "DAI"};
  for (auto q : kQuotes)
    if (upper.size() > q.size() && ends_with(upper, q)) return true;
  return false;
}

std::optional<Symbol> symbol_token(std::string_view token) {
  std::string upper;
  for (char c : token) {
    if (c == '_') continue;  // freqtrade writes BTC_USDT
    upper += static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  }
  if (!looks_like_symbol(upper)) return std::nullopt;
  return Symbol::parse(upper);
}

// "1723161254061862657" (ns), "1680652800004107" (µs), "1633998512.3957808" (s) -> µs.
std::optional<TimestampUs> parse_receive_time(std::string_view token) {
  auto dot = token.find('.');
  std::string_view whole = token.substr(0, dot);
  if (whole.empty() || whole.size() > 19) return std::nullopt;
  std::int64_t v = 0;
  for (char c : whole) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (dot != std::string_view::npos) {  // seconds with a fraction: keep 6 digits exactly
    std::int64_t frac = 0;
    std::size_t digits = 0;
    for (char c : token.substr(dot + 1)) {
      if (c < '0' || c > '9') return std::nullopt;
      if (digits < 6) frac = frac * 10 + (c - '0'), ++digits;
    }
    while (digits < 6) frac *= 10, ++digits;
    return v * 1'000'000 + frac;
  }
  if (whole.size() >= 19) return v / 1000;  // ns
  if (whole.size() >= 16) return v;         // µs
  if (whole.size() >= 13) return v * 1000;  // ms
  return v * 1'000'000;                     // s
}

std::optional<Symbol> symbol_from_url(std::string_view url) {
  auto p = url.find("symbol=");
  if (p == std::string_view::npos) return std::nullopt;
  auto rest = url.substr(p + 7);
  return Symbol::parse(rest.substr(0, rest.find('&')));
}

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
      continue;
    }
    out += c;
  }
  out += '"';
}

}  // namespace

SourceHints hints_from_filename(std::string_view path) {
  SourceHints h;
  std::string name = std::filesystem::path(path).filename().string();
  // Tokens split at '-' (Binance: BTCUSDT-5m-2020-07-01.csv) or, failing that, at '_' or '.'.
  std::vector<std::string_view> tokens;
  std::string_view rest = name;
  while (!rest.empty()) {
    auto p = rest.find_first_of("-.");
    tokens.push_back(rest.substr(0, p));
    if (p == std::string_view::npos) break;
    rest = rest.substr(p + 1);
  }
  if (tokens.empty()) return h;
  h.symbol = symbol_token(tokens[0]);
  if (!h.symbol) {
    auto underscore = tokens[0].find('_');
    if (underscore != std::string_view::npos) h.symbol = symbol_token(tokens[0].substr(0, underscore));
  }
  if (tokens.size() > 1) {
    if (tokens[1] == "aggTrades") h.kind = SourceHints::Kind::kAggTrades;
    else if (tokens[1] == "trades") h.kind = SourceHints::Kind::kTrades;
    else if (auto iv = parse_interval(tokens[1])) h.interval = iv, h.kind = SourceHints::Kind::kKlines;
  }
  return h;
}

Normalizer::Normalizer(RecordSink on_record, ErrorSink on_error)
    : on_record_(std::move(on_record)), on_error_(std::move(on_error)) {
  buffer_.reserve(1 << 16);
}

void Normalizer::emit(const MarketEvent& e) {
  buffer_.clear();
  wire::encode(e, buffer_);
  ++stats_.records;
  on_record_(buffer_, &e);
}

void Normalizer::error(std::uint64_t line_no, std::string_view reason) {
  ++stats_.errors;
  std::string msg = "line " + std::to_string(line_no) + ": " + std::string(reason);
  on_error_(msg);
}

void Normalizer::emit_symbol_infos(const binance::ExchangeInfo& info) {
  for (const auto& s : info.symbols) {
    buffer_.clear();
    buffer_ += "{\"v\":1,\"type\":\"symbol_info\",\"symbol\":\"";
    buffer_ += s.symbol.view();
    buffer_ += "\",\"status\":";
    append_json_string(buffer_, s.status);
    buffer_ += ",\"base_asset\":";
    append_json_string(buffer_, s.base_asset);
    buffer_ += ",\"quote_asset\":";
    append_json_string(buffer_, s.quote_asset);
    auto dec = [&](const char* key, const Decimal& d) {
      buffer_ += ",\"";
      buffer_ += key;
      buffer_ += "\":\"";
      buffer_ += d.to_string();
      buffer_ += '"';
    };
    dec("tick_size", s.tick_size);
    dec("min_price", s.min_price);
    dec("max_price", s.max_price);
    dec("step_size", s.step_size);
    dec("min_qty", s.min_qty);
    dec("max_qty", s.max_qty);
    dec("min_notional", s.min_notional);
    buffer_ += ",\"server_time\":" + std::to_string(info.server_time_ms * 1000) + "}";
    ++stats_.records;
    on_record_(buffer_, nullptr);
  }
}

void Normalizer::payload(std::string_view body, TimestampUs receive_time, std::string_view url,
                         std::uint64_t line_no) {
  const Symbol* hint = hints_.symbol ? &*hints_.symbol : nullptr;
  std::optional<Symbol> url_symbol = symbol_from_url(url);
  if (url_symbol) hint = &*url_symbol;

  if (body[0] == '{') {
    bool is_exchange_info = url.find("exchangeInfo") != std::string_view::npos ||
                            (url.empty() && body.find("\"symbols\"") != std::string_view::npos &&
                             body.find("\"rateLimits\"") != std::string_view::npos);
    if (is_exchange_info) {
      auto info = parser_.parse_exchange_info(body);
      if (!info) return error(line_no, info.error().message());
      return emit_symbol_infos(*info);
    }
    // A top-level {"lastUpdateId":..} is a REST depth body (a WS partial book arrives combined).
    std::string_view head = body.substr(0, 32);
    if (head.find("\"lastUpdateId\"") != std::string_view::npos) {
      if (!hint) return error(line_no, "depth snapshot without a symbol: pass --symbol");
      auto snap = parser_.parse_rest_depth(body, *hint, receive_time);
      if (!snap) return error(line_no, snap.error().message());
      return emit(MarketEvent{std::move(snap).value()});
    }
    if (head.find("\"code\"") != std::string_view::npos) {
      auto api = parser_.parse_api_error(body);
      if (api) return error(line_no, "Binance error " + std::to_string(api->code) + ": " + api->msg);
    }
    auto event = parser_.parse_ws_frame(body, receive_time, hint);
    if (!event) return error(line_no, event.error().message());
    return emit(*event);
  }
  if (body[0] == '[') {
    std::string_view head = body.substr(0, 256);
    auto first = head.find_first_not_of(" \t\r\n", 1);
    if (first != std::string_view::npos && head[first] == '[') {
      if (!hint) return error(line_no, "klines without a symbol: pass --symbol");
      if (!hints_.interval) return error(line_no, "klines without an interval: pass --interval");
      auto rows = parser_.parse_rest_klines(body, *hint, *hints_.interval);
      if (!rows) {
        // Not Binance's 12 fields: maybe a reduced OHLCV dump (freqtrade, ccxt).
        auto ohlcv = parser_.parse_ohlcv_rows(body, *hint, *hints_.interval);
        if (!ohlcv) return error(line_no, rows.error().message());
        rows = std::move(ohlcv);
      }
      for (const auto& c : *rows) emit(MarketEvent{c});
      return;
    }
    if (!hint) return error(line_no, "REST trades without a symbol: pass --symbol");
    if (head.find("\"a\"") != std::string_view::npos) {
      auto rows = parser_.parse_rest_agg_trades(body, *hint);
      if (!rows) return error(line_no, rows.error().message());
      for (const auto& t : *rows) emit(MarketEvent{t});
      return;
    }
    auto rows = parser_.parse_rest_trades(body, *hint);
    if (!rows) return error(line_no, rows.error().message());
    for (const auto& t : *rows) emit(MarketEvent{t});
    return;
  }
  // data.binance.vision CSV rows.
  if (!hint) return error(line_no, "CSV row without a symbol: pass --symbol or keep Binance's file name");
  std::size_t commas = 0;
  for (char c : body) commas += c == ',';
  auto kind = hints_.kind;
  if (kind == SourceHints::Kind::kUnknown) {
    if (commas == 11) kind = SourceHints::Kind::kKlines;
    else if (commas == 7) kind = SourceHints::Kind::kAggTrades;
    else if (commas == 6) kind = SourceHints::Kind::kTrades;
  }
  switch (kind) {
    case SourceHints::Kind::kKlines: {
      if (!hints_.interval) return error(line_no, "kline CSV without an interval: pass --interval");
      auto c = binance::parse_kline_csv(body, *hint, *hints_.interval);
      if (!c) return error(line_no, c.error().message());
      return emit(MarketEvent{std::move(c).value()});
    }
    case SourceHints::Kind::kAggTrades: {
      auto t = binance::parse_agg_trade_csv(body, *hint);
      if (!t) return error(line_no, t.error().message());
      return emit(MarketEvent{std::move(t).value()});
    }
    case SourceHints::Kind::kTrades: {
      auto t = binance::parse_trade_csv(body, *hint);
      if (!t) return error(line_no, t.error().message());
      return emit(MarketEvent{std::move(t).value()});
    }
    case SourceHints::Kind::kUnknown:
      break;
  }
  error(line_no, "unrecognised payload (not JSON, not a Binance CSV row)");
}

void Normalizer::line(std::string_view text, std::uint64_t line_no) {
  ++stats_.lines;
  while (!text.empty() && (text.back() == '\r' || text.back() == '\n' || text.back() == ' '))
    text.remove_suffix(1);
  if (text.empty() || text.rfind("wss://", 0) == 0 || text.rfind("ws://", 0) == 0) {
    ++stats_.skipped;
    return;
  }
  std::string_view url;
  if (text.rfind("http", 0) == 0) {  // cryptofeed REST recording: "<url> -> <seconds>: <body>"
    auto arrow = text.find(" -> ");
    if (arrow == std::string_view::npos) return error(line_no, "REST recording without ' -> '");
    url = text.substr(0, arrow);
    text = text.substr(arrow + 4);
  }
  TimestampUs receive_time = 0;
  if (text[0] >= '0' && text[0] <= '9') {
    // A receive-time prefix is a number followed by " " or ": " and then the frame.
    auto end = text.find_first_not_of("0123456789.");
    if (end != std::string_view::npos && (text[end] == ' ' || text[end] == ':')) {
      auto after = text.find_first_not_of(": ", end);
      if (after != std::string_view::npos && (text[after] == '{' || text[after] == '[')) {
        auto t = parse_receive_time(text.substr(0, end));
        if (!t) return error(line_no, "bad receive-time prefix");
        receive_time = *t;
        text = text.substr(after);
      }
    }
  }
  payload(text, receive_time, url, line_no);
}

void Normalizer::document(std::string_view text) {
  ++stats_.lines;
  auto start = text.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos) {
    ++stats_.skipped;
    return;
  }
  payload(text.substr(start), 0, {}, 1);
}

namespace {

// Pulls bytes from a source and hands out lines (any length) until `on_line` returns false.
// `read` returns the bytes read, 0 at the end, or -1 after writing its reason.
enum class SplitStatus : std::uint8_t { kEnd, kStopped, kFailed };
SplitStatus split_lines(const std::function<long(char*, std::size_t)>& read,
                        const std::function<bool(std::string_view)>& on_line) {
  std::string carry;
  std::vector<char> buf(1 << 20);
  for (;;) {
    long n = read(buf.data(), buf.size());
    if (n < 0) return SplitStatus::kFailed;
    if (n == 0) break;
    std::string_view chunk(buf.data(), static_cast<std::size_t>(n));
    std::size_t pos = 0;
    for (;;) {
      auto nl = chunk.find('\n', pos);
      if (nl == std::string_view::npos) {
        carry.append(chunk.substr(pos));
        break;
      }
      bool more;
      if (carry.empty()) {
        more = on_line(chunk.substr(pos, nl - pos));
      } else {
        carry.append(chunk.substr(pos, nl - pos));
        more = on_line(carry);
        carry.clear();
      }
      if (!more) return SplitStatus::kStopped;
      pos = nl + 1;
    }
  }
  if (!carry.empty() && !on_line(carry)) return SplitStatus::kStopped;
  return SplitStatus::kEnd;
}

}  // namespace

bool for_each_line(const std::string& path, const std::function<void(std::string_view)>& on_line,
                   std::string* error) {
  return for_each_line_until(
      path,
      [&](std::string_view line) {
        on_line(line);
        return true;
      },
      error);
}

bool for_each_line_until(const std::string& path,
                         const std::function<bool(std::string_view)>& on_line, std::string* error) {
  if (ends_with(path, ".zip")) {
    int err = 0;
    zip_t* archive = zip_open(path.c_str(), ZIP_RDONLY, &err);
    if (!archive) {
      zip_error_t reason;
      zip_error_init_with_code(&reason, err);
      *error = "cannot open zip " + path + ": " + zip_error_strerror(&reason);
      zip_error_fini(&reason);
      return false;
    }
    std::unique_ptr<zip_t, int (*)(zip_t*)> guard(archive, zip_close);
    zip_int64_t entries = zip_get_num_entries(archive, 0);
    for (zip_int64_t i = 0; i < entries; ++i) {
      zip_file_t* f = zip_fopen_index(archive, static_cast<zip_uint64_t>(i), 0);
      if (!f) {
        *error = "cannot read zip member " + std::to_string(i) + " of " + path + ": " +
                 zip_strerror(archive);
        return false;
      }
      std::unique_ptr<zip_file_t, int (*)(zip_file_t*)> fguard(f, zip_fclose);
      auto status = split_lines(
          [&](char* b, std::size_t n) {
            auto got = zip_fread(f, b, n);
            if (got < 0)
              *error = "cannot read zip member " + std::to_string(i) + " of " + path + ": " +
                       zip_file_strerror(f);
            return static_cast<long>(got);
          },
          on_line);
      if (status == SplitStatus::kFailed) return false;
      if (status == SplitStatus::kStopped) return true;
    }
    return true;
  }
  // zlib reads plain files transparently, so one path serves .gz and plain text.
  gzFile gz = path == "-" ? gzdopen(dup(0), "rb") : gzopen(path.c_str(), "rb");
  if (!gz) {
    *error = "cannot open " + path;
    return false;
  }
  gzbuffer(gz, 1 << 18);
  auto status = split_lines(
      [&](char* b, std::size_t n) {
        int got = gzread(gz, b, static_cast<unsigned>(n));
        if (got < 0) *error = "read failed";
        return static_cast<long>(got);
      },
      on_line);
  gzclose(gz);
  return status != SplitStatus::kFailed;
}

bool read_all(const std::string& path, std::string* out, std::string* error) {
  out->clear();
  bool first = true;
  return for_each_line(
      path,
      [&](std::string_view line) {
        if (!first) out->push_back('\n');
        first = false;
        out->append(line);
      },
      error);
}

int normalize_main(int argc, char** argv) {
  bool strict = false;
  std::optional<Symbol> symbol;
  std::optional<Interval> interval;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&](std::string_view name) -> std::optional<std::string_view> {
      if (a.rfind(std::string(name) + "=", 0) == 0) return a.substr(name.size() + 1);
      if (a == name && i + 1 < argc) return std::string_view(argv[++i]);
      return std::nullopt;
    };
    if (a == "--help" || a == "-h") {
      std::cout << "usage: streamforge normalize [--strict] [--symbol SYMBOL] [--interval IV] "
                   "[FILE...]\n\n"
                   "Reads Binance payloads (WS frames, REST bodies, data.binance.vision CSV; plain,\n"
                   ".gz or .zip; '-' or no FILE reads stdin) and writes one normalised JSON record\n"
                   "per line to stdout (schemas: docs/schemas.md). Errors go to stderr as\n"
                   "'line N: reason'.\n\n"
                   "  --strict          exit 1 if any line fails\n"
                   "  --symbol SYMBOL   symbol for payloads that carry none (CSV rows, REST bodies)\n"
                   "  --interval IV     kline interval for klines without one (1s..1M)\n";
      return 0;
    }
    if (a == "--strict") {
      strict = true;
    } else if (auto v = value("--symbol")) {
      symbol = Symbol::parse(*v);
      if (!symbol) {
        std::cerr << "normalize: invalid --symbol '" << *v << "'\n";
        return 2;
      }
    } else if (auto v2 = value("--interval")) {
      interval = parse_interval(*v2);
      if (!interval) {
        std::cerr << "normalize: invalid --interval '" << *v2 << "' (1s 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 3d 1w 1M)\n";
        return 2;
      }
    } else if (a.size() > 1 && a[0] == '-') {
      std::cerr << "normalize: unknown option '" << a << "' (see --help)\n";
      return 2;
    } else {
      files.emplace_back(a);
    }
  }
  if (files.empty()) files.emplace_back("-");

  std::string out;
  out.reserve(1 << 20);
  auto flush = [&] {
    std::fwrite(out.data(), 1, out.size(), stdout);
    out.clear();
  };
  std::string prefix;
  Normalizer n(
      [&](std::string_view record, const MarketEvent*) {
        out.append(record);
        out.push_back('\n');
        if (out.size() > (1 << 20) - 4096) flush();
      },
      [&](std::string_view message) { std::cerr << prefix << message << '\n'; });
  int status = 0;
  for (const auto& file : files) {
    SourceHints hints = file == "-" ? SourceHints{} : hints_from_filename(file);
    if (symbol) hints.symbol = symbol;
    if (interval) hints.interval = interval, hints.kind = SourceHints::Kind::kKlines;
    n.set_hints(hints);
    prefix = files.size() > 1 ? file + ": " : "";
    std::string error;
    bool ok;
    if (ends_with(file, ".json")) {
      std::string doc;
      ok = read_all(file, &doc, &error);
      if (ok) n.document(doc);
    } else {
      std::uint64_t line_no = 0;
      ok = for_each_line(file, [&](std::string_view line) { n.line(line, ++line_no); }, &error);
    }
    if (!ok) {
      std::cerr << "normalize: " << error << '\n';
      status = 2;
    }
  }
  flush();
  std::fflush(stdout);
  if (status != 0) return status;
  return strict && n.stats().errors > 0 ? 1 : 0;
}

}  // namespace sf::tools
