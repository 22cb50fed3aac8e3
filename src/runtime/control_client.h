// Sending commands to workers over the bus, and waiting for their pongs. Used by the platform
// host's control endpoint, by `streamforge ctl` and by tests.
#pragma once

#include <chrono>
#include <string>

#include "bus/bus.h"
#include "runtime/protocol.h"

namespace sf::runtime {

struct Topics {
  std::string control = "queue-control";
  std::string events = "queue-events";
};

Result<void, std::string> send_command(bus::Bus& bus, const Topics& topics,
                                       const ControlCommand& command);

struct PongReply {
  TelemetryEvent pong;
  double sent_at = 0;    // the ping's send time (unix seconds)
  double ponged_at = 0;  // when the worker answered
  double rtt_ms = 0;     // from sending the ping to reading the pong
};

// Sends a ping to `queue_id` (optionally one target) and waits for the first pong answering it.
Result<PongReply, std::string> ping(bus::Bus& bus, const Topics& topics,
                                    const std::string& queue_id, const std::string& target,
                                    std::chrono::milliseconds timeout);

}  // namespace sf::runtime
