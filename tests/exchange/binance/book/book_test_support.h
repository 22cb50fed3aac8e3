// Builders for hand-made diffs and snapshots in the book tests.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/events.h"

namespace sf::binance::book_testing {

inline Decimal dec(const char* text) {
  return Decimal::parse(text).value();
}

using Levels = std::vector<std::pair<const char*, const char*>>;

inline std::vector<PriceLevel> levels(const Levels& in) {
  std::vector<PriceLevel> out;
  for (const auto& [price, quantity] : in) out.push_back(PriceLevel{dec(price), dec(quantity)});
  return out;
}

inline const Symbol& test_symbol() {
  static const Symbol symbol = *Symbol::parse("BTCUSDT");
  return symbol;
}

inline DepthUpdate diff(std::int64_t first, std::int64_t last, const Levels& bids = {},
                        const Levels& asks = {}, TimestampUs event_time = 0,
                        const Symbol& symbol = test_symbol()) {
  return DepthUpdate{.symbol = symbol,
                     .event_time = event_time,
                     .first_update_id = first,
                     .final_update_id = last,
                     .prev_final_update_id = std::nullopt,
                     .bids = levels(bids),
                     .asks = levels(asks),
                     .receive_time = 0};
}

inline DepthSnapshot snapshot(std::int64_t last_update_id, const Levels& bids = {{"99", "1"}},
                              const Levels& asks = {{"101", "1"}},
                              const Symbol& symbol = test_symbol()) {
  return DepthSnapshot{.symbol = symbol,
                       .last_update_id = last_update_id,
                       .bids = levels(bids),
                       .asks = levels(asks),
                       .is_partial = false,
                       .event_time = 0,
                       .receive_time = 0};
}

// Levels equal by value, in the same order.
inline ::testing::AssertionResult same_levels(const std::vector<PriceLevel>& a,
                                              const std::vector<PriceLevel>& b) {
  if (a.size() != b.size()) {
    return ::testing::AssertionFailure() << "sizes " << a.size() << " vs " << b.size();
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].price != b[i].price || a[i].quantity != b[i].quantity) {
      return ::testing::AssertionFailure()
             << "level " << i << ": " << a[i].price.to_string() << " x "
             << a[i].quantity.to_string() << " vs " << b[i].price.to_string() << " x "
             << b[i].quantity.to_string();
    }
  }
  return ::testing::AssertionSuccess();
}

}  // namespace sf::binance::book_testing
