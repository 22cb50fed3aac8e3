// wire::Decoder: every record the encoder writes decodes back to the same event (checked by
// re-encoding byte for byte), over real Binance frames; bad records give errors naming the field.
#include "core/wire_decode.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <string>

#include "core/wire.h"
#include "exchange/binance/parse.h"
#include "test_support.h"

namespace sf {
namespace {

std::string reencode(const wire::Decoded& d) {
  std::string out;
  wire::encode(*d.event, out);
  return out;
}

// Round trip over every frame of two real captures: trades, depth diffs, book tickers, partial
// depth; plus REST klines, aggTrades and depth through their own parsers.
// Bus records are outside input: unbalanced JSON is a malformed record, never a crash (simdjson
// 3.0's On Demand lookup read past the end of such documents; issue 16).
TEST(WireDecode, UnbalancedRecordsAreMalformed) {
  wire::Decoder decoder;
  for (const char* bad : {R"({"a":{"b":1})", R"({"v":1,"type":"trade","x":{"u":1})",
                          R"({"v":1,"type":"trade"]})", R"({"v":1,"type":"trade)", "{"}) {
    auto r = decoder.decode(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, wire::WireErrc::kMalformedJson) << bad;
  }
}

TEST(WireDecode, RealFramesRoundTripByteForByte) {
  SF_REQUIRE_SHARED_DATA("hftbacktest_ws_spot/btcusdt_20240808_first5000.frames.jsonl");
  binance::Parser parser;
  wire::Decoder decoder;
  std::map<std::string, int> per_type;
  for (const char* rel : {"hftbacktest_ws_spot/btcusdt_20240808_first5000.frames.jsonl",
                          "cryptofeed_ws_spot_2021-10-12/combined_stream.frames.jsonl"}) {
    auto path = testing::shared_data_dir() / rel;
    if (!std::filesystem::exists(path)) continue;
    std::ifstream in(path);
    std::string line, encoded;
    TimestampUs receive = 1723161254061862;
    while (std::getline(in, line)) {
      auto event = parser.parse_ws_frame(line, receive++);
      if (!event) continue;  // subscription acks and the like
      encoded.clear();
      wire::encode(*event, encoded);
      auto decoded = decoder.decode(encoded);
      ASSERT_TRUE(decoded) << decoded.error().message() << "\n" << encoded;
      ASSERT_TRUE(decoded->event);
      EXPECT_EQ(decoded->type, event_type_name(*event));
      ASSERT_EQ(reencode(*decoded), encoded);
      ++per_type[std::string(decoded->type)];
    }
  }
  EXPECT_GT(per_type["trade"], 100);
  EXPECT_GT(per_type["depth_update"], 100);
  EXPECT_GT(per_type["book_ticker"], 100);
}

TEST(WireDecode, CandleAndAggTradeRoundTrip) {
  const Symbol btc = *Symbol::parse("BTCUSDT");
  auto candle = binance::parse_kline_csv(
      "1593561600000,9138.55000000,9141.24000000,9127.96000000,9131.92000000,93.95000600,"
      "1593561899999,857952.20548418,1364,49.30624900,450235.28418014,0",
      btc, Interval::k5m);
  ASSERT_TRUE(candle);
  std::string encoded;
  wire::encode(*candle, encoded);
  auto decoded = wire::decode(encoded);
  ASSERT_TRUE(decoded) << decoded.error().message();
  EXPECT_EQ(reencode(*decoded), encoded);
  const auto& c = std::get<Candle>(*decoded->event);
  EXPECT_EQ(c.high.to_string(), "9141.24000000");
  EXPECT_EQ(c.number_of_trades, 1364);

  auto agg = binance::parse_agg_trade_csv(
      "3340209400,87648.21000000,0.00034000,5680609536,5680609536,1767225600013609,True,True", btc);
  ASSERT_TRUE(agg) << agg.error().message();
  encoded.clear();
  wire::encode(*agg, encoded);
  auto decoded_agg = wire::decode(encoded);
  ASSERT_TRUE(decoded_agg) << decoded_agg.error().message();
  EXPECT_EQ(reencode(*decoded_agg), encoded);
}

TEST(WireDecode, KeyOrderDoesNotMatterAndUnknownKeysAreIgnored) {
  auto d = wire::decode(
      R"({"seq":7,"extra":{"nested":[1,2]},"quantity":"0.5","price":"100.10","symbol":"ETHUSDT",)"
      R"("type":"trade","is_buyer_maker":false,"timestamp":1000,"trade_id":7,"v":1})");
  ASSERT_TRUE(d) << d.error().message();
  const auto& t = std::get<Trade>(*d->event);
  EXPECT_EQ(t.symbol.view(), "ETHUSDT");
  EXPECT_EQ(t.trade_id, 7);
  EXPECT_EQ(t.price.to_string(), "100.10");
  EXPECT_EQ(t.receive_time, 0);
  EXPECT_FALSE(t.is_best_match.has_value());
}

TEST(WireDecode, GapRecordsAreRecognisedNotMarketEvents) {
  auto d = wire::decode(
      R"({"v":1,"type":"gap","symbol":"BTCUSDT","first_missing_id":11,"last_missing_id":20,"reason":"rest failed"})");
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->type, "gap");
  EXPECT_FALSE(d->event);
  ASSERT_TRUE(d->gap);
  EXPECT_EQ(d->gap->first_missing_id, 11);
  EXPECT_EQ(d->gap->last_missing_id, 20);
  EXPECT_EQ(d->gap->reason, "rest failed");
}

TEST(WireDecode, IndicatorRoundTripKeepsTheDoubleExactly) {
  const IndicatorValue in{*Symbol::parse("BTCUSDT"), Interval::k5m, "rsi_14", 1641427200000000,
                          51.234567890123456};
  std::string encoded;
  wire::encode(in, encoded);
  EXPECT_NE(encoded.find(R"("type":"indicator")"), std::string::npos) << encoded;
  auto d = wire::decode(encoded);
  ASSERT_TRUE(d) << d.error().message() << " " << encoded;
  ASSERT_TRUE(d->indicator);
  EXPECT_EQ(d->indicator->name, "rsi_14");
  EXPECT_EQ(d->indicator->interval, Interval::k5m);
  EXPECT_EQ(d->indicator->open_time, 1641427200000000);
  EXPECT_EQ(d->indicator->value, in.value);  // shortest round-trip text is exact
}

struct BadCase {
  const char* json;
  wire::WireErrc code;
  const char* field;
};

TEST(WireDecode, BadRecordsNameTheProblem) {
  const BadCase cases[] = {
      {"not json", wire::WireErrc::kMalformedJson, ""},
      {"[1,2]", wire::WireErrc::kMalformedJson, ""},
      {R"({"v":1,"type":"trade","symbol":"BTCUSDT")", wire::WireErrc::kMalformedJson, ""},
      {R"({"v":1,"symbol":"BTCUSDT"})", wire::WireErrc::kMissingField, "type"},
      {R"({"v":2,"type":"trade"})", wire::WireErrc::kUnsupportedVersion, "v"},
      {R"({"v":1,"type":"trades"})", wire::WireErrc::kUnknownType, "type"},
      {R"({"v":1,"type":"trade","symbol":"BTCUSDT","trade_id":1,"quantity":"1","timestamp":1,"is_buyer_maker":true})",
       wire::WireErrc::kMissingField, "price"},
      {R"({"v":1,"type":"trade","symbol":"BTCUSDT","trade_id":1,"price":1.5,"quantity":"1","timestamp":1,"is_buyer_maker":true})",
       wire::WireErrc::kWrongType, "price"},
      {R"({"v":1,"type":"trade","symbol":"BTCUSDT","trade_id":1,"price":"1.x","quantity":"1","timestamp":1,"is_buyer_maker":true})",
       wire::WireErrc::kBadValue, "price"},
      {R"({"v":1,"type":"trade","symbol":"BTCUSDT","trade_id":"1","price":"1","quantity":"1","timestamp":1,"is_buyer_maker":true})",
       wire::WireErrc::kWrongType, "trade_id"},
      {R"({"v":1,"type":"trade","symbol":"BTC USDT!","trade_id":1,"price":"1","quantity":"1","timestamp":1,"is_buyer_maker":true})",
       wire::WireErrc::kBadValue, "symbol"},
      {R"({"v":1,"type":"candle","symbol":"BTCUSDT","interval":"7m","open_time":0,"open":"1","high":"1","low":"1","close":"1","volume":"1","close_time":1,"quote_asset_volume":"1","number_of_trades":1,"taker_buy_base_asset_volume":"1","taker_buy_quote_asset_volume":"1"})",
       wire::WireErrc::kBadValue, "interval"},
      {R"({"v":1,"type":"depth_update","symbol":"BTCUSDT","first_update_id":1,"final_update_id":2,"bids":[["1"]],"asks":[]})",
       wire::WireErrc::kBadValue, "bids"},
  };
  wire::Decoder decoder;
  for (const auto& c : cases) {
    auto d = decoder.decode(c.json);
    ASSERT_FALSE(d) << c.json;
    EXPECT_EQ(d.error().code, c.code) << c.json << " -> " << d.error().message();
    EXPECT_EQ(d.error().field, c.field) << c.json << " -> " << d.error().message();
    EXPECT_FALSE(d.error().message().empty());
  }
  // The decoder recovers after errors.
  auto ok = decoder.decode(
      R"({"v":1,"type":"trade","symbol":"BTCUSDT","trade_id":1,"price":"1","quantity":"1","timestamp":1,"is_buyer_maker":true})");
  EXPECT_TRUE(ok);
}

}  // namespace
}  // namespace sf
