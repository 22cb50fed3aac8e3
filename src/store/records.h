// Records the store keeps besides market events: indicator values, telemetry and workflow state.
#pragma once

#include <cstdint>
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

// The control/telemetry protocol's event, as published on `queue-events`.
// Natural key in the store: (queue_id, producer, timestamp, status).
struct TelemetryEvent {
  std::string queue_id;
  std::string producer;  // telemetry id, e.g. "dummy-service__a1b2c3"
  std::string symbol;
  std::string type;
  std::string status;  // started | loading | finished | interrupted | error | pong
  std::string message;
  std::int64_t records_written = 0;
  bool finished = false;
  double timestamp = 0;      // unix seconds
  std::string extra = "{}";  // a JSON object
};

// A workflow's persisted state. Natural key: queue_id.
struct WorkflowState {
  std::string queue_id;
  std::string status;      // pending | running | finished | failed | interrupted
  std::string definition;  // JSON
  double created_at = 0;
  double updated_at = 0;
};

}  // namespace sf
