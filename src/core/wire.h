// The bus wire format: one JSON object per record, documented in docs/schemas.md.
// Every record has "v" (schema version) and "type"; decimals are JSON strings written exactly as
// parsed; times are integer microseconds since the Unix epoch; ids are 64-bit integers.
#pragma once

#include <string>

#include "core/events.h"

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

}  // namespace sf::wire
