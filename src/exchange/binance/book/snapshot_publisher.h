// SnapshotPublisher: the synced book as a top-N partial snapshot for downstream consumers
// (is_partial = true, event time = `E` of the last diff applied, seq = book id). Nothing is
// published while the book is not synced: a consumer never sees a book with a hole in it.
#pragma once

#include <cstddef>
#include <optional>

#include "core/events.h"
#include "exchange/binance/book/synchronizer.h"

namespace sf::binance {

class SnapshotPublisher {
 public:
  explicit SnapshotPublisher(std::size_t depth) : depth_(depth) {}

  std::size_t depth() const { return depth_; }
  std::optional<DepthSnapshot> publish(const BookSynchronizer& synchronizer) const;
  std::optional<DepthSnapshot> publish(const OrderBook* book) const;

 private:
  std::size_t depth_;
};

}  // namespace sf::binance
