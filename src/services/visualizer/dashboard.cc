#include "services/visualizer/dashboard.h"

// GCC 12 reports a false -Wrestrict on std::string concatenation at -O3 (GCC bug 105329).
#pragma GCC diagnostic ignored "-Wrestrict"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string_view>
#include <thread>
#include <utility>

#include "runtime/config.h"
#include "runtime/json_writer.h"
#include "runtime/service.h"
#include "services/visualizer/history_api.h"
#include "services/visualizer/models_api.h"
#include "services/visualizer/web_assets.h"

namespace sf::services::visualizer {
namespace {

constexpr std::size_t kMaxTopicsPerClient = 32;
constexpr std::size_t kMaxSymbolsPerClient = 16;
constexpr auto kReceiveWait = std::chrono::milliseconds(500);
constexpr std::size_t kMaxPendingBytes = 256 << 10;
constexpr auto kMinBatchInterval = std::chrono::milliseconds(10);
constexpr std::size_t kMaxFrameBytes = 64 << 10;

std::string_view content_type_of(std::string_view path) {
  if (path.ends_with(".html")) return "text/html; charset=utf-8";
  if (path.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (path.ends_with(".css")) return "text/css; charset=utf-8";
  return "application/octet-stream";
}

// The page's own files only: no inline script or style, data only from this server.
constexpr std::string_view kContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

runtime::HttpResponse asset_response(const WebAsset& asset) {
  auto r = runtime::HttpResponse::text(200, std::string(asset.body),
                                       std::string(content_type_of(asset.path)));
  r.headers.set("Cache-Control", "no-cache");
  r.headers.set("X-Content-Type-Options", "nosniff");
  // The page may carry ?access_token=: never let it leak to another site through Referer.
  r.headers.set("Referrer-Policy", "no-referrer");
  if (asset.path.ends_with(".html")) {
    r.headers.set("Content-Security-Policy", std::string(kContentSecurityPolicy));
    r.headers.set("X-Frame-Options", "DENY");
  }
  return r;
}

void reply(runtime::WebSocketSession& ws,
           std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
  std::string out;
  runtime::JsonWriter j(out);
  j.begin_object();
  for (const auto& [k, v] : fields) j.field(k, v);
  j.end_object();
  ws.send(out);
}

// Sends what the client's queue holds as frames of several messages, one per line (JSON as we
// write it never holds a raw newline; a frame and a write per message, for every client, was what
// a burst of trades cost), a "dropped" marker first when it lost items. While the connection still
// has more than kMaxPendingBytes to write, nothing is taken: the client's ClientQueue fills and
// drops its oldest trades (counted, shown) rather than the connection's own queue growing until
// the session is closed as too slow.
void flush(runtime::WebSocketSession& ws, ClientQueue& queue) {
  if (ws.closed() || ws.pending_bytes() > kMaxPendingBytes) return;
  auto batch = queue.take(std::chrono::milliseconds(0));
  if (batch.messages.empty() && batch.dropped == 0) return;
  std::vector<std::string> frames;
  std::string frame;
  if (batch.dropped > 0)
    frame = R"({"type":"dropped","count":)" + std::to_string(batch.dropped) + "}";
  for (auto& m : batch.messages) {
    if (!frame.empty() && frame.size() + 1 + m.size() > kMaxFrameBytes) {
      frames.push_back(std::move(frame));
      frame.clear();
    }
    if (!frame.empty()) frame += '\n';
    frame += m;
  }
  frames.push_back(std::move(frame));
  ws.send_all(std::move(frames));  // false: gone; its handler sees closed() and leaves
}

// The role of a loader-ws stage by its TYPE ("" for none); candles set *interval.
std::string_view role_of_loader_type(std::string_view type, std::string* interval) {
  if (type == "ws_trades") return "trades";
  if (type == "ws_agg_trades") return "agg_trades";
  if (type == "ws_depth") return "depth";
  if (type == "ws_book_ticker") return "book_ticker";
  if (type.starts_with("ws_candles_")) {
    *interval = std::string(type.substr(11));
    return "candles";
  }
  return {};
}

// Where a role's topic goes (the names of docs/visualizer.md); nullptr for agg_trades and roles
// this version does not know.
std::string* role_slot(MarketTopics& topics, std::string_view role) {
  return role == "trades"        ? &topics.trades
         : role == "depth"       ? &topics.depth
         : role == "candles"     ? &topics.candles
         : role == "indicators"  ? &topics.indicators
         : role == "book_ticker" ? &topics.book_ticker
                                 : nullptr;
}

}  // namespace

Result<std::vector<MarketSource>, std::string> market_sources(store::Store& store) {
  auto workflows = store.workflows();
  if (!workflows) return unexpected("store read failed: " + workflows.error().message);
  std::vector<std::pair<double, MarketSource>> found;
  simdjson::dom::parser parser;
  for (const auto& w : *workflows) {
    if (w.status != "running" && w.status != "pending") continue;
    simdjson::dom::element doc;
    if (parser.parse(w.definition).get(doc)) continue;
    MarketSource src;
    src.queue_id = w.queue_id;
    src.status = w.status;
    std::string_view symbols_text;
    if (!doc["params"]["symbol"].get_string().get(symbols_text))
      for (const auto& s : runtime::split_list(std::string(symbols_text)))
        if (auto sym = Symbol::parse(s)) src.symbols.push_back(sym->str());
    simdjson::dom::array stages;
    if (doc["stages"].get_array().get(stages)) continue;
    bool any = false;
    for (auto stage : stages) {
      std::string_view service, type, topic;
      if (stage["service"].get_string().get(service) ||
          stage["output_topic"].get_string().get(topic) || topic.empty())
        continue;
      if (stage["env"]["TYPE"].get_string().get(type)) type = {};
      std::string interval;
      std::string_view role;
      if (service == "loader-ws") role = role_of_loader_type(type, &interval);
      if (service == "indicator-calculator") role = "indicators";
      std::string* slot =
          role == "agg_trades" ? &src.agg_trades_topic : role_slot(src.topics, role);
      if (!slot) continue;
      any = true;
      *slot = std::string(topic);
      if (role == "candles") src.interval = interval;
    }
    if (any) found.emplace_back(w.created_at, std::move(src));
  }
  std::stable_sort(found.begin(), found.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<MarketSource> out;
  for (auto& [t, s] : found) out.push_back(std::move(s));
  return out;
}

// Every dashboard client's queue is flushed by one thread, every kMinBatchInterval, instead of by
// each connection's own thread: with a thread per client waking for every batch, 50 clients spent
// most of the server's CPU in context switches (perf: futex waits and wakes, nanosleep) and a
// burst of trades waited for the scheduler. Now a batch costs a lock per queue and one writer
// wake per client with something to send.
class ClientFlusher {
 public:
  ClientFlusher() : thread_([this] { run(); }) {}
  ~ClientFlusher() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  std::uint64_t add(runtime::WebSocketSession& ws, std::shared_ptr<ClientQueue> queue) {
    std::lock_guard lock(mu_);
    clients_.emplace(next_id_, Client{&ws, std::move(queue)});
    cv_.notify_all();
    return next_id_++;
  }
  // Once it returns, `ws` is no longer touched (a pass in progress has finished).
  void remove(std::uint64_t id) {
    std::lock_guard lock(mu_);
    clients_.erase(id);
  }

 private:
  struct Client {
    runtime::WebSocketSession* ws;
    std::shared_ptr<ClientQueue> queue;
  };

  void run() {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      if (clients_.empty()) {
        cv_.wait(lock, [this] { return stopping_ || !clients_.empty(); });
        continue;
      }
      // Sleeping lets the updates of the next kMinBatchInterval gather: at a busy symbol's rate a
      // wake-up per update costs more than the update, and 10 ms is far below what a screen shows.
      cv_.wait_for(lock, kMinBatchInterval, [this] { return stopping_; });
      for (auto& [id, c] : clients_) flush(*c.ws, *c.queue);
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::uint64_t, Client> clients_;
  std::uint64_t next_id_ = 1;
  bool stopping_ = false;
  std::thread thread_;  // last: started once the rest is constructed
};

Dashboard::Dashboard(bus::Bus& bus, store::Store& store, DashboardOptions options)
    : bus_(bus),
      store_(store),
      options_(options),
      market_(std::make_unique<MarketHub>(bus, options.market)),
      topics_(std::make_unique<TopicFeed>(bus)),
      flusher_(std::make_unique<ClientFlusher>()) {}

Dashboard::~Dashboard() = default;

void Dashboard::install_routes(runtime::HttpServer& server) {
  for (const auto& asset : web_assets()) {
    const auto response = asset_response(asset);
    auto handler = [response](const runtime::HttpRequest&) { return response; };
    server.route("GET", std::string(asset.path), handler, runtime::Access::kPublic);
    if (asset.path == "/index.html") server.route("GET", "/", handler, runtime::Access::kPublic);
  }
  install_history_routes(server, store_);
  install_models_routes(server, store_, options_.model_dir);
  server.route("GET", "/api/v1/market/sources", [this](const runtime::HttpRequest&) {
    auto sources = market_sources(store_);
    if (!sources) return runtime::HttpResponse::error(500, sources.error());
    std::string out;
    runtime::JsonWriter j(out);
    j.begin_object().key("sources").begin_array();
    for (const auto& s : *sources) {
      j.begin_object().field("queue_id", s.queue_id).field("status", s.status);
      j.key("symbols").begin_array();
      for (const auto& sym : s.symbols) j.value(sym);
      j.end_array();
      j.field("interval", s.interval).key("topics").begin_object();
      for (const auto& [role, topic] :
           {std::pair<std::string_view, const std::string*>{"trades", &s.topics.trades},
            {"depth", &s.topics.depth},
            {"candles", &s.topics.candles},
            {"indicators", &s.topics.indicators},
            {"book_ticker", &s.topics.book_ticker},
            {"agg_trades", &s.agg_trades_topic}})
        if (!topic->empty()) j.field(role, *topic);
      j.end_object().end_object();
    }
    j.end_array().end_object();
    return runtime::HttpResponse::json(200, out);
  });
  server.route_websocket("/ws/topics", [this](const runtime::HttpRequest&,
                                              runtime::WebSocketSession& ws) { serve_topics(ws); });
  server.route_websocket("/ws/market", [this](const runtime::HttpRequest&,
                                              runtime::WebSocketSession& ws) { serve_market(ws); });
}

namespace {

void error_reply(runtime::WebSocketSession& ws, std::string_view error) {
  reply(ws, {{"type", "error"}, {"error", error}});
}

// The topics of {"topics":{role: topic, ...}}; false when a value is not a string.
bool parse_market_topics(simdjson::dom::object topics, MarketTopics* out) {
  for (auto field : topics) {
    std::string_view topic;
    if (field.value.get_string().get(topic)) return false;
    const std::string_view role = field.key;
    std::string* slot = role_slot(*out, role);
    if (role == "agg_trades" && out->trades.empty()) slot = &out->trades;  // trades preferred
    if (slot) *slot = std::string(topic);  // other roles: of later versions, ignored
  }
  return true;
}

}  // namespace

namespace {

// One WebSocket client of a feed (TopicFeed or MarketHub): its bounded queue joins the feed and
// the flusher for the life of the connection; this thread only reads the client's messages (JSON
// objects) and hands them to `on_message`.
template <class Feed, class OnMessage>
void serve_client(runtime::WebSocketSession& ws, Feed& feed, ClientFlusher& flusher,
                  const DashboardOptions& options, OnMessage on_message) {
  auto queue = std::make_shared<ClientQueue>(options.client_queue_items, options.client_queue_keys);
  const auto id = feed.add_client(queue);
  struct Leave {
    Feed& feed;
    typename Feed::ClientId id;
    ClientFlusher& flusher;
    std::uint64_t flusher_id;
    ~Leave() {
      flusher.remove(flusher_id);
      feed.remove_client(id);
    }
  } leave{feed, id, flusher, flusher.add(ws, queue)};
  simdjson::dom::parser parser;
  while (!ws.closed()) {
    auto text = ws.receive(kReceiveWait);
    if (!text) continue;
    simdjson::dom::element doc;
    if (parser.parse(*text).get(doc) || !doc.is_object())
      error_reply(ws, "messages are JSON objects");
    else
      on_message(id, doc);
  }
}

}  // namespace

void Dashboard::serve_topics(runtime::WebSocketSession& ws) {
  std::set<std::string> watched;
  serve_client(
      ws, *topics_, *flusher_, options_, [&](TopicFeed::ClientId id, simdjson::dom::element doc) {
        std::string_view topic, type, symbol;
        if (!doc["subscribe"].get_string().get(topic)) {
          if (doc["type"].get_string().get(type)) type = {};  // optional filters
          if (doc["symbol"].get_string().get(symbol)) symbol = {};
          const std::string t(topic);
          if (!watched.count(t) && watched.size() >= kMaxTopicsPerClient)
            return error_reply(ws, "at most 32 topics per connection");
          if (auto r = topics_->watch(id, t, {std::string(type), std::string(symbol)}); !r)
            return error_reply(ws, r.error());
          watched.insert(t);
          reply(ws, {{"type", "subscribed"}, {"topic", t}});
        } else if (!doc["unsubscribe"].get_string().get(topic)) {
          const std::string t(topic);
          topics_->unwatch(id, t);
          watched.erase(t);
          reply(ws, {{"type", "unsubscribed"}, {"topic", t}});
        } else {
          error_reply(ws, R"(expected {"subscribe":"<topic>"} or {"unsubscribe":"<topic>"})");
        }
      });
}

void Dashboard::serve_market(runtime::WebSocketSession& ws) {
  constexpr std::string_view kUsage =
      R"(expected {"subscribe":"market","symbol":S,"topics":{...}} or {"unsubscribe":"market","symbol":S})";
  std::set<std::string> symbols;
  serve_client(
      ws, *market_, *flusher_, options_, [&](MarketHub::ClientId id, simdjson::dom::element doc) {
        std::string_view what, symbol_text;
        const bool subscribing = !doc["subscribe"].get_string().get(what);
        if ((!subscribing && doc["unsubscribe"].get_string().get(what)) || what != "market")
          return error_reply(ws, kUsage);
        std::optional<Symbol> symbol;
        if (!doc["symbol"].get_string().get(symbol_text)) symbol = Symbol::parse(symbol_text);
        if (!symbol) return error_reply(ws, "symbol: required, e.g. BTCUSDT");
        if (!subscribing) {
          market_->unsubscribe(id, *symbol);
          symbols.erase(symbol->str());
          return reply(ws, {{"type", "unsubscribed"}, {"symbol", symbol->view()}});
        }
        if (!symbols.count(symbol->str()) && symbols.size() >= kMaxSymbolsPerClient)
          return error_reply(ws, "at most 16 symbols per connection");
        MarketSubscription sub{*symbol, {}, 20};
        simdjson::dom::object topics;
        if (!doc["topics"].get_object().get(topics) && !parse_market_topics(topics, &sub.topics))
          return error_reply(ws, "topics: role -> topic name strings");
        std::int64_t depth = 20;
        if (auto d = doc["depth"]; d.error() != simdjson::NO_SUCH_FIELD && d.get_int64().get(depth))
          depth = 0;  // not an integer: refused below
        if (depth < 1) return error_reply(ws, "depth: an integer in 1..1000");
        sub.depth_levels = static_cast<std::size_t>(depth);
        if (auto r = market_->subscribe(id, std::move(sub)); !r) return error_reply(ws, r.error());
        symbols.insert(symbol->str());
      });
}

}  // namespace sf::services::visualizer
