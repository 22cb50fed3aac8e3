#include "bus/bus.h"

namespace sf::bus {

const char* to_string(BusErrc e) {
  switch (e) {
    case BusErrc::kBackpressure:
      return "backpressure";
    case BusErrc::kClosed:
      return "closed";
    case BusErrc::kInvalidTopic:
      return "invalid topic";
    case BusErrc::kTooLarge:
      return "too large";
    case BusErrc::kDeliveryFailed:
      return "delivery failed";
    case BusErrc::kBrokerError:
      return "broker error";
    case BusErrc::kConfig:
      return "config";
    case BusErrc::kUnknownTopic:
      return "unknown topic";
  }
  return "unknown";
}

BusResult<std::map<std::int32_t, PartitionRange>> Bus::partition_ranges(std::string_view) {
  return unexpected(BusError{BusErrc::kConfig, "this bus cannot list partition offsets"});
}

}  // namespace sf::bus
