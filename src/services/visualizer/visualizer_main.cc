// `streamforge visualizer`: the live dashboard on its own (issue 14), for a deployment where the
// platform's services run apart (Kafka, PostgreSQL, Kubernetes). It serves what `streamforge run`
// serves on its API port (services/visualizer/dashboard.h) and /health/*, /metrics, and speaks the
// worker protocol (started, loading every TELEMETRY_INTERVAL with its client and topic counts,
// interrupted on stop). The workflow views need the queue-manager's API on the same origin (a
// reverse proxy or the platform); without it the page says so.
#include "services/visualizer/visualizer_main.h"

#include <atomic>
#include <iostream>
#include <string>

#include "runtime/api_auth.h"
#include "runtime/config.h"
#include "runtime/json_writer.h"
#include "runtime/log.h"
#include "runtime/service.h"
#include "runtime/signals.h"
#include "runtime/store_options.h"
#include "services/visualizer/dashboard.h"

namespace sf::services {

int visualizer_main(int argc, char** argv) {
  constexpr const char* kService = "visualizer";
  runtime::ConfigParser parser("streamforge visualizer",
                               "The live dashboard: candles, order book, tape, workflows and "
                               "topics from the bus, history from the store.");
  runtime::add_worker_options(parser);
  runtime::add_store_options(parser);
  parser.add({.name = "PORT",
              .type = runtime::OptionType::kInt,
              .default_value = "8090",
              .help = "dashboard port, with /health/* and /metrics (0: any free port)",
              .scope = runtime::OptionScope::kPlatform});
  parser.add({.name = "HOST",
              .default_value = "127.0.0.1",
              .help = "dashboard address (off loopback only with API credentials)",
              .scope = runtime::OptionScope::kPlatform});
  parser.add({.name = "WEBSOCKET_ORIGINS",
              .default_value = "",
              .help = "other origins whose pages may open the WebSockets "
                      "(comma-separated, e.g. https://dash.example.com)",
              .scope = runtime::OptionScope::kPlatform});
  parser.add({.name = "MODEL_DIR",
              .default_value = "./data/models",
              .help = "gnn-trainer's model directory, for the Models view",
              .scope = runtime::OptionScope::kPlatform});
  runtime::add_api_security_options(parser);
  int code = 0;
  auto config = runtime::parse_or_exit(parser, argc, argv, &code);
  if (!config) return code;
  if (auto r = runtime::configure_logging(*config); !r) {
    std::cerr << r.error() << '\n';
    return 2;
  }
  const std::string store_url = runtime::store_url_from(*config);
  auto store = store::open_store(store_url);
  if (!store) {
    std::cerr << "visualizer: cannot open store " << store::redact_store_url(store_url) << ": "
              << store.error().message << '\n';
    return 2;
  }
  runtime::HttpServerOptions http;
  http.bind_address = config->get_string("HOST");
  const auto port = config->get_int("PORT");
  if (port < 0 || port > 65535) {
    std::cerr << "visualizer: PORT must be 0..65535\n";
    return 2;
  }
  http.port = static_cast<std::uint16_t>(port);
  http.websocket_origins = runtime::split_list(config->get_string("WEBSOCKET_ORIGINS"));
  if (auto r = runtime::apply_api_security(*config, http); !r) {
    std::cerr << "visualizer: " << r.error() << '\n';
    return 2;
  }
  std::atomic<runtime::Worker*> active{nullptr};
  runtime::install_stop_signals([&](int sig) {
    if (auto* w = active.load()) w->request_stop("signal " + std::to_string(sig));
  });
  auto bus = runtime::open_bus(*config, "consumer");
  if (!bus) {
    std::cerr << "visualizer: " << bus.error() << '\n';
    return 2;
  }
  visualizer::DashboardOptions dashboard_options;
  dashboard_options.model_dir = config->get_string("MODEL_DIR");
  visualizer::Dashboard dashboard(**bus, **store, dashboard_options);
  runtime::HttpServer server(http);
  dashboard.install_routes(server);
  if (auto s = server.start(); !s) {
    std::cerr << "visualizer: cannot serve: " << s.error() << '\n';
    return 2;
  }
  server.set_ready(true);
  std::cout << "visualizer: dashboard " << server.base_url() << "/ bus " << (*bus)->kind()
            << " store " << store::redact_store_url(store_url) << std::endl;
  runtime::Worker worker(**bus, runtime::worker_settings_from(*config, kService));
  active = &worker;
  const auto interval = config->get_duration("TELEMETRY_INTERVAL");
  const int rc = worker.run([&](runtime::WorkerContext& ctx) {
    while (!ctx.stop_requested()) {
      std::string extra;
      runtime::JsonWriter j(extra);
      j.begin_object()
          .field("market_topics", static_cast<std::int64_t>(dashboard.market().watched_topics()))
          .field("inspected_topics", static_cast<std::int64_t>(dashboard.topics().watched_topics()))
          .end_object();
      ctx.report_loading("serving " + server.base_url(), extra);
      ctx.sleep_for(interval.count() > 0 ? interval : std::chrono::milliseconds(10'000));
    }
    return runtime::WorkResult{runtime::Outcome::kInterrupted, "stopped", "{}"};
  });
  active = nullptr;
  server.stop();
  return rc;
}

}  // namespace sf::services
