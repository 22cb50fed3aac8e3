#include "runtime/worker.h"

#include <random>

#include "core/time.h"
#include "runtime/log.h"
#include "runtime/metrics.h"

namespace sf::runtime {

const char* to_string(Outcome o) {
  switch (o) {
    case Outcome::kFinished:
      return "finished";
    case Outcome::kInterrupted:
      return "interrupted";
    case Outcome::kError:
      return "error";
  }
  return "error";
}

std::string short_id(std::size_t n) {
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  thread_local std::mt19937_64 rng(std::random_device{}());
  std::string out(n, 'a');
  for (auto& c : out) c = kChars[rng() % (sizeof kChars - 1)];
  return out;
}

bool WorkerContext::stop_requested() const {
  return worker_.stop_requested();
}

bool WorkerContext::sleep_for(std::chrono::milliseconds d) {
  std::unique_lock lock(worker_.mu_);
  return !worker_.wake_.wait_for(lock, d, [&] { return worker_.stop_.load(); });
}

void WorkerContext::add_records(std::int64_t n) {
  worker_.records_.fetch_add(n);
}
std::int64_t WorkerContext::records_written() const {
  return worker_.records_.load();
}

void WorkerContext::report_loading(const std::string& message, const std::string& extra) {
  worker_.publish(kStatusLoading, message, false, extra);
}

const WorkerSettings& WorkerContext::settings() const {
  return worker_.settings_;
}
bus::Bus& WorkerContext::bus() {
  return worker_.bus_;
}

void WorkerContext::set_ping_hook(std::function<void(const ControlCommand&)> hook) {
  std::optional<ControlCommand> missed;
  {
    std::lock_guard lock(worker_.mu_);
    worker_.ping_hook_ = hook;
    missed.swap(worker_.unhooked_ping_);
  }
  if (missed && hook) hook(*missed);
}

Worker::Worker(bus::Bus& bus, WorkerSettings settings) : bus_(bus), settings_(std::move(settings)) {
  if (settings_.producer.empty()) settings_.producer = settings_.service + "__" + short_id();
}

Worker::~Worker() {
  request_stop("worker destroyed");
  done_ = true;
  wake_.notify_all();
  if (control_thread_.joinable()) control_thread_.join();
  if (telemetry_thread_.joinable()) telemetry_thread_.join();
}

void Worker::request_stop(const std::string& reason) {
  {
    std::lock_guard lock(mu_);
    if (stop_.load()) return;
    stop_reason_ = reason;
    stop_ = true;
  }
  wake_.notify_all();
}

void Worker::publish(std::string_view status, const std::string& message, bool finished,
                     const std::string& extra) {
  std::lock_guard lock(publish_mu_);
  if (terminal_sent_) return;  // nothing may follow the terminal event
  if (is_terminal_status(status)) terminal_sent_ = true;
  last_publish_ns_ = std::chrono::steady_clock::now().time_since_epoch().count();
  TelemetryEvent e{.queue_id = settings_.queue_id,
                   .producer = settings_.producer,
                   .symbol = settings_.symbol,
                   .type = settings_.type,
                   .status = std::string(status),
                   .message = message,
                   .records_written = records_.load(),
                   .finished = finished,
                   .timestamp = now_unix_seconds(),
                   .extra = extra};
  auto payload = encode_telemetry(e);
  auto r = bus_.publish(settings_.events_topic, settings_.queue_id, payload);
  metrics::default_registry()
      .counter("sf_telemetry_events_total", "Telemetry events published, by status",
               {{"service", settings_.service}, {"status", std::string(status)}})
      .inc();
  if (!r) {
    // Telemetry must not be lost silently: log it with the reason and count it.
    metrics::default_registry()
        .counter("sf_telemetry_publish_errors_total", "Telemetry events the bus refused",
                 {{"service", settings_.service}})
        .inc();
    log::error(
        settings_.service, "telemetry publish failed",
        {{"status", status}, {"error", r.error().message}, {"queue_id", settings_.queue_id}});
  }
  log::info(settings_.service, "telemetry",
            {{"queue_id", settings_.queue_id},
             {"producer", settings_.producer},
             {"status", status},
             {"records_written", e.records_written},
             {"message", message}});
}

void Worker::control_loop(std::unique_ptr<bus::Consumer> consumer) {
  while (!done_.load()) {
    auto batch = consumer->poll(std::chrono::milliseconds(100));
    if (!batch) {
      if (batch.error().code == bus::BusErrc::kClosed) return;
      log::warn(settings_.service, "control poll failed", {{"error", batch.error().message}});
      continue;
    }
    for (const auto& m : *batch) {
      auto cmd = decode_command(m.value);
      if (!cmd) {
        metrics::default_registry()
            .counter("sf_control_rejected_total", "Control messages that could not be decoded",
                     {{"service", settings_.service}})
            .inc();
        log::warn(settings_.service, "bad control message", {{"error", cmd.error()}});
        continue;
      }
      if (!command_applies(*cmd, settings_.queue_id, settings_.service, settings_.producer))
        continue;
      if (cmd->command == "stop") {
        request_stop("stop command");
      } else if (cmd->command == "ping") {
        std::string extra = "{\"ping_ts\":" + std::to_string(cmd->sent_at) +
                            ",\"ponged_at\":" + std::to_string(now_unix_seconds()) + "}";
        publish(kStatusPong, "pong", false, extra);
        std::function<void(const ControlCommand&)> hook;
        {
          std::lock_guard lock(mu_);
          hook = ping_hook_;
          if (!hook) unhooked_ping_ = *cmd;
        }
        if (hook) hook(*cmd);
      }
    }
    (void)consumer->commit();
  }
  consumer->close();
}

// A `loading` heartbeat whenever the service itself has been silent for a whole interval, so a
// stalled worker is visible and a busy one is not reported twice.
void Worker::telemetry_loop() {
  std::unique_lock lock(mu_);
  while (!done_.load()) {
    auto last = std::chrono::steady_clock::time_point(
        std::chrono::steady_clock::duration(last_publish_ns_.load()));
    auto due = last + settings_.telemetry_interval;
    if (wake_.wait_until(lock, due, [&] { return done_.load(); })) break;
    if (std::chrono::steady_clock::now() < due) continue;
    lock.unlock();
    auto again = std::chrono::steady_clock::time_point(
        std::chrono::steady_clock::duration(last_publish_ns_.load()));
    if (again + settings_.telemetry_interval <= std::chrono::steady_clock::now())
      publish(kStatusLoading, "", false);
    lock.lock();
  }
}

int Worker::run(const std::function<WorkResult(WorkerContext&)>& body) {
  // Subscribe before announcing `started`, so no command sent after it can be missed.
  bus::SubscribeOptions sub{.topics = {settings_.control_topic},
                            .group = "control-" + settings_.producer + "-" + short_id(8),
                            .start = bus::StartFrom::kLatest,
                            .offsets = {}};
  auto consumer = bus_.subscribe(sub);
  if (!consumer) {
    log::error(settings_.service, "cannot subscribe to control topic",
               {{"error", consumer.error().message}});
    publish(kStatusError, "cannot subscribe to control topic: " + consumer.error().message, true);
    outcome_ = Outcome::kError;
    return 1;
  }
  control_thread_ = std::thread(
      [this, c = std::move(consumer).value()]() mutable { control_loop(std::move(c)); });
  publish(kStatusStarted, "started", false);
  telemetry_thread_ = std::thread([this] { telemetry_loop(); });

  WorkerContext ctx(*this);
  WorkResult result;
  try {
    result = body(ctx);
  } catch (const std::exception& e) {
    result = {Outcome::kError, std::string("unhandled exception: ") + e.what(), "{}"};
  } catch (...) {
    result = {Outcome::kError, "unhandled non-standard exception", "{}"};
  }
  // A stop that arrived while the body was finishing still counts as an interruption unless
  // the body reports an error.
  if (result.outcome == Outcome::kFinished && stop_requested() && result.message.empty()) {
    result.outcome = Outcome::kInterrupted;
  }
  if (result.outcome == Outcome::kInterrupted && result.message.empty()) {
    std::lock_guard lock(mu_);
    result.message = stop_reason_;
  }
  done_ = true;
  wake_.notify_all();
  if (telemetry_thread_.joinable()) telemetry_thread_.join();
  outcome_ = result.outcome;
  publish(to_string(result.outcome), result.message, true, result.extra);
  (void)bus_.flush(std::chrono::seconds(10));
  if (control_thread_.joinable()) control_thread_.join();
  return result.outcome == Outcome::kError ? 1 : 0;
}

}  // namespace sf::runtime
