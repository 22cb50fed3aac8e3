// `streamforge candles`: Binance kline CSV rows (12 columns) or normalised trade / candle records
// (JSON lines, docs/schemas.md) in, candles of a coarser interval out as Binance 12-column CSV.
// `streamforge indicators` shares the input reader. See docs/analytics.md.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/events.h"

namespace sf::tools {

// Reads kline CSV rows and wire records (trade, agg_trade, candle) from files ("-" = stdin;
// plain, .gz or .zip), line by line. CSV rows carry no interval: `interval` (else the file
// name, else the first row's close - open + 1 ms) supplies it. Stops at the first bad line and
// returns false with "FILE:N: reason" in *error.
struct InputOptions {
  std::optional<Symbol> symbol;      // for CSV rows (default from the file name, else UNKNOWN)
  std::optional<Interval> interval;  // for CSV rows
};
using EventSink = std::function<bool(const MarketEvent& event, std::string* error)>;
bool read_market_input(const std::vector<std::string>& files, const InputOptions& options,
                       const EventSink& sink, std::string* error);

// streamforge candles --interval I [--from-interval I] [--symbol S] [--empty flat|skip]
//                     [--closed-only] [FILE...]
int candles_main(int argc, char** argv);

}  // namespace sf::tools
