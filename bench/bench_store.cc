// SQLite store write throughput: batched trade upserts into a temp-file store, in rows/s
// (items_per_second). Every batch carries new, increasing trade ids, as live capture does.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "store/store.h"

namespace {

using sf::Decimal;
using sf::Symbol;
using sf::Trade;

constexpr sf::TimestampUs kT0 = 1767225600039409;

// A store in its own temp dir, removed afterwards.
class TempStore {
 public:
  explicit TempStore(const std::string& name)
      : dir_(std::filesystem::temp_directory_path() /
             ("sf_bench_store_" + std::to_string(::getpid()) + "_" + name)) {
    std::filesystem::remove_all(dir_);
    auto opened = sf::store::open_store("sqlite:" + (dir_ / "store.db").string());
    if (!opened) {
      std::fprintf(stderr, "open_store: %s\n", opened.error().message.c_str());
      std::abort();
    }
    store_ = std::move(*opened);
  }
  ~TempStore() {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  sf::store::Store& store() { return *store_; }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<sf::store::Store> store_;
};

// Realistic BTCUSDT trades: 8-decimal prices and quantities, ids and µs times increasing.
std::vector<Trade> make_batch(std::int64_t first_id, std::size_t size) {
  static const Symbol kSymbol = *Symbol::parse("BTCUSDT");
  std::vector<Trade> batch;
  batch.reserve(size);
  for (std::size_t i = 0; i < size; ++i) {
    const std::int64_t id = first_id + static_cast<std::int64_t>(i);
    const sf::TimestampUs time = kT0 + id * 137;
    batch.push_back(Trade{.symbol = kSymbol,
                          .trade_id = id,
                          .price = Decimal::from_parts(6183763000000 + (id % 5000) * 1000000, 8),
                          .quantity = Decimal::from_parts(2000000 + (id % 97) * 10000, 8),
                          .trade_time = time,
                          .event_time = time + 350,
                          .receive_time = time + 1200,
                          .is_buyer_maker = id % 3 == 0,
                          .is_best_match = true});
  }
  return batch;
}

void BM_SqliteUpsertTrades(benchmark::State& state) {
  const auto batch_size = static_cast<std::size_t>(state.range(0));
  TempStore temp("trades_" + std::to_string(batch_size));
  std::int64_t next_id = 50093239218;
  for (auto _ : state) {
    state.PauseTiming();
    const std::vector<Trade> batch = make_batch(next_id, batch_size);
    next_id += static_cast<std::int64_t>(batch_size);
    state.ResumeTiming();
    auto written = temp.store().upsert_trades(batch);
    if (!written) {
      state.SkipWithError(written.error().message.c_str());
      break;
    }
    benchmark::DoNotOptimize(*written);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(batch_size));
  state.SetLabel("rows/s = items_per_second");
}
BENCHMARK(BM_SqliteUpsertTrades)
    ->Arg(1000)
    ->Arg(10000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Replaying batches already stored (at-least-once redelivery): every row takes the UPDATE path.
void BM_SqliteReplayTrades(benchmark::State& state) {
  const auto batch_size = static_cast<std::size_t>(state.range(0));
  TempStore temp("replay_" + std::to_string(batch_size));
  const std::vector<Trade> batch = make_batch(50093239218, batch_size);
  if (!temp.store().upsert_trades(batch)) {
    state.SkipWithError("initial write failed");
    return;
  }
  for (auto _ : state) {
    auto written = temp.store().upsert_trades(batch);
    if (!written) {
      state.SkipWithError(written.error().message.c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(batch_size));
}
BENCHMARK(BM_SqliteReplayTrades)->Arg(10000)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
