// Helpers for the exchange-sim tests: one simulator over ../shared/data shared by the whole test
// program (indexed once), HTTP GETs against it, the source CSV files and JSON parsing.
#pragma once

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/decimal.h"
#include "exchange/binance/parse.h"
#include "runtime/http_client.h"
#include "services/exchange_sim/exchange_sim.h"
#include "test_support.h"

namespace sf::testing {

using services::exchange_sim::ExchangeSim;
using services::exchange_sim::ExchangeSimOptions;

inline constexpr const char* kKlines5mFile =
    "klines_btcusdt_2020_htm/BTCUSDT-5m-2020-07-01_2020-07-11.csv";
inline constexpr const char* kAggTradesFile =
    "aggtrades_btcusdt_2026-01-01/BTCUSDT-aggTrades-2026-01-01_first5000.csv";

// The simulator over the shared data set, started on first use. Call SF_REQUIRE_SHARED_DATA
// first. Tests that change faults or limits restore them with reset_sim().
inline ExchangeSim& shared_sim() {
  static std::unique_ptr<ExchangeSim> sim = [] {
    ExchangeSimOptions options;
    options.data_dir = shared_data_dir().string();
    auto started = ExchangeSim::start(options);
    if (!started) throw std::runtime_error("exchange-sim did not start: " + started.error());
    return std::move(started).value();
  }();
  return *sim;
}

inline void reset_sim(ExchangeSim& sim) {
  sim.clear_faults();
  sim.set_weight_limit(6000);
  sim.reset_rate_limits();
}

// GET base_url + path_query on a fresh connection; status -1 when the exchange failed.
inline runtime::HttpResponse get(const ExchangeSim& sim, const std::string& path_query,
                                 const runtime::HttpHeaders& headers = {}) {
  auto response = runtime::http_request("GET", sim.rest_base_url() + path_query, {}, headers);
  if (!response) {
    ADD_FAILURE() << "GET " << path_query << ": " << response.error();
    runtime::HttpResponse failed;
    failed.status = -1;
    return failed;
  }
  return std::move(response).value();
}

inline runtime::HttpHeaders microsecond_header() {
  runtime::HttpHeaders headers;
  headers.add("X-MBX-TIME-UNIT", "MICROSECOND");
  return headers;
}

inline std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> fields;
  std::size_t start = 0;
  for (;;) {
    const auto comma = line.find(',', start);
    fields.push_back(line.substr(start, comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (!fields.empty() && !fields.back().empty() && fields.back().back() == '\r') {
    fields.back().pop_back();
  }
  return fields;
}

// Every row of a plain CSV file under the shared data set, split into fields.
inline std::vector<std::vector<std::string>> read_shared_csv(const std::string& relative) {
  std::ifstream in(shared_data_dir() / relative);
  std::vector<std::vector<std::string>> rows;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) rows.push_back(split_csv_line(line));
  }
  return rows;
}

inline std::int64_t to_int(const std::string& text) {
  return std::stoll(text);
}

// Parses `text` (copied into the parser) or fails the test.
inline simdjson::dom::element parse_json(simdjson::dom::parser& parser, const std::string& text) {
  simdjson::dom::element element;
  const auto error = parser.parse(text).get(element);
  EXPECT_EQ(error, simdjson::SUCCESS)
      << simdjson::error_message(error) << " in " << text.substr(0, 300);
  return element;
}

// {"code":..,"msg":..} of an error body.
struct BinanceError {
  std::int64_t code = 0;
  std::string msg;
};

inline BinanceError parse_error_body(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::element element = parse_json(parser, body);
  BinanceError error;
  std::string_view msg;
  EXPECT_EQ(element["code"].get(error.code), simdjson::SUCCESS) << body;
  EXPECT_EQ(element["msg"].get(msg), simdjson::SUCCESS) << body;
  error.msg = std::string(msg);
  return error;
}

inline std::int64_t header_int(const runtime::HttpResponse& response, std::string_view name) {
  auto value = response.headers.get(name);
  if (!value) return -1;
  return std::stoll(std::string(*value));
}

// A scratch directory removed at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "exchange-sim-test-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A raw trade for the trades fixture, in the data.binance.vision trades CSV layout.
struct FixtureTrade {
  std::int64_t id = 0;
  std::string price;
  std::string qty;
  std::string quote_qty;
  std::int64_t time_ms = 0;
  bool buyer_maker = false;
};

struct FixtureData {
  std::vector<FixtureTrade> trades;
  std::int64_t depth_last_update_id = 0;
};

// The shared data set has no trades CSV and no depth file named SYMBOL-depth-*.json, so the
// fixture derives them from the real BTCUSDT WebSocket capture of 2024-08-08: its @trade frames
// become BTCUSDT-trades-2024-08-08.csv (quoteQty = price * qty at 8 decimals, as Binance writes
// it), written twice under two names to exercise de-duplication, and its REST depth snapshot
// (line 8) becomes BTCUSDT-depth-2024-08-08.json. The 2022 BTCUSDT exchangeInfo body is copied.
inline FixtureData write_fixture_dir(const std::filesystem::path& dir) {
  FixtureData fixture;
  std::ifstream frames(shared_data_dir() / "hftbacktest_ws_spot" /
                       "btcusdt_20240808_first5000.frames.jsonl");
  binance::Parser parser;
  std::string line;
  std::string csv;
  while (std::getline(frames, line)) {
    if (line.starts_with("{\"lastUpdateId\"")) {
      std::ofstream(dir / "BTCUSDT-depth-2024-08-08.json") << line;
      simdjson::dom::parser json;
      fixture.depth_last_update_id = parse_json(json, line)["lastUpdateId"].get_int64().value();
      continue;
    }
    if (line.find("@trade\"") == std::string::npos) continue;
    auto event = parser.parse_ws_frame(line, 0);
    if (!event || !std::holds_alternative<Trade>(*event)) continue;
    const Trade& trade = std::get<Trade>(*event);
    FixtureTrade row;
    row.id = trade.trade_id;
    row.price = trade.price.to_string();
    row.qty = trade.quantity.to_string();
    row.quote_qty = (trade.price * trade.quantity).rescaled(8).to_string();
    row.time_ms = micros_to_millis(trade.trade_time);
    row.buyer_maker = trade.is_buyer_maker;
    csv += std::to_string(row.id) + "," + row.price + "," + row.qty + "," + row.quote_qty + "," +
           std::to_string(row.time_ms) + "," + (row.buyer_maker ? "True" : "False") + ",True\n";
    fixture.trades.push_back(std::move(row));
  }
  std::ofstream(dir / "BTCUSDT-trades-2024-08-08.csv") << csv;
  std::filesystem::create_directories(dir / "again");
  std::ofstream(dir / "again" / "BTCUSDT-trades-2024-08-08.csv") << csv;
  std::filesystem::copy_file(
      shared_data_dir() / "rest_misc" / "exchangeInfo_BTCUSDT_2022-12-11.pretty.json",
      dir / "exchangeInfo_BTCUSDT_2022-12-11.pretty.json");
  return fixture;
}

}  // namespace sf::testing
