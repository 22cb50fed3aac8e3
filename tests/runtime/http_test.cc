#include <gtest/gtest.h>
#include <netinet/in.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>

#include "runtime/http_client.h"
#include "runtime/http_server.h"
#include "runtime/metrics.h"

namespace sf::runtime {
namespace {

using namespace std::chrono_literals;

simdjson::dom::element parse_json(simdjson::dom::parser& parser, const std::string& body) {
  simdjson::dom::element element;
  const auto error = parser.parse(body).get(element);
  EXPECT_EQ(error, simdjson::SUCCESS) << body;
  return element;
}

// A plain TCP connection to the server, for what the client cannot do on purpose.
int connect_raw(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

class HttpServerTest : public ::testing::Test {
 protected:
  HttpServerTest() : server_(HttpServerOptions{.registry = &registry_}) {}

  void SetUp() override {
    auto started = server_.start();
    ASSERT_TRUE(started) << started.error();
    ASSERT_NE(server_.port(), 0);
  }

  std::string url(std::string_view path) const { return server_.base_url() + std::string(path); }

  HttpResponse get(std::string_view path) {
    auto response = http_request("GET", url(path));
    EXPECT_TRUE(response) << (response ? "" : response.error());
    return response ? *response : HttpResponse{};
  }

  metrics::Registry registry_;
  HttpServer server_;
  simdjson::dom::parser parser_;
};

TEST_F(HttpServerTest, HealthEndpoints) {
  auto live = get("/health/live");
  EXPECT_EQ(live.status, 200);
  EXPECT_EQ(live.content_type, "application/json");
  EXPECT_EQ(live.body, R"({"status":"live"})");

  auto not_ready = get("/health/ready");
  EXPECT_EQ(not_ready.status, 503);
  auto doc = parse_json(parser_, not_ready.body);
  EXPECT_EQ(std::string_view(doc["status"]), "not_ready");
  EXPECT_EQ(std::string_view(doc["reason"]), "starting");

  server_.set_ready(true);
  EXPECT_TRUE(server_.ready());
  auto ready = get("/health/ready");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.body, R"({"status":"ready"})");

  server_.set_ready(false, "bus disconnected");
  auto again = get("/health/ready");
  EXPECT_EQ(again.status, 503);
  EXPECT_EQ(std::string_view(parse_json(parser_, again.body)["reason"]), "bus disconnected");
}

TEST_F(HttpServerTest, MetricsEndpointRendersTheRegistryAndCountsRequests) {
  registry_.counter("sf_test_total", "Test counter", {{"k", "v"}}).inc(7);
  get("/health/live");
  get("/health/live");
  get("/nope");
  auto metrics = get("/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(metrics.body.find("# TYPE sf_test_total counter\nsf_test_total{k=\"v\"} 7\n"),
            std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find(
                "sf_http_requests_total{method=\"GET\",path=\"/health/live\",status=\"200\"} 2\n"),
            std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find(
                "sf_http_requests_total{method=\"GET\",path=\"unmatched\",status=\"404\"} 1\n"),
            std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("# TYPE sf_http_request_duration_seconds histogram"),
            std::string::npos);
}

TEST_F(HttpServerTest, NotFoundAndMethodNotAllowed) {
  auto missing = get("/does/not/exist?x=1");
  EXPECT_EQ(missing.status, 404);
  auto doc = parse_json(parser_, missing.body);
  EXPECT_EQ(std::string_view(doc["error"]), "not found");
  EXPECT_EQ(std::string_view(doc["path"]), "/does/not/exist");

  auto wrong_method = http_request("POST", url("/health/live"), "{}");
  ASSERT_TRUE(wrong_method);
  EXPECT_EQ(wrong_method->status, 405);
  EXPECT_EQ(wrong_method->headers.get_or("allow", ""), "GET");
  EXPECT_EQ(std::string_view(parse_json(parser_, wrong_method->body)["error"]),
            "method not allowed");
}

TEST_F(HttpServerTest, BodyOverTheLimitGets413AndTheServerCarriesOn) {
  server_.route("POST", "/echo",
                [](const HttpRequest& request) { return HttpResponse::text(200, request.body); });
  const std::string at_limit(1 << 20, 'a');
  auto accepted = http_request("POST", url("/echo"), at_limit);
  ASSERT_TRUE(accepted) << accepted.error();
  EXPECT_EQ(accepted->status, 200);
  EXPECT_EQ(accepted->body.size(), at_limit.size());

  const std::string too_big((1 << 20) + 1, 'a');
  auto rejected = http_request("POST", url("/echo"), too_big);
  ASSERT_TRUE(rejected) << rejected.error();
  EXPECT_EQ(rejected->status, 413);
  EXPECT_EQ(std::string_view(parse_json(parser_, rejected->body)["error"]),
            "request body too large");

  EXPECT_EQ(get("/health/live").status, 200);
}

TEST_F(HttpServerTest, Expect100ContinueIsAnswered) {
  server_.route("PUT", "/data", [](const HttpRequest& request) {
    return HttpResponse::text(200, std::to_string(request.body.size()));
  });
  HttpHeaders headers;
  headers.add("Expect", "100-continue");
  auto response = http_request("PUT", url("/data"), std::string(5000, 'z'), headers);
  ASSERT_TRUE(response) << response.error();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "5000");
}

TEST_F(HttpServerTest, RoutesCapturePathParametersAndDecodeQueries) {
  server_.route("GET", "/queues/{id}", [](const HttpRequest& request) {
    return HttpResponse::text(200, "queue:" + std::string(request.path_param("id")));
  });
  server_.route("GET", "/queues/special",
                [](const HttpRequest&) { return HttpResponse::text(200, "special"); });
  server_.route("GET", "/queues/{id}/lag/{partition}", [](const HttpRequest& request) {
    return HttpResponse::text(200, std::string(request.path_param("id")) + "/" +
                                       std::string(request.path_param("partition")));
  });
  server_.route("GET", "/files/{path...}", [](const HttpRequest& request) {
    return HttpResponse::text(200, std::string(request.path_param("path")));
  });
  server_.route("GET", "/query", [](const HttpRequest& request) {
    std::string out;
    for (const auto& [key, value] : request.query) out += key + "=" + value + ";";
    out += "path=" + request.path + ";target=" + request.target;
    return HttpResponse::text(200, out);
  });

  EXPECT_EQ(get("/queues/q-1").body, "queue:q-1");
  EXPECT_EQ(get("/queues/a%20b").body, "queue:a b");
  EXPECT_EQ(get("/queues/special").body, "special");  // literal segments win
  EXPECT_EQ(get("/queues/q1/lag/3").body, "q1/3");
  EXPECT_EQ(get("/queues/q1/lag").status, 404);
  EXPECT_EQ(get("/queues").status, 404);
  EXPECT_EQ(get("/files/a/b/c.txt").body, "a/b/c.txt");
  EXPECT_EQ(get("/query?b=x+y&a=%2F%41&a=2&flag").body,
            "a=/A;a=2;b=x y;flag=;path=/query;target=/query?b=x+y&a=%2F%41&a=2&flag");
  EXPECT_EQ(get("/queues/bad%zz").status, 400);
  EXPECT_EQ(get("/query?x=%4").status, 400);
}

TEST_F(HttpServerTest, HeadersAreCaseInsensitiveAndResponsesCarryExtraHeaders) {
  server_.route("POST", "/headers", [](const HttpRequest& request) {
    HttpResponse response = HttpResponse::json(201, R"({"ok":true})");
    response.headers.add("X-Echo", std::string(request.header("x-custom").value_or("missing")));
    response.headers.add("X-Remote-Known", request.remote_address.empty() ? "no" : "yes");
    response.headers.add("X-Body", request.body);
    return response;
  });
  HttpHeaders headers;
  headers.add("X-CUSTOM", "value 1");
  auto response = http_request("POST", url("/headers"), "payload", headers);
  ASSERT_TRUE(response) << response.error();
  EXPECT_EQ(response->status, 201);
  EXPECT_EQ(response->headers.get_or("x-echo", ""), "value 1");
  EXPECT_EQ(response->headers.get_or("X-REMOTE-KNOWN", ""), "yes");
  EXPECT_EQ(response->headers.get_or("x-body", ""), "payload");
  EXPECT_EQ(response->content_type, "application/json");
}

TEST_F(HttpServerTest, HandlerExceptionsBecome500) {
  server_.route("GET", "/boom",
                [](const HttpRequest&) -> HttpResponse { throw std::runtime_error("kaput"); });
  server_.route("GET", "/boom-int", [](const HttpRequest&) -> HttpResponse { throw 42; });
  for (const char* path : {"/boom", "/boom-int"}) {
    auto response = get(path);
    EXPECT_EQ(response.status, 500);
    EXPECT_EQ(std::string_view(parse_json(parser_, response.body)["error"]), "internal error");
  }
  EXPECT_EQ(get("/health/live").status, 200);
}

TEST_F(HttpServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  HttpClient client;
  for (int i = 0; i < 5; ++i) {
    auto response = client.get(url("/health/live"));
    ASSERT_TRUE(response) << response.error();
    EXPECT_EQ(response->status, 200);
  }
  auto not_found = client.get(url("/missing"));
  ASSERT_TRUE(not_found);
  EXPECT_EQ(not_found->status, 404);
  EXPECT_EQ(client.connections_opened(), 1);
}

TEST_F(HttpServerTest, StreamedResponsesAreChunked) {
  server_.route("GET", "/stream", [](const HttpRequest&) {
    HttpResponse response;
    response.content_type = "application/x-ndjson";
    auto counter = std::make_shared<int>(0);
    response.stream = [counter](std::string& out) {
      out += "{\"n\":" + std::to_string((*counter)++) + "}\n";
      return *counter < 3;
    };
    return response;
  });
  auto response = get("/stream");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.headers.get_or("transfer-encoding", ""), "chunked");
  EXPECT_EQ(response.body, "{\"n\":0}\n{\"n\":1}\n{\"n\":2}\n");
}

TEST_F(HttpServerTest, ClientReportsTimeouts) {
  server_.route("GET", "/slow", [](const HttpRequest&) {
    std::this_thread::sleep_for(400ms);
    return HttpResponse::text(200, "late");
  });
  const auto started = std::chrono::steady_clock::now();
  auto response = http_request("GET", url("/slow"), {}, {}, 100ms);
  ASSERT_FALSE(response);
  EXPECT_NE(response.error().find("timed out"), std::string::npos) << response.error();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 350ms);
}

TEST_F(HttpServerTest, SecondServerOnTheSamePortFailsToStart) {
  HttpServer other(HttpServerOptions{.port = server_.port(), .registry = &registry_});
  auto started = other.start();
  ASSERT_FALSE(started);
  EXPECT_NE(started.error().find(std::to_string(server_.port())), std::string::npos)
      << started.error();
  EXPECT_FALSE(server_.start());  // already started
}

TEST_F(HttpServerTest, StopWhileClientsAreConnected) {
  std::atomic<bool> in_handler{false};
  server_.route("GET", "/slow", [&](const HttpRequest&) {
    in_handler = true;
    std::this_thread::sleep_for(300ms);
    return HttpResponse::text(200, "finished");
  });
  // An idle kept-alive connection, a connection that never sent anything and one mid-request.
  HttpClient idle_client;
  ASSERT_TRUE(idle_client.get(url("/health/live")));
  const int silent = connect_raw(server_.port());
  ASSERT_GE(silent, 0);
  auto in_flight =
      std::async(std::launch::async, [&] { return http_request("GET", url("/slow")); });
  while (!in_handler) std::this_thread::sleep_for(1ms);

  const auto started = std::chrono::steady_clock::now();
  server_.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
  EXPECT_FALSE(server_.running());

  // The request in progress was allowed to finish.
  auto finished = in_flight.get();
  ASSERT_TRUE(finished) << finished.error();
  EXPECT_EQ(finished->status, 200);
  EXPECT_EQ(finished->body, "finished");
  EXPECT_EQ(finished->headers.get_or("connection", ""), "close");

  // The silent connection was closed by the server.
  char byte;
  EXPECT_EQ(::recv(silent, &byte, 1, 0), 0);
  ::close(silent);

  // Nothing is served any more; stop() again is harmless.
  EXPECT_FALSE(idle_client.get(url("/health/live"), 500ms));
  EXPECT_FALSE(http_request("GET", url("/health/live"), {}, {}, 500ms));
  server_.stop();
}

TEST(HttpServerLifecycleTest, DestructorStopsAndUnstartedServerIsHarmless) {
  metrics::Registry registry;
  { HttpServer never_started(HttpServerOptions{.registry = &registry}); }
  std::uint16_t port = 0;
  {
    HttpServer server(HttpServerOptions{.threads = 1, .registry = &registry});
    ASSERT_TRUE(server.start());
    port = server.port();
    EXPECT_EQ(
        http_request("GET", "http://127.0.0.1:" + std::to_string(port) + "/health/live")->status,
        200);
  }
  EXPECT_FALSE(http_request("GET", "http://127.0.0.1:" + std::to_string(port) + "/health/live", {},
                            {}, 500ms));
}

TEST(HttpServerLifecycleTest, SmallBodyLimitAndChunkedUploads) {
  metrics::Registry registry;
  HttpServer server(HttpServerOptions{.max_body_bytes = 16, .registry = &registry});
  server.route("POST", "/echo",
               [](const HttpRequest& request) { return HttpResponse::text(200, request.body); });
  ASSERT_TRUE(server.start());
  auto small = http_request("POST", server.base_url() + "/echo", "0123456789abcdef");
  ASSERT_TRUE(small);
  EXPECT_EQ(small->status, 200);

  // A chunked body has no Content-Length: the limit is enforced while reading.
  const int fd = connect_raw(server.port());
  ASSERT_GE(fd, 0);
  const std::string request =
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "10\r\n0123456789abcdef\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n";
  ASSERT_EQ(::send(fd, request.data(), request.size(), 0), static_cast<ssize_t>(request.size()));
  std::string reply;
  char buffer[4096];
  for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) reply.append(buffer, n);
  ::close(fd);
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 413")) << reply;
}

TEST(HttpServerLifecycleTest, MalformedRequestsGet400) {
  metrics::Registry registry;
  HttpServer server(HttpServerOptions{.registry = &registry});
  ASSERT_TRUE(server.start());
  const int fd = connect_raw(server.port());
  ASSERT_GE(fd, 0);
  const std::string garbage = "THIS IS NOT HTTP\r\n\r\n";
  ASSERT_EQ(::send(fd, garbage.data(), garbage.size(), 0), static_cast<ssize_t>(garbage.size()));
  std::string reply;
  char buffer[4096];
  for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) reply.append(buffer, n);
  ::close(fd);
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 400")) << reply;
  EXPECT_EQ(http_request("GET", server.base_url() + "/health/live")->status, 200);
}

TEST(HttpClientTest, ParsesUrls) {
  auto full = parse_http_url("http://example.com:8080/a/b?x=1#frag");
  ASSERT_TRUE(full);
  EXPECT_EQ(full->host, "example.com");
  EXPECT_EQ(full->port, 8080);
  EXPECT_EQ(full->target, "/a/b?x=1");

  auto bare = parse_http_url("http://localhost");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->port, 80);
  EXPECT_EQ(bare->target, "/");

  auto query_only = parse_http_url("http://h:1?q=2");
  ASSERT_TRUE(query_only);
  EXPECT_EQ(query_only->target, "/?q=2");

  auto ipv6 = parse_http_url("http://[::1]:9000/x");
  ASSERT_TRUE(ipv6);
  EXPECT_EQ(ipv6->host, "::1");
  EXPECT_EQ(ipv6->port, 9000);

  auto plain = parse_http_url("http://h/");
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->tls);
  auto secure = parse_http_url("https://h/x");
  ASSERT_TRUE(secure);
  EXPECT_TRUE(secure->tls);
  EXPECT_EQ(secure->host, "h");
  EXPECT_EQ(secure->port, 443);
  EXPECT_EQ(secure->target, "/x");
  auto secure_port = parse_http_url("https://[::1]:9443");
  ASSERT_TRUE(secure_port);
  EXPECT_TRUE(secure_port->tls);
  EXPECT_EQ(secure_port->port, 9443);

  EXPECT_NE(parse_http_url("ftp://h/").error().find("only http:// and https://"),
            std::string::npos);
  EXPECT_FALSE(parse_http_url("h:80/x"));
  EXPECT_FALSE(parse_http_url("http://:80/"));
  EXPECT_FALSE(parse_http_url("http://h:99999/"));
  EXPECT_FALSE(parse_http_url("http://h:x/"));
  EXPECT_FALSE(parse_http_url("http://h:/"));
  EXPECT_FALSE(parse_http_url("http://user@h/"));
}

TEST(HttpClientTest, ConnectionRefusedIsAnError) {
  // Bind then close to find a port that nothing listens on.
  std::uint16_t port = 0;
  {
    metrics::Registry registry;
    HttpServer server(HttpServerOptions{.registry = &registry});
    ASSERT_TRUE(server.start());
    port = server.port();
  }
  auto response = http_request("GET", "http://127.0.0.1:" + std::to_string(port) + "/", {}, {}, 1s);
  ASSERT_FALSE(response);
  EXPECT_NE(response.error().find("cannot connect"), std::string::npos) << response.error();
}

}  // namespace
}  // namespace sf::runtime
