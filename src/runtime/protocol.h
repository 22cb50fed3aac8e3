// The control/telemetry protocol every worker speaks (docs/protocol.md).
//
// Telemetry on QUEUE_EVENTS_TOPIC (default `queue-events`), keyed by queue_id:
//   {"queue_id","producer","symbol","type","status","message","records_written","finished",
//    "timestamp","extra"}
//   status: started -> loading ... -> exactly one of finished | interrupted | error; plus `pong`.
// Commands on QUEUE_CONTROL_TOPIC (default `queue-control`), keyed by queue_id:
//   {"command":"start"|"stop"|"ping","queue_id", "target"?, "sent_at"?}
//   A worker acts on a command whose queue_id is its own (or "all") and whose target, when
//   given, is its service or its telemetry id. Every instance reads every command: each one
//   consumes the control topic in a consumer group of its own (the original shared one group,
//   so only one instance ever saw a stop).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "store/records.h"

namespace sf::runtime {

inline constexpr std::string_view kStatusStarted = "started";
inline constexpr std::string_view kStatusLoading = "loading";
inline constexpr std::string_view kStatusFinished = "finished";
inline constexpr std::string_view kStatusInterrupted = "interrupted";
inline constexpr std::string_view kStatusError = "error";
inline constexpr std::string_view kStatusPong = "pong";

bool is_terminal_status(std::string_view status);

std::string encode_telemetry(const TelemetryEvent& e);
Result<TelemetryEvent, std::string> decode_telemetry(std::string_view json);

struct ControlCommand {
  std::string command;   // start | stop | ping
  std::string queue_id;  // or "all"
  std::string target;    // optional: a service name or telemetry id
  double sent_at = 0;    // unix seconds; pings are answered with it
};

std::string encode_command(const ControlCommand& c);
Result<ControlCommand, std::string> decode_command(std::string_view json);

// Whether a worker (queue_id, service, producer) must act on the command.
bool command_applies(const ControlCommand& c, std::string_view queue_id, std::string_view service,
                     std::string_view producer);

}  // namespace sf::runtime
