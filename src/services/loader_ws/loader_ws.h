// loader-ws: live Binance WebSocket market data onto the bus.
//
// SYMBOL is one symbol or a comma-separated list; all its streams share one combined connection
// (`/stream?streams=...` on BINANCE_WS_URL through WsClient: backoff with jitter, the 300 attempts
// per 5 min limit, make-before-break at max connection age and on serverShutdown). Records are
// keyed by symbol and go on KAFKA_TOPIC, or when it is empty on a topic per symbol and type:
//
//   TYPE                    stream                  default topic
//   ws_trades               <sym>@trade             ws-<sym>-trades
//   ws_agg_trades           <sym>@aggTrade          ws-<sym>-agg-trades
//   ws_candles_<interval>   <sym>@kline_<interval>  ws-<sym>-candles-<interval>
//   ws_depth                <sym>@depth@100ms       ws-<sym>-depth
//                           (+ <sym>@bookTicker, only for the cross-check below)
//   ws_book_ticker          <sym>@bookTicker        ws-<sym>-book-ticker
//
// (<sym> lower case: ws-btcusdt-trades.) Records are the normalised events of docs/schemas.md;
// each carries exchange time and receive_time (local arrival of its frame).
//
// ws_trades / ws_agg_trades, per symbol: records go out in id order (trade id `t` / aggregate id
// `a`), each id at most once (duplicated frames and the overlap of make-before-break switchovers
// are dropped by id), and nothing goes missing silently: when the next id is not last + 1 (a
// reconnect, a dropped frame) the missing ids are fetched from REST (BINANCE_API_URL:
// historicalTrades?fromId= / aggTrades?fromId=) and published in order before the frame; ids REST
// cannot supply (no data, an error, repair disabled, a gap wider than max_repair_trades) are
// published as one gap record on the same topic and key, and counted (for ws_agg_trades the ids
// are aggregate trade ids):
//   {"v":1,"type":"gap","symbol":"BTCUSDT","first_missing_id":11,"last_missing_id":20,
//    "reason":"..."}
// After every reconnect one REST page from last + 1 is also fetched, so records lost at the end
// of a broken connection are recovered even when no later frame arrives to reveal the gap.
// (Before the first frame of a symbol nothing is known, so nothing before it is loaded.)
//
// ws_candles_<interval>: every kline update is published, the open ones (is_closed false, about
// one a second while trades happen) and the closing one (is_closed true), so a consumer sees
// the forming candle and upserts by (symbol, interval, open_time); the closed record is final.
// Per symbol updates go out in order: one with an older open time, or the same open time and no
// newer event time (a duplicate), is dropped. Candles missed while disconnected are not fetched
// from REST (loader-producer api_candles_<interval> covers history).
//
// ws_book_ticker: best bid/ask in update-id (`u`) order per symbol, repeated or older ids dropped.
// Tickers are state: what passed while disconnected is not fetched again.
//
// ws_depth: `<sym>@depth@100ms` diffs feed a BookSynchronizer per symbol (Binance's procedure,
// docs/binance-formats.md §3.3) with snapshots from REST depth (depth_limit, 1000 by default):
// after every (re)sync the whole book as a non-partial depth_snapshot, then every applied diff
// (depth_update, U/u contiguous), and every snapshot_interval the top `top_levels` levels as a
// partial depth_snapshot. Nothing is published while a book is invalid: a gap (U > book id + 1)
// discards it, is counted as a resync, and snapshots are fetched again (at most one per
// snapshot_retry) until one connects. With book_ticker_check (BOOK_TICKER_CHECK, on by default)
// `<sym>@bookTicker` is subscribed too and every ticker whose `u` equals a state the book passes
// through (the snapshot or an applied diff's final id) is compared with the book's best bid and
// ask, price and quantity (BookTickerCheck: a ticker ahead of the book, the usual case since
// tickers are real-time and diffs 100 ms batches, is held until the book reaches its id; one the
// book jumps over is not comparable). Counted in sf_loader_ws_book_ticker_checks_total{symbol}
// and sf_loader_ws_book_ticker_mismatches_total{symbol}; every mismatch is logged as an error.
//
// Telemetry: `loading` every TELEMETRY_INTERVAL with extra {records, duplicates_dropped,
// gaps_repaired, trades_repaired, gaps_published, parse_errors, reconnects, diffs_published,
// snapshots_published, gap_resyncs, book_ticker_checks, book_ticker_mismatches}; a stop ends as
// `interrupted`. Metric: sf_loader_ws_receive_to_publish_seconds{type} (histogram, frame arrival
// -> bus publish).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/interval.h"
#include "core/result.h"
#include "core/symbol.h"
#include "exchange/binance/rest/rest_client.h"
#include "exchange/binance/ws/ws_client.h"
#include "runtime/config.h"
#include "runtime/worker.h"

namespace sf::services {

// Counters the body updates as it goes (readable from any thread; tests and telemetry).
struct LoaderWsStats {
  std::atomic<std::int64_t> frames{0};
  std::atomic<std::int64_t> records{0};  // trade records published (WS and REST-repaired)
  std::atomic<std::int64_t> duplicates_dropped{0};
  std::atomic<std::int64_t> gaps_repaired{0};    // gaps closed completely from REST
  std::atomic<std::int64_t> trades_repaired{0};  // trades published from REST
  std::atomic<std::int64_t> gaps_published{0};   // gap records published
  std::atomic<std::int64_t> parse_errors{0};
  std::atomic<std::int64_t> reconnects{0};
  // ws_depth
  std::atomic<std::int64_t> diffs_published{0};
  std::atomic<std::int64_t> snapshots_published{0};  // full (on sync) and top-N
  std::atomic<std::int64_t> syncs{0};                // snapshots that (re)started a book
  std::atomic<std::int64_t> gap_resyncs{0};          // books discarded for a gap in U/u
  std::atomic<std::int64_t> snapshots_too_old{0};
  std::atomic<std::int64_t> book_ticker_checks{0};  // tickers compared (matches + mismatches)
  std::atomic<std::int64_t> book_ticker_mismatches{0};
  // The WebSocket client's own counts (WsClientStats), copied as the body goes.
  std::atomic<std::int64_t> ws_attempts{0};
  std::atomic<std::int64_t> ws_switchovers{0};
  std::atomic<std::int64_t> ws_limiter_waits{0};
};

struct LoaderWsOptions {
  std::string type = "ws_trades";
  std::vector<Symbol> symbols;
  std::string topic;            // empty: ws-<symbol_lower>-<type> per symbol (see above)
  binance::WsClientOptions ws;  // streams are filled in from `symbols`
  binance::RestClientOptions rest;
  bool rest_repair = true;  // false: every gap becomes a gap record
  int repair_page_limit = 1000;
  // A gap wider than this is not fetched (it would take long and block the live feed); it is
  // published as a gap record.
  std::int64_t max_repair_trades = 200000;
  // ws_depth
  int depth_limit = 1000;  // REST depth snapshot size (Binance: up to 5000)
  std::size_t top_levels = 20;
  std::chrono::milliseconds snapshot_interval{std::chrono::seconds(1)};  // 0: no top-N records
  // REST depth pacing: limit 1000 weighs 50, so one per 2 s keeps within half the weight budget.
  std::chrono::milliseconds snapshot_retry{std::chrono::seconds(2)};
  bool book_ticker_check = true;  // ws_depth: the online @bookTicker cross-check
  // Called with every WsClient status (on its I/O thread; must not block); for observers.
  std::function<void(const binance::WsStatus&)> on_ws_status;
  std::shared_ptr<LoaderWsStats> stats = std::make_shared<LoaderWsStats>();
};

// The interval of a `ws_candles_<interval>` TYPE; nullopt for any other text.
std::optional<Interval> candle_interval(std::string_view type);
// Whether loader-ws serves this TYPE.
bool is_loader_ws_type(std::string_view type);

// Splits "BTCUSDT,ethusdt" into symbols (upper-cased, duplicates dropped).
Result<std::vector<Symbol>, std::string> parse_symbol_list(const std::string& text);

std::function<runtime::WorkResult(runtime::WorkerContext&)> loader_ws_body(LoaderWsOptions options);

// The service's own options and its LoaderWsOptions from a parsed configuration.
void add_loader_ws_options(runtime::ConfigParser& parser);
Result<LoaderWsOptions, std::string> loader_ws_options_from(const runtime::Config& config);

// `streamforge loader-ws [options]`.
int loader_ws_main(int argc, char** argv);

}  // namespace sf::services
