#include "runtime/service.h"

#include <iostream>

#include "bus/inproc_bus.h"
#include "runtime/log.h"

namespace sf::runtime {

void add_worker_options(ConfigParser& p) {
  p.add({.name = "QUEUE_ID",
         .default_value = "default",
         .help = "workflow id this worker belongs to"});
  p.add({.name = "SYMBOL", .default_value = "", .help = "market symbol, e.g. BTCUSDT"});
  p.add({.name = "TYPE", .default_value = "", .help = "stage type, e.g. api_candles_5m"});
  p.add({.name = "TIME_RANGE",
         .default_value = "",
         .help = "START:END dates, e.g. 2024-08-01:2024-08-02"});
  p.add({.name = "INTERVAL", .default_value = "", .help = "candle interval, e.g. 5m"});
  p.add({.name = "KAFKA_TOPIC", .default_value = "", .help = "data topic of this stage"});
  p.add({.name = "TELEMETRY_PRODUCER_ID",
         .default_value = "",
         .help = "telemetry id (default: <service>__<random>)"});
  p.add({.name = "QUEUE_CONTROL_TOPIC", .default_value = "queue-control", .help = "command topic"});
  p.add({.name = "QUEUE_EVENTS_TOPIC", .default_value = "queue-events", .help = "telemetry topic"});
  p.add({.name = "KAFKA_BOOTSTRAP_SERVERS",
         .default_value = "",
         .help = "Kafka brokers; empty: the in-process bus"});
  p.add({.name = "TELEMETRY_INTERVAL",
         .type = OptionType::kDuration,
         .default_value = "5",
         .help = "seconds between loading events"});
  p.add({.name = "HTTP_PORT",
         .type = OptionType::kInt,
         .default_value = "0",
         .help = "health/metrics port (0: any free port, -1: none)"});
  p.add({.name = "HTTP_HOST", .default_value = "127.0.0.1", .help = "health/metrics address"});
  p.add({.name = "LOG_LEVEL", .default_value = "info", .help = "debug, info, warn or error"});
}

WorkerSettings worker_settings_from(const Config& c, const std::string& service) {
  WorkerSettings s;
  s.service = service;
  s.queue_id = c.get_string("QUEUE_ID");
  s.producer = c.get_string("TELEMETRY_PRODUCER_ID");
  s.symbol = c.get_string("SYMBOL");
  s.type = c.get_string("TYPE");
  s.control_topic = c.get_string("QUEUE_CONTROL_TOPIC");
  s.events_topic = c.get_string("QUEUE_EVENTS_TOPIC");
  s.telemetry_interval = c.get_duration("TELEMETRY_INTERVAL");
  return s;
}

Result<void, std::string> configure_logging(const Config& c) {
  auto level = log::parse_level(c.get_string("LOG_LEVEL"));
  if (!level) return unexpected(level.error());
  log::set_level(*level);
  return {};
}

Result<std::unique_ptr<bus::Bus>, std::string> open_bus(const Config& c) {
  if (!c.get_string("KAFKA_BOOTSTRAP_SERVERS").empty())
    return unexpected(std::string(
        "KAFKA_BOOTSTRAP_SERVERS is set, but this build has no Kafka bus yet (issue 3); unset it "
        "to use the in-process bus"));
  return std::unique_ptr<bus::Bus>(std::make_unique<bus::InProcBus>());
}

Result<std::unique_ptr<HttpServer>, std::string> start_health_server(const Config& c,
                                                                     const std::string& service) {
  auto port = c.get_int("HTTP_PORT");
  if (port < 0) return std::unique_ptr<HttpServer>();
  if (port > 65535) return unexpected(std::string("HTTP_PORT out of range"));
  HttpServerOptions opts;
  opts.bind_address = c.get_string("HTTP_HOST");
  opts.port = static_cast<std::uint16_t>(port);
  auto server = std::make_unique<HttpServer>(opts);
  if (auto r = server->start(); !r) return unexpected(r.error());
  log::info(service, "health server listening", {{"url", server->base_url()}});
  return server;
}

std::optional<Config> parse_or_exit(const ConfigParser& parser, int argc, char** argv,
                                    int* exit_code) {
  auto config = parser.parse(argc, argv);
  if (!config) {
    std::cerr << config.error() << "\n(see --help)\n";
    *exit_code = 2;
    return std::nullopt;
  }
  if (config->help_requested()) {
    std::cout << parser.help_text();
    *exit_code = 0;
    return std::nullopt;
  }
  return std::move(config).value();
}

}  // namespace sf::runtime
