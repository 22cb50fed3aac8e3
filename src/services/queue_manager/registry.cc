#include "services/queue_manager/registry.h"

#include <algorithm>
#include <iostream>

#include "runtime/log.h"
#include "runtime/secrets.h"
#include "runtime/service.h"
#include "runtime/store_options.h"
#include "services/arango_connector/arango_connector.h"
#include "services/dummy/dummy_service.h"
#include "services/graph_builder/graph_builder.h"
#ifdef SF_HAVE_TRAIN
#include "ml/train/infer_service.h"
#include "ml/train/trainer_service.h"
#endif
#include "services/indicator_calculator/indicator_calculator.h"
#include "services/loader_producer/loader_producer.h"
#include "services/loader_ws/loader_ws.h"

namespace sf::services::qm {
namespace {

Result<Body, std::string> dummy(const runtime::Config& c, const Embedded&) {
  return Body(dummy_body(dummy_options_from(c)));
}

Result<Body, std::string> loader(const runtime::Config& c, const Embedded&) {
  auto o = loader_options_from(c);
  if (!o) return unexpected(o.error());
  return Body(loader_body(std::move(*o)));
}

Result<Body, std::string> loader_ws(const runtime::Config& c, const Embedded&) {
  auto o = loader_ws_options_from(c);
  if (!o) return unexpected(o.error());
  return Body(loader_ws_body(std::move(*o)));
}

Result<Body, std::string> calculator(const runtime::Config& c, const Embedded&) {
  auto o = calculator_options_from(c);
  if (!o) return unexpected(o.error());
  return Body(calculator_body(std::move(*o)));
}

// A stage that reads or writes the store uses the platform's embedded store unless its
// configuration names one (SF_STORE, ARANGO_URL); then it opens and owns that store for the run.
template <class MakeBody>
Result<Body, std::string> with_store(const runtime::Config& c, const Embedded& e,
                                     MakeBody make_body) {
  if (!runtime::names_own_store(c) && e.store != nullptr) return Body(make_body(*e.store));
  const std::string url = runtime::store_url_from(c);
  auto store = store::open_store(url);
  if (!store)
    return unexpected("cannot open store " + store::redact_store_url(url) + ": " +
                      store.error().message);
  log::info("store", "store opened", {{"store", store::redact_store_url(url)}});
  std::shared_ptr<store::Store> owned(std::move(*store));
  auto body = make_body(*owned);
  return Body([owned, body](runtime::WorkerContext& ctx) { return body(ctx); });
}

Result<Body, std::string> connector(const runtime::Config& c, const Embedded& e) {
  auto o = connector_options_from(c);
  if (!o) return unexpected(o.error());
  return with_store(c, e, [&o](store::Store& s) { return connector_body(std::move(*o), s); });
}

Result<Body, std::string> graph_builder(const runtime::Config& c, const Embedded& e) {
  auto o = graph_builder_options_from(c);
  if (!o) return unexpected(o.error());
  return with_store(c, e, [&o](store::Store& s) { return graph_builder_body(std::move(*o), s); });
}

#ifdef SF_HAVE_TRAIN
Result<Body, std::string> trainer(const runtime::Config& c, const Embedded& e) {
  auto o = gnn_trainer_options_from(c);
  if (!o) return unexpected(o.error());
  auto upload = gnn_trainer_upload_from(c);
  if (!upload) return unexpected(upload.error());
  auto source = graph_source_from(c);
  if (!source) return unexpected(source.error());
  if (*source == ml::train::GraphSource::kDir)
    return Body(gnn_trainer_body(std::move(*o), std::move(*upload)));
  return with_store(c, e, [&](store::Store& s) {
    return gnn_trainer_body(std::move(*o), std::move(*upload), GraphInput{&s, *source});
  });
}

// Predictions (and the graph, GRAPH_SOURCE) go to / come from the store like the other stages.
Result<Body, std::string> infer(const runtime::Config& c, const Embedded& e) {
  auto o = gnn_infer_options_from(c);
  if (!o) return unexpected(o.error());
  // Standalone with no store named: predictions to the bus only, the graph from GRAPH_DIR.
  if (!runtime::names_own_store(c) && e.store == nullptr)
    return Body(gnn_infer_body(std::move(*o), nullptr));
  return with_store(c, e, [&o](store::Store& s) { return gnn_infer_body(std::move(*o), &s); });
}
#endif

// A ServiceSpec::check from a service's options parser.
template <auto kOptionsFrom>
Result<void, std::string> check_options(const runtime::Config& config) {
  if (auto options = kOptionsFrom(config); !options) return unexpected(options.error());
  return {};
}

constexpr ServiceSpec kServices[] = {
    {"dummy-service", "Test worker: follows the worker contract without real work.", "",
     &add_dummy_options, &dummy},
    {"loader-producer", "Loads historical Binance data (REST or data.binance.vision) onto the bus.",
     "producer", &add_loader_options, &loader, &check_options<&loader_options_from>},
    {"loader-ws", "Live Binance WebSocket data onto the bus, deduplicated and gap-repaired.",
     "producer", &add_loader_ws_options, &loader_ws, &check_options<&loader_ws_options_from>},
    {"arango-connector",
     "Persists records from the bus into the configured store (SQLite, PostgreSQL or ArangoDB), "
     "batched, committed only after the store wrote them.",
     "consumer", &add_connector_options, &connector},
    {"indicator-calculator",
     "Trades or candles from the bus -> candles of INTERVAL and indicators (INDICATORS_CONFIG), "
     "published to the bus.",
     "", &add_calculator_options, &calculator, &check_options<&calculator_options_from>},
    {"graph-builder", "Stored candles -> a market graph (nodes, edges, labels) for gnn-trainer.",
     "", &add_graph_builder_options, &graph_builder},
#ifdef SF_HAVE_TRAIN
    {"gnn-trainer",
     "A graph (graph-builder; from the store or GRAPH_DIR) -> a trained GNN, baselines and "
     "metrics.json.",
     "", &add_gnn_trainer_options, &trainer},
    {"gnn-infer",
     "A stored model scores the newest graph nodes; predictions to the bus and the store.",
     "producer", &add_gnn_infer_options, &infer},
#endif
};

}  // namespace

std::span<const ServiceSpec> hosted_services() {
  return kServices;
}

const ServiceSpec* find_service(std::string_view name) {
  for (const auto& s : kServices)
    if (s.name == name) return &s;
  return nullptr;
}

int run_hosted_service(std::string_view name, int argc, char** argv) {
  const ServiceSpec* spec = find_service(name);
  if (spec == nullptr) {
    std::cerr << "streamforge: no service " << name << '\n';
    return 2;
  }
  runtime::ConfigParser parser("streamforge " + std::string(name), std::string(spec->description));
  runtime::add_worker_options(parser);
  spec->add_options(parser);
  int code = 0;
  auto config = runtime::parse_or_exit(parser, argc, argv, &code);
  if (!config) return code;
  if (auto r = runtime::configure_logging(*config); !r) {
    std::cerr << r.error() << '\n';
    return 2;
  }
  auto body = spec->make_body(*config, Embedded{});
  if (!body) {
    std::cerr << name << ": " << body.error() << '\n';
    return 2;
  }
  return runtime::run_worker_process(*config, std::string(name), std::string(spec->bus_role),
                                     *body);
}

Result<runtime::Config, std::string> stage_config(const ServiceSpec& spec,
                                                  const std::map<std::string, std::string>& env) {
  runtime::ConfigParser parser("streamforge " + std::string(spec.name));
  runtime::add_worker_options(parser);
  spec.add_options(parser);
  return parser.parse({}, [&env](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  });
}

}  // namespace sf::services::qm

namespace sf::services::qm {

std::vector<runtime::OptionSpec> service_options(const ServiceSpec& spec) {
  runtime::ConfigParser parser("streamforge " + std::string(spec.name));
  runtime::add_worker_options(parser);
  spec.add_options(parser);
  return parser.options();
}

std::optional<std::string> env_key_refusal(const ServiceSpec& spec, std::string_view key) {
  // The loader's and the dynamic linker's variables are never options; name them plainly.
  if (key.starts_with("LD_") || key == "PATH" || key == "HOME" || key == "SF_SECRETS_FILE")
    return "not an option of " + std::string(spec.name) + " (process environment)";
  for (const auto& option : service_options(spec)) {
    if (option.name != key) continue;
    switch (runtime::effective_scope(option)) {
      case runtime::OptionScope::kStage:
        return std::nullopt;
      case runtime::OptionScope::kPlatform:
        return "set only by the platform's configuration (endpoint, path or protocol wiring)";
      case runtime::OptionScope::kSecret:
        return "a credential: it comes from the platform's secret store, never from a workflow";
    }
  }
  if (runtime::is_secret_name(key))
    return "a credential: it comes from the platform's secret store, never from a workflow";
  return "not an option of " + std::string(spec.name);
}

std::vector<std::string> stage_secret_names(std::string_view service,
                                            const std::vector<std::string>& available) {
  const ServiceSpec* spec = find_service(service);
  const auto options = spec ? service_options(*spec) : std::vector<runtime::OptionSpec>{};
  auto declares = [&options](std::string_view name) {
    return std::any_of(options.begin(), options.end(),
                       [name](const runtime::OptionSpec& o) { return o.name == name; });
  };
  std::vector<std::string> out;
  for (const auto& name : available) {
    const bool bus =
        std::find(std::begin(runtime::kBusSecretNames), std::end(runtime::kBusSecretNames), name) !=
        std::end(runtime::kBusSecretNames);
    const bool store_dsn = name == "POSTGRES_DSN" && declares("SF_STORE");
    if (bus || store_dsn || declares(name)) out.push_back(name);
  }
  return out;
}

}  // namespace sf::services::qm
