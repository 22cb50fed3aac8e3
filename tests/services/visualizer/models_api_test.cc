// The Models view's routes: every trained version under the model directory with its metrics (a
// broken or missing metrics.json listed as an error, never breaking the answer), the stored
// graphs, and one time slice of an assets graph with the edges among its nodes; 404 for an
// unknown graph, 400 for a bad name or time. Also the page itself is served with its CSP.
#include "services/visualizer/models_api.h"

#include <gtest/gtest.h>
#include <simdjson.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "bus/inproc_bus.h"
#include "exchange/binance/parse.h"
#include "runtime/http_client.h"
#include "services/visualizer/dashboard.h"
#include "test_support.h"

namespace sf::services::visualizer {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

GraphRecord assets_graph() {
  GraphRecord g;
  g.name = "assets_5m";
  g.kind = "assets";
  g.interval = "5m";
  // Two time slices of three symbols; correlation edges within each slice, temporal across.
  const char* symbols[] = {"BTCUSDT", "ETHUSDT", "SOLUSDT"};
  for (int t = 0; t < 2; ++t)
    for (int i = 0; i < 3; ++i)
      g.nodes.push_back({.node_id = t * 3 + i,
                         .time = 1'700'000'000'000'000 + t * 300'000'000,
                         .symbol = symbols[i],
                         .features = {0.5f},
                         .direction = i,
                         .volatility = std::nullopt});
  for (int t = 0; t < 2; ++t) {
    g.edges.push_back({t * 3 + 0, t * 3 + 1, 0.8f, "correlation"});
    g.edges.push_back({t * 3 + 1, t * 3 + 2, -0.4f, "correlation"});
  }
  g.edges.push_back({0, 3, 1.0f, "temporal"});
  return g;
}

class ModelsApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("sf_models_api_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    auto store = store::open_store("sqlite:" + (dir_ / "store.db").string());
    ASSERT_TRUE(store.ok());
    store_ = std::move(*store);
    DashboardOptions o;
    o.model_dir = (dir_ / "models").string();
    dashboard_ = std::make_unique<Dashboard>(bus_, *store_, o);
    server_ = std::make_unique<runtime::HttpServer>(runtime::HttpServerOptions{});
    dashboard_->install_routes(*server_);
    ASSERT_TRUE(server_->start().ok());
  }
  void TearDown() override {
    server_->stop();
    dashboard_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }
  runtime::HttpResponse get(const std::string& path) {
    auto r = runtime::http_request("GET", server_->base_url() + path, "", {}, 10s);
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : runtime::HttpResponse{};
  }

  fs::path dir_;
  bus::InProcBus bus_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Dashboard> dashboard_;
  std::unique_ptr<runtime::HttpServer> server_;
};

TEST_F(ModelsApiTest, EveryVersionIsListedNewestFirstAndBrokenMetricsDoNotBreakTheAnswer) {
  EXPECT_EQ(get("/api/v1/models").body, R"({"models":[]})");  // no directory yet
  const auto models = dir_ / "models";
  write(models / "btc-gnn" / "v1" / "metrics.json",
        R"({"task":"direction","test":{"model":{"macro_f1":0.4}}})");
  write(models / "btc-gnn" / "v10" / "metrics.json",
        "{\"task\":\"direction\",\n \"best_epoch\":3}\n");
  write(models / "btc-gnn" / "v2" / "metrics.json", R"({"task":"direction", "trunc)");  // mid-write
  fs::create_directories(models / "btc-gnn" / "v3");          // no metrics
  fs::create_directories(models / "btc-gnn" / "checkpoint");  // not a version
  write(models / "a-vol" / "v1" / "metrics.json", R"({"task":"volatility"})");
  auto r = get("/api/v1/models");
  ASSERT_EQ(r.status, 200) << r.body;
  simdjson::dom::parser parser;
  auto doc = parser.parse(r.body).value();
  std::vector<std::string> seen;
  const simdjson::dom::array listed = doc["models"].get_array().value();
  for (auto m : listed) {
    std::string line = std::string(m["name"].get_string().value()) + "/" +
                       std::string(m["version"].get_string().value());
    if (m["error"].error() == simdjson::SUCCESS)
      line += " error";
    else
      line += " " + std::string(m["metrics"]["task"].get_string().value());
    seen.push_back(line);
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"a-vol/v1 volatility", "btc-gnn/v10 direction",
                                            "btc-gnn/v3 error", "btc-gnn/v2 error",
                                            "btc-gnn/v1 direction"}));
}

TEST_F(ModelsApiTest, AnAssetsGraphSliceHasItsNodesAndTheEdgesAmongThem) {
  ASSERT_TRUE(store_->replace_graph(assets_graph()).ok());
  auto list = get("/api/v1/graphs");
  ASSERT_EQ(list.status, 200);
  EXPECT_NE(list.body.find(R"("name":"assets_5m","kind":"assets","interval":"5m")"),
            std::string::npos)
      << list.body;
  EXPECT_NE(list.body.find(R"("nodes":6,"edges":5)"), std::string::npos) << list.body;

  simdjson::dom::parser parser;
  auto newest = get("/api/v1/graphs/assets_5m/snapshot");
  ASSERT_EQ(newest.status, 200) << newest.body;
  auto doc = parser.parse(newest.body).value();
  EXPECT_EQ(doc["time"].get_int64().value(), 1'700'000'300'000'000);
  std::vector<std::int64_t> ids;
  const simdjson::dom::array nodes = doc["nodes"].get_array().value();
  for (auto n : nodes) ids.push_back(n["node_id"].get_int64().value());
  EXPECT_EQ(ids, (std::vector<std::int64_t>{3, 4, 5}));
  EXPECT_EQ(doc["edges"].get_array().value().size(), 2u);  // the temporal edge leaves the slice

  auto older = get("/api/v1/graphs/assets_5m/snapshot?time=1700000100000000");
  ASSERT_EQ(older.status, 200) << older.body;
  EXPECT_NE(older.body.find(R"("time":1700000000000000)"), std::string::npos) << older.body;
  EXPECT_NE(older.body.find(R"("symbol":"BTCUSDT","direction":0)"), std::string::npos);

  EXPECT_EQ(get("/api/v1/graphs/nope/snapshot").status, 404);
  EXPECT_EQ(get("/api/v1/graphs/assets_5m/snapshot?time=-5").status, 400);
  EXPECT_EQ(get("/api/v1/graphs/1bad/snapshot").status, 400);
}

TEST_F(ModelsApiTest, ThePageIsServedWithItsContentSecurityPolicy) {
  auto page = get("/");
  ASSERT_EQ(page.status, 200);
  EXPECT_NE(page.content_type.find("text/html"), std::string::npos);
  EXPECT_NE(page.body.find("/vendor/lightweight-charts.js"), std::string::npos);
  auto csp = page.headers.get("Content-Security-Policy");
  ASSERT_TRUE(csp.has_value());
  EXPECT_NE(csp->find("script-src 'self'"), std::string::npos);
  EXPECT_EQ(page.headers.get_or("Referrer-Policy", ""), "no-referrer");
  auto vendor = get("/vendor/lightweight-charts.js");
  EXPECT_EQ(vendor.status, 200);
  EXPECT_NE(vendor.body.find("LightweightCharts"), std::string::npos);
  EXPECT_GT(get("/app.js").body.size(), 1000u);
}

// Real BTCUSDT 5m candles (2020-07-01), the first `n`.
std::vector<Candle> real_candles(std::size_t n) {
  std::ifstream in(sf::testing::shared_data_dir() /
                   "klines_btcusdt_2020_htm/BTCUSDT-5m-2020-07-01_2020-07-11.csv");
  std::vector<Candle> candles;
  std::string line;
  while (candles.size() < n && std::getline(in, line))
    if (auto c = binance::parse_kline_csv(line, *Symbol::parse("BTCUSDT"), Interval::k5m))
      candles.push_back(*c);
  return candles;
}

double close_of(const Candle& c) {
  return std::stod(c.close.to_string());
}

// gnn-infer's stored probabilities next to what then happened: the outcome is the next stored
// candle's direction with the training graph's flat band (recomputed here from the closes), the
// last prediction has none yet; hits count the argmax agreeing with it.
TEST_F(ModelsApiTest, DirectionPredictionsComeWithTheOutcomeOfTheNextCandle) {
  SF_REQUIRE_SHARED_DATA("klines_btcusdt_2020_htm/BTCUSDT-5m-2020-07-01_2020-07-11.csv");
  const auto candles = real_candles(12);
  ASSERT_EQ(candles.size(), 12u);
  ASSERT_TRUE(store_->upsert_candles(candles).ok());
  constexpr double kBand = 0.0003;
  write(
      dir_ / "models" / "btc-gnn" / "v1" / "meta.json",
      R"({"kind":"candles","interval":"5m","symbols":["BTCUSDT"],"params":{"flat_band":0.0003,"vol_horizon":3}})");
  // Predictions for candles 0..11; the probabilities cycle so that every class is predicted.
  std::vector<IndicatorValue> rows;
  for (std::size_t i = 0; i < candles.size(); ++i) {
    const double p[3][3] = {{0.6, 0.3, 0.1}, {0.2, 0.5, 0.3}, {0.1, 0.2, 0.7}};
    const char* names[3] = {"gnn_btc-gnn_p_down", "gnn_btc-gnn_p_flat", "gnn_btc-gnn_p_up"};
    for (int k = 0; k < 3; ++k)
      rows.push_back(
          {*Symbol::parse("BTCUSDT"), Interval::k5m, names[k], candles[i].open_time, p[i % 3][k]});
  }
  ASSERT_TRUE(store_->upsert_indicators(rows).ok());

  auto r = get("/api/v1/models/btc-gnn/predictions");  // symbol and interval from the model
  ASSERT_EQ(r.status, 200) << r.body;
  simdjson::dom::parser parser;
  auto doc = parser.parse(r.body).value();
  EXPECT_EQ(doc["task"].get_string().value(), "direction");
  EXPECT_EQ(doc["symbol"].get_string().value(), "BTCUSDT");
  EXPECT_EQ(doc["flat_band"].get_double().value(), kBand);
  const simdjson::dom::array points = doc["predictions"].get_array().value();
  ASSERT_EQ(points.size(), candles.size());
  std::size_t i = 0;
  std::int64_t hits = 0;
  for (auto point : points) {
    EXPECT_EQ(point["time"].get_int64().value(), candles[i].open_time);
    EXPECT_EQ(point["predicted"].get_int64().value(), static_cast<std::int64_t>(i % 3));
    EXPECT_DOUBLE_EQ(point["p_up"].get_double().value(), i % 3 == 2 ? 0.7 : i % 3 == 1 ? 0.3 : 0.1);
    if (i + 1 == candles.size()) {
      EXPECT_TRUE(point["actual"].is_null()) << "no next candle yet";
    } else {
      const double ret = std::log(close_of(candles[i + 1]) / close_of(candles[i]));
      const std::int64_t expected = ret >= kBand ? 2 : ret <= -kBand ? 0 : 1;
      EXPECT_EQ(point["actual"].get_int64().value(), expected) << "candle " << i;
      hits += expected == static_cast<std::int64_t>(i % 3);
    }
    ++i;
  }
  EXPECT_EQ(doc["scored"].get_int64().value(), 11);
  EXPECT_EQ(doc["hits"].get_int64().value(), hits);

  // Range and limit: the newest N of [from, to).
  auto some = get("/api/v1/models/btc-gnn/predictions?limit=2&to=" +
                  std::to_string(candles[5].open_time / 1000));
  auto part = parser.parse(some.body).value();
  const simdjson::dom::array newest = part["predictions"].get_array().value();
  ASSERT_EQ(newest.size(), 2u) << some.body;
  EXPECT_EQ(newest.at(1)["time"].get_int64().value(), candles[4].open_time);
  // Errors.
  EXPECT_EQ(get("/api/v1/models/none/predictions").status, 404);
  EXPECT_EQ(get("/api/v1/models/btc-gnn/predictions?interval=7m").status, 400);
  EXPECT_EQ(get("/api/v1/models/btc-gnn/predictions?limit=0").status, 400);
  EXPECT_EQ(get("/api/v1/models/btc-gnn/predictions?colour=red").status, 400);
  EXPECT_EQ(get("/api/v1/models/..%2Fx/predictions").status, 400);
}

// A volatility model: the outcome is the realised volatility of the next vol_horizon candles
// (sample standard deviation of their log returns), and the answer carries the mean abs error.
TEST_F(ModelsApiTest, VolatilityPredictionsComeWithTheRealisedVolatilityThatFollowed) {
  SF_REQUIRE_SHARED_DATA("klines_btcusdt_2020_htm/BTCUSDT-5m-2020-07-01_2020-07-11.csv");
  const auto candles = real_candles(10);
  ASSERT_TRUE(store_->upsert_candles(candles).ok());
  write(dir_ / "models" / "btc-vol" / "v2" / "meta.json",
        R"({"kind":"candles","interval":"5m","symbols":["BTCUSDT"],"params":{"vol_horizon":3}})");
  std::vector<IndicatorValue> rows;
  for (const auto& c : candles)
    rows.push_back({c.symbol, Interval::k5m, "gnn_btc-vol_volatility", c.open_time, 0.001});
  ASSERT_TRUE(store_->upsert_indicators(rows).ok());
  auto r = get("/api/v1/models/btc-vol/predictions?symbol=BTCUSDT&interval=5m");
  ASSERT_EQ(r.status, 200) << r.body;
  simdjson::dom::parser parser;
  auto doc = parser.parse(r.body).value();
  EXPECT_EQ(doc["task"].get_string().value(), "volatility");
  const simdjson::dom::array points = doc["predictions"].get_array().value();
  ASSERT_EQ(points.size(), 10u);
  double abs_error = 0;
  std::size_t i = 0;
  for (auto point : points) {
    if (i + 3 >= candles.size()) {
      EXPECT_TRUE(point["actual"].is_null()) << i;
    } else {
      double r3[3], mean = 0, var = 0;
      for (int k = 0; k < 3; ++k) {
        r3[k] = std::log(close_of(candles[i + k + 1]) / close_of(candles[i + k]));
        mean += r3[k] / 3;
      }
      for (double x : r3) var += (x - mean) * (x - mean) / 2;
      EXPECT_NEAR(point["actual"].get_double().value(), std::sqrt(var), 1e-12) << i;
      abs_error += std::abs(std::sqrt(var) - 0.001);
    }
    ++i;
  }
  EXPECT_EQ(doc["scored"].get_int64().value(), 7);
  EXPECT_NEAR(doc["mae"].get_double().value(), abs_error / 7, 1e-12);
}

}  // namespace
}  // namespace sf::services::visualizer
