#include "services/arango_connector/arango_connector.h"

#include <simdjson.h>

#include <algorithm>
#include <condition_variable>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "core/wire_decode.h"
#include "runtime/dead_letter.h"
#include "runtime/json_writer.h"
#include "runtime/log.h"
#include "runtime/metrics.h"
#include "runtime/protocol.h"
#include "runtime/service.h"
#include "runtime/signals.h"
#include "runtime/store_options.h"
#include "services/queue_manager/registry.h"

namespace sf::services {
namespace {

constexpr const char* kService = "arango-connector";

using Clock = std::chrono::steady_clock;

// Why a decoded record is not fit for the store ("" when it is).
std::string validate(const Trade& t) {
  if (t.trade_id < 0) return "trade_id is negative";
  if (t.price.signum() <= 0) return "price must be positive";
  if (t.quantity.signum() <= 0) return "quantity must be positive";
  if (t.trade_time <= 0) return "timestamp must be positive";
  return {};
}

std::string validate(const AggTrade& t) {
  if (t.agg_trade_id < 0) return "trade_id is negative";
  if (t.price.signum() <= 0) return "price must be positive";
  if (t.quantity.signum() <= 0) return "quantity must be positive";
  if (t.first_trade_id > t.last_trade_id) return "first_trade_id is after last_trade_id";
  if (t.trade_time <= 0) return "timestamp must be positive";
  return {};
}

std::string validate(const Candle& c) {
  if (c.open_time <= 0) return "open_time must be positive";
  if (c.close_time < c.open_time) return "close_time is before open_time";
  if (c.low > c.high) return "low is above high";
  if (c.open > c.high || c.close > c.high) return "open/close above high";
  if (c.open < c.low || c.close < c.low) return "open/close below low";
  if (c.volume.is_negative() || c.quote_asset_volume.is_negative()) return "negative volume";
  return {};
}

std::string validate(const DepthSnapshot& s) {
  if (s.last_update_id < 0) return "last_update_id is negative";
  return {};
}

std::string validate(const IndicatorValue& v) {
  if (v.open_time <= 0) return "open_time must be positive";
  if (v.name.empty()) return "empty indicator name";
  return {};
}

// What the topics' upstream producers reported when they finished.
class UpstreamWatch {
 public:
  UpstreamWatch(bus::Bus& bus, const runtime::WorkerSettings& s,
                const std::vector<std::string>& topics)
      : queue_id_(s.queue_id), pending_(topics.begin(), topics.end()) {
    // A group of its own (never committed), so every run reads the whole events topic from the
    // start and also sees a `finished` that came before the connector started.
    bus::SubscribeOptions so;
    so.topics = {s.events_topic};
    so.group = "arango-connector-" + s.queue_id + "-handoff-" + s.producer;
    so.start = bus::StartFrom::kEarliest;
    auto c = bus.subscribe(so);
    if (!c)
      throw std::runtime_error("cannot subscribe to " + s.events_topic + ": " + c.error().message);
    consumer_ = std::move(*c);
  }
  ~UpstreamWatch() { consumer_->close(); }

  // Reads what has arrived; true once every topic has an upstream `finished`.
  bool poll() {
    if (pending_.empty()) return true;
    // A short wait, not 0: librdkafka hands over fetched events only inside a poll.
    auto msgs = consumer_->poll(std::chrono::milliseconds(10), 1000);
    if (!msgs) return false;
    for (const auto& m : *msgs) {
      auto e = runtime::decode_telemetry(m.value);
      if (!e || e->queue_id != queue_id_ || e->status != runtime::kStatusFinished) continue;
      auto [topic, records] = parse_extra(e->extra);
      if (topic.empty() || !pending_.contains(topic)) continue;
      pending_.erase(topic);
      upstream_records_ += records;
      log::info(kService, "upstream finished",
                {{"producer", e->producer}, {"topic", topic}, {"records", records}});
    }
    return pending_.empty();
  }
  std::int64_t upstream_records() const { return upstream_records_; }

 private:
  static std::pair<std::string, std::int64_t> parse_extra(const std::string& extra) {
    simdjson::dom::parser p;
    simdjson::dom::element doc;
    if (p.parse(extra).get(doc)) return {};
    std::string_view topic;
    std::int64_t records = 0;
    if (doc["topic"].get_string().get(topic)) return {};
    if (doc["records"].get_int64().get(records)) records = 0;
    return {std::string(topic), records};
  }

  std::string queue_id_;
  std::set<std::string> pending_;
  std::int64_t upstream_records_ = 0;
  std::unique_ptr<bus::Consumer> consumer_;
};

struct Metrics {
  metrics::Counter& written = metrics::default_registry().counter(
      "sf_connector_records_written_total", "records written to the store and committed");
  metrics::Counter& dead_letters = metrics::default_registry().counter(
      "sf_connector_dead_letters_total", "messages sent to the dead-letter topic");
  metrics::Counter& batches = metrics::default_registry().counter("sf_connector_batches_total",
                                                                  "batches written and committed");
  metrics::Counter& store_retries = metrics::default_registry().counter(
      "sf_connector_store_retries_total", "store writes retried after an error");
  metrics::Histogram& batch_seconds = metrics::default_registry().histogram(
      "sf_connector_batch_write_seconds", "store write + commit time per batch",
      metrics::default_latency_buckets());
  metrics::Gauge& lag =
      metrics::default_registry().gauge("sf_connector_lag", "messages not yet read on the topics");

  metrics::Counter& skipped(std::string_view type) {
    return metrics::default_registry().counter("sf_connector_records_skipped_total",
                                               "valid records of types the store has no table for",
                                               {{"type", std::string(type)}});
  }
};

// One batch: the records to write and, per partition, the offset after its last message (what
// is committed once the batch is written).
struct Batch {
  std::vector<Trade> trades;
  std::vector<AggTrade> agg_trades;
  std::vector<Candle> candles;
  std::vector<DepthSnapshot> snapshots;
  std::vector<IndicatorValue> indicators;
  bus::Consumer::Offsets next;
  std::size_t messages = 0;
  bool dead_letters = false;  // DLQ records were published for it: flush the bus before commit
  std::size_t records() const {
    return trades.size() + agg_trades.size() + candles.size() + snapshots.size() +
           indicators.size();
  }
};

class Connector {
 public:
  Connector(runtime::WorkerContext& ctx, const ConnectorOptions& o, store::Store& store,
            ConnectorStats& stats)
      : ctx_(ctx), o_(o), store_(store), stats_(stats) {}

  runtime::WorkResult run() {
    bus::SubscribeOptions so;
    so.topics = o_.topics;
    so.group = o_.group;
    so.start = bus::StartFrom::kEarliest;
    auto consumer = ctx_.bus().subscribe(so);
    if (!consumer) return fail("cannot subscribe: " + consumer.error().message);
    consumer_ = std::move(*consumer);
    start_writer();
    struct StopWriter {
      Connector* c;
      ~StopWriter() { c->stop_writer(); }
    } stop_writer_at_exit{this};
    std::optional<UpstreamWatch> upstream;
    if (o_.finish_when == FinishWhen::kUpstreamFinished)
      upstream.emplace(ctx_.bus(), ctx_.settings(), o_.topics);

    bool upstream_done = false;
    auto last_report = Clock::now();
    while (true) {
      if (ctx_.stop_requested()) {
        if (!flush()) return error_result();
        return finish(runtime::Outcome::kInterrupted, "stopped");
      }
      const std::size_t room = o_.batch_records - std::min(o_.batch_records, pending_messages_);
      auto msgs = consumer_->poll(std::chrono::milliseconds(100), std::max<std::size_t>(room, 1));
      if (!msgs) return fail("poll failed: " + msgs.error().message);
      for (const auto& m : *msgs) handle(m);
      stats_.consumed += static_cast<std::int64_t>(msgs->size());
      // lag() asks the brokers on Kafka: once a second for the gauge, not per poll.
      if (Clock::now() - last_lag_ >= std::chrono::seconds(1)) {
        metrics_.lag.set(static_cast<double>(consumer_->lag()));
        last_lag_ = Clock::now();
      }

      const bool full = pending_messages_ >= o_.batch_records;
      const bool old = pending_messages_ > 0 && Clock::now() - first_pending_ >= o_.batch_max_delay;
      const bool idle = msgs->empty() && (pending_messages_ > 0 || batch_in_flight());
      if (idle) {
        if (!flush()) return error_result();
      } else if (full || old) {
        if (!submit()) return error_result();
      }
      if (Clock::now() - last_report >= ctx_.settings().telemetry_interval) {
        ctx_.report_loading("", stats_json());
        last_report = Clock::now();
      }

      if (upstream && !upstream_done) {
        upstream_done = upstream->poll();
        if (upstream_done) stats_.upstream_records = upstream->upstream_records();
      }
      const bool may_finish = o_.finish_when == FinishWhen::kEndOfTopic ||
                              (o_.finish_when == FinishWhen::kUpstreamFinished && upstream_done);
      // An upstream that published nothing leaves nothing to wait for (its topic may not even
      // have partitions assigned yet).
      const bool nothing_upstream =
          upstream_done && stats_.upstream_records.load() == 0 && stats_.consumed.load() == 0;
      if (may_finish && msgs->empty() && pending_messages_ == 0 && !batch_in_flight() &&
          (nothing_upstream || (consumer_->assigned() && consumer_->lag() == 0))) {
        return finish(runtime::Outcome::kFinished,
                      "persisted " + std::to_string(stats_.written.load()) + " records");
      }
    }
  }

 private:
  void handle(const bus::Message& m) {
    if (pending_messages_ == 0) first_pending_ = Clock::now();
    ++pending_messages_;
    cur_.next[m.topic][m.partition] = m.offset + 1;
    auto decoded = decoder_.decode(m.value);
    if (!decoded) return dead_letter(m, decoded.error().message());
    std::string why;
    if (decoded->event) {
      std::visit(
          [&](auto& e) {
            using T = std::decay_t<decltype(e)>;
            if constexpr (std::is_same_v<T, Trade>) {
              if ((why = validate(e)).empty()) cur_.trades.push_back(std::move(e));
            } else if constexpr (std::is_same_v<T, AggTrade>) {
              if ((why = validate(e)).empty()) cur_.agg_trades.push_back(std::move(e));
            } else if constexpr (std::is_same_v<T, Candle>) {
              if ((why = validate(e)).empty()) cur_.candles.push_back(std::move(e));
            } else if constexpr (std::is_same_v<T, DepthSnapshot>) {
              if ((why = validate(e)).empty()) cur_.snapshots.push_back(std::move(e));
            } else {
              skip(decoded->type);
            }
          },
          *decoded->event);
    } else if (decoded->indicator) {
      if ((why = validate(*decoded->indicator)).empty())
        cur_.indicators.push_back(std::move(*decoded->indicator));
    } else {
      skip(decoded->type);
    }
    if (!why.empty()) dead_letter(m, "invalid " + std::string(decoded->type) + ": " + why);
  }

  bool batch_in_flight() {
    std::lock_guard lock(writer_mu_);
    return in_flight_.has_value();
  }

  void skip(std::string_view type) {
    ++stats_.skipped;
    metrics_.skipped(type).inc();
    if (skipped_types_.insert(std::string(type)).second)
      log::warn(kService, "record type has no table; skipping (counted)", {{"type", type}});
  }

  void dead_letter(const bus::Message& m, const std::string& reason) {
    const std::string out = runtime::dead_letter_record(m, reason, ctx_.settings().producer);
    const std::string topic = m.topic + o_.dlq_suffix;
    // A DLQ publish that fails must not let the offset be committed: keep trying (backpressure
    // clears as the bus drains); a stop gives up without committing, so the record is read again.
    while (true) {
      auto r = ctx_.bus().publish(topic, m.key, out);
      if (r) break;
      log::warn(kService, "dead-letter publish failed; retrying",
                {{"topic", topic}, {"error", r.error().message}});
      if (!ctx_.sleep_for(std::chrono::milliseconds(200))) {
        dlq_failed_ = true;
        return;
      }
    }
    cur_.dead_letters = true;
    ++stats_.dead_letters;
    metrics_.dead_letters.inc();
    if (stats_.dead_letters.load() <= 10 || stats_.dead_letters.load() % 1000 == 0)
      log::warn(kService, "record sent to dead-letter topic",
                {{"topic", topic}, {"offset", m.offset}, {"reason", reason}});
  }

  template <class T, class Write>
  bool write_with_retry(std::vector<T>& batch, const char* what, Write write) {
    if (batch.empty()) return true;
    const auto deadline = Clock::now() + o_.store_retry_for;
    auto backoff = std::chrono::milliseconds(100);
    while (true) {
      auto r = write(std::span<const T>(batch));
      if (r) return true;
      ++stats_.store_retries;
      metrics_.store_retries.inc();
      log::warn(kService, "store write failed; retrying",
                {{"what", what}, {"records", batch.size()}, {"error", r.error().message}});
      if (Clock::now() + backoff > deadline) {
        error_ = std::string("store write of ") + what + " failed for " +
                 std::to_string(o_.store_retry_for.count()) + " ms: " + r.error().message;
        return false;
      }
      if (!ctx_.sleep_for(backoff)) {
        error_.clear();
        stopped_in_retry_ = true;
        return false;
      }
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
    }
  }

  // Pipelining: the writer thread writes one batch while this thread decodes the next. A batch's
  // offsets are committed (explicitly, so the next batch's messages are not) only after the store
  // wrote it, on this thread, which alone touches the consumer.
  void writer_loop() {
    std::unique_lock lock(writer_mu_);
    while (true) {
      writer_cv_.wait(lock, [&] { return writer_exit_ || write_state_ == WriteState::kQueued; });
      if (write_state_ != WriteState::kQueued) return;
      write_state_ = WriteState::kWriting;
      Batch& b = *in_flight_;
      lock.unlock();
      const auto start = Clock::now();
      const bool ok =
          write_with_retry(b.trades, "trades", [&](auto x) { return store_.upsert_trades(x); }) &&
          write_with_retry(b.agg_trades, "agg_trades",
                           [&](auto x) { return store_.upsert_agg_trades(x); }) &&
          write_with_retry(b.candles, "candles",
                           [&](auto x) { return store_.upsert_candles(x); }) &&
          write_with_retry(b.snapshots, "depth_snapshots",
                           [&](auto x) { return store_.upsert_depth_snapshots(x); }) &&
          write_with_retry(b.indicators, "indicators",
                           [&](auto x) { return store_.upsert_indicators(x); });
      metrics_.batch_seconds.observe(std::chrono::duration<double>(Clock::now() - start).count());
      lock.lock();
      write_state_ = ok ? WriteState::kWritten : WriteState::kFailed;
      writer_cv_.notify_all();
    }
  }

  void start_writer() {
    writer_ = std::thread([this] { writer_loop(); });
  }
  void stop_writer() {
    {
      std::lock_guard lock(writer_mu_);
      writer_exit_ = true;
    }
    writer_cv_.notify_all();
    if (writer_.joinable()) writer_.join();
  }

  // Waits for the batch in flight; commits it when written. False when it failed (error_ /
  // stopped_in_retry_ tell why).
  bool complete_in_flight() {
    std::unique_lock lock(writer_mu_);
    writer_cv_.wait(lock, [&] {
      return write_state_ == WriteState::kIdle || write_state_ == WriteState::kWritten ||
             write_state_ == WriteState::kFailed;
    });
    if (write_state_ == WriteState::kIdle) return true;
    if (write_state_ == WriteState::kFailed) return false;
    Batch b = std::move(*in_flight_);
    in_flight_.reset();
    write_state_ = WriteState::kIdle;
    lock.unlock();
    if (b.dead_letters) {
      if (auto r = ctx_.bus().flush(std::chrono::seconds(30)); !r) {
        error_ = "dead-letter records not delivered: " + r.error().message;
        return false;
      }
    }
    if (auto r = consumer_->commit(b.next); !r) {
      // Written but not committed: the records will be read and upserted again (no duplicate).
      log::warn(kService, "commit failed; the batch will be read again",
                {{"error", r.error().message}});
    }
    const std::size_t records = b.records();
    stats_.written += static_cast<std::int64_t>(records);
    ++stats_.batches;
    metrics_.written.inc(records);
    metrics_.batches.inc();
    ctx_.add_records(static_cast<std::int64_t>(records));
    return true;
  }

  // Hands the current batch to the writer (after the previous one is written and committed).
  bool submit() {
    if (pending_messages_ == 0) return true;
    if (dlq_failed_) {
      error_.clear();
      stopped_in_retry_ = true;
      return false;
    }
    if (!complete_in_flight()) return false;
    {
      std::lock_guard lock(writer_mu_);
      in_flight_.emplace(std::move(cur_));
      write_state_ = WriteState::kQueued;
    }
    writer_cv_.notify_all();
    cur_ = Batch{};
    return true;
  }

  // Everything read so far written and committed.
  bool flush() { return submit() && complete_in_flight(); }

  std::string stats_json() const {
    std::string out;
    runtime::JsonWriter w(out);
    w.begin_object()
        .field("records_written", stats_.written.load())
        .field("consumed", stats_.consumed.load())
        .field("dead_letters", stats_.dead_letters.load())
        .field("skipped", stats_.skipped.load())
        .field("batches", stats_.batches.load())
        .field("store_retries", stats_.store_retries.load())
        .field("lag", consumer_ ? consumer_->lag() : 0)
        .field("upstream_records", stats_.upstream_records.load())
        .end_object();
    return out;
  }

  runtime::WorkResult finish(runtime::Outcome outcome, std::string message) {
    consumer_->close();
    return {outcome, std::move(message), stats_json()};
  }
  runtime::WorkResult fail(std::string message) {
    if (consumer_) consumer_->close();
    return {runtime::Outcome::kError, std::move(message), "{}"};
  }
  // After a failed flush: a stop during the retry is an interruption (nothing committed), the
  // rest is an error.
  runtime::WorkResult error_result() {
    if (stopped_in_retry_) {
      consumer_->close();
      return {runtime::Outcome::kInterrupted, "stopped before the batch was written", stats_json()};
    }
    return fail(error_);
  }

  runtime::WorkerContext& ctx_;
  const ConnectorOptions& o_;
  store::Store& store_;
  ConnectorStats& stats_;
  Metrics metrics_;
  wire::Decoder decoder_;
  std::unique_ptr<bus::Consumer> consumer_;
  // The batch being filled (on this thread) and the one being written (on writer_).
  Batch cur_;
  std::size_t& pending_messages_ = cur_.messages;
  Clock::time_point first_pending_;
  std::mutex writer_mu_;
  std::condition_variable writer_cv_;
  std::optional<Batch> in_flight_;
  enum class WriteState : std::uint8_t { kIdle, kQueued, kWriting, kWritten, kFailed };
  WriteState write_state_ = WriteState::kIdle;
  bool writer_exit_ = false;
  std::thread writer_;
  Clock::time_point last_lag_;
  bool dlq_failed_ = false;
  bool stopped_in_retry_ = false;
  std::string error_;
  std::set<std::string> skipped_types_;
};

}  // namespace

std::function<runtime::WorkResult(runtime::WorkerContext&)> connector_body(ConnectorOptions options,
                                                                           store::Store& store,
                                                                           ConnectorStats* stats) {
  return [options = std::move(options), &store, stats](runtime::WorkerContext& ctx) {
    ConnectorStats local;
    Connector c(ctx, options, store, stats ? *stats : local);
    return c.run();
  };
}

void add_connector_options(runtime::ConfigParser& parser) {
  runtime::add_store_options(parser);
  parser.add({.name = "CONSUMER_GROUP",
              .default_value = "",
              .help = "consumer group (default arango-connector-<QUEUE_ID>)"});
  parser.add({.name = "BATCH_RECORDS",
              .type = runtime::OptionType::kInt,
              .default_value = "5000",
              .help = "records per store write"});
  parser.add({.name = "BATCH_MAX_DELAY_MS",
              .type = runtime::OptionType::kInt,
              .default_value = "500",
              .help = "write a batch at the latest this long after its first record"});
  parser.add(
      {.name = "FINISH_WHEN",
       .default_value = "upstream",
       .help = "upstream (the loader's finished event, then end of topic), end-of-topic, never"});
  parser.add({.name = "STORE_RETRY_SECONDS",
              .type = runtime::OptionType::kInt,
              .default_value = "60",
              .help = "how long a failing store write is retried before the connector errors"});
}

Result<ConnectorOptions, std::string> connector_options_from(const runtime::Config& config) {
  ConnectorOptions options;
  options.topics = runtime::split_list(config.get_string("KAFKA_TOPIC"));
  if (options.topics.empty()) {
    return unexpected(std::string("KAFKA_TOPIC is required (one topic or a comma-separated list)"));
  }
  const auto queue_id = config.get_string("QUEUE_ID");
  options.group = config.get_string("CONSUMER_GROUP");
  if (options.group.empty())
    options.group = "arango-connector-" + (queue_id.empty() ? "default" : queue_id);
  if (config.get_int("BATCH_RECORDS") < 1 || config.get_int("BATCH_MAX_DELAY_MS") < 1) {
    return unexpected(std::string("BATCH_RECORDS and BATCH_MAX_DELAY_MS must be at least 1"));
  }
  options.batch_records = static_cast<std::size_t>(config.get_int("BATCH_RECORDS"));
  options.batch_max_delay = std::chrono::milliseconds(config.get_int("BATCH_MAX_DELAY_MS"));
  options.store_retry_for =
      std::chrono::seconds(std::max<std::int64_t>(config.get_int("STORE_RETRY_SECONDS"), 0));
  const auto finish = config.get_string("FINISH_WHEN");
  if (finish == "upstream")
    options.finish_when = FinishWhen::kUpstreamFinished;
  else if (finish == "end-of-topic")
    options.finish_when = FinishWhen::kEndOfTopic;
  else if (finish == "never")
    options.finish_when = FinishWhen::kNever;
  else {
    return unexpected(std::string("FINISH_WHEN must be upstream, end-of-topic or never"));
  }

  return options;
}

int arango_connector_main(int argc, char** argv) {
  return qm::run_hosted_service("arango-connector", argc, argv);
}

}  // namespace sf::services
