// An indicator value: what indicator-calculator publishes (wire type "indicator") and the store
// keeps.
#pragma once

#include <string>

#include "core/interval.h"
#include "core/symbol.h"
#include "core/time.h"

namespace sf {

// One indicator value for one candle. Indicators are statistics (RSI, volatility), not prices, so
// they are doubles. Natural key: (symbol, interval, name, open_time).
struct IndicatorValue {
  Symbol symbol;
  Interval interval = Interval::k1m;
  std::string name;  // e.g. "rsi_14", "macd_hist"
  TimestampUs open_time = 0;
  double value = 0;
};

}  // namespace sf
