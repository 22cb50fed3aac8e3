#include "services/visualizer/market_hub.h"

// GCC 12 reports a false -Wrestrict on std::string concatenation at -O3 (GCC bug 105329).
#pragma GCC diagnostic ignored "-Wrestrict"

#include <algorithm>
#include <atomic>
#include <deque>
#include <optional>
#include <set>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "bus/topic_name.h"
#include "core/interval.h"
#include "core/wire.h"
#include "core/wire_decode.h"
#include "exchange/binance/book/order_book.h"
#include "runtime/json_writer.h"
#include "runtime/log.h"
#include "runtime/metrics.h"
#include "runtime/worker.h"
#include "services/visualizer/viewer_consumer.h"

namespace sf::services::visualizer {
namespace {

constexpr std::size_t kPollBatch = 1000;
constexpr const char* kLogger = "visualizer";

metrics::Counter& records_total() {
  static auto& c = metrics::default_registry().counter(
      "sf_visualizer_market_records_total", "Records the dashboard's market hub applied");
  return c;
}
metrics::Counter& rejected_total() {
  static auto& c = metrics::default_registry().counter(
      "sf_visualizer_market_rejected_total",
      "Records the dashboard's market hub could not decode (skipped)");
  return c;
}

enum class BookState : std::uint8_t { kWaiting, kInSync, kResyncing };

const char* book_state_name(BookState s) {
  switch (s) {
    case BookState::kInSync:
      return "in_sync";
    case BookState::kResyncing:
      return "resyncing";
    case BookState::kWaiting:
      break;
  }
  return "waiting";
}

struct SymbolState {
  explicit SymbolState(const Symbol& symbol) : book(symbol) {}

  std::deque<std::string> trades;  // trade / agg_trade / gap records, oldest first
  std::int64_t last_trade_id = -1;
  std::int64_t last_agg_id = -1;
  struct CandleEntry {
    std::string json;
    TimestampUs event_time = 0;
    bool closed = false;
  };
  std::map<Interval, std::map<TimestampUs, CandleEntry>> candles;
  std::map<Interval, std::map<std::string, std::map<TimestampUs, std::string>>> indicators;
  binance::OrderBook book;
  BookState book_state = BookState::kWaiting;
  bool has_depth = false;              // depth records seen on this topic
  bool book_full = false;              // anchored by a whole snapshot
  std::optional<Decimal> bid_floor;    // partial anchor: deepest bid known
  std::optional<Decimal> ask_ceiling;  // partial anchor: deepest ask known
  std::string book_ticker;
  std::int64_t book_ticker_id = -1;
};

void append_levels(runtime::JsonWriter& j, const std::vector<PriceLevel>& levels) {
  char buf[Decimal::kMaxTextLength];  // per book update and level: no allocation
  j.begin_array();
  for (const auto& l : levels) {
    j.begin_array();
    j.value(std::string_view(buf, l.price.format_to(buf)));
    j.value(std::string_view(buf, l.quantity.format_to(buf)));
    j.end_array();
  }
  j.end_array();
}

std::string book_json(const SymbolState& s, std::size_t levels) {
  std::string out;
  runtime::JsonWriter j(out);
  j.begin_object()
      .field("type", "book")
      .field("symbol", s.book.symbol().view())
      .field("state", book_state_name(s.book_state))
      .field("known", s.book_full ? "full" : "top")
      .field("last_update_id", s.book.last_update_id())
      .field("event_time", static_cast<std::int64_t>(s.book.last_event_time()))
      .field("levels", static_cast<std::int64_t>(levels));
  std::vector<PriceLevel> bids, asks;
  if (s.book_state != BookState::kWaiting) {
    bids = s.book.bids().top(levels);
    asks = s.book.asks().top(levels);
    // Below a partial anchor's deepest level the book does not know what rests: show none of it.
    if (!s.book_full && s.bid_floor)
      std::erase_if(bids, [&](const PriceLevel& l) { return l.price < *s.bid_floor; });
    if (!s.book_full && s.ask_ceiling)
      std::erase_if(asks, [&](const PriceLevel& l) { return *s.ask_ceiling < l.price; });
  }
  j.key("bids");
  append_levels(j, bids);
  j.key("asks");
  append_levels(j, asks);
  j.end_object();
  return out;
}

std::string gap_json(const wire::GapRecord& g) {
  std::string out;
  runtime::JsonWriter j(out);
  j.begin_object()
      .field("v", static_cast<std::int64_t>(wire::kSchemaVersion))
      .field("type", "gap")
      .field("symbol", g.symbol.view())
      .field("first_missing_id", g.first_missing_id)
      .field("last_missing_id", g.last_missing_id)
      .field("reason", g.reason)
      .end_object();
  return out;
}

}  // namespace

struct MarketHub::TopicWatch {
  struct Subscriber {
    std::shared_ptr<ClientQueue> queue;
    std::size_t depth_levels = 20;
  };

  std::string topic;
  const MarketHubOptions* options = nullptr;
  std::unique_ptr<bus::Consumer> consumer;
  std::mutex mu;  // guards symbols and subscribers
  std::map<std::string, SymbolState, std::less<>> symbols;
  std::map<std::string, std::map<ClientId, Subscriber>, std::less<>> subscribers;  // by symbol
  std::atomic<bool> stop{false};
  std::thread thread;

  SymbolState& state(const Symbol& symbol) {
    auto it = symbols.find(symbol.view());
    if (it == symbols.end()) it = symbols.emplace(symbol.str(), SymbolState(symbol)).first;
    return it->second;
  }

  const std::map<ClientId, Subscriber>* subscribers_of(const Symbol& symbol) const {
    auto it = subscribers.find(symbol.view());
    return it == subscribers.end() || it->second.empty() ? nullptr : &it->second;
  }

  void run() {
    wire::Decoder decoder;
    std::string scratch;
    run_viewer_consumer(*consumer, stop, kPollBatch, [&](const std::vector<bus::Message>& batch) {
      std::lock_guard lock(mu);
      for (const auto& m : batch) {
        auto decoded = decoder.decode(m.value);
        if (!decoded) {
          rejected_total().inc();
          continue;
        }
        apply(*decoded, scratch);
        records_total().inc();
      }
    });
  }

  // Under mu.
  void apply(const wire::Decoded& d, std::string& scratch) {
    if (d.gap) {
      auto& s = state(d.gap->symbol);
      push_trade(s, d.gap->symbol, gap_json(*d.gap));
      return;
    }
    if (d.indicator) {
      const auto& v = *d.indicator;
      auto& s = state(v.symbol);
      scratch.clear();
      wire::encode(v, scratch);
      auto& series = s.indicators[v.interval][v.name];
      series[v.open_time] = scratch;
      while (series.size() > options->candles_kept) series.erase(series.begin());
      if (auto* subs = subscribers_of(v.symbol)) {
        const std::string key = "indicator:" + v.symbol.str() + ":" +
                                std::string(interval_name(v.interval)) + ":" + v.name + ":" +
                                std::to_string(v.open_time);
        for (const auto& [id, sub] : *subs) sub.queue->put_latest(key, scratch);
      }
      return;
    }
    if (!d.event) return;
    std::visit([&](const auto& e) { on_event(e, scratch); }, *d.event);
  }

  void push_trade(SymbolState& s, const Symbol& symbol, std::string json) {
    if (auto* subs = subscribers_of(symbol))
      for (const auto& [id, sub] : *subs) sub.queue->put_stream(json);
    s.trades.push_back(std::move(json));
    while (s.trades.size() > options->trades_kept) s.trades.pop_front();
  }

  // Trades and aggregate trades: each id once, in increasing order (a restarted loader publishes
  // some again).
  template <class T>
  void push_trade_once(const T& t, std::int64_t id, std::int64_t SymbolState::*last,
                       std::string& scratch) {
    auto& s = state(t.symbol);
    if (id <= s.*last) return;
    s.*last = id;
    scratch.clear();
    wire::encode(t, scratch);
    push_trade(s, t.symbol, scratch);
  }
  void on_event(const Trade& t, std::string& scratch) {
    push_trade_once(t, t.trade_id, &SymbolState::last_trade_id, scratch);
  }
  void on_event(const AggTrade& t, std::string& scratch) {
    push_trade_once(t, t.agg_trade_id, &SymbolState::last_agg_id, scratch);
  }

  void on_event(const Candle& c, std::string& scratch) {
    auto& s = state(c.symbol);
    auto& series = s.candles[c.interval];
    auto it = series.find(c.open_time);
    if (it != series.end()) {
      // Updates of one candle in order; the closed one is final.
      if (it->second.closed || c.event_time < it->second.event_time) return;
    } else if (!series.empty() && c.open_time < series.begin()->first &&
               series.size() >= options->candles_kept) {
      return;  // older than everything kept
    }
    scratch.clear();
    wire::encode(c, scratch);
    if (it == series.end()) it = series.emplace(c.open_time, SymbolState::CandleEntry{}).first;
    it->second = {scratch, c.event_time, c.is_closed};
    while (series.size() > options->candles_kept) series.erase(series.begin());
    if (auto* subs = subscribers_of(c.symbol)) {
      const std::string key = "candle:" + c.symbol.str() + ":" +
                              std::string(interval_name(c.interval)) + ":" +
                              std::to_string(c.open_time);
      for (const auto& [id, sub] : *subs) sub.queue->put_latest(key, scratch);
    }
  }

  void on_event(const BookTicker& t, std::string& scratch) {
    auto& s = state(t.symbol);
    if (t.update_id <= s.book_ticker_id) return;
    s.book_ticker_id = t.update_id;
    scratch.clear();
    wire::encode(t, scratch);
    s.book_ticker = scratch;
    if (auto* subs = subscribers_of(t.symbol))
      for (const auto& [id, sub] : *subs)
        sub.queue->put_latest("book_ticker:" + t.symbol.str(), scratch);
  }

  void on_event(const DepthSnapshot& snap, std::string&) {
    auto& s = state(snap.symbol);
    s.has_depth = true;
    if (!snap.is_partial) {
      s.book.apply_snapshot(snap);
      s.book_full = true;
      s.bid_floor.reset();
      s.ask_ceiling.reset();
      s.book_state = BookState::kInSync;
    } else if (s.book_full && s.book_state == BookState::kInSync) {
      return;  // a whole book kept in sync already knows more than a top-N view
    } else {
      if (s.book_state == BookState::kInSync && snap.last_update_id < s.book.last_update_id())
        return;  // older than the book
      s.book.apply_snapshot(snap);
      s.book_full = false;
      s.bid_floor = snap.bids.empty() ? std::nullopt : std::optional(snap.bids.back().price);
      s.ask_ceiling = snap.asks.empty() ? std::nullopt : std::optional(snap.asks.back().price);
      s.book_state = BookState::kInSync;
    }
    publish_book(s);
  }

  void on_event(const DepthUpdate& u, std::string&) {
    auto& s = state(u.symbol);
    s.has_depth = true;
    if (s.book_state != BookState::kInSync) return;            // waiting for a snapshot
    if (u.final_update_id <= s.book.last_update_id()) return;  // already in the book
    if (u.first_update_id > s.book.last_update_id() + 1) {
      s.book_state = BookState::kResyncing;  // a diff went missing: wait for the next snapshot
      publish_book(s);
      return;
    }
    s.book.apply_update(u);
    publish_book(s);
  }

  void publish_book(const SymbolState& s) {
    auto* subs = subscribers_of(s.book.symbol());
    if (!subs) return;
    const std::string key = "book:" + s.book.symbol().str();
    std::map<std::size_t, std::string> by_depth;  // one encoding per ladder size
    for (const auto& [id, sub] : *subs) {
      auto it = by_depth.find(sub.depth_levels);
      if (it == by_depth.end())
        it = by_depth.emplace(sub.depth_levels, book_json(s, sub.depth_levels)).first;
      sub.queue->put_latest(key, it->second);
    }
  }

  // Under mu: this topic's part of a symbol's snapshot.
  void add_to_snapshot(const Symbol& symbol, std::size_t depth_levels,
                       std::vector<std::string>* candles, std::vector<std::string>* indicators,
                       std::vector<std::string>* trades, std::optional<std::string>* book,
                       std::optional<std::string>* book_ticker) {
    auto it = symbols.find(symbol.view());
    if (it == symbols.end()) return;
    const auto& s = it->second;
    for (const auto& [iv, series] : s.candles)
      for (const auto& [t, c] : series) candles->push_back(c.json);
    for (const auto& [iv, names] : s.indicators)
      for (const auto& [name, series] : names)
        for (const auto& [t, v] : series) indicators->push_back(v);
    for (const auto& t : s.trades) trades->push_back(t);
    if (s.has_depth && (s.book_state != BookState::kWaiting || !book->has_value()))
      *book = book_json(s, depth_levels);
    if (!s.book_ticker.empty()) *book_ticker = s.book_ticker;
  }
};

MarketHub::MarketHub(bus::Bus& bus, MarketHubOptions options)
    : bus_(bus), options_(options), instance_(runtime::short_id(8)) {}

MarketHub::~MarketHub() {
  std::lock_guard lock(mu_);
  for (auto& [topic, w] : watches_) w->stop = true;
  for (auto& [topic, w] : watches_)
    if (w->thread.joinable()) w->thread.join();
  watches_.clear();
}

MarketHub::ClientId MarketHub::add_client(std::shared_ptr<ClientQueue> queue) {
  std::lock_guard lock(mu_);
  const ClientId id = ++next_client_;
  clients_.emplace(id, std::move(queue));
  return id;
}

void MarketHub::remove_client(ClientId client) {
  std::lock_guard lock(mu_);
  auto it = subscriptions_.find(client);
  if (it != subscriptions_.end()) {
    std::vector<Symbol> symbols;
    for (const auto& [name, sub] : it->second) symbols.push_back(sub.symbol);
    for (const auto& s : symbols) release_locked(client, s);
    subscriptions_.erase(client);
  }
  clients_.erase(client);
  stop_idle_locked();
}

namespace {

std::vector<std::string> distinct_topics(const MarketTopics& t) {
  std::set<std::string> set;
  for (const auto* name : {&t.trades, &t.depth, &t.candles, &t.indicators, &t.book_ticker})
    if (!name->empty()) set.insert(*name);
  return {set.begin(), set.end()};
}

}  // namespace

Result<void, std::string> MarketHub::subscribe(ClientId client, MarketSubscription sub) {
  const auto topics = distinct_topics(sub.topics);
  if (topics.empty()) return unexpected(std::string("no topic to watch"));
  for (const auto& t : topics)
    if (!bus::valid_topic_name(t))
      return unexpected("\"" + t.substr(0, 64) + "\" is not a topic name ([A-Za-z0-9._-]{1,249})");
  if (sub.depth_levels < 1 || sub.depth_levels > options_.max_depth_levels)
    return unexpected("depth must be 1.." + std::to_string(options_.max_depth_levels));

  std::lock_guard lock(mu_);
  auto c = clients_.find(client);
  if (c == clients_.end()) return unexpected(std::string("unknown client"));
  release_locked(client, sub.symbol);  // a repeated subscribe replaces the old one

  // Start the consumers the subscription needs.
  std::vector<std::shared_ptr<TopicWatch>> watches;
  for (const auto& topic : topics) {
    auto it = watches_.find(topic);
    if (it == watches_.end()) {
      auto w = std::make_shared<TopicWatch>();
      w->topic = topic;
      w->options = &options_;
      auto so = viewer_subscription("market-" + instance_, topic);
      // A little history, so the first viewer sees a book, recent trades and candles at once.
      if (auto ranges = bus_.partition_ranges(topic)) {
        so.start = bus::StartFrom::kOffsets;
        for (const auto& [p, r] : *ranges)
          so.offsets[topic][p] = std::max(r.begin, r.end - options_.backfill_records);
      } else if (ranges.error().code == bus::BusErrc::kUnknownTopic) {
        // Not written yet (a workflow that has just started): from its first record on.
        so.start = bus::StartFrom::kEarliest;
      }
      auto consumer = bus_.subscribe(so);
      if (!consumer) {
        stop_idle_locked();
        return unexpected("cannot read " + topic + ": " + consumer.error().message);
      }
      w->consumer = std::move(*consumer);
      TopicWatch* raw = w.get();
      w->thread = std::thread([raw] { raw->run(); });
      it = watches_.emplace(topic, std::move(w)).first;
      log::info(kLogger, "market hub watching topic", {{"topic", topic}});
    }
    watches.push_back(it->second);
  }

  // Every watch locked (in address order, the consumers only ever take their own): the snapshot
  // and the registration are one step, so no delta is missed or queued before the snapshot.
  std::sort(watches.begin(), watches.end());
  std::vector<std::unique_lock<std::mutex>> locks;
  for (const auto& w : watches) locks.emplace_back(w->mu);
  std::vector<std::string> candles, indicators, trades;
  std::optional<std::string> book, book_ticker;
  for (const auto& w : watches)
    w->add_to_snapshot(sub.symbol, sub.depth_levels, &candles, &indicators, &trades, &book,
                       &book_ticker);
  std::string out;
  runtime::JsonWriter j(out);
  j.begin_object().field("type", "snapshot").field("symbol", sub.symbol.view());
  for (auto [name, list] : {std::pair{"candles", &candles}, std::pair{"indicators", &indicators},
                            std::pair{"trades", &trades}}) {
    j.key(name).begin_array();
    for (const auto& r : *list) j.raw(r);
    j.end_array();
  }
  if (book)
    j.field_raw("book", *book);
  else
    j.field_null("book");
  if (book_ticker)
    j.field_raw("book_ticker", *book_ticker);
  else
    j.field_null("book_ticker");
  j.end_object();
  c->second->put_stream(R"({"type":"subscribed","symbol":")" + sub.symbol.str() + "\"}");
  c->second->put_stream(std::move(out));
  for (const auto& w : watches)
    w->subscribers[sub.symbol.str()][client] = {c->second, sub.depth_levels};
  locks.clear();
  subscriptions_[client][sub.symbol.str()] = std::move(sub);
  stop_idle_locked();  // what the replaced subscription watched alone
  return {};
}

void MarketHub::unsubscribe(ClientId client, const Symbol& symbol) {
  std::lock_guard lock(mu_);
  release_locked(client, symbol);
  if (auto it = subscriptions_.find(client); it != subscriptions_.end())
    it->second.erase(symbol.str());
  stop_idle_locked();
}

void MarketHub::release_locked(ClientId client, const Symbol& symbol) {
  auto it = subscriptions_.find(client);
  if (it == subscriptions_.end()) return;
  auto s = it->second.find(symbol.str());
  if (s == it->second.end()) return;
  for (const auto& topic : distinct_topics(s->second.topics)) {
    auto w = watches_.find(topic);
    if (w == watches_.end()) continue;
    std::lock_guard wl(w->second->mu);
    auto subs = w->second->subscribers.find(symbol.view());
    if (subs == w->second->subscribers.end()) continue;
    subs->second.erase(client);
    if (subs->second.empty()) w->second->subscribers.erase(subs);
  }
}

// Stops the consumers no client needs any more.
void MarketHub::stop_idle_locked() {
  for (auto it = watches_.begin(); it != watches_.end();) {
    bool idle;
    {
      std::lock_guard wl(it->second->mu);
      idle = it->second->subscribers.empty();
    }
    if (!idle) {
      ++it;
      continue;
    }
    auto w = it->second;
    it = watches_.erase(it);
    w->stop = true;
    if (w->thread.joinable()) w->thread.join();  // within one poll timeout
    log::info(kLogger, "market hub stopped watching topic", {{"topic", w->topic}});
  }
}

std::size_t MarketHub::watched_topics() const {
  std::lock_guard lock(mu_);
  return watches_.size();
}

}  // namespace sf::services::visualizer
