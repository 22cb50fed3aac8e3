// The WebSocket side of exchange-sim: replays recorded Binance stream captures to WebSocket
// clients as Binance's market-data streams would deliver them.
//
//   WsReplayOptions options{.files = {"btcusdt_20240808.gz"}, .speed = 0};  // 0: max speed
//   auto replay = WsReplay::start(options);     // loads the captures, binds 127.0.0.1:<free port>
//   url = (*replay)->base_url() + "/stream?streams=btcusdt@trade/btcusdt@depth@100ms";
//
// It listens on its own port: runtime::HttpServer has no hook to hand an upgraded connection
// over, so ExchangeSim runs this beside it and its ws_base_url() names this port.
//
// Captures (load_capture): one frame per line, `<receive time> <frame>` (hftbacktest .gz, ns or
// µs), `<seconds>: <frame>` (cryptofeed) or a bare frame; .gz files are decompressed on the fly.
// Only combined-stream frames {"stream":..,"data":..} are replayed. REST depth snapshots
// ({"lastUpdateId":..} lines, as hftbacktest records them) are kept as Capture::snapshots, for
// the true book below; other lines (a recorder's URL header) are skipped and counted. Several files
// play one after another in the order given; a file whose clock starts before the previous one
// ended is shifted to start where it ended, so that the replay never runs backwards.
//
// Paths (as Binance): raw `/ws/<stream>` (also `/ws` and `/ws/<s1>/<s2>`) sends each frame's
// `data` only; combined `/stream?streams=<s1>/<s2>` sends frames byte-identical to the capture.
// Stream names match exactly (lower-case symbols: `btcusdt@trade`, `btcusdt@bookTicker`).
// Control messages SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS, SET_PROPERTY ["combined",bool] and
// GET_PROPERTY ["combined"] are answered as Binance does ({"result":null,"id":1}); malformed ones
// get {"code":2,"msg":"Invalid request: ..."}. More than 1024 streams on a connection are refused.
//
// One replay position for all connections, like a live feed: the replay clock starts when the
// first WebSocket connection is accepted, frame i is due at start + (t_i - t_0) / speed, and a
// client that connects later (or reconnects) continues from where the replay is; what was sent
// while it was away is lost to it (gap repair is the client's job). At speed 0 ("max") frames
// go out as fast as the slowest subscribed connection takes them (the replay waits while a
// subscribed connection has kOutboxHighWater frames queued), so a connected client misses
// nothing; at a finite speed a connection that falls kOutboxLimit frames behind is dropped, as
// Binance drops slow consumers. When the capture ends the connections stay open (pings only)
// unless `loop` starts the replay again: each further pass moves every trade id, update id and
// exchange time on by the capture's span (loop_shift.h), so the market goes on instead of
// repeating ids that clients have already seen; REST /depth answers carry the same shift (REST
// trades serve the recorded ids).
//
// The true book (depth_body): per symbol, the capture's recorded REST snapshot plus every
// depthUpdate diff of the capture newer than it (u > lastUpdateId; also those recorded before
// the snapshot line, which the recorder received while fetching it) up to the replay position, the
// ones drop_depth_every withholds from clients included, so that a REST /depth answer is consistent
// with the stream as Binance's is. A diff is applied before it is sent, so an answer is never older
// than what a client has received. Before the replay reaches the snapshot the snapshot itself is
// the answer; a looped replay starts again from it.
//
// The recorded trades (recorded_trades): per symbol, the capture's @trade and @aggTrade frames as
// REST /api/v3/historicalTrades, /trades and /aggTrades rows (ids and decimals as recorded;
// quoteQty = price x qty at 8 decimals), of which a REST answer sees only the frames played so far
// (sent, or skipped by drop_depth_every), so that a client repairing a gap gets what the exchange
// had traded until then and nothing from the future. A looped replay starts again from none.
//
// Keep-alive (as Binance): a ping every ping_interval (20 s), no pong within pong_timeout
// (1 min) closes the connection; client pings are answered with pongs (by Beast, while
// reading). More than max_incoming_per_s incoming messages (text, ping, pong) in a second
// closes the connection.
//
// Faults (WsReplayFaults; counts are per connection unless said otherwise):
//   disconnect_every N: after every N-th data frame sent on a connection the TCP connection is
//     dropped without a close frame (a network failure, not a polite close).
//   drop_depth_every N: every N-th depthUpdate frame of the capture is skipped for everyone, so
//     subscribers see a real gap in U/u (a global count, independent of subscriptions).
//   duplicate_every N: every N-th data frame on a connection goes out twice (duplicates do not
//     count towards the other per-frame faults).
//   server_shutdown_after N: after N data frames on a connection, a serverShutdown event
//     ({"e":"serverShutdown","E":<ms now>}; combined: stream "!serverShutdown") is sent; data
//     keeps flowing for shutdown_grace, then the connection closes (close code 1001), which lets
//     a client switch to a new connection before the old one ends.
//   max_connection_age: a connection is closed (1001) when it is this old (Binance: 24 h).
//   refuse_connections_for: upgrade requests during this long after start() get HTTP 503.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "services/exchange_sim/data_index.h"

namespace sf::services::exchange_sim {

// One recorded combined-stream frame; text views point into Capture::arena.
struct CaptureFrame {
  std::string_view text;     // {"stream":"..","data":{..}} as recorded
  std::string_view payload;  // the `data` value, byte-identical
  std::uint32_t stream = 0;  // index into Capture::streams
  std::int64_t time_us = 0;  // receive time (monotonic after loading; 0 if the file has none)
  bool depth_update = false;
};

// A recorded REST depth snapshot line.
struct CaptureSnapshot {
  std::string symbol;        // upper case; from the file's depth stream
  std::string body;          // {"lastUpdateId":..,"bids":..,"asks":..} as recorded
  std::size_t position = 0;  // frames of the capture before it
};

struct Capture {
  std::string arena;  // never resized after loading (the views above point into it)
  std::vector<CaptureFrame> frames;
  std::vector<std::string> streams;        // stream names seen, in first-seen order
  std::vector<CaptureSnapshot> snapshots;  // in capture order
  std::uint64_t skipped_lines = 0;         // non-blank lines that are neither frames nor snapshots
};

// Loads capture files (plain or .gz) in the order given.
Result<std::unique_ptr<Capture>, std::string> load_capture(const std::vector<std::string>& files);

struct WsReplayFaults {
  std::int64_t disconnect_every = 0;  // 0: off (same for the counts below)
  std::int64_t drop_depth_every = 0;
  std::int64_t duplicate_every = 0;
  std::int64_t server_shutdown_after = 0;
  std::chrono::milliseconds max_connection_age{0};      // 0: off
  std::chrono::milliseconds refuse_connections_for{0};  // 0: off
};

struct WsReplayOptions {
  std::vector<std::string> files{};  // none: connections are served, but nothing is replayed
  std::string host = "127.0.0.1";
  int port = 0;  // 0: any free port
  // Multiple of the recorded pace; 0 = "max": as fast as the subscribed clients take frames.
  double speed = 0;
  bool loop = false;  // start again from the first frame when the capture ends
  WsReplayFaults faults{};
  std::chrono::milliseconds ping_interval{std::chrono::seconds(20)};
  std::chrono::milliseconds pong_timeout{std::chrono::minutes(1)};
  std::chrono::milliseconds shutdown_grace{std::chrono::seconds(1)};
  int max_incoming_per_s = 5;  // 0: no limit
  std::size_t max_streams = 1024;
  int threads = 2;
};

struct WsReplayStats {
  std::uint64_t frames_loaded = 0;
  std::uint64_t position = 0;         // frames of the capture played so far (this loop)
  bool finished = false;              // the capture was played to its end (never with `loop`)
  std::int64_t passes_completed = 0;  // `loop`: whole passes played so far
  std::uint64_t connections_accepted = 0;
  std::uint64_t connections_refused = 0;  // refuse_connections_for, bad paths, too many streams
  std::uint64_t connections_open = 0;
  std::uint64_t frames_sent = 0;  // data frames, duplicates included
  std::uint64_t depth_dropped = 0;
  std::uint64_t duplicates_sent = 0;
  std::uint64_t disconnects_injected = 0;
  std::uint64_t shutdowns_sent = 0;
  std::uint64_t age_closes = 0;
  std::uint64_t slow_consumer_drops = 0;
  std::uint64_t control_messages = 0;
};

class WsReplay {
 public:
  // A connection may queue this many frames before the max-speed replay waits for it ...
  static constexpr std::size_t kOutboxHighWater = 4096;
  // ... and this many before a paced replay drops it as a slow consumer.
  static constexpr std::size_t kOutboxLimit = 1 << 17;

  // Loads the captures and starts serving. Fails on unreadable files, bad options or a port that
  // cannot be bound.
  static Result<std::unique_ptr<WsReplay>, std::string> start(const WsReplayOptions& options);

  ~WsReplay();  // stops
  WsReplay(const WsReplay&) = delete;
  WsReplay& operator=(const WsReplay&) = delete;

  // Stops the replay and drops every connection; idempotent.
  void stop();

  int port() const;
  // "ws://127.0.0.1:PORT"
  std::string base_url() const;

  // Replaces the faults; per-connection faults apply to connections accepted afterwards,
  // drop_depth_every and refuse_connections_for (counted from now) at once.
  void set_faults(const WsReplayFaults& faults);
  WsReplayStats stats() const;
  const Capture& capture() const;

  // The top `limit` levels per side of `symbol`'s true book (see above) as Binance's REST depth
  // body; nullopt when the capture holds no snapshot for the symbol (upper case, "BTCUSDT").
  std::optional<std::string> depth_body(std::string_view symbol, std::size_t limit) const;

  // The capture's @trade (agg false) or @aggTrade (agg true) rows of `symbol` (upper case) played
  // so far, in id order; nullopt when the capture holds none for the symbol. The rows stay valid
  // while the replay exists.
  std::optional<std::span<const SeriesRow>> recorded_trades(std::string_view symbol,
                                                            bool agg) const;

 private:
  struct Impl;
  explicit WsReplay(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace sf::services::exchange_sim
