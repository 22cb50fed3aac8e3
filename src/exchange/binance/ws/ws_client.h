// A WebSocket market-data client for Binance streams (ws:// and wss://) that keeps a feed alive:
//
//   WsClientOptions options{.base_url = "wss://stream.binance.com:9443",
//                           .streams = {"btcusdt@trade", "btcusdt@depth@100ms"}};
//   auto client = WsClient::create(options,
//       [](std::string_view payload, std::int64_t receive_us, std::uint64_t connection) {...},
//       [](const WsStatus& status) {...});
//   (*client)->start();  ...  (*client)->stop();
//
// Streams: symbols are lower-cased (the part before '@'; "BTCUSDT@bookTicker" ->
// "btcusdt@bookTicker"), duplicates dropped, and the list is split into groups of at most
// max_streams_per_connection (Binance: 1024); each group is a "shard" with its own connection:
// combined `/stream?streams=a/b` (frames {"stream":..,"data":..}) or raw `/ws/a/b` (payloads).
//
// TLS (wss://): the system CA store (or ca_file), peer and host-name verification, SNI for host
// names, as in rest/transport.cc.
//
// Keeping the feed alive:
//   - pings from the server are answered by Beast while reading (pong with the same payload).
//   - a connection that ends (error, close, stale_after without a frame) is reported as
//     disconnected and replaced. A connection that lived shorter than stable_after counts as a
//     flap; consecutive flaps and failed attempts wait backoff(n) = min(cap, initial * 2^(n-1))
//     scaled by a random factor in [1 - jitter, 1] before the next attempt. The first
//     reconnect after a stable connection is immediate (as Binance asks after a disconnect).
//   - every connection attempt of the client (all shards) goes through a sliding-window limiter:
//     never more than max_attempts_per_window (300) in attempt_window (5 min), Binance's
//     per-IP limit; an attempt that would exceed it waits (reported as reconnecting).
//   - make-before-break: on a serverShutdown event, or when a connection reaches
//     max_connection_age (Binance ends connections at 24 h), the shard opens the replacement
//     connection FIRST; the old one keeps delivering until the replacement has received its
//     first frame (at most connect_timeout) and for switch_overlap after that, then it is
//     closed. During the overlap the consumer receives frames from both connections, possibly out
//     of order between them: every frame is tagged with its connection id and receive time, and the
//     consumer dedupes by the payload's sequence id (trade id `t`, depth `u`, bookTicker `u`).
//     serverShutdown events themselves are not passed on.
//
// Callbacks run on the client's single I/O thread, one at a time; they must not block for long
// and must not call stop().
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace sf::binance {

struct WsClientOptions {
  std::string base_url = "wss://stream.binance.com:9443";  // ws[s]://host[:port][/prefix]
  std::vector<std::string> streams{};
  bool combined = true;  // /stream?streams=... (true) or /ws/... (false)
  std::size_t max_streams_per_connection = 1024;

  bool verify_peer = true;  // wss:// only
  std::string ca_file{};    // PEM bundle to trust instead of the system store

  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};  // TCP+TLS+WS handshake
  std::chrono::milliseconds initial_backoff{std::chrono::milliseconds(250)};
  std::chrono::milliseconds max_backoff{std::chrono::seconds(30)};
  double jitter = 0.5;  // 0..1: delays are scaled by a uniform factor in [1 - jitter, 1]
  std::chrono::milliseconds stable_after{std::chrono::seconds(30)};
  int max_attempts_per_window = 300;
  std::chrono::milliseconds attempt_window{std::chrono::minutes(5)};
  std::chrono::milliseconds stale_after{std::chrono::seconds(30)};  // 0: no watchdog
  // Switch to a new connection at this age (0: never). Below Binance's 24 h so that the switch
  // is ours, made before Binance breaks the connection.
  std::chrono::milliseconds max_connection_age{std::chrono::hours(23)};
  std::chrono::milliseconds switch_overlap{std::chrono::seconds(2)};
  std::uint64_t seed = 0;  // jitter; 0: from std::random_device
  std::string user_agent = "streamforge";
};

struct WsStatus {
  enum class Kind : std::uint8_t {
    kConnected,     // connection_id is up
    kDisconnected,  // connection_id ended: `reason`
    kReconnecting,  // the next attempt (`attempt`, 1-based failures so far) starts after `delay`
  };
  Kind kind = Kind::kConnected;
  std::size_t shard = 0;
  std::uint64_t connection_id = 0;  // 0 for kReconnecting
  std::string reason{};
  int attempt = 0;
  std::chrono::milliseconds delay{0};
};

const char* to_string(WsStatus::Kind kind);

// Binance's connect limit as a sliding window: at most `max` attempts in any `window`.
class ConnectLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  ConnectLimiter(int max, std::chrono::milliseconds window) : max_(max), window_(window) {}
  // How long to wait before an attempt at `now` is allowed (zero: now).
  Clock::duration wait(Clock::time_point now);
  void record(Clock::time_point now) { attempts_.push_back(now); }

 private:
  int max_;
  std::chrono::milliseconds window_;
  std::deque<Clock::time_point> attempts_;
};

// The request targets for `streams` (normalised as above), one per shard.
std::vector<std::string> build_stream_targets(const std::vector<std::string>& streams,
                                              bool combined, std::size_t max_per_connection,
                                              std::string_view path_prefix = {});

struct WsClientStats {
  std::uint64_t attempts = 0;     // connection attempts (all shards)
  std::uint64_t connections = 0;  // successful ones
  std::uint64_t frames = 0;       // frames passed to the callback
  std::uint64_t disconnects = 0;
  std::uint64_t switchovers = 0;  // make-before-break replacements
  std::uint64_t stale = 0;        // closed by the watchdog
  std::uint64_t server_shutdowns = 0;
  std::uint64_t limiter_waits = 0;
};

class WsClient {
 public:
  using FrameCallback = std::function<void(std::string_view payload, std::int64_t receive_time_us,
                                           std::uint64_t connection_id)>;
  using StatusCallback = std::function<void(const WsStatus& status)>;

  // Validates the URL and options and builds the TLS context; connects nothing yet.
  static Result<std::unique_ptr<WsClient>, std::string> create(WsClientOptions options,
                                                               FrameCallback on_frame,
                                                               StatusCallback on_status = {});
  ~WsClient();  // stops
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;

  void start();
  // Closes every connection and joins the I/O thread; idempotent. Not from a callback.
  void stop();

  const std::vector<std::string>& targets() const;
  WsClientStats stats() const;

 private:
  struct Impl;
  explicit WsClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sf::binance
