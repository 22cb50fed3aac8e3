#include "exchange/binance/book/synchronizer.h"

#include <utility>

namespace sf::binance {

const char* to_string(SyncState s) {
  switch (s) {
    case SyncState::kWaitingForSnapshot:
      return "waiting_for_snapshot";
    case SyncState::kSynced:
      return "synced";
  }
  return "?";
}

const char* to_string(ResyncReason r) {
  switch (r) {
    case ResyncReason::kGap:
      return "gap";
    case ResyncReason::kSnapshotTooOld:
      return "snapshot_too_old";
  }
  return "?";
}

const char* to_string(DiffOutcome o) {
  switch (o) {
    case DiffOutcome::kBuffered:
      return "buffered";
    case DiffOutcome::kApplied:
      return "applied";
    case DiffOutcome::kStale:
      return "stale";
    case DiffOutcome::kOlderThanSnapshot:
      return "older_than_snapshot";
    case DiffOutcome::kGap:
      return "gap";
    case DiffOutcome::kSnapshotTooOld:
      return "snapshot_too_old";
    case DiffOutcome::kOtherSymbol:
      return "other_symbol";
  }
  return "?";
}

const char* to_string(SnapshotOutcome o) {
  switch (o) {
    case SnapshotOutcome::kSynced:
      return "synced";
    case SnapshotOutcome::kTooOld:
      return "too_old";
    case SnapshotOutcome::kGapInBuffer:
      return "gap_in_buffer";
    case SnapshotOutcome::kNotWaiting:
      return "not_waiting";
    case SnapshotOutcome::kOtherSymbol:
      return "other_symbol";
  }
  return "?";
}

BookSynchronizer::BookSynchronizer(const Symbol& symbol, std::size_t max_buffered)
    : book_(symbol), max_buffered_(max_buffered == 0 ? 1 : max_buffered) {}

std::int64_t BookSynchronizer::first_buffered_update_id() const {
  return buffer_.empty() ? -1 : buffer_.front().first_update_id;
}

void BookSynchronizer::reset() {
  book_.clear();
  buffer_.clear();
  state_ = SyncState::kWaitingForSnapshot;
  awaiting_first_diff_ = false;
}

void BookSynchronizer::buffer(const DepthUpdate& diff) {
  if (buffer_.size() >= max_buffered_) {
    buffer_.pop_front();
    ++counters_.buffer_overflow_dropped;
  }
  buffer_.push_back(diff);
  ++counters_.diffs_buffered;
}

void BookSynchronizer::invalidate(ResyncReason reason) {
  // The book is cleared, not only hidden, so that nothing can read a book with a hole in it.
  book_.clear();
  state_ = SyncState::kWaitingForSnapshot;
  awaiting_first_diff_ = false;
  ++counters_.resyncs;
  if (reason == ResyncReason::kGap) {
    ++counters_.gaps;
  } else {
    ++counters_.snapshots_too_old;
  }
}

void BookSynchronizer::notify_resync(ResyncReason reason, std::int64_t expected,
                                     std::int64_t got) const {
  if (on_resync_) on_resync_(reason, expected, got);
}

DiffOutcome BookSynchronizer::step(const DepthUpdate& diff) {
  const std::int64_t book_id = book_.last_update_id();
  if (diff.final_update_id <= book_id) {
    if (awaiting_first_diff_) {
      ++counters_.dropped_older_than_snapshot;
      return DiffOutcome::kOlderThanSnapshot;
    }
    ++counters_.stale_ignored;
    return DiffOutcome::kStale;
  }
  if (diff.first_update_id > book_id + 1) {
    if (awaiting_first_diff_) {
      invalidate(ResyncReason::kSnapshotTooOld);
      return DiffOutcome::kSnapshotTooOld;
    }
    invalidate(ResyncReason::kGap);
    return DiffOutcome::kGap;
  }
  // U <= book id + 1 <= u: normally U == book id + 1; an overlapping diff (U <= book id) is
  // applied too, as Binance's procedure does for the first diff: its levels are absolute
  // quantities as of u, later than the book.
  book_.apply_update(diff);
  awaiting_first_diff_ = false;
  ++counters_.diffs_applied;
  if (on_book_updated_) on_book_updated_(book_);
  return DiffOutcome::kApplied;
}

DiffOutcome BookSynchronizer::on_diff(const DepthUpdate& diff) {
  if (diff.symbol != book_.symbol()) return DiffOutcome::kOtherSymbol;
  ++counters_.diffs_received;
  if (state_ == SyncState::kWaitingForSnapshot) {
    buffer(diff);
    return DiffOutcome::kBuffered;
  }
  const std::int64_t expected = book_.last_update_id() + 1;
  const DiffOutcome outcome = step(diff);
  if (outcome == DiffOutcome::kGap || outcome == DiffOutcome::kSnapshotTooOld) {
    // The diff that revealed the hole is valid data past it: a newer snapshot will need it.
    buffer(diff);
    notify_resync(outcome == DiffOutcome::kGap ? ResyncReason::kGap : ResyncReason::kSnapshotTooOld,
                  expected, diff.first_update_id);
  }
  return outcome;
}

SnapshotOutcome BookSynchronizer::on_snapshot(const DepthSnapshot& snapshot) {
  if (snapshot.symbol != book_.symbol()) {
    ++counters_.snapshots_ignored;
    return SnapshotOutcome::kOtherSymbol;
  }
  if (state_ == SyncState::kSynced) {
    ++counters_.snapshots_ignored;
    return SnapshotOutcome::kNotWaiting;
  }
  // The snapshot already holds every diff up to lastUpdateId.
  while (!buffer_.empty() && buffer_.front().final_update_id <= snapshot.last_update_id) {
    buffer_.pop_front();
    ++counters_.dropped_older_than_snapshot;
  }
  const std::int64_t expected = snapshot.last_update_id + 1;
  if (!buffer_.empty() && buffer_.front().first_update_id > expected) {
    // Diffs between the snapshot and the buffer are gone: this snapshot can never be continued.
    // The buffer is kept; a newer snapshot may reach it.
    invalidate(ResyncReason::kSnapshotTooOld);
    notify_resync(ResyncReason::kSnapshotTooOld, expected, buffer_.front().first_update_id);
    return SnapshotOutcome::kTooOld;
  }
  book_.apply_snapshot(snapshot);
  state_ = SyncState::kSynced;
  awaiting_first_diff_ = true;
  ++counters_.snapshots_used;
  if (on_book_updated_) on_book_updated_(book_);
  while (!buffer_.empty()) {
    const std::int64_t expected_next = book_.last_update_id() + 1;
    const DiffOutcome outcome = step(buffer_.front());
    if (outcome == DiffOutcome::kGap) {
      // The buffer itself lost diffs; keep it from the diff past the hole for the next snapshot.
      notify_resync(ResyncReason::kGap, expected_next, buffer_.front().first_update_id);
      return SnapshotOutcome::kGapInBuffer;
    }
    buffer_.pop_front();
  }
  return SnapshotOutcome::kSynced;
}

}  // namespace sf::binance
