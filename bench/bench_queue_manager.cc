// queue-manager telemetry throughput: N `loading` events for one running workflow are published
// on queue-events; the rate is events/s until the manager has processed (persisted event + workflow
// state) all of them. The store is a temporary SQLite file (or --store URL).
//
//   bench_queue_manager [--events N] [--store URL]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "bus/inproc_bus.h"
#include "runtime/log.h"
#include "runtime/protocol.h"
#include "services/queue_manager/launchers.h"
#include "services/queue_manager/queue_manager.h"

int main(int argc, char** argv) {
  long events = 20000;
  std::string store_url;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--events")
      events = std::atol(argv[i + 1]);
    else if (a == "--store")
      store_url = argv[i + 1];
  }
  sf::log::set_level(sf::log::Level::kError);
  std::filesystem::path tmp;
  if (store_url.empty()) {
    tmp = std::filesystem::temp_directory_path() /
          ("sf_bench_qm_" + std::to_string(::getpid()) + ".db");
    store_url = "sqlite:" + tmp.string();
  }
  auto store = sf::store::open_store(store_url);
  if (!store) {
    std::fprintf(stderr, "store: %s\n", store.error().message.c_str());
    return 1;
  }
  sf::bus::InProcBus bus;
  sf::services::qm::InProcessLauncher launcher(bus, {store->get()});
  sf::services::qm::QueueManagerOptions o;
  o.workflows_dir = std::string(SF_REPO_ROOT) + "/workflows";
  o.stall_timeout_s = 3600;
  sf::services::qm::QueueManager qm(bus, **store, launcher, o);
  if (auto s = qm.start(); !s) {
    std::fprintf(stderr, "start: %s\n", s.error().c_str());
    return 1;
  }
  auto w = qm.start_workflow("test-flow", {{"seconds", "3600"}}, "bench-qm");
  if (!w) return 1;
  // Wait until the stage runs (its own `started` counts as processed too).
  while (qm.workflow("bench-qm")->stages[0].status != "running")
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const std::string producer = qm.workflow("bench-qm")->stages[0].producer;
  const auto before = qm.events_processed();
  const auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < events; ++i) {
    sf::TelemetryEvent e{.queue_id = "bench-qm",
                         .producer = producer,
                         .symbol = "BTCUSDT",
                         .type = "dummy",
                         .status = "loading",
                         .message = "",
                         .records_written = i,
                         .finished = false,
                         .timestamp = 1.8e9 + static_cast<double>(i) * 1e-3,
                         .extra = "{}"};
    (void)bus.publish("queue-events", "bench-qm", sf::runtime::encode_telemetry(e));
  }
  while (qm.events_processed() - before < events)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf(
      "store=%s events=%ld\n  telemetry processed  %8.2f s  %10.0f events/s (decode + store event "
      "+ persist workflow)\n",
      std::string((*store)->kind()).c_str(), events, s, events / s);
  (void)qm.stop_workflow("bench-qm");
  qm.shutdown();
  if (!tmp.empty()) {
    std::filesystem::remove(tmp);
    std::filesystem::remove(tmp.string() + "-wal");
    std::filesystem::remove(tmp.string() + "-shm");
  }
  return 0;
}
