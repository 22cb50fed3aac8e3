// The Models view's routes: every trained version under the model directory with its metrics (a
// broken or missing metrics.json listed as an error, never breaking the answer), the stored
// graphs, and one time slice of an assets graph with the edges among its nodes; 404 for an
// unknown graph, 400 for a bad name or time. Also the page itself is served with its CSP.
#include "services/visualizer/models_api.h"

#include <gtest/gtest.h>
#include <simdjson.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "bus/inproc_bus.h"
#include "runtime/http_client.h"
#include "services/visualizer/dashboard.h"

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

}  // namespace
}  // namespace sf::services::visualizer
