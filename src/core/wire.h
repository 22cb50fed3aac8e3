// The bus wire format: one JSON object per record, documented in docs/schemas.md.
// Every record has "v" (schema version) and "type"; decimals are JSON strings written exactly as
// parsed; times are integer microseconds since the Unix epoch; ids are 64-bit integers.
#pragma once

#include <string>

#include "core/events.h"
#include "core/indicator_value.h"

namespace sf::wire {

inline constexpr int kSchemaVersion = 1;

// Appends the record to `out` (no trailing newline). Reuse `out` to avoid allocation.
void encode(const MarketEvent& event, std::string& out);
void encode(const Trade& e, std::string& out);
void encode(const AggTrade& e, std::string& out);
void encode(const Candle& e, std::string& out);
void encode(const DepthUpdate& e, std::string& out);
void encode(const DepthSnapshot& e, std::string& out);
void encode(const BookTicker& e, std::string& out);
// {"v":1,"type":"indicator","symbol","interval","name","open_time","value","seq"}: value is a JSON
// number written shortest-round-trip (indicators are statistics, not prices); seq = open time ms.
// Non-finite values are not representable and must not be published.
void encode(const IndicatorValue& e, std::string& out);

}  // namespace sf::wire
