// Binance REST bodies (klines, OHLCV rows, trades, aggTrades, depth, exchangeInfo, error bodies):
// the first byte picks the parser, the rest is the body.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "exchange/binance/parse.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static sf::binance::Parser parser;
  static const sf::Symbol btc = *sf::Symbol::parse("BTCUSDT");
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 8) {
    case 0: (void)parser.parse_rest_klines(body, btc, sf::Interval::k5m); break;
    case 1: (void)parser.parse_ohlcv_rows(body, btc, sf::Interval::k1m); break;
    case 2: (void)parser.parse_rest_agg_trades(body, btc); break;
    case 3: (void)parser.parse_rest_trades(body, btc, sf::TimeUnit::kMicroseconds); break;
    case 4: (void)parser.parse_rest_depth(body, btc, 1); break;
    case 5: (void)parser.parse_exchange_info(body); break;
    case 6: (void)parser.parse_api_error(body); break;
    default: (void)parser.parse_rest_klines(body, btc, sf::Interval::k1M, sf::TimeUnit::kMilliseconds);
  }
  return 0;
}
