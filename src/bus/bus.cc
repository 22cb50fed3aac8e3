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
  }
  return "unknown";
}

}  // namespace sf::bus
