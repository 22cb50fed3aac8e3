#include "runtime/http_server.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <exception>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <vector>

#include "runtime/json_writer.h"
#include "runtime/log.h"
#include "runtime/metrics.h"

namespace sf::runtime {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using TlsStream = net::ssl::stream<beast::tcp_stream&>;

constexpr auto kWriteTimeout = std::chrono::seconds(30);
// After a 413 the server reads and discards what the client still sends (up to this much), so
// that the client, still writing its body, gets to read the response instead of a reset.
constexpr std::size_t kMaxDrainBytes = 64 << 20;
constexpr auto kDrainTimeout = std::chrono::seconds(2);

std::string json_object(std::initializer_list<std::pair<std::string_view, std::string_view>> kv) {
  JsonWriter json;
  json.begin_object();
  for (const auto& [key, value] : kv) json.field(key, value);
  json.end_object();
  return json.take();
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX decoding; false on a malformed escape.
bool percent_decode(std::string_view in, bool plus_is_space, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      const int hi = hex_value(in[i + 1]);
      const int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return true;
}

std::vector<std::string_view> split_segments(std::string_view path) {
  std::vector<std::string_view> segments;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    if (end > start) segments.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return segments;
}

struct Segment {
  std::string text;  // literal, or the parameter name
  bool is_param = false;
  bool is_rest = false;  // {name...}: the rest of the path
};

struct Route {
  std::string method;
  std::string pattern;
  std::vector<Segment> segments;
  int literal_count = 0;
  std::shared_ptr<const HttpHandler> handler;
  std::shared_ptr<const StreamHandler> stream_handler;
  std::shared_ptr<const WsHandler> ws_handler;
  Access access = Access::kRead;
};

Access default_access(std::string_view method) {
  return method == "GET" || method == "HEAD" ? Access::kRead : Access::kOperate;
}

std::vector<Segment> parse_pattern(std::string_view pattern) {
  std::vector<Segment> segments;
  for (std::string_view part : split_segments(pattern)) {
    Segment segment;
    if (part.size() >= 2 && part.front() == '{' && part.back() == '}') {
      std::string_view name = part.substr(1, part.size() - 2);
      segment.is_param = true;
      if (name.ends_with("...")) {
        segment.is_rest = true;
        name.remove_suffix(3);
      }
      segment.text = std::string(name);
    } else {
      segment.text = std::string(part);
    }
    segments.push_back(std::move(segment));
  }
  return segments;
}

// Matches decoded path segments against a route, capturing parameters.
bool match_route(const Route& route, const std::vector<std::string>& path,
                 std::map<std::string, std::string, std::less<>>* params) {
  std::size_t i = 0;
  for (const Segment& segment : route.segments) {
    if (segment.is_rest) {
      if (i >= path.size()) return false;
      std::string rest;
      for (std::size_t j = i; j < path.size(); ++j) {
        if (j > i) rest.push_back('/');
        rest += path[j];
      }
      if (params) (*params)[segment.text] = std::move(rest);
      return true;
    }
    if (i >= path.size()) return false;
    if (segment.is_param) {
      if (params) (*params)[segment.text] = path[i];
    } else if (segment.text != path[i]) {
      return false;
    }
    ++i;
  }
  return i == path.size();
}

constexpr std::size_t kStreamQueueBytes = 1 << 20;  // write() blocks beyond this
constexpr std::size_t kWsQueueBytes = 8 << 20;      // send() closes the session beyond this

// The state shared by a stream/WebSocket handler's thread and the connection's coroutines (which
// run on the connection's strand). The handler thread queues bytes (HTTP) or messages
// (WebSocket) and wakes the writer by cancelling `signal` on the strand.
class Channel final : public StreamWriter,
                      public WebSocketSession,
                      public std::enable_shared_from_this<Channel> {
 public:
  Channel(net::any_io_executor executor, bool websocket)
      : websocket_(websocket), executor_(std::move(executor)), signal(executor_) {}

  // --- StreamWriter
  bool send_headers(int status, std::string_view content_type,
                    const HttpHeaders& headers) override {
    std::string head;
    if (status < 100 || status > 999) status = 500;
    head += "HTTP/1.1 " + std::to_string(status) + " ";
    head += std::string(http::obsolete_reason(http::int_to_status(static_cast<unsigned>(status))));
    head += "\r\nServer: streamforge\r\nContent-Type: ";
    head += content_type;
    head += "\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n";
    for (const auto& [name, value] : headers) head += name + ": " + value + "\r\n";
    head += "\r\n";
    std::unique_lock lock(mutex_);
    if (headers_sent_ || closed_) return false;
    headers_sent_ = true;
    return push_locked(lock, std::move(head), kStreamQueueBytes, true);
  }

  bool write(std::string_view chunk) override {
    if (chunk.empty()) return !closed();
    {
      std::lock_guard lock(mutex_);
      if (closed_) return false;
    }
    if (!headers_sent()) send_headers(200, "application/octet-stream", {});
    char size[32];
    const int n = std::snprintf(size, sizeof size, "%zx\r\n", chunk.size());
    std::string framed(size, static_cast<std::size_t>(n));
    framed += chunk;
    framed += "\r\n";
    std::unique_lock lock(mutex_);
    return push_locked(lock, std::move(framed), kStreamQueueBytes, true);
  }

  bool closed() const override { return closed_flag_.load(); }

  bool wait_closed(std::chrono::milliseconds timeout) override {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, timeout, [this] { return closed_; });
    return closed_;
  }

  // --- WebSocketSession
  bool send(std::string_view text) override {
    std::vector<std::string> one;
    one.emplace_back(text);
    return send_all(std::move(one));
  }

  bool send_all(std::vector<std::string> texts) override {
    std::size_t bytes = 0;
    for (const auto& t : texts) bytes += t.size();
    std::unique_lock lock(mutex_);
    if (closed_) return false;
    if (queued_bytes_ + bytes > kWsQueueBytes) {
      lock.unlock();
      log::warn("http", "websocket client too slow, closing");
      mark_closed();
      return false;
    }
    if (texts.empty()) return true;
    queued_bytes_ += bytes;
    for (auto& t : texts) outbox_.push_back(std::move(t));
    lock.unlock();
    wake();  // once for all of them
    return true;
  }

  std::size_t pending_bytes() const override {
    std::lock_guard lock(mutex_);
    return queued_bytes_;
  }

  std::optional<std::string> receive(std::chrono::milliseconds timeout) override {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, timeout, [this] { return closed_ || !inbox_.empty(); });
    if (inbox_.empty()) return std::nullopt;
    std::string message = std::move(inbox_.front());
    inbox_.pop_front();
    return message;
  }

  // --- the server's side
  bool headers_sent() {
    std::lock_guard lock(mutex_);
    return headers_sent_;
  }

  // Any thread: the client went away, a write failed or the server stops.
  void mark_closed() {
    {
      std::lock_guard lock(mutex_);
      if (closed_) return;
      closed_ = true;
      closed_flag_ = true;
    }
    cv_.notify_all();
    space_cv_.notify_all();
    wake();
  }

  // Handler thread: the handler returned. `tail` goes out last (the final chunk, or a whole
  // response when no headers were sent).
  void finish(std::string tail) {
    {
      std::lock_guard lock(mutex_);
      if (!tail.empty() && !closed_) {
        queued_bytes_ += tail.size();
        outbox_.push_back(std::move(tail));
      }
      handler_done_ = true;
    }
    wake();
  }

  void deliver(std::string message) {
    {
      std::lock_guard lock(mutex_);
      inbox_.push_back(std::move(message));
      while (inbox_.size() > 1024) inbox_.pop_front();  // a handler that never reads
    }
    cv_.notify_all();
  }

  struct Pending {
    std::deque<std::string> items;
    bool done = false;
    bool closed = false;
  };
  // Strand: takes what is queued.
  Pending take() {
    Pending pending;
    {
      std::lock_guard lock(mutex_);
      pending.items.swap(outbox_);
      queued_bytes_ = 0;
      pending.done = handler_done_;
      pending.closed = closed_;
    }
    space_cv_.notify_all();  // writers blocked on a full queue
    return pending;
  }

  // Strand only: waits for wake(). Callers check take() first, on the strand, so that a wake()
  // posted after that check finds this wait pending.
  net::awaitable<void> wait_for_work() {
    signal.expires_at(net::steady_timer::time_point::max());
    beast::error_code ignored;
    co_await signal.async_wait(net::redirect_error(net::use_awaitable, ignored));
  }

  bool is_websocket() const { return websocket_; }

 private:
  bool push_locked(std::unique_lock<std::mutex>& lock, std::string bytes, std::size_t limit,
                   bool block) {
    if (block) {
      space_cv_.wait(lock, [&] { return closed_ || queued_bytes_ < limit; });
      if (closed_) return false;
    }
    queued_bytes_ += bytes.size();
    outbox_.push_back(std::move(bytes));
    lock.unlock();
    wake();
    return true;
  }

  void wake() {
    net::post(executor_, [self = shared_from_this()] { self->signal.cancel(); });
  }

  const bool websocket_;
  net::any_io_executor executor_;

 public:
  net::steady_timer signal;  // strand only

 private:
  mutable std::mutex mutex_;
  // Two conditions, so that the writer taking the outbox (every batch) does not wake a handler
  // waiting in receive() for its client's next message: with one, every batch cost each client's
  // handler thread a futile wake-up.
  std::condition_variable cv_;        // closed, or a message from the client
  std::condition_variable space_cv_;  // closed, or room in the outbox
  std::deque<std::string> outbox_;
  std::size_t queued_bytes_ = 0;
  std::deque<std::string> inbox_;
  bool headers_sent_ = false;
  bool handler_done_ = false;
  bool closed_ = false;
  std::atomic<bool> closed_flag_{false};
};

struct Connection {
  explicit Connection(tcp::socket socket) : stream(std::move(socket)) {}
  beast::tcp_stream stream;
  std::unique_ptr<TlsStream> tls;  // over `stream`, when the server speaks TLS
  std::string remote_address;
  std::uint64_t id = 0;
  bool busy = false;                 // handling a request; touched only on the connection's strand
  std::shared_ptr<Channel> channel;  // a stream or WebSocket; set under connections_mutex
};

bool is_protocol_error(const beast::error_code& ec) {
  return ec.category() == beast::error_code(http::error::bad_target).category();
}

}  // namespace

const char* to_string(Access access) {
  switch (access) {
    case Access::kPublic:
      return "public";
    case Access::kRead:
      return "read";
    case Access::kOperate:
      return "operate";
    case Access::kAdmin:
      return "admin";
  }
  return "admin";
}

HttpResponse HttpResponse::error(int status, std::string_view message) {
  return json(status, json_object({{"error", message}}));
}

struct HttpServer::Impl {
  explicit Impl(HttpServerOptions opts)
      : options(std::move(opts)),
        registry(options.registry ? options.registry : &metrics::default_registry()),
        latency_buckets(metrics::default_latency_buckets()) {}

  // --- routing -----------------------------------------------------------------------------

  void add_route(std::string method, std::string pattern, HttpHandler handler,
                 std::optional<Access> access) {
    Route route;
    route.handler = std::make_shared<const HttpHandler>(std::move(handler));
    add_route(std::move(method), std::move(pattern), std::move(route), access);
  }

  void add_route(std::string method, std::string pattern, Route route,
                 std::optional<Access> access) {
    route.access = access.value_or(default_access(method));
    route.method = std::move(method);
    route.segments = parse_pattern(pattern);
    for (const Segment& segment : route.segments) route.literal_count += !segment.is_param;
    route.pattern = std::move(pattern);
    std::unique_lock lock(routes_mutex);
    for (Route& existing : routes) {
      if (existing.method == route.method && existing.pattern == route.pattern) {
        existing = std::move(route);
        return;
      }
    }
    routes.push_back(std::move(route));
  }

  struct Dispatched {
    Dispatched(HttpResponse r, std::string label,
               std::shared_ptr<const StreamHandler> stream = nullptr,
               std::shared_ptr<const WsHandler> ws = nullptr)
        : response(std::move(r)),
          route_label(std::move(label)),
          stream_handler(std::move(stream)),
          ws_handler(std::move(ws)) {}
    HttpResponse response;
    std::string route_label;  // metrics label: the pattern, or "unmatched"
    std::shared_ptr<const StreamHandler> stream_handler;  // set: not yet handled, stream it
    std::shared_ptr<const WsHandler> ws_handler;          // set: not yet handled, upgrade
  };

  Dispatched dispatch(HttpRequest& request, bool websocket_upgrade) {
    const std::string_view target = request.target;
    if (target.empty() || target.front() != '/') {
      return {HttpResponse::error(400, "bad request target"), "unmatched"};
    }
    const std::size_t question = target.find('?');
    const std::string_view raw_path = target.substr(0, question);
    if (!percent_decode(raw_path, false, request.path)) {
      return {HttpResponse::error(400, "invalid percent-encoding in path"), "unmatched"};
    }
    if (question != std::string_view::npos) {
      std::string key;
      std::string value;
      for (std::string_view pair : split_query(target.substr(question + 1))) {
        const std::size_t equals = pair.find('=');
        if (!percent_decode(pair.substr(0, equals), true, key) ||
            !percent_decode(equals == std::string_view::npos ? "" : pair.substr(equals + 1), true,
                            value)) {
          return {HttpResponse::error(400, "invalid percent-encoding in query"), "unmatched"};
        }
        request.query.emplace(key, value);
      }
    }
    std::vector<std::string> segments;
    for (std::string_view raw_segment : split_segments(raw_path)) {
      std::string decoded;
      percent_decode(raw_segment, false, decoded);  // already validated with the whole path
      segments.push_back(std::move(decoded));
    }

    std::shared_ptr<const HttpHandler> handler;
    std::shared_ptr<const StreamHandler> stream_handler;
    std::shared_ptr<const WsHandler> ws_handler;
    std::string label = "unmatched";
    std::string allowed;
    Access access = Access::kPublic;
    {
      std::shared_lock lock(routes_mutex);
      const Route* best = nullptr;
      const Route* best_any_method = nullptr;
      for (const Route& route : routes) {
        if (!match_route(route, segments, nullptr)) continue;
        if (!best_any_method || route.literal_count > best_any_method->literal_count) {
          best_any_method = &route;
        }
        if (allowed.find(route.method) == std::string::npos) {
          if (!allowed.empty()) allowed.append(", ");
          allowed.append(route.method);
        }
        if (route.method == request.method &&
            (!best || route.literal_count > best->literal_count)) {
          best = &route;
        }
      }
      if (best) {
        match_route(*best, segments, &request.path_params);
        handler = best->handler;
        stream_handler = best->stream_handler;
        ws_handler = best->ws_handler;
        label = best->pattern;
        access = best->access;
      } else if (best_any_method) {
        label = best_any_method->pattern;
      }
    }
    if (ws_handler && websocket_upgrade) {
      auto origin = request.headers.get("Origin");
      if (origin && !websocket_origin_allowed(*origin, request.headers.get_or("Host", ""),
                                              options.websocket_origins))
        return {
            HttpResponse::json(403, json_object({{"error", "cross-origin WebSocket refused"},
                                                 {"origin", std::string(origin->substr(0, 200))}})),
            label};
    }
    if ((handler || stream_handler || ws_handler) && options.authenticate) {
      if (access == Access::kPublic) {
        request.caller = Caller{"anonymous", Access::kPublic, "none"};  // never the admin default
      } else {
        // A token in the URL only where a browser has no other way (a WebSocket upgrade); on
        // any other route it is not looked at (and not left for the handler to see).
        if (!ws_handler || !websocket_upgrade) request.query.erase("access_token");
        if (auto denied = authorize(request, access)) return {std::move(*denied), label};
      }
    }
    if (ws_handler) {
      if (websocket_upgrade) return {HttpResponse{}, label, nullptr, ws_handler};
      HttpResponse response = HttpResponse::error(426, "websocket upgrade required");
      response.headers.set("Upgrade", "websocket");
      return {std::move(response), label};
    }
    if (stream_handler) return {HttpResponse{}, label, stream_handler, nullptr};
    if (!handler) {
      if (label == "unmatched") {
        return {
            HttpResponse::json(404, json_object({{"error", "not found"}, {"path", request.path}})),
            label};
      }
      HttpResponse response = HttpResponse::json(405, json_object({{"error", "method not allowed"},
                                                                   {"method", request.method},
                                                                   {"path", request.path}}));
      response.headers.set("Allow", allowed);
      return {std::move(response), label};
    }
    try {
      return {(*handler)(request), label};
    } catch (const std::exception& e) {
      log::error("http", "handler failed",
                 {{"method", request.method}, {"path", request.path}, {"error", e.what()}});
      return {HttpResponse::error(500, "internal error"), label};
    } catch (...) {
      log::error("http", "handler failed",
                 {{"method", request.method}, {"path", request.path}, {"error", "unknown"}});
      return {HttpResponse::error(500, "internal error"), label};
    }
  }

  // 401 without a valid credential, 403 below the route's access (RFC 6750 challenges); nullopt
  // when the caller may go on (request.caller is set then).
  std::optional<HttpResponse> authorize(HttpRequest& request, Access needed) {
    Result<Caller, std::string> caller = unexpected(std::string("authentication failed"));
    try {
      caller = options.authenticate(request);
    } catch (const std::exception& e) {
      log::error("http", "authenticator failed", {{"error", e.what()}});
    }
    if (!caller) {
      HttpResponse response = HttpResponse::json(
          401, json_object({{"error", "unauthorized"}, {"reason", caller.error()}}));
      const bool presented = request.headers.contains("Authorization");
      response.headers.set("WWW-Authenticate",
                           presented ? R"(Bearer realm="streamforge", error="invalid_token")"
                                     : R"(Bearer realm="streamforge")");
      return response;
    }
    request.caller = std::move(caller).value();
    if (request.caller.access < needed) {
      HttpResponse response = HttpResponse::json(
          403, json_object({{"error", "forbidden"},
                            {"reason", std::string("needs the ") + to_string(needed) + " scope"}}));
      response.headers.set(
          "WWW-Authenticate",
          std::string(R"(Bearer realm="streamforge", error="insufficient_scope", scope=")") +
              to_string(needed) + "\"");
      return response;
    }
    return std::nullopt;
  }

  static std::vector<std::string_view> split_query(std::string_view query) {
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    while (start <= query.size()) {
      std::size_t end = query.find('&', start);
      if (end == std::string_view::npos) end = query.size();
      if (end > start) parts.push_back(query.substr(start, end - start));
      start = end + 1;
    }
    return parts;
  }

  void count_request(std::string_view method, const std::string& label, int status,
                     double seconds) {
    registry
        ->counter(
            "sf_http_requests_total", "HTTP requests served",
            {{"method", std::string(method)}, {"path", label}, {"status", std::to_string(status)}})
        .inc();
    registry
        ->histogram("sf_http_request_duration_seconds", "Time to handle an HTTP request",
                    latency_buckets, {{"method", std::string(method)}, {"path", label}})
        .observe(seconds);
  }

  // --- connections -------------------------------------------------------------------------

  // Registers a new connection unless the server is stopping.
  bool register_connection(const std::shared_ptr<Connection>& connection) {
    std::lock_guard lock(connections_mutex);
    if (stopping) return false;
    connection->id = ++next_connection_id;
    connections.emplace(connection->id, connection);
    return true;
  }

  void unregister_connection(std::uint64_t id) {
    std::lock_guard lock(connections_mutex);
    connections.erase(id);
    if (connections.empty()) connections_empty.notify_all();
  }

  net::awaitable<void> accept_loop() {
    for (;;) {
      tcp::socket socket(net::make_strand(io));
      beast::error_code ec;
      co_await acceptor->async_accept(socket, net::redirect_error(net::use_awaitable, ec));
      if (ec) {
        if (ec == net::error::operation_aborted || !acceptor->is_open()) co_return;
        // Typically out of file descriptors: back off instead of spinning.
        log::warn("http", "accept failed", {{"error", ec.message()}});
        net::steady_timer timer(acceptor->get_executor(), std::chrono::milliseconds(100));
        co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
        continue;
      }
      auto connection = std::make_shared<Connection>(std::move(socket));
      const auto remote = connection->stream.socket().remote_endpoint(ec);
      if (!ec)
        connection->remote_address =
            remote.address().to_string() + ":" + std::to_string(remote.port());
      if (!register_connection(connection)) co_return;  // stopping: the socket closes here
      net::co_spawn(connection->stream.get_executor(), serve(connection),
                    [this, id = connection->id](std::exception_ptr error) {
                      if (error) log_exception(error);
                      unregister_connection(id);
                    });
    }
  }

  static void log_exception(const std::exception_ptr& error) {
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      log::error("http", "connection failed", {{"error", e.what()}});
    } catch (...) {
      log::error("http", "connection failed", {{"error", "unknown"}});
    }
  }

  net::awaitable<void> serve(std::shared_ptr<Connection> connection) {
    if (!tls_context) {
      co_await serve_on(connection, connection->stream);
      co_return;
    }
    connection->tls = std::make_unique<TlsStream>(connection->stream, *tls_context);
    beast::error_code ec;
    connection->stream.expires_after(kWriteTimeout);
    co_await connection->tls->async_handshake(net::ssl::stream_base::server,
                                              net::redirect_error(net::use_awaitable, ec));
    if (ec) {
      // Untrusted or plain-HTTP clients end here; counted, not logged per connection.
      registry
          ->counter("sf_http_tls_handshake_failures_total",
                    "TLS handshakes with clients that failed")
          .inc();
      connection->stream.socket().shutdown(tcp::socket::shutdown_both, ec);
      connection->stream.close();
      co_return;
    }
    co_await serve_on(connection, *connection->tls);
  }

  template <class Stream>
  net::awaitable<void> serve_on(std::shared_ptr<Connection> connection, Stream& stream) {
    beast::flat_buffer buffer;
    beast::error_code ec;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(16 * 1024);
      parser.body_limit(options.max_body_bytes);
      beast::get_lowest_layer(stream).expires_after(options.idle_timeout);
      co_await http::async_read_header(stream, buffer, parser,
                                       net::redirect_error(net::use_awaitable, ec));
      const unsigned version = parser.get().version();
      // The parser checks an announced Content-Length against the limit as soon as it has the
      // header, so an oversized body is rejected before the client sends it.
      if (ec == http::error::body_limit) {
        co_await reject_too_large(connection, stream, buffer, parser.get().method_string(),
                                  version);
        co_return;
      }
      if (ec) break;
      if (iequals(parser.get()[http::field::expect], "100-continue")) {
        http::response<http::empty_body> go_on{http::status::continue_, version};
        beast::get_lowest_layer(stream).expires_after(kWriteTimeout);
        co_await http::async_write(stream, go_on, net::redirect_error(net::use_awaitable, ec));
        if (ec) break;
      }
      beast::get_lowest_layer(stream).expires_after(options.idle_timeout);
      co_await http::async_read(stream, buffer, parser,
                                net::redirect_error(net::use_awaitable, ec));
      if (ec == http::error::body_limit) {  // chunked bodies only reveal their size as they come
        co_await reject_too_large(connection, stream, buffer, parser.get().method_string(),
                                  version);
        co_return;
      }
      if (ec) break;

      connection->busy = true;
      const auto started = std::chrono::steady_clock::now();
      http::request<http::string_body> beast_request = parser.release();
      bool keep_alive = beast_request.keep_alive();
      HttpRequest request;
      request.method = std::string(beast_request.method_string());
      request.target = std::string(beast_request.target());
      request.remote_address = connection->remote_address;
      for (const auto& field : beast_request) {
        request.headers.add(std::string(field.name_string()), std::string(field.value()));
      }
      request.body = std::move(beast_request.body());

      Dispatched dispatched = dispatch(request, websocket::is_upgrade(beast_request));
      if (dispatched.stream_handler || dispatched.ws_handler) {
        co_await serve_stream(connection, stream, std::move(request), std::move(beast_request),
                              std::move(dispatched), started);
        co_return;
      }
      keep_alive = keep_alive && !stopping.load();
      // Counted before the response goes out: a client that reads /metrics right after this
      // response must see this request (the write time is left out of the duration).
      count_request(
          request.method, dispatched.route_label, dispatched.response.status,
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      co_await write_response(stream, std::move(dispatched.response), version, keep_alive, ec);
      connection->busy = false;
      if (ec || !keep_alive) break;
    }
    if (ec && is_protocol_error(ec) && ec != http::error::end_of_stream &&
        ec != http::error::partial_message) {
      HttpResponse bad = HttpResponse::error(400, "bad request: " + ec.message());
      count_request("unknown", "unmatched", 400, 0);
      co_await write_response(stream, std::move(bad), 11, false, ec);
    }
    connection->stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    connection->stream.close();
  }

  // --- streams and WebSockets --------------------------------------------------------------

  metrics::Gauge& streams_gauge(bool websocket) {
    return registry->gauge("sf_http_streams_active", "Stream and WebSocket handlers running",
                           {{"kind", websocket ? "websocket" : "stream"}});
  }

  // Starts `body` on a thread of its own unless max_streams run already or the server stops.
  bool start_stream_thread(const std::shared_ptr<Connection>& connection,
                           const std::shared_ptr<Channel>& channel, std::function<void()> body) {
    std::lock_guard streams_lock(streams_mutex);
    for (std::thread& done : finished_stream_threads) done.join();
    finished_stream_threads.clear();
    if (stream_threads.size() >= static_cast<std::size_t>(std::max(options.max_streams, 0))) {
      return false;
    }
    {
      std::lock_guard lock(connections_mutex);
      if (stopping) return false;
      connection->channel = channel;
    }
    const std::uint64_t id = ++next_stream_id;
    metrics::Gauge& gauge = streams_gauge(channel->is_websocket());
    gauge.inc();
    stream_threads.emplace(id, std::thread([this, id, &gauge, body = std::move(body)] {
                             body();
                             gauge.dec();
                             std::lock_guard lock(streams_mutex);
                             auto it = stream_threads.find(id);
                             finished_stream_threads.push_back(std::move(it->second));
                             stream_threads.erase(it);
                             streams_done.notify_all();
                           }));
    return true;
  }

  template <class Stream>
  net::awaitable<void> serve_stream(std::shared_ptr<Connection> connection, Stream& stream,
                                    HttpRequest request,
                                    http::request<http::string_body> beast_request,
                                    Dispatched dispatched,
                                    std::chrono::steady_clock::time_point started) {
    const bool is_ws = dispatched.ws_handler != nullptr;
    const unsigned version = beast_request.version();
    auto channel = std::make_shared<Channel>(connection->stream.get_executor(), is_ws);
    std::function<void()> body;
    const std::string method = request.method;
    if (is_ws) {
      body = [channel, handler = dispatched.ws_handler, request = std::move(request)] {
        try {
          (*handler)(request, *channel);
        } catch (const std::exception& e) {
          log::error("http", "websocket handler failed",
                     {{"path", request.path}, {"error", e.what()}});
        } catch (...) {
          log::error("http", "websocket handler failed",
                     {{"path", request.path}, {"error", "unknown"}});
        }
        channel->finish({});
      };
    } else {
      body = [channel, handler = dispatched.stream_handler, request = std::move(request)] {
        std::string tail;
        try {
          (*handler)(request, *channel);
          tail =
              channel->headers_sent()
                  ? "0\r\n\r\n"
                  : "HTTP/1.1 204 No Content\r\nServer: streamforge\r\nConnection: close\r\n\r\n";
        } catch (const std::exception& e) {
          log::error("http", "stream handler failed",
                     {{"path", request.path}, {"error", e.what()}});
          if (!channel->headers_sent()) {
            const std::string error = R"({"error":"internal error"})";
            tail =
                "HTTP/1.1 500 Internal Server Error\r\nServer: streamforge\r\nContent-Type: "
                "application/json\r\nConnection: close\r\nContent-Length: " +
                std::to_string(error.size()) + "\r\n\r\n" + error;
          }
        }
        // Headers out and then a throw: no final chunk, the client sees a cut stream.
        channel->finish(std::move(tail));
      };
    }
    beast::error_code ec;
    if (!start_stream_thread(connection, channel, std::move(body))) {
      count_request(method, dispatched.route_label, 503, 0);
      co_await write_response(
          stream, HttpResponse::error(503, stopping ? "server stopping" : "too many streams"),
          version, false, ec);
    } else {
      count_request(
          method, dispatched.route_label, is_ws ? 101 : 200,
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      if (is_ws) {
        co_await run_websocket(connection, stream, channel, std::move(beast_request));
      } else {
        co_await run_http_stream(connection, stream, channel);
      }
      channel->mark_closed();
    }
    connection->stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    connection->stream.close();
  }

  // Reads (and drops) what the client sends on a stream, to notice when it goes away.
  static net::awaitable<void> watch_client(std::shared_ptr<Connection> connection,
                                           std::shared_ptr<Channel> channel) {
    char scratch[4096];
    beast::error_code ec;
    for (;;) {
      co_await connection->stream.socket().async_read_some(
          net::buffer(scratch), net::redirect_error(net::use_awaitable, ec));
      if (ec) break;
    }
    channel->mark_closed();
  }

  template <class Stream>
  net::awaitable<void> run_http_stream(std::shared_ptr<Connection> connection, Stream& stream,
                                       std::shared_ptr<Channel> channel) {
    net::co_spawn(connection->stream.get_executor(), watch_client(connection, channel),
                  net::detached);
    beast::error_code ec;
    for (;;) {
      Channel::Pending pending = channel->take();
      if (pending.closed) break;
      if (!pending.items.empty()) {
        std::vector<net::const_buffer> buffers;
        for (const std::string& item : pending.items) buffers.push_back(net::buffer(item));
        connection->stream.expires_after(kWriteTimeout);
        co_await net::async_write(stream, buffers, net::redirect_error(net::use_awaitable, ec));
        if (ec) break;
        continue;
      }
      if (pending.done) break;
      co_await channel->wait_for_work();
    }
  }

  template <class WsStream>
  static net::awaitable<void> ws_writer(std::shared_ptr<Connection> connection,
                                        std::shared_ptr<WsStream> ws,
                                        std::shared_ptr<Channel> channel) {
    beast::error_code ec;
    for (;;) {
      Channel::Pending pending = channel->take();
      if (pending.closed) co_return;
      for (const std::string& message : pending.items) {
        ws->text(true);
        co_await ws->async_write(net::buffer(message), net::redirect_error(net::use_awaitable, ec));
        if (ec) {
          channel->mark_closed();
          co_return;
        }
      }
      if (!pending.items.empty()) continue;
      if (pending.done) {
        co_await ws->async_close(websocket::close_code::normal,
                                 net::redirect_error(net::use_awaitable, ec));
        co_return;
      }
      co_await channel->wait_for_work();
    }
    (void)connection;
  }

  template <class Stream>
  net::awaitable<void> run_websocket(std::shared_ptr<Connection> connection, Stream& stream,
                                     std::shared_ptr<Channel> channel,
                                     http::request<http::string_body> beast_request) {
    connection->stream.expires_never();
    using WsStream = websocket::stream<Stream&>;
    auto ws = std::make_shared<WsStream>(stream);
    ws->set_option(websocket::stream_base::timeout{.handshake_timeout = std::chrono::seconds(30),
                                                   .idle_timeout = std::chrono::seconds(60),
                                                   .keep_alive_pings = true});
    ws->set_option(websocket::stream_base::decorator([](websocket::response_type& response) {
      response.set(http::field::server, "streamforge");
    }));
    ws->read_message_max(options.max_body_bytes);
    beast::error_code ec;
    co_await ws->async_accept(beast_request, net::redirect_error(net::use_awaitable, ec));
    if (ec) co_return;
    net::co_spawn(connection->stream.get_executor(), ws_writer(connection, ws, channel),
                  net::detached);
    beast::flat_buffer in;
    for (;;) {
      co_await ws->async_read(in, net::redirect_error(net::use_awaitable, ec));
      if (ec) break;
      channel->deliver(beast::buffers_to_string(in.data()));
      in.consume(in.size());
    }
  }

  template <class Stream>
  net::awaitable<void> reject_too_large(std::shared_ptr<Connection> connection, Stream& stream,
                                        beast::flat_buffer& buffer, std::string_view method,
                                        unsigned version) {
    beast::error_code ec;
    const std::string method_label(method);
    HttpResponse response = HttpResponse::json(
        413, json_object({{"error", "request body too large"},
                          {"limit_bytes", std::to_string(options.max_body_bytes)}}));
    co_await write_response(stream, std::move(response), version, false, ec);
    count_request(method_label, "unmatched", 413, 0);
    if (ec) co_return;
    connection->stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    buffer.clear();
    std::size_t drained = 0;
    char scratch[16 * 1024];
    const auto deadline = std::chrono::steady_clock::now() + kDrainTimeout;
    while (drained < kMaxDrainBytes && !stopping.load()) {
      connection->stream.expires_at(deadline);
      const std::size_t n = co_await stream.async_read_some(
          net::buffer(scratch), net::redirect_error(net::use_awaitable, ec));
      if (ec) break;
      drained += n;
    }
    connection->stream.close();
  }

  template <class Stream>
  net::awaitable<void> write_response(Stream& stream, HttpResponse response, unsigned version,
                                      bool keep_alive, beast::error_code& ec) {
    const unsigned status = response.status >= 100 && response.status <= 999
                                ? static_cast<unsigned>(response.status)
                                : 500u;
    auto set_headers = [&](auto& message) {
      message.version(version);
      message.result(status);
      message.set(http::field::server, "streamforge");
      message.set(http::field::content_type, response.content_type);
      for (const auto& [name, value] : response.headers) message.insert(name, value);
      message.keep_alive(keep_alive);
    };
    beast::get_lowest_layer(stream).expires_after(kWriteTimeout);

    // HTTP/1.0 has no chunked encoding: collect the stream into the body.
    if (response.stream && version < 11) {
      try {
        std::string piece;
        bool more = true;
        while (more) {
          piece.clear();
          more = response.stream(piece);
          response.body += piece;
        }
      } catch (const std::exception& e) {
        log::error("http", "response stream failed", {{"error", e.what()}});
        response = HttpResponse::error(500, "internal error");
      }
      response.stream = nullptr;
    }

    if (!response.stream) {
      http::response<http::string_body> message;
      set_headers(message);
      message.body() = std::move(response.body);
      message.prepare_payload();
      co_await http::async_write(stream, message, net::redirect_error(net::use_awaitable, ec));
      co_return;
    }

    http::response<http::empty_body> message;
    set_headers(message);
    message.chunked(true);
    http::response_serializer<http::empty_body> serializer(message);
    co_await http::async_write_header(stream, serializer,
                                      net::redirect_error(net::use_awaitable, ec));
    if (ec) co_return;
    std::string piece;
    for (bool more = true; more;) {
      piece.clear();
      try {
        more = response.stream(piece);
      } catch (const std::exception& e) {
        // Headers are out: all we can do is cut the connection so the client sees an error.
        log::error("http", "response stream failed", {{"error", e.what()}});
        ec = net::error::operation_aborted;
        co_return;
      }
      if (piece.empty()) continue;
      beast::get_lowest_layer(stream).expires_after(kWriteTimeout);
      co_await net::async_write(stream, http::make_chunk(net::buffer(piece)),
                                net::redirect_error(net::use_awaitable, ec));
      if (ec) co_return;
    }
    co_await net::async_write(stream, http::make_chunk_last(),
                              net::redirect_error(net::use_awaitable, ec));
  }

  // --- lifecycle ---------------------------------------------------------------------------

  // TLS 1.2+ with the configured certificate and key; client certificates required when a
  // client CA is set. Errors name the file.
  Result<void, std::string> make_tls_context() {
    if (options.tls_cert_file.empty() && options.tls_key_file.empty()) return {};
    if (options.tls_cert_file.empty() || options.tls_key_file.empty())
      return unexpected(std::string("TLS needs both a certificate and a key file"));
    net::ssl::context context(net::ssl::context::tls_server);
    context.set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                        net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                        net::ssl::context::no_tlsv1_1 | net::ssl::context::single_dh_use);
    beast::error_code ec;
    if (context.use_certificate_chain_file(options.tls_cert_file, ec); ec)
      return unexpected("TLS certificate " + options.tls_cert_file + ": " + ec.message());
    if (context.use_private_key_file(options.tls_key_file, net::ssl::context::pem, ec); ec)
      return unexpected("TLS key " + options.tls_key_file + ": " + ec.message());
    if (SSL_CTX_check_private_key(context.native_handle()) != 1)
      return unexpected("TLS key " + options.tls_key_file + " does not match the certificate");
    if (!options.tls_client_ca_file.empty()) {
      if (context.load_verify_file(options.tls_client_ca_file, ec); ec)
        return unexpected("TLS client CA " + options.tls_client_ca_file + ": " + ec.message());
      context.set_verify_mode(net::ssl::verify_peer | net::ssl::verify_fail_if_no_peer_cert);
    }
    tls_context.emplace(std::move(context));
    return {};
  }

  Result<void, std::string> start() {
    std::lock_guard lifecycle(lifecycle_mutex);
    if (started) return unexpected(std::string("server already started"));
    if (auto tls = make_tls_context(); !tls) return unexpected(tls.error());
    beast::error_code ec;
    const auto address = net::ip::make_address(options.bind_address, ec);
    if (ec) return unexpected("invalid bind address '" + options.bind_address + "'");
    const tcp::endpoint endpoint(address, options.port);
    acceptor.emplace(net::make_strand(io));
    const auto where = options.bind_address + ":" + std::to_string(options.port);
    if (acceptor->open(endpoint.protocol(), ec); ec) {
      return unexpected("cannot open socket for " + where + ": " + ec.message());
    }
    if (acceptor->set_option(net::socket_base::reuse_address(true), ec); ec) {
      return unexpected("cannot set SO_REUSEADDR on " + where + ": " + ec.message());
    }
    if (acceptor->bind(endpoint, ec); ec) {
      return unexpected("cannot bind " + where + ": " + ec.message());
    }
    if (acceptor->listen(net::socket_base::max_listen_connections, ec); ec) {
      return unexpected("cannot listen on " + where + ": " + ec.message());
    }
    bound_port = acceptor->local_endpoint().port();
    started = true;
    net::co_spawn(acceptor->get_executor(), accept_loop(), [](std::exception_ptr error) {
      if (error) log_exception(error);
    });
    const int thread_count = options.threads > 0 ? options.threads : 1;
    for (int i = 0; i < thread_count; ++i) {
      threads.emplace_back([this] {
        for (;;) {
          try {
            io.run();
            return;
          } catch (const std::exception& e) {
            log::error("http", "server thread error", {{"error", e.what()}});
          }
        }
      });
    }
    log::debug("http", "server listening",
               {{"address", options.bind_address}, {"port", static_cast<int>(bound_port.load())}});
    return {};
  }

  void stop() {
    std::lock_guard lifecycle(lifecycle_mutex);
    if (!started || stopped) return;
    for (const std::thread& thread : threads) {
      if (thread.get_id() == std::this_thread::get_id()) {
        throw std::logic_error("HttpServer::stop() called from a handler");
      }
    }
    {
      std::lock_guard lock(streams_mutex);
      for (const auto& [id, thread] : stream_threads) {
        if (thread.get_id() == std::this_thread::get_id()) {
          throw std::logic_error("HttpServer::stop() called from a stream handler");
        }
      }
    }
    const auto deadline = std::chrono::steady_clock::now() + options.shutdown_grace;
    {
      std::lock_guard lock(connections_mutex);
      stopping = true;
      // Idle connections close now; busy ones close after writing their response; streams and
      // WebSockets end now (their handlers see closed()).
      for (const auto& [id, connection] : connections) {
        if (connection->channel) connection->channel->mark_closed();
        net::post(connection->stream.get_executor(), [connection] {
          if (connection->busy && !connection->channel) return;
          beast::error_code ignored;
          connection->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
          connection->stream.close();
        });
      }
    }
    // Close the listening socket before anything else, and wait for it: a close merely posted
    // could be dropped by io.stop() below, leaving the port accepting connections nobody serves.
    {
      auto closed = std::make_shared<std::promise<void>>();
      auto done = closed->get_future();
      net::post(acceptor->get_executor(), [this, closed] {
        beast::error_code ignored;
        acceptor->close(ignored);
        closed->set_value();
      });
      done.wait_until(deadline);
    }
    {
      std::unique_lock lock(connections_mutex);
      connections_empty.wait_until(lock, deadline, [this] { return connections.empty(); });
    }
    {
      std::unique_lock lock(streams_mutex);
      streams_done.wait_until(lock, deadline, [this] { return stream_threads.empty(); });
    }
    io.stop();
    for (std::thread& thread : threads) thread.join();
    threads.clear();
    // The I/O threads are gone: the sockets are ours to close. The acceptor, should the posted
    // close not have run (every I/O thread stuck in a handler), and the connections still open
    // after the grace, so that their clients see the end at once.
    {
      beast::error_code ignored;
      acceptor->close(ignored);
      std::lock_guard lock(connections_mutex);
      for (const auto& [id, connection] : connections) {
        connection->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
        connection->stream.socket().close(ignored);
      }
    }
    // Stream handlers that ignore closed() delay this.
    for (;;) {
      std::unique_lock lock(streams_mutex);
      for (std::thread& done : finished_stream_threads) done.join();
      finished_stream_threads.clear();
      if (stream_threads.empty()) break;
      streams_done.wait(lock);
    }
    stopped = true;
  }

  // First, so it is destroyed last: the sockets (acceptor, connections) must go before it. Its
  // destructor frees the frames of coroutines still pending, which touch nothing else here.
  net::io_context io;

  HttpServerOptions options;
  metrics::Registry* registry;
  const std::vector<double> latency_buckets;

  std::shared_mutex routes_mutex;
  std::vector<Route> routes;

  std::atomic<bool> ready{false};
  std::mutex ready_mutex;
  std::string not_ready_reason = "starting";

  std::mutex lifecycle_mutex;
  bool started = false;
  bool stopped = false;
  std::atomic<std::uint16_t> bound_port{0};
  std::vector<std::thread> threads;

  std::mutex connections_mutex;
  std::condition_variable connections_empty;
  std::unordered_map<std::uint64_t, std::shared_ptr<Connection>> connections;
  std::uint64_t next_connection_id = 0;
  std::atomic<bool> stopping{false};

  std::mutex streams_mutex;
  std::condition_variable streams_done;
  std::map<std::uint64_t, std::thread> stream_threads;  // running stream/WebSocket handlers
  std::vector<std::thread> finished_stream_threads;     // returned, to join
  std::uint64_t next_stream_id = 0;

  std::optional<tcp::acceptor> acceptor;
  std::optional<net::ssl::context> tls_context;  // set by start() when the server speaks TLS
};

HttpServer::HttpServer(HttpServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {
  Impl* impl = impl_.get();
  // Probes stay open whatever the authentication: kubelets and load balancers send no token.
  route(
      "GET", "/health/live",
      [](const HttpRequest&) { return HttpResponse::json(200, R"({"status":"live"})"); },
      Access::kPublic);
  route(
      "GET", "/health/ready",
      [impl](const HttpRequest&) {
        if (impl->ready.load()) return HttpResponse::json(200, R"({"status":"ready"})");
        std::lock_guard lock(impl->ready_mutex);
        return HttpResponse::json(
            503, json_object({{"status", "not_ready"}, {"reason", impl->not_ready_reason}}));
      },
      Access::kPublic);
  route("GET", "/metrics", [impl](const HttpRequest&) {
    return HttpResponse::text(200, impl->registry->render(),
                              "text/plain; version=0.0.4; charset=utf-8");
  });
}

HttpServer::~HttpServer() {
  try {
    stop();
  } catch (...) {
    // Destroyed from a handler thread: nothing sensible left to do.
  }
}

void HttpServer::route(std::string method, std::string pattern, HttpHandler handler,
                       std::optional<Access> access) {
  impl_->add_route(std::move(method), std::move(pattern), std::move(handler), access);
}

void HttpServer::route_stream(std::string method, std::string pattern, StreamHandler handler,
                              std::optional<Access> access) {
  Route route;
  route.stream_handler = std::make_shared<const StreamHandler>(std::move(handler));
  impl_->add_route(std::move(method), std::move(pattern), std::move(route), access);
}

void HttpServer::route_websocket(std::string pattern, WsHandler handler,
                                 std::optional<Access> access) {
  Route route;
  route.ws_handler = std::make_shared<const WsHandler>(std::move(handler));
  impl_->add_route("GET", std::move(pattern), std::move(route), access);
}

Result<void, std::string> HttpServer::start() {
  return impl_->start();
}
void HttpServer::stop() {
  impl_->stop();
}

bool HttpServer::running() const {
  std::lock_guard lifecycle(impl_->lifecycle_mutex);
  return impl_->started && !impl_->stopped;
}

std::uint16_t HttpServer::port() const {
  return impl_->bound_port.load();
}

std::string HttpServer::base_url() const {
  const std::string& host = impl_->options.bind_address;
  const bool ipv6 = host.find(':') != std::string::npos;
  const char* scheme = impl_->options.tls_cert_file.empty() ? "http://" : "https://";
  return scheme + (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port());
}

void HttpServer::set_ready(bool ready, std::string reason) {
  std::lock_guard lock(impl_->ready_mutex);
  impl_->not_ready_reason = std::move(reason);
  impl_->ready.store(ready);
}

bool HttpServer::ready() const {
  return impl_->ready.load();
}

bool websocket_origin_allowed(std::string_view origin, std::string_view host,
                              const std::vector<std::string>& allowed) {
  for (const auto& a : allowed)
    if (iequals(a, origin)) return true;
  // "scheme://authority" with nothing after the authority; "null" (file pages, sandboxed
  // frames) and anything else malformed is refused.
  const auto sep = origin.find("://");
  if (sep == std::string_view::npos || host.empty()) return false;
  const auto scheme = origin.substr(0, sep);
  if (!iequals(scheme, "http") && !iequals(scheme, "https")) return false;
  const auto authority = origin.substr(sep + 3);
  if (authority.find('/') != std::string_view::npos) return false;
  return iequals(authority, host);
}

}  // namespace sf::runtime
