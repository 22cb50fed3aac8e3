// Decimal parsing: any text either fails or gives a value whose text parses back to it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/decimal.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (auto parsed : {sf::Decimal::parse(text), sf::Decimal::parse_general(text)}) {
    if (!parsed.ok()) continue;
    const std::string out = parsed->to_string();
    auto back = sf::Decimal::parse(out);
    if (!back.ok() || !(*back == *parsed)) std::abort();
  }
  return 0;
}
