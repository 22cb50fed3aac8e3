#include "tools/indicators.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string_view>

#include "analytics/indicators.h"
#include "tools/candles.h"

namespace sf::tools {

int indicators_main(int argc, char** argv) {
  std::optional<std::string> config;
  std::optional<Interval> from;
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
          << "usage: streamforge indicators [--config JSON] [--from-interval IV] [FILE...]\n\n"
             "Reads Binance kline CSV rows (12 columns) or normalised candle records (JSON lines)\n"
             "from FILEs ('-' or none: stdin; plain, .gz, .zip) and writes CSV: a header\n"
             "'open_time,<column>...' and one row per candle (open time in ms; values shortest\n"
             "round-trip; empty while an indicator warms up).\n\n"
             "  --config JSON       INDICATORS_CONFIG, e.g. "
             "'[{\"name\":\"rsi\",\"params\":{\"period\":14}}]'\n"
             "                      (default: $INDICATORS_CONFIG, else every candle indicator "
             "with\n"
             "                      default params). Names, params, columns: docs/analytics.md\n"
             "  --from-interval IV  interval of CSV rows (VWAP anchoring does not need it)\n";
      return 0;
    }
    if (auto v = value("--config")) {
      config = std::string(*v);
    } else if (auto v2 = value("--from-interval")) {
      from = parse_interval(*v2);
      if (!from) {
        std::cerr << "indicators: invalid --from-interval '" << *v2 << "'\n";
        return 2;
      }
    } else if (a.size() > 1 && a[0] == '-') {
      std::cerr << "indicators: unknown option or missing value '" << a << "' (see --help)\n";
      return 2;
    } else {
      files.emplace_back(a);
    }
  }
  if (!config) {
    const char* env = std::getenv("INDICATORS_CONFIG");
    config = env ? env : "";
  }
  auto set = analytics::IndicatorSet::from_json(*config);
  if (!set) {
    std::cerr << "indicators: " << set.error() << '\n';
    return 2;
  }
  if (files.empty()) files.emplace_back("-");

  std::string out = "open_time";
  for (const auto& c : set->columns()) out += "," + c;
  out += '\n';
  char buf[64];
  std::string error;
  const bool ok = read_market_input(
      files, InputOptions{.symbol = std::nullopt, .interval = from.value_or(Interval::k1m)},
      [&](const MarketEvent& ev, std::string* e) {
        const auto* c = std::get_if<Candle>(&ev);
        if (!c) {
          *e = "indicators read candles (kline CSV rows or candle records), not trades";
          return false;
        }
        auto values = set->update(*c);
        out += std::to_string(micros_to_millis(c->open_time));
        for (double v : values) {
          out += ',';
          if (std::isnan(v)) continue;
          auto r = std::to_chars(buf, buf + sizeof buf, v);
          out.append(buf, r.ptr);
        }
        out += '\n';
        if (out.size() > (1 << 16)) {
          std::fwrite(out.data(), 1, out.size(), stdout);
          out.clear();
        }
        return true;
      },
      &error);
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  if (!ok) {
    std::cerr << "indicators: " << error << '\n';
    return 1;
  }
  return 0;
}

}  // namespace sf::tools
