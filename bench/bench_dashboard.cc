// The dashboard's fan-out under load: exchange-sim replays the recorded BTCUSDT capture
// (2024-08-08/09: 19,904 trades, 6,493 depth diffs), loader-ws publishes trades and the
// synchronised book to the in-process bus, and N WebSocket clients subscribe to book + trades on
// /ws/market (the platform's Dashboard on its HTTP server). The clients run in a child process on
// one thread (asio coroutines, fields found by search), so the parent's CPU time is the server
// side only (replay, loader-ws, hub, WebSocket writes) and the clients take as little of the two
// cores as they can.
// Reported per run:
//   - trades and book updates delivered to the clients, "dropped" markers;
//   - latency of each trade: loader-ws's receive_time -> the client has decoded it (p50/p99), an
//     upper bound of bus -> client;
//   - server CPU per update delivered: (CPU with N clients - CPU of the same replay with none)
//     / updates delivered, both measured in this run.
//   build/bench/bench_dashboard [CLIENTS=50] [SPEED: max|10]
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "bus/inproc_bus.h"
#include "core/time.h"
#include "core/wire.h"
#include "runtime/http_server.h"
#include "runtime/log.h"
#include "services/exchange_sim/exchange_sim.h"
#include "services/loader_ws/loader_ws.h"
#include "services/visualizer/dashboard.h"
#include "store/store.h"

using namespace std::chrono_literals;

namespace {

// Published after the replay: a client that has read it has read everything before it.
constexpr std::int64_t kEndTradeId = 9'000'000'000'000;

constexpr const char* kSubscribe =
    R"({"subscribe":"market","symbol":"BTCUSDT","topics":{"trades":"bench-trades","depth":"bench-depth"},"depth":20})";

double cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

std::int64_t percentile(std::vector<std::int64_t>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

// The integer after `key` in `text`, 0 when absent. The clients read the few fields they need by
// search rather than parsing whole messages: they share the two cores with the server, and the
// latency measured should be the server's, not the clients'.
std::int64_t field_int(std::string_view text, std::string_view key) {
  const auto at = text.find(key);
  if (at == std::string_view::npos) return 0;
  std::int64_t v = 0;
  const char* p = text.data() + at + key.size();
  std::from_chars(p, text.data() + text.size(), v);
  return v;
}

struct ClientStats {
  std::vector<std::int64_t> latency_us;
  std::int64_t trades = 0, books = 0, dropped = 0;
};

namespace net = boost::asio;

net::awaitable<void> client(std::uint16_t port, ClientStats& st, std::atomic<int>& subscribed) {
  auto executor = co_await net::this_coro::executor;
  boost::beast::websocket::stream<net::ip::tcp::socket> ws(executor);
  co_await ws.next_layer().async_connect({net::ip::make_address("127.0.0.1"), port},
                                         net::use_awaitable);
  co_await ws.async_handshake("127.0.0.1", "/ws/market", net::use_awaitable);
  co_await ws.async_write(net::buffer(std::string_view(kSubscribe)), net::use_awaitable);
  ++subscribed;
  boost::beast::flat_buffer buffer;
  for (;;) {  // until the end marker (or the server closes the connection)
    buffer.clear();
    boost::beast::error_code ec;
    co_await ws.async_read(buffer, net::redirect_error(net::use_awaitable, ec));
    if (ec) break;
    const auto now = sf::now_micros();
    std::string_view frame(static_cast<const char*>(buffer.data().data()), buffer.size());
    bool end = false;
    while (!frame.empty() && !end) {  // several messages to a frame, one per line
      const auto eol = frame.find('\n');
      const std::string_view text = frame.substr(0, eol);
      frame = eol == std::string_view::npos ? std::string_view() : frame.substr(eol + 1);
      if (text.starts_with(R"({"v":1,"type":"trade")")) {
        ++st.trades;
        if (field_int(text, "\"trade_id\":") == kEndTradeId)
          end = true;
        else if (const auto received = field_int(text, "\"receive_time\":"); received > 0)
          st.latency_us.push_back(now - received);
      } else if (text.starts_with(R"({"type":"book")")) {
        ++st.books;
      } else if (text.starts_with(R"({"type":"dropped")")) {
        st.dropped += field_int(text, "\"count\":");
      }
    }
    if (end) break;
  }
}

// Child process: `clients` WebSocket clients on one thread; each reads until the end marker, then
// "trades books dropped p50 p99" goes to `out`.
int run_clients(int port, int clients, int out, int ready) {
  net::io_context io(1);
  std::vector<ClientStats> stats(static_cast<std::size_t>(clients));
  std::atomic<int> subscribed{0};
  for (auto& st : stats)
    net::co_spawn(io, client(static_cast<std::uint16_t>(port), st, subscribed), net::detached);
  std::thread reader([&] { io.run(); });
  while (subscribed.load() < clients) std::this_thread::sleep_for(10ms);
  std::this_thread::sleep_for(300ms);  // the subscriptions reached the hub
  (void)!::write(ready, "r", 1);
  reader.join();
  std::vector<std::int64_t> all;
  std::int64_t t = 0, b = 0, d = 0;
  for (const auto& st : stats) {
    all.insert(all.end(), st.latency_us.begin(), st.latency_us.end());
    t += st.trades;
    b += st.books;
    d += st.dropped;
  }
  const std::string line = std::to_string(t) + " " + std::to_string(b) + " " + std::to_string(d) +
                           " " + std::to_string(percentile(all, 0.5)) + " " +
                           std::to_string(percentile(all, 0.99)) + "\n";
  (void)!::write(out, line.data(), line.size());
  return 0;
}

struct Run {
  double seconds = 0;
  double cpu = 0;
  std::int64_t trades = 0, books = 0, dropped = 0, p50 = 0, p99 = 0;
};

// One replay with `clients` clients (0: the server alone, for the CPU baseline).
Run run(int clients, double speed) {
  const std::string data = std::string(SF_REPO_ROOT) + "/../shared/data";
  const auto db = std::filesystem::temp_directory_path() /
                  ("sf_bench_dashboard_" + std::to_string(::getpid()) + ".db");
  auto store = sf::store::open_store("sqlite:" + db.string());
  if (!store) std::exit(1);
  sf::bus::InProcBus bus;
  for (const char* t : {"bench-trades", "bench-depth"}) (void)bus.create_topic(t, 1);
  sf::services::visualizer::Dashboard dashboard(bus, **store);
  sf::runtime::HttpServerOptions ho;
  ho.max_streams = 256;
  sf::runtime::HttpServer server(ho);
  dashboard.install_routes(server);
  if (!server.start()) std::exit(1);

  // The clients' process; it says when its clients have subscribed.
  int results[2], ready[2];
  if (::pipe(results) != 0 || ::pipe(ready) != 0) std::exit(1);
  pid_t child = -1;
  if (clients > 0) {
    child = ::fork();
    if (child == 0) {
      ::close(results[0]);
      ::close(ready[0]);
      ::_exit(run_clients(server.port(), clients, results[1], ready[1]));
    }
    char c;
    if (::read(ready[0], &c, 1) != 1) std::exit(1);
  }
  ::close(results[1]);
  ::close(ready[1]);

  sf::services::exchange_sim::ExchangeSimOptions so;
  so.data_dir = data;
  so.replay_files = {data + "/hftbacktest_ws_spot/btcusdt_20240808.gz",
                     data + "/hftbacktest_ws_spot/btcusdt_20240809.gz"};
  so.replay_speed = speed;
  auto sim = sf::services::exchange_sim::ExchangeSim::start(so);
  if (!sim) std::exit(1);
  std::vector<std::unique_ptr<sf::runtime::Worker>> workers;
  std::vector<std::future<int>> running;
  const double cpu0 = cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  for (const auto& [type, topic] :
       {std::pair{"ws_trades", "bench-trades"}, std::pair{"ws_depth", "bench-depth"}}) {
    sf::services::LoaderWsOptions o;
    o.type = type;
    o.symbols = {*sf::Symbol::parse("BTCUSDT")};
    o.topic = topic;
    o.ws.base_url = (*sim)->ws_base_url();
    o.rest.base_url = (*sim)->rest_base_url();
    o.book_ticker_check = false;
    sf::runtime::WorkerSettings s;
    s.service = "loader-ws";
    s.queue_id = std::string("bench-") + type;
    s.type = type;
    auto* w = workers.emplace_back(std::make_unique<sf::runtime::Worker>(bus, s)).get();
    running.push_back(
        std::async(std::launch::async, [w, o] { return w->run(sf::services::loader_ws_body(o)); }));
  }
  Run r;
  // The replay is over when the trades topic stops growing.
  std::int64_t last = -1;
  auto last_change = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - last_change < 2s) {
    std::this_thread::sleep_for(100ms);
    std::int64_t published = 0;
    for (const auto& t : bus.topic_metrics())
      if (t.topic == "bench-trades") published = t.published;
    if (published != last) {
      last = published;
      last_change = std::chrono::steady_clock::now();
    }
  }
  r.seconds = std::chrono::duration<double>(last_change - t0).count();
  std::string end;
  sf::wire::encode(sf::Trade{.symbol = *sf::Symbol::parse("BTCUSDT"),
                             .trade_id = kEndTradeId,
                             .price = sf::Decimal::parse("1").value(),
                             .quantity = sf::Decimal::parse("1").value(),
                             .trade_time = 1,
                             .event_time = 1,
                             .receive_time = 0,
                             .is_buyer_maker = false,
                             .is_best_match = std::nullopt},
                   end);
  (void)bus.publish("bench-trades", "BTCUSDT", end);
  if (clients > 0) {
    std::string line;
    char buf[256];
    ssize_t n;
    while ((n = ::read(results[0], buf, sizeof buf)) > 0)
      line.append(buf, static_cast<std::size_t>(n));
    std::sscanf(line.c_str(), "%ld %ld %ld %ld %ld", &r.trades, &r.books, &r.dropped, &r.p50,
                &r.p99);
    int status = 0;
    ::waitpid(child, &status, 0);
  }
  r.cpu = cpu_seconds() - cpu0;
  server.stop();
  ::close(results[0]);
  ::close(ready[0]);
  for (auto& w : workers) w->request_stop("bench done");
  for (auto& f : running) f.get();
  std::filesystem::remove(db);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  sf::log::set_level(sf::log::Level::kWarn);
  const int clients = argc > 1 ? std::atoi(argv[1]) : 50;
  const std::string speed_text = argc > 2 ? argv[2] : "max";
  const double speed = speed_text == "max" ? 0 : std::atof(speed_text.c_str());
  const Run base = run(0, speed);
  const Run with = run(clients, speed);
  const std::int64_t updates = with.trades + with.books;
  std::printf(
      "dashboard clients=%d speed=%s replay_s=%.1f trades_delivered=%ld books_delivered=%ld "
      "dropped=%ld trade_latency_us p50=%ld p99=%ld server_cpu_s base=%.2f with_clients=%.2f "
      "cpu_us_per_update=%.2f\n",
      clients, speed_text.c_str(), with.seconds, with.trades, with.books, with.dropped, with.p50,
      with.p99, base.cpu, with.cpu,
      updates > 0 ? (with.cpu - base.cpu) * 1e6 / static_cast<double>(updates) : 0.0);
  return 0;
}
