// BinanceRestClient's retry, weight and error policy against a scripted local HTTP server
// (runtime::HttpServer), where every response is chosen by the test: deterministic and fast.
// The behaviour against the real exchange-sim is in rest_client_sim_test.cc.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "exchange/binance/rest/rest_client.h"
#include "runtime/config.h"
#include "runtime/http_server.h"

namespace sf::binance {
namespace {

using runtime::HttpRequest;
using runtime::HttpResponse;
using std::chrono::milliseconds;

const Symbol kBtcUsdt = *Symbol::parse("BTCUSDT");

constexpr std::string_view kTwoKlines =
    R"([[1593561600000,"9138.08000000","9138.16000000","9100.00000000","9117.23000000","365.82786000",1593561899999,"3333795.23051561",3437,"143.86467300","1311043.45651440","0"],)"
    R"([1593561900000,"9117.85000000","9127.75000000","9102.82000000","9126.51000000","205.29413100",1593562199999,"1870950.64645830",2187,"72.89347500","664452.29821357","0"]])";

std::string agg_trade_json(std::int64_t id, std::int64_t time_ms) {
  return R"({"a":)" + std::to_string(id) + R"(,"p":"87648.21000000","q":"0.08185000","f":)" +
         std::to_string(id * 2) + R"(,"l":)" + std::to_string(id * 2) + R"(,"T":)" +
         std::to_string(time_ms) + R"(,"m":true,"M":true})";
}

// A server whose /api/v3/* answers come from `script`, called with the request's sequence number.
class ScriptedServer {
 public:
  using Script = std::function<HttpResponse(int call, const HttpRequest& request)>;

  explicit ScriptedServer(Script script) : script_(std::move(script)) {
    server_.route("GET", "/api/v3/{endpoint}", [this](const HttpRequest& request) {
      int call = 0;
      {
        std::lock_guard lock(mutex_);
        call = static_cast<int>(requests_.size());
        requests_.push_back(request);
      }
      return script_(call, request);
    });
    auto started = server_.start();
    if (!started) ADD_FAILURE() << started.error();
  }

  std::string base_url() const { return server_.base_url(); }
  std::vector<HttpRequest> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  int request_count() const {
    std::lock_guard lock(mutex_);
    return static_cast<int>(requests_.size());
  }

 private:
  Script script_;
  mutable std::mutex mutex_;
  std::vector<HttpRequest> requests_;
  runtime::HttpServer server_{runtime::HttpServerOptions{.threads = 2}};
};

HttpResponse with_weight(HttpResponse response, int used) {
  response.headers.set("X-MBX-USED-WEIGHT-1M", std::to_string(used));
  return response;
}

RestClientOptions fast_options(const std::string& base_url) {
  RestClientOptions options;
  options.base_url = base_url;
  options.backoff = BackoffPolicy{.initial = milliseconds(10), .max = milliseconds(40)};
  options.default_retry_after = std::chrono::seconds(0);
  options.request_timeout = milliseconds(2000);
  options.jitter_seed = 42;
  return options;
}

std::unique_ptr<BinanceRestClient> make_client(const RestClientOptions& options) {
  auto client = BinanceRestClient::create(options);
  if (!client) {
    ADD_FAILURE() << client.error().describe();
    return nullptr;
  }
  return std::move(client).value();
}

TEST(RestClientScripted, SendsBinanceQueriesOnOneKeptAliveConnection) {
  ScriptedServer server([](int, const HttpRequest& request) {
    if (request.path == "/api/v3/klines") {
      return with_weight(HttpResponse::json(200, std::string(kTwoKlines)), 2);
    }
    if (request.path == "/api/v3/historicalTrades") {
      return with_weight(
          HttpResponse::json(
              200,
              R"([{"id":28457,"price":"4.00000100","qty":"12.00000000","quoteQty":"48.000012","time":1499865549590,"isBuyerMaker":true,"isBestMatch":true}])"),
          27);
    }
    return with_weight(HttpResponse::json(200, R"({"serverTime":1499827319559})"), 28);
  });
  auto options = fast_options(server.base_url());
  options.api_key = "test-key";
  auto client = make_client(options);
  ASSERT_NE(client, nullptr);

  auto candles = client->klines(kBtcUsdt, Interval::k5m, 1593561600000000, 1593562199999000, 2);
  ASSERT_TRUE(candles.ok()) << candles.error().describe();
  ASSERT_EQ(candles->size(), 2u);
  EXPECT_EQ((*candles)[0].open_time, 1593561600000000);
  EXPECT_EQ((*candles)[0].open.to_string(), "9138.08000000");
  EXPECT_EQ((*candles)[1].taker_buy_quote_asset_volume.to_string(), "664452.29821357");

  auto trades = client->historical_trades(kBtcUsdt, 28457, 1);
  ASSERT_TRUE(trades.ok()) << trades.error().describe();
  ASSERT_EQ(trades->size(), 1u);
  EXPECT_EQ((*trades)[0].quantity.to_string(), "12.00000000");

  auto time = client->server_time();
  ASSERT_TRUE(time.ok()) << time.error().describe();
  EXPECT_EQ(*time, 1499827319559000);

  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].target,
            "/api/v3/klines?symbol=BTCUSDT&interval=5m&startTime=1593561600000"
            "&endTime=1593562199999&limit=2");
  EXPECT_FALSE(requests[0].header("X-MBX-APIKEY").has_value()) << "key only where needed";
  EXPECT_EQ(requests[1].target, "/api/v3/historicalTrades?symbol=BTCUSDT&limit=1&fromId=28457");
  EXPECT_EQ(requests[1].header("X-MBX-APIKEY"), "test-key");
  EXPECT_EQ(requests[2].target, "/api/v3/time");

  const RestClientStats stats = client->stats();
  EXPECT_EQ(stats.requests, 3u);
  EXPECT_EQ(stats.retries, 0u);
  EXPECT_EQ(stats.connections, 1u) << "keep-alive reuses the connection";
  EXPECT_EQ(stats.last_used_weight, 28);
  EXPECT_EQ(stats.max_used_weight, 28);
  EXPECT_EQ(client->used_weight(), 28);
}

TEST(RestClientScripted, BinanceErrorBodyIsTypedAndNotRetried) {
  ScriptedServer server([](int, const HttpRequest&) {
    return HttpResponse::json(400, R"({"code":-1121,"msg":"Invalid symbol."})");
  });
  auto client = make_client(fast_options(server.base_url()));
  ASSERT_NE(client, nullptr);
  auto result =
      client->klines(*Symbol::parse("NOSUCHPAIR"), Interval::k1m, std::nullopt, std::nullopt, 10);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, RestErrc::kApiError);
  EXPECT_EQ(result.error().api_code, -1121);
  EXPECT_EQ(result.error().api_message, "Invalid symbol.");
  EXPECT_EQ(result.error().http_status, 400);
  EXPECT_EQ(result.error().describe(), "klines: api_error -1121 (Invalid symbol.) [HTTP 400]");
  EXPECT_EQ(server.request_count(), 1);
  EXPECT_EQ(client->stats().api_errors, 1u);
}

TEST(RestClientScripted, ServerErrorsAreRetriedThenGiveUp) {
  ScriptedServer server([](int call, const HttpRequest&) {
    if (call < 2) return HttpResponse::text(502, "<html>502 Bad Gateway</html>", "text/html");
    if (call == 2) return HttpResponse::json(503, R"({"code":-1008,"msg":"Server is busy."})");
    return HttpResponse::json(200, R"({"serverTime":1})");
  });
  auto client = make_client(fast_options(server.base_url()));
  ASSERT_NE(client, nullptr);
  auto time = client->server_time();
  ASSERT_TRUE(time.ok()) << time.error().describe();
  EXPECT_EQ(server.request_count(), 4);
  EXPECT_EQ(client->stats().retries, 3u);
  EXPECT_EQ(client->stats().transient_failures, 3u);

  ScriptedServer failing([](int, const HttpRequest&) {
    return HttpResponse::json(500, R"({"code":-1000,"msg":"An unknown error occurred."})");
  });
  auto options = fast_options(failing.base_url());
  options.max_retries = 2;
  auto giving_up = make_client(options);
  ASSERT_NE(giving_up, nullptr);
  auto failed = giving_up->server_time();
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, RestErrc::kHttpStatus);
  EXPECT_EQ(failed.error().http_status, 500);
  EXPECT_EQ(failed.error().api_code, -1000);
  EXPECT_EQ(failed.error().attempts, 3);
  EXPECT_EQ(failing.request_count(), 3);
}

TEST(RestClientScripted, TruncatedBodyIsRetried) {
  ScriptedServer server([](int call, const HttpRequest&) {
    const std::string body(kTwoKlines);
    // A complete HTTP message whose JSON stops halfway (a proxy that cut it).
    if (call == 0) return HttpResponse::json(200, body.substr(0, body.size() / 2));
    return HttpResponse::json(200, body);
  });
  auto client = make_client(fast_options(server.base_url()));
  ASSERT_NE(client, nullptr);
  auto candles = client->klines(kBtcUsdt, Interval::k5m, std::nullopt, std::nullopt, 2);
  ASSERT_TRUE(candles.ok()) << candles.error().describe();
  EXPECT_EQ(candles->size(), 2u);
  EXPECT_EQ(server.request_count(), 2);
  EXPECT_EQ(client->stats().retries, 1u);
}

TEST(RestClientScripted, WellFormedButWrongBodyIsNotRetried) {
  ScriptedServer server(
      [](int, const HttpRequest&) { return HttpResponse::json(200, R"({"unexpected":true})"); });
  auto client = make_client(fast_options(server.base_url()));
  ASSERT_NE(client, nullptr);
  auto candles = client->klines(kBtcUsdt, Interval::k5m, std::nullopt, std::nullopt, 2);
  ASSERT_FALSE(candles.ok());
  EXPECT_EQ(candles.error().code, RestErrc::kBadResponse);
  EXPECT_EQ(server.request_count(), 1);
}

TEST(RestClientScripted, BanStopsAtOnceWithRetryAfter) {
  ScriptedServer server([](int, const HttpRequest&) {
    HttpResponse response = HttpResponse::json(
        418, R"({"code":-1003,"msg":"Way too much request weight used; IP banned until 1."})");
    response.headers.set("Retry-After", "7200");
    return response;
  });
  auto client = make_client(fast_options(server.base_url()));
  ASSERT_NE(client, nullptr);
  auto result = client->depth(kBtcUsdt, 1000);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, RestErrc::kBanned);
  EXPECT_EQ(result.error().retry_after, std::chrono::seconds(7200));
  EXPECT_EQ(result.error().api_code, -1003);
  EXPECT_EQ(server.request_count(), 1);
  EXPECT_EQ(client->stats().bans, 1u);

  // Nothing more is sent while the ban lasts.
  auto again = client->server_time();
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, RestErrc::kBanned);
  ASSERT_TRUE(again.error().retry_after.has_value());
  EXPECT_GT(*again.error().retry_after, std::chrono::seconds(7000));
  EXPECT_EQ(again.error().attempts, 0);
  EXPECT_EQ(server.request_count(), 1);
}

TEST(RestClientScripted, RateLimitIsWaitedOutUntilTheRetriesRunOut) {
  ScriptedServer server([](int call, const HttpRequest&) {
    if (call < 2) {
      HttpResponse response =
          HttpResponse::json(429, R"({"code":-1003,"msg":"Too much request weight used."})");
      response.headers.set("Retry-After", "1");
      return response;
    }
    return HttpResponse::json(200, R"({"serverTime":1})");
  });
  auto client = make_client(fast_options(server.base_url()));
  ASSERT_NE(client, nullptr);
  const auto started = std::chrono::steady_clock::now();
  auto time = client->server_time();
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(time.ok()) << time.error().describe();
  EXPECT_GE(took, milliseconds(1900)) << "two Retry-After: 1 waits";
  EXPECT_EQ(client->stats().rate_limited, 2u);

  // Without Retry-After the default applies; past max_rate_limit_retries: kRateLimited.
  ScriptedServer storm([](int, const HttpRequest&) {
    return HttpResponse::json(429, R"({"code":-1003,"msg":"Too much request weight used."})");
  });
  auto options = fast_options(storm.base_url());
  options.max_rate_limit_retries = 3;
  auto limited = make_client(options);
  ASSERT_NE(limited, nullptr);
  auto failed = limited->server_time();
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, RestErrc::kRateLimited);
  EXPECT_EQ(storm.request_count(), 4);

  // A Retry-After longer than max_rate_limit_wait is reported, not slept through.
  ScriptedServer long_wait([](int, const HttpRequest&) {
    HttpResponse response = HttpResponse::json(429, R"({"code":-1003,"msg":"Too much."})");
    response.headers.set("Retry-After", "3600");
    return response;
  });
  auto impatient = make_client(fast_options(long_wait.base_url()));
  ASSERT_NE(impatient, nullptr);
  auto refused = impatient->server_time();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, RestErrc::kRateLimited);
  EXPECT_EQ(refused.error().retry_after, std::chrono::seconds(3600));
  EXPECT_EQ(long_wait.request_count(), 1);
  // Until that hour is over, later calls are refused without a request.
  auto later = impatient->server_time();
  ASSERT_FALSE(later.ok());
  EXPECT_EQ(later.error().code, RestErrc::kRateLimited);
  EXPECT_EQ(long_wait.request_count(), 1);
}

TEST(RestClientScripted, WaitsForTheWeightWindowWhenTheBudgetIsSpent) {
  // The server says 99 of the budget's 100 are used; the next klines call (2) must wait for the
  // window (1 s here) instead of being sent.
  ScriptedServer server([](int call, const HttpRequest&) {
    return with_weight(HttpResponse::json(200, std::string(kTwoKlines)), call == 0 ? 99 : 2);
  });
  auto options = fast_options(server.base_url());
  options.weight_budget = 100;
  options.weight_window = milliseconds(1000);
  auto client = make_client(options);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->klines(kBtcUsdt, Interval::k5m, std::nullopt, std::nullopt, 2).ok());
  const auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(client->klines(kBtcUsdt, Interval::k5m, std::nullopt, std::nullopt, 2).ok());
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_GE(took, milliseconds(900));
  EXPECT_EQ(client->stats().weight_waits, 1u);
  EXPECT_GE(client->stats().weight_wait_ms, 900u);
  EXPECT_EQ(client->used_weight(), 2);
}

TEST(RestClientScripted, AggTradeIdGapIsAnError) {
  // Page 1: ids 10, 11; page 2 starts at 13 although 12 was asked for.
  ScriptedServer server([](int call, const HttpRequest&) {
    if (call == 0) {
      return HttpResponse::json(
          200, "[" + agg_trade_json(10, 1000) + "," + agg_trade_json(11, 1001) + "]");
    }
    return HttpResponse::json(200, "[" + agg_trade_json(13, 1002) + "]");
  });
  auto options = fast_options(server.base_url());
  options.page_limit = 2;
  auto client = make_client(options);
  ASSERT_NE(client, nullptr);
  std::vector<std::int64_t> ids;
  auto result = client->for_each_agg_trade(kBtcUsdt, 0, 10'000'000, [&](const AggTrade& trade) {
    ids.push_back(trade.agg_trade_id);
    return true;
  });
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, RestErrc::kGap);
  EXPECT_EQ(result.error().message, "aggregate trade id 13 where 12 was expected");
  EXPECT_EQ(ids, (std::vector<std::int64_t>{10, 11}));
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].target, "/api/v3/aggTrades?symbol=BTCUSDT&startTime=0&limit=2");
  EXPECT_EQ(requests[1].target, "/api/v3/aggTrades?symbol=BTCUSDT&fromId=12&limit=2");
}

TEST(RestClientScripted, RepeatedKlineIsAnError) {
  // The server ignores startTime and serves the same page again.
  ScriptedServer server(
      [](int, const HttpRequest&) { return HttpResponse::json(200, std::string(kTwoKlines)); });
  auto options = fast_options(server.base_url());
  options.page_limit = 2;
  auto client = make_client(options);
  ASSERT_NE(client, nullptr);
  int delivered = 0;
  auto result = client->for_each_kline(kBtcUsdt, Interval::k5m, 1593561600000000, 1593563400000000,
                                       [&](const Candle&) {
                                         ++delivered;
                                         return true;
                                       });
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, RestErrc::kGap);
  EXPECT_EQ(delivered, 2);
}

TEST(RestClientScripted, CallbackAndStopTokenCancel) {
  ScriptedServer server(
      [](int, const HttpRequest&) { return HttpResponse::json(200, std::string(kTwoKlines)); });
  std::stop_source stop;
  auto options = fast_options(server.base_url());
  options.stop_token = stop.get_token();
  auto client = make_client(options);
  ASSERT_NE(client, nullptr);
  auto stopped = client->for_each_kline(kBtcUsdt, Interval::k5m, 1593561600000000, 1593563400000000,
                                        [](const Candle&) { return false; });
  ASSERT_FALSE(stopped.ok());
  EXPECT_EQ(stopped.error().code, RestErrc::kCancelled);

  stop.request_stop();
  auto cancelled = client->server_time();
  ASSERT_FALSE(cancelled.ok());
  EXPECT_EQ(cancelled.error().code, RestErrc::kCancelled);
  EXPECT_EQ(server.request_count(), 1) << "nothing is sent once stopped";
}

TEST(RestClientScripted, CancelInterruptsARequestInFlight) {
  ScriptedServer server([](int, const HttpRequest&) {
    std::this_thread::sleep_for(milliseconds(1500));
    return HttpResponse::json(200, R"({"serverTime":1})");
  });
  auto options = fast_options(server.base_url());
  options.request_timeout = milliseconds(10'000);
  auto client = make_client(options);
  ASSERT_NE(client, nullptr);
  std::thread canceller([&] {
    std::this_thread::sleep_for(milliseconds(200));
    client->cancel();
  });
  const auto started = std::chrono::steady_clock::now();
  auto result = client->server_time();
  const auto took = std::chrono::steady_clock::now() - started;
  canceller.join();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, RestErrc::kCancelled);
  EXPECT_LT(took, milliseconds(700));
}

TEST(RestClientScripted, TimeoutsAreRetriedThenReported) {
  ScriptedServer server([](int, const HttpRequest&) {
    std::this_thread::sleep_for(milliseconds(400));
    return HttpResponse::json(200, R"({"serverTime":1})");
  });
  auto options = fast_options(server.base_url());
  options.request_timeout = milliseconds(100);
  options.max_retries = 1;
  auto client = make_client(options);
  ASSERT_NE(client, nullptr);
  auto result = client->server_time();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, RestErrc::kTimeout);
  EXPECT_EQ(result.error().attempts, 2);
  EXPECT_EQ(client->stats().connections, 2u) << "a timed-out connection is not reused";
}

TEST(RestClientScripted, RefusedConnectionIsATransportError) {
  std::string url;
  {
    runtime::HttpServer closed;  // take a free port, then free it again
    ASSERT_TRUE(closed.start().ok());
    url = closed.base_url();
  }
  auto options = fast_options(url);
  options.max_retries = 2;
  auto client = make_client(options);
  ASSERT_NE(client, nullptr);
  auto result = client->server_time();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, RestErrc::kTransport);
  EXPECT_EQ(result.error().attempts, 3);
  EXPECT_NE(result.error().message.find("cannot connect"), std::string::npos)
      << result.error().message;
}

TEST(RestClientScripted, RejectsBadOptionsAndArguments) {
  RestClientOptions options;
  options.base_url = "ftp://example.com";
  auto bad_url = BinanceRestClient::create(options);
  ASSERT_FALSE(bad_url.ok());
  EXPECT_EQ(bad_url.error().code, RestErrc::kConfig);

  options = RestClientOptions{};
  options.tls.ca_file = "/nonexistent/ca.pem";
  auto bad_ca = BinanceRestClient::create(options);
  ASSERT_FALSE(bad_ca.ok());
  EXPECT_EQ(bad_ca.error().code, RestErrc::kConfig);

  options = RestClientOptions{};
  options.page_limit = 1001;
  EXPECT_FALSE(BinanceRestClient::create(options).ok());

  options = RestClientOptions{};
  options.base_url = "http://127.0.0.1:9";  // nothing is sent for bad arguments
  auto client = make_client(options);
  ASSERT_NE(client, nullptr);
  auto too_many = client->klines(kBtcUsdt, Interval::k1m, std::nullopt, std::nullopt, 1001);
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.error().code, RestErrc::kConfig);
  EXPECT_EQ(client->depth(kBtcUsdt, 0).error().code, RestErrc::kConfig);
  EXPECT_EQ(client->stats().requests, 0u);
}

TEST(RestClientOptions, ComeFromTheServiceConfiguration) {
  runtime::ConfigParser parser("test");
  add_rest_client_options(parser);
  auto defaults = parser.parse({}, [](const std::string&) { return std::nullopt; });
  ASSERT_TRUE(defaults.ok()) << defaults.error();
  const RestClientOptions binance = rest_client_options(*defaults);
  EXPECT_EQ(binance.base_url, "https://api.binance.com");
  EXPECT_EQ(binance.weight_budget, 3000);
  EXPECT_EQ(binance.max_retries, 5);
  EXPECT_TRUE(binance.tls.verify_peer);
  EXPECT_TRUE(binance.api_key.empty());

  const std::map<std::string, std::string> env = {{"BINANCE_API_URL", "http://127.0.0.1:8085"},
                                                  {"BINANCE_API_KEY", "k"},
                                                  {"BINANCE_WEIGHT_BUDGET", "1200"},
                                                  {"BINANCE_HTTP_TIMEOUT", "2500ms"},
                                                  {"BINANCE_CA_FILE", "/etc/ca.pem"}};
  auto config = parser.parse({"--binance-max-retries", "2"},
                             [&](const std::string& name) -> std::optional<std::string> {
                               auto it = env.find(name);
                               if (it == env.end()) return std::nullopt;
                               return it->second;
                             });
  ASSERT_TRUE(config.ok()) << config.error();
  const RestClientOptions sim = rest_client_options(*config);
  EXPECT_EQ(sim.base_url, "http://127.0.0.1:8085");
  EXPECT_EQ(sim.api_key, "k");
  EXPECT_EQ(sim.weight_budget, 1200);
  EXPECT_EQ(sim.max_retries, 2);
  EXPECT_EQ(sim.request_timeout, milliseconds(2500));
  EXPECT_EQ(sim.tls.ca_file, "/etc/ca.pem");
}

}  // namespace
}  // namespace sf::binance
