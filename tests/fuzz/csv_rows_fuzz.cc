// data.binance.vision CSV rows (klines, aggTrades, trades).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "exchange/binance/parse.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const sf::Symbol btc = *sf::Symbol::parse("BTCUSDT");
  const std::string_view row(reinterpret_cast<const char*>(data), size);
  (void)sf::binance::parse_kline_csv(row, btc, sf::Interval::k1m);
  (void)sf::binance::parse_agg_trade_csv(row, btc);
  (void)sf::binance::parse_trade_csv(row, btc);
  return 0;
}
