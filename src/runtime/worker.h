// The worker contract every service follows (docs/protocol.md):
//   - publishes `started`, then `loading` every TELEMETRY_INTERVAL seconds with growing
//     records_written, then exactly one of `finished`, `interrupted` or `error`;
//   - listens on the control topic in a consumer group of its own, so every instance sees every
//     command; `stop` ends the work as `interrupted`; `ping` is answered with a `pong` event
//     carrying the ping's send time;
//   - SIGTERM/SIGINT (through request_stop) end it as `interrupted`.
// A service supplies only the body; Worker owns the lifecycle, so no service can forget a
// terminal event or send two.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "bus/bus.h"
#include "runtime/protocol.h"

namespace sf::runtime {

struct WorkerSettings {
  std::string service;   // e.g. "dummy-service"
  std::string queue_id;  // QUEUE_ID
  std::string producer;  // TELEMETRY_PRODUCER_ID; empty: "<service>__<6 random chars>"
  std::string symbol;    // SYMBOL
  std::string type;      // TYPE
  std::string control_topic = "queue-control";
  std::string events_topic = "queue-events";
  std::chrono::milliseconds telemetry_interval{std::chrono::seconds(5)};
};

enum class Outcome : std::uint8_t { kFinished, kInterrupted, kError };
const char* to_string(Outcome o);

struct WorkResult {
  Outcome outcome = Outcome::kFinished;
  std::string message;
  std::string extra = "{}";  // JSON object for the terminal event
};

class Worker;

// What a service body sees.
class WorkerContext {
 public:
  bool stop_requested() const;
  // Sleeps up to `d`; returns false at once when a stop arrives.
  bool sleep_for(std::chrono::milliseconds d);
  void add_records(std::int64_t n);
  std::int64_t records_written() const;
  // Publishes a `loading` event now; the worker also sends one every telemetry interval.
  void report_loading(const std::string& message = {}, const std::string& extra = "{}");
  const WorkerSettings& settings() const;
  bus::Bus& bus();
  // Called (on the control thread) for each ping addressed to this worker, after the pong. A ping
  // that came before the hook was set is passed to it at once (on the caller's thread).
  void set_ping_hook(std::function<void(const ControlCommand&)> hook);

 private:
  friend class Worker;
  explicit WorkerContext(Worker& w) : worker_(w) {}
  Worker& worker_;
};

class Worker {
 public:
  Worker(bus::Bus& bus, WorkerSettings settings);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Runs the lifecycle on this thread around `body`; returns the process exit code:
  // 0 for finished or interrupted, 1 for error. Exceptions from the body become `error`.
  int run(const std::function<WorkResult(WorkerContext&)>& body);

  // Asks the body to stop (signal, stop command, test). Safe from any thread, idempotent.
  void request_stop(const std::string& reason);
  bool stop_requested() const { return stop_.load(); }
  const WorkerSettings& settings() const { return settings_; }
  // The terminal outcome once run() returned.
  Outcome outcome() const { return outcome_; }

 private:
  friend class WorkerContext;
  void publish(std::string_view status, const std::string& message, bool finished,
               const std::string& extra = "{}");
  void control_loop(std::unique_ptr<bus::Consumer> consumer);
  void telemetry_loop();

  bus::Bus& bus_;
  WorkerSettings settings_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> done_{false};
  std::atomic<std::int64_t> records_{0};
  std::string stop_reason_;
  std::mutex mu_;  // guards stop_reason_, ping_hook_, and the wake-up condition
  std::condition_variable wake_;
  std::function<void(const ControlCommand&)> ping_hook_;
  // A ping that arrived before the body set its hook (it is announced `started` first): handed
  // to the hook when it is set, so no ping is lost to that race.
  std::optional<ControlCommand> unhooked_ping_;
  std::mutex publish_mu_;  // one telemetry event at a time, terminal event last
  bool terminal_sent_ = false;
  std::atomic<std::int64_t> last_publish_ns_{0};  // steady clock: heartbeats fill silences only
  Outcome outcome_ = Outcome::kFinished;
  std::thread control_thread_;
  std::thread telemetry_thread_;
};

// Random [a-z0-9] id of `n` characters (queue ids, telemetry ids, consumer groups).
std::string short_id(std::size_t n = 6);

}  // namespace sf::runtime
