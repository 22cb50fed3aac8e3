#include "services/queue_manager/registry.h"

#include "runtime/service.h"
#include "services/arango_connector/arango_connector.h"
#include "services/dummy/dummy_service.h"
#include "services/graph_builder/graph_builder.h"
#ifdef SF_HAVE_TRAIN
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

// The connector writes to the embedded store unless the stage names a store of its own.
Result<Body, std::string> connector(const runtime::Config& c, const Embedded& e) {
  auto o = connector_options_from(c);
  if (!o) return unexpected(o.error());
  const bool own_store = !c.get_string("SF_STORE").empty() || !c.get_string("ARANGO_URL").empty();
  if (!own_store && e.store != nullptr) return Body(connector_body(std::move(*o), *e.store));
  auto store = store::open_store(connector_store_url(c));
  if (!store) return unexpected("cannot open store: " + store.error().message);
  std::shared_ptr<store::Store> owned(std::move(*store));
  auto body = connector_body(std::move(*o), *owned);
  return Body([owned, body](runtime::WorkerContext& ctx) { return body(ctx); });
}

Result<Body, std::string> graph_builder(const runtime::Config& c, const Embedded& e) {
  auto o = graph_builder_options_from(c);
  if (!o) return unexpected(o.error());
  const bool own_store = !c.get_string("SF_STORE").empty() || !c.get_string("ARANGO_URL").empty();
  if (!own_store && e.store != nullptr) return Body(graph_builder_body(std::move(*o), *e.store));
  auto store = store::open_store(connector_store_url(c));
  if (!store) return unexpected("cannot open store: " + store.error().message);
  std::shared_ptr<store::Store> owned(std::move(*store));
  auto body = graph_builder_body(std::move(*o), *owned);
  return Body([owned, body](runtime::WorkerContext& ctx) { return body(ctx); });
}

#ifdef SF_HAVE_TRAIN
Result<Body, std::string> trainer(const runtime::Config& c, const Embedded&) {
  auto o = gnn_trainer_options_from(c);
  if (!o) return unexpected(o.error());
  auto upload = gnn_trainer_upload_from(c);
  if (!upload) return unexpected(upload.error());
  return Body(gnn_trainer_body(std::move(*o), std::move(*upload)));
}
#endif

constexpr ServiceSpec kServices[] = {
    {"dummy-service", &add_dummy_options, &dummy},
    {"loader-producer", &add_loader_options, &loader},
    {"loader-ws", &add_loader_ws_options, &loader_ws},
    {"arango-connector", &add_connector_options, &connector},
    {"indicator-calculator", &add_calculator_options, &calculator},
    {"graph-builder", &add_graph_builder_options, &graph_builder},
#ifdef SF_HAVE_TRAIN
    {"gnn-trainer", &add_gnn_trainer_options, &trainer},
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
