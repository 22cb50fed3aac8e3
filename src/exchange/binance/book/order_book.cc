#include "exchange/binance/book/order_book.h"

#include <algorithm>
#include <limits>

namespace sf::binance {

template <bool kIsBid>
bool BookSide<kIsBid>::set(const Decimal& price, const Decimal& quantity) {
  if (quantity.is_zero()) {
    const auto it = levels_.find(price);  // find + erase(it): erase(key) walks an equal_range
    if (it == levels_.end()) return false;
    levels_.erase(it);
    return true;
  }
  // try_emplace keeps the key written first; only the quantity changes.
  const auto [it, inserted] = levels_.try_emplace(price, quantity);
  if (!inserted) it->second = quantity;
  return true;
}

template <bool kIsBid>
void BookSide<kIsBid>::assign(const std::vector<PriceLevel>& levels) {
  levels_.clear();
  // A snapshot never repeats a price; if one did, the later entry wins as it would in a diff.
  for (const PriceLevel& level : levels) (void)set(level.price, level.quantity);
}

template <bool kIsBid>
std::vector<PriceLevel> BookSide<kIsBid>::top(std::size_t n) const {
  std::vector<PriceLevel> out;
  out.reserve(std::min(n, levels_.size()));
  for (auto it = levels_.begin(); it != levels_.end() && out.size() < n; ++it) {
    out.push_back(PriceLevel{it->first, it->second});
  }
  return out;
}

template <bool kIsBid>
std::optional<Decimal> BookSide<kIsBid>::quantity_at(const Decimal& price) const {
  const auto it = levels_.find(price);
  if (it == levels_.end()) return std::nullopt;
  return it->second;
}

template class BookSide<true>;
template class BookSide<false>;

void OrderBook::apply_snapshot(const DepthSnapshot& snapshot) {
  bids_.assign(snapshot.bids);
  asks_.assign(snapshot.asks);
  last_update_id_ = snapshot.last_update_id;
  last_event_time_ = snapshot.event_time;
}

void OrderBook::apply_update(const DepthUpdate& update) {
  for (const PriceLevel& level : update.bids) {
    if (!bids_.set(level.price, level.quantity)) ++removals_of_unknown_levels_;
  }
  for (const PriceLevel& level : update.asks) {
    if (!asks_.set(level.price, level.quantity)) ++removals_of_unknown_levels_;
  }
  last_update_id_ = update.final_update_id;
  last_event_time_ = update.event_time;
}

void OrderBook::clear() {
  bids_.clear();
  asks_.clear();
  last_update_id_ = 0;
  last_event_time_ = 0;
}

std::optional<PriceLevel> OrderBook::best_bid() const {
  if (bids_.empty()) return std::nullopt;
  return bids_.best();
}

std::optional<PriceLevel> OrderBook::best_ask() const {
  if (asks_.empty()) return std::nullopt;
  return asks_.best();
}

bool OrderBook::is_crossed() const {
  return !bids_.empty() && !asks_.empty() && bids_.best().price >= asks_.best().price;
}

DepthSnapshot OrderBook::top(std::size_t n, bool is_partial) const {
  return DepthSnapshot{.symbol = symbol_,
                       .last_update_id = last_update_id_,
                       .bids = bids_.top(n),
                       .asks = asks_.top(n),
                       .is_partial = is_partial,
                       .event_time = last_event_time_,
                       .receive_time = 0};
}

DepthSnapshot OrderBook::full_snapshot() const {
  return top(std::numeric_limits<std::size_t>::max(), /*is_partial=*/false);
}

}  // namespace sf::binance
