// Dates, intervals and symbols as the API and the loaders read them.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/interval.h"
#include "core/symbol.h"
#include "core/time.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  sf::TimestampUs day = 0;
  (void)sf::parse_date(text, &day);
  if (auto iv = sf::parse_interval(text)) (void)sf::interval_micros(*iv);
  (void)sf::Symbol::parse(text);
  return 0;
}
