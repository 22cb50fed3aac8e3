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
#include "exchange/binance/book/book_ticker_check.h"
#include "exchange/binance/book/snapshot_publisher.h"
#include "exchange/binance/book/synchronizer.h"
#include "exchange/binance/parse.h"
#include "runtime/json_writer.h"
#include "runtime/log.h"
#include "runtime/metrics.h"
#include "runtime/service.h"
#include "runtime/signals.h"
#include "services/queue_manager/registry.h"

namespace sf::services {
namespace {

constexpr const char* kService = "loader-ws";
constexpr const char* kTypes =
    "ws_trades, ws_agg_trades, ws_candles_<interval>, ws_depth or ws_book_ticker";

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
      .field("book_ticker_checks", s.book_ticker_checks.load())
      .field("book_ticker_mismatches", s.book_ticker_mismatches.load())
      .end_object();
  return out;
}

// The default topic of a symbol and type: ws-<symbol_lower>-<what>.
std::map<Symbol, std::string> topics_for(const LoaderWsOptions& o, std::string_view what) {
  std::map<Symbol, std::string> out;
  for (const auto& s : o.symbols) {
    out.emplace(s, o.topic.empty() ? "ws-" + s.lower() + "-" + std::string(what) : o.topic);
  }
  return out;
}

// Stops a REST wait (Retry-After, backoff) when the worker is asked to stop.
class StopWatcher {
 public:
  explicit StopWatcher(runtime::WorkerContext& ctx)
      : thread_([&ctx, this](std::stop_token own) {
          while (!own.stop_requested() && !ctx.stop_requested())
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
          if (ctx.stop_requested()) source_.request_stop();
        }) {}
  std::stop_token token() const { return source_.get_token(); }

 private:
  std::stop_source source_;
  std::jthread thread_;  // last: joined before source_ goes
};

// What the id-sequenced streams differ in: @trade (trade ids, REST historicalTrades) and
// @aggTrade (aggregate trade ids, REST aggTrades?fromId=).
struct TradeKind {
  using Event = Trade;
  static constexpr std::string_view kStream = "@trade";
  static constexpr std::string_view kTopic = "trades";
  static constexpr std::string_view kRest = "historicalTrades";
  static std::int64_t id(const Trade& t) { return t.trade_id; }
  static binance::RestResult<std::vector<Trade>> fetch(binance::BinanceRestClient& rest,
                                                       const Symbol& s, std::int64_t from,
                                                       int limit) {
    return rest.historical_trades(s, from, limit);
  }
  static Trade with_receive_time(const Trade& t, TimestampUs received) {
    return Trade{t.symbol,     t.trade_id, t.price,          t.quantity,     t.trade_time,
                 t.event_time, received,   t.is_buyer_maker, t.is_best_match};
  }
};

struct AggTradeKind {
  using Event = AggTrade;
  static constexpr std::string_view kStream = "@aggTrade";
  static constexpr std::string_view kTopic = "agg-trades";
  static constexpr std::string_view kRest = "aggTrades";
  static std::int64_t id(const AggTrade& t) { return t.agg_trade_id; }
  static binance::RestResult<std::vector<AggTrade>> fetch(binance::BinanceRestClient& rest,
                                                          const Symbol& s, std::int64_t from,
                                                          int limit) {
    return rest.agg_trades(s, from, std::nullopt, std::nullopt, limit);
  }
  static AggTrade with_receive_time(const AggTrade& t, TimestampUs received) {
    return AggTrade{t.symbol,         t.agg_trade_id,   t.price,        t.quantity,
                    t.first_trade_id, t.last_trade_id,  t.trade_time,   t.event_time,
                    received,         t.is_buyer_maker, t.is_best_match};
  }
};

// Publishes one stream's records per symbol; the part every handler shares.
class Publisher {
 public:
  Publisher(runtime::WorkerContext& ctx, const LoaderWsOptions& o, std::string_view what,
            metrics::Histogram& latency)
      : ctx_(ctx), o_(o), what_(what), topics_(topics_for(o, what)), latency_(latency) {}

  const std::string& topic_for(const Symbol& s) {
    auto it = topics_.find(s);
    if (it == topics_.end()) {
      it = topics_.emplace(s, o_.topic.empty() ? "ws-" + s.lower() + "-" + what_ : o_.topic).first;
    }
    return it->second;
  }

  // One record; false: publishing failed (error()).
  template <class E>
  bool publish(const E& e, TimestampUs receive_time) {
    buffer_.clear();
    wire::encode(e, buffer_);
    return publish_raw(e.symbol, receive_time);
  }

  bool publish_raw(const Symbol& symbol, TimestampUs receive_time) {
    const auto& topic = topic_for(symbol);
    auto r = ctx_.bus().publish(topic, symbol.view(), buffer_);
    if (!r) return fail("publish to " + topic + ": " + r.error().message);
    ++o_.stats->records;
    ctx_.add_records(1);
    if (receive_time > 0) latency_.observe(static_cast<double>(now_micros() - receive_time) / 1e6);
    return true;
  }

  std::string& buffer() { return buffer_; }
  bool fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
    return false;
  }
  const std::string& error() const { return error_; }

 private:
  runtime::WorkerContext& ctx_;
  const LoaderWsOptions& o_;
  std::string what_;
  std::map<Symbol, std::string> topics_;
  metrics::Histogram& latency_;
  std::string buffer_;
  std::string error_;
};

// Publishes one symbol's trades (or aggregate trades) in id order, at most once each,
// repairing gaps from REST.
template <class Kind>
class Sequencer {
 public:
  using Event = typename Kind::Event;

  Sequencer(runtime::WorkerContext& ctx, const LoaderWsOptions& o, binance::BinanceRestClient* rest,
            metrics::Histogram& latency)
      : ctx_(ctx), o_(o), rest_(rest), out_(ctx, o, Kind::kTopic, latency) {}

  // false: publishing failed (error()).
  bool on_event(const MarketEvent& event) {
    const auto* t = std::get_if<Event>(&event);
    if (!t) return true;
    auto& last = last_[t->symbol];
    const auto id = Kind::id(*t);
    if (last && id <= *last) {
      ++o_.stats->duplicates_dropped;
      return true;
    }
    if (last && id > *last + 1 && !repair(t->symbol, *last + 1, id - 1)) return false;
    return publish(*t);
  }

  // After a reconnect: records lost at the end of the old connection show no gap until the next
  // frame arrives, which may be long (or never, at the end of a feed), so they are fetched now:
  // pages from last + 1 until REST has nothing newer (at most max_repair_trades). Frames that
  // arrive meanwhile for these ids are then dropped as duplicates.
  bool on_new_connection() {
    if (!rest_ || !o_.rest_repair) return true;
    for (auto& [symbol, last] : last_) {
      std::int64_t fetched = 0;
      while (last && fetched < o_.max_repair_trades && !ctx_.stop_requested()) {
        auto page = Kind::fetch(*rest_, symbol, *last + 1, o_.repair_page_limit);
        if (!page) {
          log::warn(kService, "catch-up after reconnect failed",
                    {{"symbol", symbol.str()}, {"error", page.error().describe()}});
          break;
        }
        const auto received = now_micros();
        std::int64_t taken = 0;
        for (const auto& t : *page) {
          // Only a contiguous run: ids REST skips are left to the gap check of the next frame.
          if (Kind::id(t) != *last + 1) break;
          if (!publish(Kind::with_receive_time(t, received))) return false;
          ++o_.stats->trades_repaired;
          ++taken;
        }
        fetched += taken;
        if (taken < o_.repair_page_limit) break;  // caught up with REST
      }
      if (fetched > 0)
        log::info(kService, "caught up from REST after reconnect",
                  {{"symbol", symbol.str()}, {"records", fetched}});
    }
    return true;
  }

  const std::string& error() const { return out_.error(); }

 private:
  // Publishes ids [from, to] from REST in order; what REST cannot supply becomes a gap record.
  bool repair(const Symbol& symbol, std::int64_t from, std::int64_t to) {
    const std::int64_t first = from;
    if (!rest_ || !o_.rest_repair) return publish_gap(symbol, from, to, "gap repair disabled");
    if (to - from + 1 > o_.max_repair_trades)
      return publish_gap(symbol, from, to, "gap wider than max_repair_trades");
    while (from <= to) {
      if (ctx_.stop_requested()) return publish_gap(symbol, from, to, "stopped during repair");
      const auto want = std::min<std::int64_t>(o_.repair_page_limit, to - from + 1);
      auto page = Kind::fetch(*rest_, symbol, from, static_cast<int>(want));
      if (!page) {
        return publish_gap(symbol, from, to,
                           std::string(Kind::kRest) + ": " + page.error().describe());
      }
      const auto received = now_micros();
      bool progressed = false;
      for (const auto& t : *page) {
        const auto id = Kind::id(t);
        if (id < from) continue;
        if (id > to) break;
        if (id > from) {  // REST has a hole of its own
          if (!publish_gap(symbol, from, id - 1, std::string(Kind::kRest) + " skipped these ids"))
            return false;
        }
        if (!publish(Kind::with_receive_time(t, received))) return false;
        ++o_.stats->trades_repaired;
        from = id + 1;
        progressed = true;
      }
      if (!progressed) {
        return publish_gap(symbol, from, to, std::string(Kind::kRest) + " returned no records");
      }
    }
    ++o_.stats->gaps_repaired;
    log::info(kService, "gap repaired from REST",
              {{"symbol", symbol.str()}, {"first", first}, {"last", to}});
    return true;
  }

  bool publish_gap(const Symbol& symbol, std::int64_t first, std::int64_t last,
                   const std::string& reason) {
    auto& buffer = out_.buffer();
    buffer.clear();
    runtime::JsonWriter w(buffer);
    w.begin_object()
        .field("v", wire::kSchemaVersion)
        .field("type", "gap")
        .field("symbol", symbol.view())
        .field("first_missing_id", first)
        .field("last_missing_id", last)
        .field("reason", reason)
        .end_object();
    const auto& topic = out_.topic_for(symbol);
    auto r = ctx_.bus().publish(topic, symbol.view(), buffer);
    if (!r) return out_.fail("publish gap to " + topic + ": " + r.error().message);
    ++o_.stats->gaps_published;
    last_[symbol] = last;  // the record stands for these ids: they are accounted for
    log::warn(kService, "gap published",
              {{"symbol", symbol.str()}, {"first", first}, {"last", last}, {"reason", reason}});
    return true;
  }

  bool publish(const Event& t) {
    if (!out_.publish(t, t.receive_time)) return false;
    last_[t.symbol] = Kind::id(t);
    return true;
  }

  runtime::WorkerContext& ctx_;
  const LoaderWsOptions& o_;
  binance::BinanceRestClient* rest_;
  Publisher out_;
  std::map<Symbol, std::optional<std::int64_t>> last_;
};

// ws_candles_<interval>: every kline update, open (is_closed false) and closed, in order per
// symbol; a repeated or older update (same open time, no newer event time; an older open time)
// is dropped.
class CandleStream {
 public:
  CandleStream(runtime::WorkerContext& ctx, const LoaderWsOptions& o, Interval interval,
               metrics::Histogram& latency)
      : o_(o),
        interval_(interval),
        out_(ctx, o, "candles-" + std::string(interval_name(interval)), latency) {}

  bool on_event(const MarketEvent& event) {
    const auto* c = std::get_if<Candle>(&event);
    if (!c || c->interval != interval_) return true;
    auto it = last_.find(c->symbol);
    if (it != last_.end()) {
      const Last& l = it->second;
      const bool stale = c->open_time < l.open_time ||
                         (c->open_time == l.open_time &&
                          (l.is_closed || c->event_time < l.event_time ||
                           (c->event_time == l.event_time && c->is_closed == l.is_closed)));
      if (stale) {
        ++o_.stats->duplicates_dropped;
        return true;
      }
    }
    if (!out_.publish(*c, c->receive_time)) return false;
    last_.insert_or_assign(c->symbol, Last{c->open_time, c->event_time, c->is_closed});
    return true;
  }
  bool on_new_connection() { return true; }
  const std::string& error() const { return out_.error(); }

 private:
  struct Last {
    TimestampUs open_time;
    TimestampUs event_time;
    bool is_closed;
  };
  const LoaderWsOptions& o_;
  Interval interval_;
  Publisher out_;
  std::map<Symbol, Last> last_;
};

// ws_book_ticker: best bid/ask per symbol in update-id order; repeated or older ids (duplicates,
// the overlap of a switchover) are dropped. Tickers are state, not a ledger: what passed while
// disconnected is not fetched again (the next ticker supersedes it).
class BookTickerStream {
 public:
  BookTickerStream(runtime::WorkerContext& ctx, const LoaderWsOptions& o,
                   metrics::Histogram& latency)
      : o_(o), out_(ctx, o, "book-ticker", latency) {}

  bool on_event(const MarketEvent& event) {
    const auto* t = std::get_if<BookTicker>(&event);
    if (!t) return true;
    auto [it, fresh] = last_.try_emplace(t->symbol, t->update_id);
    if (!fresh) {
      if (t->update_id <= it->second) {
        ++o_.stats->duplicates_dropped;
        return true;
      }
      it->second = t->update_id;
    }
    return out_.publish(*t, t->receive_time);
  }
  bool on_new_connection() { return true; }
  const std::string& error() const { return out_.error(); }

 private:
  const LoaderWsOptions& o_;
  Publisher out_;
  std::map<Symbol, std::int64_t> last_;
};

metrics::Histogram& latency_histogram(const std::string& type) {
  return metrics::default_registry().histogram(
      "sf_loader_ws_receive_to_publish_seconds",
      "Time from a WebSocket frame's arrival to its record's publication",
      metrics::default_latency_buckets(), {{"type", type}});
}

void copy_client_stats(const binance::WsClient& client, LoaderWsStats& stats) {
  const auto c = client.stats();
  stats.ws_attempts = static_cast<std::int64_t>(c.attempts);
  stats.ws_switchovers = static_cast<std::int64_t>(c.switchovers);
  stats.ws_limiter_waits = static_cast<std::int64_t>(c.limiter_waits);
}

// The WS feed of `streams` through `handler` (on_event, on_new_connection, error) until a stop.
template <class Handler>
runtime::WorkResult run_stream(runtime::WorkerContext& ctx, const LoaderWsOptions& o,
                               std::string_view stream_suffix, Handler& handler) {
  FrameQueue queue;
  std::atomic<std::int64_t> connections{0};
  auto ws = o.ws;
  ws.streams.clear();
  for (const auto& s : o.symbols) ws.streams.push_back(s.lower() + std::string(stream_suffix));
  ws.combined = true;  // the symbol of every frame is in its stream name
  auto client = binance::WsClient::create(
      ws,
      [&queue](std::string_view payload, std::int64_t receive_us, std::uint64_t) {
        queue.push(payload, receive_us);
      },
      [&o, &connections](const binance::WsStatus& st) {
        if (st.kind == binance::WsStatus::Kind::kConnected) {
          ++connections;
        } else if (st.kind == binance::WsStatus::Kind::kDisconnected) {
          log::info(kService, "websocket disconnected", {{"reason", st.reason}});
        }
        if (o.on_ws_status) o.on_ws_status(st);
      });
  if (!client) return {runtime::Outcome::kError, "WebSocket client: " + client.error(), "{}"};

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
      if (!handler.on_event(*event)) {
        failure = handler.error();
        break;
      }
    }
    // Every connection after the first replaces a lost or retired one; catch up after the
    // frames that came before it were handled.
    const auto connected = connections.load();
    if (failure.empty() && connected > connections_seen) {
      const bool first = connections_seen == 0;
      connections_seen = connected;
      if (!first) {
        o.stats->reconnects = connected - 1;
        if (!handler.on_new_connection()) failure = handler.error();
      }
    }
    copy_client_stats(**client, *o.stats);
    const auto now = std::chrono::steady_clock::now();
    if (now - last_report >= ctx.settings().telemetry_interval) {
      last_report = now;
      ctx.report_loading("", stats_json(*o.stats));
    }
  }
  (*client)->stop();
  copy_client_stats(**client, *o.stats);
  if (auto f = ctx.bus().flush(std::chrono::seconds(30)); !f && failure.empty())
    failure = "flush failed: " + f.error().message;
  if (!failure.empty()) return {runtime::Outcome::kError, failure, stats_json(*o.stats)};
  return {runtime::Outcome::kInterrupted, "", stats_json(*o.stats)};
}

template <class Kind>
runtime::WorkResult run_sequenced(runtime::WorkerContext& ctx, const LoaderWsOptions& o) {
  StopWatcher stop(ctx);
  std::unique_ptr<binance::BinanceRestClient> rest;
  if (o.rest_repair && !o.rest.base_url.empty()) {
    auto options = o.rest;
    options.stop_token = stop.token();
    // µs keeps the sub-millisecond part of trade times (spot data since 2025).
    options.microsecond_timestamps = true;
    auto created = binance::BinanceRestClient::create(options);
    if (!created)
      return {runtime::Outcome::kError, "REST client: " + created.error().describe(), "{}"};
    rest = std::move(created).value();
  }
  Sequencer<Kind> sequencer(ctx, o, rest.get(), latency_histogram(o.type));
  return run_stream(ctx, o, Kind::kStream, sequencer);
}

// One symbol's local book: the synchronizer and what is due next.
struct DepthBook {
  DepthBook(const Symbol& s, const LoaderWsOptions& o)
      : sync(s),
        checks(metrics::default_registry().counter(
            "sf_loader_ws_book_ticker_checks_total",
            "bookTicker frames compared with the local book at the same update id",
            {{"symbol", s.str()}})),
        mismatches(metrics::default_registry().counter(
            "sf_loader_ws_book_ticker_mismatches_total",
            "bookTicker frames whose best bid/ask differed from the local book at the same id",
            {{"symbol", s.str()}})),
        stats(*o.stats) {}

  // Exports what the check counted since the last call (metrics, stats, a log per mismatch).
  void export_check_counts() {
    const auto& c = check.counters();
    if (c.mismatches > exported_mismatches) {
      log::error(kService, "bookTicker disagrees with the local book",
                 {{"symbol", sync.symbol().str()}, {"detail", check.last_mismatch()}});
    }
    const auto n = c.matches + c.mismatches;
    checks.inc(n - exported_checks);
    mismatches.inc(c.mismatches - exported_mismatches);
    stats.book_ticker_checks += static_cast<std::int64_t>(n - exported_checks);
    stats.book_ticker_mismatches += static_cast<std::int64_t>(c.mismatches - exported_mismatches);
    exported_checks = n;
    exported_mismatches = c.mismatches;
  }

  binance::BookSynchronizer sync;
  binance::BookTickerCheck check;
  metrics::Counter& checks;
  metrics::Counter& mismatches;
  LoaderWsStats& stats;
  std::uint64_t exported_checks = 0;
  std::uint64_t exported_mismatches = 0;
  std::chrono::steady_clock::time_point next_snapshot_fetch{};
  std::chrono::steady_clock::time_point next_top{};
};

runtime::WorkResult run_depth(runtime::WorkerContext& ctx, const LoaderWsOptions& o) {
  StopWatcher stop(ctx);
  auto rest_options = o.rest;
  rest_options.stop_token = stop.token();
  auto rest = binance::BinanceRestClient::create(rest_options);
  if (!rest) return {runtime::Outcome::kError, "REST client: " + rest.error().describe(), "{}"};
  auto& latency = latency_histogram(o.type);

  std::map<Symbol, std::unique_ptr<DepthBook>> books;
  for (const auto& s : o.symbols) {
    auto book = std::make_unique<DepthBook>(s, o);
    if (o.book_ticker_check) {
      // Every state the book passes through (the snapshot, each applied diff) settles the
      // tickers held for its id.
      book->sync.set_on_book_updated(
          [b = book.get()](const binance::OrderBook& ob) { b->check.on_book_updated(ob); });
    }
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
  const auto topics = topics_for(o, "depth");
  auto topic_for = [&topics](const Symbol& s) -> const std::string& { return topics.at(s); };
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
  for (const auto& s : o.symbols) {
    ws.streams.push_back(s.lower() + "@depth@100ms");
    if (o.book_ticker_check) ws.streams.push_back(s.lower() + "@bookTicker");
  }
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
        if (o.on_ws_status) o.on_ws_status(st);
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
      if (const auto* ticker = std::get_if<BookTicker>(&*event)) {
        auto it = books.find(ticker->symbol);
        if (it == books.end() || !o.book_ticker_check) continue;
        DepthBook& b = *it->second;
        (void)b.check.on_ticker(b.sync.book(), *ticker);
        b.export_check_counts();
        continue;
      }
      const auto* diff = std::get_if<DepthUpdate>(&*event);
      if (!diff) continue;
      auto it = books.find(diff->symbol);
      if (it == books.end()) continue;
      // Duplicates (make-before-break overlap, repeated frames) fall under the synchronizer's
      // stale rule (u <= book id); only diffs applied to a valid book go out.
      const auto outcome = it->second->sync.on_diff(*diff);
      if (o.book_ticker_check) it->second->export_check_counts();
      if (outcome != binance::DiffOutcome::kApplied) continue;
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
          if (o.book_ticker_check) b.export_check_counts();
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
    copy_client_stats(**client, *o.stats);
    if (now - last_report >= ctx.settings().telemetry_interval) {
      last_report = now;
      ctx.report_loading("", stats_json(*o.stats));
    }
  }
  (*client)->stop();
  copy_client_stats(**client, *o.stats);
  if (auto f = ctx.bus().flush(std::chrono::seconds(30)); !f && failure.empty())
    failure = "flush failed: " + f.error().message;
  if (!failure.empty()) return {runtime::Outcome::kError, failure, stats_json(*o.stats)};
  return {runtime::Outcome::kInterrupted, "", stats_json(*o.stats)};
}

}  // namespace

std::optional<Interval> candle_interval(std::string_view type) {
  constexpr std::string_view kPrefix = "ws_candles_";
  if (!type.starts_with(kPrefix)) return std::nullopt;
  return parse_interval(type.substr(kPrefix.size()));
}

bool is_loader_ws_type(std::string_view type) {
  return type == "ws_trades" || type == "ws_agg_trades" || type == "ws_depth" ||
         type == "ws_book_ticker" || candle_interval(type).has_value();
}

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
    if (o.type == "ws_trades") return run_sequenced<TradeKind>(ctx, o);
    if (o.type == "ws_agg_trades") return run_sequenced<AggTradeKind>(ctx, o);
    if (o.type == "ws_depth") return run_depth(ctx, o);
    if (o.type == "ws_book_ticker") {
      BookTickerStream stream(ctx, o, latency_histogram(o.type));
      return run_stream(ctx, o, "@bookTicker", stream);
    }
    if (auto interval = candle_interval(o.type)) {
      CandleStream stream(ctx, o, *interval, latency_histogram(o.type));
      return run_stream(ctx, o, "@kline_" + std::string(interval_name(*interval)), stream);
    }
    return {runtime::Outcome::kError, "TYPE '" + o.type + "' is not " + kTypes, "{}"};
  };
}

void add_loader_ws_options(runtime::ConfigParser& parser) {
  binance::add_rest_client_options(parser);
  parser.add({.name = "BINANCE_WS_URL",
              .default_value = "wss://data-stream.binance.vision",
              .help = "WebSocket base URL (ws:// or wss://)",
              .scope = runtime::OptionScope::kPlatform});
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
  parser.add({.name = "BOOK_TICKER_CHECK",
              .default_value = "true",
              .help = "ws_depth: also subscribe <sym>@bookTicker and compare best bid/ask with "
                      "the book whenever their update ids match (false: off)"});
  parser.add(
      {.name = "GAP_REPAIR",
       .default_value = "true",
       .help =
           "fetch missing ids from REST historicalTrades / aggTrades (false: gap records only)"});
}

Result<LoaderWsOptions, std::string> loader_ws_options_from(const runtime::Config& config) {
  LoaderWsOptions options;
  options.type = config.get_string("TYPE");
  if (!is_loader_ws_type(options.type)) {
    return unexpected("TYPE '" + options.type + "' is not " + std::string(kTypes));
  }
  auto symbols = parse_symbol_list(config.get_string("SYMBOL"));
  if (!symbols) {
    return unexpected(symbols.error());
  }
  options.symbols = *symbols;
  options.topic = config.get_string("KAFKA_TOPIC");
  options.rest = binance::rest_client_options(config);
  options.ws.base_url = config.get_string("BINANCE_WS_URL");
  options.rest_repair = config.get_string("GAP_REPAIR") != "false";
  options.book_ticker_check = config.get_string("BOOK_TICKER_CHECK") != "false";
  options.depth_limit = static_cast<int>(config.get_int("DEPTH_LIMIT"));
  options.top_levels =
      static_cast<std::size_t>(std::max<std::int64_t>(1, config.get_int("TOP_LEVELS")));
  options.snapshot_interval = std::chrono::milliseconds(config.get_int("SNAPSHOT_INTERVAL_MS"));

  return options;
}

int loader_ws_main(int argc, char** argv) {
  return qm::run_hosted_service("loader-ws", argc, argv);
}

}  // namespace sf::services
