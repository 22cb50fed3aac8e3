// arango-connector throughput: a topic prefilled with N trade records (wire format) is persisted
// by connector_body until the end of the topic; prints rows/s per phase. Store and bus come from
// the command line, so the same run compares SQLite and PostgreSQL, in-process bus and Kafka.
//
//   bench_connector [--rows N] [--batch N] [--store URL] [--kafka HOST:PORT]
//
// Defaults: 1,000,000 rows, batches of 10,000, a temporary SQLite file, the in-process bus.
// Example (the BENCHMARKS.md rows): see bench/connector.sh.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <thread>

#include "bus/inproc_bus.h"
#include "bus/kafka_bus.h"
#include "core/wire.h"
#include "runtime/log.h"
#include "services/arango_connector/arango_connector.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

[[noreturn]] void die(const std::string& m) {
  std::fprintf(stderr, "bench_connector: %s\n", m.c_str());
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  long rows = 1'000'000;
  long batch = 10'000;
  std::string store_url;
  std::string kafka;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--rows")
      rows = std::atol(argv[i + 1]);
    else if (a == "--batch")
      batch = std::atol(argv[i + 1]);
    else if (a == "--store")
      store_url = argv[i + 1];
    else if (a == "--kafka")
      kafka = argv[i + 1];
    else
      die("unknown option " + a);
  }
  sf::log::set_level(sf::log::Level::kWarn);
  std::filesystem::path tmp;
  if (store_url.empty()) {
    tmp = std::filesystem::temp_directory_path() /
          ("sf_bench_connector_" + std::to_string(::getpid()) + ".db");
    store_url = "sqlite:" + tmp.string();
  }
  auto store = sf::store::open_store(store_url);
  if (!store) die("store: " + store.error().message);

  std::unique_ptr<sf::bus::Bus> bus;
  if (kafka.empty()) {
    // The whole topic is filled before the connector starts: room for all of it.
    sf::bus::InProcBusOptions bo;
    bo.max_retained_bytes_per_topic = 4LL << 30;
    bus = std::make_unique<sf::bus::InProcBus>(bo);
  } else {
    sf::bus::KafkaBusOptions ko;
    ko.bootstrap_servers = kafka;
    auto k = sf::bus::KafkaBus::open(ko);
    if (!k) die("kafka: " + k.error().message);
    bus = std::move(*k);
  }
  const std::string topic = "bench-connector-" + std::to_string(std::random_device{}());
  if (auto r = bus->create_topic(topic, 1); !r) die("create topic: " + r.error().message);

  const auto btc = *sf::Symbol::parse("BTCUSDT");
  // Fresh trade ids every run: a persistent store (PostgreSQL) takes the insert path, not the
  // merge path of rows a previous run left.
  const std::int64_t first_id = 1'000'000'000LL * (1 + std::random_device{}() % 1'000'000);
  std::string record;
  auto t0 = Clock::now();
  for (long i = 1; i <= rows; ++i) {
    record.clear();
    sf::wire::encode(
        sf::Trade{.symbol = btc,
                  .trade_id = first_id + i,
                  .price = sf::Decimal::from_parts(6183763000000 + (i * 7919) % 100000000, 8),
                  .quantity = sf::Decimal::from_parts(2000000 + i % 997, 8),
                  .trade_time = 1723161255342000 + i * 137,
                  .event_time = 1723161255343000 + i * 137,
                  .receive_time = 1723161254061862 + i * 137,
                  .is_buyer_maker = i % 2 == 0,
                  .is_best_match = true},
        record);
    for (;;) {
      auto r = bus->publish(topic, "BTCUSDT", record);
      if (r) break;
      if (r.error().code != sf::bus::BusErrc::kBackpressure) die("publish: " + r.error().message);
    }
  }
  if (auto r = bus->flush(std::chrono::minutes(2)); !r) die("flush: " + r.error().message);
  const double fill = seconds_since(t0);

  sf::services::ConnectorOptions o;
  o.topics = {topic};
  o.group = "bench-" + topic;
  o.batch_records = static_cast<std::size_t>(batch);
  o.finish_when = sf::services::FinishWhen::kEndOfTopic;
  sf::services::ConnectorStats stats;
  sf::runtime::WorkerSettings ws;
  ws.service = "arango-connector";
  ws.queue_id = "bench";
  ws.telemetry_interval = std::chrono::seconds(5);
  sf::runtime::Worker worker(*bus, ws);
  t0 = Clock::now();
  // The rate counts from the first message read, so a consumer-group join (Kafka) is not in it.
  std::atomic<bool> done{false};
  Clock::time_point first_read = t0;
  std::thread watch([&] {
    while (!done && stats.consumed.load() == 0)
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    first_read = Clock::now();
  });
  const int rc = worker.run(sf::services::connector_body(o, **store, &stats));
  done = true;
  watch.join();
  const double persist = seconds_since(first_read);
  const double join = std::chrono::duration<double>(first_read - t0).count();
  if (rc != 0) die("connector failed");
  if (stats.written.load() != rows) die("wrote " + std::to_string(stats.written.load()));

  std::printf("bus=%s store=%s rows=%ld batch=%ld\n", std::string(bus->kind()).c_str(),
              std::string((*store)->kind()).c_str(), rows, batch);
  std::printf("  fill topic         %8.2f s  %10.0f records/s\n", fill, rows / fill);
  std::printf("  subscribe -> first %8.2f s\n", join);
  std::printf("  topic -> store     %8.2f s  %10.0f rows/s (decode + validate + upsert + commit)\n",
              persist, rows / persist);
  if (!tmp.empty()) {
    std::filesystem::remove(tmp);
    std::filesystem::remove(tmp.string() + "-wal");
    std::filesystem::remove(tmp.string() + "-shm");
  }
  return 0;
}
