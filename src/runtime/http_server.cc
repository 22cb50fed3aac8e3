#include "runtime/http_server.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <exception>
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
using tcp = net::ip::tcp;

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
};

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

struct Connection {
  explicit Connection(tcp::socket socket) : stream(std::move(socket)) {}
  beast::tcp_stream stream;
  std::string remote_address;
  std::uint64_t id = 0;
  bool busy = false;  // handling a request; touched only on the connection's strand
};

bool is_protocol_error(const beast::error_code& ec) {
  return ec.category() == beast::error_code(http::error::bad_target).category();
}

}  // namespace

HttpResponse HttpResponse::error(int status, std::string_view message) {
  return json(status, json_object({{"error", message}}));
}

struct HttpServer::Impl {
  explicit Impl(HttpServerOptions opts)
      : options(std::move(opts)),
        registry(options.registry ? options.registry : &metrics::default_registry()),
        latency_buckets(metrics::default_latency_buckets()) {}

  // --- routing -----------------------------------------------------------------------------

  void add_route(std::string method, std::string pattern, HttpHandler handler) {
    Route route;
    route.method = std::move(method);
    route.segments = parse_pattern(pattern);
    for (const Segment& segment : route.segments) route.literal_count += !segment.is_param;
    route.pattern = std::move(pattern);
    route.handler = std::make_shared<const HttpHandler>(std::move(handler));
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
    HttpResponse response;
    std::string route_label;  // metrics label: the pattern, or "unmatched"
  };

  Dispatched dispatch(HttpRequest& request) {
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
    std::string label = "unmatched";
    std::string allowed;
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
        label = best->pattern;
      } else if (best_any_method) {
        label = best_any_method->pattern;
      }
    }
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
    beast::tcp_stream& stream = connection->stream;
    beast::flat_buffer buffer;
    beast::error_code ec;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(16 * 1024);
      parser.body_limit(options.max_body_bytes);
      stream.expires_after(options.idle_timeout);
      co_await http::async_read_header(stream, buffer, parser,
                                       net::redirect_error(net::use_awaitable, ec));
      const unsigned version = parser.get().version();
      // The parser checks an announced Content-Length against the limit as soon as it has the
      // header, so an oversized body is rejected before the client sends it.
      if (ec == http::error::body_limit) {
        co_await reject_too_large(connection, buffer, parser.get().method_string(), version);
        co_return;
      }
      if (ec) break;
      if (iequals(parser.get()[http::field::expect], "100-continue")) {
        http::response<http::empty_body> go_on{http::status::continue_, version};
        stream.expires_after(kWriteTimeout);
        co_await http::async_write(stream, go_on, net::redirect_error(net::use_awaitable, ec));
        if (ec) break;
      }
      stream.expires_after(options.idle_timeout);
      co_await http::async_read(stream, buffer, parser,
                                net::redirect_error(net::use_awaitable, ec));
      if (ec == http::error::body_limit) {  // chunked bodies only reveal their size as they come
        co_await reject_too_large(connection, buffer, parser.get().method_string(), version);
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

      Dispatched dispatched = dispatch(request);
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
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream.close();
  }

  net::awaitable<void> reject_too_large(std::shared_ptr<Connection> connection,
                                        beast::flat_buffer& buffer, std::string_view method,
                                        unsigned version) {
    beast::tcp_stream& stream = connection->stream;
    beast::error_code ec;
    const std::string method_label(method);
    HttpResponse response = HttpResponse::json(
        413, json_object({{"error", "request body too large"},
                          {"limit_bytes", std::to_string(options.max_body_bytes)}}));
    co_await write_response(stream, std::move(response), version, false, ec);
    count_request(method_label, "unmatched", 413, 0);
    if (ec) co_return;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    buffer.clear();
    std::size_t drained = 0;
    char scratch[16 * 1024];
    const auto deadline = std::chrono::steady_clock::now() + kDrainTimeout;
    while (drained < kMaxDrainBytes && !stopping.load()) {
      stream.expires_at(deadline);
      const std::size_t n = co_await stream.async_read_some(
          net::buffer(scratch), net::redirect_error(net::use_awaitable, ec));
      if (ec) break;
      drained += n;
    }
    stream.close();
  }

  net::awaitable<void> write_response(beast::tcp_stream& stream, HttpResponse response,
                                      unsigned version, bool keep_alive, beast::error_code& ec) {
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
    stream.expires_after(kWriteTimeout);

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
      stream.expires_after(kWriteTimeout);
      co_await net::async_write(stream, http::make_chunk(net::buffer(piece)),
                                net::redirect_error(net::use_awaitable, ec));
      if (ec) co_return;
    }
    co_await net::async_write(stream, http::make_chunk_last(),
                              net::redirect_error(net::use_awaitable, ec));
  }

  // --- lifecycle ---------------------------------------------------------------------------

  Result<void, std::string> start() {
    std::lock_guard lifecycle(lifecycle_mutex);
    if (started) return unexpected(std::string("server already started"));
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
      std::lock_guard lock(connections_mutex);
      stopping = true;
      // Idle connections close now; busy ones close after writing their response.
      for (const auto& [id, connection] : connections) {
        net::post(connection->stream.get_executor(), [connection] {
          if (connection->busy) return;
          beast::error_code ignored;
          connection->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
          connection->stream.close();
        });
      }
    }
    net::post(acceptor->get_executor(), [this] {
      beast::error_code ignored;
      acceptor->close(ignored);
    });
    {
      std::unique_lock lock(connections_mutex);
      connections_empty.wait_for(lock, options.shutdown_grace,
                                 [this] { return connections.empty(); });
    }
    io.stop();
    for (std::thread& thread : threads) thread.join();
    threads.clear();
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

  std::optional<tcp::acceptor> acceptor;
};

HttpServer::HttpServer(HttpServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {
  Impl* impl = impl_.get();
  route("GET", "/health/live",
        [](const HttpRequest&) { return HttpResponse::json(200, R"({"status":"live"})"); });
  route("GET", "/health/ready", [impl](const HttpRequest&) {
    if (impl->ready.load()) return HttpResponse::json(200, R"({"status":"ready"})");
    std::lock_guard lock(impl->ready_mutex);
    return HttpResponse::json(
        503, json_object({{"status", "not_ready"}, {"reason", impl->not_ready_reason}}));
  });
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

void HttpServer::route(std::string method, std::string pattern, HttpHandler handler) {
  impl_->add_route(std::move(method), std::move(pattern), std::move(handler));
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
  return "http://" + (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port());
}

void HttpServer::set_ready(bool ready, std::string reason) {
  std::lock_guard lock(impl_->ready_mutex);
  impl_->not_ready_reason = std::move(reason);
  impl_->ready.store(ready);
}

bool HttpServer::ready() const {
  return impl_->ready.load();
}

}  // namespace sf::runtime
