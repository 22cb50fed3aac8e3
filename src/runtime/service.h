// What every service process shares: the common options of the worker contract (environment
// variables as the original StreamForge named them, each overridable by a flag), logging setup,
// the health/metrics HTTP server, and the bus.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bus/bus.h"
#include "runtime/config.h"
#include "runtime/http_server.h"
#include "runtime/worker.h"

namespace sf::runtime {

// Adds QUEUE_ID, SYMBOL, TYPE, TIME_RANGE, INTERVAL, KAFKA_TOPIC, TELEMETRY_PRODUCER_ID,
// QUEUE_CONTROL_TOPIC, QUEUE_EVENTS_TOPIC, KAFKA_BOOTSTRAP_SERVERS, TELEMETRY_INTERVAL,
// HTTP_PORT, HTTP_HOST and LOG_LEVEL.
void add_worker_options(ConfigParser& parser);

WorkerSettings worker_settings_from(const Config& config, const std::string& service);

// Applies LOG_LEVEL; returns an error text for a bad level.
Result<void, std::string> configure_logging(const Config& config);

// The bus the configuration selects: Kafka when KAFKA_BOOTSTRAP_SERVERS is set (credentials from
// KAFKA_USER / KAFKA_PASSWORD or their _PRODUCER / _CONSUMER variants for `role`, CA_PATH),
// otherwise the in-process bus. On Kafka the control and telemetry topics are created if missing
// (docs/protocol.md gives their settings), librdkafka's logs go to the JSON log and its
// statistics to /metrics (consumer lag per partition among them).
Result<std::unique_ptr<bus::Bus>, std::string> open_bus(const Config& config,
                                                        const std::string& role = "");

// Creates queue-control (1 partition, 1 day) and queue-events (3 partitions, 7 days) on Kafka.
Result<void, std::string> ensure_protocol_topics(bus::Bus& bus, const std::string& control_topic,
                                                 const std::string& events_topic);

// Turns one librdkafka statistics JSON document into Prometheus gauges.
void export_kafka_statistics(std::string_view json);

// Starts the health/metrics server on HTTP_HOST:HTTP_PORT (port 0: any free port; -1: none).
Result<std::unique_ptr<HttpServer>, std::string> start_health_server(const Config& config,
                                                                     const std::string& service);

// The life of a worker process once its configuration is parsed: SIGTERM/SIGINT -> stop, the bus
// for `bus_role` ("producer", "consumer" or ""), the health/metrics server (ready while the body
// runs), the Worker around `body`. Returns the exit code (2 when the bus or server cannot start).
int run_worker_process(const Config& config, const std::string& service,
                       const std::string& bus_role,
                       const std::function<WorkResult(WorkerContext&)>& body);

// "a, b,,c" -> {"a","b","c"}: a comma-separated list (KAFKA_TOPIC, SYMBOL), blanks dropped.
std::vector<std::string> split_list(const std::string& text);

// Parses argv with `parser`; prints help (exit 0) or the error (exit 2) and returns that code
// through *exit_code when the caller should stop. Where the parser declares SF_STORE, `--store X`
// / `--store=X` is accepted for it (the documented spelling of --sf-store).
std::optional<Config> parse_or_exit(const ConfigParser& parser, int argc, char** argv,
                                    int* exit_code);

}  // namespace sf::runtime
