// Builders and comparisons shared by the store tests.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <string_view>

#include "store/store.h"

namespace sf::store::testing {

inline Decimal D(std::string_view text) {
  auto parsed = Decimal::parse(text);
  EXPECT_TRUE(parsed.ok()) << text;
  return parsed.ok() ? *parsed : Decimal();
}

inline Symbol S(std::string_view name) {
  return *Symbol::parse(name);
}

// A fresh directory under the system temp dir, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("sf_store_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
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

inline Trade make_trade(std::int64_t id, TimestampUs time,
                        std::string_view price = "61837.63000000",
                        std::string_view symbol = "BTCUSDT") {
  return Trade{.symbol = S(symbol),
               .trade_id = id,
               .price = D(price),
               .quantity = D("0.02000000"),
               .trade_time = time,
               .event_time = time + 1,
               .receive_time = time + 2,
               .is_buyer_maker = id % 2 == 0,
               .is_best_match = true};
}

inline AggTrade make_agg_trade(std::int64_t id, TimestampUs time,
                               std::string_view symbol = "BTCUSDT") {
  return AggTrade{.symbol = S(symbol),
                  .agg_trade_id = id,
                  .price = D("61837.63000000"),
                  .quantity = D("1.50000000"),
                  .first_trade_id = id * 10,
                  .last_trade_id = id * 10 + 3,
                  .trade_time = time,
                  .event_time = time + 1,
                  .receive_time = time + 2,
                  .is_buyer_maker = false,
                  .is_best_match = std::nullopt};
}

inline Candle make_candle(TimestampUs open_time, bool closed, std::string_view close = "61850.00",
                          Interval interval = Interval::k1m, std::string_view symbol = "BTCUSDT") {
  return Candle{.symbol = S(symbol),
                .interval = interval,
                .open_time = open_time,
                .open = D("61837.63000000"),
                .high = D("61900.00000000"),
                .low = D("61800.10000000"),
                .close = D(close),
                .volume = D("12.34500000"),
                .close_time = open_time + 59'999'999,
                .quote_asset_volume = D("763456.12345678"),
                .number_of_trades = closed ? 1234 : 600,
                .taker_buy_base_asset_volume = D("6.00000000"),
                .taker_buy_quote_asset_volume = D("371025.78000000"),
                .ignore = D("0"),
                .first_trade_id = 3800397495,
                .last_trade_id = 3800398728,
                .is_closed = closed,
                .event_time = open_time + 1000,
                .receive_time = open_time + 1500};
}

inline DepthSnapshot make_snapshot(std::int64_t last_update_id,
                                   std::string_view symbol = "BTCUSDT") {
  return DepthSnapshot{
      .symbol = S(symbol),
      .last_update_id = last_update_id,
      .bids = {{D("61837.63000000"), D("0.02000000")}, {D("61837.62000000"), D("1.00000000")}},
      .asks = {{D("61837.64000000"), D("0.50000000")}},
      .is_partial = false,
      .event_time = 0,
      .receive_time = 1767225600039409};
}

inline IndicatorValue make_indicator(TimestampUs open_time, double value,
                                     std::string name = "rsi_14") {
  return IndicatorValue{.symbol = S("BTCUSDT"),
                        .interval = Interval::k1m,
                        .name = std::move(name),
                        .open_time = open_time,
                        .value = value};
}

inline TelemetryEvent make_telemetry(std::string queue_id, std::string producer, double timestamp,
                                     std::string status, std::string message = "") {
  return TelemetryEvent{.queue_id = std::move(queue_id),
                        .producer = std::move(producer),
                        .symbol = "BTCUSDT",
                        .type = "trade",
                        .status = std::move(status),
                        .message = std::move(message),
                        .records_written = 42,
                        .finished = false,
                        .timestamp = timestamp,
                        .extra = R"({"k":"v"})"};
}

inline std::string text(const Decimal& d) {
  return d.to_string();
}

inline void expect_same(const Trade& a, const Trade& b) {
  EXPECT_EQ(a.symbol, b.symbol);
  EXPECT_EQ(a.trade_id, b.trade_id);
  EXPECT_EQ(text(a.price), text(b.price));
  EXPECT_EQ(text(a.quantity), text(b.quantity));
  EXPECT_EQ(a.trade_time, b.trade_time);
  EXPECT_EQ(a.event_time, b.event_time);
  EXPECT_EQ(a.receive_time, b.receive_time);
  EXPECT_EQ(a.is_buyer_maker, b.is_buyer_maker);
  EXPECT_EQ(a.is_best_match, b.is_best_match);
}

inline void expect_same(const AggTrade& a, const AggTrade& b) {
  EXPECT_EQ(a.symbol, b.symbol);
  EXPECT_EQ(a.agg_trade_id, b.agg_trade_id);
  EXPECT_EQ(text(a.price), text(b.price));
  EXPECT_EQ(text(a.quantity), text(b.quantity));
  EXPECT_EQ(a.first_trade_id, b.first_trade_id);
  EXPECT_EQ(a.last_trade_id, b.last_trade_id);
  EXPECT_EQ(a.trade_time, b.trade_time);
  EXPECT_EQ(a.event_time, b.event_time);
  EXPECT_EQ(a.receive_time, b.receive_time);
  EXPECT_EQ(a.is_buyer_maker, b.is_buyer_maker);
  EXPECT_EQ(a.is_best_match, b.is_best_match);
}

inline void expect_same(const Candle& a, const Candle& b) {
  EXPECT_EQ(a.symbol, b.symbol);
  EXPECT_EQ(a.interval, b.interval);
  EXPECT_EQ(a.open_time, b.open_time);
  EXPECT_EQ(text(a.open), text(b.open));
  EXPECT_EQ(text(a.high), text(b.high));
  EXPECT_EQ(text(a.low), text(b.low));
  EXPECT_EQ(text(a.close), text(b.close));
  EXPECT_EQ(text(a.volume), text(b.volume));
  EXPECT_EQ(a.close_time, b.close_time);
  EXPECT_EQ(text(a.quote_asset_volume), text(b.quote_asset_volume));
  EXPECT_EQ(a.number_of_trades, b.number_of_trades);
  EXPECT_EQ(text(a.taker_buy_base_asset_volume), text(b.taker_buy_base_asset_volume));
  EXPECT_EQ(text(a.taker_buy_quote_asset_volume), text(b.taker_buy_quote_asset_volume));
  EXPECT_EQ(text(a.ignore), text(b.ignore));
  EXPECT_EQ(a.first_trade_id, b.first_trade_id);
  EXPECT_EQ(a.last_trade_id, b.last_trade_id);
  EXPECT_EQ(a.is_closed, b.is_closed);
  EXPECT_EQ(a.event_time, b.event_time);
  EXPECT_EQ(a.receive_time, b.receive_time);
}

inline void expect_same(const std::vector<PriceLevel>& a, const std::vector<PriceLevel>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(text(a[i].price), text(b[i].price)) << "level " << i;
    EXPECT_EQ(text(a[i].quantity), text(b[i].quantity)) << "level " << i;
  }
}

inline void expect_same(const DepthSnapshot& a, const DepthSnapshot& b) {
  EXPECT_EQ(a.symbol, b.symbol);
  EXPECT_EQ(a.last_update_id, b.last_update_id);
  expect_same(a.bids, b.bids);
  expect_same(a.asks, b.asks);
  EXPECT_EQ(a.is_partial, b.is_partial);
  EXPECT_EQ(a.event_time, b.event_time);
  EXPECT_EQ(a.receive_time, b.receive_time);
}

inline void expect_same(const TelemetryEvent& a, const TelemetryEvent& b) {
  EXPECT_EQ(a.queue_id, b.queue_id);
  EXPECT_EQ(a.producer, b.producer);
  EXPECT_EQ(a.symbol, b.symbol);
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.message, b.message);
  EXPECT_EQ(a.records_written, b.records_written);
  EXPECT_EQ(a.finished, b.finished);
  EXPECT_EQ(a.timestamp, b.timestamp);
  EXPECT_EQ(a.extra, b.extra);
}

inline void expect_same(const WorkflowState& a, const WorkflowState& b) {
  EXPECT_EQ(a.queue_id, b.queue_id);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.definition, b.definition);
  EXPECT_EQ(a.created_at, b.created_at);
  EXPECT_EQ(a.updated_at, b.updated_at);
}

// Unwraps a StoreResult, failing the test with the store's message when it is an error.
#define SF_ASSERT_OK_AND_ASSIGN(lhs, expr)                                                        \
  auto lhs##_result = (expr);                                                                     \
  ASSERT_TRUE(lhs##_result.ok()) << #expr << ": " << to_string(lhs##_result.error().code) << ": " \
                                 << lhs##_result.error().message;                                 \
  auto lhs = std::move(lhs##_result).value()

#define SF_ASSERT_OK(expr)                                                                        \
  do {                                                                                            \
    auto sf_result__ = (expr);                                                                    \
    ASSERT_TRUE(sf_result__.ok()) << #expr << ": " << to_string(sf_result__.error().code) << ": " \
                                  << sf_result__.error().message;                                 \
  } while (0)

}  // namespace sf::store::testing
