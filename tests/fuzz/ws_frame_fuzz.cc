// Binance WebSocket frames (raw and combined) through the parser that loader-ws runs on every
// frame, with and without a symbol hint.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "exchange/binance/parse.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static sf::binance::Parser parser;
  static const sf::Symbol hint = *sf::Symbol::parse("BTCUSDT");
  const std::string_view frame(reinterpret_cast<const char*>(data), size);
  (void)parser.parse_ws_frame(frame, 1);
  (void)parser.parse_ws_frame(frame, 1, &hint);
  return 0;
}
