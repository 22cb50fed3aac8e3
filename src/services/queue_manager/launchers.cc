#include "services/queue_manager/launchers.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>
#include <vector>

#include "runtime/log.h"
#include "runtime/service.h"
#include "runtime/worker.h"

namespace sf::services::qm {

const char* to_string(RunState s) {
  switch (s) {
    case RunState::kStarting:
      return "starting";
    case RunState::kRunning:
      return "running";
    case RunState::kExited:
      return "exited";
    case RunState::kFailed:
      return "failed";
    case RunState::kUnknown:
      return "unknown";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------------- in-process

struct InProcessLauncher::Run {
  std::unique_ptr<runtime::Worker> worker;
  std::thread thread;
  std::atomic<bool> done{false};
  std::atomic<int> exit_code{-1};
};

InProcessLauncher::InProcessLauncher(bus::Bus& bus, Embedded embedded)
    : bus_(bus), embedded_(embedded), instance_(runtime::short_id(6)) {}

namespace {
// The stage's credentials by value, resolved now (a rotated secrets file counts from here on).
Result<std::map<std::string, std::string>, std::string> resolve_secrets(const StageLaunch& launch) {
  std::map<std::string, std::string> out;
  for (const auto& name : launch.secrets) {
    auto value = launch.secret_source ? launch.secret_source->get(name) : std::nullopt;
    if (!value) return unexpected("secret " + name + " is not configured on the platform");
    out[name] = std::move(*value);
  }
  return out;
}
}  // namespace

InProcessLauncher::~InProcessLauncher() {
  std::lock_guard lock(mu_);
  for (auto& [h, r] : runs_)
    if (!r->done) r->worker->request_stop("queue-manager shutting down");
  for (auto& [h, r] : runs_)
    if (r->thread.joinable()) r->thread.join();
}

Result<std::string, std::string> InProcessLauncher::start(const StageLaunch& launch) {
  const ServiceSpec* spec = find_service(launch.service);
  if (!spec) return unexpected("service " + launch.service + " cannot run in-process");
  auto secrets = resolve_secrets(launch);
  if (!secrets) return unexpected(secrets.error());
  std::map<std::string, std::string> env = launch.env;
  env.merge(*secrets);  // a stage's env never names a secret, so nothing collides
  auto config = stage_config(*spec, env);
  if (!config) return unexpected(launch.service + ": " + config.error());
  auto body = spec->make_body(*config, embedded_);
  if (!body) return unexpected(launch.service + ": " + body.error());
  auto run = std::make_unique<Run>();
  run->worker = std::make_unique<runtime::Worker>(
      bus_, runtime::worker_settings_from(*config, std::string(launch.service)));
  Run* r = run.get();
  r->thread = std::thread([r, b = std::move(*body)] {
    r->exit_code = r->worker->run(b);
    r->done = true;
  });
  std::lock_guard lock(mu_);
  std::string handle = "thread-" + instance_ + "-" + std::to_string(++next_) + "-" + launch.stage;
  runs_.emplace(handle, std::move(run));
  return handle;
}

RunStatus InProcessLauncher::status(const std::string& handle) {
  std::lock_guard lock(mu_);
  auto it = runs_.find(handle);
  if (it == runs_.end()) return {RunState::kUnknown, std::nullopt, "no such run in this process"};
  if (!it->second->done) return {RunState::kRunning, std::nullopt, ""};
  return {RunState::kExited, it->second->exit_code.load(), ""};
}

void InProcessLauncher::stop(const std::string& handle) {
  std::lock_guard lock(mu_);
  auto it = runs_.find(handle);
  if (it != runs_.end() && !it->second->done)
    it->second->worker->request_stop("stopped by queue-manager");
}

// ------------------------------------------------------------------------------- local process

LocalProcessLauncher::LocalProcessLauncher(LocalProcessOptions options) : o_(std::move(options)) {
  if (o_.binary.empty()) {
    char buf[4096];
    const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n > 0) o_.binary.assign(buf, static_cast<std::size_t>(n));
  }
  if (o_.log_dir.empty()) o_.log_dir = "./data/logs";
}

LocalProcessLauncher::~LocalProcessLauncher() {
  std::lock_guard lock(mu_);
  for (auto& [h, c] : children_) {
    reap_locked(c);
    if (!c.exited) ::kill(c.pid, SIGTERM);
  }
  const auto deadline = std::chrono::steady_clock::now() + o_.kill_grace;
  for (auto& [h, c] : children_) {
    while (!c.exited && std::chrono::steady_clock::now() < deadline) {
      reap_locked(c);
      if (!c.exited) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!c.exited) {
      ::kill(c.pid, SIGKILL);
      int st = 0;
      ::waitpid(c.pid, &st, 0);
    }
  }
}

Result<std::string, std::string> LocalProcessLauncher::start(const StageLaunch& launch) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(o_.log_dir) / launch.queue_id;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return unexpected("cannot create log directory " + dir.string() + ": " + ec.message());
  const std::string log =
      (dir / (launch.stage + "-a" + std::to_string(launch.attempt) + ".log")).string();

  // Everything the child needs is prepared before fork (no allocation after it).
  std::vector<std::string> env_strings;
  for (const char* keep : {"PATH", "HOME", "LANG"})
    if (const char* v = std::getenv(keep)) env_strings.push_back(std::string(keep) + "=" + v);
  for (const auto& [k, v] : launch.env) env_strings.push_back(k + "=" + v);
  auto secrets = resolve_secrets(launch);
  if (!secrets) return unexpected(secrets.error());
  for (const auto& [k, v] : *secrets) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string binary = o_.binary, service = launch.service;
  char* argv[] = {binary.data(), service.data(), nullptr};

  const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return unexpected("cannot open " + log + ": " + std::strerror(errno));
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fd);
    return unexpected(std::string("fork failed: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::setpgid(0, 0);  // its own process group: a terminal's Ctrl-C goes to queue-manager only
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    const int null_in = ::open("/dev/null", O_RDONLY);
    if (null_in >= 0) ::dup2(null_in, 0);
    ::execve(binary.c_str(), argv, envp.data());
    _exit(127);
  }
  ::close(fd);
  std::lock_guard lock(mu_);
  std::string handle = "pid-" + std::to_string(pid);
  children_[handle] = Child{pid, log, false, -1, {}};
  log::info("queue-manager", "stage process started",
            {{"queue_id", launch.queue_id}, {"stage", launch.stage}, {"pid", pid}, {"log", log}});
  return handle;
}

void LocalProcessLauncher::reap_locked(Child& c) {
  if (c.exited) return;
  int st = 0;
  if (::waitpid(c.pid, &st, WNOHANG) == c.pid) {
    c.exited = true;
    c.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  } else if (c.term_sent != std::chrono::steady_clock::time_point{} &&
             std::chrono::steady_clock::now() - c.term_sent > o_.kill_grace) {
    ::kill(c.pid, SIGKILL);
  }
}

RunStatus LocalProcessLauncher::status(const std::string& handle) {
  std::lock_guard lock(mu_);
  auto it = children_.find(handle);
  if (it == children_.end()) {
    // A stage started by an earlier queue-manager process: not our child, but its pid tells
    // whether it still runs (its exit code is not ours to read).
    if (handle.rfind("pid-", 0) == 0) {
      const int pid = std::atoi(handle.c_str() + 4);
      if (pid > 0 && ::kill(pid, 0) == 0) return {RunState::kRunning, std::nullopt, "adopted"};
      return {RunState::kExited, std::nullopt, "ended while queue-manager was away"};
    }
    return {RunState::kUnknown, std::nullopt, "not a child of this process"};
  }
  reap_locked(it->second);
  if (!it->second.exited) return {RunState::kRunning, std::nullopt, it->second.log};
  return {RunState::kExited, it->second.exit_code, it->second.log};
}

void LocalProcessLauncher::stop(const std::string& handle) {
  std::lock_guard lock(mu_);
  auto it = children_.find(handle);
  if (it == children_.end()) {
    if (handle.rfind("pid-", 0) == 0 && std::atoi(handle.c_str() + 4) > 0)
      ::kill(std::atoi(handle.c_str() + 4), SIGTERM);  // adopted from an earlier manager
    return;
  }
  if (it->second.exited) return;
  ::kill(it->second.pid, SIGTERM);
  if (it->second.term_sent == std::chrono::steady_clock::time_point{})
    it->second.term_sent = std::chrono::steady_clock::now();
}

int LocalProcessLauncher::pid(const std::string& handle) {
  std::lock_guard lock(mu_);
  auto it = children_.find(handle);
  return it == children_.end() ? -1 : it->second.pid;
}

}  // namespace sf::services::qm
