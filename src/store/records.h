// Records the store keeps besides market events: indicator values (core/indicator_value.h),
// telemetry and workflow state.
#pragma once

#include <cstdint>
#include <string>

#include "core/indicator_value.h"
#include "core/interval.h"
#include "core/symbol.h"
#include "core/time.h"

namespace sf {

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
