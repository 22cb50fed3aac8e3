// Analytics on one core: trades -> candles (aim: 10,000,000 trades/s), candle roll-up, and
// indicator updates, over the real recordings in ../shared/data.
//   build/bench/bench_analytics --benchmark_min_time=2
#include <benchmark/benchmark.h>
#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "analytics/candles.h"
#include "analytics/indicators.h"
#include "exchange/binance/parse.h"

namespace {

std::filesystem::path data_dir() {
  if (const char* env = std::getenv("SF_SHARED_DATA")) return env;
  return std::filesystem::path(SF_REPO_ROOT) / ".." / "shared" / "data";
}

// The 19,904 BTCUSDT trades of the hftbacktest capture (2024-08-08/09), decoded once.
struct TradeRow {
  sf::TimestampUs time;
  sf::Decimal price, quantity;
  bool maker;
  std::int64_t id;
};

const std::vector<TradeRow>& trades() {
  static const std::vector<TradeRow> rows = [] {
    std::vector<TradeRow> out;
    sf::binance::Parser parser;
    for (const char* f : {"btcusdt_20240808.gz", "btcusdt_20240809.gz"}) {
      gzFile gz = gzopen((data_dir() / "hftbacktest_ws_spot" / f).c_str(), "rb");
      if (!gz) continue;
      static char buf[1 << 16];
      while (gzgets(gz, buf, sizeof buf)) {
        std::string_view line(buf);
        if (line.find("@trade") == std::string_view::npos) continue;
        const auto sp = line.find(' ');
        auto ev = parser.parse_ws_frame(line.substr(sp + 1), 0);
        if (!ev) continue;
        const auto& t = std::get<sf::Trade>(*ev);
        out.push_back({t.trade_time, t.price, t.quantity, t.is_buyer_maker, t.trade_id});
      }
      gzclose(gz);
    }
    return out;
  }();
  return rows;
}

std::vector<sf::Candle> klines(const char* file, sf::Interval iv) {
  std::vector<sf::Candle> out;
  std::ifstream in(data_dir() / "klines_btcusdt_2020_htm" / file);
  const auto symbol = *sf::Symbol::parse("BTCUSDT");
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    auto c = sf::binance::parse_kline_csv(line, symbol, iv);
    if (c) out.push_back(*c);
  }
  return out;
}

void BM_TradesToCandles(benchmark::State& state) {
  const auto& rows = trades();
  if (rows.empty()) return state.SkipWithError("shared data not found (SF_SHARED_DATA)");
  const auto interval = static_cast<sf::Interval>(state.range(0));
  std::int64_t candles = 0;
  sf::analytics::TradeCandleAggregator agg(
      {.symbol = *sf::Symbol::parse("BTCUSDT"), .interval = interval},
      [&](const sf::Candle& c) { benchmark::DoNotOptimize(candles += c.number_of_trades); });
  // Each pass replays the capture (23:54:15 -> 00:05:05) 12 minutes later, so times keep
  // increasing with about one quiet minute between passes (flat candles included).
  const sf::TimestampUs span = 720'000'000LL;
  sf::TimestampUs shift = 0;
  for (auto _ : state) {
    for (const auto& t : rows) {
      auto r = agg.add(t.time + shift, t.price, t.quantity, t.maker, t.id, t.id, 1, 0);
      benchmark::DoNotOptimize(r);
    }
    shift += span;
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(rows.size()));
  state.counters["candles"] = static_cast<double>(agg.candles_emitted());
}
// 1m: Binance's finest common bar; 1s: a candle every few trades (the emit path dominates more).
BENCHMARK(BM_TradesToCandles)->Arg(static_cast<int>(sf::Interval::k1m))->ArgName("1m");
BENCHMARK(BM_TradesToCandles)->Arg(static_cast<int>(sf::Interval::k1s))->ArgName("1s");

void BM_RollupFiveMinuteToOneHour(benchmark::State& state) {
  static const auto rows = klines("BTCUSDT-5m-2020-07-01_2020-07-11.csv", sf::Interval::k5m);
  if (rows.empty()) return state.SkipWithError("shared data not found (SF_SHARED_DATA)");
  std::int64_t n = 0;
  for (auto _ : state) {
    sf::analytics::CandleRollup rollup(sf::Interval::k1h, [&](const sf::Candle&) { ++n; });
    for (const auto& c : rows) benchmark::DoNotOptimize(rollup.add(c));
    rollup.flush();
  }
  benchmark::DoNotOptimize(n);
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(rows.size()));
}
BENCHMARK(BM_RollupFiveMinuteToOneHour);

// Every default indicator (13 output columns) per 15m candle of 2020.
void BM_IndicatorSetDefaults(benchmark::State& state) {
  static const auto rows = klines("BTCUSDT-15m-2020-01-01_2020-07-12.csv", sf::Interval::k15m);
  if (rows.empty()) return state.SkipWithError("shared data not found (SF_SHARED_DATA)");
  double sink = 0;
  for (auto _ : state) {
    auto set = sf::analytics::IndicatorSet::from_json("");
    for (const auto& c : rows) sink += set->update(c)[0];
  }
  benchmark::DoNotOptimize(sink);
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(rows.size()));
}
BENCHMARK(BM_IndicatorSetDefaults);

}  // namespace

BENCHMARK_MAIN();
