#include "services/exchange_sim/exchange_sim.h"

#include <condition_variable>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <thread>

#include "runtime/config.h"
#include "runtime/http_server.h"
#include "runtime/log.h"
#include "runtime/metrics.h"
#include "runtime/service.h"
#include "runtime/signals.h"
#include "services/exchange_sim/rest_api.h"

namespace sf::services::exchange_sim {
namespace {

using Clock = std::chrono::steady_clock;
using runtime::HttpRequest;
using runtime::HttpResponse;

constexpr std::string_view kLogger = "exchange-sim";

// "127.0.0.1:53422" -> "127.0.0.1" (also "::1:53422" -> "::1").
std::string client_ip(std::string_view remote_address) {
  const auto colon = remote_address.rfind(':');
  return std::string(colon == std::string_view::npos ? remote_address
                                                     : remote_address.substr(0, colon));
}

// A uniform draw in [0, 1) from the generator's bits alone, so that a seed gives the same
// sequence with every standard library (std::uniform_real_distribution may differ).
double unit_draw(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

std::int64_t ceil_seconds(Clock::duration duration) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(duration).count();
  return std::max<std::int64_t>(1, (ms + 999) / 1000);
}

void set_weight_headers(HttpResponse& response, std::int64_t used) {
  const std::string value = std::to_string(used);
  response.headers.set("X-MBX-USED-WEIGHT", value);
  response.headers.set("X-MBX-USED-WEIGHT-1M", value);
}

// What the admission step decided for one request.
struct Admission {
  std::optional<HttpResponse> rejection;  // set: answer this instead of serving
  std::int64_t used_weight = 0;
};

}  // namespace

struct ExchangeSim::Impl {
  struct WeightWindow {
    Clock::time_point start;
    std::int64_t used = 0;
  };

  Impl(const ExchangeSimOptions& opts, std::unique_ptr<DataIndex> index)
      : options(opts),
        data(std::move(index)),
        api(
            *data,
            [this](std::string_view symbol, std::size_t limit) -> std::optional<std::string> {
              // `ws` is set before the server starts and outlives its handlers.
              return ws ? ws->depth_body(symbol, limit) : std::nullopt;
            },
            [this](std::string_view symbol, bool agg) -> std::optional<std::span<const SeriesRow>> {
              if (!ws || !options.rest_trades_from_replay) return std::nullopt;
              return ws->recorded_trades(symbol, agg);
            }),
        weight_limit(opts.weight_limit),
        weight_counter(metrics::default_registry().counter(
            "sf_exchange_sim_weight_used_total", "Request weight charged by exchange-sim")),
        fault_counters{fault_counter("429"), fault_counter("418"), fault_counter("5xx"),
                       fault_counter("truncate"), fault_counter("weight_limit")},
        server(runtime::HttpServerOptions{.bind_address = opts.host,
                                          .port = static_cast<std::uint16_t>(opts.port),
                                          .threads = opts.threads}) {
    apply_faults(opts.faults);
  }

  static metrics::Counter& fault_counter(const std::string& kind) {
    return metrics::default_registry().counter(
        "sf_exchange_sim_faults_total", "Responses exchange-sim failed on purpose or by limit",
        {{"fault", kind}});
  }

  // Caller holds `mutex`.
  void apply_faults(const ExchangeSimFaults& next) {
    faults = next;
    restart_429();
    restart_418();
    rng_5xx.seed(next.seed);
    // Separate streams, so that turning one fault on does not shift the other's draws.
    rng_truncate.seed(next.seed ^ 0x9e3779b97f4a7c15ULL);
  }
  void restart_429() { requests_since_429_set = 0; }
  void restart_418() {
    requests_since_418_set = 0;
    ban_started = false;
    ban_over = false;
  }

  void register_routes() {
    for (std::string_view path : RestApi::paths()) {
      server.route("GET", std::string(path),
                   [this, path](const HttpRequest& request) { return serve(path, request); });
    }
    // Binance answers unknown API paths with 404 (an HTML page); weight headers as everywhere.
    server.route("GET", "/api/{rest...}", [this](const HttpRequest& request) {
      HttpResponse response =
          HttpResponse::text(404, "<html><body><h2>404 Not found</h2></body></html>", "text/html");
      set_weight_headers(response, current_weight(client_ip(request.remote_address)));
      return response;
    });
  }

  HttpResponse serve(std::string_view path, const HttpRequest& request) {
    const auto arrived = Clock::now();
    const std::string ip = client_ip(request.remote_address);
    const int weight = RestApi::weight(path, request);
    Admission admission = admit(ip, weight, arrived);
    HttpResponse response;
    if (admission.rejection) {
      response = std::move(*admission.rejection);
    } else {
      response = api.handle(path, request, weight_limit_now());
      maybe_truncate(response);
    }
    set_weight_headers(response, admission.used_weight);
    if (const int slow = slow_ms(); slow > 0) {
      std::this_thread::sleep_until(arrived + std::chrono::milliseconds(slow));
    }
    return response;
  }

  // Faults first (they stand for infrastructure in front of the API), then the weight limit,
  // then the 5xx draw.
  Admission admit(const std::string& ip, int weight, Clock::time_point now) {
    std::lock_guard lock(mutex);
    ++stats.requests;
    Admission admission;
    WeightWindow& window = window_for(ip, now);
    admission.used_weight = window.used;

    if (faults.fail_418_after >= 0 && !ban_over) {
      if (!ban_started && requests_since_418_set >= faults.fail_418_after) {
        ban_started = true;
        ban_until = now + std::chrono::seconds(faults.retry_after_s);
      } else if (!ban_started) {
        ++requests_since_418_set;
      }
      if (ban_started) {
        if (now < ban_until) {
          ++stats.injected_418;
          fault_counters.banned.inc();
          admission.rejection = banned_response(now);
          return admission;
        }
        ban_over = true;
      }
    }
    if (faults.fail_429_after >= 0) {
      ++requests_since_429_set;
      if (requests_since_429_set > faults.fail_429_after &&
          requests_since_429_set <= faults.fail_429_after + faults.fail_429_count) {
        ++stats.injected_429;
        fault_counters.rate_limited.inc();
        admission.rejection = too_many_requests(faults.retry_after_s);
        return admission;
      }
    }

    window.used += weight;
    admission.used_weight = window.used;
    stats.weight_used += static_cast<std::uint64_t>(weight);
    weight_counter.inc(static_cast<std::uint64_t>(weight));
    if (window.used > weight_limit) {
      ++stats.weight_limited;
      fault_counters.weight_limited.inc();
      admission.rejection =
          too_many_requests(ceil_seconds(window.start + options.weight_window - now));
      return admission;
    }

    if (faults.error_5xx_rate > 0 && unit_draw(rng_5xx) < faults.error_5xx_rate) {
      ++stats.injected_5xx;
      fault_counters.server_error.inc();
      admission.rejection = server_error(rng_5xx() % 3);
    }
    return admission;
  }

  // Caller holds `mutex`. A window opens at an IP's first request and lasts weight_window.
  WeightWindow& window_for(const std::string& ip, Clock::time_point now) {
    auto [it, inserted] = windows.try_emplace(ip);
    WeightWindow& window = it->second;
    if (inserted || now - window.start >= options.weight_window) {
      window.start = now;
      window.used = 0;
    }
    return window;
  }

  std::int64_t current_weight(const std::string& ip) const {
    std::lock_guard lock(mutex);
    auto it = windows.find(ip);
    if (it == windows.end() || Clock::now() - it->second.start >= options.weight_window) return 0;
    return it->second.used;
  }

  HttpResponse too_many_requests(std::int64_t retry_after_s) const {
    HttpResponse response = binance_error(
        429, -1003,
        "Too much request weight used; current limit is " + std::to_string(weight_limit) +
            " request weight per 1 MINUTE. Please use WebSocket Streams for live updates to "
            "avoid polling the API.");
    response.headers.set("Retry-After", std::to_string(retry_after_s));
    return response;
  }

  HttpResponse banned_response(Clock::time_point now) const {
    const auto left = ban_until - now;
    const auto until_ms = micros_to_millis(now_micros()) +
                          std::chrono::duration_cast<std::chrono::milliseconds>(left).count();
    HttpResponse response = binance_error(
        418, -1003,
        "Way too much request weight used; IP banned until " + std::to_string(until_ms) +
            ". Please use WebSocket Streams for live updates to avoid bans.");
    response.headers.set("Retry-After", std::to_string(ceil_seconds(left)));
    return response;
  }

  static HttpResponse server_error(std::uint64_t which) {
    switch (which) {
      case 0:
        return binance_error(500, -1000, "An unknown error occurred while processing the request.");
      case 1:
        return HttpResponse::text(
            502,
            "<html><head><title>502 Bad Gateway</title></head><body>502 Bad Gateway</body>"
            "</html>",
            "text/html");
      default:
        return binance_error(503, -1008,
                             "Server is currently overloaded with other requests. Please try "
                             "again in a few minutes.");
    }
  }

  // Sends the headers and the first half of the body, then cuts the connection (HttpServer
  // closes it when a body stream throws).
  void maybe_truncate(HttpResponse& response) {
    if (response.status != 200 || response.body.size() < 2) return;
    {
      std::lock_guard lock(mutex);
      if (faults.truncate_rate <= 0 || unit_draw(rng_truncate) >= faults.truncate_rate) return;
      ++stats.truncated;
      fault_counters.truncated.inc();
    }
    auto body = std::make_shared<std::string>(std::move(response.body));
    auto sent_half = std::make_shared<bool>(false);
    response.body.clear();
    response.stream = [body, sent_half](std::string& out) -> bool {
      if (!*sent_half) {
        *sent_half = true;
        out.append(*body, 0, body->size() / 2);
        return true;
      }
      throw std::runtime_error("exchange-sim: response cut short on purpose (truncate fault)");
    };
  }

  std::int64_t weight_limit_now() const {
    std::lock_guard lock(mutex);
    return weight_limit;
  }
  int slow_ms() const {
    std::lock_guard lock(mutex);
    return faults.slow_ms;
  }

  const ExchangeSimOptions options;
  std::unique_ptr<DataIndex> data;
  const RestApi api;

  mutable std::mutex mutex;
  ExchangeSimFaults faults;
  std::int64_t weight_limit;
  std::int64_t requests_since_429_set = 0;
  std::int64_t requests_since_418_set = 0;
  bool ban_started = false;
  bool ban_over = false;
  Clock::time_point ban_until;
  std::mt19937_64 rng_5xx;
  std::mt19937_64 rng_truncate;
  std::map<std::string, WeightWindow, std::less<>> windows;
  ExchangeSimStats stats;

  metrics::Counter& weight_counter;
  struct FaultCounters {
    metrics::Counter& rate_limited;
    metrics::Counter& banned;
    metrics::Counter& server_error;
    metrics::Counter& truncated;
    metrics::Counter& weight_limited;
  } fault_counters;

  // Last, so that they stop (joining the threads that run the handlers above) before anything
  // the handlers use is destroyed.
  runtime::HttpServer server;
  std::unique_ptr<WsReplay> ws;
};

namespace {

Result<void, std::string> validate(const ExchangeSimOptions& options) {
  if (options.data_dir.empty()) return unexpected(std::string("no data directory given"));
  if (options.port < 0 || options.port > 65535) {
    return unexpected("port out of range: " + std::to_string(options.port));
  }
  if (options.weight_limit < 1) return unexpected(std::string("weight limit must be positive"));
  if (options.weight_window.count() <= 0) {
    return unexpected(std::string("weight window must be positive"));
  }
  const ExchangeSimFaults& f = options.faults;
  if (f.error_5xx_rate < 0 || f.error_5xx_rate > 1 || f.truncate_rate < 0 || f.truncate_rate > 1) {
    return unexpected(std::string("fault rates must lie in [0, 1]"));
  }
  if (f.retry_after_s < 0 || f.slow_ms < 0 || f.fail_429_count < 0) {
    return unexpected(std::string("retry-after, slow-ms and fail-429-count must not be negative"));
  }
  if (options.ws_port < 0 || options.ws_port > 65535) {
    return unexpected("WebSocket port out of range: " + std::to_string(options.ws_port));
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<ExchangeSim>, std::string> ExchangeSim::start(
    const ExchangeSimOptions& options) {
  if (auto valid = validate(options); !valid) return unexpected(valid.error());
  const auto load_started = Clock::now();
  auto index = DataIndex::load(options.data_dir);
  if (!index) return unexpected(index.error());
  const DataIndexStats& loaded = (*index)->stats();
  log::info(
      kLogger, "data indexed",
      {{"dir", options.data_dir},
       {"files", loaded.files_indexed},
       {"kline_rows", loaded.kline_rows},
       {"agg_trade_rows", loaded.agg_trade_rows},
       {"trade_rows", loaded.trade_rows},
       {"depth_books", loaded.depth_books},
       {"exchange_info_symbols", loaded.exchange_info_symbols},
       {"duplicate_rows", loaded.duplicate_rows},
       {"bad_rows", loaded.bad_rows},
       {"ms", std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - load_started)
                  .count()}});
  auto impl = std::make_unique<Impl>(options, std::move(index).value());
  auto ws = WsReplay::start(WsReplayOptions{.files = options.replay_files,
                                            .host = options.host,
                                            .port = options.ws_port,
                                            .speed = options.replay_speed,
                                            .loop = options.replay_loop,
                                            .faults = options.ws_faults,
                                            .ping_interval = options.ws_ping_interval,
                                            .shutdown_grace = options.ws_shutdown_grace});
  if (!ws) return unexpected(ws.error());
  impl->ws = std::move(ws).value();
  impl->register_routes();
  if (auto started = impl->server.start(); !started) return unexpected(started.error());
  impl->server.set_ready(true);
  log::info(kLogger, "serving",
            {{"url", impl->server.base_url()}, {"ws_url", impl->ws->base_url()}});
  return std::unique_ptr<ExchangeSim>(new ExchangeSim(std::move(impl)));
}

ExchangeSim::ExchangeSim(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ExchangeSim::~ExchangeSim() {
  stop();
}

std::string ExchangeSim::rest_base_url() const {
  return impl_->server.base_url();
}

std::string ExchangeSim::ws_base_url() const {
  return impl_->ws->base_url();
}

int ExchangeSim::port() const {
  return impl_->server.port();
}

int ExchangeSim::ws_port() const {
  return impl_->ws->port();
}

WsReplay& ExchangeSim::ws() {
  return *impl_->ws;
}

const WsReplay& ExchangeSim::ws() const {
  return *impl_->ws;
}

void ExchangeSim::stop() {
  impl_->ws->stop();
  impl_->server.stop();
}

void ExchangeSim::set_faults(const ExchangeSimFaults& faults) {
  std::lock_guard lock(impl_->mutex);
  impl_->apply_faults(faults);
}

ExchangeSimFaults ExchangeSim::faults() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->faults;
}

void ExchangeSim::fail_429_after(std::int64_t requests, std::int64_t count) {
  std::lock_guard lock(impl_->mutex);
  impl_->faults.fail_429_after = requests;
  impl_->faults.fail_429_count = count;
  impl_->restart_429();
}

void ExchangeSim::fail_418_after(std::int64_t requests) {
  std::lock_guard lock(impl_->mutex);
  impl_->faults.fail_418_after = requests;
  impl_->restart_418();
}

void ExchangeSim::set_retry_after(int seconds) {
  std::lock_guard lock(impl_->mutex);
  impl_->faults.retry_after_s = seconds;
}

void ExchangeSim::set_error_5xx_rate(double rate) {
  std::lock_guard lock(impl_->mutex);
  impl_->faults.error_5xx_rate = rate;
}

void ExchangeSim::set_truncate_rate(double rate) {
  std::lock_guard lock(impl_->mutex);
  impl_->faults.truncate_rate = rate;
}

void ExchangeSim::set_slow_ms(int milliseconds) {
  std::lock_guard lock(impl_->mutex);
  impl_->faults.slow_ms = milliseconds;
}

void ExchangeSim::set_weight_limit(std::int64_t limit) {
  std::lock_guard lock(impl_->mutex);
  impl_->weight_limit = limit;
}

std::int64_t ExchangeSim::weight_limit() const {
  return impl_->weight_limit_now();
}

void ExchangeSim::reset_rate_limits() {
  std::lock_guard lock(impl_->mutex);
  impl_->windows.clear();
}

std::int64_t ExchangeSim::used_weight(std::string_view ip) const {
  return impl_->current_weight(std::string(ip));
}

ExchangeSimStats ExchangeSim::stats() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->stats;
}

const DataIndex& ExchangeSim::data() const {
  return *impl_->data;
}

namespace {

// ConfigParser keeps the last value of a repeated flag, but --replay may be given several times:
// every "--replay FILE" / "--replay=FILE" is taken out of argv here; the rest goes to the parser.
std::vector<std::string> take_replay_flags(int argc, char** argv, std::vector<char*>& rest) {
  std::vector<std::string> files;
  rest.push_back(argv[0]);
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--") {
      rest.insert(rest.end(), argv + i, argv + argc);
      break;
    }
    if (arg.starts_with("--replay=")) {
      files.emplace_back(arg.substr(9));
    } else if (arg == "--replay" && i + 1 < argc) {
      files.emplace_back(argv[++i]);
    } else {
      rest.push_back(argv[i]);
    }
  }
  return files;
}

std::vector<std::string> split_commas(std::string_view text) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto end = text.find(',', start);
    if (end == std::string_view::npos) end = text.size();
    if (end > start) parts.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

}  // namespace

int exchange_sim_main(int argc, char** argv) {
  using runtime::OptionType;
  std::vector<char*> rest_args;
  std::vector<std::string> replay_files = take_replay_flags(argc, argv, rest_args);
  runtime::ConfigParser parser(
      "streamforge exchange-sim",
      "Serves Binance's spot REST API over recorded data. Prints the REST base URL on the first "
      "line of stdout and the WebSocket base URL on the second, then serves until SIGINT/SIGTERM.");
  parser.add({.name = "DATA",
              .help = "directory of Binance data files (klines/aggTrades/trades CSV or zip, "
                      "exchangeInfo and SYMBOL-depth-*.json bodies), searched recursively",
              .required = true});
  parser.add({.name = "PORT",
              .type = OptionType::kInt,
              .default_value = "0",
              .help = "port (0: any free port)"});
  parser.add({.name = "HOST", .default_value = "127.0.0.1", .help = "address to bind"});
  parser.add({.name = "WEIGHT_LIMIT",
              .type = OptionType::kInt,
              .default_value = "6000",
              .help = "request weight per IP per minute; above it: 429 + Retry-After (-1003)"});
  parser.add({.name = "FAIL_429_AFTER",
              .type = OptionType::kInt,
              .default_value = "-1",
              .help = "after this many requests answer 429 (-1: off)"});
  parser.add({.name = "FAIL_429_COUNT",
              .type = OptionType::kInt,
              .default_value = "1",
              .help = "how many requests get the injected 429"});
  parser.add({.name = "FAIL_418_AFTER",
              .type = OptionType::kInt,
              .default_value = "-1",
              .help = "after this many requests ban the IP (418) for --retry-after seconds "
                      "(-1: off)"});
  parser.add({.name = "RETRY_AFTER",
              .type = OptionType::kInt,
              .default_value = "1",
              .help = "Retry-After seconds of injected 429s; length of the 418 ban"});
  parser.add({.name = "ERROR_5XX_RATE",
              .type = OptionType::kDouble,
              .default_value = "0",
              .help = "fraction of requests answered 500/502/503"});
  parser.add({.name = "TRUNCATE_RATE",
              .type = OptionType::kDouble,
              .default_value = "0",
              .help = "fraction of 200 responses whose body is cut short"});
  parser.add({.name = "SLOW_MS",
              .type = OptionType::kInt,
              .default_value = "0",
              .help = "delay every response by this many milliseconds"});
  parser.add({.name = "SEED",
              .type = OptionType::kInt,
              .default_value = "1",
              .help = "seed of the 5xx and truncation draws"});
  parser.add({.name = "REPLAY",
              .help = "WebSocket capture to replay (.gz or plain; lines '<receive time> <frame>' "
                      "or '<seconds>: <frame>'); repeat the flag for several files, played in "
                      "order (from the environment or a config file: comma-separated)"});
  parser.add({.name = "SPEED",
              .default_value = "max",
              .help = "replay pace: 1 = as recorded, 10 = ten times faster, max = as fast as "
                      "the clients take frames"});
  parser.add({.name = "REPLAY_LOOP",
              .type = OptionType::kBool,
              .default_value = "false",
              .help = "start the replay again when the capture ends"});
  parser.add({.name = "WS_PORT",
              .type = OptionType::kInt,
              .default_value = "0",
              .help = "WebSocket port (0: any free port; REST and WebSocket use separate ports)"});
  parser.add({.name = "DISCONNECT_EVERY",
              .type = OptionType::kInt,
              .default_value = "0",
              .help = "drop each WebSocket connection after every N frames sent on it (0: off)"});
  parser.add({.name = "DROP_DEPTH_EVERY",
              .type = OptionType::kInt,
              .default_value = "0",
              .help = "skip every N-th depthUpdate frame of the capture (0: off)"});
  parser.add({.name = "DUPLICATE_EVERY",
              .type = OptionType::kInt,
              .default_value = "0",
              .help = "send every N-th frame of a connection twice (0: off)"});
  parser.add({.name = "SERVER_SHUTDOWN_AFTER",
              .type = OptionType::kInt,
              .default_value = "0",
              .help = "after N frames on a connection send serverShutdown, then close it after "
                      "--shutdown-grace (0: off)"});
  parser.add({.name = "SHUTDOWN_GRACE",
              .type = OptionType::kDuration,
              .default_value = "1s",
              .help = "how long a connection stays open after its serverShutdown event"});
  parser.add({.name = "MAX_CONNECTION_AGE",
              .type = OptionType::kDuration,
              .default_value = "0",
              .help = "close WebSocket connections at this age (seconds or 250ms/5m; 0: off)"});
  parser.add({.name = "REFUSE_CONNECTIONS_FOR",
              .type = OptionType::kDuration,
              .default_value = "0",
              .help = "answer WebSocket upgrades with 503 for this long after start (0: off)"});
  parser.add({.name = "PING_INTERVAL",
              .type = OptionType::kDuration,
              .default_value = "20s",
              .help = "WebSocket server ping interval"});
  parser.add({.name = "LOG_LEVEL", .default_value = "info", .help = "debug, info, warn or error"});
  int exit_code = 0;
  auto config = runtime::parse_or_exit(parser, static_cast<int>(rest_args.size()), rest_args.data(),
                                       &exit_code);
  if (!config) return exit_code;
  if (auto logging = runtime::configure_logging(*config); !logging) {
    std::cerr << logging.error() << '\n';
    return 2;
  }

  std::mutex mutex;
  std::condition_variable stop_requested;
  bool stopping = false;
  runtime::install_stop_signals([&](int) {
    std::lock_guard lock(mutex);
    stopping = true;
    stop_requested.notify_all();
  });

  ExchangeSimOptions options;
  options.data_dir = config->get_string("DATA");
  options.host = config->get_string("HOST");
  options.port = static_cast<int>(config->get_int("PORT"));
  options.weight_limit = config->get_int("WEIGHT_LIMIT");
  options.faults.fail_429_after = config->get_int("FAIL_429_AFTER");
  options.faults.fail_429_count = config->get_int("FAIL_429_COUNT");
  options.faults.fail_418_after = config->get_int("FAIL_418_AFTER");
  options.faults.retry_after_s = static_cast<int>(config->get_int("RETRY_AFTER"));
  options.faults.error_5xx_rate = config->get_double("ERROR_5XX_RATE");
  options.faults.truncate_rate = config->get_double("TRUNCATE_RATE");
  options.faults.slow_ms = static_cast<int>(config->get_int("SLOW_MS"));
  options.faults.seed = static_cast<std::uint64_t>(config->get_int("SEED"));
  if (replay_files.empty() && config->has("REPLAY")) {
    replay_files = split_commas(config->get_string("REPLAY"));
  }
  options.replay_files = std::move(replay_files);
  if (const std::string speed = config->get_string("SPEED"); speed != "max") {
    char* end = nullptr;
    options.replay_speed = std::strtod(speed.c_str(), &end);
    if (speed.empty() || end != speed.c_str() + speed.size() || !(options.replay_speed > 0)) {
      std::cerr << "streamforge exchange-sim: --speed takes 'max' or a positive number, not '"
                << speed << "'\n";
      return 2;
    }
  }
  options.replay_loop = config->get_bool("REPLAY_LOOP");
  options.ws_port = static_cast<int>(config->get_int("WS_PORT"));
  options.ws_faults.disconnect_every = config->get_int("DISCONNECT_EVERY");
  options.ws_faults.drop_depth_every = config->get_int("DROP_DEPTH_EVERY");
  options.ws_faults.duplicate_every = config->get_int("DUPLICATE_EVERY");
  options.ws_faults.server_shutdown_after = config->get_int("SERVER_SHUTDOWN_AFTER");
  options.ws_faults.max_connection_age = config->get_duration("MAX_CONNECTION_AGE");
  options.ws_faults.refuse_connections_for = config->get_duration("REFUSE_CONNECTIONS_FOR");
  options.ws_ping_interval = config->get_duration("PING_INTERVAL");
  options.ws_shutdown_grace = config->get_duration("SHUTDOWN_GRACE");
  auto sim = ExchangeSim::start(options);
  if (!sim) {
    log::error(kLogger, "cannot start", {{"error", sim.error()}});
    std::cerr << "streamforge exchange-sim: " << sim.error() << '\n';
    return 1;
  }
  std::cout << (*sim)->rest_base_url() << '\n' << (*sim)->ws_base_url() << '\n' << std::flush;
  {
    std::unique_lock lock(mutex);
    stop_requested.wait(lock, [&] { return stopping; });
  }
  (*sim)->stop();
  log::info(kLogger, "stopped", {{"requests", (*sim)->stats().requests}});
  return 0;
}

}  // namespace sf::services::exchange_sim
