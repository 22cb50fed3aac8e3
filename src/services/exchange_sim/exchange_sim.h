// `streamforge exchange-sim`: a local server that speaks Binance's spot REST protocol over
// recorded market data, so that an unmodified Binance client (ours, ccxt, ...) works against it
// once its base URL points here.
//
//   ExchangeSimOptions options{.data_dir = "../shared/data"};
//   auto sim = ExchangeSim::start(options);        // indexes the data, binds 127.0.0.1:<free port>
//   client.base_url = (*sim)->rest_base_url();     // "http://127.0.0.1:PORT"
//   (*sim)->set_faults({.fail_429_after = 3});      // the 4th request gets 429 + Retry-After
//
// Endpoints (GET, query parameters as Binance takes them; weights as Binance counts them):
//   /api/v3/ping (1)  /api/v3/time (1)  /api/v3/exchangeInfo (20; symbol | symbols | permissions,
//   symbolStatus)  /api/v3/klines and /api/v3/uiKlines (2)  /api/v3/aggTrades (4)
//   /api/v3/trades (25)  /api/v3/historicalTrades (25)  /api/v3/depth (5/25/50/250 by limit).
// Data comes from DataIndex (data_index.h): klines/aggTrades/trades CSV files, exchangeInfo and
// depth-snapshot JSON bodies. Rows are served with their decimal strings byte-identical to the
// files. Times are ms unless the request carries `X-MBX-TIME-UNIT: MICROSECOND` (µs files from
// 2025+ are converted); startTime/endTime may be ms or µs. Ordering rules are Binance's: no
// start/end -> the most recent `limit`; only start -> oldest from start; only end -> newest up to
// end; both -> from start capped at end. limit above the maximum is clamped (1000; depth 5000).
//
// Choices where the recordings cannot answer like Binance:
//   - klines `timeZone`: only 0 (UTC) is served; any other valid offset gets -1130.
//   - trades, historicalTrades, aggTrades: with a replay whose capture holds @trade / @aggTrade
//     frames for the symbol, the trades of those frames played so far (ws_replay.h), so that gap
//     repair sees what the exchange had traded up to the replay position and nothing later;
//     otherwise the data files (rest_trades_from_replay = false: always the files).
//   - depth: with a replay whose capture recorded a snapshot for the symbol, the answer is the
//     replay's true book at the replay position (ws_replay.h), so that it agrees with the
//     streams; otherwise the recorded SYMBOL-depth-*.json snapshot; a symbol without either gets
//     an empty but valid book {"lastUpdateId":0,"bids":[],"asks":[]}; an unknown symbol -1121.
//   - a symbol is known when an exchangeInfo file or a data file names it; a known symbol
//     without data for the request gets [] rather than an error.
//   - exchangeInfo `showPermissionSets` is accepted and ignored; rateLimits report the enforced
//     weight limit.
//
// Errors are Binance's: HTTP 400 with {"code":..,"msg":..}: -1100 illegal characters, -1101
// duplicate / too many parameters, -1102 mandatory parameter missing, -1104 unread parameters,
// -1105 empty parameter, -1108 overflow, -1120 bad interval, -1121 invalid symbol, -1122 bad
// symbolStatus, -1128 bad combination (fromId with startTime/endTime; symbol with symbols;
// permissions with either), -1130 invalid value, -1151 duplicate symbols, -1194 bad
// X-MBX-TIME-UNIT, -1220 status mismatch. Unknown /api/ paths get 404.
//
// Rate limit: every API response carries X-MBX-USED-WEIGHT-1M (and X-MBX-USED-WEIGHT): the
// weight used by the client's IP in its current one-minute window, which opens at the IP's first
// request. Weight is charged before the parameters are checked, as on Binance, and also for
// requests then rejected; past `weight_limit` the answer is 429 + Retry-After (seconds until the
// window ends) + -1003.
//
// Faults (deterministic for a given seed and request sequence; counted over API requests only,
// from when they were last set):
//   fail_429_after N / fail_429_count M: requests N+1..N+M get 429, Retry-After: retry_after_s.
//   fail_418_after N: request N+1 starts an "IP ban" of retry_after_s seconds: 418 +
//     Retry-After (seconds left) + -1003 until it ends; it happens once.
//   error_5xx_rate P: that fraction of requests gets 500 (-1000), 502 (HTML, as a gateway
//     sends) or 503 (-1008).
//   truncate_rate P: that fraction of 200 responses is cut short: headers and half the body go
//     out (chunked), then the connection closes, so the client reads a truncated body.
//     (HttpServer always sets Content-Length itself, so an over-long Content-Length is not
//     possible; a cut chunked body is the equivalent failure.)
//   slow_ms N: every API response waits until N ms after the request arrived.
// Injected 429/418 responses charge no weight.
//
// WebSocket (ws_replay.h): recorded stream captures (replay_files) are replayed to WebSocket
// clients on raw /ws/<stream> and combined /stream?streams=a/b paths, with SUBSCRIBE control
// messages, Binance's ping/pong and connection faults. runtime::HttpServer cannot hand an
// upgraded connection over, so the streams are served on a second port (ws_port, 0: any free
// one) and ws_base_url() names it: "ws://HOST:WS_PORT". Without replay files the WebSocket
// server still accepts connections but sends no data.
//
// Also served: /health/live, /health/ready, /metrics (HttpServer's).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "services/exchange_sim/data_index.h"
#include "services/exchange_sim/ws_replay.h"

namespace sf::services::exchange_sim {

struct ExchangeSimFaults {
  std::int64_t fail_429_after = -1;  // -1: off
  std::int64_t fail_429_count = 1;
  std::int64_t fail_418_after = -1;  // -1: off
  int retry_after_s = 1;             // Retry-After of injected 429s and the 418 ban length
  double error_5xx_rate = 0;         // 0..1
  double truncate_rate = 0;          // 0..1
  int slow_ms = 0;
  std::uint64_t seed = 1;
};

struct ExchangeSimOptions {
  std::string data_dir;
  std::string host = "127.0.0.1";
  int port = 0;  // 0: any free port
  std::int64_t weight_limit = 6000;
  // The rate-limit window; one minute as on Binance (shorter only to test window resets).
  std::chrono::milliseconds weight_window{std::chrono::minutes(1)};
  ExchangeSimFaults faults{};
  int threads = 4;  // server threads; slow_ms holds one per request in flight

  // WebSocket replay (see ws_replay.h).
  std::vector<std::string> replay_files{};  // captures, played in this order
  double replay_speed = 0;                  // multiple of the recorded pace; 0: max
  bool replay_loop = false;
  int ws_port = 0;  // 0: any free port
  WsReplayFaults ws_faults{};
  // REST trades, historicalTrades and aggTrades of a symbol the capture has @trade / @aggTrade
  // frames for answer from those frames played so far (ws_replay.h) rather than from data files.
  bool rest_trades_from_replay = true;
  std::chrono::milliseconds ws_ping_interval{std::chrono::seconds(20)};
  std::chrono::milliseconds ws_shutdown_grace{std::chrono::seconds(1)};
};

struct ExchangeSimStats {
  std::uint64_t requests = 0;        // API requests (not /health, /metrics)
  std::uint64_t weight_used = 0;     // weight charged since start, all IPs
  std::uint64_t weight_limited = 0;  // 429s from the enforced weight limit
  std::uint64_t injected_429 = 0;
  std::uint64_t injected_418 = 0;
  std::uint64_t injected_5xx = 0;
  std::uint64_t truncated = 0;
};

class ExchangeSim {
 public:
  // Indexes options.data_dir and starts serving. Fails on unreadable data, bad options or a
  // port that cannot be bound.
  static Result<std::unique_ptr<ExchangeSim>, std::string> start(const ExchangeSimOptions& options);

  ~ExchangeSim();  // stops
  ExchangeSim(const ExchangeSim&) = delete;
  ExchangeSim& operator=(const ExchangeSim&) = delete;

  // "http://127.0.0.1:PORT"; Binance paths (/api/v3/...) go below it.
  std::string rest_base_url() const;
  // "ws://127.0.0.1:WS_PORT"; /ws/<stream> and /stream?streams=... go below it.
  std::string ws_base_url() const;
  int port() const;
  int ws_port() const;
  // The WebSocket side: its stats, faults (set_faults) and the loaded capture.
  WsReplay& ws();
  const WsReplay& ws() const;
  // Stops serving; idempotent.
  void stop();

  // Replaces every fault setting and restarts the fault counters and random streams.
  void set_faults(const ExchangeSimFaults& faults);
  void clear_faults() { set_faults({}); }
  ExchangeSimFaults faults() const;
  // Single-fault setters (each restarts only its own counter).
  void fail_429_after(std::int64_t requests, std::int64_t count = 1);
  void fail_418_after(std::int64_t requests);
  void set_retry_after(int seconds);
  void set_error_5xx_rate(double rate);
  void set_truncate_rate(double rate);
  void set_slow_ms(int milliseconds);

  void set_weight_limit(std::int64_t limit);
  std::int64_t weight_limit() const;
  // Forgets every IP's weight window.
  void reset_rate_limits();
  // Weight used by `ip` in its current window.
  std::int64_t used_weight(std::string_view ip = "127.0.0.1") const;

  ExchangeSimStats stats() const;
  const DataIndex& data() const;

 private:
  struct Impl;
  explicit ExchangeSim(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The CLI: streamforge exchange-sim --data DIR [--port 0] [--host 127.0.0.1] [fault flags]
// [--replay FILE]... [--speed max|X] [--ws-port 0] [WebSocket fault flags].
// Prints the REST base URL on the first line of stdout and the WebSocket base URL on the second,
// then serves until SIGINT/SIGTERM.
int exchange_sim_main(int argc, char** argv);

}  // namespace sf::services::exchange_sim
