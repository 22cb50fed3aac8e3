// `streamforge normalize`, one input line (a capture line with its receive-time prefix, a bare
// frame or a CSV row) at a time: the SIGSEGV of issue 16 came through here.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tools/normalize.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static sf::tools::Normalizer normalizer([](std::string_view, const sf::MarketEvent*) {},
                                          [](std::string_view) {});
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::uint64_t line = 0;
  std::size_t start = 0;
  while (start <= input.size()) {
    const auto end = input.find('\n', start);
    normalizer.line(input.substr(start, end == std::string_view::npos ? input.size() - start
                                                                      : end - start),
                    ++line);
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return 0;
}
