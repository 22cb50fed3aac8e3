#include "exchange/binance/ws/ws_client.h"

#include <openssl/ssl.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <cmath>
#include <optional>
#include <vector>
#include <random>
#include <set>
#include <thread>

#include "core/time.h"
#include "exchange/binance/rest/tls_context.h"

namespace sf::binance {
namespace {

namespace net = boost::asio;
namespace ssl = net::ssl;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

struct WsUrl {
  bool tls = true;
  std::string host;
  std::uint16_t port = 443;
  std::string path_prefix;
};

Result<WsUrl, std::string> parse_ws_url(std::string_view url) {
  WsUrl out;
  if (url.starts_with("wss://")) {
    url.remove_prefix(6);
  } else if (url.starts_with("ws://")) {
    out.tls = false;
    out.port = 80;
    url.remove_prefix(5);
  } else {
    return unexpected("not a ws:// or wss:// URL: " + std::string(url));
  }
  const auto slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  if (slash != std::string_view::npos) {
    out.path_prefix = std::string(url.substr(slash));
    while (!out.path_prefix.empty() && out.path_prefix.back() == '/') out.path_prefix.pop_back();
  }
  if (authority.find('@') != std::string_view::npos ||
      url.find_first_of("?#") != std::string_view::npos) {
    return unexpected(std::string("URL must not carry credentials, a query or a fragment"));
  }
  std::string_view port_text;
  bool has_port = false;
  if (authority.starts_with("[")) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return unexpected(std::string("bad IPv6 address"));
    out.host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return unexpected(std::string("bad authority"));
      port_text = authority.substr(close + 2);
      has_port = true;
    }
  } else {
    const auto colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      has_port = true;
    }
  }
  if (out.host.empty()) return unexpected(std::string("URL without a host"));
  if (has_port) {
    int port = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9' || port > 65535) return unexpected(std::string("bad port"));
      port = port * 10 + (c - '0');
    }
    if (port < 1 || port > 65535) return unexpected(std::string("bad port"));
    out.port = static_cast<std::uint16_t>(port);
  }
  return out;
}

bool is_ip_literal(const std::string& host) {
  beast::error_code ec;
  net::ip::make_address(host, ec);
  return !ec;
}

// Symbols are lower-case in stream names; the stream type keeps its case ("bookTicker").
std::string normalise_stream(std::string_view stream) {
  std::string out(stream);
  const auto at = out.find('@');
  for (std::size_t i = 0; i < std::min(at, out.size()); ++i) {
    if (out[i] >= 'A' && out[i] <= 'Z') out[i] = static_cast<char>(out[i] - 'A' + 'a');
  }
  return out;
}

bool is_server_shutdown(std::string_view payload) {
  return payload.substr(0, 96).find(R"("e":"serverShutdown")") != std::string_view::npos;
}

using PlainWs = websocket::stream<beast::tcp_stream>;
using SecureWs = websocket::stream<ssl::stream<beast::tcp_stream>>;

}  // namespace

const char* to_string(WsStatus::Kind kind) {
  switch (kind) {
    case WsStatus::Kind::kConnected:
      return "connected";
    case WsStatus::Kind::kDisconnected:
      return "disconnected";
    case WsStatus::Kind::kReconnecting:
      return "reconnecting";
  }
  return "?";
}

ConnectLimiter::Clock::duration ConnectLimiter::wait(Clock::time_point now) {
  while (!attempts_.empty() && now - attempts_.front() >= window_) attempts_.pop_front();
  if (max_ <= 0 || static_cast<int>(attempts_.size()) < max_) return Clock::duration::zero();
  return attempts_.front() + window_ - now;
}

std::vector<std::string> build_stream_targets(const std::vector<std::string>& streams,
                                              bool combined, std::size_t max_per_connection,
                                              std::string_view path_prefix) {
  std::vector<std::string> unique;
  std::set<std::string> seen;
  for (const std::string& stream : streams) {
    std::string name = normalise_stream(stream);
    if (!name.empty() && seen.insert(name).second) unique.push_back(std::move(name));
  }
  const std::size_t per = std::max<std::size_t>(1, max_per_connection);
  std::vector<std::string> targets;
  for (std::size_t start = 0; start < unique.size(); start += per) {
    std::string target(path_prefix);
    target += combined ? "/stream?streams=" : "/ws/";
    for (std::size_t i = start; i < std::min(unique.size(), start + per); ++i) {
      if (i > start) target += '/';
      target += unique[i];
    }
    targets.push_back(std::move(target));
  }
  return targets;
}

struct WsClient::Impl {
  struct Shard;

  static constexpr std::size_t kMaxSwitchHashes = 1 << 20;

  struct Connection {
    std::uint64_t id = 0;
    Shard* shard = nullptr;
    std::unique_ptr<PlainWs> plain;
    std::unique_ptr<SecureWs> secure;
    Clock::time_point opened;
    Clock::time_point last_frame;
    bool ended = false;     // the reader stopped
    bool reported = false;  // kDisconnected was sent
    std::string end_reason;
    std::string switch_reason;  // set: replace this connection (make-before-break)
    // Hash of the first data frame this connection received (a switch-over's meeting point).
    std::optional<std::size_t> first_frame_hash;
    // Retiring: hashes of the frames delivered since the switch-over began (bounded), to see
    // when this connection has delivered the replacement's first frame too.
    bool retiring = false;
    std::vector<std::size_t> delivered_since_switch;

    void close() {
      beast::error_code ignored;
      if (plain) beast::get_lowest_layer(*plain).close();
      if (secure) beast::get_lowest_layer(*secure).close();
    }
  };
  using ConnectionPtr = std::shared_ptr<Connection>;

  struct Shard {
    explicit Shard(net::io_context& io) : wake(io) {}
    std::size_t index = 0;
    std::string target;
    ConnectionPtr active;
    net::steady_timer wake;  // the supervisor waits on it; events cancel it
    int flaps = 0;
  };

  struct Counters {
    std::atomic<std::uint64_t> attempts{0}, connections{0}, frames{0}, disconnects{0},
        switchovers{0}, stale{0}, server_shutdowns{0}, limiter_waits{0};
  };

  Impl(WsClientOptions opts, WsUrl parsed, FrameCallback frame, StatusCallback status)
      : options(std::move(opts)),
        url(std::move(parsed)),
        on_frame(std::move(frame)),
        on_status(std::move(status)),
        limiter(options.max_attempts_per_window, options.attempt_window),
        rng(options.seed != 0 ? options.seed : std::random_device{}()) {}

  // First, so that it is destroyed last.
  net::io_context io;
  const WsClientOptions options;
  const WsUrl url;
  FrameCallback on_frame;
  StatusCallback on_status;
  std::optional<ssl::context> tls_context;
  std::vector<std::string> targets;
  std::vector<std::unique_ptr<Shard>> shards;
  ConnectLimiter limiter;  // I/O thread only
  std::mt19937_64 rng;     // I/O thread only
  std::uint64_t next_connection_id = 1;
  std::thread thread;
  std::atomic<bool> stopping{false};
  bool started = false;
  bool stopped = false;
  std::atomic<int> supervisors_running{0};
  Counters counters;

  Result<void, std::string> build_tls() {
    if (!url.tls) return {};
    tls_context.emplace(ssl::context::tls_client);
    return configure_client_tls(*tls_context, TlsOptions{.verify_peer = options.verify_peer,
                                                         .ca_file = options.ca_file,
                                                         .ca_path = "",
                                                         .system_store_too = false});
  }

  void status(WsStatus s) {
    if (on_status) on_status(s);
  }

  std::chrono::milliseconds backoff(int n) {
    const double initial = static_cast<double>(options.initial_backoff.count());
    const double cap = static_cast<double>(options.max_backoff.count());
    const double base = std::min(cap, initial * std::pow(2.0, std::max(0, n - 1)));
    const double unit = static_cast<double>(rng() >> 11) * 0x1.0p-53;
    const double jitter = std::clamp(options.jitter, 0.0, 1.0);
    return std::chrono::milliseconds(static_cast<std::int64_t>(base * (1.0 - jitter * unit)));
  }

  // Sleeps until `deadline` (events may cancel the timer early: sleep again) or stop.
  net::awaitable<void> sleep_until(Shard& shard, Clock::time_point deadline) {
    beast::error_code ec;
    while (!stopping && Clock::now() < deadline) {
      shard.wake.expires_at(deadline);
      co_await shard.wake.async_wait(net::redirect_error(net::use_awaitable, ec));
    }
  }

  template <class Ws>
  static void configure(Ws& ws, const WsClientOptions& options) {
    ws.set_option(websocket::stream_base::timeout{.handshake_timeout = options.connect_timeout,
                                                  .idle_timeout = websocket::stream_base::none(),
                                                  .keep_alive_pings = false});
    ws.set_option(websocket::stream_base::decorator(
        [agent = options.user_agent](websocket::request_type& request) {
          request.set(beast::http::field::user_agent, agent);
        }));
    ws.read_message_max(16u << 20);
  }

  // One attempt: resolve, TCP connect, TLS, WebSocket upgrade.
  net::awaitable<Result<ConnectionPtr, std::string>> connect_once(Shard& shard) {
    beast::error_code ec;
    tcp::resolver resolver(io);
    const auto endpoints = co_await resolver.async_resolve(
        url.host, std::to_string(url.port), net::redirect_error(net::use_awaitable, ec));
    if (ec) co_return unexpected("resolve " + url.host + ": " + ec.message());
    auto connection = std::make_shared<Connection>();
    connection->shard = &shard;
    const std::string host_header = url.host + ":" + std::to_string(url.port);
    if (url.tls) {
      connection->secure = std::make_unique<SecureWs>(io, *tls_context);
      auto& tcp_layer = beast::get_lowest_layer(*connection->secure);
      tcp_layer.expires_after(options.connect_timeout);
      co_await tcp_layer.async_connect(endpoints, net::redirect_error(net::use_awaitable, ec));
      if (ec) co_return unexpected("connect: " + ec.message());
      auto& tls = connection->secure->next_layer();
      // SNI carries host names only (RFC 6066 forbids IP literals).
      if (!is_ip_literal(url.host) &&
          !SSL_set_tlsext_host_name(tls.native_handle(), url.host.c_str())) {
        co_return unexpected("cannot set SNI host name " + url.host);
      }
      if (options.verify_peer) {
        tls.set_verify_mode(ssl::verify_peer);
        tls.set_verify_callback(ssl::host_name_verification(url.host));
      } else {
        tls.set_verify_mode(ssl::verify_none);
      }
      co_await tls.async_handshake(ssl::stream_base::client,
                                   net::redirect_error(net::use_awaitable, ec));
      if (ec) co_return unexpected("TLS handshake: " + ec.message());
      tcp_layer.expires_never();
      configure(*connection->secure, options);
      co_await connection->secure->async_handshake(host_header, shard.target,
                                                   net::redirect_error(net::use_awaitable, ec));
    } else {
      connection->plain = std::make_unique<PlainWs>(io);
      auto& tcp_layer = beast::get_lowest_layer(*connection->plain);
      tcp_layer.expires_after(options.connect_timeout);
      co_await tcp_layer.async_connect(endpoints, net::redirect_error(net::use_awaitable, ec));
      if (ec) co_return unexpected("connect: " + ec.message());
      tcp_layer.socket().set_option(tcp::no_delay(true), ec);
      tcp_layer.expires_never();
      configure(*connection->plain, options);
      co_await connection->plain->async_handshake(host_header, shard.target,
                                                  net::redirect_error(net::use_awaitable, ec));
    }
    if (ec) co_return unexpected("WebSocket upgrade: " + ec.message());
    connection->id = next_connection_id++;
    connection->opened = connection->last_frame = Clock::now();
    co_return connection;
  }

  // Attempts until connected (or stop), through the limiter, backing off after failures.
  // `flaps` consecutive short-lived connections count as failures already.
  net::awaitable<ConnectionPtr> establish(Shard& shard, int failures) {
    for (;;) {
      if (stopping) co_return nullptr;
      if (failures > 0) {
        const auto delay = backoff(failures);
        status({.kind = WsStatus::Kind::kReconnecting,
                .shard = shard.index,
                .reason = "backoff",
                .attempt = failures,
                .delay = delay});
        co_await sleep_until(shard, Clock::now() + delay);
      }
      for (auto wait = limiter.wait(Clock::now()); !stopping && wait > Clock::duration::zero();
           wait = limiter.wait(Clock::now())) {
        counters.limiter_waits.fetch_add(1);
        status({.kind = WsStatus::Kind::kReconnecting,
                .shard = shard.index,
                .reason = "connection attempt limit",
                .attempt = failures,
                .delay = std::chrono::ceil<std::chrono::milliseconds>(wait)});
        co_await sleep_until(shard, Clock::now() + wait);
      }
      if (stopping) co_return nullptr;
      limiter.record(Clock::now());
      counters.attempts.fetch_add(1);
      auto connection = co_await connect_once(shard);
      if (connection) {
        counters.connections.fetch_add(1);
        status({.kind = WsStatus::Kind::kConnected,
                .shard = shard.index,
                .connection_id = (*connection)->id});
        net::co_spawn(io, read_loop(*connection), [](std::exception_ptr) {});
        co_return std::move(connection).value();
      }
      ++failures;
      status({.kind = WsStatus::Kind::kDisconnected,
              .shard = shard.index,
              .reason = "connect failed: " + connection.error()});
    }
  }

  net::awaitable<void> read_loop(ConnectionPtr connection) {
    if (connection->plain) {
      co_await read_frames(*connection->plain, connection);
    } else {
      co_await read_frames(*connection->secure, connection);
    }
    connection->ended = true;
    Shard& shard = *connection->shard;
    if (shard.active == connection) shard.wake.cancel();
  }

  template <class Ws>
  net::awaitable<void> read_frames(Ws& ws, const ConnectionPtr& connection) {
    beast::flat_buffer buffer;
    beast::error_code ec;
    for (;;) {
      buffer.clear();
      co_await ws.async_read(buffer, net::redirect_error(net::use_awaitable, ec));
      if (ec) {
        connection->end_reason =
            ec == websocket::error::closed
                ? "closed by server (code " + std::to_string(ws.reason().code) + ")"
                : ec.message();
        co_return;
      }
      const auto now = Clock::now();
      connection->last_frame = now;
      const std::string_view payload(static_cast<const char*>(buffer.data().data()), buffer.size());
      if (is_server_shutdown(payload)) {
        counters.server_shutdowns.fetch_add(1);
        if (connection->switch_reason.empty()) connection->switch_reason = "serverShutdown";
        Shard& shard = *connection->shard;
        if (shard.active == connection) shard.wake.cancel();
        continue;
      }
      counters.frames.fetch_add(1);
      if (!connection->first_frame_hash)
        connection->first_frame_hash = std::hash<std::string_view>{}(payload);
      if (connection->retiring && connection->delivered_since_switch.size() < kMaxSwitchHashes)
        connection->delivered_since_switch.push_back(std::hash<std::string_view>{}(payload));
      on_frame(payload, now_micros(), connection->id);
    }
  }

  void report_end(Shard& shard, Connection& connection, const std::string& reason) {
    if (connection.reported) return;
    connection.reported = true;
    counters.disconnects.fetch_add(1);
    status({.kind = WsStatus::Kind::kDisconnected,
            .shard = shard.index,
            .connection_id = connection.id,
            .reason = reason});
  }

  // The old connection of a switch-over: delivers until the replacement has received its first
  // frame (or connect_timeout passed), then for switch_overlap more and, beyond that, until it has
  // delivered that same frame itself (both carry one stream: byte-identical frames), then closes.
  // The overlap counts from that first frame, not from the handshake: a loaded server may start
  // sending on a new connection well after accepting it, and what it sent only on the old one
  // meanwhile was lost when the old one closed first (a one-trade gap in a loaded CI run). And
  // the old connection may lag the new one (its server-side queue or our socket buffer): closed
  // after a fixed overlap, it lost the frames it had not delivered yet (a 37-trade gap in a CI
  // run on a loaded machine). The wait for it is bounded by connect_timeout.
  net::awaitable<void> retire(ConnectionPtr old, ConnectionPtr replacement, std::string reason) {
    net::steady_timer timer(io);
    beast::error_code ec;
    old->retiring = true;
    const auto give_up =
        Clock::now() + std::max<Clock::duration>(options.connect_timeout, options.switch_overlap);
    while (!stopping && !old->ended && !replacement->ended &&
           replacement->last_frame == replacement->opened && Clock::now() < give_up) {
      timer.expires_after(std::chrono::milliseconds(20));
      co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
    }
    timer.expires_after(options.switch_overlap);
    if (!old->ended) co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
    if (const auto target = replacement->first_frame_hash) {
      auto caught_up = [&] {
        const auto& seen = old->delivered_since_switch;
        return std::find(seen.begin(), seen.end(), *target) != seen.end();
      };
      const auto catch_up_deadline = Clock::now() + options.connect_timeout;
      while (!stopping && !old->ended && !caught_up() && Clock::now() < catch_up_deadline) {
        timer.expires_after(std::chrono::milliseconds(20));
        co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
      }
    }
    old->close();
    report_end(*old->shard, *old, "switched over (" + reason + ")");
  }

  net::awaitable<void> supervise(Shard& shard) {
    int failures = 0;
    while (!stopping) {
      if (!shard.active) {
        shard.active = co_await establish(shard, failures);
        continue;
      }
      ConnectionPtr active = shard.active;
      const auto now = Clock::now();
      if (active->ended) {
        report_end(shard, *active, active->end_reason);
        shard.active.reset();
        // A connection that did not last counts as a failure: flapping backs off.
        failures = now - active->opened < options.stable_after ? failures + 1 : 0;
        continue;
      }
      if (active->switch_reason.empty() && options.max_connection_age.count() > 0 &&
          now >= active->opened + options.max_connection_age) {
        active->switch_reason = "max connection age";
      }
      if (!active->switch_reason.empty()) {
        // Make before break: the old connection keeps delivering while this one connects.
        auto replacement = co_await establish(shard, 0);
        if (!replacement) break;
        counters.switchovers.fetch_add(1);
        shard.active = replacement;
        net::co_spawn(io, retire(active, replacement, active->switch_reason),
                      [](std::exception_ptr) {});
        failures = 0;
        continue;
      }
      if (options.stale_after.count() > 0 && now >= active->last_frame + options.stale_after) {
        counters.stale.fetch_add(1);
        active->close();
        report_end(shard, *active,
                   "stale: no frame for " + std::to_string(options.stale_after.count()) + " ms");
        shard.active.reset();
        continue;
      }
      auto deadline = Clock::time_point::max();
      if (options.stale_after.count() > 0) deadline = active->last_frame + options.stale_after;
      if (options.max_connection_age.count() > 0) {
        deadline = std::min(deadline, active->opened + options.max_connection_age);
      }
      beast::error_code ec;
      shard.wake.expires_at(deadline);
      co_await shard.wake.async_wait(net::redirect_error(net::use_awaitable, ec));
    }
    if (shard.active) shard.active->close();
  }

  void start() {
    if (started) return;
    started = true;
    for (std::size_t i = 0; i < targets.size(); ++i) {
      auto shard = std::make_unique<Shard>(io);
      shard->index = i;
      shard->target = targets[i];
      supervisors_running.fetch_add(1);
      net::co_spawn(io, supervise(*shard),
                    [this](std::exception_ptr) { supervisors_running.fetch_sub(1); });
      shards.push_back(std::move(shard));
    }
    thread = std::thread([this] { io.run(); });
  }

  void stop() {
    if (stopped) return;
    stopped = true;
    stopping = true;
    if (!started) return;
    net::post(io, [this] {
      for (auto& shard : shards) {
        shard->wake.cancel();
        if (shard->active) shard->active->close();
      }
    });
    for (int i = 0; i < 200 && supervisors_running.load() > 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    io.stop();
    if (thread.joinable()) thread.join();
  }
};

Result<std::unique_ptr<WsClient>, std::string> WsClient::create(WsClientOptions options,
                                                                FrameCallback on_frame,
                                                                StatusCallback on_status) {
  auto url = parse_ws_url(options.base_url);
  if (!url) return unexpected(url.error());
  if (!on_frame) return unexpected(std::string("no frame callback"));
  if (options.streams.empty()) return unexpected(std::string("no streams"));
  if (options.initial_backoff.count() < 0 || options.max_backoff < options.initial_backoff ||
      options.attempt_window.count() <= 0 || options.max_attempts_per_window < 1 ||
      options.connect_timeout.count() <= 0 || options.switch_overlap.count() < 0) {
    return unexpected(std::string("bad backoff, limiter, timeout or overlap settings"));
  }
  const std::string prefix = url->path_prefix;
  auto impl = std::make_unique<Impl>(std::move(options), std::move(url).value(),
                                     std::move(on_frame), std::move(on_status));
  if (auto tls = impl->build_tls(); !tls) return unexpected(tls.error());
  impl->targets = build_stream_targets(impl->options.streams, impl->options.combined,
                                       impl->options.max_streams_per_connection, prefix);
  return std::unique_ptr<WsClient>(new WsClient(std::move(impl)));
}

WsClient::WsClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

WsClient::~WsClient() {
  stop();
}

void WsClient::start() {
  impl_->start();
}

void WsClient::stop() {
  impl_->stop();
}

const std::vector<std::string>& WsClient::targets() const {
  return impl_->targets;
}

WsClientStats WsClient::stats() const {
  const Impl::Counters& c = impl_->counters;
  return WsClientStats{.attempts = c.attempts.load(),
                       .connections = c.connections.load(),
                       .frames = c.frames.load(),
                       .disconnects = c.disconnects.load(),
                       .switchovers = c.switchovers.load(),
                       .stale = c.stale.load(),
                       .server_shutdowns = c.server_shutdowns.load(),
                       .limiter_waits = c.limiter_waits.load()};
}

}  // namespace sf::binance
