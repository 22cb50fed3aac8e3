// Bus records (docs/schemas.md) through the decoder every consumer runs; a record that decodes
// must encode back to a record that decodes to the same event.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/wire.h"
#include "core/wire_decode.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static sf::wire::Decoder decoder;
  auto decoded = decoder.decode(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!decoded.ok()) return 0;
  if (decoded->event) {
    std::string again;
    sf::wire::encode(*decoded->event, again);
    if (!decoder.decode(again).ok()) std::abort();  // our own encoding must decode
  }
  return 0;
}
