#include "tools/workflow_cli.h"

#include <simdjson.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <set>
#include <thread>

#include "core/time.h"
#include "runtime/config.h"
#include "runtime/http_client.h"
#include "runtime/json_writer.h"

namespace sf::tools {
namespace {

struct Api {
  std::string base;
  std::string token;
  runtime::HttpClient client;

  Result<runtime::HttpResponse, std::string> call(const std::string& method,
                                                  const std::string& path,
                                                  const std::string& body = {}) {
    runtime::HttpHeaders h;
    if (!body.empty()) h.set("Content-Type", "application/json");
    if (!token.empty()) h.set("Authorization", "Bearer " + token);
    auto r = client.request(method, base + path, body, h, std::chrono::seconds(30));
    if (!r)
      return unexpected("cannot reach " + base + ": " + r.error() +
                        " (is `streamforge run` running? set SF_API_URL)");
    return r;
  }
};

std::string field(simdjson::dom::element e, const char* key) {
  std::string_view v;
  if (e[key].get_string().get(v)) return {};
  return std::string(v);
}

void print_workflow(simdjson::dom::element w) {
  std::printf("%s  %s  %s\n", field(w, "queue_id").c_str(), field(w, "template").c_str(),
              field(w, "status").c_str());
  if (!field(w, "message").empty()) std::printf("  %s\n", field(w, "message").c_str());
  simdjson::dom::array stages;
  if (w["stages"].get_array().get(stages)) return;
  for (auto s : stages) {
    std::int64_t attempt = 0, records = 0;
    if (s["attempt"].get_int64().get(attempt)) attempt = 0;
    if (s["records_written"].get_int64().get(records)) records = 0;
    std::printf("  %-20s %-22s %-12s attempt %lld  records %lld  %s\n", field(s, "name").c_str(),
                field(s, "service").c_str(), field(s, "status").c_str(),
                static_cast<long long>(attempt), static_cast<long long>(records),
                field(s, "output_topic").c_str());
  }
}

int fail_response(const runtime::HttpResponse& r) {
  std::cerr << "streamforge workflow: HTTP " << r.status << ": " << r.body << '\n';
  return r.status >= 500 ? 1 : 2;
}

bool terminal(const std::string& s) {
  return s == "finished" || s == "failed" || s == "interrupted";
}

int show(Api& api, const std::string& id, bool quiet, std::string* status_out) {
  auto r = api.call("GET", "/queues/" + id);
  if (!r) {
    std::cerr << "streamforge workflow: " << r.error() << '\n';
    return 1;
  }
  if (r->status != 200) return fail_response(*r);
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  if (p.parse(r->body).get(doc)) {
    std::cerr << "streamforge workflow: bad response\n";
    return 1;
  }
  if (!quiet) print_workflow(doc);
  if (status_out) *status_out = field(doc, "status");
  return 0;
}

int events(Api& api, const std::string& id, bool follow) {
  double after = -1;
  std::set<std::string> seen;
  while (true) {
    char q[64];
    std::snprintf(q, sizeof q, "?after=%.6f", after);
    auto r = api.call("GET", "/queues/" + id + "/events" + (after >= 0 ? q : ""));
    if (!r) {
      std::cerr << "streamforge workflow: " << r.error() << '\n';
      return 1;
    }
    if (r->status != 200) return fail_response(*r);
    simdjson::dom::parser p;
    simdjson::dom::element doc;
    simdjson::dom::array arr;
    if (p.parse(r->body).get(doc) || doc.get_array().get(arr)) return 1;
    for (auto e : arr) {
      double ts = 0;
      if (e["timestamp"].get_double().get(ts)) ts = 0;
      std::int64_t records = 0;
      if (e["records_written"].get_int64().get(records)) records = 0;
      const std::string key = std::to_string(ts) + field(e, "producer") + field(e, "status");
      if (!seen.insert(key).second) continue;
      std::printf("%s  %-40s %-12s records=%lld  %s\n",
                  format_iso8601(static_cast<TimestampUs>(ts * 1e6)).c_str(),
                  field(e, "producer").c_str(), field(e, "status").c_str(),
                  static_cast<long long>(records), field(e, "message").c_str());
      after =
          std::max(after, ts - 1);  // a second of overlap: events with equal stamps are not lost
    }
    std::fflush(stdout);
    if (!follow) return 0;
    std::string status;
    if (show(api, id, true, &status) != 0) return 1;
    if (terminal(status)) return 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

}  // namespace

int workflow_main(int argc, char** argv) {
  runtime::ConfigParser parser(
      "streamforge workflow start|list|show ID|stop ID|events ID",
      "Starts, lists, shows and stops workflows through the queue-manager API.");
  parser.add(
      {.name = "TEMPLATE", .default_value = "", .help = "start: template (workflows/*.json)"});
  parser.add({.name = "SYMBOL", .default_value = "", .help = "start: symbol, e.g. BTCUSDT"});
  parser.add({.name = "FROM", .default_value = "", .help = "start: first day YYYY-MM-DD"});
  parser.add({.name = "TO", .default_value = "", .help = "start: end day YYYY-MM-DD (exclusive)"});
  parser.add({.name = "INTERVAL", .default_value = "", .help = "start: candle interval"});
  parser.add({.name = "PARAM", .default_value = "", .help = "start: more parameters, k=v,k2=v2"});
  parser.add({.name = "QUEUE_ID", .default_value = "", .help = "start: choose the queue id"});
  parser.add({.name = "WAIT",
              .type = runtime::OptionType::kBool,
              .default_value = "false",
              .help = "start: wait until the workflow ends; exit 0 only if it finished"});
  parser.add({.name = "FOLLOW",
              .type = runtime::OptionType::kBool,
              .default_value = "false",
              .help = "events: keep printing until the workflow ends"});
  parser.add({.name = "STATUS", .default_value = "", .help = "list: only this status"});
  parser.add({.name = "TIMEOUT",
              .type = runtime::OptionType::kDuration,
              .default_value = "3600",
              .help = "start --wait: give up after this many seconds"});
  parser.add({.name = "SF_API_URL",
              .default_value = "http://127.0.0.1:8080",
              .help = "queue-manager API"});
  parser.add({.name = "SF_API_TOKEN", .default_value = "", .help = "bearer token for start/stop"});
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
  if (pos.empty()) {
    std::cerr << "streamforge workflow: expected start, list, show ID, stop ID or events ID (see "
                 "--help)\n";
    return 2;
  }
  Api api{config->get_string("SF_API_URL"), config->get_string("SF_API_TOKEN"), {}};
  const std::string cmd = pos[0];
  if ((cmd == "show" || cmd == "stop" || cmd == "events") && pos.size() != 2) {
    std::cerr << "streamforge workflow " << cmd << ": expected the queue id\n";
    return 2;
  }
  if (cmd == "start") {
    std::string body;
    runtime::JsonWriter w(body);
    w.begin_object().field("template", config->get_string("TEMPLATE"));
    for (const char* k : {"SYMBOL", "FROM", "TO", "INTERVAL", "QUEUE_ID"}) {
      const auto v = config->get_string(k);
      if (v.empty()) continue;
      std::string key(k);
      for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      w.field(key, v);
    }
    if (const auto extra = config->get_string("PARAM"); !extra.empty()) {
      w.key("params").begin_object();
      std::size_t start = 0;
      while (start < extra.size()) {
        auto end = extra.find(',', start);
        if (end == std::string::npos) end = extra.size();
        const auto kv = extra.substr(start, end - start);
        const auto eq = kv.find('=');
        if (eq == std::string::npos) {
          std::cerr << "streamforge workflow: --param wants k=v pairs\n";
          return 2;
        }
        w.field(kv.substr(0, eq), kv.substr(eq + 1));
        start = end + 1;
      }
      w.end_object();
    }
    w.end_object();
    auto r = api.call("POST", "/queues", body);
    if (!r) {
      std::cerr << "streamforge workflow: " << r.error() << '\n';
      return 1;
    }
    if (r->status != 201) return fail_response(*r);
    simdjson::dom::parser p;
    simdjson::dom::element doc;
    if (p.parse(r->body).get(doc)) return 1;
    const std::string id = field(doc, "queue_id");
    std::printf("started %s\n", id.c_str());
    std::fflush(stdout);
    if (!config->get_bool("WAIT")) {
      print_workflow(doc);
      return 0;
    }
    const auto deadline = std::chrono::steady_clock::now() + config->get_duration("TIMEOUT");
    std::string status, last;
    while (std::chrono::steady_clock::now() < deadline) {
      if (show(api, id, true, &status) != 0) return 1;
      if (status != last) {
        std::printf("%s: %s\n", id.c_str(), status.c_str());
        std::fflush(stdout);
        last = status;
      }
      if (terminal(status)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
    show(api, id, false, nullptr);
    return status == "finished" ? 0 : 1;
  }
  if (cmd == "list") {
    std::string path = "/queues";
    if (!config->get_string("STATUS").empty()) path += "?status=" + config->get_string("STATUS");
    auto r = api.call("GET", path);
    if (!r) {
      std::cerr << "streamforge workflow: " << r.error() << '\n';
      return 1;
    }
    if (r->status != 200) return fail_response(*r);
    simdjson::dom::parser p;
    simdjson::dom::element doc;
    simdjson::dom::array arr;
    if (p.parse(r->body).get(doc) || doc.get_array().get(arr)) return 1;
    for (auto w : arr)
      std::printf("%-50s %-18s %s\n", field(w, "queue_id").c_str(), field(w, "template").c_str(),
                  field(w, "status").c_str());
    return 0;
  }
  if (cmd == "show") return show(api, pos[1], false, nullptr);
  if (cmd == "events") return events(api, pos[1], config->get_bool("FOLLOW"));
  if (cmd == "stop") {
    auto r = api.call("POST", "/queues/" + pos[1] + "/stop", "{}");
    if (!r) {
      std::cerr << "streamforge workflow: " << r.error() << '\n';
      return 1;
    }
    if (r->status != 202) return fail_response(*r);
    std::printf("stopping %s\n", pos[1].c_str());
    return 0;
  }
  std::cerr << "streamforge workflow: unknown command " << cmd << '\n';
  return 2;
}

}  // namespace sf::tools
