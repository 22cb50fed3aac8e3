// Historical load throughput: bulk files -> decode -> normalise -> publish, records/s.
//   build/bench/bench_loader [RECORDS] [KAFKA_BOOTSTRAP]
// A local data.binance.vision mirror is made in a temp dir from the real 2026-01-01 aggTrades
// sample in ../shared/data, repeated with shifted ids to RECORDS rows (default 1,000,000) in one
// daily zip. Reported: read+decode only; read+decode+encode+publish to the in-process bus; and,
// with a bootstrap address, the same to Kafka (flush included).
#include <zip.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "bus/inproc_bus.h"
#include "bus/kafka_bus.h"
#include "core/wire.h"
#include "exchange/binance/vision/vision.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

bool write_zip(const fs::path& path, const std::string& content) {
  fs::create_directories(path.parent_path());
  int error = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
  if (!z) return false;
  zip_source_t* src = zip_source_buffer(z, content.data(), content.size(), 0);
  std::string member = path.stem().string() + ".csv";
  if (zip_file_add(z, member.c_str(), src, ZIP_FL_OVERWRITE) < 0) return false;
  return zip_close(z) == 0;
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  const long records = argc > 1 ? std::atol(argv[1]) : 1'000'000;
  const std::string kafka = argc > 2 ? argv[2] : "";
  const fs::path source = fs::path(SF_REPO_ROOT) / ".." / "shared" / "data" /
                          "aggtrades_btcusdt_2026-01-01" / "BTCUSDT-aggTrades-2026-01-01_first5000.csv";
  std::ifstream in(source);
  if (!in) {
    std::fprintf(stderr, "shared data not found: %s\n", source.c_str());
    return 2;
  }
  std::vector<std::string> rows;
  for (std::string line; std::getline(in, line);) rows.push_back(line);
  // Repeat the real rows; ids and trade ids move on, times stay within the day.
  std::string csv;
  csv.reserve(static_cast<std::size_t>(records) * 90);
  for (long i = 0; i < records; ++i) {
    const auto& r = rows[static_cast<std::size_t>(i) % rows.size()];
    const long rep = i / static_cast<long>(rows.size());
    std::size_t c1 = r.find(','), c3 = r.find(',', r.find(',', c1 + 1) + 1), c4 = r.find(',', c3 + 1),
                c5 = r.find(',', c4 + 1);
    long long a = std::stoll(r.substr(0, c1)) + rep * 5000;
    long long f = std::stoll(r.substr(c3 + 1, c4 - c3 - 1)) + rep * 20000;
    long long l = std::stoll(r.substr(c4 + 1, c5 - c4 - 1)) + rep * 20000;
    csv += std::to_string(a) + r.substr(c1, c3 - c1) + "," + std::to_string(f) + "," +
           std::to_string(l) + r.substr(c5) + "\n";
  }
  const fs::path root = fs::temp_directory_path() / "sf_bench_loader_mirror";
  fs::remove_all(root);
  if (!write_zip(root / "data/spot/daily/aggTrades/BTCUSDT/BTCUSDT-aggTrades-2026-01-01.zip", csv)) {
    std::fprintf(stderr, "cannot write zip\n");
    return 1;
  }
  sf::binance::VisionOptions vo;
  vo.base_url = root.string();
  auto reader = sf::binance::VisionReader::open(vo);
  if (!reader) return 1;
  sf::TimestampUs day = 1767225600000000;
  sf::binance::VisionRequest req{.symbol = *sf::Symbol::parse("BTCUSDT"),
                                 .kind = sf::binance::VisionKind::kAggTrades,
                                 .interval = std::nullopt,
                                 .from = day,
                                 .to = day + 86'400'000'000LL};

  auto run = [&](const char* name, sf::bus::Bus* bus) {
    std::string buffer;
    long n = 0;
    auto t0 = Clock::now();
    auto stats = reader->read(req, [&](const sf::MarketEvent& e) {
      ++n;
      if (!bus) return true;
      buffer.clear();
      sf::wire::encode(e, buffer);
      return bus->publish("bench-loader", "BTCUSDT", buffer).ok();
    });
    if (bus) (void)bus->flush(std::chrono::minutes(5));
    double s = seconds_since(t0);
    std::printf("%-34s records=%ld seconds=%.3f records_per_s=%.0f%s\n", name, n, s, n / s,
                stats ? "" : " (read failed)");
  };

  run("bulk file -> decode", nullptr);
  sf::bus::InProcBusOptions io;
  io.max_retained_bytes_per_topic = 4LL << 30;
  sf::bus::InProcBus inproc(io);
  run("bulk file -> decode -> inproc bus", &inproc);
  if (!kafka.empty()) {
    sf::bus::KafkaBusOptions ko;
    ko.bootstrap_servers = kafka;
    auto k = sf::bus::KafkaBus::open(ko);
    if (!k) {
      std::fprintf(stderr, "%s\n", k.error().message.c_str());
      return 1;
    }
    run("bulk file -> decode -> kafka", k->get());
  }
  fs::remove_all(root);
  return 0;
}
