#include "runtime/service.h"

#include <simdjson.h>

#include <algorithm>
#include <iostream>

#include "bus/inproc_bus.h"
#include "bus/kafka_bus.h"
#include "runtime/log.h"
#include "runtime/metrics.h"
#include "runtime/signals.h"

namespace sf::runtime {

void add_worker_options(ConfigParser& p) {
  p.add({.name = "QUEUE_ID",
         .default_value = "default",
         .help = "workflow id this worker belongs to",
         .scope = runtime::OptionScope::kPlatform});
  p.add({.name = "SYMBOL", .default_value = "", .help = "market symbol, e.g. BTCUSDT"});
  p.add({.name = "TYPE", .default_value = "", .help = "stage type, e.g. api_candles_5m"});
  p.add({.name = "TIME_RANGE",
         .default_value = "",
         .help = "START:END dates, e.g. 2024-08-01:2024-08-02"});
  p.add({.name = "INTERVAL", .default_value = "", .help = "candle interval, e.g. 5m"});
  p.add({.name = "KAFKA_TOPIC", .default_value = "", .help = "data topic of this stage"});
  p.add({.name = "TELEMETRY_PRODUCER_ID",
         .default_value = "",
         .help = "telemetry id (default: <service>__<random>)",
         .scope = runtime::OptionScope::kPlatform});
  p.add({.name = "QUEUE_CONTROL_TOPIC",
         .default_value = "queue-control",
         .help = "command topic",
         .scope = runtime::OptionScope::kPlatform});
  p.add({.name = "QUEUE_EVENTS_TOPIC",
         .default_value = "queue-events",
         .help = "telemetry topic",
         .scope = runtime::OptionScope::kPlatform});
  p.add({.name = "KAFKA_BOOTSTRAP_SERVERS",
         .default_value = "",
         .help = "Kafka brokers; empty: the in-process bus",
         .scope = runtime::OptionScope::kPlatform});
  p.add({.name = "BUS",
         .default_value = "",
         .help = "bus URL: inproc, or kafka://HOST:PORT[,HOST:PORT] (overrides "
                 "KAFKA_BOOTSTRAP_SERVERS)",
         .scope = runtime::OptionScope::kPlatform});
  p.add({.name = "TELEMETRY_INTERVAL",
         .type = OptionType::kDuration,
         .default_value = "5",
         .help = "seconds between loading events"});
  p.add({.name = "HTTP_PORT",
         .type = OptionType::kInt,
         .default_value = "0",
         .help = "health/metrics port (0: any free port, -1: none)",
         .scope = runtime::OptionScope::kPlatform});
  p.add({.name = "HTTP_HOST",
         .default_value = "127.0.0.1",
         .help = "health/metrics address",
         .scope = runtime::OptionScope::kPlatform});
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

void export_kafka_statistics(std::string_view json) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json.data(), json.size()).get(doc)) return;
  std::string_view client;
  if (doc["name"].get_string().get(client)) return;
  auto& registry = metrics::default_registry();
  const metrics::Labels client_labels{{"client", std::string(client)}};
  auto gauge = [&](const char* name, const char* help, const char* key) {
    std::int64_t v = 0;
    if (doc[key].get_int64().get(v) == simdjson::SUCCESS)
      registry.gauge(name, help, client_labels).set(static_cast<double>(v));
  };
  gauge("sf_kafka_queue_messages", "Messages in the librdkafka producer queue", "msg_cnt");
  gauge("sf_kafka_tx_messages", "Messages sent to brokers since the client started (cumulative)",
        "txmsgs");
  gauge("sf_kafka_rx_messages",
        "Messages received from brokers since the client started (cumulative)", "rxmsgs");
  simdjson::dom::object topics;
  if (doc["topics"].get_object().get(topics)) return;
  for (auto [topic, info] : topics) {
    simdjson::dom::object partitions;
    if (info["partitions"].get_object().get(partitions)) continue;
    for (auto [partition, p] : partitions) {
      if (partition == "-1") continue;  // librdkafka's internal unassigned partition
      std::int64_t lag = 0;
      if (p["consumer_lag"].get_int64().get(lag) || lag < 0) continue;
      registry
          .gauge("sf_kafka_consumer_lag", "Messages behind the partition's end, per consumer",
                 {{"client", std::string(client)},
                  {"topic", std::string(topic)},
                  {"partition", std::string(partition)}})
          .set(static_cast<double>(lag));
    }
  }
}

Result<void, std::string> ensure_protocol_topics(bus::Bus& bus, const std::string& control_topic,
                                                 const std::string& events_topic) {
  auto* kafka = dynamic_cast<bus::KafkaBus*>(&bus);
  if (!kafka) return {};  // the in-process bus creates topics on first use
  // Commands need one total order; telemetry is keyed by queue_id and can spread.
  if (auto r = kafka->create_topic_with(control_topic, 1, {{"retention.ms", "86400000"}}); !r)
    return unexpected("cannot create " + control_topic + ": " + r.error().message);
  if (auto r = kafka->create_topic_with(events_topic, 3, {{"retention.ms", "604800000"}}); !r)
    return unexpected("cannot create " + events_topic + ": " + r.error().message);
  return {};
}

Result<std::unique_ptr<bus::Bus>, std::string> open_bus(const Config& c, const std::string& role) {
  std::string bootstrap = c.get_string("KAFKA_BOOTSTRAP_SERVERS");
  // BUS is optional in a command's option set (ctl and tools declare only what they use).
  bool declares_bus = false;
  for (const auto& e : c.entries()) declares_bus |= e.spec.name == "BUS";
  const std::string url = declares_bus ? c.get_string("BUS") : std::string();
  if (url == "inproc") {
    bootstrap.clear();
  } else if (url.rfind("kafka://", 0) == 0) {
    bootstrap = url.substr(8);
    if (bootstrap.empty()) return unexpected(std::string("BUS kafka:// needs HOST:PORT"));
  } else if (!url.empty()) {
    return unexpected("unknown BUS '" + url + "' (inproc or kafka://HOST:PORT)");
  }
  if (bootstrap.empty()) return std::unique_ptr<bus::Bus>(std::make_unique<bus::InProcBus>());
  bus::set_kafka_log_sink([](int level, std::string_view facility, std::string_view text) {
    auto l = level <= 3   ? log::Level::kError
             : level <= 4 ? log::Level::kWarn
             : level <= 6 ? log::Level::kInfo
                          : log::Level::kDebug;
    if (log::enabled(l)) log::write(l, "kafka", text, {{"facility", facility}});
  });
  auto options = bus::kafka_options_from_env(bootstrap, role);
  options.statistics_interval_ms = 15000;
  options.on_statistics = &export_kafka_statistics;
  auto kafka = bus::KafkaBus::open(options);
  if (!kafka) return unexpected(kafka.error().message);
  log::info("bus", "connected to kafka", {{"bootstrap", bootstrap}, {"user", options.username}});
  std::unique_ptr<bus::Bus> b = std::move(kafka).value();
  if (auto t = ensure_protocol_topics(*b, c.get_string("QUEUE_CONTROL_TOPIC"),
                                      c.get_string("QUEUE_EVENTS_TOPIC"));
      !t)
    return unexpected(t.error());
  return b;
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
  std::vector<std::string> args(argv, argv + argc);
  const auto& options = parser.options();
  if (std::any_of(options.begin(), options.end(),
                  [](const OptionSpec& o) { return o.name == "SF_STORE"; })) {
    for (auto& a : args) {
      if (a == "--store") a = "--sf-store";
      if (a.rfind("--store=", 0) == 0) a = "--sf-store=" + a.substr(8);
    }
  }
  std::vector<const char*> spelled;
  for (const auto& a : args) spelled.push_back(a.c_str());
  auto config = parser.parse(argc, spelled.data());
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

int run_worker_process(const Config& config, const std::string& service,
                       const std::string& bus_role,
                       const std::function<WorkResult(WorkerContext&)>& body) {
  std::atomic<Worker*> active{nullptr};
  install_stop_signals([&](int sig) {
    if (auto* w = active.load()) w->request_stop("signal " + std::to_string(sig));
  });
  auto bus = open_bus(config, bus_role);
  if (!bus) {
    log::error(service, "cannot open bus", {{"error", bus.error()}});
    return 2;
  }
  auto health = start_health_server(config, service);
  if (!health) {
    log::error(service, "cannot start health server", {{"error", health.error()}});
    return 2;
  }
  Worker worker(**bus, worker_settings_from(config, service));
  active = &worker;
  if (*health) (*health)->set_ready(true);
  const int rc = worker.run(body);
  active = nullptr;
  if (*health) (*health)->stop();
  return rc;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    std::string item = text.substr(start, end - start);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) out.push_back(item);
    start = end + 1;
  }
  return out;
}

}  // namespace sf::runtime
