// BookSynchronizer's state machine on hand-made diffs: the straddle rule's edge cases, stale and
// duplicate diffs, too-old snapshots, gaps live and inside the buffer.
#include "exchange/binance/book/synchronizer.h"

#include <gtest/gtest.h>

#include <tuple>
#include <vector>

#include "book_test_support.h"

namespace sf::binance {
namespace {

using namespace book_testing;

// Records on_resync calls.
struct ResyncLog {
  std::vector<std::tuple<ResyncReason, std::int64_t, std::int64_t>> events;
  void attach(BookSynchronizer& sync) {
    sync.set_on_resync([this, &sync](ResyncReason reason, std::int64_t expected, std::int64_t got) {
      EXPECT_TRUE(sync.needs_snapshot());  // the state has already changed
      EXPECT_EQ(sync.book(), nullptr);
      events.emplace_back(reason, expected, got);
    });
  }
};

TEST(BookSynchronizer, BuffersUntilSnapshotAndExposesNothing) {
  BookSynchronizer sync(test_symbol());
  EXPECT_TRUE(sync.needs_snapshot());
  EXPECT_EQ(sync.state(), SyncState::kWaitingForSnapshot);
  EXPECT_EQ(sync.on_diff(diff(101, 102)), DiffOutcome::kBuffered);
  EXPECT_EQ(sync.book(), nullptr);
  EXPECT_EQ(sync.buffered(), 1u);
  EXPECT_EQ(sync.first_buffered_update_id(), 101);
}

TEST(BookSynchronizer, FirstDiffStartingAtLastUpdateIdPlusOneIsApplied) {
  BookSynchronizer sync(test_symbol());
  ASSERT_EQ(sync.on_diff(diff(101, 105, {{"100", "3"}})), DiffOutcome::kBuffered);
  EXPECT_EQ(sync.on_snapshot(snapshot(100)), SnapshotOutcome::kSynced);
  ASSERT_NE(sync.book(), nullptr);
  EXPECT_EQ(sync.book()->last_update_id(), 105);
  EXPECT_EQ(sync.book()->best_bid()->price, dec("100"));
  EXPECT_EQ(sync.counters().diffs_applied, 1u);
  EXPECT_EQ(sync.counters().dropped_older_than_snapshot, 0u);
  EXPECT_EQ(sync.buffered(), 0u);
}

TEST(BookSynchronizer, DiffEndingAtLastUpdateIdIsDroppedAndTheNextStartsAtPlusOne) {
  // cryptofeed BLZETH: snapshot 281916627 == first u.
  BookSynchronizer sync(test_symbol());
  (void)sync.on_diff(diff(95, 100, {{"50", "9"}}));
  (void)sync.on_diff(diff(101, 103));
  EXPECT_EQ(sync.on_snapshot(snapshot(100)), SnapshotOutcome::kSynced);
  EXPECT_EQ(sync.counters().dropped_older_than_snapshot, 1u);
  EXPECT_EQ(sync.counters().diffs_applied, 1u);
  EXPECT_EQ(sync.book()->last_update_id(), 103);
  EXPECT_FALSE(sync.book()->bids().quantity_at(dec("50")).has_value());
}

TEST(BookSynchronizer, StraddlingFirstDiffIsApplied) {
  BookSynchronizer sync(test_symbol());
  (void)sync.on_diff(diff(98, 102));
  EXPECT_EQ(sync.on_snapshot(snapshot(100)), SnapshotOutcome::kSynced);
  EXPECT_EQ(sync.book()->last_update_id(), 102);
}

TEST(BookSynchronizer, SnapshotNewerThanEarlyDiffsDropsThemAndWaitsForTheStraddlingOne) {
  // cryptofeed LRCBTC: the snapshot is newer than the first diffs, some of which arrive live
  // after it.
  BookSynchronizer sync(test_symbol());
  (void)sync.on_diff(diff(90, 95));
  EXPECT_EQ(sync.on_snapshot(snapshot(100)), SnapshotOutcome::kSynced);
  EXPECT_EQ(sync.on_diff(diff(96, 99)), DiffOutcome::kOlderThanSnapshot);
  EXPECT_EQ(sync.on_diff(diff(100, 100)), DiffOutcome::kOlderThanSnapshot);
  EXPECT_EQ(sync.on_diff(diff(101, 101)), DiffOutcome::kApplied);
  EXPECT_EQ(sync.counters().dropped_older_than_snapshot, 3u);
  EXPECT_EQ(sync.counters().stale_ignored, 0u);
  EXPECT_EQ(sync.book()->last_update_id(), 101);
}

TEST(BookSynchronizer, TooOldSnapshotKeepsTheBufferAndAsksForAnother) {
  BookSynchronizer sync(test_symbol());
  ResyncLog log;
  log.attach(sync);
  (void)sync.on_diff(diff(105, 110, {{"99", "7"}}));
  (void)sync.on_diff(diff(111, 112));
  EXPECT_EQ(sync.on_snapshot(snapshot(100)), SnapshotOutcome::kTooOld);
  EXPECT_TRUE(sync.needs_snapshot());
  EXPECT_EQ(sync.book(), nullptr);
  EXPECT_EQ(sync.buffered(), 2u);
  ASSERT_EQ(log.events.size(), 1u);
  EXPECT_EQ(log.events[0], std::make_tuple(ResyncReason::kSnapshotTooOld, 101, 105));
  EXPECT_EQ(sync.counters().snapshots_too_old, 1u);
  EXPECT_EQ(sync.counters().gaps, 0u);

  EXPECT_EQ(sync.on_snapshot(snapshot(107)), SnapshotOutcome::kSynced);
  EXPECT_EQ(sync.book()->last_update_id(), 112);
  EXPECT_EQ(*sync.book()->bids().quantity_at(dec("99")), dec("7"));
  EXPECT_EQ(sync.counters().snapshots_used, 1u);
}

TEST(BookSynchronizer, TooOldSnapshotDetectedOnTheFirstLiveDiff) {
  BookSynchronizer sync(test_symbol());
  ResyncLog log;
  log.attach(sync);
  EXPECT_EQ(sync.on_snapshot(snapshot(100)), SnapshotOutcome::kSynced);  // nothing buffered yet
  EXPECT_EQ(sync.on_diff(diff(103, 104)), DiffOutcome::kSnapshotTooOld);
  EXPECT_EQ(sync.book(), nullptr);
  EXPECT_EQ(sync.buffered(), 1u);
  ASSERT_EQ(log.events.size(), 1u);
  EXPECT_EQ(log.events[0], std::make_tuple(ResyncReason::kSnapshotTooOld, 101, 103));
  EXPECT_EQ(sync.counters().snapshots_too_old, 1u);
  EXPECT_EQ(sync.counters().gaps, 0u);
}

TEST(BookSynchronizer, DuplicatesAndOlderDiffsAreStale) {
  BookSynchronizer sync(test_symbol());
  (void)sync.on_snapshot(snapshot(100));
  EXPECT_EQ(sync.on_diff(diff(101, 103, {{"99", "2"}})), DiffOutcome::kApplied);
  EXPECT_EQ(sync.on_diff(diff(101, 103, {{"99", "5"}})), DiffOutcome::kStale);  // duplicate
  EXPECT_EQ(sync.on_diff(diff(102, 103)), DiffOutcome::kStale);                 // u == book id
  EXPECT_EQ(sync.on_diff(diff(90, 95)), DiffOutcome::kStale);
  EXPECT_EQ(sync.counters().stale_ignored, 3u);
  EXPECT_EQ(*sync.book()->bids().quantity_at(dec("99")), dec("2"));
  EXPECT_EQ(sync.on_diff(diff(104, 104)), DiffOutcome::kApplied);
  EXPECT_EQ(sync.counters().gaps, 0u);
}

TEST(BookSynchronizer, OverlappingDiffIsApplied) {
  BookSynchronizer sync(test_symbol());
  (void)sync.on_snapshot(snapshot(100));
  (void)sync.on_diff(diff(101, 103));
  EXPECT_EQ(sync.on_diff(diff(102, 106, {{"99", "4"}})), DiffOutcome::kApplied);
  EXPECT_EQ(sync.book()->last_update_id(), 106);
}

TEST(BookSynchronizer, LiveGapInvalidatesTheBookUntilANewSnapshot) {
  BookSynchronizer sync(test_symbol());
  ResyncLog log;
  log.attach(sync);
  (void)sync.on_snapshot(snapshot(100));
  (void)sync.on_diff(diff(101, 103));
  EXPECT_EQ(sync.on_diff(diff(105, 106, {{"98", "1"}})), DiffOutcome::kGap);
  EXPECT_EQ(sync.state(), SyncState::kWaitingForSnapshot);
  EXPECT_EQ(sync.book(), nullptr);
  EXPECT_TRUE(sync.needs_snapshot());
  ASSERT_EQ(log.events.size(), 1u);
  EXPECT_EQ(log.events[0], std::make_tuple(ResyncReason::kGap, 104, 105));
  EXPECT_EQ(sync.counters().gaps, 1u);
  EXPECT_EQ(sync.counters().resyncs, 1u);
  EXPECT_EQ(sync.first_buffered_update_id(), 105);  // the diff past the hole is kept
  EXPECT_EQ(sync.on_diff(diff(107, 108)), DiffOutcome::kBuffered);

  EXPECT_EQ(sync.on_snapshot(snapshot(106)), SnapshotOutcome::kSynced);
  EXPECT_EQ(sync.book()->last_update_id(), 108);
  EXPECT_EQ(sync.counters().snapshots_used, 2u);
}

TEST(BookSynchronizer, GapInsideTheBufferNeedsANewerSnapshot) {
  BookSynchronizer sync(test_symbol());
  ResyncLog log;
  log.attach(sync);
  (void)sync.on_diff(diff(101, 103));
  (void)sync.on_diff(diff(105, 106));
  (void)sync.on_diff(diff(107, 107));
  EXPECT_EQ(sync.on_snapshot(snapshot(100)), SnapshotOutcome::kGapInBuffer);
  EXPECT_EQ(sync.book(), nullptr);
  EXPECT_EQ(sync.buffered(), 2u);
  ASSERT_EQ(log.events.size(), 1u);
  EXPECT_EQ(log.events[0], std::make_tuple(ResyncReason::kGap, 104, 105));
  EXPECT_EQ(sync.on_snapshot(snapshot(104)), SnapshotOutcome::kSynced);
  EXPECT_EQ(sync.book()->last_update_id(), 107);
}

TEST(BookSynchronizer, IgnoresSnapshotsWhileSyncedAndOtherSymbols) {
  BookSynchronizer sync(test_symbol());
  const Symbol eth = *Symbol::parse("ETHUSDT");
  EXPECT_EQ(sync.on_snapshot(snapshot(100, {}, {}, eth)), SnapshotOutcome::kOtherSymbol);
  EXPECT_EQ(sync.on_diff(diff(1, 2, {}, {}, 0, eth)), DiffOutcome::kOtherSymbol);
  EXPECT_EQ(sync.on_snapshot(snapshot(100)), SnapshotOutcome::kSynced);
  EXPECT_EQ(sync.on_snapshot(snapshot(200)), SnapshotOutcome::kNotWaiting);
  EXPECT_EQ(sync.book()->last_update_id(), 100);
  EXPECT_EQ(sync.counters().snapshots_ignored, 2u);
}

TEST(BookSynchronizer, BufferKeepsTheNewestDiffsWhenFull) {
  BookSynchronizer sync(test_symbol(), /*max_buffered=*/2);
  (void)sync.on_diff(diff(101, 101));
  (void)sync.on_diff(diff(102, 102));
  (void)sync.on_diff(diff(103, 103));
  EXPECT_EQ(sync.counters().buffer_overflow_dropped, 1u);
  EXPECT_EQ(sync.first_buffered_update_id(), 102);
  EXPECT_EQ(sync.on_snapshot(snapshot(100)), SnapshotOutcome::kTooOld);
  EXPECT_EQ(sync.on_snapshot(snapshot(101)), SnapshotOutcome::kSynced);
  EXPECT_EQ(sync.book()->last_update_id(), 103);
}

TEST(BookSynchronizer, ResetDropsBookAndBuffer) {
  BookSynchronizer sync(test_symbol());
  (void)sync.on_snapshot(snapshot(100));
  sync.reset();
  EXPECT_TRUE(sync.needs_snapshot());
  EXPECT_EQ(sync.book(), nullptr);
  EXPECT_EQ(sync.buffered(), 0u);
}

}  // namespace
}  // namespace sf::binance
