// data.binance.vision reader throughput: rows/s streaming a zip through libzip, the CSV parsers
// and the range filter to a callback, from a local mirror of real files (../shared/data). No
// CHECKSUM files, so the figures are decoding only; BM_Sha256 measures verification separately.
//   build/bench/bench_vision --benchmark_min_time=2
#include <benchmark/benchmark.h>
#include <unistd.h>
#include <zip.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "exchange/binance/vision/checksum.h"
#include "exchange/binance/vision/vision.h"

namespace {

namespace fs = std::filesystem;
using namespace sf;
using namespace sf::binance;

fs::path shared_data() {
  if (const char* env = std::getenv("SF_SHARED_DATA")) return env;
  return fs::path(SF_REPO_ROOT) / ".." / "shared" / "data";
}

TimestampUs day(const char* text) {
  TimestampUs t = 0;
  parse_date(text, &t);
  return t;
}

// A mirror with the real ETHUSDT 1m zip of 2022-08-14 (1,440 rows) and an aggTrades zip made from
// the 5,000 rows of 2026-01-01; empty when the shared data is missing.
const fs::path& mirror() {
  static const fs::path root = [] {
    const fs::path data = shared_data();
    const fs::path kline_zip = data / "klines_zip_2022_lti/ETHUSDT-1m-2022-08-14.zip";
    const fs::path agg_csv =
        data / "aggtrades_btcusdt_2026-01-01/BTCUSDT-aggTrades-2026-01-01_first5000.csv";
    if (!fs::exists(kline_zip) || !fs::exists(agg_csv)) return fs::path();
    const fs::path dir =
        fs::temp_directory_path() / ("sf_bench_vision_" + std::to_string(getpid()));
    const fs::path klines = dir / "data/spot/daily/klines/ETHUSDT/1m";
    const fs::path agg = dir / "data/spot/daily/aggTrades/BTCUSDT";
    fs::create_directories(klines);
    fs::create_directories(agg);
    fs::copy_file(kline_zip, klines / kline_zip.filename(), fs::copy_options::overwrite_existing);
    std::ifstream in(agg_csv, std::ios::binary);
    const std::string content((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
    int error = 0;
    const fs::path agg_zip = agg / "BTCUSDT-aggTrades-2026-01-01.zip";
    zip_t* archive = zip_open(agg_zip.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
    zip_source_t* source = zip_source_buffer(archive, content.data(), content.size(), 0);
    zip_file_add(archive, "BTCUSDT-aggTrades-2026-01-01.csv", source, ZIP_FL_OVERWRITE);
    zip_close(archive);
    std::atexit([] {
      fs::remove_all(fs::temp_directory_path() / ("sf_bench_vision_" + std::to_string(getpid())));
    });
    return dir;
  }();
  return root;
}

void read_rows(benchmark::State& state, const VisionRequest& request) {
  if (mirror().empty()) return state.SkipWithError("shared data not found (set SF_SHARED_DATA)");
  auto reader = VisionReader::open({.base_url = mirror().string()});
  if (!reader) return state.SkipWithError(reader.error().to_string().c_str());
  std::int64_t rows = 0;
  for (auto _ : state) {
    auto stats = reader->read(request, [&](const MarketEvent& e) {
      benchmark::DoNotOptimize(e.index());
      return true;
    });
    if (!stats) return state.SkipWithError(stats.error().to_string().c_str());
    rows += static_cast<std::int64_t>(stats->rows);
  }
  state.SetItemsProcessed(rows);
}

void BM_VisionKlines1mZip(benchmark::State& state) {
  read_rows(state, {.symbol = *Symbol::parse("ETHUSDT"),
                    .kind = VisionKind::kKlines,
                    .interval = Interval::k1m,
                    .from = day("2022-08-14"),
                    .to = day("2022-08-15")});
}

void BM_VisionAggTradesZip(benchmark::State& state) {
  read_rows(state, {.symbol = *Symbol::parse("BTCUSDT"),
                    .kind = VisionKind::kAggTrades,
                    .interval = std::nullopt,
                    .from = day("2026-01-01"),
                    .to = day("2026-01-02")});
}

void BM_Sha256(benchmark::State& state) {
  if (mirror().empty()) return state.SkipWithError("shared data not found (set SF_SHARED_DATA)");
  const fs::path zip = mirror() / "data/spot/daily/klines/ETHUSDT/1m/ETHUSDT-1m-2022-08-14.zip";
  for (auto _ : state) {
    auto digest = sha256_file_hex(zip);
    benchmark::DoNotOptimize(digest.ok());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(fs::file_size(zip)));
}

BENCHMARK(BM_VisionKlines1mZip)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_VisionAggTradesZip)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Sha256)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
