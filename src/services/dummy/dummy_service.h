// dummy-service: the test worker. It does no real work but follows the worker contract exactly,
// so orchestration, telemetry and control can be tested without market data.
#pragma once

#include <functional>

#include "runtime/config.h"
#include "runtime/worker.h"

namespace sf::services {

struct DummyOptions {
  bool simulate_loading = false;  // records_written grows by 100 every telemetry interval
  double fail_after_s = -1;       // > 0: end with `error` (exit code 1) after this many seconds
  double exit_after_s = -1;       // > 0: end with `finished` after this many seconds
  bool exit_on_ping = false;      // end with `finished` after answering the first ping
};

// The service body for runtime::Worker::run.
std::function<runtime::WorkResult(runtime::WorkerContext&)> dummy_body(DummyOptions options);

// The service's own options (add_worker_options adds the common ones) and its body from a parsed
// configuration: what `streamforge dummy-service` and queue-manager's in-process launcher share.
void add_dummy_options(runtime::ConfigParser& parser);
DummyOptions dummy_options_from(const runtime::Config& config);

// `streamforge dummy-service [options]`.
int dummy_main(int argc, char** argv);

}  // namespace sf::services
