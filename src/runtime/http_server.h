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
// Unknown paths get 404, known paths with another method 405, bodies over the limit 413 and
// handlers that throw 500 (all JSON). Handlers run on the server's threads (two by default), so a
// slow handler holds one of them. Connections are kept alive between requests. Every request is
// counted in sf_http_requests_total{method,path,status}, with `path` the route pattern (or
// "unmatched") so that the label set stays bounded.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

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
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

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
  void route(std::string method, std::string pattern, HttpHandler handler);

  // Binds and starts serving; returns at once. Fails if the address cannot be bound or the
  // server was already started.
  Result<void, std::string> start();
  // Stops accepting, closes idle connections, lets requests in progress finish (responses go
  // out with "Connection: close"), then after at most shutdown_grace drops the remaining
  // connections and joins the threads. A handler is never interrupted: a stuck one delays the
  // join. Idempotent; must not be called from a handler (std::logic_error).
  void stop();
  bool running() const;

  // The bound port (the real one when options.port was 0); 0 before start().
  std::uint16_t port() const;
  // "http://127.0.0.1:PORT"
  std::string base_url() const;

  // Drives GET /health/ready: 200 when ready, else 503 with `reason`.
  void set_ready(bool ready, std::string reason = "starting");
  bool ready() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sf::runtime
