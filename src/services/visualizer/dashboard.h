// The live dashboard's server (issue 14, docs/visualizer.md): everything a browser needs from one
// HTTP server, hosted by `streamforge run` on its API port and by `streamforge visualizer` alone.
//
//   GET /, /app.js, /style.css, /vendor/lightweight-charts.js   the page (embedded, public: it
//                                        holds no data; the data routes below need `read`)
//   GET /api/v1/market/sources           which topics carry each symbol's live data
//   GET /api/v1/history/...              history from the store (history_api.h)
//   GET /api/v1/models, /api/v1/graphs... trained models and stored graphs (models_api.h)
//   GET /ws/market (WebSocket)           candles, book and tape per symbol (market_hub.h)
//   GET /ws/topics (WebSocket)           live records of any topic (topic_feed.h)
//
// Every WebSocket client has its own bounded ClientQueue, so a slow browser never slows the bus
// consumers or the other clients.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "bus/bus.h"
#include "runtime/http_server.h"
#include "services/visualizer/market_hub.h"
#include "services/visualizer/topic_feed.h"
#include "store/store.h"

namespace sf::services::visualizer {

struct DashboardOptions {
  MarketHubOptions market;
  std::size_t client_queue_items = 4096;    // stream items per client before the oldest drop
  std::size_t client_queue_keys = 1024;     // distinct states (book, candles) per client
  std::string model_dir = "./data/models";  // gnn-trainer's MODEL_DIR, for the Models view
};

// One symbol's live topics, from a workflow in the store (GET /api/v1/market/sources).
struct MarketSource {
  std::string queue_id;
  std::string status;
  std::vector<std::string> symbols;
  std::string interval;  // of the candles topic, "" without one
  MarketTopics topics;
  std::string agg_trades_topic;
};

// Sources from the workflows in the store that are pending or running, newest first: every
// workflow with loader-ws or indicator-calculator stages, roles by each stage's TYPE.
Result<std::vector<MarketSource>, std::string> market_sources(store::Store& store);

class ClientFlusher;

class Dashboard {
 public:
  Dashboard(bus::Bus& bus, store::Store& store, DashboardOptions options = {});
  ~Dashboard();
  Dashboard(const Dashboard&) = delete;
  Dashboard& operator=(const Dashboard&) = delete;

  // Adds the routes above. The Dashboard must outlive the server's use of them (stop the server
  // first).
  void install_routes(runtime::HttpServer& server);

  MarketHub& market() { return *market_; }
  TopicFeed& topics() { return *topics_; }

 private:
  void serve_topics(runtime::WebSocketSession& ws);
  void serve_market(runtime::WebSocketSession& ws);

  bus::Bus& bus_;
  store::Store& store_;
  const DashboardOptions options_;
  std::unique_ptr<MarketHub> market_;
  std::unique_ptr<TopicFeed> topics_;
  std::unique_ptr<ClientFlusher> flusher_;  // last: stopped first
};

}  // namespace sf::services::visualizer
