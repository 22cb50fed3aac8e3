// Decoder for the bus wire format (docs/schemas.md), the inverse of core/wire.h: sinks and
// aggregators read records back into normalised events. Key order does not matter and unknown keys
// are ignored (the schema's compatibility rule); a missing required key, a wrong JSON type, an
// unparsable decimal or a schema version other than 1 is an error naming the field.
//
//   wire::Decoder decoder;             // one per thread; reuses its parser and buffer
//   auto record = decoder.decode(msg.value);
//   if (!record) dead_letter(record.error().message());
//   else if (auto* trade = std::get_if<Trade>(&record->event)) ...
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/events.h"
#include "core/indicator_value.h"
#include "core/result.h"

namespace sf::wire {

// Errors at the decoder boundary.
enum class WireErrc : std::uint8_t {
  kMalformedJson,       // not a JSON object
  kMissingField,        // a key the record's type requires is absent
  kWrongType,           // a key has the wrong JSON type
  kBadValue,            // e.g. an unparsable decimal, an unknown interval, an illegal symbol
  kUnsupportedVersion,  // "v" is not kSchemaVersion
  kUnknownType,         // "type" is not a record type this build knows
};
const char* to_string(WireErrc e);

struct WireError {
  WireErrc code;
  std::string field;  // the offending key ("" for the whole record)
  std::string reason;
  // "missing_field: price (required by trade)"
  std::string message() const;
};

// A loader-ws gap record: ids the loader could not recover (docs/schemas.md, "gap").
struct GapRecord {
  Symbol symbol;
  std::int64_t first_missing_id = 0;
  std::int64_t last_missing_id = 0;
  std::string reason;
};

// What a wire record decodes to. Records that are not market events (gap, indicator, symbol_info)
// have `event` empty and `type` set (and `gap` / `indicator` filled), so a consumer can route them.
struct Decoded {
  std::string_view type;  // static storage: "trade", "gap", ...
  std::optional<MarketEvent> event;
  std::optional<GapRecord> gap;
  std::optional<IndicatorValue> indicator;
};

class Decoder {
 public:
  Decoder();
  ~Decoder();
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  Result<Decoded, WireError> decode(std::string_view json);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Convenience for tests and tools (allocates a parser per call).
Result<Decoded, WireError> decode(std::string_view json);

}  // namespace sf::wire
