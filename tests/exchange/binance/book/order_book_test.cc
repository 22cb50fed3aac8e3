// OrderBook, BookTickerCheck and SnapshotPublisher on hand-made data.
#include "exchange/binance/book/order_book.h"

#include <gtest/gtest.h>

#include "book_test_support.h"
#include "exchange/binance/book/book_ticker_check.h"
#include "exchange/binance/book/snapshot_publisher.h"
#include "exchange/binance/book/synchronizer.h"

namespace sf::binance {
namespace {

using namespace book_testing;

BookTicker ticker(std::int64_t id, const char* bid_quantity) {
  return BookTicker{.symbol = test_symbol(),
                    .update_id = id,
                    .bid_price = dec("100.00000000"),
                    .bid_quantity = dec(bid_quantity),
                    .ask_price = dec("101"),
                    .ask_quantity = dec("2.00000000"),
                    .event_time = 0,
                    .receive_time = 0};
}

TEST(OrderBook, SnapshotIsSortedBestFirstAndSkipsZeroLevels) {
  OrderBook book(test_symbol());
  book.apply_snapshot(snapshot(42, {{"99.5", "2"}, {"100", "1"}, {"98", "0"}},
                               {{"102", "3"}, {"101", "4"}, {"103", "0.000"}}));
  EXPECT_EQ(book.last_update_id(), 42);
  EXPECT_EQ(book.bids().size(), 2u);
  EXPECT_EQ(book.asks().size(), 2u);
  EXPECT_TRUE(same_levels(book.top(10).bids, levels({{"100", "1"}, {"99.5", "2"}})));
  EXPECT_TRUE(same_levels(book.top(10).asks, levels({{"101", "4"}, {"102", "3"}})));
  EXPECT_EQ(book.best_bid()->price, dec("100"));
  EXPECT_EQ(book.best_ask()->quantity, dec("4"));
  EXPECT_FALSE(book.is_crossed());
}

TEST(OrderBook, DiffInsertsUpdatesAndRemovesByValue) {
  OrderBook book(test_symbol());
  book.apply_snapshot(snapshot(10, {{"100.10000000", "1.00000000"}}, {{"101.00", "1"}}));
  // Same price written with another scale updates the level rather than adding a second one.
  book.apply_update(diff(11, 12, {{"100.1", "5"}, {"100.2", "0.5"}}, {{"101", "0.00000000"}}, 777));
  EXPECT_EQ(book.last_update_id(), 12);
  EXPECT_EQ(book.last_event_time(), 777);
  EXPECT_TRUE(same_levels(book.top(5).bids, levels({{"100.2", "0.5"}, {"100.1", "5"}})));
  EXPECT_TRUE(book.asks().empty());
  EXPECT_FALSE(book.best_ask().has_value());
  // The text of the first occurrence is kept.
  EXPECT_EQ(book.top(5).bids[1].price.to_string(), "100.10000000");
  EXPECT_EQ(book.bids().quantity_at(dec("100.1"))->to_string(), "5");
  EXPECT_FALSE(book.bids().quantity_at(dec("100.3")).has_value());
}

TEST(OrderBook, RemovingAnUnknownLevelIsCountedNotFatal) {
  OrderBook book(test_symbol());
  book.apply_snapshot(snapshot(1));
  book.apply_update(diff(2, 2, {{"50", "0"}}, {{"150", "0"}}));
  EXPECT_EQ(book.removals_of_unknown_levels(), 2u);
  EXPECT_EQ(book.bids().size(), 1u);
}

TEST(OrderBook, CrossedDetection) {
  OrderBook book(test_symbol());
  book.apply_snapshot(snapshot(1, {{"100", "1"}}, {{"101", "1"}}));
  EXPECT_FALSE(book.is_crossed());
  book.apply_update(diff(2, 2, {{"101", "1"}}));
  EXPECT_TRUE(book.is_crossed());  // bid == ask counts as crossed
}

TEST(OrderBook, TopLimitsDepthAndFullSnapshotRoundTrips) {
  OrderBook book(test_symbol());
  book.apply_snapshot(snapshot(5, {{"1", "1"}, {"2", "1"}, {"3", "1"}}, {{"4", "1"}, {"5", "1"}}));
  const DepthSnapshot top = book.top(2);
  EXPECT_TRUE(top.is_partial);
  EXPECT_EQ(top.last_update_id, 5);
  EXPECT_TRUE(same_levels(top.bids, levels({{"3", "1"}, {"2", "1"}})));
  EXPECT_TRUE(same_levels(top.asks, levels({{"4", "1"}, {"5", "1"}})));
  const DepthSnapshot full = book.full_snapshot();
  EXPECT_FALSE(full.is_partial);
  OrderBook copy(test_symbol());
  copy.apply_snapshot(full);
  EXPECT_TRUE(same_levels(copy.top(100).bids, book.top(100).bids));
  EXPECT_TRUE(same_levels(copy.top(100).asks, book.top(100).asks));
}

TEST(BookTickerCheck, ComparesPriceAndQuantityAtTheSameId) {
  OrderBook book(test_symbol());
  book.apply_snapshot(snapshot(7, {{"100.00", "1.5"}}, {{"101.00", "2"}}));
  BookTickerCheck check;
  EXPECT_EQ(check.on_ticker(&book, ticker(7, "1.50000000")), TickerCheckOutcome::kMatch);
  EXPECT_EQ(check.on_ticker(&book, ticker(7, "1.4")), TickerCheckOutcome::kMismatch);
  EXPECT_NE(check.last_mismatch().find("bid"), std::string::npos);
  EXPECT_EQ(check.on_ticker(&book, ticker(6, "1.5")), TickerCheckOutcome::kNotComparable);
  EXPECT_EQ(check.counters().matches, 1u);
  EXPECT_EQ(check.counters().mismatches, 1u);
  EXPECT_EQ(check.counters().not_comparable, 1u);
}

TEST(BookTickerCheck, TickersAheadOfTheBookWaitForIt) {
  OrderBook book(test_symbol());
  book.apply_snapshot(snapshot(7, {{"100", "1.5"}}, {{"101", "2"}}));
  BookTickerCheck check;
  // Real-time tickers arrive before the 100 ms diff that reaches their id.
  EXPECT_EQ(check.on_ticker(&book, ticker(9, "3")), TickerCheckOutcome::kPending);
  EXPECT_EQ(check.on_ticker(&book, ticker(8, "3")), TickerCheckOutcome::kPending);
  EXPECT_EQ(check.pending(), 2u);
  book.apply_update(diff(8, 8, {{"100", "3"}}));
  check.on_book_updated(book);  // lands on 8: compared
  EXPECT_EQ(check.counters().matches, 1u);
  book.apply_update(diff(9, 10));
  check.on_book_updated(book);  // jumps over 9: not comparable
  EXPECT_EQ(check.counters().not_comparable, 1u);
  EXPECT_EQ(check.pending(), 0u);
  // With no book the ticker is held; forgetting it counts it as not comparable.
  EXPECT_EQ(check.on_ticker(nullptr, ticker(11, "3")), TickerCheckOutcome::kPending);
  check.clear_pending();
  EXPECT_EQ(check.counters().not_comparable, 2u);
  EXPECT_EQ(check.counters().mismatches, 0u);
}

TEST(SnapshotPublisher, PublishesTopNOnlyWhileSynced) {
  BookSynchronizer sync(test_symbol());
  const SnapshotPublisher publisher(1);
  EXPECT_FALSE(publisher.publish(sync).has_value());
  ASSERT_EQ(sync.on_snapshot(snapshot(10, {{"99", "1"}, {"98", "1"}}, {{"101", "1"}})),
            SnapshotOutcome::kSynced);
  ASSERT_EQ(sync.on_diff(diff(11, 13, {{"99.5", "2"}}, {}, 1'723'161'255'208'000)),
            DiffOutcome::kApplied);
  const auto published = publisher.publish(sync);
  ASSERT_TRUE(published.has_value());
  EXPECT_TRUE(published->is_partial);
  EXPECT_EQ(published->last_update_id, 13);
  EXPECT_EQ(published->sequence_id(), 13);
  EXPECT_EQ(published->event_time, 1'723'161'255'208'000);
  EXPECT_TRUE(same_levels(published->bids, levels({{"99.5", "2"}})));
  EXPECT_TRUE(same_levels(published->asks, levels({{"101", "1"}})));
}

}  // namespace
}  // namespace sf::binance
