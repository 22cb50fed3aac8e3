// Our producer publishing normalised trade records to a real broker, records/s.
//   bench/kafka_produce.sh runs it next to Kafka's own kafka-producer-perf-test (same broker,
//   same record count and size, same producer settings) and prints the ratio.
// Usage: bench_kafka_produce BOOTSTRAP TOPIC RECORDS
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "bus/kafka_bus.h"
#include "core/wire.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s BOOTSTRAP TOPIC RECORDS\n", argv[0]);
    return 2;
  }
  const long records = std::atol(argv[3]);
  sf::bus::KafkaBusOptions o;
  o.bootstrap_servers = argv[1];
  auto bus = sf::bus::KafkaBus::open(o);
  if (!bus) {
    std::fprintf(stderr, "%s\n", bus.error().message.c_str());
    return 1;
  }
  if (auto t = (*bus)->create_topic(argv[2], 3); !t) {
    std::fprintf(stderr, "%s\n", t.error().message.c_str());
    return 1;
  }
  const sf::Symbol symbols[] = {*sf::Symbol::parse("BTCUSDT"), *sf::Symbol::parse("ETHUSDT"),
                                *sf::Symbol::parse("SOLUSDT"), *sf::Symbol::parse("BNBUSDT")};
  const auto price = *sf::Decimal::parse("61837.63000000");
  const auto qty = *sf::Decimal::parse("0.02000000");
  std::string value;
  std::size_t bytes = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < records; ++i) {
    const auto& sym = symbols[i % 4];
    sf::Trade t{.symbol = sym, .trade_id = 3735683259 + i, .price = price, .quantity = qty,
                .trade_time = 1723161255342000 + i, .event_time = 1723161255343000 + i,
                .receive_time = 1723161254061862 + i, .is_buyer_maker = (i & 1) != 0,
                .is_best_match = true};
    value.clear();
    sf::wire::encode(t, value);
    bytes += value.size();
    auto r = (*bus)->publish(argv[2], sym.view(), value);
    if (!r) {
      std::fprintf(stderr, "publish %ld: %s\n", i, r.error().message.c_str());
      return 1;
    }
  }
  auto f = (*bus)->flush(std::chrono::minutes(5));
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!f) {
    std::fprintf(stderr, "flush: %s\n", f.error().message.c_str());
    return 1;
  }
  std::printf("records=%ld avg_record_bytes=%zu seconds=%.3f records_per_s=%.0f delivered=%lld failed=%lld\n",
              records, bytes / static_cast<std::size_t>(records), secs, records / secs,
              static_cast<long long>((*bus)->delivered()),
              static_cast<long long>((*bus)->delivery_failures()));
  return (*bus)->delivered() == records ? 0 : 1;
}
