// loader-producer: historical market data onto the bus, from Binance's REST API (or exchange-sim)
// or from data.binance.vision bulk files (or a local mirror of them).
//
// TYPE selects source and record kind:
//   api_candles_<interval>   REST /api/v3/klines, paged by startTime
//   api_trades               REST /api/v3/aggTrades (aggregate trades, as the original), by fromId
//   vision_candles_<interval>, vision_agg_trades, vision_trades   bulk files
// over TIME_RANGE "YYYY-MM-DD:YYYY-MM-DD" (UTC, end date exclusive). Records are normalised
// (docs/schemas.md) and keyed by symbol on KAFKA_TOPIC.
//
// Resume: after every flushed batch the loader publishes a checkpoint (the last key it has
// delivered) on CHECKPOINT_TOPIC (default `loader-checkpoints`), keyed by queue_id. A restarted
// loader of the same queue, type and symbol continues after it: no gap, and at most the records of
// one unconfirmed batch again, which the stores' idempotent keys absorb.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "core/events.h"
#include "core/result.h"
#include "exchange/binance/rest/rest_client.h"
#include "exchange/binance/vision/vision.h"
#include "runtime/config.h"
#include "runtime/worker.h"

namespace sf::services {

enum class LoadSource : std::uint8_t { kRest, kVision };
enum class LoadKind : std::uint8_t { kCandles, kAggTrades, kTrades };

struct LoadPlan {
  LoadSource source = LoadSource::kRest;
  LoadKind kind = LoadKind::kCandles;
  std::optional<Interval> interval;
  Symbol symbol;
  TimestampUs from = 0;  // inclusive
  TimestampUs to = 0;    // exclusive
};

// Parses TYPE, SYMBOL, TIME_RANGE and INTERVAL (INTERVAL is used when TYPE has none).
Result<LoadPlan, std::string> make_load_plan(const std::string& type, const std::string& symbol,
                                             const std::string& time_range,
                                             const std::string& interval);

struct LoaderOptions {
  LoadPlan plan;
  std::string topic;  // KAFKA_TOPIC
  std::string checkpoint_topic = "loader-checkpoints";
  binance::RestClientOptions rest;
  binance::VisionOptions vision;
  std::size_t batch_records = 5000;  // flush + checkpoint cadence
  bool progress = false;             // a progress line on stdout (interactive use)
};

std::function<runtime::WorkResult(runtime::WorkerContext&)> loader_body(LoaderOptions options);

// The service's own options and its LoaderOptions from a parsed configuration (shared by the
// command and queue-manager's in-process launcher).
void add_loader_options(runtime::ConfigParser& parser);
Result<LoaderOptions, std::string> loader_options_from(const runtime::Config& config);

// `streamforge loader-producer [options]`.
int loader_producer_main(int argc, char** argv);

}  // namespace sf::services
