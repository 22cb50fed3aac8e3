#include "services/loader_ws/loader_ws.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <stop_token>
#include <thread>

#include "core/time.h"
#include "core/wire.h"
#include "exchange/binance/book/snapshot_publisher.h"
#include "exchange/binance/book/synchronizer.h"
#include "exchange/binance/parse.h"
#include "runtime/json_writer.h"
#include "runtime/log.h"
#include "runtime/metrics.h"
#include "runtime/service.h"
#include "runtime/signals.h"

namespace sf::services {
namespace {

constexpr const char* kService = "loader-ws";

struct Frame {
  std::string payload;
  std::int64_t receive_us = 0;
};

// Frames from the WS I/O thread to the body's thread: the callback must not block, while gap
// repair (REST) and publishing may take a while.
class FrameQueue {
 public:
  void push(std::string_view payload, std::int64_t receive_us) {
    {
      std::lock_guard lock(mu_);
      frames_.push_back(Frame{std::string(payload), receive_us});
    }
    cv_.notify_one();
  }
  // Everything queued, waiting up to `wait` for something.
  std::deque<Frame> take(std::chrono::milliseconds wait) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, wait, [this] { return !frames_.empty(); });
    std::deque<Frame> out;
    out.swap(frames_);
    return out;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Frame> frames_;
};

std::string stats_json(const LoaderWsStats& s) {
  std::string out;
  runtime::JsonWriter w(out);
  w.begin_object()
      .field("records", s.records.load())
      .field("duplicates_dropped", s.duplicates_dropped.load())
      .field("gaps_repaired", s.gaps_repaired.load())
      .field("trades_repaired", s.trades_repaired.load())
      .field("gaps_published", s.gaps_published.load())
      .field("parse_errors", s.parse_errors.load())
      .field("reconnects", s.reconnects.load())
      .field("diffs_published", s.diffs_published.load())
      .field("snapshots_published", s.snapshots_published.load())
      .field("gap_resyncs", s.gap_resyncs.load())
      .end_object();
  return out;
}

// Publishes one symbol's trades in id order, at most once each, repairing gaps.
class TradeSequencer {
 public:
  TradeSequencer(runtime::WorkerContext& ctx, const LoaderWsOptions& o,
                 binance::BinanceRestClient* rest, metrics::Histogram& latency)
      : ctx_(ctx), o_(o), rest_(rest), latency_(latency) {}

  std::string topic_for(const Symbol& s) const {
    return o_.topic.empty() ? "ws-" + s.lower() + "-trades" : o_.topic;
  }

  // false: publishing failed (error()).
  bool on_trade(const Trade& t) {
    auto& last = last_[t.symbol];
    if (last && t.trade_id <= *last) {
      ++o_.stats->duplicates_dropped;
      return true;
    }
    if (last && t.trade_id > *last + 1 && !repair(t.symbol, *last + 1, t.trade_id - 1))
      return false;
    return publish(t);
  }

  // After a reconnect: trades lost at the end of the old connection show no gap until the next
  // frame arrives, which may be long (or never, at the end of a feed), so they are fetched now:
  // pages from last + 1 until REST has nothing newer (at most max_repair_trades). Frames that
  // arrive meanwhile for these ids are then dropped as duplicates.
  bool catch_up() {
    if (!rest_ || !o_.rest_repair) return true;
    for (auto& [symbol, last] : last_) {
      std::int64_t fetched = 0;
      while (last && fetched < o_.max_repair_trades && !ctx_.stop_requested()) {
        auto page = rest_->historical_trades(symbol, *last + 1, o_.repair_page_limit);
        if (!page) {
          log::warn(kService, "catch-up after reconnect failed",
                    {{"symbol", symbol.str()}, {"error", page.error().describe()}});
          break;
        }
        const auto received = now_micros();
        std::int64_t taken = 0;
        for (const auto& t : *page) {
          // Only a contiguous run: ids REST skips are left to the gap check of the next frame.
          if (t.trade_id != *last + 1) break;
          if (!publish(with_receive_time(t, received))) return false;
          ++o_.stats->trades_repaired;
          ++taken;
        }
        fetched += taken;
        if (taken < o_.repair_page_limit) break;  // caught up with REST
      }
      if (fetched > 0)
        log::info(kService, "caught up from REST after reconnect",
                  {{"symbol", symbol.str()}, {"trades", fetched}});
    }
    return true;
  }

  const std::string& error() const { return error_; }

 private:
  static Trade with_receive_time(const Trade& t, TimestampUs received) {
    return Trade{t.symbol,     t.trade_id, t.price,          t.quantity,     t.trade_time,
                 t.event_time, received,   t.is_buyer_maker, t.is_best_match};
  }

  // Publishes ids [from, to] from REST in order; what REST cannot supply becomes a gap record.
  bool repair(const Symbol& symbol, std::int64_t from, std::int64_t to) {
    const std::int64_t first = from;
    if (!rest_ || !o_.rest_repair) return publish_gap(symbol, from, to, "gap repair disabled");
    if (to - from + 1 > o_.max_repair_trades)
      return publish_gap(symbol, from, to, "gap wider than max_repair_trades");
    while (from <= to) {
      if (ctx_.stop_requested()) return publish_gap(symbol, from, to, "stopped during repair");
      const auto want = std::min<std::int64_t>(o_.repair_page_limit, to - from + 1);
      auto page = rest_->historical_trades(symbol, from, static_cast<int>(want));
      if (!page)
        return publish_gap(symbol, from, to, "historicalTrades: " + page.error().describe());
      const auto received = now_micros();
      bool progressed = false;
      for (const auto& t : *page) {
        if (t.trade_id < from) continue;
        if (t.trade_id > to) break;
        if (t.trade_id > from) {  // REST has a hole of its own
          if (!publish_gap(symbol, from, t.trade_id - 1, "historicalTrades skipped these ids"))
            return false;
        }
        if (!publish(with_receive_time(t, received))) return false;
        ++o_.stats->trades_repaired;
        from = t.trade_id + 1;
        progressed = true;
      }
      if (!progressed) return publish_gap(symbol, from, to, "historicalTrades returned no trades");
    }
    ++o_.stats->gaps_repaired;
    log::info(kService, "gap repaired from REST",
              {{"symbol", symbol.str()}, {"first", first}, {"last", to}});
    return true;
  }

  bool publish_gap(const Symbol& symbol, std::int64_t first, std::int64_t last,
                   const std::string& reason) {
    buffer_.clear();
    runtime::JsonWriter w(buffer_);
    w.begin_object()
        .field("v", wire::kSchemaVersion)
        .field("type", "gap")
        .field("symbol", symbol.view())
        .field("first_missing_id", first)
        .field("last_missing_id", last)
        .field("reason", reason)
        .end_object();
    auto r = ctx_.bus().publish(topic_for(symbol), symbol.view(), buffer_);
    if (!r) return fail("publish gap to " + topic_for(symbol) + ": " + r.error().message);
    ++o_.stats->gaps_published;
    last_[symbol] = last;  // the record stands for these ids: they are accounted for
    log::warn(kService, "gap published",
              {{"symbol", symbol.str()}, {"first", first}, {"last", last}, {"reason", reason}});
    return true;
  }

  bool publish(const Trade& t) {
    buffer_.clear();
    wire::encode(t, buffer_);
    auto r = ctx_.bus().publish(topic_for(t.symbol), t.symbol.view(), buffer_);
    if (!r) return fail("publish to " + topic_for(t.symbol) + ": " + r.error().message);
    last_[t.symbol] = t.trade_id;
    ++o_.stats->records;
    ctx_.add_records(1);
    if (t.receive_time > 0)
      latency_.observe(static_cast<double>(now_micros() - t.receive_time) / 1e6);
    return true;
  }

  bool fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
    return false;
  }

  runtime::WorkerContext& ctx_;
  const LoaderWsOptions& o_;
  binance::BinanceRestClient* rest_;
  metrics::Histogram& latency_;
  std::map<Symbol, std::optional<std::int64_t>> last_;
  std::string buffer_;
  std::string error_;
};

runtime::WorkResult run_trades(runtime::WorkerContext& ctx, const LoaderWsOptions& o) {
  // A stop interrupts a REST wait (Retry-After, backoff) instead of waiting it out.
  std::stop_source stop;
  std::jthread watcher([&ctx, &stop](std::stop_token own) {
    while (!own.stop_requested() && !ctx.stop_requested())
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (ctx.stop_requested()) stop.request_stop();
  });
  std::unique_ptr<binance::BinanceRestClient> rest;
  if (o.rest_repair && !o.rest.base_url.empty()) {
    auto options = o.rest;
    options.stop_token = stop.get_token();
    // µs keeps the sub-millisecond part of trade times (spot data since 2025).
    options.microsecond_timestamps = true;
    auto created = binance::BinanceRestClient::create(options);
    if (!created)
      return {runtime::Outcome::kError, "REST client: " + created.error().describe(), "{}"};
    rest = std::move(created).value();
  }
  auto& latency = metrics::default_registry().histogram(
      "sf_loader_ws_receive_to_publish_seconds",
      "Time from a WebSocket frame's arrival to its record's publication",
      metrics::default_latency_buckets(), {{"type", o.type}});

  FrameQueue queue;
  std::atomic<std::int64_t> connections{0};
  auto ws = o.ws;
  ws.streams.clear();
  for (const auto& s : o.symbols) ws.streams.push_back(s.lower() + "@trade");
  ws.combined = true;  // the symbol of every frame is in its stream name
  auto client = binance::WsClient::create(
      ws,
      [&queue](std::string_view payload, std::int64_t receive_us, std::uint64_t) {
        queue.push(payload, receive_us);
      },
      [&connections](const binance::WsStatus& st) {
        if (st.kind == binance::WsStatus::Kind::kConnected) {
          ++connections;
        } else if (st.kind == binance::WsStatus::Kind::kDisconnected) {
          log::info(kService, "websocket disconnected", {{"reason", st.reason}});
        }
      });
  if (!client) return {runtime::Outcome::kError, "WebSocket client: " + client.error(), "{}"};

  TradeSequencer sequencer(ctx, o, rest.get(), latency);
  binance::Parser parser;
  (*client)->start();
  std::int64_t connections_seen = 0;
  auto last_report = std::chrono::steady_clock::now();
  std::string failure;
  while (!ctx.stop_requested() && failure.empty()) {
    auto frames = queue.take(std::chrono::milliseconds(100));
    for (auto& f : frames) {
      ++o.stats->frames;
      auto event = parser.parse_ws_frame(f.payload, f.receive_us);
      if (!event) {
        ++o.stats->parse_errors;
        log::warn(kService, "unparsable frame", {{"error", event.error().message()}});
        continue;
      }
      const auto* trade = std::get_if<Trade>(&*event);
      if (!trade) continue;
      if (!sequencer.on_trade(*trade)) {
        failure = sequencer.error();
        break;
      }
    }
    // Every connection after the first replaces a lost or retired one; catch up after the
    // frames that came before it were handled.
    const auto connected = connections.load();
    if (connected > connections_seen) {
      const bool first = connections_seen == 0;
      connections_seen = connected;
      if (!first) {
        o.stats->reconnects = connected - 1;
        if (!sequencer.catch_up()) failure = sequencer.error();
      }
    }
    const auto now = std::chrono::steady_clock::now();
    if (now - last_report >= ctx.settings().telemetry_interval) {
      last_report = now;
      ctx.report_loading("", stats_json(*o.stats));
    }
  }
  (*client)->stop();
  watcher.request_stop();
  if (auto f = ctx.bus().flush(std::chrono::seconds(30)); !f && failure.empty())
    failure = "flush failed: " + f.error().message;
  if (!failure.empty()) return {runtime::Outcome::kError, failure, stats_json(*o.stats)};
  return {runtime::Outcome::kInterrupted, "", stats_json(*o.stats)};
}

// One symbol's local book: the synchronizer and what is due next.
struct DepthBook {
  explicit DepthBook(const Symbol& s) : sync(s) {}
  binance::BookSynchronizer sync;
  std::chrono::steady_clock::time_point next_snapshot_fetch{};
  std::chrono::steady_clock::time_point next_top{};
};

runtime::WorkResult run_depth(runtime::WorkerContext& ctx, const LoaderWsOptions& o) {
  std::stop_source stop;
  std::jthread watcher([&ctx, &stop](std::stop_token own) {
    while (!own.stop_requested() && !ctx.stop_requested())
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (ctx.stop_requested()) stop.request_stop();
  });
  auto rest_options = o.rest;
  rest_options.stop_token = stop.get_token();
  auto rest = binance::BinanceRestClient::create(rest_options);
  if (!rest) return {runtime::Outcome::kError, "REST client: " + rest.error().describe(), "{}"};
  auto& latency = metrics::default_registry().histogram(
      "sf_loader_ws_receive_to_publish_seconds",
      "Time from a WebSocket frame's arrival to its record's publication",
      metrics::default_latency_buckets(), {{"type", o.type}});

  std::map<Symbol, std::unique_ptr<DepthBook>> books;
  for (const auto& s : o.symbols) {
    auto book = std::make_unique<DepthBook>(s);
    book->sync.set_on_resync(
        [&o, s](binance::ResyncReason reason, std::int64_t expected, std::int64_t got) {
          if (reason == binance::ResyncReason::kGap) {
            ++o.stats->gap_resyncs;
          } else {
            ++o.stats->snapshots_too_old;
          }
          log::warn(kService, "book resync",
                    {{"symbol", s.str()},
                     {"reason", binance::to_string(reason)},
                     {"expected_U", expected},
                     {"got_U", got}});
        });
    books.emplace(s, std::move(book));
  }
  auto topic_for = [&o](const Symbol& s) {
    return o.topic.empty() ? "ws-" + s.lower() + "-depth" : o.topic;
  };
  std::string buffer;
  std::string failure;
  auto publish = [&](const Symbol& s, const MarketEvent& e) {
    buffer.clear();
    wire::encode(e, buffer);
    auto r = ctx.bus().publish(topic_for(s), s.view(), buffer);
    if (!r) {
      if (failure.empty()) failure = "publish to " + topic_for(s) + ": " + r.error().message;
      return false;
    }
    ctx.add_records(1);
    return true;
  };
  const binance::SnapshotPublisher top_n(o.top_levels);

  FrameQueue queue;
  std::atomic<std::int64_t> connections{0};
  auto ws = o.ws;
  ws.streams.clear();
  for (const auto& s : o.symbols) ws.streams.push_back(s.lower() + "@depth@100ms");
  ws.combined = true;
  auto client = binance::WsClient::create(
      ws,
      [&queue](std::string_view payload, std::int64_t receive_us, std::uint64_t) {
        queue.push(payload, receive_us);
      },
      [&o, &connections](const binance::WsStatus& st) {
        // A lost connection shows as a gap in U/u, which resyncs the book by itself.
        if (st.kind == binance::WsStatus::Kind::kConnected && connections++ > 0) {
          ++o.stats->reconnects;
        } else if (st.kind == binance::WsStatus::Kind::kDisconnected) {
          log::info(kService, "websocket disconnected", {{"reason", st.reason}});
        }
      });
  if (!client) return {runtime::Outcome::kError, "WebSocket client: " + client.error(), "{}"};
  binance::Parser parser;
  (*client)->start();
  auto last_report = std::chrono::steady_clock::now();
  while (!ctx.stop_requested() && failure.empty()) {
    auto frames = queue.take(std::chrono::milliseconds(50));
    for (auto& f : frames) {
      ++o.stats->frames;
      auto event = parser.parse_ws_frame(f.payload, f.receive_us);
      if (!event) {
        ++o.stats->parse_errors;
        continue;
      }
      const auto* diff = std::get_if<DepthUpdate>(&*event);
      if (!diff) continue;
      auto it = books.find(diff->symbol);
      if (it == books.end()) continue;
      // Duplicates (make-before-break overlap, repeated frames) fall under the synchronizer's
      // stale rule (u <= book id); only diffs applied to a valid book go out.
      if (it->second->sync.on_diff(*diff) != binance::DiffOutcome::kApplied) continue;
      if (!publish(diff->symbol, MarketEvent{*diff})) break;
      ++o.stats->diffs_published;
      latency.observe(static_cast<double>(now_micros() - f.receive_us) / 1e6);
    }
    const auto now = std::chrono::steady_clock::now();
    for (auto& [symbol, book] : books) {
      auto& b = *book;
      // A snapshot only once a diff is buffered: the synchronizer judges it by that diff's U.
      if (b.sync.needs_snapshot() && b.sync.buffered() > 0 && now >= b.next_snapshot_fetch) {
        b.next_snapshot_fetch = now + o.snapshot_retry;
        auto snapshot = (*rest)->depth(symbol, o.depth_limit);
        if (!snapshot) {
          if (!ctx.stop_requested())
            log::warn(kService, "depth snapshot failed", {{"error", snapshot.error().describe()}});
        } else if (b.sync.on_snapshot(*snapshot) == binance::SnapshotOutcome::kSynced) {
          ++o.stats->syncs;
          // Consumers restart from the whole book; the diffs that follow continue it.
          if (publish(symbol, MarketEvent{b.sync.book()->full_snapshot()}))
            ++o.stats->snapshots_published;
        }
      }
      if (o.snapshot_interval.count() > 0 && now >= b.next_top) {
        b.next_top = now + o.snapshot_interval;
        if (auto top = top_n.publish(b.sync); top && publish(symbol, MarketEvent{*top}))
          ++o.stats->snapshots_published;
      }
    }
    if (now - last_report >= ctx.settings().telemetry_interval) {
      last_report = now;
      ctx.report_loading("", stats_json(*o.stats));
    }
  }
  (*client)->stop();
  watcher.request_stop();
  if (auto f = ctx.bus().flush(std::chrono::seconds(30)); !f && failure.empty())
    failure = "flush failed: " + f.error().message;
  if (!failure.empty()) return {runtime::Outcome::kError, failure, stats_json(*o.stats)};
  return {runtime::Outcome::kInterrupted, "", stats_json(*o.stats)};
}

}  // namespace

Result<std::vector<Symbol>, std::string> parse_symbol_list(const std::string& text) {
  std::vector<Symbol> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    std::string_view part(text.data() + start, comma - start);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    if (!part.empty()) {
      auto s = Symbol::parse(part);
      if (!s) return unexpected("SYMBOL: '" + std::string(part) + "' is not a symbol");
      if (std::find(out.begin(), out.end(), *s) == out.end()) out.push_back(*s);
    }
    start = comma + 1;
  }
  if (out.empty()) return unexpected(std::string("SYMBOL: no symbol given"));
  return out;
}

std::function<runtime::WorkResult(runtime::WorkerContext&)> loader_ws_body(
    LoaderWsOptions options) {
  return [o = std::move(options)](runtime::WorkerContext& ctx) -> runtime::WorkResult {
    if (o.type == "ws_trades") return run_trades(ctx, o);
    if (o.type == "ws_depth") return run_depth(ctx, o);
    return {runtime::Outcome::kError, "TYPE '" + o.type + "' is not ws_trades or ws_depth", "{}"};
  };
}

int loader_ws_main(int argc, char** argv) {
  runtime::ConfigParser parser(
      "streamforge loader-ws",
      "Live Binance WebSocket data onto the bus, deduplicated and gap-repaired.");
  runtime::add_worker_options(parser);
  binance::add_rest_client_options(parser);
  parser.add({.name = "BINANCE_WS_URL",
              .default_value = "wss://data-stream.binance.vision",
              .help = "WebSocket base URL (ws:// or wss://)"});
  parser.add({.name = "DEPTH_LIMIT",
              .type = runtime::OptionType::kInt,
              .default_value = "1000",
              .help = "ws_depth: REST snapshot levels (1..5000)"});
  parser.add({.name = "TOP_LEVELS",
              .type = runtime::OptionType::kInt,
              .default_value = "20",
              .help = "ws_depth: levels per side of the periodic top-N snapshot"});
  parser.add({.name = "SNAPSHOT_INTERVAL_MS",
              .type = runtime::OptionType::kInt,
              .default_value = "1000",
              .help = "ws_depth: ms between top-N snapshots (0: none)"});
  parser.add(
      {.name = "GAP_REPAIR",
       .default_value = "true",
       .help = "fetch missing trade ids from REST historicalTrades (false: gap records only)"});
  int code = 0;
  auto config = runtime::parse_or_exit(parser, argc, argv, &code);
  if (!config) return code;
  if (auto r = runtime::configure_logging(*config); !r) {
    std::cerr << r.error() << '\n';
    return 2;
  }
  LoaderWsOptions options;
  options.type = config->get_string("TYPE");
  if (options.type != "ws_trades" && options.type != "ws_depth") {
    std::cerr << "loader-ws: TYPE '" << options.type << "' is not ws_trades or ws_depth\n";
    return 2;
  }
  auto symbols = parse_symbol_list(config->get_string("SYMBOL"));
  if (!symbols) {
    std::cerr << "loader-ws: " << symbols.error() << '\n';
    return 2;
  }
  options.symbols = *symbols;
  options.topic = config->get_string("KAFKA_TOPIC");
  options.rest = binance::rest_client_options(*config);
  options.ws.base_url = config->get_string("BINANCE_WS_URL");
  options.rest_repair = config->get_string("GAP_REPAIR") != "false";
  options.depth_limit = static_cast<int>(config->get_int("DEPTH_LIMIT"));
  options.top_levels =
      static_cast<std::size_t>(std::max<std::int64_t>(1, config->get_int("TOP_LEVELS")));
  options.snapshot_interval = std::chrono::milliseconds(config->get_int("SNAPSHOT_INTERVAL_MS"));

  std::atomic<runtime::Worker*> active{nullptr};
  runtime::install_stop_signals([&](int sig) {
    if (auto* w = active.load()) w->request_stop("signal " + std::to_string(sig));
  });
  auto bus = runtime::open_bus(*config, "producer");
  if (!bus) {
    log::error(kService, "cannot open bus", {{"error", bus.error()}});
    return 2;
  }
  auto health = runtime::start_health_server(*config, kService);
  if (!health) {
    log::error(kService, "cannot start health server", {{"error", health.error()}});
    return 2;
  }
  auto settings = runtime::worker_settings_from(*config, kService);
  runtime::Worker worker(**bus, settings);
  active = &worker;
  if (*health) (*health)->set_ready(true);
  int rc = worker.run(loader_ws_body(options));
  active = nullptr;
  return rc;
}

}  // namespace sf::services
