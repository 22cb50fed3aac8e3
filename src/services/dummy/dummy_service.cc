#include "services/dummy/dummy_service.h"

#include <atomic>
#include <iostream>
#include <memory>

#include "runtime/log.h"
#include "runtime/service.h"
#include "runtime/signals.h"
#include "services/queue_manager/registry.h"

namespace sf::services {

using runtime::Outcome;
using runtime::WorkResult;

std::function<WorkResult(runtime::WorkerContext&)> dummy_body(DummyOptions options) {
  return [options](runtime::WorkerContext& ctx) -> WorkResult {
    auto pinged = std::make_shared<std::atomic<bool>>(false);
    if (options.exit_on_ping) ctx.set_ping_hook([pinged](const auto&) { *pinged = true; });
    const auto start = std::chrono::steady_clock::now();
    auto elapsed_s = [&] {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    const auto interval = ctx.settings().telemetry_interval;
    // Batches land half an interval before each worker heartbeat, which reports them.
    auto next_batch = start + interval / 2;
    // Short ticks keep exit-after, fail-after and pings precise; stops wake the sleep at once.
    const auto tick = std::chrono::milliseconds(20);
    while (!ctx.stop_requested()) {
      if (options.exit_on_ping && pinged->load()) return {Outcome::kFinished, "exit on ping", "{}"};
      if (options.fail_after_s > 0 && elapsed_s() >= options.fail_after_s)
        return {Outcome::kError,
                "simulated failure after " + std::to_string(options.fail_after_s) + " s", "{}"};
      if (options.exit_after_s > 0 && elapsed_s() >= options.exit_after_s)
        return {Outcome::kFinished, "finished after " + std::to_string(options.exit_after_s) + " s",
                "{}"};
      if (options.simulate_loading && std::chrono::steady_clock::now() >= next_batch) {
        ctx.add_records(100);
        next_batch += interval;
      }
      ctx.sleep_for(tick);
    }
    return {Outcome::kInterrupted, "", "{}"};
  };
}

void add_dummy_options(runtime::ConfigParser& parser) {
  parser.add({.name = "SIMULATE_LOADING",
              .type = runtime::OptionType::kBool,
              .default_value = "false",
              .help = "report growing records_written (+100 per interval)"});
  parser.add({.name = "FAIL_AFTER",
              .type = runtime::OptionType::kDouble,
              .default_value = "-1",
              .help = "seconds until a simulated error (exit code 1); <= 0: never"});
  parser.add({.name = "EXIT_AFTER",
              .type = runtime::OptionType::kDouble,
              .default_value = "-1",
              .help = "seconds until finished; <= 0: run until stopped"});
  parser.add({.name = "EXIT_ON_PING",
              .type = runtime::OptionType::kBool,
              .default_value = "false",
              .help = "finish after answering the first ping"});
}

DummyOptions dummy_options_from(const runtime::Config& config) {
  return DummyOptions{.simulate_loading = config.get_bool("SIMULATE_LOADING"),
                      .fail_after_s = config.get_double("FAIL_AFTER"),
                      .exit_after_s = config.get_double("EXIT_AFTER"),
                      .exit_on_ping = config.get_bool("EXIT_ON_PING")};
}

int dummy_main(int argc, char** argv) {
  return qm::run_hosted_service("dummy-service", argc, argv);
}

}  // namespace sf::services
