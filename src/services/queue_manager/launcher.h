// How queue-manager runs one workflow stage. A stage is a service (`streamforge <service>`) with an
// environment: the same variables whatever runs it, so a workflow behaves the same in one process,
// as local processes, or as Kubernetes Jobs.
//
// Launchers (chosen per deployment, QM_LAUNCHER):
//   in-process      threads inside `streamforge run` on its in-process bus and embedded store;
//   local-process   `streamforge <service>` child processes with exactly the env a Job would get,
//                   logs to files, children reaped (local_process_launcher.h);
//   kubernetes      batch/v1 Jobs through the API server's REST API (k8s_launcher.h).
// A launcher only starts, observes and stops stages; the workflow state comes from the stages'
// telemetry on `queue-events` (docs/protocol.md).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "runtime/secrets.h"

namespace sf::services::qm {

// Everything a launcher needs for one stage run.
struct StageLaunch {
  std::string queue_id;
  std::string stage;    // unique within the workflow, e.g. "load-candles"
  std::string service;  // e.g. "loader-producer": `streamforge <service>`
  int attempt = 1;      // 1 for the first run, then one more per self-healing restart
  // The stage's environment (QUEUE_ID, SYMBOL, TYPE, KAFKA_TOPIC, TELEMETRY_PRODUCER_ID, ...):
  // exactly what the service reads (runtime/service.h). Never a credential: this map is stored,
  // shown by the API and written into Job specs as it is.
  std::map<std::string, std::string> env;
  // The names of the credentials the stage receives (registry.h: stage_secret_names). Launchers
  // resolve them when they start the stage: from `secret_source` (in-process, local-process) or
  // as secretKeyRef into the platform's Secret (Kubernetes).
  std::vector<std::string> secrets{};
  // The manager's credentials, where `secrets` are looked up at launch; the values never enter
  // this struct. nullptr: none (a stage that names a secret then fails to launch).
  std::shared_ptr<const runtime::SecretStore> secret_source{};
};

// What a launcher knows of a stage run apart from its telemetry.
enum class RunState : std::uint8_t {
  kStarting,  // submitted, not yet running (a Job that is pending)
  kRunning,
  kExited,   // ended with exit_code
  kFailed,   // could not be run at all (spawn failed, Job rejected, pod failed without exit code)
  kUnknown,  // the launcher lost track (e.g. after a queue-manager restart)
};
const char* to_string(RunState s);

struct RunStatus {
  RunState state = RunState::kUnknown;
  std::optional<int> exit_code;
  std::string detail;  // e.g. the Job's condition message, the log file path
};

class Launcher {
 public:
  virtual ~Launcher() = default;
  // Starts the stage; returns a handle id (unique per launch) or why it could not.
  virtual Result<std::string, std::string> start(const StageLaunch& launch) = 0;
  virtual RunStatus status(const std::string& handle) = 0;
  // Asks the stage to end (the worker's `stop` command goes on the control topic as well; this is
  // the launcher's own means: SIGTERM, Job deletion). Idempotent.
  virtual void stop(const std::string& handle) = 0;
  // "in-process", "local-process" or "kubernetes".
  virtual std::string_view kind() const = 0;
};

}  // namespace sf::services::qm
