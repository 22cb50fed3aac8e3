// arango-connector: bus -> store sink (the original's name; it writes to whichever store is
// configured: SQLite, PostgreSQL or ArangoDB).
//
// Reads KAFKA_TOPIC (one topic or a comma-separated list) in consumer group
// `arango-connector-<QUEUE_ID>`, from the earliest offset when the group has no committed one (the
// original started at the latest, so a sink started after its loader lost data). Records are
// decoded (core/wire_decode.h), validated and collected into a batch, which is written when it
// holds BATCH_RECORDS records, when its oldest record is BATCH_MAX_DELAY_MS old, or when the topic
// goes idle. Offsets are committed only after the store has durably written the whole batch; the
// store's upserts are keyed by natural keys (store/store.h), so replays after a crash or restart
// never duplicate rows: effectively-once in the store, at-least-once on the bus.
//
// Stored types: trade, agg_trade, candle, depth_snapshot, indicator. Records of other valid types
// (depth_update, book_ticker, gap, symbol_info) have no table; they are counted as skipped
// (sf_connector_records_skipped_total{type}), never silently. A record that cannot be decoded or
// fails validation goes to the dead-letter topic `<topic>.dlq` with the reason and its source
// position, and is counted (sf_connector_dead_letters_total); the stream goes on. The dead-letter
// record (docs/schemas.md, "dead_letter"):
//   {"v":1,"type":"dead_letter","reason":"...","source_topic":"t","source_partition":0,
//    "source_offset":42,"key":"BTCUSDT","value":"<the record as received>","connector":"<id>",
//    "time":<µs>}
//
// Store failures are retried with backoff for STORE_RETRY_SECONDS before the connector gives up
// with `error` (nothing is committed that is not written). A stop flushes the batch, commits and
// ends as `interrupted`.
//
// Hand-off (how a workflow knows the sink is done; queue-manager relies on it): with FINISH_WHEN
// `upstream` (the default) the connector also reads QUEUE_EVENTS_TOPIC from the beginning and waits
// for a `finished` event of its QUEUE_ID whose `extra.topic` names a topic it reads
// (loader-producer writes `{"records":N,"topic":"..."}` there). Once every one of its topics has
// such an event, it finishes as soon as it has read to the end of the topics and written and
// committed everything; its `finished` event carries `{"records_written", "upstream_records",
// "dead_letters", "skipped"}`. FINISH_WHEN `end-of-topic` finishes when caught up without waiting
// for an upstream (one-shot copies); `never` runs until stopped (live feeds).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "runtime/config.h"
#include "runtime/worker.h"
#include "store/store.h"

namespace sf::services {

enum class FinishWhen : std::uint8_t { kUpstreamFinished, kEndOfTopic, kNever };

struct ConnectorOptions {
  std::vector<std::string> topics;  // KAFKA_TOPIC
  std::string group;                // default: arango-connector-<QUEUE_ID>
  std::size_t batch_records = 5000;
  std::chrono::milliseconds batch_max_delay{500};
  FinishWhen finish_when = FinishWhen::kUpstreamFinished;
  std::chrono::milliseconds store_retry_for{std::chrono::seconds(60)};
  std::string dlq_suffix = ".dlq";
};

// Counters the body updates (any thread may read them: tests, telemetry).
struct ConnectorStats {
  std::atomic<std::int64_t> consumed{0};      // messages read from the topics
  std::atomic<std::int64_t> written{0};       // records written (and committed)
  std::atomic<std::int64_t> dead_letters{0};  // messages sent to the DLQ
  std::atomic<std::int64_t> skipped{0};       // valid records of types without a table
  std::atomic<std::int64_t> batches{0};       // batches written and committed
  std::atomic<std::int64_t> store_retries{0};
  std::atomic<std::int64_t> upstream_records{-1};  // sum of upstream totals once all finished
};

// The body for runtime::Worker. `store` must outlive the worker run.
std::function<runtime::WorkResult(runtime::WorkerContext&)> connector_body(
    ConnectorOptions options, store::Store& store, ConnectorStats* stats = nullptr);

// The service's own options (runtime::add_store_options among them) and its ConnectorOptions
// from a parsed configuration; the store URL is runtime::store_url_from(config).
void add_connector_options(runtime::ConfigParser& parser);
Result<ConnectorOptions, std::string> connector_options_from(const runtime::Config& config);

// `streamforge arango-connector [options]`.
int arango_connector_main(int argc, char** argv);

}  // namespace sf::services
