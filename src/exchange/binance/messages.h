// Binance-specific payloads that are not market events: REST error bodies and exchangeInfo.
// Market events themselves are normalised into core/events.h by parse.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/decimal.h"
#include "core/symbol.h"

namespace sf::binance {

// A REST error body: {"code":-1121,"msg":"Invalid symbol."}. Codes are stable, messages vary.
struct ApiError {
  std::int64_t code = 0;
  std::string msg;
};

// The filters we need to validate and normalise prices and quantities (zero = disabled).
struct SymbolInfo {
  Symbol symbol;
  std::string status;  // TRADING, HALT, BREAK, CANCEL_ONLY
  std::string base_asset;
  std::string quote_asset;
  int base_asset_precision = 0;
  int quote_asset_precision = 0;
  Decimal min_price, max_price, tick_size;  // PRICE_FILTER
  Decimal min_qty, max_qty, step_size;      // LOT_SIZE
  Decimal min_notional;                     // MIN_NOTIONAL or NOTIONAL
};

struct RateLimit {
  std::string type;  // REQUEST_WEIGHT, ORDERS, RAW_REQUESTS
  std::string interval;
  int interval_num = 0;
  std::int64_t limit = 0;
};

struct ExchangeInfo {
  std::string timezone;
  std::int64_t server_time_ms = 0;
  std::vector<RateLimit> rate_limits;
  std::vector<SymbolInfo> symbols;
};

}  // namespace sf::binance
