// The structural check in front of every On Demand parse: the vectorised path answers as the byte
// loop does.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/json_balance.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (sf::json_balanced(text) != sf::json_balance_detail::balanced_bytewise(text)) std::abort();
  return 0;
}
