// loader-ws: live Binance WebSocket market data onto the bus.
//
// TYPE ws_trades: SYMBOL (one or a comma-separated list) is subscribed as combined streams
// `<sym>@trade` on BINANCE_WS_URL through WsClient (reconnects, make-before-break). Frames are
// parsed into normalised Trade records (docs/schemas.md; trade time = exchange time, receive_time =
// local arrival) and published keyed by symbol on KAFKA_TOPIC, or on `ws-<symbol_lower>-trades`
// per symbol when KAFKA_TOPIC is empty.
//
// Guarantees per symbol: records go out in trade-id order, each id at most once (duplicated frames
// and the overlap of make-before-break switchovers are dropped by id), and nothing goes missing
// silently: when the next id is not last + 1 (a reconnect, a dropped frame) the missing ids are
// fetched from REST historicalTrades (BINANCE_API_URL) and published in order before the frame;
// ids REST cannot supply (no data, an error, repair disabled, a gap wider than max_repair_trades)
// are published as one gap record on the same topic and key, and counted:
//   {"v":1,"type":"gap","symbol":"BTCUSDT","first_missing_id":11,"last_missing_id":20,
//    "reason":"..."}
// After every reconnect one REST page from last + 1 is also fetched, so trades lost at the end of
// a broken connection are recovered even when no later frame arrives to reveal the gap. (Before
// the first frame of a symbol nothing is known, so nothing before it is loaded.)
//
// TYPE ws_depth: `<sym>@depth@100ms` diffs feed a BookSynchronizer per symbol (Binance's procedure,
// docs/binance-formats.md §3.3) with snapshots from REST depth (depth_limit, 1000 by default);
// records go on KAFKA_TOPIC or `ws-<symbol_lower>-depth`: after every (re)sync the whole book as a
// non-partial depth_snapshot, then every applied diff (depth_update, U/u contiguous), and every
// snapshot_interval the top `top_levels` levels as a partial depth_snapshot. Nothing is published
// while a book is invalid: a gap (U > book id + 1) discards it, is counted as a resync, and
// snapshots are fetched again (at most one per snapshot_retry) until one connects. Note that
// exchange-sim serves one static depth file, so after a gap in a replay the book stays invalid.
//
// Telemetry: `loading` every TELEMETRY_INTERVAL with extra {records, duplicates_dropped,
// gaps_repaired, trades_repaired, gaps_published, reconnects}; a stop ends as `interrupted`.
// Metric: sf_loader_ws_receive_to_publish_seconds{type} (histogram, frame arrival -> bus publish).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/symbol.h"
#include "exchange/binance/rest/rest_client.h"
#include "exchange/binance/ws/ws_client.h"
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
};

struct LoaderWsOptions {
  std::string type = "ws_trades";
  std::vector<Symbol> symbols;
  std::string topic;            // empty: ws-<symbol_lower>-trades per symbol
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
  std::shared_ptr<LoaderWsStats> stats = std::make_shared<LoaderWsStats>();
};

// Splits "BTCUSDT,ethusdt" into symbols (upper-cased, duplicates dropped).
Result<std::vector<Symbol>, std::string> parse_symbol_list(const std::string& text);

std::function<runtime::WorkResult(runtime::WorkerContext&)> loader_ws_body(LoaderWsOptions options);

// `streamforge loader-ws [options]`.
int loader_ws_main(int argc, char** argv);

}  // namespace sf::services
