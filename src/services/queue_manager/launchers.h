// The in-process and local-process launchers (launcher.h); the Kubernetes one is in k8s/.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "bus/bus.h"
#include "services/queue_manager/launcher.h"
#include "services/queue_manager/registry.h"

namespace sf::services::qm {

// Threads inside this process, on its bus (the in-process bus inside `streamforge run`).
class InProcessLauncher final : public Launcher {
 public:
  InProcessLauncher(bus::Bus& bus, Embedded embedded);
  ~InProcessLauncher() override;  // stops every run still going and joins it

  Result<std::string, std::string> start(const StageLaunch& launch) override;
  RunStatus status(const std::string& handle) override;
  void stop(const std::string& handle) override;
  std::string_view kind() const override { return "in-process"; }

 private:
  struct Run;
  bus::Bus& bus_;
  Embedded embedded_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<Run>> runs_;
  // In every handle: a workflow resumed from the store by a later process carries the handles of
  // an earlier one, which must never name (and stop) a run of this one.
  const std::string instance_;
  int next_ = 0;
};

struct LocalProcessOptions {
  std::string binary;   // streamforge; "" = this process's own executable
  std::string log_dir;  // <log_dir>/<queue_id>/<stage>-a<attempt>.log
  std::chrono::milliseconds kill_grace{std::chrono::seconds(10)};  // SIGTERM -> SIGKILL
};

// `streamforge <service>` child processes. The child gets exactly the stage's environment and its
// secrets (plus PATH, HOME and LANG), as a Kubernetes Job's container would; stdout and stderr go
// to a log file; children are reaped by status().
class LocalProcessLauncher final : public Launcher {
 public:
  explicit LocalProcessLauncher(LocalProcessOptions options);
  ~LocalProcessLauncher() override;  // SIGTERMs children still running, then reaps them

  Result<std::string, std::string> start(const StageLaunch& launch) override;
  RunStatus status(const std::string& handle) override;
  void stop(const std::string& handle) override;
  std::string_view kind() const override { return "local-process"; }

  // The child's pid (tests: kill -9 a stage); -1 if unknown.
  int pid(const std::string& handle);

 private:
  struct Child {
    int pid = -1;
    std::string log;
    bool exited = false;
    int exit_code = -1;
    std::chrono::steady_clock::time_point term_sent{};
  };
  void reap_locked(Child& c);

  LocalProcessOptions o_;
  std::mutex mu_;
  std::map<std::string, Child> children_;
};

}  // namespace sf::services::qm
