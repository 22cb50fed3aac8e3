// Shared helpers for the graph tests: the freqtrade 5m series, and candles with changed values.
#pragma once

#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "core/events.h"
#include "exchange/binance/parse.h"
#include "test_support.h"

namespace sf::ml::testing {

inline constexpr const char* kFreqtradeDir = "klines_5m_2022_freqtrade";

// The 13 pairs of the freqtrade set, file stem -> symbol.
inline const std::vector<std::string>& freqtrade_pairs() {
  static const std::vector<std::string> kPairs = {"ADA",  "ATOM", "AVAX",  "BTC",  "DOT",
                                                  "LINK", "LUNA", "MATIC", "NEAR", "SAND",
                                                  "SOL",  "TRX",  "XRP"};
  return kPairs;
}

// Parsed once per process. Empty on failure (the test asserts on size).
inline const std::vector<Candle>& freqtrade_series(const std::string& base) {
  static std::map<std::string, std::vector<Candle>> cache;
  auto it = cache.find(base);
  if (it != cache.end()) return it->second;
  const auto path = sf::testing::shared_data_dir() / kFreqtradeDir / (base + "_USDT-5m.json");
  std::ifstream in(path);
  std::string body((std::istreambuf_iterator<char>(in)), {});
  binance::Parser parser;
  auto sym = Symbol::parse(base + "USDT");
  auto parsed = parser.parse_ohlcv_rows(body, *sym, Interval::k5m);
  std::vector<Candle> out;
  if (parsed) out = std::move(parsed).value();
  return cache.emplace(base, std::move(out)).first->second;
}

// A copy of `c` with prices times `price_mult`, volumes times `volume_mult`, and optionally a
// trade count and taker-buy base volume.
inline Candle changed(const Candle& c, const Decimal& price_mult, const Decimal& volume_mult,
                      std::int64_t trades = -2, const Decimal* taker = nullptr) {
  return Candle{
      .symbol = c.symbol,
      .interval = c.interval,
      .open_time = c.open_time,
      .open = c.open * price_mult,
      .high = c.high * price_mult,
      .low = c.low * price_mult,
      .close = c.close * price_mult,
      .volume = c.volume * volume_mult,
      .close_time = c.close_time,
      .quote_asset_volume = c.quote_asset_volume * volume_mult * price_mult,
      .number_of_trades = trades == -2 ? c.number_of_trades : trades,
      .taker_buy_base_asset_volume = taker ? *taker : c.taker_buy_base_asset_volume * volume_mult,
      .taker_buy_quote_asset_volume = c.taker_buy_quote_asset_volume * volume_mult,
      .ignore = c.ignore,
      .first_trade_id = c.first_trade_id,
      .last_trade_id = c.last_trade_id,
      .is_closed = c.is_closed,
      .event_time = c.event_time,
      .receive_time = c.receive_time};
}

inline Decimal dec(const char* s) {
  return *Decimal::parse(s);
}

}  // namespace sf::ml::testing
