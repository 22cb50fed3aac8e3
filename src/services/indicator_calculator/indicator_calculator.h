// indicator-calculator: trades (or candles) from the bus -> candles of INTERVAL and the
// INDICATORS_CONFIG indicators, published back to the bus (and, through arango-connector, to the
// store). Built on src/analytics (docs/analytics.md).
//
// Reads KAFKA_TOPIC (one topic or a comma-separated list) in consumer group
// `indicator-calculator-<QUEUE_ID>`, from the earliest offset. Per symbol:
//  - `trade` / `agg_trade` records are aggregated into INTERVAL candles (exact, Binance's
//    conventions; quiet intervals become flat candles unless EMPTY_CANDLES=skip);
//  - `candle` records of a finer interval are rolled up; closed candles of INTERVAL itself pass
//    through (open, still-updating WS candles are ignored);
//  - `depth_snapshot` records feed `obi` (order-book imbalance).
// Every candle that closes is published to CANDLES_TOPIC and then fed to the indicators; each
// defined indicator value (not NaN: warm-up values are not published) is published to
// INDICATORS_TOPIC as an `indicator` record (docs/schemas.md). Records are keyed by symbol.
// A bucket closes when a trade (or candle) of a later bucket arrives — by exchange time, never
// on the local clock, so a replay gives the same output; a quiet market therefore closes its
// last bucket only with the next trade.
//
// Offsets are committed after every output of a poll batch was flushed to the bus. The
// aggregation state is in memory: after a restart the bucket in progress at the last commit is
// rebuilt only from the records after the commit (documented limitation: its first candle may be
// partial). Records that cannot be decoded or used (late, over-precise) go to `<topic>.dlq`
// (runtime/dead_letter.h) with the reason, are counted (sf_indicator_calculator_dead_letters_total)
// and logged, and the stream goes on.
//
// FINISH_WHEN `end-of-topic`: at the end of the input the open candles are published with
// is_closed = false (no indicators for them) and the worker finishes; `never` (default) runs
// until stopped.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "analytics/candles.h"
#include "runtime/config.h"
#include "runtime/worker.h"

namespace sf::services {

struct CalculatorOptions {
  std::vector<std::string> topics;  // KAFKA_TOPIC
  std::string group;                // default: indicator-calculator-<QUEUE_ID>
  Interval interval = Interval::k1m;
  std::string indicators_config;  // INDICATORS_CONFIG ("" = defaults)
  std::string candles_topic;      // CANDLES_TOPIC
  std::string indicators_topic;   // INDICATORS_TOPIC
  analytics::EmptyBuckets empty_candles = analytics::EmptyBuckets::kFlat;
  bool finish_at_end_of_topic = false;
};

struct CalculatorStats {
  std::atomic<std::int64_t> consumed{0};
  std::atomic<std::int64_t> candles{0};      // candle records published
  std::atomic<std::int64_t> indicators{0};   // indicator records published
  std::atomic<std::int64_t> bad_records{0};  // undecodable or rejected (late, too precise)
  std::atomic<std::int64_t> skipped{0};      // valid records of types it does not use
};

// The body for runtime::Worker. Fails at once (error) on an invalid INDICATORS_CONFIG.
std::function<runtime::WorkResult(runtime::WorkerContext&)> calculator_body(
    CalculatorOptions options, CalculatorStats* stats = nullptr);

// The service's own options and its CalculatorOptions from a parsed configuration.
void add_calculator_options(runtime::ConfigParser& parser);
Result<CalculatorOptions, std::string> calculator_options_from(const runtime::Config& config);

// `streamforge indicator-calculator [options]`.
int indicator_calculator_main(int argc, char** argv);

}  // namespace sf::services
