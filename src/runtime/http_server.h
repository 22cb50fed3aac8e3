// An embedded HTTP/1.1 server for health checks, metrics and small control APIs.
//
//   HttpServer server({.port = 8080});
//   server.route("GET", "/queues/{id}", [](const HttpRequest& req) {
//     return HttpResponse::json(200, ...req.path_param("id")...);
//   });
//   if (auto started = server.start(); !started) ...
//   server.set_ready(true);
//
// Built in: GET /health/live, GET /health/ready (503 until set_ready(true)), GET /metrics.
// Authentication (HttpServerOptions::authenticate) guards every route but the health probes;
// each route names the access it needs (Access: read, operate, admin). Optional TLS.
// Unknown paths get 404, known paths with another method 405, bodies over the limit 413 and
// handlers that throw 500 (all JSON). Handlers run on the server's threads (two by default), so a
// slow handler holds one of them. Connections are kept alive between requests. Every request is
// counted in sf_http_requests_total{method,path,status}, with `path` the route pattern (or
// "unmatched") so that the label set stays bounded.
//
// Long-lived responses (server-sent events, live logs) and WebSockets do not hold an I/O thread:
//
//   server.route_stream("GET", "/feed", [](const HttpRequest& req, StreamWriter& out) {
//     out.send_headers(200, "text/event-stream");
//     while (!out.closed()) { out.write("data: tick\n\n"); out.wait_closed(1s); }
//   });
//   server.route_websocket("/ws", [](const HttpRequest& req, WebSocketSession& ws) {
//     while (auto text = ws.receive(std::chrono::seconds(1))) ws.send(*text);  // echo
//   });
//
// Each stream or WebSocket handler runs on a thread of its own while the server's I/O threads do
// the socket work; at most max_streams run at once (beyond that: 503). closed() turns true when
// the client goes away or the server stops; stop() waits shutdown_grace for handlers to return,
// then joins them (a handler that never looks at closed() delays the join). Active ones are in
// the gauge sf_http_streams_active{kind="stream"|"websocket"}.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "runtime/http_types.h"

namespace sf::metrics {
class Registry;
}

namespace sf::runtime {

struct HttpServerOptions {
  std::string bind_address = "127.0.0.1";
  std::uint16_t port = 0;  // 0: any free port; port() tells which
  int threads = 2;
  std::size_t max_body_bytes = 1 << 20;
  // A kept-alive connection that sends nothing for this long is closed.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(60)};
  // How long stop() lets requests in progress finish before cutting them off.
  std::chrono::milliseconds shutdown_grace{std::chrono::seconds(5)};
  metrics::Registry* registry = nullptr;  // nullptr: metrics::default_registry()
  // Stream and WebSocket handlers running at once; more get 503.
  int max_streams = 64;
  // Who is calling: the caller, or why not (401 with that reason and a WWW-Authenticate
  // challenge). Unset: no authentication, every caller is Caller{} (admin); only for servers on
  // loopback. Runs for every matched route that is not Access::kPublic, before its handler; a
  // caller below the route's access gets 403.
  std::function<Result<Caller, std::string>(const HttpRequest&)> authenticate{};
  // TLS for the server itself (PEM files); both empty: plain HTTP. With client_ca_file set,
  // clients must present a certificate issued by that CA (mutual TLS).
  std::string tls_cert_file{};
  std::string tls_key_file{};
  std::string tls_client_ca_file{};
  // A browser's WebSocket carries the page's Origin, and any web page may open one to a server on
  // 127.0.0.1: an upgrade whose Origin is neither this server (the Host it was asked for) nor one
  // of these ("https://dash.example.com") gets 403. Clients that send no Origin (not a browser)
  // are not affected.
  std::vector<std::string> websocket_origins{};
};

// Whether a WebSocket upgrade from `origin` ("http://host:port") to a server reached as `host`
// ("host:port") is allowed: same host and port, or listed in `allowed` (exact, case-insensitive).
bool websocket_origin_allowed(std::string_view origin, std::string_view host,
                              const std::vector<std::string>& allowed);

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// The response side of a stream route. Thread-safe; used from the handler's thread.
class StreamWriter {
 public:
  // Sends the status line and headers once ("Transfer-Encoding: chunked", "Cache-Control:
  // no-cache", "Connection: close"). False if already sent or closed.
  virtual bool send_headers(int status, std::string_view content_type,
                            const HttpHeaders& headers = {}) = 0;
  // Sends one chunk (empty ones are skipped); sends 200 application/octet-stream headers first if
  // none went out. Blocks while more than 1 MiB waits to be written. False once closed().
  virtual bool write(std::string_view chunk) = 0;
  // True once the client went away, a write failed or the server is stopping.
  virtual bool closed() const = 0;
  // Sleeps until closed() or the timeout; returns closed().
  virtual bool wait_closed(std::chrono::milliseconds timeout) = 0;

 protected:
  ~StreamWriter() = default;
};

// One accepted WebSocket connection (text messages). Thread-safe; used from the handler's thread.
// Pings from the client are answered and an idle connection is pinged by the server.
class WebSocketSession {
 public:
  // Queues a text message. False once closed() (or when the client lags by more than 8 MiB, which
  // closes the session).
  virtual bool send(std::string_view text) = 0;
  // Queues several text messages at once (taking them), waking the connection's writer once.
  // False as send().
  virtual bool send_all(std::vector<std::string> texts) {
    for (const auto& t : texts)
      if (!send(t)) return false;
    return true;
  }
  // Bytes queued that the connection's writer has not taken yet. A handler that can produce
  // faster than its client reads (a live feed) waits for this to fall and lets its own bounded
  // queue decide what to drop, instead of filling this queue until the session closes.
  virtual std::size_t pending_bytes() const { return 0; }
  virtual bool closed() const = 0;
  // The next message from the client, waiting up to `timeout`; nullopt on timeout or when closed
  // with nothing left to read.
  virtual std::optional<std::string> receive(std::chrono::milliseconds timeout) = 0;
  // Sleeps until closed() or the timeout; returns closed().
  virtual bool wait_closed(std::chrono::milliseconds timeout) = 0;

 protected:
  ~WebSocketSession() = default;
};

// When the handler returns, the stream ends (final chunk) / the WebSocket is closed normally. A
// stream handler that throws before sending headers gets a 500; one that returns without any
// gets 204.
using StreamHandler = std::function<void(const HttpRequest&, StreamWriter&)>;
using WsHandler = std::function<void(const HttpRequest&, WebSocketSession&)>;

class HttpServer {
 public:
  explicit HttpServer(HttpServerOptions options = {});
  ~HttpServer();  // stops
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Registers (or replaces) a handler. `pattern` is a path whose segments are literals or
  // {name}, which captures one segment into HttpRequest::path_params, e.g. "/queues/{id}/lag";
  // a last segment {name...} captures the rest of the path. When several patterns match, the one
  // with more literal segments wins. May be called before or after start().
  // `access`: what the caller needs (HttpServerOptions::authenticate); by default kRead for GET
  // and HEAD, kOperate for the other methods.
  void route(std::string method, std::string pattern, HttpHandler handler,
             std::optional<Access> access = std::nullopt);
  // A streamed response (chunked), the handler on a thread of its own (see above).
  void route_stream(std::string method, std::string pattern, StreamHandler handler,
                    std::optional<Access> access = std::nullopt);
  // A WebSocket endpoint on GET `pattern`; a request without the upgrade gets 426.
  void route_websocket(std::string pattern, WsHandler handler,
                       std::optional<Access> access = std::nullopt);

  // Binds and starts serving; returns at once. Fails if the address cannot be bound or the
  // server was already started.
  Result<void, std::string> start();
  // Closes the listening socket (new connections are refused from then on), ends streams and
  // WebSockets (closed() turns true), closes idle connections, lets requests in progress finish
  // (responses go out with "Connection: close"), then after at most shutdown_grace drops the
  // remaining connections and joins the threads. A handler is never interrupted: a stuck one delays
  // the join. Idempotent; must not be called from a handler (std::logic_error).
  void stop();
  bool running() const;

  // The bound port (the real one when options.port was 0); 0 before start().
  std::uint16_t port() const;
  // "http://127.0.0.1:PORT" ("https://..." with TLS)
  std::string base_url() const;

  // Drives GET /health/ready: 200 when ready, else 503 with `reason`.
  void set_ready(bool ready, std::string reason = "starting");
  bool ready() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sf::runtime
