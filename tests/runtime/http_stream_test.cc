// HttpServer stream routes (chunked, handler on its own thread), WebSocket routes, and stop()
// closing the listening socket at once.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <future>
#include <string>
#include <thread>

#include "runtime/http_client.h"
#include "runtime/http_server.h"
#include "runtime/metrics.h"

namespace sf::runtime {
namespace {

using namespace std::chrono_literals;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

// A blocking TCP connection with a receive timeout, for reading a stream as it comes.
class RawClient {
 public:
  explicit RawClient(std::uint16_t port, int timeout_s = 10) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{.tv_sec = timeout_s, .tv_usec = 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~RawClient() { close(); }
  bool connected() const { return fd_ >= 0; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  void send(const std::string& text) {
    ASSERT_EQ(::send(fd_, text.data(), text.size(), 0), static_cast<ssize_t>(text.size()));
  }
  void get(const std::string& target) {
    send("GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  }
  // Reads until `needle` is in what was received; false on EOF, error or timeout.
  bool read_until(const std::string& needle) {
    while (received.find(needle) == std::string::npos) {
      char buffer[4096];
      const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) return false;
      received.append(buffer, static_cast<std::size_t>(n));
    }
    return true;
  }
  // Reads until the server closes; true when it did (not a timeout).
  bool read_to_eof() {
    for (;;) {
      char buffer[4096];
      const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n == 0) return true;
      if (n < 0) return false;
      received.append(buffer, static_cast<std::size_t>(n));
    }
  }
  std::string received;

 private:
  int fd_ = -1;
};

class HttpStreamTest : public ::testing::Test {
 protected:
  void start(HttpServerOptions options = {}) {
    options.registry = &registry_;
    server_ = std::make_unique<HttpServer>(options);
    install(*server_);
    auto started = server_->start();
    ASSERT_TRUE(started) << started.error();
  }
  virtual void install(HttpServer&) {}
  void TearDown() override {
    release_.set_value_once();
    server_.reset();
  }

  double gauge(const char* kind) {
    return registry_.gauge("sf_http_streams_active", "", {{"kind", kind}}).value();
  }

  // A one-shot gate handlers wait on.
  struct Gate {
    std::promise<void> promise;
    std::shared_future<void> future = promise.get_future().share();
    std::once_flag once;
    void set_value_once() {
      std::call_once(once, [this] { promise.set_value(); });
    }
    bool wait(std::chrono::milliseconds timeout) const {
      return future.wait_for(timeout) == std::future_status::ready;
    }
  };

  metrics::Registry registry_;
  std::unique_ptr<HttpServer> server_;
  Gate release_;
};

// A browser tab on another site may open a WebSocket to a server on 127.0.0.1: only the server's
// own origin (or a listed one) may upgrade; clients without an Origin are not browsers.
TEST(WebSocketOrigin, OnlyTheServersOwnOriginOrAListedOneMayUpgrade) {
  EXPECT_TRUE(websocket_origin_allowed("http://127.0.0.1:8080", "127.0.0.1:8080", {}));
  EXPECT_TRUE(websocket_origin_allowed("HTTPS://Dash.Example.com", "dash.example.com", {}));
  EXPECT_FALSE(websocket_origin_allowed("http://127.0.0.1:9999", "127.0.0.1:8080", {}));
  EXPECT_FALSE(websocket_origin_allowed("http://evil.example", "127.0.0.1:8080", {}));
  EXPECT_FALSE(websocket_origin_allowed("null", "127.0.0.1:8080", {}));
  EXPECT_FALSE(websocket_origin_allowed("file://", "127.0.0.1:8080", {}));
  EXPECT_FALSE(websocket_origin_allowed("http://127.0.0.1:8080/x", "127.0.0.1:8080", {}));
  EXPECT_FALSE(websocket_origin_allowed("http://127.0.0.1:8080", "", {}));
  EXPECT_TRUE(websocket_origin_allowed("https://grafana.example", "127.0.0.1:8080",
                                       {"https://grafana.example"}));
}

TEST_F(HttpStreamTest, ChunksArriveWhileTheHandlerIsStillRunning) {
  std::atomic<bool> handler_ended{false};
  start();
  server_->route_stream("GET", "/feed/{name}", [&](const HttpRequest& req, StreamWriter& out) {
    HttpHeaders extra;
    extra.set("X-Feed", std::string(req.path_param("name")));
    EXPECT_TRUE(out.send_headers(200, "text/event-stream", extra));
    EXPECT_FALSE(out.send_headers(200, "text/plain"));  // once only
    EXPECT_TRUE(out.write("data: one\n\n"));
    release_.wait(20s);
    EXPECT_TRUE(out.write("data: two\n\n"));
    handler_ended = true;
  });

  RawClient client(server_->port());
  ASSERT_TRUE(client.connected());
  client.get("/feed/abc");
  ASSERT_TRUE(client.read_until("data: one\n\n")) << client.received;
  EXPECT_FALSE(handler_ended.load());  // the first chunk came before the handler ended
  EXPECT_NE(client.received.find("HTTP/1.1 200 OK\r\n"), std::string::npos);
  EXPECT_NE(client.received.find("Content-Type: text/event-stream\r\n"), std::string::npos);
  EXPECT_NE(client.received.find("Transfer-Encoding: chunked\r\n"), std::string::npos);
  EXPECT_NE(client.received.find("X-Feed: abc\r\n"), std::string::npos);
  EXPECT_NE(client.received.find("b\r\ndata: one\n\n\r\n"), std::string::npos) << client.received;
  EXPECT_EQ(gauge("stream"), 1);

  // Meanwhile the server answers other requests, even with the stream open.
  auto live = http_request("GET", server_->base_url() + "/health/live");
  ASSERT_TRUE(live) << live.error();
  EXPECT_EQ(live->status, 200);

  release_.set_value_once();
  ASSERT_TRUE(client.read_to_eof()) << client.received;
  EXPECT_TRUE(handler_ended.load());
  EXPECT_TRUE(client.received.ends_with("b\r\ndata: two\n\n\r\n0\r\n\r\n")) << client.received;

  // The HTTP client reads the whole streamed body too (the gate is open now).
  auto whole = http_request("GET", server_->base_url() + "/feed/x");
  ASSERT_TRUE(whole) << whole.error();
  EXPECT_EQ(whole->status, 200);
  EXPECT_EQ(whole->body, "data: one\n\ndata: two\n\n");
}

TEST_F(HttpStreamTest, AClientThatGoesAwayMakesClosedTrue) {
  std::promise<std::pair<bool, bool>> seen;  // closed() seen, write() failed afterwards
  start();
  server_->route_stream("GET", "/wait", [&](const HttpRequest&, StreamWriter& out) {
    out.send_headers(200, "text/plain");
    const bool closed = out.wait_closed(20s);
    seen.set_value({closed, !out.write("late")});
  });
  RawClient client(server_->port());
  client.get("/wait");
  ASSERT_TRUE(client.read_until("\r\n\r\n"));
  const auto before = std::chrono::steady_clock::now();
  client.close();
  auto future = seen.get_future();
  ASSERT_EQ(future.wait_for(10s), std::future_status::ready);
  EXPECT_LT(std::chrono::steady_clock::now() - before, 10s);
  const auto [closed, write_failed] = future.get();
  EXPECT_TRUE(closed);
  EXPECT_TRUE(write_failed);
}

TEST_F(HttpStreamTest, StopEndsStreamsWithinTheGrace) {
  std::atomic<int> writes_after_close_ok{0};
  std::atomic<bool> ended{false};
  HttpServerOptions options;
  options.shutdown_grace = 3s;
  start(options);
  server_->route_stream("GET", "/forever", [&](const HttpRequest&, StreamWriter& out) {
    out.send_headers(200, "text/plain");
    while (!out.closed()) {
      out.write("tick\n");
      out.wait_closed(50ms);
    }
    if (out.write("after")) ++writes_after_close_ok;
    ended = true;
  });
  RawClient client(server_->port());
  client.get("/forever");
  ASSERT_TRUE(client.read_until("tick\n"));
  const auto before = std::chrono::steady_clock::now();
  server_->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - before, 3s);
  EXPECT_TRUE(ended.load());
  EXPECT_EQ(writes_after_close_ok.load(), 0);
  EXPECT_TRUE(client.read_to_eof());  // the connection was closed, no final chunk
  EXPECT_FALSE(client.received.ends_with("0\r\n\r\n"));
  EXPECT_EQ(gauge("stream"), 0);
}

TEST_F(HttpStreamTest, StreamsBeyondTheLimitGet503AndHandlersErrorsAreReported) {
  HttpServerOptions options;
  options.max_streams = 1;
  options.threads = 1;
  start(options);
  server_->route_stream("GET", "/hold", [&](const HttpRequest&, StreamWriter& out) {
    out.send_headers(200, "text/plain");
    out.write("held\n");
    while (!release_.wait(20ms) && !out.closed()) {
    }
  });
  server_->route_stream("GET", "/nothing", [](const HttpRequest&, StreamWriter&) {});
  server_->route_stream("GET", "/throws", [](const HttpRequest&, StreamWriter&) {
    throw std::runtime_error("boom");
  });
  RawClient holder(server_->port());
  holder.get("/hold");
  ASSERT_TRUE(holder.read_until("held\n"));
  EXPECT_EQ(gauge("stream"), 1);
  auto second = http_request("GET", server_->base_url() + "/hold", {}, {}, 5s);
  ASSERT_TRUE(second) << second.error();
  EXPECT_EQ(second->status, 503);
  EXPECT_NE(second->body.find("too many streams"), std::string::npos) << second->body;
  // One I/O thread, one stream held: plain routes still answer.
  auto live = http_request("GET", server_->base_url() + "/health/live", {}, {}, 5s);
  ASSERT_TRUE(live) << live.error();
  EXPECT_EQ(live->status, 200);

  release_.set_value_once();
  ASSERT_TRUE(holder.read_to_eof());
  // The slot frees once the handler returned.
  std::optional<HttpResponse> nothing;
  for (int i = 0; i < 100; ++i) {
    auto r = http_request("GET", server_->base_url() + "/nothing", {}, {}, 5s);
    ASSERT_TRUE(r) << r.error();
    if (r->status != 503) {
      nothing = *r;
      break;
    }
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(nothing);
  EXPECT_EQ(nothing->status, 204);
  std::optional<HttpResponse> thrown;
  for (int i = 0; i < 100; ++i) {
    auto r = http_request("GET", server_->base_url() + "/throws", {}, {}, 5s);
    ASSERT_TRUE(r) << r.error();
    if (r->status != 503) {
      thrown = *r;
      break;
    }
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(thrown);
  EXPECT_EQ(thrown->status, 500);
  EXPECT_NE(registry_.render().find("sf_http_streams_active"), std::string::npos);
}

// --- WebSocket ------------------------------------------------------------------------------

struct WsClient {
  net::io_context io;
  websocket::stream<net::ip::tcp::socket> ws{io};
  beast::error_code connect(std::uint16_t port, const std::string& target) {
    beast::error_code ec;
    ws.next_layer().connect({net::ip::make_address("127.0.0.1"), port}, ec);
    if (ec) return ec;
    ws.handshake("127.0.0.1", target, ec);
    return ec;
  }
  std::string read(beast::error_code& ec) {
    beast::flat_buffer buffer;
    ws.read(buffer, ec);
    return beast::buffers_to_string(buffer.data());
  }
};

TEST_F(HttpStreamTest, WebSocketEchoBroadcastAndClose) {
  std::promise<bool> handler_saw_close;
  std::mutex sessions_mutex;
  std::vector<WebSocketSession*> sessions;
  start();
  server_->route_websocket("/ws/echo", [&](const HttpRequest& req, WebSocketSession& ws) {
    EXPECT_TRUE(ws.send("hello " + std::string(req.query_param("name").value_or("?"))));
    while (!ws.closed()) {
      if (auto message = ws.receive(100ms)) ws.send("echo: " + *message);
    }
    EXPECT_FALSE(ws.send("late"));
    handler_saw_close.set_value(true);
  });
  server_->route_websocket("/ws/room", [&](const HttpRequest&, WebSocketSession& ws) {
    {
      std::lock_guard lock(sessions_mutex);
      sessions.push_back(&ws);
    }
    ws.wait_closed(20s);
    std::lock_guard lock(sessions_mutex);
    std::erase(sessions, &ws);
  });

  WsClient client;
  ASSERT_FALSE(client.connect(server_->port(), "/ws/echo?name=bob"));
  beast::error_code ec;
  EXPECT_EQ(client.read(ec), "hello bob");
  ASSERT_FALSE(ec) << ec.message();
  client.ws.text(true);
  client.ws.write(net::buffer(std::string("ping me")), ec);
  ASSERT_FALSE(ec);
  EXPECT_EQ(client.read(ec), "echo: ping me");
  ASSERT_FALSE(ec) << ec.message();
  client.ws.ping({}, ec);  // answered by the server; the echo still works after
  ASSERT_FALSE(ec);
  client.ws.write(net::buffer(std::string("again")), ec);
  EXPECT_EQ(client.read(ec), "echo: again");
  EXPECT_EQ(gauge("websocket"), 1);
  client.ws.close(websocket::close_code::normal, ec);
  auto closed = handler_saw_close.get_future();
  ASSERT_EQ(closed.wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(closed.get());

  // Broadcast: a handler-side list of sessions, a message sent to all of them.
  WsClient a, b;
  ASSERT_FALSE(a.connect(server_->port(), "/ws/room"));
  ASSERT_FALSE(b.connect(server_->port(), "/ws/room"));
  for (int i = 0; i < 200; ++i) {
    {
      std::lock_guard lock(sessions_mutex);
      if (sessions.size() == 2) break;
    }
    std::this_thread::sleep_for(10ms);
  }
  {
    std::lock_guard lock(sessions_mutex);
    ASSERT_EQ(sessions.size(), 2u);
    for (WebSocketSession* s : sessions) EXPECT_TRUE(s->send("to everyone"));
  }
  EXPECT_EQ(a.read(ec), "to everyone");
  EXPECT_EQ(b.read(ec), "to everyone");

  // A plain GET on a WebSocket route: 426.
  auto plain = http_request("GET", server_->base_url() + "/ws/room");
  ASSERT_TRUE(plain) << plain.error();
  EXPECT_EQ(plain->status, 426);

  // stop() ends the sessions: the clients' reads fail, the handlers return.
  server_->stop();
  a.read(ec);
  EXPECT_TRUE(ec);
  EXPECT_EQ(gauge("websocket"), 0);
}

TEST_F(HttpStreamTest, AHandlerThatReturnsClosesTheWebSocketNormally) {
  start();
  server_->route_websocket("/ws/once", [](const HttpRequest&, WebSocketSession& ws) {
    ws.send("one");
    ws.send("two");
  });
  WsClient client;
  ASSERT_FALSE(client.connect(server_->port(), "/ws/once"));
  beast::error_code ec;
  EXPECT_EQ(client.read(ec), "one");
  EXPECT_EQ(client.read(ec), "two");
  client.read(ec);
  EXPECT_EQ(ec, websocket::error::closed) << ec.message();
  EXPECT_EQ(client.ws.reason().code, websocket::close_code::normal);
}

// --- stop() and the listening socket -------------------------------------------------------

// Connects and waits briefly: true when the server refused the connection or closed it at once,
// false when it was accepted and left hanging (the bug: the listening socket outlived stop()).
bool refused_or_closed(std::uint16_t port) {
  RawClient client(port, 2);
  if (!client.connected()) return true;
  client.send("GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n");
  return client.read_to_eof() && client.received.empty();
}

TEST(HttpServerStop, TheListeningSocketIsClosedWhenStopReturns) {
  // Every I/O thread busy past the grace: a close merely posted to the acceptor never ran.
  metrics::Registry registry;
  for (int round = 0; round < 3; ++round) {
    HttpServer server({.threads = 1, .shutdown_grace = 100ms, .registry = &registry});
    server.route("GET", "/slow", [](const HttpRequest&) {
      std::this_thread::sleep_for(600ms);
      return HttpResponse::json(200, "{}");
    });
    ASSERT_TRUE(server.start());
    const std::uint16_t port = server.port();
    auto slow = std::async(std::launch::async, [&] {
      return http_request("GET", server.base_url() + "/slow", {}, {}, 5s);
    });
    std::this_thread::sleep_for(150ms);  // the request is in the handler
    server.stop();
    const auto before = std::chrono::steady_clock::now();
    EXPECT_TRUE(refused_or_closed(port)) << "round " << round;
    EXPECT_LT(std::chrono::steady_clock::now() - before, 3s);
    slow.wait();
  }
  // And the plain case, many times.
  for (int round = 0; round < 20; ++round) {
    HttpServer server({.registry = &registry});
    ASSERT_TRUE(server.start());
    const std::uint16_t port = server.port();
    server.stop();
    EXPECT_TRUE(refused_or_closed(port)) << "round " << round;
  }
}

}  // namespace
}  // namespace sf::runtime
