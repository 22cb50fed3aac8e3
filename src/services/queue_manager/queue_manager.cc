#include "services/queue_manager/queue_manager.h"

#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <thread>

#include "runtime/json_writer.h"
#include "runtime/log.h"
#include "runtime/metrics.h"
#include "runtime/protocol.h"
#include "services/queue_manager/registry.h"

namespace sf::services::qm {
namespace {

constexpr const char* kLog = "queue-manager";

double now_s() {
  return static_cast<double>(now_micros()) / 1e6;
}

std::string error_json(const ApiError& e) {
  std::string out;
  runtime::JsonWriter w(out);
  w.begin_object().field("error", e.message);
  if (!e.fields.empty()) {
    w.key("fields").begin_object();
    for (const auto& [k, v] : e.fields) w.field(k, v);
    w.end_object();
  }
  w.end_object();
  return out;
}

runtime::HttpResponse error_response(const ApiError& e) {
  return runtime::HttpResponse::json(e.status, error_json(e));
}

ApiError bad_field(const std::string& field, const std::string& what) {
  return ApiError{400, "invalid request", {{field, what}}};
}

// What a template may put into its stages' environments (registry.h: env_key_refusal). Keys of
// services this binary does not host cannot be checked: for the platform's own templates that is
// allowed (their Jobs may run another image), for a caller's inline workflow it is an error.
ApiError check_template_env(const WorkflowTemplate& t, bool unknown_services_ok) {
  ApiError err{400, "stage environment refused", {}};
  for (const auto& st : t.stages) {
    const ServiceSpec* spec = find_service(st.service);
    if (spec == nullptr) {
      if (!unknown_services_ok)
        err.fields["stages." + st.name + ".service"] = "unknown service " + st.service;
      continue;
    }
    for (const auto& [key, value] : st.env)
      if (auto why = env_key_refusal(*spec, key))
        err.fields["stages." + st.name + ".env." + key] = *why;
  }
  return err;
}

// Server-sent events: a comment this often when nothing else was sent, so that proxies and
// clients keep the connection.
constexpr auto kKeepAliveInterval = std::chrono::seconds(15);

}  // namespace

struct QueueManager::Impl {
  bus::Bus& bus;
  store::Store& store;
  Launcher& launcher;
  QueueManagerOptions o;
  std::map<std::string, WorkflowTemplate> templates;
  std::mutex mu;
  std::map<std::string, Workflow> workflows;  // every workflow this manager knows
  std::unique_ptr<bus::Consumer> events;
  std::thread engine;
  std::atomic<bool> stopping{false};
  std::atomic<std::int64_t> events_processed{0};
  std::vector<TelemetryEvent> pending_telemetry;  // guarded by mu; written once per poll batch
  metrics::Counter& restarts = metrics::default_registry().counter(
      "sf_queue_manager_stage_restarts_total", "stages restarted by self-healing");
  metrics::Counter& telemetry_seen = metrics::default_registry().counter(
      "sf_queue_manager_telemetry_events_total", "telemetry events processed");

  Impl(bus::Bus& b, store::Store& s, Launcher& l, QueueManagerOptions opts)
      : bus(b), store(s), launcher(l), o(std::move(opts)) {
    if (!o.secrets) o.secrets = std::make_shared<runtime::SecretStore>();
    for (auto it = o.base_env.begin(); it != o.base_env.end();) {
      if (runtime::is_secret(it->first, it->second)) {
        o.secrets->set(it->first, it->second);
        it = o.base_env.erase(it);
      } else {
        ++it;
      }
    }
  }

  // ------------------------------------------------------------------------------ live updates
  // What the live routes (install_routes: SSE and WebSocket) are told: every telemetry event
  // stored for a managed queue and every change of a workflow's state. Each subscriber has a
  // bounded queue; one that lags by more than kMaxSubscriberQueue notes is dropped (its queue
  // cleared, `dropped` set) instead of growing without bound.
  struct Note {
    bool telemetry = false;  // else a workflow state
    std::string queue_id;
    std::string json;    // encode_telemetry(event) / to_json(workflow)
    std::string status;  // the workflow's status (workflow notes)
  };
  struct Subscriber {
    std::mutex m;
    std::condition_variable cv;
    std::deque<Note> queue;
    bool dropped = false;

    // Waits up to `timeout` for notes; false once dropped.
    bool take(std::chrono::milliseconds timeout, std::deque<Note>* out) {
      std::unique_lock lock(m);
      cv.wait_for(lock, timeout, [this] { return dropped || !queue.empty(); });
      out->swap(queue);
      queue.clear();
      return !dropped;
    }
  };
  static constexpr std::size_t kMaxSubscriberQueue = 4096;
  std::mutex subscribers_mu;  // after mu
  std::vector<std::shared_ptr<Subscriber>> subscribers;
  std::map<std::string, std::string> published_state;  // queue id -> last state sent (under mu)

  // Call with `mu` held, so that what the caller reads under the same lock (stored events, the
  // workflows) and the notes that follow neither overlap nor leave a gap.
  std::shared_ptr<Subscriber> subscribe_locked() {
    auto sub = std::make_shared<Subscriber>();
    std::lock_guard lock(subscribers_mu);
    subscribers.push_back(sub);
    return sub;
  }
  void unsubscribe(const std::shared_ptr<Subscriber>& sub) {
    std::lock_guard lock(subscribers_mu);
    std::erase(subscribers, sub);
  }
  void publish_locked(const Note& note) {
    std::lock_guard lock(subscribers_mu);
    for (auto it = subscribers.begin(); it != subscribers.end();) {
      Subscriber& sub = **it;
      {
        std::lock_guard sub_lock(sub.m);
        if (sub.queue.size() >= kMaxSubscriberQueue) {
          sub.dropped = true;
          sub.queue.clear();
        } else {
          sub.queue.push_back(note);
        }
      }
      sub.cv.notify_all();
      if (sub.dropped) {
        log::warn(kLog, "live-update subscriber too slow, dropped");
        it = subscribers.erase(it);
      } else {
        ++it;
      }
    }
  }
  void publish_telemetry_locked(const TelemetryEvent& e) {
    publish_locked(Note{true, e.queue_id, runtime::encode_telemetry(e), {}});
  }
  // Publishes the workflow when its status or a stage's status, attempt or records changed.
  void publish_workflow_locked(const Workflow& w, const std::string& json) {
    std::string state = w.status;
    for (const auto& st : w.stages) {
      state += "|" + st.name + ":" + st.status + ":" + std::to_string(st.attempt) + ":" +
               std::to_string(st.records_written);
    }
    std::string& last = published_state[w.queue_id];
    if (last == state) return;
    last = std::move(state);
    publish_locked(Note{false, w.queue_id, json, w.status});
  }

  // ------------------------------------------------------------------------------ persistence
  void persist_locked(Workflow& w) {
    w.updated_at = now_s();
    WorkflowState st{w.queue_id, w.status, to_json(w), w.created_at, w.updated_at};
    if (auto r = store.upsert_workflow(st); !r)
      log::error(kLog, "cannot persist workflow",
                 {{"queue_id", w.queue_id}, {"error", r.error().message}});
    publish_workflow_locked(w, st.definition);
  }

  void history_locked(const Workflow& w, const std::string& status, const std::string& message,
                      const std::string& stage, int attempt) {
    std::string extra;
    runtime::JsonWriter j(extra);
    j.begin_object()
        .field("stage", stage)
        .field("attempt", static_cast<std::int64_t>(attempt))
        .end_object();
    TelemetryEvent e{.queue_id = w.queue_id,
                     .producer = "queue-manager",
                     .symbol = w.params.count("symbol") ? w.params.at("symbol") : "",
                     .type = w.template_name,
                     .status = status,
                     .message = message,
                     .records_written = 0,
                     .finished = false,
                     .timestamp = now_s(),
                     .extra = extra};
    if (auto r = store.append_telemetry(std::span<const TelemetryEvent>(&e, 1)); !r)
      log::error(kLog, "cannot record history",
                 {{"queue_id", w.queue_id}, {"error", r.error().message}});
    publish_telemetry_locked(e);
  }

  // --------------------------------------------------------------------------------- telemetry
  void on_event(const TelemetryEvent& e) {
    telemetry_seen.inc();
    std::lock_guard lock(mu);
    auto it = workflows.find(e.queue_id);
    if (it == workflows.end()) return;
    Workflow& w = it->second;
    // Every event of a managed queue is kept, whichever run sent it (written per poll batch).
    pending_telemetry.push_back(e);
    publish_telemetry_locked(e);
    Stage* s = nullptr;
    for (auto& st : w.stages)
      if (st.producer == e.producer) s = &st;
    if (s == nullptr || is_terminal_stage_status(s->status) || s->status == "pending") return;
    const std::string stage_before = s->status, workflow_before = w.status;
    s->last_event_at = now_s();
    s->records_written = std::max(s->records_written, e.records_written);
    if (!e.message.empty()) s->message = e.message;
    if (e.status == runtime::kStatusStarted || e.status == runtime::kStatusLoading) {
      s->status = "running";
    } else if (e.status == runtime::kStatusFinished) {
      s->status = "finished";
      s->records_written = e.records_written;
    } else if (e.status == runtime::kStatusInterrupted) {
      if (w.stop_requested)
        s->status = "interrupted";
      else
        heal_locked(w, *s, "interrupted without a stop: " + e.message);
    } else if (e.status == runtime::kStatusError) {
      heal_locked(w, *s, "error: " + e.message);
    }
    update_workflow_locked(w);
    // State changes are persisted at once; progress alone (records_written) at most once a second.
    if (s->status != stage_before || w.status != workflow_before || now_s() - w.updated_at >= 1.0)
      persist_locked(w);
  }

  void flush_telemetry_locked() {
    if (pending_telemetry.empty()) return;
    if (auto r = store.append_telemetry(pending_telemetry); !r)
      log::error(kLog, "cannot record telemetry",
                 {{"events", pending_telemetry.size()}, {"error", r.error().message}});
    pending_telemetry.clear();
  }

  // ----------------------------------------------------------------------------- self-healing
  void heal_locked(Workflow& w, Stage& s, const std::string& reason) {
    if (!s.handle.empty()) launcher.stop(s.handle);
    if (w.stop_requested) {
      s.status = "interrupted";
      return;
    }
    if (s.attempt <= o.max_restarts) {
      const double backoff = o.restart_backoff_s * std::pow(2.0, s.attempt - 1);
      s.status = "pending";
      s.next_attempt_at = now_s() + backoff;
      s.message = reason;
      restarts.inc();
      log::warn(kLog, "restarting stage",
                {{"queue_id", w.queue_id},
                 {"stage", s.name},
                 {"attempt", s.attempt + 1},
                 {"reason", reason}});
      history_locked(w, "restarting", s.name + ": " + reason, s.name, s.attempt + 1);
      return;
    }
    s.status = "failed";
    s.message = reason;
    w.status = "failed";
    w.message =
        "stage " + s.name + " failed after " + std::to_string(s.attempt) + " attempts: " + reason;
    history_locked(w, "failed", w.message, s.name, s.attempt);
    stop_all_locked(w, "workflow failed");
  }

  void stop_all_locked(Workflow& w, const std::string& why) {
    for (auto& st : w.stages) {
      if (is_terminal_stage_status(st.status)) continue;
      if (st.status == "pending") {
        st.status = "interrupted";
        continue;
      }
      runtime::ControlCommand c{"stop", w.queue_id, st.producer, now_s()};
      if (auto r = runtime::send_command(bus, o.topics, c); !r)
        log::warn(kLog, "stop command not sent", {{"queue_id", w.queue_id}, {"error", r.error()}});
      if (!st.handle.empty()) launcher.stop(st.handle);
    }
    log::info(kLog, "stopping workflow", {{"queue_id", w.queue_id}, {"why", why}});
  }

  // -------------------------------------------------------------------------------- scheduler
  bool deps_allow(const Workflow& w, const Stage& s) {
    for (const auto& a : s.after)
      if (w.stage(a)->status != "finished") return false;
    for (const auto& in : s.inputs) {
      const auto& st = w.stage(in)->status;
      if (s.start == StartMode::kAlongside) {
        if (st != "running" && st != "finished" && st != "starting") return false;
      } else if (st != "finished") {
        return false;
      }
    }
    return true;
  }

  void launch_locked(Workflow& w, Stage& s) {
    ++s.attempt;
    s.producer = s.service + "__" + s.name + "__a" + std::to_string(s.attempt);
    StageLaunch l{w.queue_id, s.name, s.service,
                  s.attempt,  s.env,  stage_secret_names(s.service, o.secrets->names()),
                  o.secrets};
    l.env["TELEMETRY_PRODUCER_ID"] = s.producer;
    l.env["QUEUE_CONTROL_TOPIC"] = o.topics.control;
    l.env["QUEUE_EVENTS_TOPIC"] = o.topics.events;
    if (!l.env.count("TELEMETRY_INTERVAL")) l.env["TELEMETRY_INTERVAL"] = o.telemetry_interval;
    if (!l.env.count("HTTP_PORT")) l.env["HTTP_PORT"] = "-1";
    s.started_at = s.last_event_at = now_s();
    auto h = launcher.start(l);
    if (!h) {
      s.handle.clear();
      heal_locked(w, s, "launch failed: " + h.error());
      return;
    }
    s.handle = *h;
    s.status = "starting";
    log::info(kLog, "stage launched",
              {{"queue_id", w.queue_id},
               {"stage", s.name},
               {"attempt", s.attempt},
               {"handle", s.handle}});
  }

  void update_workflow_locked(Workflow& w) {
    if (w.status == "failed") {
      bool all_ended = std::all_of(w.stages.begin(), w.stages.end(), [](const Stage& s) {
        return is_terminal_stage_status(s.status);
      });
      (void)all_ended;
      return;
    }
    const bool all_finished = std::all_of(w.stages.begin(), w.stages.end(),
                                          [](const Stage& s) { return s.status == "finished"; });
    const bool all_ended = std::all_of(w.stages.begin(), w.stages.end(), [](const Stage& s) {
      return is_terminal_stage_status(s.status);
    });
    const std::string before = w.status;
    if (all_finished)
      w.status = "finished";
    else if (w.stop_requested && all_ended)
      w.status = "interrupted";
    else if (w.status == "pending")
      w.status = "running";
    if (w.status != before && is_terminal_stage_status(w.status)) {
      history_locked(w, w.status, "workflow " + w.status, "", 0);
      log::info(kLog, "workflow ended", {{"queue_id", w.queue_id}, {"status", w.status}});
    }
  }

  void tick() {
    std::lock_guard lock(mu);
    const double now = now_s();
    for (auto& [id, w] : workflows) {
      if (w.status == "finished" || w.status == "interrupted") continue;
      bool changed = false;
      for (auto& s : w.stages) {
        if (w.status == "failed" || w.stop_requested) {
          // Stages still running after the grace are killed through the launcher.
          if (!is_terminal_stage_status(s.status) && s.status != "pending" && !s.handle.empty()) {
            auto st = launcher.status(s.handle);
            if (st.state == RunState::kExited || st.state == RunState::kUnknown ||
                st.state == RunState::kFailed) {
              if (now - s.last_event_at > o.exit_grace_s) {
                s.status = "interrupted";
                changed = true;
              }
            } else if (now - w.updated_at > o.stop_grace_s) {
              launcher.stop(s.handle);
            }
          }
          continue;
        }
        if (s.status == "pending") {
          if (now >= s.next_attempt_at && deps_allow(w, s)) {
            launch_locked(w, s);
            changed = true;
          }
        } else if (s.status == "starting" || s.status == "running") {
          auto st = launcher.status(s.handle);
          const bool gone = st.state == RunState::kExited || st.state == RunState::kFailed ||
                            st.state == RunState::kUnknown;
          if (gone && now - s.last_event_at > o.exit_grace_s) {
            heal_locked(w, s,
                        st.exit_code ? "exited with code " + std::to_string(*st.exit_code) +
                                           " without a final event"
                                     : "run lost (" + std::string(to_string(st.state)) + ")");
            changed = true;
          } else if (now - s.last_event_at > o.stall_timeout_s) {
            heal_locked(
                w, s,
                "no telemetry for " + std::to_string(static_cast<int>(o.stall_timeout_s)) + " s");
            changed = true;
          }
        }
      }
      const std::string before = w.status;
      update_workflow_locked(w);
      if (changed || w.status != before) persist_locked(w);
    }
  }

  void run_engine() {
    while (!stopping) {
      auto msgs = events->poll(o.tick, 1000);
      if (msgs) {
        for (const auto& m : *msgs) {
          auto e = runtime::decode_telemetry(m.value);
          if (e) on_event(*e);
        }
        {
          std::lock_guard lock(mu);
          flush_telemetry_locked();
        }
        events_processed += static_cast<std::int64_t>(msgs->size());
        if (!msgs->empty()) (void)events->commit();
      }
      tick();
    }
  }

  // ---------------------------------------------------------------------------------- startup
  Result<void, std::string> start() {
    std::string dir = o.workflows_dir.empty() ? default_workflows_dir() : o.workflows_dir;
    if (dir.empty())
      return unexpected(std::string("no workflows directory (set QM_WORKFLOWS_DIR)"));
    auto t = load_templates(dir);
    if (!t) return unexpected(t.error());
    templates = std::move(*t);
    for (const auto& [name, tmpl] : templates) {
      ApiError refused = check_template_env(tmpl, true);
      if (refused.fields.empty()) continue;
      std::string why;
      for (const auto& [field, reason] : refused.fields)
        why += (why.empty() ? "" : "; ") + field + ": " + reason;
      return unexpected(dir + "/" + name + ".json: " + why);
    }
    auto stored = store.workflows();
    if (!stored) return unexpected("cannot read workflows: " + stored.error().message);
    int scrubbed_workflows = 0, scrubbed_entries = 0;
    for (const auto& st : *stored) {
      auto w = workflow_from_json(st.definition);
      if (!w) {
        log::warn(kLog, "unreadable stored workflow",
                  {{"queue_id", st.queue_id}, {"error", w.error()}});
        continue;
      }
      // Migration: records written before credentials were kept out of stage environments.
      if (const int removed = scrub_secrets(*w); removed > 0) {
        WorkflowState clean{w->queue_id, w->status, to_json(*w), w->created_at, w->updated_at};
        if (auto r = store.upsert_workflow(clean); !r)
          return unexpected("cannot scrub credentials from stored workflow " + w->queue_id + ": " +
                            r.error().message);
        ++scrubbed_workflows;
        scrubbed_entries += removed;
      }
      if (w->status == "running" || w->status == "pending") {
        // Runs of a previous process: the launcher tells whether they still live (local
        // processes and Jobs outlive a manager restart; in-process threads do not, and their
        // stages are restarted by self-healing).
        for (auto& s : w->stages)
          if (s.status == "starting" || s.status == "running") s.last_event_at = now_s();
        log::info(kLog, "resuming workflow", {{"queue_id", w->queue_id}});
      }
      workflows.emplace(w->queue_id, std::move(*w));
    }
    if (scrubbed_workflows > 0)
      log::warn(kLog, "credentials scrubbed from stored workflows",
                {{"workflows", scrubbed_workflows}, {"entries", scrubbed_entries}});
    bus::SubscribeOptions so;
    so.topics = {o.topics.events};
    so.group = o.group;
    so.start = bus::StartFrom::kLatest;
    (void)bus.create_topic(o.topics.events, 3);
    auto c = bus.subscribe(so);
    if (!c) return unexpected("cannot subscribe to " + o.topics.events + ": " + c.error().message);
    events = std::move(*c);
    engine = std::thread([this] { run_engine(); });
    return {};
  }
};

QueueManager::QueueManager(bus::Bus& bus, store::Store& store, Launcher& launcher,
                           QueueManagerOptions options)
    : impl_(std::make_unique<Impl>(bus, store, launcher, std::move(options))) {}

QueueManager::~QueueManager() {
  shutdown();
}

Result<void, std::string> QueueManager::start() {
  return impl_->start();
}

void QueueManager::shutdown() {
  if (impl_->stopping.exchange(true)) return;
  if (impl_->engine.joinable()) impl_->engine.join();
  if (impl_->events) impl_->events->close();
}

std::int64_t QueueManager::events_processed() const {
  return impl_->events_processed.load();
}

std::vector<std::string> QueueManager::template_names() {
  std::vector<std::string> out;
  for (const auto& [name, t] : impl_->templates) out.push_back(name);
  return out;
}

Result<Workflow, ApiError> QueueManager::start_workflow(
    const std::string& template_name, const std::map<std::string, std::string>& params,
    const std::string& queue_id) {
  auto it = impl_->templates.find(template_name);
  if (it == impl_->templates.end()) {
    std::string known;
    for (const auto& n : template_names()) known += (known.empty() ? "" : ", ") + n;
    return unexpected(
        bad_field("template", "unknown template \"" + template_name + "\" (known: " + known + ")"));
  }
  return start_workflow(it->second, params, queue_id);
}

Result<Workflow, ApiError> QueueManager::start_workflow(
    const WorkflowTemplate& t, const std::map<std::string, std::string>& params,
    const std::string& queue_id) {
  // The platform's own templates were checked when they were loaded.
  const bool own = impl_->templates.count(t.name) && &impl_->templates.at(t.name) == &t;
  if (!own) {
    ApiError refused = check_template_env(t, false);
    if (!refused.fields.empty()) return unexpected(refused);
  }
  auto w = instantiate(t, params, impl_->o.base_env, queue_id);
  if (!w) {
    // "from must be ...": the parameter the message starts with is the field.
    ApiError refused{400, w.error(), {}};
    const std::string first = w.error().substr(0, w.error().find(' '));
    if (t.parameters.count(first)) refused.fields[first] = w.error();
    return unexpected(refused);
  }
  // Every stage's configuration must parse now (types, durations, required options): a bad
  // value is the caller's 400, not a stage that fails three times later.
  for (const auto& s : w->stages) {
    const ServiceSpec* spec = find_service(s.service);
    if (spec == nullptr) continue;
    auto c = stage_config(*spec, s.env);
    if (c && spec->check != nullptr) {
      if (auto checked = spec->check(*c); !checked) c = unexpected(checked.error());
    }
    if (!c)
      return unexpected(
          ApiError{400, "stage " + s.name + ": " + c.error(), {{"stages." + s.name, c.error()}}});
  }
  std::lock_guard lock(impl_->mu);
  if (impl_->workflows.count(w->queue_id))
    return unexpected(
        ApiError{409, "queue " + w->queue_id + " exists", {{"queue_id", "already used"}}});
  w->status = "running";
  // The in-process bus keeps a topic's messages only while some group still has to read them:
  // register every reading stage's group now, so a stage that starts after its input was
  // consumed by another stage still reads it from the beginning (Kafka keeps data by retention).
  if (impl_->bus.kind() == "inproc") {
    for (const auto& s : w->stages) {
      if (s.inputs.empty()) continue;
      bus::SubscribeOptions so;
      so.group = s.env.at("CONSUMER_GROUP");
      so.start = bus::StartFrom::kEarliest;
      for (const auto& in : s.inputs) so.topics.push_back(w->stage(in)->output_topic);
      if (auto c = impl_->bus.subscribe(so)) (*c)->close();
    }
  }
  Workflow& stored = impl_->workflows.emplace(w->queue_id, std::move(*w)).first->second;
  impl_->history_locked(stored, "started", "workflow " + stored.template_name + " started", "", 0);
  impl_->persist_locked(stored);
  log::info(kLog, "workflow started",
            {{"queue_id", stored.queue_id}, {"template", stored.template_name}});
  return stored;
}

Result<void, ApiError> QueueManager::stop_workflow(const std::string& queue_id) {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->workflows.find(queue_id);
  if (it == impl_->workflows.end()) return unexpected(ApiError{404, "no queue " + queue_id, {}});
  Workflow& w = it->second;
  if (is_terminal_stage_status(w.status)) return {};
  w.stop_requested = true;
  impl_->history_locked(w, "stopping", "stop requested", "", 0);
  impl_->stop_all_locked(w, "stop requested");
  impl_->update_workflow_locked(w);
  impl_->persist_locked(w);
  return {};
}

std::optional<Workflow> QueueManager::workflow(const std::string& queue_id) {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->workflows.find(queue_id);
  if (it == impl_->workflows.end()) return std::nullopt;
  return it->second;
}

std::vector<Workflow> QueueManager::workflows(const std::string& status, const std::string& symbol,
                                              std::size_t offset, std::size_t limit) {
  std::lock_guard lock(impl_->mu);
  std::vector<const Workflow*> match;
  for (const auto& [id, w] : impl_->workflows) {
    if (!status.empty() && w.status != status) continue;
    if (!symbol.empty()) {
      auto it = w.params.find("symbol");
      if (it == w.params.end() || it->second != symbol) continue;
    }
    match.push_back(&w);
  }
  // Newest first; only the requested page is copied.
  std::sort(match.begin(), match.end(),
            [](const Workflow* a, const Workflow* b) { return a->created_at > b->created_at; });
  std::vector<Workflow> out;
  for (std::size_t i = offset; i < match.size() && out.size() < limit; ++i)
    out.push_back(*match[i]);
  return out;
}

// ------------------------------------------------------------------------------------- the API

namespace {

// Request bodies: a JSON object with only the known keys, string values (params: an object of
// strings). Every problem is reported by field.
Result<std::map<std::string, std::string>, ApiError> parse_start_body(std::string_view body,
                                                                      std::string* template_name,
                                                                      std::string* queue_id,
                                                                      std::string* inline_template,
                                                                      bool template_required) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (body.empty()) body = "{}";
  if (parser.parse(body.data(), body.size()).get(doc))
    return unexpected(ApiError{400, "body is not valid JSON", {}});
  simdjson::dom::object obj;
  if (doc.get_object().get(obj)) return unexpected(ApiError{400, "body must be a JSON object", {}});
  std::map<std::string, std::string> params;
  ApiError err{400, "invalid request", {}};
  static const std::set<std::string> kTop = {"template", "queue_id",   "symbol", "from",    "to",
                                             "interval", "time_range", "params", "workflow"};
  for (auto [k, v] : obj) {
    const std::string key(k);
    if (!kTop.count(key)) {
      err.fields[key] = "unknown field";
      continue;
    }
    if (key == "params") {
      simdjson::dom::object po;
      if (v.get_object().get(po)) {
        err.fields[key] = "must be an object of strings";
        continue;
      }
      for (auto [pk, pv] : po) {
        std::string_view s;
        if (pv.get_string().get(s))
          err.fields["params." + std::string(pk)] = "must be a string";
        else
          params[std::string(pk)] = std::string(s);
      }
      continue;
    }
    if (key == "workflow") {
      if (!v.is_object())
        err.fields[key] = "must be a template object";
      else
        *inline_template = simdjson::to_string(v);
      continue;
    }
    std::string_view s;
    if (v.get_string().get(s)) {
      err.fields[key] = "must be a string";
      continue;
    }
    if (s.size() > 200) {
      err.fields[key] = "too long";
      continue;
    }
    if (key == "template")
      *template_name = std::string(s);
    else if (key == "queue_id")
      *queue_id = std::string(s);
    else if (key == "time_range") {
      const auto colon = s.find(':');
      if (colon == std::string_view::npos)
        err.fields[key] = "must be FROM:TO";
      else {
        params["from"] = std::string(s.substr(0, colon));
        params["to"] = std::string(s.substr(colon + 1));
      }
    } else
      params[key] = std::string(s);
  }
  if (template_required && template_name->empty() && inline_template->empty())
    err.fields["template"] = "required (or an inline \"workflow\")";
  if (!queue_id->empty()) {
    const bool ok =
        queue_id->size() <= 100 && std::all_of(queue_id->begin(), queue_id->end(), [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
        });
    if (!ok) err.fields["queue_id"] = "must be [a-z0-9-]{1,100}";
  }
  if (!err.fields.empty()) return unexpected(err);
  return params;
}

std::string workflow_summary_json(const Workflow& w) {
  return to_json(w);
}

}  // namespace

void QueueManager::install_routes(runtime::HttpServer& server) {
  Impl* p = impl_.get();
  // The routes' access (read for GET, operate for POST) is checked by the server before a handler
  // runs; an inline workflow (a caller-written DAG) needs admin on top.
  auto start = [this](const runtime::HttpRequest& r, const std::string& forced_template) {
    std::string tname = forced_template, qid, inline_t;
    auto params = parse_start_body(r.body, &tname, &qid, &inline_t, forced_template.empty());
    if (!params) return error_response(params.error());
    if (!forced_template.empty()) tname = forced_template;
    Result<Workflow, ApiError> w = unexpected(ApiError{});
    if (!inline_t.empty()) {
      if (r.caller.access < runtime::Access::kAdmin)
        return error_response(ApiError{
            403, "an inline workflow needs the admin scope", {{"workflow", "admin only"}}});
      auto t = parse_template(inline_t);
      if (!t) return error_response(bad_field("workflow", t.error()));
      w = start_workflow(*t, *params, qid);
    } else {
      w = start_workflow(tname, *params, qid);
    }
    if (!w) return error_response(w.error());
    return runtime::HttpResponse::json(201, workflow_summary_json(*w));
  };
  server.route("POST", "/queues", [start](const auto& r) { return start(r, ""); });
  server.route("POST", "/queues/start", [start](const auto& r) { return start(r, ""); });
  server.route("POST", "/queues/start-pipeline", [start](const auto& r) { return start(r, ""); });
  server.route("POST", "/queues/start-test-flow",
               [start](const auto& r) { return start(r, "test-flow"); });

  auto list = [this](const runtime::HttpRequest& r) {
    std::string status, symbol;
    long limit = 100, offset = 0;
    for (const auto& [k, v] : r.query) {
      if (k == "status") {
        status = v;
      } else if (k == "symbol") {
        symbol = v;
      } else if (k == "limit" || k == "offset") {
        char* end = nullptr;
        const long n = std::strtol(v.c_str(), &end, 10);
        if (end == v.c_str() || *end != '\0' || n < 0 || (k == "limit" && (n < 1 || n > 1000)))
          return error_response(bad_field(k, k == "limit" ? "must be 1..1000" : "must be >= 0"));
        (k == "limit" ? limit : offset) = n;
      } else {
        return error_response(bad_field(k, "unknown query parameter"));
      }
    }
    std::string out = "[";
    bool first = true;
    // Newest first, a page at a time (limit, default 100; offset).
    for (const auto& w : workflows(status, symbol, static_cast<std::size_t>(offset),
                                   static_cast<std::size_t>(limit))) {
      if (!first) out += ",";
      first = false;
      out += workflow_summary_json(w);
    }
    out += "]";
    return runtime::HttpResponse::json(200, out);
  };
  server.route("GET", "/queues", list);
  server.route("GET", "/queues/list", list);

  server.route("GET", "/queues/{id}", [this](const runtime::HttpRequest& r) {
    auto w = workflow(r.path_params.at("id"));
    if (!w) return runtime::HttpResponse::json(404, R"({"error":"no such queue"})");
    return runtime::HttpResponse::json(200, to_json(*w));
  });

  // GET /queues/{id}/events: the stored telemetry as a JSON array; with ?follow=1 server-sent
  // events: the stored ones, then the new ones as they come, until the workflow ends.
  server.route_stream(
      "GET", "/queues/{id}/events",
      [this, p](const runtime::HttpRequest& r, runtime::StreamWriter& out) {
        auto reply = [&out](int status, const std::string& body) {
          out.send_headers(status, "application/json");
          out.write(body);
        };
        const std::string id = r.path_params.at("id");
        double after = -1;
        bool follow = false;
        for (const auto& [k, v] : r.query) {
          if (k == "after") {
            char* end = nullptr;
            after = std::strtod(v.c_str(), &end);
            if (end == v.c_str() || *end != '\0')
              return reply(400, error_json(bad_field("after", "must be a number (unix seconds)")));
          } else if (k == "follow") {
            if (v == "1" || v == "true")
              follow = true;
            else if (v != "0" && v != "false")
              return reply(400, error_json(bad_field("follow", "must be 1, 0, true or false")));
          } else {
            return reply(400, error_json(bad_field(k, "unknown query parameter")));
          }
        }
        std::shared_ptr<Impl::Subscriber> sub;
        std::vector<TelemetryEvent> stored;
        std::string status;
        {
          std::lock_guard lock(p->mu);
          auto it = p->workflows.find(id);
          if (it == p->workflows.end()) return reply(404, R"({"error":"no such queue"})");
          status = it->second.status;
          auto events = p->store.telemetry(id);
          if (!events) return reply(500, R"({"error":"store read failed"})");
          stored = std::move(*events);
          if (follow && !is_terminal_stage_status(status)) sub = p->subscribe_locked();
        }
        if (!follow) {
          std::string body = "[";
          bool first = true;
          for (const auto& e : stored) {
            if (e.timestamp <= after) continue;
            if (!first) body += ",";
            first = false;
            body += runtime::encode_telemetry(e);
          }
          body += "]";
          return reply(200, body);
        }
        struct Unsubscribe {
          Impl* p;
          std::shared_ptr<Impl::Subscriber> sub;
          ~Unsubscribe() {
            if (sub) p->unsubscribe(sub);
          }
        } unsubscribe{p, sub};
        runtime::HttpHeaders extra;
        extra.set("X-Accel-Buffering", "no");
        out.send_headers(200, "text/event-stream", extra);
        auto send_event = [&out](std::string_view json) {
          std::string chunk = "event: telemetry\ndata: ";
          chunk += json;
          chunk += "\n\n";
          return out.write(chunk);
        };
        auto send_end = [&out, &id](const std::string& final_status) {
          std::string data;
          runtime::JsonWriter j(data);
          j.begin_object().field("queue_id", id).field("status", final_status).end_object();
          out.write("event: end\ndata: " + data + "\n\n");
        };
        for (const auto& e : stored) {
          if (e.timestamp <= after) continue;
          if (!send_event(runtime::encode_telemetry(e))) return;
        }
        if (!sub) return send_end(status);
        auto last_write = std::chrono::steady_clock::now();
        std::deque<Impl::Note> notes;
        while (!out.closed()) {
          const bool alive = sub->take(std::chrono::milliseconds(200), &notes);
          std::string ended;
          for (const auto& n : notes) {
            if (n.queue_id != id) continue;
            if (n.telemetry) {
              if (!send_event(n.json)) return;
              last_write = std::chrono::steady_clock::now();
            } else if (is_terminal_stage_status(n.status)) {
              ended = n.status;
            }
          }
          notes.clear();
          if (!ended.empty()) return send_end(ended);
          if (!alive) {
            out.write("event: error\ndata: {\"error\":\"client too slow, events dropped\"}\n\n");
            return;
          }
          if (std::chrono::steady_clock::now() - last_write >= kKeepAliveInterval) {
            out.write(": keep-alive\n\n");
            last_write = std::chrono::steady_clock::now();
          }
        }
      });

  // WebSocket /ws/queues: {"type":"workflows","workflows":[...]} at connect, then
  // {"type":"workflow","workflow":{...}} on every change; {"subscribe":"<queue_id>"} narrows to
  // one queue ("" or "*": all again).
  server.route_websocket(
      "/ws/queues", [this, p](const runtime::HttpRequest&, runtime::WebSocketSession& ws) {
        std::shared_ptr<Impl::Subscriber> sub;
        std::vector<Workflow> current;
        {
          std::lock_guard lock(p->mu);
          sub = p->subscribe_locked();
          for (const auto& [id, w] : p->workflows) current.push_back(w);
        }
        struct Unsubscribe {
          Impl* p;
          std::shared_ptr<Impl::Subscriber> sub;
          ~Unsubscribe() { p->unsubscribe(sub); }
        } unsubscribe{p, sub};
        std::sort(current.begin(), current.end(),
                  [](const Workflow& a, const Workflow& b) { return a.created_at > b.created_at; });
        std::string list = R"({"type":"workflows","workflows":[)";
        for (std::size_t i = 0; i < current.size(); ++i)
          list += (i ? "," : "") + to_json(current[i]);
        list += "]}";
        if (!ws.send(list)) return;
        std::string filter;
        std::deque<Impl::Note> notes;
        while (!ws.closed()) {
          while (auto message = ws.receive(std::chrono::milliseconds(0))) {
            simdjson::dom::parser parser;
            simdjson::dom::element doc;
            std::string_view wanted;
            if (parser.parse(*message).get(doc) || doc["subscribe"].get_string().get(wanted)) {
              ws.send(R"({"type":"error","error":"expected {\"subscribe\":\"<queue_id>\"}"})");
              continue;
            }
            filter = wanted == "*" ? "" : std::string(wanted);
            std::string ack;
            runtime::JsonWriter j(ack);
            j.begin_object().field("type", "subscribed").field("queue_id", filter).end_object();
            ws.send(ack);
            if (!filter.empty()) {
              if (auto w = workflow(filter))
                ws.send(R"({"type":"workflow","workflow":)" + to_json(*w) + "}");
            }
          }
          const bool alive = sub->take(std::chrono::milliseconds(200), &notes);
          for (const auto& n : notes) {
            if (n.telemetry || (!filter.empty() && n.queue_id != filter)) continue;
            if (!ws.send(R"({"type":"workflow","workflow":)" + n.json + "}")) return;
          }
          notes.clear();
          if (!alive) {
            ws.send(R"({"type":"error","error":"client too slow, updates dropped"})");
            return;
          }
        }
      });

  auto stop = [this](const runtime::HttpRequest& r, std::string id) {
    if (id.empty()) {
      simdjson::dom::parser parser;
      simdjson::dom::element doc;
      std::string_view qid;
      if (parser.parse(r.body.data(), r.body.size()).get(doc) ||
          doc["queue_id"].get_string().get(qid))
        return error_response(bad_field("queue_id", "required (a string)"));
      id = std::string(qid);
    }
    auto s = stop_workflow(id);
    if (!s) return error_response(s.error());
    return runtime::HttpResponse::json(202, R"({"queue_id":")" + id + R"(","status":"stopping"})");
  };
  server.route("POST", "/queues/{id}/stop",
               [stop](const auto& r) { return stop(r, r.path_params.at("id")); });
  server.route("POST", "/queues/stop", [stop](const auto& r) { return stop(r, ""); });

  server.route("GET", "/workflows", [this](const runtime::HttpRequest&) {
    std::string out = "[";
    bool first = true;
    for (const auto& [name, t] : impl_->templates) {
      if (!first) out += ",";
      first = false;
      std::string item;
      runtime::JsonWriter w(item);
      w.begin_object().field("name", name).field("description", t.description);
      w.key("parameters").begin_array();
      for (const auto& [pn, ps] : t.parameters) w.value(pn);
      w.end_array();
      // The same parameters with what a form needs (added beside the names, which older clients
      // read).
      w.key("parameter_specs").begin_array();
      for (const auto& [pn, ps] : t.parameters) {
        w.begin_object().field("name", pn).field("required", ps.required);
        if (ps.default_value.empty())
          w.field_null("default");
        else
          w.field("default", ps.default_value);
        w.field("help", ps.help).end_object();
      }
      w.end_array();
      w.key("stages").begin_array();
      for (const auto& s : t.stages) w.value(s.name);
      w.end_array().end_object();
      out += item;
    }
    out += "]";
    return runtime::HttpResponse::json(200, out);
  });

  server.route(
      "GET", "/health/startup",
      [](const runtime::HttpRequest&) {
        return runtime::HttpResponse::json(200, R"({"status":"started"})");
      },
      runtime::Access::kPublic);

  server.route("GET", "/openapi.json", [](const runtime::HttpRequest&) {
    static const char* kSpec =
        R"spec({"openapi":"3.0.3","info":{"title":"StreamForge queue-manager","version":"1"},
"components":{"securitySchemes":{"bearer":{"type":"http","scheme":"bearer","description":"static token or OIDC access token; scopes read (GET), operate (start/stop), admin (inline workflows); required on every route but /health/* once configured"}}},
"security":[{"bearer":[]}],
"paths":{
"/queues":{"get":{"summary":"list workflows","parameters":[{"name":"status","in":"query","schema":{"type":"string"}},{"name":"symbol","in":"query","schema":{"type":"string"}}],"responses":{"200":{"description":"workflows"}}},
 "post":{"summary":"start a workflow from a template","security":[{"bearer":[]}],"requestBody":{"content":{"application/json":{"schema":{"type":"object","additionalProperties":false,"properties":{"template":{"type":"string"},"queue_id":{"type":"string"},"symbol":{"type":"string"},"from":{"type":"string"},"to":{"type":"string"},"interval":{"type":"string"},"time_range":{"type":"string"},"params":{"type":"object","additionalProperties":{"type":"string"}},"workflow":{"type":"object"}}}}}},"responses":{"201":{"description":"started"},"400":{"description":"bad request, fields named (a stage env key that is not the caller's to set among them)"},"401":{"description":"no or invalid token"},"403":{"description":"scope too low (inline workflows need admin)"},"409":{"description":"queue_id in use"}}}},
"/queues/{id}":{"get":{"summary":"one workflow with its stages","responses":{"200":{"description":"workflow"},"404":{"description":"unknown"}}}},
"/queues/{id}/events":{"get":{"summary":"telemetry history; with follow=1 server-sent events until the workflow ends","parameters":[{"name":"after","in":"query","schema":{"type":"number"}},{"name":"follow","in":"query","schema":{"type":"string","enum":["0","1","true","false"]}}],"responses":{"200":{"description":"events: application/json, or text/event-stream with follow"}}}},
"/queues/{id}/stop":{"post":{"summary":"stop a workflow","security":[{"bearer":[]}],"responses":{"202":{"description":"stopping"},"404":{"description":"unknown"}}}},
"/workflows":{"get":{"summary":"templates","responses":{"200":{"description":"templates"}}}},
"/queues/start":{"post":{"summary":"alias of POST /queues"}},
"/queues/start-pipeline":{"post":{"summary":"alias of POST /queues"}},
"/queues/start-test-flow":{"post":{"summary":"POST /queues with template test-flow"}},
"/queues/list":{"get":{"summary":"alias of GET /queues"}},
"/queues/stop":{"post":{"summary":"stop with {\"queue_id\"} in the body"}}}})spec";
    return runtime::HttpResponse::json(200, kSpec);
  });
}

}  // namespace sf::services::qm
