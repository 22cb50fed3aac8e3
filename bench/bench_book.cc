// Local order book throughput on the real BTCUSDT capture (hftbacktest 2024-08-08/09: REST
// snapshot of 1000 levels/side + 6,493 applied @depth@100ms diffs, ../shared/data):
//   BM_ReplayParseAndApply: depth lines (snapshot + every diff) parsed with simdjson and fed to
//                           a BookSynchronizer, as a live client does per frame;
//   BM_ApplyOnly:           the same diffs pre-parsed, apply only (snapshot load included).
// Items = diffs applied.
//   build/bench/bench_book --benchmark_min_time=2
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "exchange/binance/book/synchronizer.h"
#include "exchange/binance/parse.h"
#include "tools/normalize.h"

namespace {

namespace fs = std::filesystem;
using namespace sf;
using namespace sf::binance;

const Symbol kBtc = *Symbol::parse("BTCUSDT");

fs::path shared_data() {
  if (const char* env = std::getenv("SF_SHARED_DATA")) return env;
  return fs::path(SF_REPO_ROOT) / ".." / "shared" / "data";
}

// The depth frames of both capture files (the snapshot first, then the diffs), without the
// receive-time prefix; trade and bookTicker lines are left out. Empty if the data is missing.
const std::vector<std::string>& depth_frames() {
  static const std::vector<std::string> frames = [] {
    std::vector<std::string> out;
    for (const char* file : {"btcusdt_20240808.gz", "btcusdt_20240809.gz"}) {
      const fs::path path = shared_data() / "hftbacktest_ws_spot" / file;
      if (!fs::exists(path)) return std::vector<std::string>();
      std::string error;
      tools::for_each_line(
          path.string(),
          [&](std::string_view line) {
            const std::size_t space = line.find(' ');
            if (space == std::string_view::npos) return;
            const std::string_view frame = line.substr(space + 1);
            if (frame.starts_with(R"({"lastUpdateId")") ||
                frame.find("@depth") != std::string_view::npos) {
              out.emplace_back(frame);
            }
          },
          &error);
    }
    return out;
  }();
  return frames;
}

void BM_ReplayParseAndApply(benchmark::State& state) {
  const auto& frames = depth_frames();
  if (frames.empty()) return state.SkipWithError("shared data not found");
  Parser parser;
  std::uint64_t applied = 0;
  for (auto _ : state) {
    BookSynchronizer sync(kBtc);
    for (const std::string& frame : frames) {
      if (frame.starts_with(R"({"lastUpdateId")")) {
        auto snapshot = parser.parse_rest_depth(frame, kBtc, 0);
        if (!snapshot) return state.SkipWithError("snapshot parse failed");
        (void)sync.on_snapshot(*snapshot);
        continue;
      }
      auto event = parser.parse_ws_frame(frame, 0);
      if (!event) return state.SkipWithError("frame parse failed");
      (void)sync.on_diff(std::get<DepthUpdate>(*event));
    }
    applied += sync.counters().diffs_applied;
    benchmark::DoNotOptimize(sync.book());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(applied));
}

void BM_ApplyOnly(benchmark::State& state) {
  const auto& frames = depth_frames();
  if (frames.empty()) return state.SkipWithError("shared data not found");
  Parser parser;
  // The recorder took its snapshot after a few diffs, the straddling one among them: those are
  // buffered before the snapshot, exactly as in the replay.
  std::optional<DepthSnapshot> snapshot;
  std::vector<DepthUpdate> before_snapshot;
  std::vector<DepthUpdate> after_snapshot;
  for (const std::string& frame : frames) {
    if (frame.starts_with(R"({"lastUpdateId")")) {
      snapshot.emplace(parser.parse_rest_depth(frame, kBtc, 0).value());
    } else {
      (snapshot ? after_snapshot : before_snapshot)
          .push_back(std::get<DepthUpdate>(parser.parse_ws_frame(frame, 0).value()));
    }
  }
  if (!snapshot) return state.SkipWithError("no snapshot in the capture");
  std::uint64_t applied = 0;
  for (auto _ : state) {
    BookSynchronizer sync(kBtc);
    for (const DepthUpdate& diff : before_snapshot) (void)sync.on_diff(diff);
    (void)sync.on_snapshot(*snapshot);
    for (const DepthUpdate& diff : after_snapshot) (void)sync.on_diff(diff);
    applied += sync.counters().diffs_applied;
    benchmark::DoNotOptimize(sync.book());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(applied));
}

BENCHMARK(BM_ReplayParseAndApply)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ApplyOnly)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
