#include "runtime/dead_letter.h"

#include "core/time.h"
#include "runtime/json_writer.h"

namespace sf::runtime {

std::string dead_letter_record(const bus::Message& m, std::string_view reason,
                               std::string_view producer) {
  std::string out;
  JsonWriter w(out);
  w.begin_object()
      .field("v", std::int64_t{1})
      .field("type", "dead_letter")
      .field("reason", reason)
      .field("source_topic", m.topic)
      .field("source_partition", std::int64_t{m.partition})
      .field("source_offset", m.offset)
      .field("key", m.key)
      .field("value", m.value)
      .field("connector", producer)
      .field("time", now_micros())
      .end_object();
  return out;
}

}  // namespace sf::runtime
