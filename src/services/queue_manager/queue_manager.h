// queue-manager: starts, tracks and stops workflows (workflow.h) through a launcher (launcher.h).
//
// State comes from telemetry: the manager reads QUEUE_EVENTS_TOPIC (consumer group
// `queue-manager`, committed, so a restarted manager continues where it stopped), maps each event
// to its stage by TELEMETRY_PRODUCER_ID, persists the event and the workflow (store workflows +
// telemetry), and runs a scheduler every tick:
//   - a pending stage starts when its dependencies allow (workflow.h: "after" / "alongside");
//   - a stage that ends in `error`, ends without a terminal event (a crash, kill -9), or sends no
//     telemetry for stall_timeout is restarted up to max_restarts times with exponential backoff;
//     each restart is recorded in the queue's history as a `restarting` event from producer
//     `queue-manager`; when restarts run out the workflow fails with the reason and its other
//     stages are stopped;
//   - the workflow is finished when every stage is; a stop sends `stop` to every stage (control
//     topic + launcher) and the workflow ends `interrupted`.
// A restarted manager reloads the workflows that were running from the store; stages whose runs
// it cannot see any more (in-process threads of the previous process) are restarted by the same
// self-healing (loaders resume from their checkpoints, connectors from committed offsets).
//
// HTTP API (install_routes; docs/queue-manager.md): POST /queues, GET /queues (?status, ?symbol,
// ?limit, ?offset), GET /queues/{id}, GET /queues/{id}/events (?follow=1: server-sent events),
// POST /queues/{id}/stop, WebSocket /ws/queues, GET /workflows, GET /openapi.json, and the
// original's aliases POST /queues/start, /queues/start-pipeline, /queues/start-test-flow,
// GET /queues/list, POST /queues/stop. Who may call what is the HTTP server's authentication
// (runtime::HttpServerOptions::authenticate, docs/security.md): reads need the read scope,
// starting and stopping operate, inline workflows admin.
//
// What a caller may put into a stage's environment is limited to the service's stage-scoped
// options (registry.h: env_key_refusal): a template or request that names anything else (LD_*,
// PATH, endpoints, credentials) is refused with 400 naming the key, and nothing is launched.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bus/bus.h"
#include "core/result.h"
#include "runtime/control_client.h"
#include "runtime/http_server.h"
#include "runtime/secrets.h"
#include "services/queue_manager/launcher.h"
#include "services/queue_manager/workflow.h"
#include "store/store.h"

namespace sf::services::qm {

struct QueueManagerOptions {
  std::string workflows_dir;                    // "" = default_workflows_dir()
  std::map<std::string, std::string> base_env;  // given to every stage (bus, API URLs, store)
  runtime::Topics topics;
  std::string group = "queue-manager";
  std::chrono::milliseconds tick{std::chrono::milliseconds(200)};
  double stall_timeout_s = 120;          // no telemetry this long -> restart
  int max_restarts = 2;                  // per stage
  double restart_backoff_s = 1;          // doubles per restart
  double exit_grace_s = 3;               // a run that exited waits this long for its terminal event
  double stop_grace_s = 10;              // after a stop, stages still running are killed
  std::string telemetry_interval = "1";  // TELEMETRY_INTERVAL given to stages (seconds)
  // The platform's credentials; each stage gets the ones it needs at launch
  // (registry.h: stage_secret_names), never in its stored environment. Credentials found in
  // base_env are moved here. nullptr: none.
  std::shared_ptr<runtime::SecretStore> secrets;
};

struct ApiError {
  int status = 400;
  std::string message;
  std::map<std::string, std::string> fields;  // field -> what is wrong with it
};

class QueueManager {
 public:
  QueueManager(bus::Bus& bus, store::Store& store, Launcher& launcher, QueueManagerOptions options);
  ~QueueManager();
  QueueManager(const QueueManager&) = delete;
  QueueManager& operator=(const QueueManager&) = delete;

  // Loads the templates, reloads running workflows from the store, starts the engine thread.
  Result<void, std::string> start();
  void shutdown();

  Result<Workflow, ApiError> start_workflow(const std::string& template_name,
                                            const std::map<std::string, std::string>& params,
                                            const std::string& queue_id = "");
  Result<Workflow, ApiError> start_workflow(const WorkflowTemplate& t,
                                            const std::map<std::string, std::string>& params,
                                            const std::string& queue_id = "");
  Result<void, ApiError> stop_workflow(const std::string& queue_id);
  std::optional<Workflow> workflow(const std::string& queue_id);
  // Newest first; `offset`/`limit` select a page.
  std::vector<Workflow> workflows(const std::string& status = "", const std::string& symbol = "",
                                  std::size_t offset = 0, std::size_t limit = SIZE_MAX);
  std::vector<std::string> template_names();

  void install_routes(runtime::HttpServer& server);

  // Telemetry events processed so far (bench, tests).
  std::int64_t events_processed() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sf::services::qm

namespace sf::services {
// `streamforge queue-manager [options]` (queue_manager_main.cc).
int queue_manager_main(int argc, char** argv);
}  // namespace sf::services
