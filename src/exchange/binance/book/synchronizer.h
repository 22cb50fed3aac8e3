// BookSynchronizer: Binance's documented procedure for keeping a local spot order book in step
// with the diff-depth stream (docs/binance-formats.md §3.3). Pure state machine, no network: the
// caller feeds WS diffs and REST snapshots and fetches a snapshot whenever needs_snapshot().
//
//   kWaitingForSnapshot: diffs are buffered. A snapshot arrives:
//     - buffered diffs with u <= lastUpdateId are dropped (the snapshot already contains them);
//     - the first remaining diff must straddle: U <= lastUpdateId + 1 <= u. If it starts later
//       the snapshot is too old: it is discarded, the buffer is kept, a new snapshot is needed;
//     - otherwise book := snapshot and the remaining buffered diffs are applied -> kSynced.
//       With nothing left in the buffer, the first live diff is held to the same straddle rule.
//   kSynced: each diff must continue the book (U == book id + 1 normally):
//     - u <= book id: stale (a duplicate or a late retransmission), ignored and counted;
//     - U > book id + 1: GAP. The book is discarded (never exposed again), on_resync fires, and
//       the synchronizer goes back to kWaitingForSnapshot keeping this diff as the first buffered
//       one, since it is valid data that a newer snapshot will need;
//     - otherwise set its levels and book id := u.
// Spot diffs carry no `pu`; only U/u are used.
//
// The spec says u < book id is stale; u == book id can only be a repeat of the diff that set the
// book id (or a diff wholly inside it), so it is stale too rather than a gap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>

#include "core/events.h"
#include "exchange/binance/book/order_book.h"

namespace sf::binance {

enum class SyncState : std::uint8_t {
  kWaitingForSnapshot,  // buffering diffs; book() is null
  kSynced,              // the book is consistent; book() exposes it
};

enum class ResyncReason : std::uint8_t {
  kGap,             // a synced book saw U > book id + 1: diffs were lost
  kSnapshotTooOld,  // the first diff after the snapshot starts after lastUpdateId + 1
};

enum class DiffOutcome : std::uint8_t {
  kBuffered,           // waiting for a snapshot
  kApplied,            // applied to the synced book
  kStale,              // u <= book id: ignored
  kOlderThanSnapshot,  // before the first straddling diff: u <= lastUpdateId, dropped
  kGap,                // resync: the book was discarded, this diff is buffered
  kSnapshotTooOld,     // the first live diff after the snapshot did not straddle; buffered
  kOtherSymbol,        // not this book's symbol: ignored
};

enum class SnapshotOutcome : std::uint8_t {
  kSynced,       // book := snapshot, buffered diffs applied
  kTooOld,       // the buffer starts after lastUpdateId + 1: a newer snapshot is needed
  kGapInBuffer,  // the buffered diffs themselves have a hole: a newer snapshot is needed
  kNotWaiting,   // already synced: ignored
  kOtherSymbol,  // not this book's symbol: ignored
};

const char* to_string(SyncState s);
const char* to_string(ResyncReason r);
const char* to_string(DiffOutcome o);
const char* to_string(SnapshotOutcome o);

struct SyncCounters {
  std::uint64_t diffs_received = 0;
  std::uint64_t diffs_applied = 0;
  std::uint64_t diffs_buffered = 0;               // every diff that went into the buffer
  std::uint64_t dropped_older_than_snapshot = 0;  // u <= lastUpdateId before the first applied diff
  std::uint64_t stale_ignored = 0;                // u <= book id while synced
  std::uint64_t buffer_overflow_dropped = 0;      // oldest diffs dropped when the buffer was full
  std::uint64_t gaps = 0;                         // gaps seen (live or inside the buffer)
  std::uint64_t resyncs = 0;                      // on_resync events (gaps + snapshots too old)
  std::uint64_t snapshots_used = 0;
  std::uint64_t snapshots_too_old = 0;
  std::uint64_t snapshots_ignored = 0;  // arrived while synced, or for another symbol
};

class BookSynchronizer {
 public:
  // (reason, expected U = book id + 1 or lastUpdateId + 1, the U that arrived). Runs after the
  // state has changed, so needs_snapshot() is already true inside it.
  using ResyncCallback =
      std::function<void(ResyncReason reason, std::int64_t expected_first_update_id,
                         std::int64_t got_first_update_id)>;

  // `max_buffered` bounds memory while no snapshot comes; the oldest diffs go first (losing them
  // only means a snapshot has to be newer).
  explicit BookSynchronizer(const Symbol& symbol, std::size_t max_buffered = 100'000);

  // Every state the book passes through while synced: the snapshot as taken, then the book
  // after each applied diff (buffered ones included, which a caller polling book() between
  // on_diff calls would miss). For checks against it (BookTickerCheck) and publishing.
  using BookUpdatedCallback = std::function<void(const OrderBook& book)>;

  void set_on_resync(ResyncCallback callback) { on_resync_ = std::move(callback); }
  void set_on_book_updated(BookUpdatedCallback callback) { on_book_updated_ = std::move(callback); }

  DiffOutcome on_diff(const DepthUpdate& diff);
  SnapshotOutcome on_snapshot(const DepthSnapshot& snapshot);
  // Drops the book and the buffer (e.g. the WS connection was lost): back to waiting.
  void reset();

  SyncState state() const { return state_; }
  bool needs_snapshot() const { return state_ == SyncState::kWaitingForSnapshot; }
  // The book, only while synced; nullptr otherwise, so an invalid book is never read.
  const OrderBook* book() const { return state_ == SyncState::kSynced ? &book_ : nullptr; }
  const SyncCounters& counters() const { return counters_; }
  const Symbol& symbol() const { return book_.symbol(); }
  std::size_t buffered() const { return buffer_.size(); }
  // U of the oldest buffered diff (what a snapshot's lastUpdateId + 1 must reach); -1 if none.
  std::int64_t first_buffered_update_id() const;

 private:
  // One diff against the synced book: applies it, ignores it, or invalidates the book. Leaves the
  // buffer alone; callers decide where a diff past a hole goes.
  DiffOutcome step(const DepthUpdate& diff);
  void buffer(const DepthUpdate& diff);
  // Discards the book and goes back to waiting for a snapshot.
  void invalidate(ResyncReason reason);
  void notify_resync(ResyncReason reason, std::int64_t expected, std::int64_t got) const;

  OrderBook book_;
  SyncState state_ = SyncState::kWaitingForSnapshot;
  // True from a snapshot until the first diff is applied: that diff must straddle the snapshot.
  bool awaiting_first_diff_ = false;
  std::deque<DepthUpdate> buffer_;
  std::size_t max_buffered_;
  SyncCounters counters_;
  ResyncCallback on_resync_;
  BookUpdatedCallback on_book_updated_;
};

}  // namespace sf::binance
