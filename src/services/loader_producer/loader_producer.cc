#include "services/loader_producer/loader_producer.h"

#include <simdjson.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <iostream>
#include <stop_token>
#include <thread>

#include "core/wire.h"
#include "runtime/json_writer.h"
#include "runtime/log.h"
#include "runtime/service.h"
#include "runtime/signals.h"
#include "services/queue_manager/registry.h"

namespace sf::services {
namespace {

constexpr const char* kService = "loader-producer";

const char* kind_name(LoadKind k) {
  switch (k) {
    case LoadKind::kCandles:
      return "candles";
    case LoadKind::kAggTrades:
      return "agg_trades";
    case LoadKind::kTrades:
      return "trades";
  }
  return "?";
}

// The key that orders a kind's records: open time for candles, the (aggregate) trade id else.
std::int64_t key_of(const MarketEvent& e) {
  if (const auto* c = std::get_if<Candle>(&e)) return c->open_time;
  if (const auto* a = std::get_if<AggTrade>(&e)) return a->agg_trade_id;
  if (const auto* t = std::get_if<Trade>(&e)) return t->trade_id;
  return 0;
}

TimestampUs time_of(const MarketEvent& e) {
  if (const auto* c = std::get_if<Candle>(&e)) return c->open_time;
  if (const auto* a = std::get_if<AggTrade>(&e)) return a->trade_time;
  if (const auto* t = std::get_if<Trade>(&e)) return t->trade_time;
  return 0;
}

struct Checkpoint {
  std::int64_t last_key = 0;
  std::int64_t records = 0;
  bool done = false;
};

// The checkpoint stream is keyed by queue_id; one record per flushed batch. The id names what
// is loaded (source, kind, interval, symbol), so a restarted loader finds its own progress.
std::string checkpoint_id(const runtime::WorkerSettings& s, const LoadPlan& p) {
  return s.queue_id + "|" + (p.source == LoadSource::kRest ? "rest" : "vision") + "|" +
         kind_name(p.kind) + "|" + (p.interval ? std::string(interval_name(*p.interval)) : "") +
         "|" + std::string(p.symbol.view());
}

std::optional<Checkpoint> read_checkpoint(bus::Bus& bus, const std::string& topic,
                                          const std::string& queue_id, const std::string& id) {
  (void)bus.create_topic(topic, 1);  // exists already, or is created empty
  auto c = bus.subscribe({.topics = {topic},
                          .group = "loader-resume-" + runtime::short_id(10),
                          .start = bus::StartFrom::kEarliest,
                          .offsets = {}});
  if (!c) return std::nullopt;
  std::optional<Checkpoint> last;
  simdjson::dom::parser parser;
  // Read to the end of the topic: until the consumer has its partitions and nothing is left.
  // (A fixed quiet period is not enough on Kafka, where joining the group can take seconds.)
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    auto batch = (*c)->poll(std::chrono::milliseconds(200), 10000);
    if (!batch) break;
    for (const auto& m : *batch) {
      if (m.key != queue_id) continue;
      simdjson::dom::element doc;
      if (parser.parse(m.value).get(doc)) continue;
      std::string_view got;
      if (doc["id"].get_string().get(got) || got != id) continue;
      Checkpoint cp;
      if (doc["last_key"].get_int64().get(cp.last_key)) continue;
      if (doc["records"].get_int64().get(cp.records)) cp.records = 0;
      if (doc["done"].get_bool().get(cp.done)) cp.done = false;
      last = cp;
    }
    if (batch->empty() && (*c)->assigned() && (*c)->lag() == 0) break;
  }
  (*c)->close();
  return last;
}

// Publishes records, flushing and checkpointing every batch.
class Publisher {
 public:
  Publisher(runtime::WorkerContext& ctx, const LoaderOptions& o, Checkpoint start)
      : ctx_(ctx), o_(o), id_(checkpoint_id(ctx.settings(), o.plan)), cp_(start) {}

  // false: stop (error recorded or stop requested).
  bool publish(const MarketEvent& e) {
    if (ctx_.stop_requested()) return false;
    const std::int64_t key = key_of(e);
    if (resumed_ && key <= cp_.last_key) return true;  // delivered before the restart
    buffer_.clear();
    wire::encode(e, buffer_);
    auto r = ctx_.bus().publish(o_.topic, o_.plan.symbol.view(), buffer_);
    if (!r) return fail("publish to " + o_.topic + " failed: " + r.error().message);
    pending_key_ = key;
    last_time_ = time_of(e);
    ++in_batch_;
    if (in_batch_ >= o_.batch_records) return commit_batch(false);
    return true;
  }

  // Flushes the bus and records how far delivery is confirmed.
  bool commit_batch(bool done) {
    if (in_batch_ == 0 && !done) return true;
    auto f = ctx_.bus().flush(std::chrono::minutes(2));
    if (!f) return fail("flush failed: " + f.error().message);
    cp_.records += static_cast<std::int64_t>(in_batch_);
    ctx_.add_records(static_cast<std::int64_t>(in_batch_));
    in_batch_ = 0;
    if (pending_key_) cp_.last_key = *pending_key_;
    cp_.done = done;
    std::string value;
    runtime::JsonWriter w(value);
    w.begin_object()
        .field("id", id_)
        .field("queue_id", ctx_.settings().queue_id)
        .field("type", ctx_.settings().type)
        .field("symbol", o_.plan.symbol.view())
        .field("last_key", cp_.last_key)
        .field("records", cp_.records)
        .field("done", done)
        .end_object();
    auto r = ctx_.bus().publish(o_.checkpoint_topic, ctx_.settings().queue_id, value);
    if (!r) return fail("checkpoint publish failed: " + r.error().message);
    if (auto f2 = ctx_.bus().flush(std::chrono::minutes(1)); !f2)
      return fail("checkpoint flush failed: " + f2.error().message);
    return true;
  }

  bool fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
    return false;
  }

  void set_resumed(bool r) { resumed_ = r; }
  const std::string& error() const { return error_; }
  const Checkpoint& checkpoint() const { return cp_; }
  // Confirmed records plus those of the batch in flight.
  std::int64_t published() const { return cp_.records + static_cast<std::int64_t>(in_batch_); }
  TimestampUs last_time() const { return last_time_; }

 private:
  runtime::WorkerContext& ctx_;
  const LoaderOptions& o_;
  std::string id_;
  Checkpoint cp_;
  std::optional<std::int64_t> pending_key_;
  TimestampUs last_time_ = 0;
  std::size_t in_batch_ = 0;
  bool resumed_ = false;
  std::string buffer_;
  std::string error_;
};

// A progress line on an interactive terminal: records, rate, share of the range, ETA.
class Progress {
 public:
  Progress(bool enabled, const LoadPlan& plan) : enabled_(enabled), plan_(plan) {}
  void update(std::int64_t records, TimestampUs at) {
    if (!enabled_) return;
    auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(500)) return;
    last_ = now;
    double secs = std::chrono::duration<double>(now - start_).count();
    double share =
        plan_.to > plan_.from && at > plan_.from
            ? static_cast<double>(at - plan_.from) / static_cast<double>(plan_.to - plan_.from)
            : 0;
    double eta = share > 0.001 ? secs * (1 - share) / share : 0;
    std::printf("\r%lld records, %.0f/s, %.1f%% of the range, ETA %.0f s   ",
                static_cast<long long>(records), secs > 0 ? records / secs : 0, share * 100, eta);
    std::fflush(stdout);
  }
  void finish() {
    if (enabled_) std::printf("\n");
  }

 private:
  bool enabled_;
  LoadPlan plan_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_{};
};

runtime::WorkResult run_rest(runtime::WorkerContext& ctx, const LoaderOptions& o, Publisher& pub,
                             Progress& progress, const std::optional<Checkpoint>& resume) {
  // Stops a wait in progress (Retry-After, backoff) within a second of a stop command.
  std::stop_source stop;
  auto rest = o.rest;
  rest.stop_token = stop.get_token();
  // Our times are µs: ask for them, or trades since 2025 would lose their sub-millisecond part.
  rest.microsecond_timestamps = true;
  std::jthread watcher([&ctx, &stop](std::stop_token own) {
    while (!own.stop_requested() && !ctx.stop_requested())
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (ctx.stop_requested()) stop.request_stop();
  });
  auto client = binance::BinanceRestClient::create(rest);
  if (!client) return {runtime::Outcome::kError, "REST client: " + client.error().describe(), "{}"};
  const auto& p = o.plan;
  auto sink = [&](const MarketEvent& e) {
    bool ok = pub.publish(e);
    progress.update(pub.published(), pub.last_time());
    return ok;
  };
  binance::RestResult<binance::PagingSummary> done = binance::PagingSummary{};
  if (p.kind == LoadKind::kCandles) {
    TimestampUs from = p.from;
    if (resume) from = std::max(from, resume->last_key + interval_micros(*p.interval));
    if (from < p.to)
      done = (*client)->for_each_kline(p.symbol, *p.interval, from, p.to,
                                       [&](const Candle& c) { return sink(MarketEvent{c}); });
  } else {
    auto on_trade = [&](const AggTrade& t) { return sink(MarketEvent{t}); };
    done = resume ? (*client)->for_each_agg_trade_from_id(p.symbol, resume->last_key + 1, p.to,
                                                          on_trade)
                  : (*client)->for_each_agg_trade(p.symbol, p.from, p.to, on_trade);
  }
  watcher.request_stop();
  if (!pub.error().empty()) return {runtime::Outcome::kError, pub.error(), "{}"};
  if (!done) {
    if (done.error().code == binance::RestErrc::kCancelled && ctx.stop_requested())
      return {runtime::Outcome::kInterrupted, "", "{}"};
    return {runtime::Outcome::kError, done.error().describe(), "{}"};
  }
  return {runtime::Outcome::kFinished, "", "{}"};
}

runtime::WorkResult run_vision(runtime::WorkerContext& ctx, const LoaderOptions& o, Publisher& pub,
                               Progress& progress) {
  auto reader = binance::VisionReader::open(o.vision);
  if (!reader) return {runtime::Outcome::kError, "vision: " + reader.error().to_string(), "{}"};
  const auto& p = o.plan;
  binance::VisionRequest request{
      .symbol = p.symbol,
      .kind = p.kind == LoadKind::kCandles     ? binance::VisionKind::kKlines
              : p.kind == LoadKind::kAggTrades ? binance::VisionKind::kAggTrades
                                               : binance::VisionKind::kTrades,
      .interval = p.kind == LoadKind::kCandles ? p.interval : std::nullopt,
      .from = p.from,
      .to = p.to};
  auto stats = reader->read(request, [&](const MarketEvent& e) {
    bool ok = pub.publish(e);
    progress.update(pub.published(), pub.last_time());
    return ok;
  });
  if (!pub.error().empty()) return {runtime::Outcome::kError, pub.error(), "{}"};
  if (ctx.stop_requested()) return {runtime::Outcome::kInterrupted, "", "{}"};
  if (!stats) return {runtime::Outcome::kError, stats.error().to_string(), "{}"};
  return {runtime::Outcome::kFinished, "", "{}"};
}

}  // namespace

Result<LoadPlan, std::string> make_load_plan(const std::string& type, const std::string& symbol,
                                             const std::string& time_range,
                                             const std::string& interval) {
  LoadPlan plan;
  auto sym = Symbol::parse(symbol);
  if (!sym) return unexpected("SYMBOL: '" + symbol + "' is not a symbol");
  plan.symbol = *sym;
  auto colon = time_range.find(':');
  if (colon == std::string::npos || !parse_date(time_range.substr(0, colon), &plan.from) ||
      !parse_date(time_range.substr(colon + 1), &plan.to))
    return unexpected("TIME_RANGE: '" + time_range + "' is not YYYY-MM-DD:YYYY-MM-DD");
  if (plan.to <= plan.from)
    return unexpected(
        std::string("TIME_RANGE: the end date must be after the start (it is exclusive)"));
  auto with_interval = [&](std::string_view rest) -> Result<void, std::string> {
    std::string iv = rest.empty() ? interval : std::string(rest);
    auto parsed = parse_interval(iv);
    if (!parsed) return unexpected("interval '" + iv + "' is not a Binance interval (1s..1M)");
    plan.interval = *parsed;
    plan.kind = LoadKind::kCandles;
    return {};
  };
  std::string_view t = type;
  if (t.rfind("api_candles", 0) == 0 || t.rfind("vision_candles", 0) == 0) {
    plan.source = t[0] == 'a' ? LoadSource::kRest : LoadSource::kVision;
    auto rest = t.substr(t[0] == 'a' ? 11 : 14);
    if (!rest.empty() && rest[0] == '_') rest.remove_prefix(1);
    if (auto r = with_interval(rest); !r) return unexpected("TYPE " + type + ": " + r.error());
  } else if (t == "api_trades" || t == "api_agg_trades") {
    plan.source = LoadSource::kRest;
    plan.kind = LoadKind::kAggTrades;
  } else if (t == "vision_agg_trades") {
    plan.source = LoadSource::kVision;
    plan.kind = LoadKind::kAggTrades;
  } else if (t == "vision_trades") {
    plan.source = LoadSource::kVision;
    plan.kind = LoadKind::kTrades;
  } else {
    return unexpected(
        "TYPE: '" + type +
        "' is not one of api_candles_<interval>, api_trades, vision_candles_<interval>, "
        "vision_agg_trades, vision_trades");
  }
  return plan;
}

std::function<runtime::WorkResult(runtime::WorkerContext&)> loader_body(LoaderOptions options) {
  return [o = std::move(options)](runtime::WorkerContext& ctx) -> runtime::WorkResult {
    // The data topic exists from the start, so consumers are assigned even when nothing is
    // published (an empty range): they can then see the end of the topic and finish.
    (void)ctx.bus().create_topic(o.topic, 1);
    const auto id = checkpoint_id(ctx.settings(), o.plan);
    auto resume = read_checkpoint(ctx.bus(), o.checkpoint_topic, ctx.settings().queue_id, id);
    if (resume && resume->done)
      return {
          runtime::Outcome::kFinished, "already loaded (checkpoint says done)",
          "{\"records\":" + std::to_string(resume->records) + ",\"topic\":\"" + o.topic + "\"}"};
    Publisher pub(ctx, o, resume.value_or(Checkpoint{}));
    pub.set_resumed(resume.has_value());
    if (resume) {
      ctx.add_records(resume->records);
      log::info(kService, "resuming after checkpoint",
                {{"last_key", resume->last_key}, {"records", resume->records}});
    }
    Progress progress(o.progress, o.plan);
    auto result = o.plan.source == LoadSource::kRest ? run_rest(ctx, o, pub, progress, resume)
                                                     : run_vision(ctx, o, pub, progress);
    progress.finish();
    // Whatever was published is flushed and checkpointed, also on stop.
    if (result.outcome != runtime::Outcome::kError) {
      if (!pub.commit_batch(result.outcome == runtime::Outcome::kFinished))
        return {runtime::Outcome::kError, pub.error(), "{}"};
    }
    const auto& cp = pub.checkpoint();
    if (result.outcome == runtime::Outcome::kFinished) {
      result.message = "loaded " + std::to_string(cp.records) + " " + kind_name(o.plan.kind) +
                       " of " + std::string(o.plan.symbol.view()) + " to " + o.topic;
      result.extra = "{\"records\":" + std::to_string(cp.records) +
                     ",\"last_key\":" + std::to_string(cp.last_key) + ",\"topic\":\"" + o.topic +
                     "\"}";
    }
    return result;
  };
}

void add_loader_options(runtime::ConfigParser& parser) {
  binance::add_rest_client_options(parser);
  parser.add({.name = "LIMIT",
              .type = runtime::OptionType::kInt,
              .default_value = "1000",
              .help = "rows per REST request (1..1000)"});
  parser.add(
      {.name = "BINANCE_VISION_URL",
       .default_value = "",
       .help = "bulk files: https URL, file:// URL or directory (default data.binance.vision)",
       .scope = runtime::OptionScope::kPlatform});
  parser.add({.name = "VISION_CACHE_DIR",
              .default_value = "",
              .help = "where downloaded bulk files are kept",
              .scope = runtime::OptionScope::kPlatform});
  parser.add({.name = "BATCH_RECORDS",
              .type = runtime::OptionType::kInt,
              .default_value = "5000",
              .help = "records per confirmed batch (flush + checkpoint)"});
  parser.add({.name = "CHECKPOINT_TOPIC",
              .default_value = "loader-checkpoints",
              .help = "topic of resume checkpoints"});
  parser.add({.name = "PROGRESS",
              .default_value = "auto",
              .help = "progress line on stdout: auto (when a terminal), true or false"});
}

Result<LoaderOptions, std::string> loader_options_from(const runtime::Config& config) {
  const auto type = config.get_string("TYPE");
  auto plan = make_load_plan(type, config.get_string("SYMBOL"), config.get_string("TIME_RANGE"),
                             config.get_string("INTERVAL"));
  if (!plan) {
    return unexpected(plan.error());
  }
  LoaderOptions options;
  options.plan = *plan;
  options.topic = config.get_string("KAFKA_TOPIC");
  if (options.topic.empty()) options.topic = "loader-" + plan->symbol.lower() + "-" + type;
  options.checkpoint_topic = config.get_string("CHECKPOINT_TOPIC");
  if (config.get_int("BATCH_RECORDS") < 1) {
    return unexpected(std::string("BATCH_RECORDS must be at least 1"));
  }
  options.batch_records = static_cast<std::size_t>(config.get_int("BATCH_RECORDS"));
  options.rest = binance::rest_client_options(config);
  options.rest.page_limit = static_cast<int>(config.get_int("LIMIT"));
  options.vision.base_url = config.get_string("BINANCE_VISION_URL");
  options.vision.cache_dir = config.get_string("VISION_CACHE_DIR");
  const auto progress = config.get_string("PROGRESS");
  options.progress = progress == "true" || (progress == "auto" && ::isatty(1));

  return options;
}

int loader_producer_main(int argc, char** argv) {
  return qm::run_hosted_service("loader-producer", argc, argv);
}

}  // namespace sf::services
