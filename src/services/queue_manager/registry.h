// The services a workflow stage can run, by name: their options and how to build their body from
// a configuration. `streamforge <service>` parses the process environment and flags; the
// in-process launcher parses a stage's environment map with the same parser, so a stage gets the
// same configuration however it runs.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

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
  // The stage's own options checked without side effects (no store, network or files), so that a
  // workflow with a bad one is refused when it is started (400), not retried and failed later;
  // nullptr where that needs what earlier stages produce (graphs, models).
  Result<void, std::string> (*check)(const runtime::Config& config) = nullptr;
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

// Every option the service declares (the worker contract's and its own), in declaration order.
std::vector<runtime::OptionSpec> service_options(const ServiceSpec& spec);

// Why a workflow template or API caller may not set `key` in a stage of `spec`, or nullopt when
// it may: only the service's options of scope kStage are theirs to set (runtime::OptionScope);
// endpoints, paths, protocol wiring and credentials come from the platform's configuration.
std::optional<std::string> env_key_refusal(const ServiceSpec& spec, std::string_view key);

// The names of the platform's secrets a stage of `spec` receives at launch (least privilege):
// those it declares as options (ARANGO_PASSWORD, BINANCE_API_KEY, SF_STORE when the store URL
// holds a password ...), the Kafka credentials (runtime::kBusSecretNames) and POSTGRES_DSN for a
// service that reads a store. A service this binary does not host (a Job of another image) gets
// the Kafka credentials only.
std::vector<std::string> stage_secret_names(std::string_view service,
                                            const std::vector<std::string>& available);

}  // namespace sf::services::qm
