// A local order book for one symbol: price levels per side keyed by exact Decimal price, each
// side an ordered map, best first. Prices compare by value (61837.63 == 61837.63000000); the text
// form of the first occurrence is kept so that snapshots format back byte-identical.
//
// The book knows nothing about sequencing: BookSynchronizer decides which diffs may be applied.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "core/events.h"

namespace sf::binance {

// Price order for one side: bids best = highest first, asks best = lowest first. Binance writes
// every price of a symbol with the same scale, so mantissas are compared directly, skipping
// Decimal's out-of-line rescaling compare on the hot path; mixed scales still compare by value.
template <bool kIsBid>
struct BetterPrice {
  static bool less(const Decimal& a, const Decimal& b) {
    return a.scale() == b.scale() ? a.mantissa() < b.mantissa() : a < b;
  }
  bool operator()(const Decimal& a, const Decimal& b) const {
    return kIsBid ? less(b, a) : less(a, b);
  }
};

// One side of the book. `kIsBid` picks the ordering.
template <bool kIsBid>
class BookSide {
 public:
  // Sets the level's quantity; zero removes it. Returns false when a zero quantity names a level
  // the book does not hold (normal for levels beyond the snapshot's depth).
  bool set(const Decimal& price, const Decimal& quantity);
  // Replaces the side with `levels` (any order; zero quantities are skipped).
  void assign(const std::vector<PriceLevel>& levels);
  void clear() { levels_.clear(); }

  std::size_t size() const { return levels_.size(); }
  bool empty() const { return levels_.empty(); }
  // The best level; only when !empty().
  PriceLevel best() const { return {levels_.begin()->first, levels_.begin()->second}; }
  // Up to n levels, best first.
  std::vector<PriceLevel> top(std::size_t n) const;
  // The quantity at `price`, or nullopt when the level is absent.
  std::optional<Decimal> quantity_at(const Decimal& price) const;

 private:
  // A tree rather than a sorted vector: diffs touch deep levels as often as the touch, and with
  // 2,000-3,000 levels per side the vector's memmoves dominated (measured with bench_book).
  std::map<Decimal, Decimal, BetterPrice<kIsBid>> levels_;  // best first
};

using BidSide = BookSide<true>;
using AskSide = BookSide<false>;

class OrderBook {
 public:
  explicit OrderBook(const Symbol& symbol) : symbol_(symbol) {}

  // Book := snapshot; book id := lastUpdateId.
  void apply_snapshot(const DepthSnapshot& snapshot);
  // Sets every level of the diff (insert, update, or remove at zero) and book id := `u`. No
  // sequence checks here; see BookSynchronizer.
  void apply_update(const DepthUpdate& update);
  void clear();

  const Symbol& symbol() const { return symbol_; }
  std::int64_t last_update_id() const { return last_update_id_; }
  // `E` of the last diff applied (the snapshot's event time, 0 for REST, before any diff).
  TimestampUs last_event_time() const { return last_event_time_; }

  std::optional<PriceLevel> best_bid() const;
  std::optional<PriceLevel> best_ask() const;
  const BidSide& bids() const { return bids_; }
  const AskSide& asks() const { return asks_; }

  // Best bid >= best ask. A correctly maintained Binance spot book is never crossed.
  bool is_crossed() const;

  // The top n levels per side (best first) as a snapshot with seq = book id and event time =
  // last_event_time(). `is_partial` marks a published top-N view rather than the whole book.
  DepthSnapshot top(std::size_t n, bool is_partial = true) const;
  // The whole book as a non-partial snapshot: what a REST /depth answer for this book would hold.
  DepthSnapshot full_snapshot() const;

  // Zero-quantity diffs for levels the book never held (beyond the snapshot's depth).
  std::uint64_t removals_of_unknown_levels() const { return removals_of_unknown_levels_; }

 private:
  Symbol symbol_;
  std::int64_t last_update_id_ = 0;
  TimestampUs last_event_time_ = 0;
  BidSide bids_;
  AskSide asks_;
  std::uint64_t removals_of_unknown_levels_ = 0;
};

}  // namespace sf::binance
