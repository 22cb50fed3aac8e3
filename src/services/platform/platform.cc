#include "services/platform/platform.h"

#include <simdjson.h>

#include <atomic>
#include <condition_variable>
#include <iostream>
#include <list>
#include <mutex>
#include <set>
#include <thread>

#include "bus/inproc_bus.h"
#include "core/time.h"
#include "runtime/api_auth.h"
#include "runtime/http_server.h"
#include "runtime/json_writer.h"
#include "runtime/log.h"
#include "runtime/metrics.h"
#include "runtime/service.h"
#include "runtime/signals.h"
#include "services/queue_manager/launchers.h"
#include "services/visualizer/dashboard.h"

namespace sf::services {
namespace {

constexpr const char* kLogger = "platform";

struct HostedWorker {
  std::unique_ptr<runtime::Worker> worker;
  std::thread thread;
  std::atomic<bool> done{false};
  std::atomic<int> exit_code{0};
};

// Parses a JSON object body; only `allowed` keys may appear.
Result<simdjson::dom::object, std::string> parse_body(
    simdjson::dom::parser& parser, const std::string& body,
    std::initializer_list<std::string_view> allowed) {
  simdjson::dom::element root;
  if (auto ec = parser.parse(body).get(root))
    return unexpected(std::string("malformed JSON body: ") + simdjson::error_message(ec));
  simdjson::dom::object obj;
  if (root.get_object().get(obj)) return unexpected(std::string("body must be a JSON object"));
  for (auto [key, value] : obj) {
    bool ok = false;
    for (auto a : allowed) ok |= key == a;
    if (!ok) return unexpected("unknown field '" + std::string(key) + "'");
  }
  return obj;
}

}  // namespace

struct Platform::Impl {
  PlatformOptions options;
  std::unique_ptr<bus::Bus> bus;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<runtime::HttpServer> http;
  std::thread recorder;
  std::atomic<bool> stopping{false};
  std::atomic<std::int64_t> recorded{0};
  std::mutex workers_mu;
  std::list<HostedWorker> workers;
  std::unique_ptr<qm::InProcessLauncher> launcher;
  std::unique_ptr<qm::QueueManager> qm;
  std::unique_ptr<visualizer::Dashboard> dashboard;  // the page and its data (/ws/market, ...)

  void record_telemetry(std::unique_ptr<bus::Consumer> consumer) {
    auto& recorded_total = metrics::default_registry().counter(
        "sf_platform_telemetry_recorded_total", "Telemetry events persisted to the store");
    auto& rejected_total = metrics::default_registry().counter(
        "sf_platform_telemetry_rejected_total", "Telemetry records sent to the dead-letter topic");
    std::vector<TelemetryEvent> batch;
    while (!stopping.load()) {
      auto messages = consumer->poll(std::chrono::milliseconds(100), 1000);
      if (!messages) {
        if (messages.error().code == bus::BusErrc::kClosed) break;
        continue;
      }
      batch.clear();
      for (const auto& m : *messages) {
        auto e = runtime::decode_telemetry(m.value);
        if (!e) {
          // Dead-letter the record with its reason and source offset; keep going.
          std::string dlq;
          runtime::JsonWriter w(dlq);
          w.begin_object()
              .field("reason", e.error())
              .field("topic", m.topic)
              .field("partition", m.partition)
              .field("offset", m.offset)
              .field("value", m.value)
              .end_object();
          (void)bus->publish(options.topics.events + ".dlq", m.key, dlq);
          rejected_total.inc();
          log::warn(kLogger, "telemetry record dead-lettered",
                    {{"reason", e.error()}, {"offset", m.offset}});
          continue;
        }
        batch.push_back(std::move(e).value());
      }
      if (!batch.empty()) {
        // Commit only after the store has the batch: a crash replays it, and the store's
        // natural key makes the replay harmless.
        auto w = store->append_telemetry(batch);
        if (!w) {
          log::error(kLogger, "cannot persist telemetry", {{"error", w.error().message}});
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
          continue;  // not committed: read again
        }
        recorded_total.inc(batch.size());
      }
      if (auto c = consumer->commit(); c) recorded += static_cast<std::int64_t>(messages->size());
    }
    consumer->close();
  }

  runtime::HttpResponse control(const runtime::HttpRequest& req) {
    simdjson::dom::parser parser;
    auto body = parse_body(parser, req.body,
                           {"command", "queue_id", "target", "expect_pong", "timeout_ms"});
    if (!body) return runtime::HttpResponse::error(400, body.error());
    std::string_view command, queue_id, target;
    bool expect_pong = false;
    std::int64_t timeout_ms = 10000;
    auto obj = *body;
    if (obj["command"].get_string().get(command))
      return runtime::HttpResponse::error(400, "field 'command': required string");
    if (command != "stop" && command != "ping" && command != "start")
      return runtime::HttpResponse::error(400, "field 'command': must be start, stop or ping");
    if (obj["queue_id"].get_string().get(queue_id) || queue_id.empty())
      return runtime::HttpResponse::error(400, "field 'queue_id': required non-empty string");
    auto t = obj["target"];
    if (t.error() == simdjson::SUCCESS && t.get_string().get(target))
      return runtime::HttpResponse::error(400, "field 'target': must be a string");
    auto e = obj["expect_pong"];
    if (e.error() == simdjson::SUCCESS && e.get_bool().get(expect_pong))
      return runtime::HttpResponse::error(400, "field 'expect_pong': must be a boolean");
    auto to = obj["timeout_ms"];
    if (to.error() == simdjson::SUCCESS &&
        (to.get_int64().get(timeout_ms) || timeout_ms <= 0 || timeout_ms > 60000))
      return runtime::HttpResponse::error(400, "field 'timeout_ms': integer in 1..60000");

    if (command == "ping" && expect_pong) {
      auto reply = runtime::ping(*bus, options.topics, std::string(queue_id), std::string(target),
                                 std::chrono::milliseconds(timeout_ms));
      if (!reply) return runtime::HttpResponse::error(504, reply.error());
      std::string out;
      runtime::JsonWriter w(out);
      w.begin_object()
          .field("queue_id", queue_id)
          .field("producer", reply->pong.producer)
          .field("sent_at", reply->sent_at)
          .field("ponged_at", reply->ponged_at)
          .field("rtt_ms", reply->rtt_ms)
          .end_object();
      return runtime::HttpResponse::json(200, out);
    }
    runtime::ControlCommand cmd{.command = std::string(command),
                                .queue_id = std::string(queue_id),
                                .target = std::string(target),
                                .sent_at = now_unix_seconds()};
    if (auto s = runtime::send_command(*bus, options.topics, cmd); !s)
      return runtime::HttpResponse::error(503, s.error());
    return runtime::HttpResponse::json(202, runtime::encode_command(cmd));
  }

  runtime::HttpResponse start_dummy_route(Platform& self, const runtime::HttpRequest& req) {
    simdjson::dom::parser parser;
    auto body = parse_body(parser, req.body.empty() ? std::string("{}") : req.body,
                           {"queue_id", "symbol", "simulate_loading", "exit_after", "fail_after",
                            "exit_on_ping", "telemetry_interval"});
    if (!body) return runtime::HttpResponse::error(400, body.error());
    auto obj = *body;
    runtime::WorkerSettings s;
    s.service = "dummy-service";
    s.type = "dummy";
    s.control_topic = options.topics.control;
    s.events_topic = options.topics.events;
    std::string_view sv;
    if (obj["queue_id"].get_string().get(sv) == simdjson::SUCCESS) s.queue_id = sv;
    if (s.queue_id.empty()) s.queue_id = "dummy-" + runtime::short_id();
    if (obj["symbol"].get_string().get(sv) == simdjson::SUCCESS) s.symbol = sv;
    DummyOptions o;
    auto read_double = [&](const char* key, double* out) -> bool {
      auto v = obj[key];
      if (v.error() != simdjson::SUCCESS) return true;
      if (v.is_int64()) return *out = static_cast<double>(v.get_int64().value_unsafe()), true;
      return v.get_double().get(*out) == simdjson::SUCCESS;
    };
    auto read_bool = [&](const char* key, bool* out) -> bool {
      auto v = obj[key];
      return v.error() != simdjson::SUCCESS || v.get_bool().get(*out) == simdjson::SUCCESS;
    };
    double interval_s = 5;
    if (!read_double("exit_after", &o.exit_after_s))
      return runtime::HttpResponse::error(400, "field 'exit_after': number");
    if (!read_double("fail_after", &o.fail_after_s))
      return runtime::HttpResponse::error(400, "field 'fail_after': number");
    if (!read_double("telemetry_interval", &interval_s) || interval_s <= 0 || interval_s > 3600)
      return runtime::HttpResponse::error(400, "field 'telemetry_interval': number in (0, 3600]");
    if (!read_bool("simulate_loading", &o.simulate_loading))
      return runtime::HttpResponse::error(400, "field 'simulate_loading': boolean");
    if (!read_bool("exit_on_ping", &o.exit_on_ping))
      return runtime::HttpResponse::error(400, "field 'exit_on_ping': boolean");
    s.telemetry_interval = std::chrono::milliseconds(static_cast<std::int64_t>(interval_s * 1000));
    std::string queue_id = s.queue_id;
    std::string producer = self.start_dummy(std::move(s), o);
    std::string out;
    runtime::JsonWriter w(out);
    w.begin_object().field("queue_id", queue_id).field("producer", producer).end_object();
    return runtime::HttpResponse::json(201, out);
  }

  runtime::HttpResponse list_workers() {
    std::string out;
    runtime::JsonWriter w(out);
    w.begin_array();
    std::lock_guard lock(workers_mu);
    for (auto& h : workers) {
      const auto& s = h.worker->settings();
      w.begin_object()
          .field("service", s.service)
          .field("queue_id", s.queue_id)
          .field("producer", s.producer)
          .field("running", !h.done.load());
      if (h.done.load()) w.field("outcome", runtime::to_string(h.worker->outcome()));
      w.end_object();
    }
    w.end_array();
    return runtime::HttpResponse::json(200, out);
  }

  runtime::HttpResponse queue_telemetry(const runtime::HttpRequest& req) {
    auto events = store->telemetry(std::string(req.path_param("id")));
    if (!events) return runtime::HttpResponse::error(500, events.error().message);
    std::string out;
    runtime::JsonWriter w(out);
    w.begin_array();
    for (const auto& e : *events) w.raw(runtime::encode_telemetry(e));
    w.end_array();
    return runtime::HttpResponse::json(200, out);
  }
};

Platform::Platform(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<Platform>, std::string> Platform::start(const PlatformOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  auto store = store::open_store(options.store_url);
  if (!store)
    return unexpected("cannot open store " + store::redact_store_url(options.store_url) + ": " +
                      store.error().message);
  impl->store = std::move(store).value();
  // Closed consumer groups keep their unread messages for an hour: a workflow stage that starts
  // after another has read its input still finds it (queue-manager registers the groups).
  bus::InProcBusOptions bus_options;
  bus_options.inactive_group_retention = std::chrono::hours(1);
  impl->bus = std::make_unique<bus::InProcBus>(bus_options);
  auto consumer = impl->bus->subscribe({.topics = {options.topics.events},
                                        .group = "platform-telemetry-recorder",
                                        .start = bus::StartFrom::kEarliest,
                                        .offsets = {}});
  if (!consumer) return unexpected("cannot subscribe to telemetry: " + consumer.error().message);
  std::unique_ptr<Platform> platform(new Platform(std::move(impl)));
  Impl* p = platform->impl_.get();
  p->recorder = std::thread(
      [p, c = std::move(consumer).value()]() mutable { p->record_telemetry(std::move(c)); });

  runtime::HttpServerOptions http = options.http;
  http.bind_address = options.host;
  http.port = static_cast<std::uint16_t>(options.port);
  if (!http.authenticate && !runtime::is_loopback_host(http.bind_address))
    return unexpected("refusing to serve the API on " + http.bind_address +
                      " without credentials (docs/security.md)");
  p->http = std::make_unique<runtime::HttpServer>(http);
  Platform* self = platform.get();
  p->http->route("POST", "/api/v1/control", [p](const auto& r) { return p->control(r); });
  p->http->route("POST", "/api/v1/dummy",
                 [p, self](const auto& r) { return p->start_dummy_route(*self, r); });
  p->http->route("GET", "/api/v1/workers", [p](const auto&) { return p->list_workers(); });
  p->http->route("GET", "/api/v1/queues/{id}/telemetry",
                 [p](const auto& r) { return p->queue_telemetry(r); });
  if (options.queue_manager) {
    qm::QueueManagerOptions qo = options.qm_options;
    if (!qo.secrets) qo.secrets = std::make_shared<runtime::SecretStore>();
    p->launcher = std::make_unique<qm::InProcessLauncher>(*p->bus, qm::Embedded{p->store.get()});
    qo.topics = options.topics;
    p->qm = std::make_unique<qm::QueueManager>(*p->bus, *p->store, *p->launcher, qo);
    if (auto s = p->qm->start(); !s) return unexpected("cannot start queue-manager: " + s.error());
    p->qm->install_routes(*p->http);
  }
  p->dashboard = std::make_unique<visualizer::Dashboard>(*p->bus, *p->store);
  p->dashboard->install_routes(*p->http);
  if (auto s = p->http->start(); !s) return unexpected("cannot start HTTP server: " + s.error());
  p->http->set_ready(true);
  log::info(kLogger, "platform started",
            {{"url", p->http->base_url()},
             {"store", store::redact_store_url(options.store_url)},
             {"bus", p->bus->kind()}});
  return platform;
}

Platform::~Platform() {
  if (impl_->qm) impl_->qm->shutdown();
  impl_->launcher.reset();  // stops and joins the stages still running
  stop_workers();
  impl_->http->stop();
  wait_recorded(std::chrono::seconds(5));
  impl_->stopping = true;
  if (impl_->recorder.joinable()) impl_->recorder.join();
}

std::string Platform::start_dummy(runtime::WorkerSettings settings, DummyOptions options) {
  std::lock_guard lock(impl_->workers_mu);
  auto& h = impl_->workers.emplace_back();
  h.worker = std::make_unique<runtime::Worker>(*impl_->bus, std::move(settings));
  HostedWorker* hp = &h;
  h.thread = std::thread([hp, options] {
    hp->exit_code = hp->worker->run(dummy_body(options));
    hp->done = true;
  });
  return h.worker->settings().producer;
}

void Platform::stop_workers() {
  std::lock_guard lock(impl_->workers_mu);
  for (auto& h : impl_->workers) h.worker->request_stop("platform shutting down");
  for (auto& h : impl_->workers)
    if (h.thread.joinable()) h.thread.join();
}

bool Platform::wait_workers(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    bool all_done = true;
    {
      std::lock_guard lock(impl_->workers_mu);
      for (auto& h : impl_->workers) all_done &= h.done.load();
    }
    if (all_done) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

bool Platform::wait_recorded(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto* inproc = dynamic_cast<bus::InProcBus*>(impl_->bus.get());
  while (std::chrono::steady_clock::now() < deadline) {
    std::int64_t published = 0;
    if (inproc)
      for (const auto& t : inproc->topic_metrics())
        if (t.topic == impl_->options.topics.events) published = t.published;
    if (impl_->recorded.load() >= published) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

int Platform::port() const {
  return impl_->http->port();
}
std::string Platform::base_url() const {
  return impl_->http->base_url();
}
bus::Bus& Platform::bus() {
  return *impl_->bus;
}
store::Store& Platform::store() {
  return *impl_->store;
}

qm::QueueManager* Platform::queue_manager() {
  return impl_->qm.get();
}

// What every stage inherits from the environment of `streamforge run`: endpoints and where files
// go. Credentials stay in the SecretStore and reach each stage at launch.
static std::map<std::string, std::string> stage_base_env() {
  std::map<std::string, std::string> env;
  for (const char* name :
       {"BINANCE_API_URL", "BINANCE_WS_URL", "BINANCE_VISION_URL", "VISION_CACHE_DIR", "GRAPH_DIR",
        "MODEL_DIR", "MINIO_ENDPOINT", "MINIO_BUCKET_NAME", "SF_CA_FILE", "LOG_LEVEL", "ARANGO_URL",
        "ARANGO_DB", "ARANGO_USER"})
    if (const char* v = std::getenv(name); v && *v && !runtime::is_secret(name, v)) env[name] = v;
  return env;
}

int run_main(int argc, char** argv) {
  runtime::ConfigParser parser(
      "streamforge run",
      "Runs the platform in one process (in-process bus, embedded store) with its HTTP API.");
  parser.add({.name = "PORT",
              .type = runtime::OptionType::kInt,
              .default_value = "8080",
              .help = "API port on 127.0.0.1 (0: any free port)"});
  parser.add({.name = "HOST", .default_value = "127.0.0.1", .help = "API address"});
  parser.add({.name = "SF_STORE",
              .default_value = "sqlite:./data/streamforge.db",
              .help = "store URL: sqlite:PATH or postgres://... (POSTGRES_DSN also selects one)"});
  parser.add({.name = "DEMO",
              .type = runtime::OptionType::kBool,
              .default_value = "false",
              .help = "run a demo test-flow (dummy-service), print what happened, exit"});
  parser.add({.name = "LOG_LEVEL", .default_value = "info", .help = "debug, info, warn or error"});
  runtime::add_api_security_options(parser);
  int code = 0;
  auto config = runtime::parse_or_exit(parser, argc, argv, &code);
  if (!config) return code;
  auto level = log::parse_level(config->get_string("LOG_LEVEL"));
  if (!level) {
    std::cerr << level.error() << '\n';
    return 2;
  }
  log::set_level(*level);
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  runtime::install_stop_signals([&](int) {
    std::lock_guard lock(mu);
    stop = true;
    cv.notify_all();
  });
  PlatformOptions options;
  options.store_url = config->get_string("SF_STORE");
  // POSTGRES_DSN selects PostgreSQL when no store was named explicitly.
  if (config->source("SF_STORE") == runtime::ConfigSource::kDefault) {
    if (const char* dsn = std::getenv("POSTGRES_DSN"); dsn && *dsn) options.store_url = dsn;
  }
  options.host = config->get_string("HOST");
  options.port = static_cast<int>(config->get_int("PORT"));
  options.qm_options.base_env = stage_base_env();
  auto secrets = runtime::SecretStore::from_environment();
  if (!secrets) {
    std::cerr << "streamforge run: " << secrets.error() << '\n';
    return 2;
  }
  options.qm_options.secrets = *secrets;
  options.http.bind_address = options.host;
  if (auto r = runtime::apply_api_security(*config, options.http); !r) {
    std::cerr << "streamforge run: " << r.error() << '\n';
    return 2;
  }
  auto platform = Platform::start(options);
  if (!platform) {
    log::error(kLogger, "cannot start", {{"error", platform.error()}});
    std::cerr << "streamforge run: " << platform.error() << '\n';
    return 1;
  }
  auto& p = **platform;
  std::cout << "StreamForge is running: API " << p.base_url() << "  (health: " << p.base_url()
            << "/health/ready, metrics: " << p.base_url()
            << "/metrics)\nstore: " << store::redact_store_url(options.store_url)
            << "\nAPI authentication: "
            << (options.http.authenticate ? "a bearer token on every route but /health/*"
                                          : "none (loopback only: every local caller is admin)")
            << "\n"
            << std::flush;
  if (!config->get_bool("DEMO")) {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return stop; });
    std::cout << "stopping\n";
    return 0;
  }
  // Demo: one test-flow through the whole control/telemetry path, then a summary.
  runtime::WorkerSettings s;
  s.service = "dummy-service";
  s.queue_id = "demo-" + runtime::short_id();
  s.symbol = "DUMMYUSDT";
  s.type = "dummy";
  s.telemetry_interval = std::chrono::milliseconds(500);
  const std::string queue_id = s.queue_id;
  std::cout << "demo: starting dummy-service for queue " << queue_id
            << " (3 s of simulated loading)\n";
  p.start_dummy(
      s, {.simulate_loading = true, .fail_after_s = -1, .exit_after_s = 3, .exit_on_ping = false});
  auto pong = runtime::ping(p.bus(), options.topics, queue_id, "", std::chrono::seconds(5));
  if (pong)
    std::cout << "demo: ping -> pong from " << pong->pong.producer << " in " << pong->rtt_ms
              << " ms\n";
  else
    std::cout << "demo: ping failed: " << pong.error() << '\n';
  if (!p.wait_workers(std::chrono::seconds(30)))
    std::cout << "demo: worker did not finish in 30 s\n";
  p.wait_recorded(std::chrono::seconds(5));
  auto events = p.store().telemetry(queue_id);
  if (!events) {
    std::cerr << "demo: cannot read telemetry: " << events.error().message << '\n';
    return 1;
  }
  std::cout << "demo: " << events->size() << " telemetry events stored for " << queue_id << ":\n";
  std::string last;
  for (const auto& e : *events) {
    std::cout << "  " << format_iso8601(static_cast<TimestampUs>(e.timestamp * 1e6)) << "  "
              << e.producer << "  " << e.status << "  records_written=" << e.records_written
              << (e.message.empty() ? "" : "  " + e.message) << '\n';
    if (e.status != "pong") last = e.status;
  }
  std::cout << "demo: final status " << last << ". Telemetry is in "
            << store::redact_store_url(options.store_url) << " (table telemetry).\n";
  return last == "finished" ? 0 : 1;
}

}  // namespace sf::services
