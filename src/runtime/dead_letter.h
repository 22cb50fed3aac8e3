// Dead-letter records: what a consumer publishes on `<topic>.dlq` for a message it cannot use
// (undecodable, invalid), so nothing is lost silently and the stream goes on (docs/schemas.md,
// "dead_letter"):
//   {"v":1,"type":"dead_letter","reason":"...","source_topic":"t","source_partition":0,
//    "source_offset":42,"key":"BTCUSDT","value":"<the message as received>","connector":"<id>",
//    "time":<µs>}
#pragma once

#include <string>
#include <string_view>

#include "bus/bus.h"

namespace sf::runtime {

inline constexpr std::string_view kDeadLetterSuffix = ".dlq";

// The record for `message`; `producer` is the telemetry id of the consumer that gave up on it.
std::string dead_letter_record(const bus::Message& message, std::string_view reason,
                               std::string_view producer);

}  // namespace sf::runtime
