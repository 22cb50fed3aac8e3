// The services a workflow stage can run, by name: their options and how to build their body from
// a configuration. `streamforge <service>` parses the process environment and flags; the
// in-process launcher parses a stage's environment map with the same parser, so a stage gets the
// same configuration however it runs.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "core/result.h"
#include "runtime/config.h"
#include "runtime/worker.h"
#include "store/store.h"

namespace sf::services::qm {

using Body = std::function<runtime::WorkResult(runtime::WorkerContext&)>;

// What the embedding process shares with in-process stages.
struct Embedded {
  store::Store* store = nullptr;  // arango-connector writes here unless its env names a store
};

struct ServiceSpec {
  std::string_view name;
  std::string_view description;  // --help
  std::string_view bus_role;     // "producer", "consumer" or "": Kafka credentials to use
  void (*add_options)(runtime::ConfigParser& parser);  // besides runtime::add_worker_options
  Result<Body, std::string> (*make_body)(const runtime::Config& config, const Embedded& embedded);
};

std::span<const ServiceSpec> hosted_services();
const ServiceSpec* find_service(std::string_view name);

// `streamforge <name>` as a process: parses flags + environment (`--store` sets SF_STORE), sets
// up logging, builds the body (a service that needs a store opens its own), runs the worker
// (runtime::run_worker_process). Usage errors exit 2 with the reason on stderr.
int run_hosted_service(std::string_view name, int argc, char** argv);

// The configuration a stage's environment gives the service (environment only; no flags).
Result<runtime::Config, std::string> stage_config(const ServiceSpec& spec,
                                                  const std::map<std::string, std::string>& env);

}  // namespace sf::services::qm
