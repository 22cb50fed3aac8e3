// `streamforge queue-manager`: the orchestrator as a service of its own, for one machine with
// real Kafka (every stage a local process) or for Kubernetes (every stage a Job).
#include <condition_variable>
#include <iostream>
#include <mutex>

#include "runtime/api_auth.h"
#include "runtime/log.h"
#include "runtime/secrets.h"
#include "runtime/service.h"
#include "runtime/signals.h"
#include "services/queue_manager/k8s/k8s_launcher.h"
#include "services/queue_manager/launchers.h"
#include "services/queue_manager/queue_manager.h"
#include "services/queue_manager/registry.h"

namespace sf::services {

namespace {
constexpr const char* kService = "queue-manager";

// What every stage inherits from the manager's environment: the bus, store and exchange
// endpoints and where files go. Credentials are not among them: they stay in the SecretStore and
// reach each stage at launch, only the ones it needs.
std::map<std::string, std::string> inherited_env(const std::string& store_url) {
  std::map<std::string, std::string> env;
  for (const char* name : {"KAFKA_BOOTSTRAP_SERVERS",
                           "BUS",
                           "KAFKA_USER",
                           "KAFKA_USER_PRODUCER",
                           "KAFKA_USER_CONSUMER",
                           "KAFKA_SECURITY_PROTOCOL",
                           "KAFKA_SASL_MECHANISM",
                           "CA_PATH",
                           "KAFKA_CA_PATH",
                           "SF_CA_FILE",
                           "BINANCE_API_URL",
                           "BINANCE_WS_URL",
                           "BINANCE_VISION_URL",
                           "VISION_CACHE_DIR",
                           "GRAPH_DIR",
                           "MODEL_DIR",
                           "MINIO_ENDPOINT",
                           "MINIO_BUCKET_NAME",
                           "LOG_LEVEL",
                           "ARANGO_URL",
                           "ARANGO_DB",
                           "ARANGO_USER"})
    if (const char* v = std::getenv(name); v && *v && !runtime::is_secret(name, v)) env[name] = v;
  // A store URL with a password is a secret: stages that read the store get it at launch.
  // ArangoDB (ARANGO_URL, a secret itself when it holds a password) wins over SF_STORE in a stage.
  const char* arango = std::getenv("ARANGO_URL");
  if ((arango == nullptr || *arango == '\0') && !runtime::value_has_credentials(store_url))
    env["SF_STORE"] = store_url;
  return env;
}
}  // namespace

int queue_manager_main(int argc, char** argv) {
  runtime::ConfigParser parser("streamforge queue-manager",
                               "The workflow orchestrator: REST API, workflow DAGs, launchers.");
  runtime::add_worker_options(parser);
  parser.add({.name = "PORT",
              .type = runtime::OptionType::kInt,
              .default_value = "8080",
              .help = "API port (0: any free port)"});
  parser.add({.name = "HOST", .default_value = "127.0.0.1", .help = "API address"});
  parser.add({.name = "SF_STORE",
              .default_value = "sqlite:./data/streamforge.db",
              .help = "store for workflow state and telemetry (POSTGRES_DSN also selects one)"});
  runtime::add_api_security_options(parser);
  parser.add({.name = "QM_LAUNCHER",
              .default_value = "local-process",
              .help = "local-process, kubernetes or in-process"});
  parser.add(
      {.name = "QM_WORKFLOWS_DIR", .default_value = "", .help = "templates (default ./workflows)"});
  parser.add(
      {.name = "QM_LOG_DIR", .default_value = "./data/logs", .help = "local-process stage logs"});
  parser.add({.name = "QM_STALL_TIMEOUT",
              .type = runtime::OptionType::kDouble,
              .default_value = "120",
              .help = "seconds without telemetry before a stage is restarted"});
  parser.add({.name = "QM_MAX_RESTARTS",
              .type = runtime::OptionType::kInt,
              .default_value = "2",
              .help = "self-healing restarts per stage"});
  parser.add({.name = "QM_RESTART_BACKOFF",
              .type = runtime::OptionType::kDouble,
              .default_value = "1",
              .help = "seconds before the first restart (doubles each time)"});
  parser.add(
      {.name = "DRY_RUN",
       .type = runtime::OptionType::kBool,
       .default_value = "false",
       .help = "kubernetes: print the Job manifests of --template/--symbol/--from/--to and exit"});
  parser.add({.name = "TEMPLATE", .default_value = "", .help = "dry-run: template"});
  parser.add({.name = "FROM", .default_value = "", .help = "dry-run: first day"});
  parser.add({.name = "TO", .default_value = "", .help = "dry-run: end day"});
  int code = 0;
  auto config = runtime::parse_or_exit(parser, argc, argv, &code);
  if (!config) return code;
  if (auto r = runtime::configure_logging(*config); !r) {
    std::cerr << r.error() << '\n';
    return 2;
  }
  std::string store_url = config->get_string("SF_STORE");
  if (config->source("SF_STORE") == runtime::ConfigSource::kDefault)
    if (const char* dsn = std::getenv("POSTGRES_DSN"); dsn && *dsn) store_url = dsn;

  qm::QueueManagerOptions qo;
  qo.workflows_dir = config->get_string("QM_WORKFLOWS_DIR");
  qo.base_env = inherited_env(store_url);
  auto secrets = runtime::SecretStore::from_environment();
  if (!secrets) {
    std::cerr << "queue-manager: " << secrets.error() << '\n';
    return 2;
  }
  qo.secrets = *secrets;
  if (runtime::value_has_credentials(store_url) && !qo.secrets->get("POSTGRES_DSN"))
    qo.secrets->set("SF_STORE", store_url);
  qo.topics = {config->get_string("QUEUE_CONTROL_TOPIC"), config->get_string("QUEUE_EVENTS_TOPIC")};
  qo.stall_timeout_s = config->get_double("QM_STALL_TIMEOUT");
  qo.max_restarts = static_cast<int>(config->get_int("QM_MAX_RESTARTS"));
  qo.restart_backoff_s = config->get_double("QM_RESTART_BACKOFF");
  const std::string host = config->get_string("HOST");
  const std::string kind = config->get_string("QM_LAUNCHER");

  if (config->get_bool("DRY_RUN")) {
    auto templates = qm::load_templates(qo.workflows_dir.empty() ? qm::default_workflows_dir()
                                                                 : qo.workflows_dir);
    if (!templates) {
      std::cerr << "queue-manager: " << templates.error() << '\n';
      return 2;
    }
    auto t = templates->find(config->get_string("TEMPLATE"));
    if (t == templates->end()) {
      std::cerr << "queue-manager: --dry-run needs --template (one of workflows/*.json)\n";
      return 2;
    }
    std::map<std::string, std::string> params;
    for (const auto& [opt, key] : std::map<std::string, std::string>{
             {"SYMBOL", "symbol"}, {"FROM", "from"}, {"TO", "to"}, {"INTERVAL", "interval"}})
      if (!config->get_string(opt).empty() && t->second.parameters.count(key))
        params[key] = config->get_string(opt);
    auto w = qm::instantiate(t->second, params, qo.base_env);
    if (!w) {
      std::cerr << "queue-manager: " << w.error() << '\n';
      return 2;
    }
    std::vector<qm::StageLaunch> launches;
    for (const auto& s : w->stages) {
      qm::StageLaunch l{w->queue_id, s.name,
                        s.service,   1,
                        s.env,       qm::stage_secret_names(s.service, qo.secrets->names())};
      l.env["TELEMETRY_PRODUCER_ID"] = s.service + "__" + s.name + "__a1";
      launches.push_back(std::move(l));
    }
    try {
      auto k8s_options = qm::k8s::K8sOptions::from_env(runtime::getenv_lookup);
      std::cout << qm::k8s::render_jobs(launches, k8s_options, qm::k8s::ManifestFormat::kYaml);
    } catch (const std::exception& e) {
      std::cerr << "queue-manager: " << e.what() << '\n';
      return 2;
    }
    return 0;
  }

  auto store = store::open_store(store_url);
  if (!store) {
    std::cerr << "queue-manager: cannot open store " << store::redact_store_url(store_url) << ": "
              << store.error().message << '\n';
    return 2;
  }
  auto bus = runtime::open_bus(*config, "consumer");
  if (!bus) {
    std::cerr << "queue-manager: " << bus.error() << '\n';
    return 2;
  }
  std::unique_ptr<qm::Launcher> launcher;
  try {
    if (kind == "local-process") {
      launcher = std::make_unique<qm::LocalProcessLauncher>(
          qm::LocalProcessOptions{.binary = "",
                                  .log_dir = config->get_string("QM_LOG_DIR"),
                                  .kill_grace = std::chrono::seconds(10)});
    } else if (kind == "kubernetes") {
      launcher = qm::k8s::make_k8s_launcher(runtime::getenv_lookup);
    } else if (kind == "in-process") {
      launcher = std::make_unique<qm::InProcessLauncher>(**bus, qm::Embedded{store->get()});
    } else {
      std::cerr << "queue-manager: QM_LAUNCHER must be local-process, kubernetes or in-process\n";
      return 2;
    }
  } catch (const std::exception& e) {
    std::cerr << "queue-manager: " << e.what() << '\n';
    return 2;
  }
  runtime::HttpServerOptions http;
  http.bind_address = host;
  http.port = static_cast<std::uint16_t>(config->get_int("PORT"));
  if (auto r = runtime::apply_api_security(*config, http); !r) {
    std::cerr << "queue-manager: " << r.error() << '\n';
    return 2;
  }
  runtime::HttpServer server(http);
  qm::QueueManager manager(**bus, **store, *launcher, qo);
  if (auto s = manager.start(); !s) {
    std::cerr << "queue-manager: " << s.error() << '\n';
    return 2;
  }
  manager.install_routes(server);
  if (auto s = server.start(); !s) {
    std::cerr << "queue-manager: cannot serve: " << s.error() << '\n';
    return 2;
  }
  server.set_ready(true);
  std::cout << "queue-manager: API " << server.base_url() << " launcher " << launcher->kind()
            << " bus " << (*bus)->kind() << " store " << store::redact_store_url(store_url)
            << std::endl;
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  runtime::install_stop_signals([&](int) {
    std::lock_guard lock(mu);
    stop = true;
    cv.notify_all();
  });
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return stop; });
  log::info(kService, "stopping");
  server.stop();
  manager.shutdown();
  return 0;
}

}  // namespace sf::services
