#include "core/events.h"

namespace sf {

const char* event_type_name(const MarketEvent& e) {
  static constexpr const char* kNames[] = {"trade",          "agg_trade",      "candle",
                                           "depth_update",   "depth_snapshot", "book_ticker"};
  return kNames[e.index()];
}

}  // namespace sf
