// The embedded platform: `streamforge run` hosts every service in one process on the in-process
// bus and the embedded store (SQLite), so one command runs StreamForge on a fresh machine.
//
// It hosts queue-manager (services/queue_manager: workflows from workflows/*.json, every stage
// on the in-process launcher; its API: POST/GET /queues ..., docs/queue-manager.md), the telemetry
// recorder (queue-events -> store, bad records -> queue-events.dlq),
// in-process workers (dummy-service), and an HTTP API on 127.0.0.1:
//   GET  /health/live, /health/ready, /metrics
//   POST /api/v1/control                 {"command":"stop"|"ping","queue_id",...}
//   POST /api/v1/dummy                   start an in-process dummy-service
//   GET  /api/v1/workers                 in-process workers and their state
//   GET  /api/v1/queues/{id}/telemetry   stored telemetry of one queue
//   GET  /ws/topics                      WebSocket: live records of any topic (the dashboard's
//                                        topic inspector, docs/visualizer.md)
// Later issues add the queue-manager and the data services.
#pragma once

#include <memory>
#include <string>

#include "bus/bus.h"
#include "core/result.h"
#include "runtime/control_client.h"
#include "runtime/http_server.h"
#include "services/dummy/dummy_service.h"
#include "services/queue_manager/queue_manager.h"
#include "store/store.h"

namespace sf::services {

struct PlatformOptions {
  std::string store_url = "sqlite:./data/streamforge.db";
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port
  runtime::Topics topics;
  bool queue_manager = true;           // host queue-manager (in-process launcher) and its API
  qm::QueueManagerOptions qm_options;  // its templates, stage environment, secrets, self-healing
  // The API server's authentication and TLS (runtime::apply_api_security); host and port above.
  // Without authenticate the API must stay on loopback.
  runtime::HttpServerOptions http;
};

class Platform {
 public:
  static Result<std::unique_ptr<Platform>, std::string> start(const PlatformOptions& options);
  ~Platform();

  // Starts an in-process dummy-service; returns its telemetry id.
  std::string start_dummy(runtime::WorkerSettings settings, DummyOptions options);
  // Stops every worker and waits for them.
  void stop_workers();
  // Waits until every worker has ended by itself; false on timeout.
  bool wait_workers(std::chrono::milliseconds timeout);
  // Blocks until every telemetry event published so far is in the store (or timeout).
  bool wait_recorded(std::chrono::milliseconds timeout);

  int port() const;
  std::string base_url() const;
  bus::Bus& bus();
  store::Store& store();
  // The hosted queue-manager (nullptr when options.queue_manager is false).
  qm::QueueManager* queue_manager();

 private:
  struct Impl;
  explicit Platform(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// `streamforge run [--port N] [--store URL] [--demo]`.
int run_main(int argc, char** argv);

}  // namespace sf::services
