// Golden tests over every real payload in ../shared/data: counts and id continuity must match the
// data README's figures, and decimal strings must survive byte-identical.
#include <gtest/gtest.h>

#include <map>

#include "test_support.h"
#include "tools/normalize.h"

namespace sf::tools {
namespace {

namespace fs = std::filesystem;

struct Collected {
  std::map<std::string, std::uint64_t> by_type;
  std::vector<std::string> errors;
  std::vector<MarketEvent> events;
  NormalizeStats stats;
};

// Runs one file through the Normalizer as `streamforge normalize` does.
Collected run_file(const fs::path& path, bool keep_events = true) {
  Collected out;
  Normalizer n(
      [&](std::string_view record, const MarketEvent* e) {
        auto p = record.find("\"type\":\"");
        auto type = record.substr(p + 8, record.find('"', p + 8) - (p + 8));
        ++out.by_type[std::string(type)];
        if (e && keep_events) out.events.push_back(*e);
      },
      [&](std::string_view msg) { out.errors.emplace_back(msg); });
  n.set_hints(hints_from_filename(path.string()));
  std::string error;
  if (path.extension() == ".json") {
    std::string doc;
    EXPECT_TRUE(read_all(path.string(), &doc, &error)) << error;
    n.document(doc);
  } else {
    std::uint64_t line_no = 0;
    EXPECT_TRUE(for_each_line(path.string(), [&](std::string_view l) { n.line(l, ++line_no); }, &error))
        << error;
  }
  out.stats = n.stats();
  return out;
}

template <class T>
std::vector<T> only(const Collected& c) {
  std::vector<T> out;
  for (const auto& e : c.events)
    if (auto* p = std::get_if<T>(&e)) out.push_back(*p);
  return out;
}

// Depth U == previous u + 1 per symbol; returns the number of gaps.
int depth_gaps(const std::vector<DepthUpdate>& updates) {
  std::map<std::string, std::int64_t> last;
  int gaps = 0;
  for (const auto& d : updates) {
    auto key = d.symbol.str();
    if (last.count(key) && d.first_update_id != last[key] + 1) ++gaps;
    last[key] = d.final_update_id;
  }
  return gaps;
}

fs::path data(const char* rel) { return sf::testing::shared_data_dir() / rel; }

TEST(NormalizeGolden, Hftbacktest20240808And0809ContinueWithoutGaps) {
  SF_REQUIRE_SHARED_DATA("hftbacktest_ws_spot/btcusdt_20240808.gz");
  auto a = run_file(data("hftbacktest_ws_spot/btcusdt_20240808.gz"));
  auto b = run_file(data("hftbacktest_ws_spot/btcusdt_20240809.gz"));
  EXPECT_TRUE(a.errors.empty()) << a.errors.front();
  EXPECT_TRUE(b.errors.empty()) << b.errors.front();
  EXPECT_EQ(a.stats.lines, 41249u);
  EXPECT_EQ(a.by_type["depth_update"], 3451u);
  EXPECT_EQ(a.by_type["book_ticker"], 28040u);
  EXPECT_EQ(a.by_type["trade"], 9757u);
  EXPECT_EQ(a.by_type["depth_snapshot"], 1u);
  EXPECT_EQ(b.stats.lines, 58325u);
  EXPECT_EQ(b.by_type["depth_update"], 3044u);
  EXPECT_EQ(b.by_type["book_ticker"], 45134u);
  EXPECT_EQ(b.by_type["trade"], 10147u);

  auto snaps = only<DepthSnapshot>(a);
  ASSERT_EQ(snaps.size(), 1u);
  EXPECT_EQ(snaps[0].last_update_id, 50093239218);
  EXPECT_EQ(snaps[0].bids.size(), 1000u);
  EXPECT_EQ(snaps[0].asks.size(), 1000u);
  EXPECT_EQ(snaps[0].symbol.view(), "BTCUSDT");  // from the file name

  // Both files as one stream: depth and trade ids continue across the boundary.
  auto depth = only<DepthUpdate>(a);
  auto depth_b = only<DepthUpdate>(b);
  for (const auto& d : depth_b) depth.push_back(d);  // events are immutable: append, never assign
  EXPECT_EQ(depth_gaps(depth), 0);
  auto trades = only<Trade>(a);
  auto trades_b = only<Trade>(b);
  for (const auto& t : trades_b) trades.push_back(t);
  ASSERT_EQ(trades.size(), 19904u);
  for (std::size_t i = 1; i < trades.size(); ++i)
    ASSERT_EQ(trades[i].trade_id, trades[i - 1].trade_id + 1) << "at " << i;
  // Receive times are the capture's ns prefix in µs; event time is E.
  EXPECT_GT(trades[0].receive_time, 1723161000000000);
  EXPECT_LT(trades[0].receive_time, 1723162000000000);
  EXPECT_GT(trades[0].event_time, trades[0].receive_time);  // the recorder clock lagged ~1.27 s
}

TEST(NormalizeGolden, Hftbacktest2023WithOrderIdKeys) {
  SF_REQUIRE_SHARED_DATA("hftbacktest_ws_spot/btcusdt_20230405.dat.gz");
  auto c = run_file(data("hftbacktest_ws_spot/btcusdt_20230405.dat.gz"));
  EXPECT_TRUE(c.errors.empty()) << c.errors.front();
  EXPECT_EQ(c.stats.lines, 15088u);
  EXPECT_EQ(c.by_type["depth_update"], 3929u);
  EXPECT_EQ(c.by_type["book_ticker"], 8015u);
  EXPECT_EQ(c.by_type["trade"], 3144u);
  EXPECT_EQ(depth_gaps(only<DepthUpdate>(c)), 0);
  auto trades = only<Trade>(c);
  // The 2023 capture's prefix is µs: receive time is close to event time.
  EXPECT_LT(std::abs(trades[0].receive_time - trades[0].event_time), 5'000'000);
}

// Every price and quantity string of the frames comes out byte-identical in the records.
TEST(NormalizeGolden, DecimalStringsSurviveByteIdentical) {
  SF_REQUIRE_SHARED_DATA("hftbacktest_ws_spot/btcusdt_20240808_first5000.frames.jsonl");
  auto path = data("hftbacktest_ws_spot/btcusdt_20240808_first5000.frames.jsonl");
  std::vector<std::string> lines;
  std::string error;
  ASSERT_TRUE(for_each_line(path.string(), [&](std::string_view l) { lines.emplace_back(l); }, &error));
  auto c = run_file(path);
  ASSERT_TRUE(c.errors.empty()) << c.errors.front();
  ASSERT_EQ(c.events.size(), lines.size());
  ASSERT_EQ(lines.size(), 5000u);
  std::size_t checked = 0;
  auto contains = [](const std::string& frame, const std::string& needle) {
    return frame.find(needle) != std::string::npos;
  };
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto& frame = lines[i];
    const auto& e = c.events[i];
    if (auto* t = std::get_if<Trade>(&e)) {
      ASSERT_TRUE(contains(frame, "\"p\":\"" + t->price.to_string() + "\"")) << frame;
      ASSERT_TRUE(contains(frame, "\"q\":\"" + t->quantity.to_string() + "\"")) << frame;
      checked += 2;
    } else if (auto* b = std::get_if<BookTicker>(&e)) {
      ASSERT_TRUE(contains(frame, "\"b\":\"" + b->bid_price.to_string() + "\"")) << frame;
      ASSERT_TRUE(contains(frame, "\"A\":\"" + b->ask_quantity.to_string() + "\"")) << frame;
      checked += 2;
    } else if (auto* d = std::get_if<DepthUpdate>(&e)) {
      for (const auto& l : d->bids) {
        ASSERT_TRUE(contains(frame, "[\"" + l.price.to_string() + "\",\"" + l.quantity.to_string() + "\"]"));
        ++checked;
      }
    } else if (auto* s = std::get_if<DepthSnapshot>(&e)) {
      for (const auto& l : s->asks) {
        ASSERT_TRUE(contains(frame, "[\"" + l.price.to_string() + "\",\"" + l.quantity.to_string() + "\"]"));
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 10000u);
}

TEST(NormalizeGolden, CryptofeedCombinedStreams) {
  SF_REQUIRE_SHARED_DATA("cryptofeed_ws_spot_2021-10-12/combined_stream.frames.jsonl");
  auto c = run_file(data("cryptofeed_ws_spot_2021-10-12/combined_stream.frames.jsonl"));
  EXPECT_TRUE(c.errors.empty()) << c.errors.front();
  EXPECT_EQ(c.stats.records, 265u);
  EXPECT_EQ(c.by_type["depth_update"], 177u);
  EXPECT_EQ(c.by_type["book_ticker"], 84u);
  EXPECT_EQ(c.by_type["agg_trade"], 2u);
  EXPECT_EQ(c.by_type["candle"], 2u);
  EXPECT_EQ(depth_gaps(only<DepthUpdate>(c)), 0);
  for (const auto& k : only<Candle>(c)) EXPECT_FALSE(k.is_closed);
  // The kline's last trade id is the aggTrade's trade id sent in the same millisecond.
  auto klines = only<Candle>(c);
  auto aggs = only<AggTrade>(c);
  bool matched = false;
  for (const auto& k : klines)
    for (const auto& a : aggs) matched |= k.last_trade_id == a.last_trade_id && a.last_trade_id == 19862790;
  EXPECT_TRUE(matched);
}

TEST(NormalizeGolden, CryptofeedRawRecordingsWithPrefixes) {
  SF_REQUIRE_SHARED_DATA("cryptofeed_ws_spot_2021-10-12/BINANCE.ws.1.0.txt");
  auto ws = run_file(data("cryptofeed_ws_spot_2021-10-12/BINANCE.ws.1.0.txt"));
  EXPECT_TRUE(ws.errors.empty()) << ws.errors.front();
  EXPECT_EQ(ws.stats.records, 265u);
  EXPECT_GE(ws.stats.skipped, 1u);  // the connection URL line
  auto http = run_file(data("cryptofeed_ws_spot_2021-10-12/BINANCE.http.0.0.txt"));
  EXPECT_TRUE(http.errors.empty()) << http.errors.front();
  auto snaps = only<DepthSnapshot>(http);
  ASSERT_GE(snaps.size(), 4u);
  EXPECT_EQ(snaps[0].symbol.view(), "NKNUSDT");  // symbol from the recorded URL
  EXPECT_EQ(snaps[0].last_update_id, 499869752);
  EXPECT_EQ(snaps[0].receive_time, 1633998512320639);
}

TEST(NormalizeGolden, DepthSnapshotsWithoutSymbolAreErrorsNotGuesses) {
  SF_REQUIRE_SHARED_DATA("cryptofeed_ws_spot_2021-10-12/depth_snapshots.jsonl");
  auto c = run_file(data("cryptofeed_ws_spot_2021-10-12/depth_snapshots.jsonl"));
  EXPECT_EQ(c.stats.records, 0u);
  ASSERT_EQ(c.errors.size(), 4u);
  EXPECT_EQ(c.errors[0], "line 1: depth snapshot without a symbol: pass --symbol");
}

TEST(NormalizeGolden, ExchangeInfoDocuments) {
  SF_REQUIRE_SHARED_DATA("cryptofeed_ws_spot_2021-10-12/exchangeInfo_2021-10-12.json");
  auto full = run_file(data("cryptofeed_ws_spot_2021-10-12/exchangeInfo_2021-10-12.json"));
  EXPECT_TRUE(full.errors.empty()) << full.errors.front();
  EXPECT_EQ(full.by_type["symbol_info"], 1695u);
  auto one = run_file(data("rest_misc/exchangeInfo_BTCUSDT_2022-12-11.pretty.json"));
  EXPECT_TRUE(one.errors.empty()) << one.errors.front();
  EXPECT_EQ(one.by_type["symbol_info"], 1u);
}

TEST(NormalizeGolden, PrettyPrintedDepthUpdate2025) {
  SF_REQUIRE_SHARED_DATA("rest_misc/depthUpdate_BTCUSDT_2025-09-10.pretty.json");
  auto c = run_file(data("rest_misc/depthUpdate_BTCUSDT_2025-09-10.pretty.json"));
  ASSERT_TRUE(c.errors.empty()) << c.errors.front();
  auto d = only<DepthUpdate>(c);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].first_update_id, 76043874804);
  EXPECT_EQ(d[0].final_update_id, 76043875762);
  EXPECT_EQ(d[0].bids.size(), 78u);
  EXPECT_EQ(d[0].asks.size(), 170u);
  int zero = 0;
  for (const auto& l : d[0].bids) zero += l.quantity.is_zero();
  for (const auto& l : d[0].asks) zero += l.quantity.is_zero();
  EXPECT_EQ(zero, 122);
}

struct KlineFile {
  const char* path;
  std::uint64_t rows;
  std::int64_t gaps;  // missing bars (halts)
};

TEST(NormalizeGolden, KlineCsvsAndZipsMatchReadmeFigures) {
  SF_REQUIRE_SHARED_DATA("klines_btcusdt_2020_htm");
  for (const auto& f : {KlineFile{"klines_btcusdt_2020_htm/BTCUSDT-15m-2020-01-01_2020-07-12.csv", 18470, 59},
                        KlineFile{"klines_btcusdt_2020_htm/BTCUSDT-5m-2020-07-01_2020-07-11.csv", 2881, 0},
                        KlineFile{"klines_btcusdt_2020_htm/BTCUSDT-1d-2017-08-17_2020-07-12.csv", 1061, 0},
                        KlineFile{"klines_btcusdt_2020_htm/BTCUSDT-15m-2020-05-20_2020-05-25.csv", 500, 0},
                        KlineFile{"klines_zip_2022_lti/ETHUSDT-1m-2022-08-14.zip", 1440, 0},
                        KlineFile{"klines_zip_2022_lti/ETHUSDT-1m-2022-08-15.zip", 1440, 0},
                        KlineFile{"klines_zip_2022_lti/BTCUSDT-1h-2022-09-07.zip", 24, 0},
                        KlineFile{"klines_zip_2022_lti/BTCUSDT-1h-2022-09-08.zip", 24, 0}}) {
    SCOPED_TRACE(f.path);
    auto c = run_file(data(f.path));
    EXPECT_TRUE(c.errors.empty()) << c.errors.front();
    auto candles = only<Candle>(c);
    ASSERT_EQ(candles.size(), f.rows);
    std::int64_t missing = 0;
    const std::int64_t step = interval_micros(candles[0].interval);
    for (std::size_t i = 1; i < candles.size(); ++i) {
      ASSERT_GT(candles[i].open_time, candles[i - 1].open_time);
      missing += (candles[i].open_time - candles[i - 1].open_time) / step - 1;
    }
    EXPECT_EQ(missing, f.gaps);
  }
}

TEST(NormalizeGolden, FreqtradeOhlcvArrays) {
  SF_REQUIRE_SHARED_DATA("klines_5m_2022_freqtrade/BTC_USDT-5m.json");
  auto c = run_file(data("klines_5m_2022_freqtrade/BTC_USDT-5m.json"));
  ASSERT_TRUE(c.errors.empty()) << c.errors.front();
  auto candles = only<Candle>(c);
  ASSERT_EQ(candles.size(), 28966u);
  EXPECT_EQ(candles[0].symbol.view(), "BTCUSDT");
  EXPECT_EQ(candles[0].open.to_string(), "43451.14");  // the number's exact text
  for (std::size_t i = 1; i < candles.size(); ++i)
    ASSERT_EQ(candles[i].open_time - candles[i - 1].open_time, 300'000'000);
}

TEST(NormalizeGolden, AggTradesMicrosecondsDenseIds) {
  SF_REQUIRE_SHARED_DATA("aggtrades_btcusdt_2026-01-01/BTCUSDT-aggTrades-2026-01-01_first5000.csv");
  auto c = run_file(data("aggtrades_btcusdt_2026-01-01/BTCUSDT-aggTrades-2026-01-01_first5000.csv"));
  ASSERT_TRUE(c.errors.empty()) << c.errors.front();
  auto t = only<AggTrade>(c);
  ASSERT_EQ(t.size(), 5000u);
  EXPECT_EQ(t.front().agg_trade_id, 3800397495);
  EXPECT_EQ(t.back().agg_trade_id, 3800402494);
  EXPECT_EQ(t.front().trade_time, 1767225600039409);  // µs kept
  std::int64_t raw_trades = t.front().last_trade_id - t.front().first_trade_id + 1;
  for (std::size_t i = 1; i < t.size(); ++i) {
    ASSERT_EQ(t[i].agg_trade_id, t[i - 1].agg_trade_id + 1);
    ASSERT_EQ(t[i].first_trade_id, t[i - 1].last_trade_id + 1);
    ASSERT_GE(t[i].trade_time, t[i - 1].trade_time);
    raw_trades += t[i].last_trade_id - t[i].first_trade_id + 1;
  }
  EXPECT_EQ(raw_trades, 16028);
}

TEST(NormalizeGolden, EveryFileInSharedDataDecodes) {
  SF_REQUIRE_SHARED_DATA("");
  std::size_t files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(sf::testing::shared_data_dir())) {
    if (!entry.is_regular_file() || entry.path().filename() == "README.md") continue;
    // depth_snapshots.jsonl carries no symbol by design (see the test above).
    if (entry.path().filename() == "depth_snapshots.jsonl") continue;
    SCOPED_TRACE(entry.path().string());
    auto c = run_file(entry.path(), /*keep_events=*/false);
    EXPECT_TRUE(c.errors.empty()) << c.errors.size() << " errors, first: " << c.errors.front();
    EXPECT_GT(c.stats.records, 0u);
    ++files;
  }
  EXPECT_GE(files, 30u);
}

TEST(NormalizeHints, FileNames) {
  auto h = hints_from_filename("/x/BTCUSDT-aggTrades-2026-01-01_first5000.csv");
  EXPECT_EQ(h.symbol->view(), "BTCUSDT");
  EXPECT_EQ(h.kind, SourceHints::Kind::kAggTrades);
  h = hints_from_filename("ETHUSDT-1m-2022-08-14.zip");
  EXPECT_EQ(h.interval, Interval::k1m);
  h = hints_from_filename("btcusdt_20240808.gz");
  EXPECT_EQ(h.symbol->view(), "BTCUSDT");
  h = hints_from_filename("SAND_USDT-5m.json");
  EXPECT_EQ(h.symbol->view(), "SANDUSDT");
  EXPECT_EQ(h.interval, Interval::k5m);
  h = hints_from_filename("combined_stream.frames.jsonl");
  EXPECT_FALSE(h.symbol.has_value());
}

}  // namespace
}  // namespace sf::tools
