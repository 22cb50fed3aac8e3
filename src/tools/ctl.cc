#include "tools/ctl.h"

#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <thread>
#include <vector>

#include "runtime/config.h"
#include "runtime/http_client.h"
#include "core/time.h"
#include "runtime/control_client.h"
#include "runtime/json_writer.h"
#include "runtime/log.h"
#include "runtime/service.h"

namespace sf::tools {

namespace {

void print_summary(std::vector<double> rtts) {
  if (rtts.empty()) return;
  std::sort(rtts.begin(), rtts.end());
  double sum = 0;
  for (double v : rtts) sum += v;
  std::printf("%zu pongs: min %.3f ms, avg %.3f ms, max %.3f ms\n", rtts.size(), rtts.front(),
              sum / static_cast<double>(rtts.size()), rtts.back());
}

// With Kafka configured, ctl publishes on queue-control and reads pongs from queue-events itself.
int ctl_over_bus(const runtime::Config& config, const std::string& command) {
  auto bus = runtime::open_bus(config);
  if (!bus) {
    std::cerr << "streamforge ctl: " << bus.error() << '\n';
    return 1;
  }
  runtime::Topics topics{config.get_string("QUEUE_CONTROL_TOPIC"), config.get_string("QUEUE_EVENTS_TOPIC")};
  const auto queue_id = config.get_string("QUEUE_ID");
  const auto target = config.get_string("TARGET");
  const bool expect_pong = command == "ping" && config.get_bool("EXPECT_PONG");
  std::vector<double> rtts;
  int failures = 0;
  for (std::int64_t i = 0; i < std::max<std::int64_t>(1, config.get_int("REPEAT")); ++i) {
    if (i > 0) std::this_thread::sleep_for(config.get_duration("INTERVAL"));
    if (expect_pong) {
      auto reply = runtime::ping(**bus, topics, queue_id, target, config.get_duration("TIMEOUT"));
      if (!reply) {
        std::cerr << "streamforge ctl: " << reply.error() << '\n';
        ++failures;
        continue;
      }
      rtts.push_back(reply->rtt_ms);
      std::printf("pong from %s: rtt %.3f ms\n", reply->pong.producer.c_str(), reply->rtt_ms);
    } else {
      runtime::ControlCommand cmd{.command = command, .queue_id = queue_id, .target = target,
                                  .sent_at = now_unix_seconds()};
      if (auto r = runtime::send_command(**bus, topics, cmd); !r) {
        std::cerr << "streamforge ctl: " << r.error() << '\n';
        return 1;
      }
      std::printf("%s sent to queue %s\n", command.c_str(), queue_id.c_str());
    }
  }
  print_summary(rtts);
  return failures > 0 ? 1 : 0;
}

}  // namespace

int ctl_main(int argc, char** argv) {
  runtime::ConfigParser parser("streamforge ctl ping|stop",
                               "Sends ping or stop to the workers of a queue and prints ping "
                               "round-trip times.");
  parser.add({.name = "QUEUE_ID", .help = "queue whose workers get the command", .required = true});
  parser.add({.name = "TARGET", .default_value = "", .help = "only this service or telemetry id"});
  parser.add({.name = "EXPECT_PONG", .type = runtime::OptionType::kBool, .default_value = "false",
              .help = "wait for each pong; exit 1 if one does not come"});
  parser.add({.name = "REPEAT", .type = runtime::OptionType::kInt, .default_value = "1",
              .help = "send the command N times"});
  parser.add({.name = "INTERVAL", .type = runtime::OptionType::kDuration, .default_value = "1",
              .help = "seconds between repeats"});
  parser.add({.name = "TIMEOUT", .type = runtime::OptionType::kDuration, .default_value = "10",
              .help = "seconds to wait for a pong"});
  parser.add({.name = "SF_API_URL", .default_value = "http://127.0.0.1:8080",
              .help = "API of the running platform (used when KAFKA_BOOTSTRAP_SERVERS is unset)"});
  parser.add({.name = "KAFKA_BOOTSTRAP_SERVERS", .default_value = "",
              .help = "talk to the workers through Kafka directly"});
  parser.add({.name = "BUS", .default_value = "", .help = "bus URL: kafka://HOST:PORT (as KAFKA_BOOTSTRAP_SERVERS)"});
  parser.add({.name = "QUEUE_CONTROL_TOPIC", .default_value = "queue-control", .help = "command topic"});
  parser.add({.name = "QUEUE_EVENTS_TOPIC", .default_value = "queue-events", .help = "telemetry topic"});
  parser.add({.name = "LOG_LEVEL", .default_value = "warn", .help = "debug, info, warn or error"});
  auto config = parser.parse(argc, argv);
  if (!config) {
    std::cerr << config.error() << "\n(see --help)\n";
    return 2;
  }
  if (config->help_requested()) {
    std::cout << parser.help_text();
    return 0;
  }
  const auto& pos = config->positional();
  if (pos.size() != 1 || (pos[0] != "ping" && pos[0] != "stop")) {
    std::cerr << "streamforge ctl: expected exactly one of 'ping' or 'stop' (see --help)\n";
    return 2;
  }
  const std::string command = pos[0];
  if (auto lvl = log::parse_level(config->get_string("LOG_LEVEL")); lvl) log::set_level(*lvl);
  if (!config->get_string("KAFKA_BOOTSTRAP_SERVERS").empty() || !config->get_string("BUS").empty())
    return ctl_over_bus(*config, command);
  const bool expect_pong = command == "ping" && config->get_bool("EXPECT_PONG");
  const auto repeat = std::max<std::int64_t>(1, config->get_int("REPEAT"));
  const std::string url = config->get_string("SF_API_URL") + "/api/v1/control";
  std::vector<double> rtts;
  int failures = 0;
  runtime::HttpClient client;
  for (std::int64_t i = 0; i < repeat; ++i) {
    if (i > 0) std::this_thread::sleep_for(config->get_duration("INTERVAL"));
    std::string body;
    runtime::JsonWriter w(body);
    w.begin_object().field("command", command).field("queue_id", config->get_string("QUEUE_ID"));
    if (!config->get_string("TARGET").empty()) w.field("target", config->get_string("TARGET"));
    if (expect_pong) {
      w.field("expect_pong", true)
          .field("timeout_ms", static_cast<std::int64_t>(config->get_duration("TIMEOUT").count()));
    }
    w.end_object();
    runtime::HttpHeaders headers;
    headers.set("Content-Type", "application/json");
    auto t0 = std::chrono::steady_clock::now();
    auto r = client.request("POST", url, body, headers, config->get_duration("TIMEOUT") + std::chrono::seconds(5));
    double total_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (!r) {
      std::cerr << "streamforge ctl: cannot reach " << url << ": " << r.error()
                << " (is `streamforge run` running? set SF_API_URL)\n";
      return 1;
    }
    if (r->status >= 300) {
      std::cerr << "streamforge ctl: " << command << " failed (" << r->status << "): " << r->body << '\n';
      ++failures;
      continue;
    }
    if (!expect_pong) {
      std::cout << command << " sent to queue " << config->get_string("QUEUE_ID") << '\n';
      continue;
    }
    simdjson::dom::parser p;
    simdjson::dom::element doc;
    double rtt = 0;
    std::string_view producer;
    if (p.parse(r->body).get(doc) || doc["rtt_ms"].get_double().get(rtt) ||
        doc["producer"].get_string().get(producer)) {
      std::cerr << "streamforge ctl: unexpected reply: " << r->body << '\n';
      ++failures;
      continue;
    }
    rtts.push_back(rtt);
    std::printf("pong from %.*s: rtt %.3f ms (bus), %.3f ms (with API)\n",
                static_cast<int>(producer.size()), producer.data(), rtt, total_ms);
  }
  print_summary(rtts);
  return failures > 0 ? 1 : 0;
}

}  // namespace sf::tools
