// The book rebuilt from REAL Binance captures, the way a live client would see them:
//  - hftbacktest BTCUSDT 2024-08-08/09 (snapshot + 6,493 applied diffs, 1,072 comparable
//    bookTickers; shared/data/README.md §1), clean, with every diff duplicated, and with diffs
//    dropped to force gaps, resyncs and recoveries from a reference book;
//  - cryptofeed 2021-10-12, four symbols whose snapshots sit differently against their first
//    diffs (README §2).
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "book_test_support.h"
#include "exchange/binance/book/book_ticker_check.h"
#include "exchange/binance/book/snapshot_publisher.h"
#include "exchange/binance/book/synchronizer.h"
#include "exchange/binance/parse.h"
#include "test_support.h"
#include "tools/normalize.h"

namespace sf::binance {
namespace {

using book_testing::same_levels;

constexpr const char* kCaptureDir = "hftbacktest_ws_spot";
constexpr const char* kCaptureFiles[] = {"btcusdt_20240808.gz", "btcusdt_20240809.gz"};
constexpr const char* kCryptofeedDir = "cryptofeed_ws_spot_2021-10-12";

const Symbol kBtc = *Symbol::parse("BTCUSDT");

// Every frame of the two BTCUSDT capture files in order, parsed once for all tests. Lines are
// "<ns receive time> <frame>"; the REST snapshot line is a bare {"lastUpdateId":...} body.
const std::vector<MarketEvent>& capture_events() {
  static const std::vector<MarketEvent> events = [] {
    std::vector<MarketEvent> out;
    out.reserve(100'000);
    Parser parser;
    for (const char* file : kCaptureFiles) {
      const auto path = sf::testing::shared_data_dir() / kCaptureDir / file;
      std::string error;
      const bool ok = tools::for_each_line(
          path.string(),
          [&](std::string_view line) {
            const std::size_t space = line.find(' ');
            if (line.empty() || space == std::string_view::npos) return;
            const TimestampUs receive_time = std::stoll(std::string(line.substr(0, space))) / 1000;
            const std::string_view frame = line.substr(space + 1);
            if (frame.starts_with(R"({"lastUpdateId")")) {
              auto snapshot = parser.parse_rest_depth(frame, kBtc, receive_time);
              ASSERT_TRUE(snapshot.ok()) << snapshot.error().message();
              out.emplace_back(std::move(snapshot).value());
              return;
            }
            auto event = parser.parse_ws_frame(frame, receive_time);
            ASSERT_TRUE(event.ok()) << event.error().message() << ": " << frame.substr(0, 80);
            out.push_back(std::move(event).value());
          },
          &error);
      EXPECT_TRUE(ok) << error;
    }
    return out;
  }();
  return events;
}

#define SF_REQUIRE_CAPTURE()                                                   \
  do {                                                                         \
    SF_REQUIRE_SHARED_DATA(std::string(kCaptureDir) + "/" + kCaptureFiles[0]); \
    SF_REQUIRE_SHARED_DATA(std::string(kCaptureDir) + "/" + kCaptureFiles[1]); \
  } while (0)

struct ReplayResult {
  SyncCounters sync;
  TickerCheckCounters tickers;
  std::uint64_t crossed_after_diff = 0;
  std::uint64_t depth_frames = 0;
  std::optional<DepthSnapshot> published_top20;
};

// Feeds the capture to a synchronizer as a live client would: diffs before the recorded snapshot
// are buffered; every book state is checked for crossing and against the tickers held for it.
ReplayResult replay(bool duplicate_every_diff) {
  BookSynchronizer sync(kBtc);
  BookTickerCheck check;
  ReplayResult result;
  sync.set_on_resync([](ResyncReason reason, std::int64_t expected, std::int64_t got) {
    ADD_FAILURE() << "resync " << to_string(reason) << " expected U " << expected << " got " << got;
  });
  sync.set_on_book_updated([&](const OrderBook& book) {
    if (book.is_crossed()) ++result.crossed_after_diff;
    check.on_book_updated(book);
  });
  for (const MarketEvent& event : capture_events()) {
    if (const auto* d = std::get_if<DepthUpdate>(&event)) {
      ++result.depth_frames;
      for (int copy = 0; copy < (duplicate_every_diff ? 2 : 1); ++copy) (void)sync.on_diff(*d);
    } else if (const auto* s = std::get_if<DepthSnapshot>(&event)) {
      EXPECT_EQ(sync.on_snapshot(*s), SnapshotOutcome::kSynced);
    } else if (const auto* t = std::get_if<BookTicker>(&event)) {
      if (check.on_ticker(sync.book(), *t) == TickerCheckOutcome::kMismatch) {
        ADD_FAILURE() << check.last_mismatch();
      }
    }
  }
  result.sync = sync.counters();
  result.tickers = check.counters();
  if (auto top = SnapshotPublisher(20).publish(sync)) result.published_top20.emplace(*top);
  return result;
}

TEST(BookReplay, RealCaptureRebuildsTheBookWithoutGaps) {
  SF_REQUIRE_CAPTURE();
  const ReplayResult r = replay(/*duplicate_every_diff=*/false);
  RecordProperty("ticker_not_comparable", static_cast<int>(r.tickers.not_comparable));
  EXPECT_EQ(r.depth_frames, 3451u + 3044u);
  EXPECT_EQ(r.sync.snapshots_used, 1u);
  EXPECT_EQ(r.sync.diffs_applied, 6493u);
  EXPECT_EQ(r.sync.dropped_older_than_snapshot, 6495u - 6493u);
  EXPECT_EQ(r.sync.gaps, 0u);
  EXPECT_EQ(r.sync.resyncs, 0u);
  EXPECT_EQ(r.sync.stale_ignored, 0u);
  EXPECT_EQ(r.sync.snapshots_too_old, 0u);
  EXPECT_EQ(r.crossed_after_diff, 0u);
  EXPECT_EQ(r.tickers.matches, 1072u);
  EXPECT_EQ(r.tickers.mismatches, 0u);

  ASSERT_TRUE(r.published_top20.has_value());
  const DepthSnapshot& top = *r.published_top20;
  EXPECT_TRUE(top.is_partial);
  EXPECT_EQ(top.bids.size(), 20u);
  EXPECT_EQ(top.asks.size(), 20u);
  EXPECT_LT(top.bids.front().price, top.asks.front().price);
  for (std::size_t i = 1; i < 20; ++i) {
    EXPECT_GT(top.bids[i - 1].price, top.bids[i].price);
    EXPECT_LT(top.asks[i - 1].price, top.asks[i].price);
  }
  // Book id and event time are those of the last diff in the capture.
  const DepthUpdate* last = nullptr;
  for (const MarketEvent& event : capture_events()) {
    if (const auto* d = std::get_if<DepthUpdate>(&event)) last = d;
  }
  ASSERT_NE(last, nullptr);
  EXPECT_EQ(top.last_update_id, last->final_update_id);
  EXPECT_EQ(top.event_time, last->event_time);
}

TEST(BookReplay, DuplicatedDiffsAreIgnoredAsStale) {
  SF_REQUIRE_CAPTURE();
  const ReplayResult r = replay(/*duplicate_every_diff=*/true);
  EXPECT_EQ(r.sync.diffs_applied, 6493u);
  EXPECT_EQ(r.sync.stale_ignored, 6493u);  // the second copy of every applied diff
  EXPECT_EQ(r.sync.dropped_older_than_snapshot, 2u * (6495u - 6493u));
  EXPECT_EQ(r.sync.gaps, 0u);
  EXPECT_EQ(r.crossed_after_diff, 0u);
  EXPECT_EQ(r.tickers.matches, 1072u);
  EXPECT_EQ(r.tickers.mismatches, 0u);
}

// Drops one depth diff every 2,000 frames. Each drop must cause exactly one gap/resync; while
// resyncing nothing is exposed. Recovery uses a snapshot of a reference book that saw every
// diff (what exchange-sim will serve), taken at the gap and delivered a few diffs later as a
// slow REST answer would be, so the buffered diffs between the two are applied from the buffer.
TEST(BookReplay, DroppedDiffsCauseOneResyncEachAndRecoverFromAReferenceSnapshot) {
  SF_REQUIRE_CAPTURE();
  constexpr std::uint64_t kDropEvery = 2000;
  constexpr int kSnapshotDelayDiffs = 3;

  BookSynchronizer sync(kBtc);
  BookSynchronizer reference(kBtc);
  BookTickerCheck check;
  BookTickerCheck reference_check;
  const SnapshotPublisher publisher(10);

  struct Resync {
    ResyncReason reason;
    std::int64_t expected;
    std::int64_t got;
  };
  std::vector<Resync> resyncs;
  sync.set_on_resync([&](ResyncReason reason, std::int64_t expected, std::int64_t got) {
    resyncs.push_back({reason, expected, got});
  });
  reference.set_on_resync([](ResyncReason, std::int64_t, std::int64_t) {
    ADD_FAILURE() << "the reference book must never resync";
  });
  std::uint64_t crossed = 0;
  std::uint64_t mismatches_seen = 0;
  sync.set_on_book_updated([&](const OrderBook& book) {
    if (book.is_crossed()) ++crossed;
    const std::uint64_t before = check.counters().mismatches;
    check.on_book_updated(book);
    if (check.counters().mismatches != before && ++mismatches_seen < 5) {
      ADD_FAILURE() << check.last_mismatch();
    }
  });
  reference.set_on_book_updated(
      [&](const OrderBook& book) { reference_check.on_book_updated(book); });

  std::vector<std::pair<std::int64_t, std::int64_t>> dropped;  // U, u of each dropped diff
  std::optional<DepthSnapshot> pending_snapshot;
  int diffs_until_delivery = 0;
  std::uint64_t frame = 0;
  std::uint64_t next_drop_frame = kDropEvery;
  std::uint64_t recoveries_verified = 0;

  for (const MarketEvent& event : capture_events()) {
    ++frame;
    if (const auto* d = std::get_if<DepthUpdate>(&event)) {
      (void)reference.on_diff(*d);
      if (frame >= next_drop_frame && sync.state() == SyncState::kSynced) {
        dropped.emplace_back(d->first_update_id, d->final_update_id);
        next_drop_frame = frame + kDropEvery;
        continue;
      }
      const DiffOutcome outcome = sync.on_diff(*d);
      if (outcome == DiffOutcome::kGap) {
        EXPECT_EQ(sync.book(), nullptr);
        EXPECT_TRUE(sync.needs_snapshot());
        EXPECT_FALSE(publisher.publish(sync).has_value());
        // The client asks for a snapshot now; the server answers with its book as of now.
        ASSERT_NE(reference.book(), nullptr);
        pending_snapshot.emplace(reference.book()->full_snapshot());
        diffs_until_delivery = kSnapshotDelayDiffs;
      } else if (pending_snapshot && --diffs_until_delivery == 0) {
        EXPECT_EQ(sync.book(), nullptr);
        EXPECT_EQ(sync.buffered(), static_cast<std::size_t>(kSnapshotDelayDiffs) + 1);
        EXPECT_EQ(sync.on_snapshot(*pending_snapshot), SnapshotOutcome::kSynced);
        pending_snapshot.reset();
        // Recovered: identical to the reference book, level by level.
        ASSERT_NE(sync.book(), nullptr);
        ASSERT_EQ(sync.book()->last_update_id(), reference.book()->last_update_id());
        const DepthSnapshot mine = sync.book()->full_snapshot();
        const DepthSnapshot truth = reference.book()->full_snapshot();
        EXPECT_TRUE(same_levels(mine.bids, truth.bids));
        EXPECT_TRUE(same_levels(mine.asks, truth.asks));
        ++recoveries_verified;
      }
    } else if (const auto* s = std::get_if<DepthSnapshot>(&event)) {
      EXPECT_EQ(sync.on_snapshot(*s), SnapshotOutcome::kSynced);
      EXPECT_EQ(reference.on_snapshot(*s), SnapshotOutcome::kSynced);
    } else if (const auto* t = std::get_if<BookTicker>(&event)) {
      if (check.on_ticker(sync.book(), *t) == TickerCheckOutcome::kMismatch) {
        ADD_FAILURE() << check.last_mismatch();
      }
      (void)reference_check.on_ticker(reference.book(), *t);
    }
  }

  RecordProperty("dropped_diffs", static_cast<int>(dropped.size()));
  RecordProperty("ticker_matches", static_cast<int>(check.counters().matches));
  RecordProperty("ticker_not_comparable", static_cast<int>(check.counters().not_comparable));
  RecordProperty("diffs_applied", static_cast<int>(sync.counters().diffs_applied));
  ASSERT_GE(dropped.size(), 40u);  // ~99,600 frames / 2,000
  EXPECT_EQ(resyncs.size(), dropped.size());
  EXPECT_EQ(sync.counters().gaps, dropped.size());
  EXPECT_EQ(sync.counters().resyncs, dropped.size());
  EXPECT_EQ(sync.counters().snapshots_too_old, 0u);
  EXPECT_EQ(sync.counters().snapshots_used, dropped.size() + 1);
  EXPECT_EQ(recoveries_verified, dropped.size());
  for (std::size_t i = 0; i < std::min(resyncs.size(), dropped.size()); ++i) {
    EXPECT_EQ(resyncs[i].reason, ResyncReason::kGap);
    EXPECT_EQ(resyncs[i].expected, dropped[i].first);  // the dropped diff's U
    EXPECT_EQ(resyncs[i].got, dropped[i].second + 1);  // the next diff's U
  }
  EXPECT_EQ(crossed, 0u);
  EXPECT_EQ(reference.counters().diffs_applied, 6493u);
  EXPECT_EQ(reference_check.counters().matches, 1072u);
  EXPECT_EQ(check.counters().mismatches, 0u);
  // Tickers that fell while the book was invalid are not comparable; all the others matched.
  EXPECT_GT(check.counters().matches, 900u);
  EXPECT_LE(check.counters().matches, 1072u);
  ASSERT_NE(sync.book(), nullptr);
  EXPECT_EQ(sync.book()->last_update_id(), reference.book()->last_update_id());
}

// cryptofeed 2021-10-12: four symbols on one combined connection, their REST snapshots in the
// order NKNUSDT, BLZETH, LRCBTC, RUNEEUR. Each snapshot is handed over right after its symbol's
// first diff arrives, as a client that subscribes and then fetches would see it.
class CryptofeedReplay : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto dir = sf::testing::shared_data_dir() / kCryptofeedDir;
    if (!std::filesystem::exists(dir / "combined_stream.frames.jsonl") ||
        !std::filesystem::exists(dir / "depth_snapshots.jsonl")) {
      GTEST_SKIP() << "shared data not found: " << dir.string();
    }
    Parser parser;
    std::string error;
    std::size_t index = 0;
    ASSERT_TRUE(tools::for_each_line((dir / "depth_snapshots.jsonl").string(),
                                     [&](std::string_view line) {
                                       if (line.empty()) return;
                                       ASSERT_LT(index, 4u);
                                       const Symbol symbol = *Symbol::parse(kSymbols[index++]);
                                       auto snapshot = parser.parse_rest_depth(line, symbol, 0);
                                       ASSERT_TRUE(snapshot.ok()) << snapshot.error().message();
                                       snapshots_.emplace(symbol, std::move(snapshot).value());
                                     },
                                     &error))
        << error;
    ASSERT_EQ(snapshots_.size(), 4u);
    ASSERT_TRUE(tools::for_each_line((dir / "combined_stream.frames.jsonl").string(),
                                     [&](std::string_view line) {
                                       if (line.empty()) return;
                                       auto event = parser.parse_ws_frame(line, 0);
                                       ASSERT_TRUE(event.ok()) << event.error().message();
                                       frames_.push_back(std::move(event).value());
                                     },
                                     &error))
        << error;
  }

  static constexpr const char* kSymbols[] = {"NKNUSDT", "BLZETH", "LRCBTC", "RUNEEUR"};
  std::map<Symbol, DepthSnapshot> snapshots_;
  std::vector<MarketEvent> frames_;
};

// The data README (§2) says NKNUSDT and RUNEEUR "straddle" in the loose sense of Binance's text
// (lastUpdateId inside the first diff's [U, u]); in both, as for BLZETH, the first diff ENDS at
// lastUpdateId, so it adds nothing to the snapshot and the exact rule (drop u <= lastUpdateId,
// then U <= lastUpdateId + 1 <= u) drops it and applies the next one, which starts at +1.
TEST_F(CryptofeedReplay, EverySymbolSyncsWithoutGaps) {
  std::map<Symbol, BookSynchronizer> books;
  std::map<Symbol, BookTickerCheck> checks;
  std::map<Symbol, std::uint64_t> crossed;
  for (const auto& [symbol, snapshot] : snapshots_) {
    BookSynchronizer& sync = books.emplace(symbol, BookSynchronizer(symbol)).first->second;
    BookTickerCheck& check = checks[symbol];
    std::uint64_t& crossed_count = crossed[symbol];
    sync.set_on_book_updated([&check, &crossed_count](const OrderBook& book) {
      if (book.is_crossed()) ++crossed_count;
      check.on_book_updated(book);
    });
  }
  std::map<Symbol, std::int64_t> first_applied_first_id;  // U of the first diff applied
  for (const MarketEvent& event : frames_) {
    if (const auto* d = std::get_if<DepthUpdate>(&event)) {
      BookSynchronizer& sync = books.at(d->symbol);
      const bool first_diff = sync.counters().diffs_received == 0;
      if (sync.on_diff(*d) == DiffOutcome::kApplied) {
        first_applied_first_id.try_emplace(d->symbol, d->first_update_id);
      }
      if (first_diff) {
        EXPECT_EQ(sync.on_snapshot(snapshots_.at(d->symbol)), SnapshotOutcome::kSynced);
      }
    } else if (const auto* t = std::get_if<BookTicker>(&event)) {
      const auto it = books.find(t->symbol);
      ASSERT_NE(it, books.end());
      BookTickerCheck& check = checks.at(t->symbol);
      if (check.on_ticker(it->second.book(), *t) == TickerCheckOutcome::kMismatch) {
        ADD_FAILURE() << t->symbol.view() << " " << check.last_mismatch();
      }
    }
  }
  for (const auto& [symbol, sync] : books) {
    SCOPED_TRACE(symbol.str());
    EXPECT_EQ(sync.state(), SyncState::kSynced);
    EXPECT_NE(sync.book(), nullptr);
    EXPECT_EQ(sync.counters().gaps, 0u);
    EXPECT_EQ(sync.counters().resyncs, 0u);
    EXPECT_EQ(sync.counters().stale_ignored, 0u);
    EXPECT_EQ(sync.counters().snapshots_used, 1u);
    EXPECT_GT(sync.counters().diffs_applied, 0u);
    EXPECT_EQ(sync.counters().diffs_applied + sync.counters().dropped_older_than_snapshot,
              sync.counters().diffs_received);
    EXPECT_EQ(crossed.at(symbol), 0u);
    EXPECT_EQ(checks.at(symbol).counters().mismatches, 0u);
  }
  auto counters = [&](const char* name) { return books.at(*Symbol::parse(name)).counters(); };
  auto first_applied = [&](const char* name) {
    return first_applied_first_id.at(*Symbol::parse(name));
  };
  // NKNUSDT 499869752 = first u (first diff [499869750, 499869752]): dropped, next at +1.
  EXPECT_EQ(counters("NKNUSDT").dropped_older_than_snapshot, 1u);
  EXPECT_EQ(first_applied("NKNUSDT"), 499869753);
  EXPECT_EQ(counters("NKNUSDT").diffs_applied, 149u);
  // BLZETH 281916627 = first u: dropped, the next starts at +1.
  EXPECT_EQ(counters("BLZETH").dropped_older_than_snapshot, 1u);
  EXPECT_EQ(first_applied("BLZETH"), 281916628);
  // LRCBTC 259345543 > first u 259345539: the first diff is dropped from the buffer and the
  // second ([259345540, 259345543], arriving live after the snapshot) too.
  EXPECT_EQ(counters("LRCBTC").dropped_older_than_snapshot, 2u);
  EXPECT_EQ(first_applied("LRCBTC"), 259345544);
  // RUNEEUR 15602511 = first u (first diff [15602510, 15602511]).
  EXPECT_EQ(counters("RUNEEUR").dropped_older_than_snapshot, 1u);
  EXPECT_EQ(first_applied("RUNEEUR"), 15602512);
  // NKNUSDT's tickers are the only ones that land on its diffs' final ids often enough to be
  // sure some were compared.
  EXPECT_GT(checks.at(*Symbol::parse("NKNUSDT")).counters().matches, 0u);

  // Buffering every diff first and handing the snapshots over at the end reaches the same books.
  for (const auto& [symbol, live] : books) {
    SCOPED_TRACE(symbol.str());
    BookSynchronizer late(symbol);
    for (const MarketEvent& event : frames_) {
      if (const auto* d = std::get_if<DepthUpdate>(&event)) (void)late.on_diff(*d);
    }
    EXPECT_EQ(late.on_snapshot(snapshots_.at(symbol)), SnapshotOutcome::kSynced);
    ASSERT_NE(late.book(), nullptr);
    EXPECT_EQ(late.book()->last_update_id(), live.book()->last_update_id());
    EXPECT_TRUE(same_levels(late.book()->full_snapshot().bids, live.book()->full_snapshot().bids));
    EXPECT_TRUE(same_levels(late.book()->full_snapshot().asks, live.book()->full_snapshot().asks));
  }
}

}  // namespace
}  // namespace sf::binance
