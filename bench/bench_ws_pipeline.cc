// Live pipeline throughput and latency: exchange-sim replays the recorded BTCUSDT WebSocket
// capture (2024-08-08/09) at --speed max; loader-ws parses, (for depth) maintains the order book
// (with and without the online @bookTicker cross-check), and publishes; also ws_book_ticker.
// Reported: frames/s end to end, and receive -> visible-on-the-bus latency p50/p99/p99.9 (the
// record's receive_time against the clock when a consumer reads it).
//   build/bench/bench_ws_pipeline [KAFKA_BOOTSTRAP]
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <future>
#include <memory>

#include "bus/inproc_bus.h"
#include "bus/kafka_bus.h"
#include "core/time.h"
#include "runtime/log.h"
#include "services/exchange_sim/exchange_sim.h"
#include "services/loader_ws/loader_ws.h"

using namespace std::chrono_literals;

namespace {

struct Result {
  double seconds = 0;
  std::int64_t frames = 0;
  std::int64_t records = 0;
  std::vector<std::int64_t> latency_us;
  std::int64_t checks = 0;  // ws_depth: bookTicker cross-checks (and mismatches)
  std::int64_t mismatches = 0;
};

std::int64_t percentile(std::vector<std::int64_t>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

Result run(sf::bus::Bus& bus, const std::string& type, std::int64_t expected_records,
           const std::string& topic, bool book_ticker_check = true) {
  const std::string data = std::string(SF_REPO_ROOT) + "/../shared/data";
  sf::services::exchange_sim::ExchangeSimOptions so;
  so.data_dir = data;
  so.replay_files = {data + "/hftbacktest_ws_spot/btcusdt_20240808.gz",
                     data + "/hftbacktest_ws_spot/btcusdt_20240809.gz"};
  so.replay_speed = 0;  // max
  auto sim = sf::services::exchange_sim::ExchangeSim::start(so);
  if (!sim) {
    std::fprintf(stderr, "sim: %s\n", sim.error().c_str());
    std::exit(1);
  }
  sf::services::LoaderWsOptions o;
  o.type = type;
  o.symbols = {*sf::Symbol::parse("BTCUSDT")};
  o.topic = topic;
  o.ws.base_url = (*sim)->ws_base_url();
  o.rest.base_url = (*sim)->rest_base_url();
  o.snapshot_interval = 0ms;
  o.book_ticker_check = book_ticker_check;
  auto stats = o.stats;
  sf::runtime::WorkerSettings s;
  s.service = "loader-ws";
  s.queue_id = "bench-" + type;
  s.type = type;
  s.telemetry_interval = 1s;
  sf::runtime::Worker w(bus, s);
  (void)bus.create_topic(topic, 1);  // exists before the reader subscribes (no metadata wait)
  auto reader = bus.subscribe({.topics = {topic},
                               .group = "bench-reader-" + type,
                               .start = sf::bus::StartFrom::kEarliest,
                               .offsets = {}});
  // The reader joins its group first, so the measurement does not include Kafka's group join.
  const auto join_deadline = std::chrono::steady_clock::now() + 30s;
  while (!(*reader)->assigned() && std::chrono::steady_clock::now() < join_deadline)
    (void)(*reader)->poll(100ms);
  Result r;
  const auto t0 = std::chrono::steady_clock::now();
  auto running =
      std::async(std::launch::async, [&] { return w.run(sf::services::loader_ws_body(o)); });
  simdjson::dom::parser json;
  const auto deadline = t0 + 120s;
  auto last_record = std::chrono::steady_clock::now();
  while (r.records < expected_records && std::chrono::steady_clock::now() < deadline) {
    auto batch = (*reader)->poll(50ms, 100000);
    if (!batch) break;
    // The replay is over once nothing new has come for a while (depth counts vary with resyncs).
    if (batch->empty() && r.records > 0 && std::chrono::steady_clock::now() - last_record > 2s)
      break;
    if (!batch->empty()) last_record = std::chrono::steady_clock::now();
    const auto now = sf::now_micros();
    for (const auto& m : *batch) {
      simdjson::dom::element doc;
      if (json.parse(m.value).get(doc)) continue;
      std::int64_t received = 0;
      if (doc["receive_time"].get_int64().get(received) == simdjson::SUCCESS && received > 0)
        r.latency_us.push_back(now - received);
      ++r.records;
    }
  }
  r.seconds = std::chrono::duration<double>(last_record - t0).count();
  r.frames = stats->frames.load();
  r.checks = stats->book_ticker_checks.load();
  r.mismatches = stats->book_ticker_mismatches.load();
  w.request_stop("bench done");
  running.get();
  return r;
}

void report(const char* name, Result r) {
  std::printf(
      "%-34s frames=%lld records=%lld seconds=%.2f frames_per_s=%.0f latency_us p50=%lld p99=%lld "
      "p99.9=%lld ticker_checks=%lld mismatches=%lld\n",
      name, static_cast<long long>(r.frames), static_cast<long long>(r.records), r.seconds,
      r.frames / r.seconds, static_cast<long long>(percentile(r.latency_us, 0.5)),
      static_cast<long long>(percentile(r.latency_us, 0.99)),
      static_cast<long long>(percentile(r.latency_us, 0.999)), static_cast<long long>(r.checks),
      static_cast<long long>(r.mismatches));
}

}  // namespace

int main(int argc, char** argv) {
  sf::log::set_level(sf::log::Level::kWarn);
  {
    sf::bus::InProcBus bus;
    report("ws_trades -> inproc", run(bus, "ws_trades", 19904, "bench-ws-trades"));
  }
  {
    sf::bus::InProcBus bus;
    report("ws_depth (no check) -> inproc",
           run(bus, "ws_depth", 6400, "bench-ws-depth-plain", false));
  }
  {
    sf::bus::InProcBus bus;
    report("ws_depth + bookTicker check -> inproc", run(bus, "ws_depth", 6400, "bench-ws-depth"));
  }
  {
    sf::bus::InProcBus bus;
    report("ws_book_ticker -> inproc", run(bus, "ws_book_ticker", 73174, "bench-ws-book-ticker"));
  }
  if (argc > 1) {
    sf::bus::KafkaBusOptions ko;
    ko.bootstrap_servers = argv[1];
    auto k = sf::bus::KafkaBus::open(ko);
    if (!k) {
      std::fprintf(stderr, "%s\n", k.error().message.c_str());
      return 1;
    }
    const std::string suffix = std::to_string(sf::now_micros());
    report("ws_trades -> kafka", run(**k, "ws_trades", 19904, "bench-ws-trades-" + suffix));
    report("ws_depth -> kafka", run(**k, "ws_depth", 6400, "bench-ws-depth-" + suffix));
  }
  return 0;
}
