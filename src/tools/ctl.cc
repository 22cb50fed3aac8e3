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
#include "runtime/json_writer.h"

namespace sf::tools {

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
              .help = "API of the running platform"});
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
  if (!rtts.empty()) {
    std::sort(rtts.begin(), rtts.end());
    double sum = 0;
    for (double v : rtts) sum += v;
    std::printf("%zu pongs: min %.3f ms, avg %.3f ms, max %.3f ms\n", rtts.size(), rtts.front(),
                sum / static_cast<double>(rtts.size()), rtts.back());
  }
  return failures > 0 ? 1 : 0;
}

}  // namespace sf::tools
