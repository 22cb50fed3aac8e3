#include "services/exchange_sim/ws_replay.h"

#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <cctype>
#include <condition_variable>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>
#include <variant>

#include "core/time.h"
#include "exchange/binance/book/order_book.h"
#include "exchange/binance/parse.h"
#include "runtime/json_writer.h"
#include "runtime/log.h"
#include "services/exchange_sim/loop_shift.h"
#include "tools/normalize.h"

namespace sf::services::exchange_sim {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kLogger = "exchange-sim-ws";
constexpr auto kHttpReadTimeout = std::chrono::seconds(10);
// Bounds the opening and the closing handshake (a client that never answers a close frame).
constexpr auto kWsHandshakeTimeout = std::chrono::seconds(5);

// "1723161254061862657" (ns), "1680652800004107" (µs), "1633998512.3957808" (s) -> µs, as the
// normalizer reads capture prefixes.
std::optional<std::int64_t> parse_receive_time(std::string_view token) {
  const auto dot = token.find('.');
  const std::string_view whole = token.substr(0, dot);
  if (whole.empty() || whole.size() > 19) return std::nullopt;
  std::int64_t v = 0;
  for (char c : whole) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (dot != std::string_view::npos) {
    std::int64_t frac = 0;
    int digits = 0;
    for (char c : token.substr(dot + 1)) {
      if (c < '0' || c > '9') return std::nullopt;
      if (digits < 6) frac = frac * 10 + (c - '0'), ++digits;
    }
    while (digits < 6) frac *= 10, ++digits;
    return v * 1'000'000 + frac;
  }
  if (whole.size() >= 19) return v / 1000;
  if (whole.size() >= 16) return v;
  if (whole.size() >= 13) return v * 1000;
  return v * 1'000'000;
}

struct CaptureLine {
  std::string_view frame;
  std::string_view stream;
  std::string_view payload;
  std::optional<std::int64_t> time_us;
};

// Splits off the receive-time prefix and checks that the rest is a combined-stream frame. The
// payload is cut out of the text rather than re-serialised, so that it stays byte-identical.
std::optional<CaptureLine> parse_capture_line(std::string_view text) {
  while (!text.empty() && (text.back() == '\r' || text.back() == '\n' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  if (text.empty()) return std::nullopt;
  CaptureLine line;
  if (text[0] >= '0' && text[0] <= '9') {
    const auto end = text.find_first_not_of("0123456789.");
    if (end == std::string_view::npos || (text[end] != ' ' && text[end] != ':')) {
      return std::nullopt;
    }
    const auto after = text.find_first_not_of(": ", end);
    if (after == std::string_view::npos) return std::nullopt;
    line.time_us = parse_receive_time(text.substr(0, end));
    if (!line.time_us) return std::nullopt;
    text = text.substr(after);
  }
  constexpr std::string_view kStreamKey = R"({"stream":")";
  constexpr std::string_view kDataKey = R"(,"data":)";
  if (!text.starts_with(kStreamKey) || !text.ends_with('}')) return std::nullopt;
  const auto name_end = text.find('"', kStreamKey.size());
  if (name_end == std::string_view::npos) return std::nullopt;
  line.stream = text.substr(kStreamKey.size(), name_end - kStreamKey.size());
  const std::string_view rest = text.substr(name_end + 1);
  if (line.stream.empty() || !rest.starts_with(kDataKey)) return std::nullopt;
  line.payload = rest.substr(kDataKey.size(), rest.size() - kDataKey.size() - 1);
  if (line.payload.empty()) return std::nullopt;
  line.frame = text;
  return line;
}

// `<receive time> {"lastUpdateId":..}` (or the bare body): a REST depth snapshot that the
// recorder fetched to start its book; the body is returned as recorded.
std::optional<std::string_view> snapshot_line(std::string_view text) {
  while (!text.empty() && (text.back() == '\r' || text.back() == '\n' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  const auto at = text.find(R"({"lastUpdateId":)");
  if (at == std::string_view::npos || !text.ends_with('}')) return std::nullopt;
  if (text.substr(0, at).find_first_not_of("0123456789.: ") != std::string_view::npos) {
    return std::nullopt;
  }
  return text.substr(at);
}

std::string percent_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size() && hex(in[i + 1]) >= 0 && hex(in[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(in[i + 1]) * 16 + hex(in[i + 2])));
      i += 2;
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

std::vector<std::string> split_streams(std::string_view text) {
  std::vector<std::string> streams;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto end = text.find('/', start);
    if (end == std::string_view::npos) end = text.size();
    if (end > start) streams.push_back(percent_decode(text.substr(start, end - start)));
    start = end + 1;
  }
  return streams;
}

struct Target {
  bool combined = false;
  std::vector<std::string> streams;
};

// /ws, /ws/<s1>[/<s2>...] (raw) and /stream?streams=<s1>/<s2> (combined); anything else is not
// a stream path.
std::optional<Target> parse_target(std::string_view target) {
  const auto question = target.find('?');
  const std::string_view path = target.substr(0, question);
  const std::string_view query =
      question == std::string_view::npos ? std::string_view() : target.substr(question + 1);
  Target result;
  if (path == "/ws" || path.starts_with("/ws/")) {
    result.streams = split_streams(path.substr(3));
    return result;
  }
  if (path == "/stream" || path == "/stream/") {
    result.combined = true;
    std::size_t start = 0;
    while (start <= query.size()) {
      auto end = query.find('&', start);
      if (end == std::string_view::npos) end = query.size();
      const std::string_view pair = query.substr(start, end - start);
      if (pair.starts_with("streams=")) result.streams = split_streams(pair.substr(8));
      start = end + 1;
    }
    return result;
  }
  return std::nullopt;
}

// A message waiting on a connection: a view of a capture frame or an owned reply.
struct Outgoing {
  std::string_view text;
  std::shared_ptr<const std::string> owned;
  bool data = true;  // a replayed frame (counts for faults), not a reply or an event
};

Outgoing owned_message(std::string text) {
  auto owned = std::make_shared<const std::string>(std::move(text));
  return Outgoing{.text = *owned, .owned = owned, .data = false};
}

std::string error_reply(int code, std::string_view msg, std::string_view id_json) {
  std::string out = "{\"code\":" + std::to_string(code) + ",\"msg\":";
  runtime::append_json_string(out, msg);
  out += ",\"id\":";
  out += id_json;
  out += '}';
  return out;
}

}  // namespace

Result<std::unique_ptr<Capture>, std::string> load_capture(const std::vector<std::string>& files) {
  struct Pending {
    std::size_t frame_offset = 0;
    std::size_t frame_length = 0;
    std::size_t payload_offset = 0;
    std::size_t payload_length = 0;
    std::uint32_t stream = 0;
    std::int64_t time_us = 0;
    bool depth_update = false;
  };
  auto capture = std::make_unique<Capture>();
  std::unordered_map<std::string, std::uint32_t> stream_ids;
  std::vector<Pending> pending;
  std::int64_t last_time = 0;
  bool any_time = false;
  for (const std::string& file : files) {
    std::int64_t shift = 0;
    bool first_timed = true;
    std::string error;
    // A snapshot line names no symbol: it belongs to the file's depth stream.
    const std::size_t file_snapshots = capture->snapshots.size();
    std::string depth_symbol;
    const bool read = tools::for_each_line(
        file,
        [&](std::string_view text) {
          if (text.find_first_not_of(" \r\n") == std::string_view::npos) return;
          if (auto body = snapshot_line(text)) {
            capture->snapshots.push_back(CaptureSnapshot{
                .symbol = {}, .body = std::string(*body), .position = pending.size()});
            return;
          }
          auto line = parse_capture_line(text);
          if (!line) {
            ++capture->skipped_lines;
            return;
          }
          std::int64_t time = last_time;
          if (line->time_us) {
            if (first_timed) {
              first_timed = false;
              // A file recorded earlier than the previous one ended continues from its end.
              if (any_time && *line->time_us < last_time) shift = last_time - *line->time_us;
            }
            time = std::max(*line->time_us + shift, last_time);
            any_time = true;
          }
          last_time = time;
          auto [it, inserted] = stream_ids.try_emplace(
              std::string(line->stream), static_cast<std::uint32_t>(capture->streams.size()));
          if (inserted) capture->streams.emplace_back(line->stream);
          Pending frame;
          frame.frame_offset = capture->arena.size();
          frame.frame_length = line->frame.size();
          frame.payload_offset =
              frame.frame_offset +
              static_cast<std::size_t>(line->payload.data() - line->frame.data());
          frame.payload_length = line->payload.size();
          frame.stream = it->second;
          frame.time_us = time;
          frame.depth_update =
              line->payload.substr(0, 48).find(R"("e":"depthUpdate")") != std::string_view::npos;
          if (frame.depth_update && depth_symbol.empty()) {
            if (auto name = binance::parse_stream_name(line->stream)) {
              depth_symbol = name->symbol.str();
            }
          }
          capture->arena.append(line->frame);
          pending.push_back(frame);
        },
        &error);
    if (!read) return unexpected("cannot read capture " + file + ": " + error);
    for (std::size_t k = file_snapshots; k < capture->snapshots.size(); ++k) {
      capture->snapshots[k].symbol = depth_symbol;
    }
    // Unusable without a symbol; counted like any other line that is not replayed.
    std::erase_if(capture->snapshots, [&](const CaptureSnapshot& snapshot) {
      const bool orphan = snapshot.symbol.empty();
      if (orphan) ++capture->skipped_lines;
      return orphan;
    });
  }
  const std::string_view arena = capture->arena;
  capture->frames.reserve(pending.size());
  for (const Pending& p : pending) {
    capture->frames.push_back(
        CaptureFrame{.text = arena.substr(p.frame_offset, p.frame_length),
                     .payload = arena.substr(p.payload_offset, p.payload_length),
                     .stream = p.stream,
                     .time_us = p.time_us,
                     .depth_update = p.depth_update});
  }
  return capture;
}

struct WsReplay::Impl {
  struct Session {
    Session(Impl& owner_, tcp::socket socket)
        : owner(owner_), ws(std::move(socket)), wake(ws.get_executor()) {}

    Impl& owner;
    websocket::stream<beast::tcp_stream> ws;
    net::steady_timer wake;  // the writer waits on it; cancelled when there is something to do
    std::uint64_t id = 0;
    WsReplayFaults faults;  // as they were when the connection was accepted

    // Guarded by owner.mutex.
    std::set<std::string, std::less<>> streams;
    bool combined = false;

    // Read by the replay thread without the lock.
    std::atomic<std::size_t> queued{0};  // data frames posted but not yet written
    std::atomic<bool> closed{false};     // the writer has finished
    std::atomic<bool> dropping{false};   // dropped as a slow consumer

    // Touched only on the connection's strand.
    std::deque<Outgoing> outbox;
    bool reader_done = false;
    std::int64_t data_sent = 0;
    bool shutdown_sent = false;
    Clock::time_point shutdown_deadline = Clock::time_point::max();
    Clock::time_point age_deadline = Clock::time_point::max();
    Clock::time_point next_ping;
    Clock::time_point ping_sent{};
    std::atomic<Clock::rep> pong_seen{0};  // set by the control callback (on the strand too)
    Clock::time_point rate_window_start{};
    int rate_window_count = 0;

    void close_socket() {
      beast::error_code ignored;
      auto& socket = beast::get_lowest_layer(ws).socket();
      socket.shutdown(tcp::socket::shutdown_both, ignored);
      beast::get_lowest_layer(ws).close();
    }
    // Binance counts pings, pongs and text messages alike.
    bool incoming_allowed(Clock::time_point now) {
      const int limit = owner.options.max_incoming_per_s;
      if (limit <= 0) return true;
      if (now - rate_window_start >= std::chrono::seconds(1)) {
        rate_window_start = now;
        rate_window_count = 0;
      }
      return ++rate_window_count <= limit;
    }
  };
  using SessionPtr = std::shared_ptr<Session>;

  struct Counters {
    std::atomic<std::uint64_t> frames_sent{0};
    std::atomic<std::uint64_t> duplicates_sent{0};
    std::atomic<std::uint64_t> disconnects_injected{0};
    std::atomic<std::uint64_t> shutdowns_sent{0};
    std::atomic<std::uint64_t> age_closes{0};
    std::atomic<std::uint64_t> slow_consumer_drops{0};
    std::atomic<std::uint64_t> control_messages{0};
  };

  Impl(const WsReplayOptions& opts, std::unique_ptr<Capture> loaded)
      : options(opts), capture(std::move(loaded)), faults(opts.faults) {
    refuse_until = Clock::now() + faults.refuse_connections_for;
  }

  // Parses the recorded snapshots once, so that the replay only copies them.
  Result<void, std::string> load_snapshots() {
    binance::Parser parser;
    for (const CaptureSnapshot& recorded : capture->snapshots) {
      const auto symbol = Symbol::parse(recorded.symbol);
      if (!symbol) return unexpected("capture snapshot for a bad symbol '" + recorded.symbol + "'");
      auto parsed = parser.parse_rest_depth(recorded.body, *symbol, 0);
      if (!parsed) return unexpected("bad depth snapshot in capture: " + parsed.error().message());
      binance::OrderBook book(*symbol);
      book.apply_snapshot(*parsed);
      snapshot_books.push_back(book);
      first_snapshot_books.try_emplace(recorded.symbol, std::move(book));
    }
    return {};
  }

  // The capture's trades and aggregate trades as REST rows (see recorded_trades); immutable.
  struct RecordedSeries {
    std::vector<SeriesRow> rows;     // ids strictly increasing
    std::vector<std::size_t> frame;  // the capture frame of each row
  };
  std::map<std::string, RecordedSeries, std::less<>> recorded_trades;
  std::map<std::string, RecordedSeries, std::less<>> recorded_agg_trades;
  std::atomic<std::uint64_t> played{0};  // = position, readable without `mutex`
  // Looped replays: the passes completed so far, and how far each one moves ids and times.
  std::atomic<std::int64_t> pass{0};
  LoopSpans loop_spans;

  void load_trades() {
    binance::Parser parser;
    const auto& frames = capture->frames;
    auto add = [](RecordedSeries& series, SeriesRow row, std::size_t frame) {
      if (!series.rows.empty() && row.id <= series.rows.back().id) return;  // repeated
      series.rows.push_back(std::move(row));
      series.frame.push_back(frame);
    };
    for (std::size_t i = 0; i < frames.size(); ++i) {
      const std::string_view stream = capture->streams[frames[i].stream];
      const bool agg = stream.ends_with("@aggTrade");
      if (!agg && !stream.ends_with("@trade")) continue;
      auto event = parser.parse_ws_frame(frames[i].text, 0);
      if (!event) continue;
      SeriesRow row;
      std::string& json = row.json;
      if (const auto* t = std::get_if<Trade>(&*event); t && !agg) {
        row.id = t->trade_id;
        row.time_us = t->trade_time;
        json.append("{\"id\":").append(std::to_string(t->trade_id));
        json.append(",\"price\":\"").append(t->price.to_string());
        json.append("\",\"qty\":\"").append(t->quantity.to_string());
        json.append("\",\"quoteQty\":\"").append((t->price * t->quantity).rescaled(8).to_string());
        json.append("\",\"time\":");
        row.time_at = static_cast<std::uint32_t>(json.size());
        json.append(",\"isBuyerMaker\":").append(t->is_buyer_maker ? "true" : "false");
        json.append(",\"isBestMatch\":").append(t->is_best_match.value_or(true) ? "true" : "false");
        json.push_back('}');
        add(recorded_trades[t->symbol.str()], std::move(row), i);
      } else if (const auto* a = std::get_if<AggTrade>(&*event); a && agg) {
        row.id = a->agg_trade_id;
        row.time_us = a->trade_time;
        json.append("{\"a\":").append(std::to_string(a->agg_trade_id));
        json.append(",\"p\":\"").append(a->price.to_string());
        json.append("\",\"q\":\"").append(a->quantity.to_string());
        json.append("\",\"f\":").append(std::to_string(a->first_trade_id));
        json.append(",\"l\":").append(std::to_string(a->last_trade_id));
        json.append(",\"T\":");
        row.time_at = static_cast<std::uint32_t>(json.size());
        json.append(",\"m\":").append(a->is_buyer_maker ? "true" : "false");
        json.append(",\"M\":").append(a->is_best_match.value_or(true) ? "true" : "false");
        json.push_back('}');
        add(recorded_agg_trades[a->symbol.str()], std::move(row), i);
      }
    }
  }

  // First, so that it is destroyed last: sockets and pending coroutine frames refer to it.
  net::io_context io;
  const WsReplayOptions options;
  std::unique_ptr<Capture> capture;
  std::optional<tcp::acceptor> acceptor;
  std::vector<std::thread> threads;
  std::thread player;
  std::atomic<int> bound_port{0};
  Counters counters;

  mutable std::mutex mutex;
  std::condition_variable player_wake;
  bool stopping = false;
  bool stopped = false;
  bool clock_started = false;
  bool finished = false;
  std::uint64_t position = 0;
  std::uint64_t accepted = 0;
  std::uint64_t refused = 0;
  std::uint64_t depth_dropped = 0;
  WsReplayFaults faults;
  Clock::time_point refuse_until;
  std::map<std::uint64_t, SessionPtr> sessions;
  std::uint64_t next_id = 1;

  // The true books. Their own lock, so that REST answers do not wait on the replay's pacing.
  std::vector<binance::OrderBook> snapshot_books;  // parallel to capture->snapshots; immutable
  std::map<std::string, binance::OrderBook, std::less<>> first_snapshot_books;  // immutable
  mutable std::mutex book_mutex;
  std::map<std::string, binance::OrderBook, std::less<>> books;  // symbols whose snapshot is due

  // --- connections -----------------------------------------------------------------------

  net::awaitable<void> accept_loop() {
    for (;;) {
      tcp::socket socket(net::make_strand(io));
      beast::error_code ec;
      co_await acceptor->async_accept(socket, net::redirect_error(net::use_awaitable, ec));
      if (ec) {
        if (ec == net::error::operation_aborted || !acceptor->is_open()) co_return;
        log::warn(kLogger, "accept failed", {{"error", ec.message()}});
        net::steady_timer timer(acceptor->get_executor(), std::chrono::milliseconds(100));
        co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
        continue;
      }
      socket.set_option(tcp::no_delay(true), ec);
      auto session = std::make_shared<Session>(*this, std::move(socket));
      net::co_spawn(session->ws.get_executor(), serve(session),
                    [](std::exception_ptr error) { log_exception(error); });
    }
  }

  static void log_exception(const std::exception_ptr& error) {
    if (!error) return;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      log::error(kLogger, "connection failed", {{"error", e.what()}});
    } catch (...) {
      log::error(kLogger, "connection failed", {{"error", "unknown"}});
    }
  }

  static http::response<http::string_body> http_error(http::status status, std::string_view msg) {
    http::response<http::string_body> response{status, 11};
    response.set(http::field::content_type, "application/json");
    std::string body = "{\"code\":-1,\"msg\":";
    runtime::append_json_string(body, msg);
    body += '}';
    response.body() = std::move(body);
    response.keep_alive(false);
    response.prepare_payload();
    return response;
  }

  net::awaitable<void> serve(SessionPtr s) {
    beast::error_code ec;
    beast::tcp_stream& stream = s->ws.next_layer();
    beast::flat_buffer buffer;
    http::request<http::string_body> request;
    stream.expires_after(kHttpReadTimeout);
    co_await http::async_read(stream, buffer, request, net::redirect_error(net::use_awaitable, ec));
    if (ec) co_return;
    stream.expires_never();

    std::optional<http::response<http::string_body>> rejection;
    const auto target = parse_target(request.target());
    if (!websocket::is_upgrade(request)) {
      rejection = http_error(http::status::upgrade_required, "WebSocket upgrade required");
    } else if (!target) {
      rejection =
          http_error(http::status::not_found, "not a stream path (/ws/... or /stream?streams=...)");
    } else if (target->streams.size() > options.max_streams) {
      rejection = http_error(http::status::bad_request,
                             "too many streams (max " + std::to_string(options.max_streams) + ")");
    } else if (refusing()) {
      rejection = http_error(http::status::service_unavailable, "connections refused (fault)");
    }
    if (rejection) {
      {
        std::lock_guard lock(mutex);
        ++refused;
      }
      stream.expires_after(kHttpReadTimeout);
      co_await http::async_write(stream, *rejection, net::redirect_error(net::use_awaitable, ec));
      s->close_socket();
      co_return;
    }

    s->ws.set_option(websocket::stream_base::timeout{.handshake_timeout = kWsHandshakeTimeout,
                                                     .idle_timeout = websocket::stream_base::none(),
                                                     .keep_alive_pings = false});
    s->ws.set_option(websocket::stream_base::decorator([](websocket::response_type& response) {
      response.set(http::field::server, "streamforge-exchange-sim");
    }));
    s->ws.read_message_max(64 * 1024);
    s->ws.control_callback([raw = s.get()](websocket::frame_type kind, beast::string_view) {
      if (kind == websocket::frame_type::close) return;
      if (kind == websocket::frame_type::pong) {
        raw->pong_seen.store(Clock::now().time_since_epoch().count());
      }
      if (!raw->incoming_allowed(Clock::now())) raw->close_socket();
    });
    co_await s->ws.async_accept(request, net::redirect_error(net::use_awaitable, ec));
    if (ec) co_return;
    s->ws.text(true);

    if (!register_session(s, *target)) {
      s->close_socket();
      co_return;
    }
    net::co_spawn(s->ws.get_executor(), read_loop(s),
                  [](std::exception_ptr error) { log_exception(error); });
    co_await write_loop(s);
    s->closed.store(true);
    s->close_socket();
    unregister_session(s->id);
  }

  bool refusing() const {
    std::lock_guard lock(mutex);
    return Clock::now() < refuse_until;
  }

  bool register_session(const SessionPtr& s, const Target& target) {
    std::lock_guard lock(mutex);
    if (stopping) return false;
    s->id = next_id++;
    s->faults = faults;
    s->combined = target.combined;
    s->streams.insert(target.streams.begin(), target.streams.end());
    sessions.emplace(s->id, s);
    ++accepted;
    if (!clock_started) {
      clock_started = true;
      player_wake.notify_all();
    }
    return true;
  }

  void unregister_session(std::uint64_t id) {
    std::lock_guard lock(mutex);
    sessions.erase(id);
  }

  net::awaitable<void> write_loop(SessionPtr s) {
    beast::error_code ec;
    const auto opened = Clock::now();
    s->next_ping = opened + options.ping_interval;
    if (s->faults.max_connection_age.count() > 0) {
      s->age_deadline = opened + s->faults.max_connection_age;
    }
    for (;;) {
      if (s->reader_done) co_return;
      const auto now = Clock::now();
      if (now >= s->shutdown_deadline || now >= s->age_deadline) {
        if (now >= s->age_deadline) counters.age_closes.fetch_add(1);
        co_await s->ws.async_close(websocket::close_reason(websocket::close_code::going_away),
                                   net::redirect_error(net::use_awaitable, ec));
        co_return;
      }
      const bool awaiting_pong = s->ping_sent != Clock::time_point{} &&
                                 s->pong_seen.load() < s->ping_sent.time_since_epoch().count();
      if (awaiting_pong && now >= s->ping_sent + options.pong_timeout) {
        log::info(kLogger, "no pong: closing", {{"connection", s->id}});
        co_return;
      }
      if (now >= s->next_ping) {
        co_await s->ws.async_ping({}, net::redirect_error(net::use_awaitable, ec));
        if (ec) co_return;
        s->ping_sent = now;
        s->next_ping = now + options.ping_interval;
        continue;
      }
      if (!s->outbox.empty()) {
        Outgoing out = std::move(s->outbox.front());
        s->outbox.pop_front();
        if (out.data) s->queued.fetch_sub(1);
        co_await s->ws.async_write(net::buffer(out.text.data(), out.text.size()),
                                   net::redirect_error(net::use_awaitable, ec));
        if (ec) co_return;
        if (!out.data) continue;
        counters.frames_sent.fetch_add(1);
        const std::int64_t sent = ++s->data_sent;
        const WsReplayFaults& f = s->faults;
        if (f.duplicate_every > 0 && sent % f.duplicate_every == 0) {
          co_await s->ws.async_write(net::buffer(out.text.data(), out.text.size()),
                                     net::redirect_error(net::use_awaitable, ec));
          if (ec) co_return;
          counters.frames_sent.fetch_add(1);
          counters.duplicates_sent.fetch_add(1);
        }
        if (f.server_shutdown_after > 0 && sent == f.server_shutdown_after && !s->shutdown_sent) {
          s->shutdown_sent = true;
          const std::string event =
              "{\"e\":\"serverShutdown\",\"E\":" + std::to_string(micros_to_millis(now_micros())) +
              "}";
          const std::string message =
              current_combined(*s) ? "{\"stream\":\"!serverShutdown\",\"data\":" + event + "}"
                                   : event;
          co_await s->ws.async_write(net::buffer(message),
                                     net::redirect_error(net::use_awaitable, ec));
          if (ec) co_return;
          counters.shutdowns_sent.fetch_add(1);
          s->shutdown_deadline = Clock::now() + options.shutdown_grace;
        }
        if (f.disconnect_every > 0 && sent % f.disconnect_every == 0) {
          counters.disconnects_injected.fetch_add(1);
          co_return;  // serve() drops the TCP connection without a close frame
        }
        continue;
      }
      auto wake_at = std::min({s->next_ping, s->shutdown_deadline, s->age_deadline});
      if (awaiting_pong) wake_at = std::min(wake_at, s->ping_sent + options.pong_timeout);
      s->wake.expires_at(wake_at);
      co_await s->wake.async_wait(net::redirect_error(net::use_awaitable, ec));
    }
  }

  bool current_combined(const Session& s) const {
    std::lock_guard lock(mutex);
    return s.combined;
  }

  net::awaitable<void> read_loop(SessionPtr s) {
    beast::error_code ec;
    beast::flat_buffer buffer;
    simdjson::dom::parser parser;
    for (;;) {
      buffer.clear();
      co_await s->ws.async_read(buffer, net::redirect_error(net::use_awaitable, ec));
      if (ec) break;
      if (!s->incoming_allowed(Clock::now())) {
        log::info(kLogger, "over the incoming message limit: closing", {{"connection", s->id}});
        s->close_socket();
        break;
      }
      counters.control_messages.fetch_add(1);
      reply(*s, handle_control(*s, parser, beast::buffers_to_string(buffer.data())));
    }
    s->reader_done = true;
    s->wake.cancel();
  }

  // Replies go before queued frames (after earlier replies), as Binance answers at once.
  static void reply(Session& s, std::string text) {
    auto it = s.outbox.begin();
    while (it != s.outbox.end() && !it->data) ++it;
    s.outbox.insert(it, owned_message(std::move(text)));
    s.wake.cancel();
  }

  std::string handle_control(Session& s, simdjson::dom::parser& parser, const std::string& text) {
    simdjson::dom::element message;
    if (parser.parse(text).get(message) != simdjson::SUCCESS || !message.is_object()) {
      return error_reply(3, "Invalid JSON: expected an object", "null");
    }
    std::string id_json = "null";
    simdjson::dom::element id;
    if (message["id"].get(id) == simdjson::SUCCESS) {
      if (!id.is_int64() && !id.is_string() && !id.is_null()) {
        return error_reply(2, "Invalid request: request ID must be an unsigned integer", "null");
      }
      id_json = simdjson::minify(id);
    }
    std::string_view method;
    if (message["method"].get(method) != simdjson::SUCCESS) {
      return error_reply(2, "Invalid request: method is missing", id_json);
    }
    std::vector<std::string> params;
    std::optional<bool> bool_param;
    simdjson::dom::array array;
    if (message["params"].get(array) == simdjson::SUCCESS) {
      for (simdjson::dom::element param : array) {
        std::string_view name;
        bool flag = false;
        if (param.get(name) == simdjson::SUCCESS) {
          params.emplace_back(name);
        } else if (param.get(flag) == simdjson::SUCCESS) {
          bool_param = flag;
        } else {
          return error_reply(2, "Invalid request: params must be strings", id_json);
        }
      }
    }
    const std::string ok = "{\"result\":null,\"id\":" + id_json + "}";
    std::lock_guard lock(mutex);
    if (method == "SUBSCRIBE") {
      std::set<std::string, std::less<>> next = s.streams;
      next.insert(params.begin(), params.end());
      if (next.size() > options.max_streams) {
        return error_reply(2, "Invalid request: too many streams", id_json);
      }
      s.streams = std::move(next);
      return ok;
    }
    if (method == "UNSUBSCRIBE") {
      for (const std::string& name : params) s.streams.erase(name);
      return ok;
    }
    if (method == "LIST_SUBSCRIPTIONS") {
      std::string out = "{\"result\":[";
      bool first = true;
      for (const std::string& name : s.streams) {
        if (!first) out += ',';
        first = false;
        runtime::append_json_string(out, name);
      }
      return out + "],\"id\":" + id_json + "}";
    }
    if (method == "SET_PROPERTY" && params.size() == 1 && params[0] == "combined" && bool_param) {
      s.combined = *bool_param;
      return ok;
    }
    if (method == "GET_PROPERTY" && params.size() == 1 && params[0] == "combined") {
      return std::string("{\"result\":") + (s.combined ? "true" : "false") + ",\"id\":" + id_json +
             "}";
    }
    return error_reply(2, "Invalid request: unknown method or property", id_json);
  }

  // --- the replay ------------------------------------------------------------------------

  // Caller holds `mutex`. Whether a subscriber of `stream` is too far behind to send more.
  bool blocked(std::string_view stream) const {
    for (const auto& [id, s] : sessions) {
      if (s->closed.load() || s->dropping.load()) continue;
      if (s->queued.load() >= WsReplay::kOutboxHighWater && s->streams.contains(stream))
        return true;
    }
    return false;
  }

  // Caller holds `mutex`. `shifted` (a looped pass after the first) is the frame as that pass
  // sends it, its payload starting at `payload_at`; otherwise the recorded bytes go out.
  void dispatch(const CaptureFrame& frame, std::string_view stream,
                const std::shared_ptr<const std::string>& shifted = nullptr,
                std::size_t payload_at = 0) {
    for (const auto& [id, s] : sessions) {
      if (s->closed.load() || s->dropping.load() || !s->streams.contains(stream)) continue;
      if (s->queued.load() >= WsReplay::kOutboxLimit) {
        s->dropping.store(true);
        counters.slow_consumer_drops.fetch_add(1);
        log::info(kLogger, "slow consumer: closing", {{"connection", id}});
        net::post(s->ws.get_executor(), [s] { s->close_socket(); });
        continue;
      }
      s->queued.fetch_add(1);
      std::string_view text = s->combined ? frame.text : frame.payload;
      if (shifted) {
        text = *shifted;
        if (!s->combined) text = text.substr(payload_at, text.size() - payload_at - 1);
      }
      net::post(s->ws.get_executor(), [s, text, shifted] {
        if (s->reader_done) return;
        s->outbox.push_back(Outgoing{.text = text, .owned = shifted, .data = true});
        s->wake.cancel();
      });
    }
  }

  // Caller holds `mutex`. The frame with this pass's ids and times (loop_shift.h), built once
  // for all connections.
  void dispatch_shifted(const CaptureFrame& frame, std::string_view stream) {
    auto text = std::make_shared<std::string>();
    text->reserve(frame.text.size() + 16);
    text->append(R"({"stream":")").append(stream).append(R"(","data":)");
    const std::size_t payload_at = text->size();
    append_shifted_payload(frame.payload, stream_kind(stream),
                           loop_spans.of(stream.substr(0, stream.find('@'))), loop_spans.time_ms,
                           pass.load(), *text);
    text->push_back('}');
    dispatch(frame, stream, std::move(text), payload_at);
  }

  // Snapshots recorded before frame `i` become the true books of their symbols. A recorder
  // fetches the snapshot while diffs already stream in, so diffs recorded before it may be newer
  // than it (u > lastUpdateId): as in Binance's procedure they are applied on top of it.
  void apply_snapshots_before(binance::Parser& parser, std::size_t i, std::size_t& next) {
    const auto& recorded = capture->snapshots;
    for (; next < recorded.size() && recorded[next].position <= i; ++next) {
      {
        std::lock_guard books_lock(book_mutex);
        books.insert_or_assign(recorded[next].symbol, snapshot_books[next]);
      }
      for (std::size_t k = 0; k < recorded[next].position; ++k) {
        if (capture->frames[k].depth_update) apply_diff(parser, capture->frames[k]);
      }
    }
  }

  // Applies a depthUpdate frame to its symbol's true book, as Binance's book has it: diffs the
  // snapshot already holds (u <= lastUpdateId) are skipped.
  void apply_diff(binance::Parser& parser, const CaptureFrame& frame) {
    auto event = parser.parse_ws_frame(frame.text, 0);
    if (!event) return;
    const auto* diff = std::get_if<DepthUpdate>(&*event);
    if (!diff) return;
    std::lock_guard books_lock(book_mutex);
    const auto it = books.find(diff->symbol.view());
    if (it == books.end() || diff->final_update_id <= it->second.last_update_id()) return;
    it->second.apply_update(*diff);
  }

  void play() {
    std::unique_lock lock(mutex);
    player_wake.wait(lock, [this] { return stopping || clock_started; });
    const auto& frames = capture->frames;
    std::uint64_t depth_seen = 0;
    binance::Parser parser;
    while (!stopping && !frames.empty()) {
      const auto start = Clock::now();
      const std::int64_t t0 = frames.front().time_us;
      {
        std::lock_guard books_lock(book_mutex);
        books.clear();
      }
      std::size_t next_snapshot = 0;
      for (std::size_t i = 0; i < frames.size(); ++i) {
        const CaptureFrame& frame = frames[i];
        if (options.speed > 0) {
          const auto due =
              start +
              std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, std::micro>(
                  static_cast<double>(frame.time_us - t0) / options.speed));
          player_wake.wait_until(lock, due, [this] { return stopping; });
        } else if (i % 64 == 0) {
          // Let connections register and subscribe while a max-speed replay runs.
          lock.unlock();
          std::this_thread::yield();
          lock.lock();
        }
        if (stopping) return;
        apply_snapshots_before(parser, i, next_snapshot);
        if (frame.depth_update) apply_diff(parser, frame);
        if (frame.depth_update && faults.drop_depth_every > 0 &&
            ++depth_seen % static_cast<std::uint64_t>(faults.drop_depth_every) == 0) {
          ++depth_dropped;
          position = i + 1;
          played = position;
          continue;
        }
        const std::string_view stream = capture->streams[frame.stream];
        if (options.speed <= 0) {
          while (!stopping && blocked(stream)) {
            player_wake.wait_for(lock, std::chrono::milliseconds(1));
          }
          if (stopping) return;
        }
        // REST answers from `played`: it counts the frame before any client can have read it, so
        // REST is never behind what a client received (a client that got trade N and asks REST
        // finds N; the sessions' sockets are written on other threads).
        played = i + 1;
        if (pass == 0) {
          dispatch(frame, stream);
        } else {
          dispatch_shifted(frame, stream);
        }
        position = i + 1;
      }
      apply_snapshots_before(parser, frames.size(), next_snapshot);
      if (!options.loop) break;
      pass.fetch_add(1);
    }
    finished = true;
  }

  // --- lifecycle -------------------------------------------------------------------------

  Result<void, std::string> start() {
    beast::error_code ec;
    const auto address = net::ip::make_address(options.host, ec);
    if (ec) return unexpected("invalid bind address '" + options.host + "'");
    const tcp::endpoint endpoint(address, static_cast<std::uint16_t>(options.port));
    const auto where = options.host + ":" + std::to_string(options.port);
    acceptor.emplace(net::make_strand(io));
    if (acceptor->open(endpoint.protocol(), ec); ec) {
      return unexpected("cannot open socket for " + where + ": " + ec.message());
    }
    if (acceptor->set_option(net::socket_base::reuse_address(true), ec); ec) {
      return unexpected("cannot set SO_REUSEADDR on " + where + ": " + ec.message());
    }
    if (acceptor->bind(endpoint, ec); ec)
      return unexpected("cannot bind " + where + ": " + ec.message());
    if (acceptor->listen(net::socket_base::max_listen_connections, ec); ec) {
      return unexpected("cannot listen on " + where + ": " + ec.message());
    }
    bound_port = acceptor->local_endpoint().port();
    net::co_spawn(acceptor->get_executor(), accept_loop(),
                  [](std::exception_ptr error) { log_exception(error); });
    for (int i = 0; i < std::max(1, options.threads); ++i) {
      threads.emplace_back([this] {
        for (;;) {
          try {
            io.run();
            return;
          } catch (const std::exception& e) {
            log::error(kLogger, "server thread error", {{"error", e.what()}});
          }
        }
      });
    }
    player = std::thread([this] { play(); });
    return {};
  }

  void stop() {
    {
      std::lock_guard lock(mutex);
      if (stopped) return;
      stopped = true;
      stopping = true;
      for (const auto& [id, s] : sessions) {
        net::post(s->ws.get_executor(), [s] { s->close_socket(); });
      }
    }
    player_wake.notify_all();
    if (player.joinable()) player.join();
    if (acceptor) {
      net::post(acceptor->get_executor(), [this] {
        beast::error_code ignored;
        acceptor->close(ignored);
      });
    }
    // Let the connections see their sockets close before the threads stop.
    for (int i = 0; i < 100; ++i) {
      {
        std::lock_guard lock(mutex);
        if (sessions.empty()) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    io.stop();
    for (std::thread& thread : threads) thread.join();
    threads.clear();
    std::lock_guard lock(mutex);
    sessions.clear();
  }
};

Result<std::unique_ptr<WsReplay>, std::string> WsReplay::start(const WsReplayOptions& options) {
  if (options.speed < 0) return unexpected(std::string("replay speed must not be negative"));
  if (options.port < 0 || options.port > 65535) {
    return unexpected("port out of range: " + std::to_string(options.port));
  }
  if (options.ping_interval.count() <= 0 || options.pong_timeout.count() <= 0) {
    return unexpected(std::string("ping interval and pong timeout must be positive"));
  }
  const WsReplayFaults& f = options.faults;
  if (f.disconnect_every < 0 || f.drop_depth_every < 0 || f.duplicate_every < 0 ||
      f.server_shutdown_after < 0 || f.max_connection_age.count() < 0 ||
      f.refuse_connections_for.count() < 0) {
    return unexpected(std::string("WebSocket fault settings must not be negative"));
  }
  auto capture = load_capture(options.files);
  if (!capture) return unexpected(capture.error());
  if (!options.files.empty()) {
    log::info(kLogger, "captures loaded",
              {{"files", options.files.size()},
               {"frames", (*capture)->frames.size()},
               {"streams", (*capture)->streams.size()},
               {"skipped_lines", (*capture)->skipped_lines}});
  }
  auto impl = std::make_shared<Impl>(options, std::move(capture).value());
  if (auto parsed = impl->load_snapshots(); !parsed) return unexpected(parsed.error());
  impl->load_trades();
  if (options.loop) impl->loop_spans = measure_loop_spans(*impl->capture);
  if (auto started = impl->start(); !started) {
    impl->stop();
    return unexpected(started.error());
  }
  return std::unique_ptr<WsReplay>(new WsReplay(std::move(impl)));
}

WsReplay::WsReplay(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

WsReplay::~WsReplay() {
  stop();
}

void WsReplay::stop() {
  impl_->stop();
}

int WsReplay::port() const {
  return impl_->bound_port.load();
}

std::string WsReplay::base_url() const {
  const std::string& host = impl_->options.host;
  const bool ipv6 = host.find(':') != std::string::npos;
  return "ws://" + (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port());
}

void WsReplay::set_faults(const WsReplayFaults& faults) {
  std::lock_guard lock(impl_->mutex);
  impl_->faults = faults;
  impl_->refuse_until = Clock::now() + faults.refuse_connections_for;
}

WsReplayStats WsReplay::stats() const {
  WsReplayStats stats;
  const Impl::Counters& c = impl_->counters;
  stats.frames_sent = c.frames_sent.load();
  stats.duplicates_sent = c.duplicates_sent.load();
  stats.disconnects_injected = c.disconnects_injected.load();
  stats.shutdowns_sent = c.shutdowns_sent.load();
  stats.age_closes = c.age_closes.load();
  stats.slow_consumer_drops = c.slow_consumer_drops.load();
  stats.control_messages = c.control_messages.load();
  std::lock_guard lock(impl_->mutex);
  stats.frames_loaded = impl_->capture->frames.size();
  stats.position = impl_->position;
  stats.passes_completed = impl_->pass.load();
  stats.finished = impl_->finished;
  stats.connections_accepted = impl_->accepted;
  stats.connections_refused = impl_->refused;
  stats.connections_open = impl_->sessions.size();
  stats.depth_dropped = impl_->depth_dropped;
  return stats;
}

const Capture& WsReplay::capture() const {
  return *impl_->capture;
}

std::optional<std::string> WsReplay::depth_body(std::string_view symbol, std::size_t limit) const {
  // The books keep the recorded ids; a looped pass's answer carries that pass's (loop_shift.h).
  std::string lower(symbol);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const std::int64_t id_shift = impl_->pass.load() * impl_->loop_spans.of(lower).update;
  auto render = [limit, id_shift](const binance::OrderBook& book) {
    const DepthSnapshot top = book.top(limit, false);
    std::string body = "{\"lastUpdateId\":" + std::to_string(top.last_update_id + id_shift);
    auto append_side = [&](std::string_view key, const std::vector<PriceLevel>& levels) {
      body.append(",\"").append(key).append("\":[");
      for (std::size_t i = 0; i < levels.size(); ++i) {
        if (i > 0) body.push_back(',');
        body.append("[\"")
            .append(levels[i].price.to_string())
            .append("\",\"")
            .append(levels[i].quantity.to_string())
            .append("\"]");
      }
      body.push_back(']');
    };
    append_side("bids", top.bids);
    append_side("asks", top.asks);
    body.push_back('}');
    return body;
  };
  {
    std::lock_guard lock(impl_->book_mutex);
    if (const auto it = impl_->books.find(symbol); it != impl_->books.end()) {
      return render(it->second);
    }
  }
  // Before the replay reaches the snapshot: the snapshot itself.
  if (const auto it = impl_->first_snapshot_books.find(symbol);
      it != impl_->first_snapshot_books.end()) {
    return render(it->second);
  }
  return std::nullopt;
}

std::optional<std::span<const SeriesRow>> WsReplay::recorded_trades(std::string_view symbol,
                                                                    bool agg) const {
  const auto& all = agg ? impl_->recorded_agg_trades : impl_->recorded_trades;
  const auto it = all.find(symbol);
  if (it == all.end()) return std::nullopt;
  const auto& series = it->second;
  const auto played = static_cast<std::size_t>(impl_->played.load());
  // Rows whose frame was played: frame index < played.
  const auto visible = static_cast<std::size_t>(
      std::lower_bound(series.frame.begin(), series.frame.end(), played) - series.frame.begin());
  return std::span<const SeriesRow>(series.rows.data(), visible);
}

}  // namespace sf::services::exchange_sim
