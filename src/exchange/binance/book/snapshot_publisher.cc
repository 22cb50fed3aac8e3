#include "exchange/binance/book/snapshot_publisher.h"

namespace sf::binance {

std::optional<DepthSnapshot> SnapshotPublisher::publish(
    const BookSynchronizer& synchronizer) const {
  return publish(synchronizer.book());
}

std::optional<DepthSnapshot> SnapshotPublisher::publish(const OrderBook* book) const {
  if (book == nullptr) return std::nullopt;
  return book->top(depth_, /*is_partial=*/true);
}

}  // namespace sf::binance
