// The dashboard's market views (issue 14): per symbol the candles, the order book and the trades
// tape, from the topics a realtime workflow writes, to any number of browser clients, snapshot
// first and then deltas (WebSocket /ws/market, docs/visualizer.md "Market").
//
// One consumer per watched topic, in an ephemeral group of its own, starting `backfill_records`
// before each partition's end so that the first client gets recent candles, trades and a book at
// once. The consumer's thread keeps the state of every symbol on its topic:
//   - trades role: the last `trades_kept` trade / agg_trade / gap records (ids only ever increase:
//     a record a restarted loader publishes again is dropped);
//   - candles role: the last `candles_kept` candles per interval (upserted by open time);
//   - indicators role: the last `candles_kept` values per interval and name;
//   - depth role: a book (binance::OrderBook) from loader-ws's records: a whole depth_snapshot
//   makes
//     it known in full; before one is seen the latest partial (top-N) snapshot anchors it and only
//     levels within that snapshot's price range are shown; contiguous depth_updates are applied, a
//     gap marks it resyncing until the next snapshot;
//   - book_ticker role: the latest ticker.
// Each change goes to the clients subscribed to that symbol through their ClientQueue: trades as
// stream items (oldest dropped for a slow client, counted), the book, open candles, indicator
// values and tickers as states (latest wins), so a stuck browser never slows a consumer or the
// other clients. Records are decoded and encoded again (wire::Decoder / wire::encode) so what a
// page receives is always well-formed whatever a topic carried; undecodable records are counted
// in sf_visualizer_market_rejected_total and skipped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "bus/bus.h"
#include "core/result.h"
#include "core/symbol.h"
#include "services/visualizer/client_queue.h"

namespace sf::services::visualizer {

// The topics of one symbol's market data, by role; empty: not watched.
struct MarketTopics {
  std::string trades{};
  std::string depth{};
  std::string candles{};
  std::string indicators{};
  std::string book_ticker{};
};

struct MarketSubscription {
  Symbol symbol;
  MarketTopics topics;
  std::size_t depth_levels = 20;  // ladder levels per side
};

struct MarketHubOptions {
  std::int64_t backfill_records = 5000;  // per partition, read from before the end on first watch
  std::size_t trades_kept = 200;
  std::size_t candles_kept = 500;
  std::size_t max_depth_levels = 1000;
};

class MarketHub {
 public:
  explicit MarketHub(bus::Bus& bus, MarketHubOptions options = {});
  ~MarketHub();  // stops every consumer
  MarketHub(const MarketHub&) = delete;
  MarketHub& operator=(const MarketHub&) = delete;

  using ClientId = std::uint64_t;
  ClientId add_client(std::shared_ptr<ClientQueue> queue);
  void remove_client(ClientId client);  // drops its subscriptions

  // Queues {"type":"snapshot",...} for the symbol and from then on its deltas (subscribing to the
  // same symbol again replaces the subscription). Errors: a bad topic name, no topic at all, an
  // unknown client, depth_levels out of 1..max_depth_levels, the bus refusing a consumer.
  Result<void, std::string> subscribe(ClientId client, MarketSubscription subscription);
  void unsubscribe(ClientId client, const Symbol& symbol);

  std::size_t watched_topics() const;  // topics with a running consumer (tests, metrics)

 private:
  struct TopicWatch;
  void release_locked(ClientId client, const Symbol& symbol);
  void stop_idle_locked();

  bus::Bus& bus_;
  const MarketHubOptions options_;
  const std::string instance_;
  mutable std::mutex mu_;  // before any TopicWatch::mu
  std::uint64_t next_client_ = 0;
  std::map<ClientId, std::shared_ptr<ClientQueue>> clients_;
  // client -> symbol -> its subscription
  std::map<ClientId, std::map<std::string, MarketSubscription>> subscriptions_;
  std::map<std::string, std::shared_ptr<TopicWatch>> watches_;  // topic -> consumer and state
};

}  // namespace sf::services::visualizer
