#include "tools/candles.h"

#include <cstdio>
#include <iostream>
#include <memory>
#include <string_view>

#include "analytics/candles.h"
#include "core/wire_decode.h"
#include "exchange/binance/parse.h"
#include "tools/normalize.h"

namespace sf::tools {
namespace {

std::optional<Interval> interval_from_span(TimestampUs open, TimestampUs close) {
  for (int i = 0; i <= static_cast<int>(Interval::k1w); ++i) {
    const auto iv = static_cast<Interval>(i);
    if (close - open + 1000 == interval_micros(iv) || close - open + 1 == interval_micros(iv))
      return iv;
  }
  return std::nullopt;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == '\n' || s.back() == ' '))
    s.remove_suffix(1);
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  return s;
}

}  // namespace

bool read_market_input(const std::vector<std::string>& files, const InputOptions& options,
                       const EventSink& sink, std::string* error) {
  wire::Decoder decoder;
  for (const auto& file : files) {
    const std::string name = file == "-" ? std::string("stdin") : file;
    const SourceHints hints = file == "-" ? SourceHints{} : hints_from_filename(file);
    const Symbol symbol = options.symbol ? *options.symbol
                          : hints.symbol ? *hints.symbol
                                         : *Symbol::parse("UNKNOWN");
    std::optional<Interval> interval = options.interval ? options.interval : hints.interval;
    std::uint64_t line_no = 0;
    bool failed = false;
    std::string read_error;
    const bool read_ok = for_each_line_until(
        file,
        [&](std::string_view raw) {
          ++line_no;
          const std::string_view line = trim(raw);
          if (line.empty()) return true;
          auto fail = [&](const std::string& reason) {
            *error = name + ":" + std::to_string(line_no) + ": " + reason;
            failed = true;
            return false;
          };
          if (line.front() == '{') {
            auto rec = decoder.decode(line);
            if (!rec) return fail(rec.error().message());
            if (!rec->event || !(std::holds_alternative<Trade>(*rec->event) ||
                                 std::holds_alternative<AggTrade>(*rec->event) ||
                                 std::holds_alternative<Candle>(*rec->event)))
              return fail("record type '" + std::string(rec->type) +
                          "' is not a trade, agg_trade or candle");
            std::string e;
            if (!sink(*rec->event, &e)) return fail(e);
            return true;
          }
          if (!interval) {
            // Infer from the first row: close_time - open_time + 1 ms (or 1 µs) is the interval.
            auto probe = binance::parse_kline_csv(line, symbol, Interval::k1m);
            if (!probe) return fail(probe.error().message());
            interval = interval_from_span(probe->open_time, probe->close_time);
            if (!interval)
              return fail(
                  "cannot tell the kline interval from the first row; pass --from-interval");
          }
          auto candle = binance::parse_kline_csv(line, symbol, *interval);
          if (!candle) return fail("not a 12-column kline row: " + candle.error().message());
          std::string e;
          if (!sink(*candle, &e)) return fail(e);
          return true;
        },
        &read_error);
    if (!read_ok) {
      *error = name + ": " + read_error;
      return false;
    }
    if (failed) return false;
  }
  return true;
}

int candles_main(int argc, char** argv) {
  std::optional<Interval> target, from;
  std::optional<Symbol> symbol;
  analytics::EmptyBuckets empty = analytics::EmptyBuckets::kFlat;
  bool closed_only = false;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&](std::string_view flag) -> std::optional<std::string_view> {
      if (a.rfind(std::string(flag) + "=", 0) == 0) return a.substr(flag.size() + 1);
      if (a == flag && i + 1 < argc) return std::string_view(argv[++i]);
      return std::nullopt;
    };
    if (a == "--help" || a == "-h") {
      std::cout
          << "usage: streamforge candles --interval IV [--from-interval IV] [--symbol S]\n"
             "                          [--empty flat|skip] [--closed-only] [FILE...]\n\n"
             "Reads Binance kline CSV rows (12 columns, no header) or normalised trade, agg_trade\n"
             "or candle records (JSON lines, docs/schemas.md) from FILEs ('-' or none: stdin;\n"
             "plain, .gz, .zip) and writes candles of interval IV as Binance 12-column CSV\n"
             "(times in ms). Exact decimals; Binance's bucket and close-time conventions\n"
             "(docs/analytics.md). Any bad line stops with 'FILE:N: reason' and exit 1.\n\n"
             "  --interval IV       output interval: 1s 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 3d "
             "1w 1M\n"
             "  --from-interval IV  interval of CSV input rows (default: from the file name, else\n"
             "                      from the first row's close - open + 1 ms)\n"
             "  --symbol S          symbol for CSV rows (not written; default from the file name)\n"
             "  --empty flat|skip   trades: intervals without trades become flat zero-volume\n"
             "                      candles at the previous close (default, as Binance) or none\n"
             "  --closed-only       drop the last candle when its interval has not ended\n";
      return 0;
    }
    if (auto v = value("--interval")) {
      target = parse_interval(*v);
      if (!target) {
        std::cerr << "candles: invalid --interval '" << *v << "'\n";
        return 2;
      }
    } else if (auto v2 = value("--from-interval")) {
      from = parse_interval(*v2);
      if (!from) {
        std::cerr << "candles: invalid --from-interval '" << *v2 << "'\n";
        return 2;
      }
    } else if (auto v3 = value("--symbol")) {
      symbol = Symbol::parse(*v3);
      if (!symbol) {
        std::cerr << "candles: invalid --symbol '" << *v3 << "'\n";
        return 2;
      }
    } else if (auto v4 = value("--empty")) {
      if (*v4 == "flat") {
        empty = analytics::EmptyBuckets::kFlat;
      } else if (*v4 == "skip") {
        empty = analytics::EmptyBuckets::kSkip;
      } else {
        std::cerr << "candles: --empty is flat or skip\n";
        return 2;
      }
    } else if (a == "--closed-only") {
      closed_only = true;
    } else if (a.size() > 1 && a[0] == '-') {
      std::cerr << "candles: unknown option or missing value '" << a << "' (see --help)\n";
      return 2;
    } else {
      files.emplace_back(a);
    }
  }
  if (!target) {
    std::cerr << "candles: --interval is required (see --help)\n";
    return 2;
  }
  if (files.empty()) files.emplace_back("-");

  std::string out;
  out.reserve(1 << 16);
  auto write = [&](const Candle& c) {
    if (closed_only && !c.is_closed) return;
    analytics::append_kline_csv(c, out);
    out.push_back('\n');
    if (out.size() > (1 << 16)) {
      std::fwrite(out.data(), 1, out.size(), stdout);
      out.clear();
    }
  };
  std::unique_ptr<analytics::TradeCandleAggregator> agg;
  std::unique_ptr<analytics::CandleRollup> rollup;
  std::string error;
  const bool ok = read_market_input(
      files, InputOptions{.symbol = symbol, .interval = from},
      [&](const MarketEvent& ev, std::string* e) {
        if (const auto* c = std::get_if<Candle>(&ev)) {
          if (agg) {
            *e = "candles and trades mixed in one input";
            return false;
          }
          if (!rollup) rollup = std::make_unique<analytics::CandleRollup>(*target, write);
          auto r = rollup->add(*c);
          if (!r) {
            *e = std::string(analytics::to_string(r.error())) + " (" +
                 std::string(interval_name(c->interval)) + " -> " +
                 std::string(interval_name(*target)) + ")";
            return false;
          }
          return true;
        }
        if (rollup) {
          *e = "candles and trades mixed in one input";
          return false;
        }
        const Symbol s = std::visit([](const auto& x) { return Symbol(x.symbol); }, ev);
        if (!agg)
          agg = std::make_unique<analytics::TradeCandleAggregator>(
              analytics::AggregatorOptions{
                  .symbol = s, .interval = *target, .empty_buckets = empty},
              write);
        if (s != agg->options().symbol) {
          *e = "trades of more than one symbol (" + agg->options().symbol.str() + ", " + s.str() +
               "); split the input per symbol";
          return false;
        }
        auto r = std::holds_alternative<Trade>(ev) ? agg->add(std::get<Trade>(ev))
                                                   : agg->add(std::get<AggTrade>(ev));
        if (!r) {
          *e = analytics::to_string(r.error());
          return false;
        }
        return true;
      },
      &error);
  if (ok) {
    if (agg) agg->flush();
    if (rollup) rollup->flush();
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  if (!ok) {
    std::cerr << "candles: " << error << '\n';
    return 1;
  }
  return 0;
}

}  // namespace sf::tools
