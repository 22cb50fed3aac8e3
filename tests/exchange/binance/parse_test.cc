// Golden-payload tests: real Binance frames (from ../shared/data and Binance's docs) through the
// parser, plus every class of bad input.
#include "exchange/binance/parse.h"

#include <gtest/gtest.h>

#include "core/wire.h"

namespace sf::binance {
namespace {

const Symbol kBtc = *Symbol::parse("BTCUSDT");

template <class T>
const T& as(const ParseResult<MarketEvent>& r) {
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
  EXPECT_TRUE(std::holds_alternative<T>(r.value()));
  return std::get<T>(r.value());
}

TEST(ParseWs, RawTrade2024) {
  Parser p;
  auto r = p.parse_ws_frame(
      R"({"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true})",
      1723161254061862);
  const auto& t = as<Trade>(r);
  EXPECT_EQ(t.symbol, kBtc);
  EXPECT_EQ(t.trade_id, 3735683259);
  EXPECT_EQ(t.price.to_string(), "61837.63000000");
  EXPECT_EQ(t.quantity.to_string(), "0.02000000");
  EXPECT_EQ(t.trade_time, 1723161255342000);
  EXPECT_EQ(t.event_time, 1723161255343000);
  EXPECT_EQ(t.receive_time, 1723161254061862);
  EXPECT_TRUE(t.is_buyer_maker);
  EXPECT_EQ(t.is_best_match, true);
  EXPECT_EQ(t.sequence_id(), 3735683259);
}

TEST(ParseWs, CombinedTrade2023IgnoresRemovedOrderIdKeys) {
  // 2023 frames still carry buyer/seller order ids b and a (removed 2024-06-18).
  Parser p;
  auto r = p.parse_ws_frame(
      R"({"stream":"btcusdt@trade","data":{"e":"trade","E":1680652800000,"s":"BTCUSDT","t":3071245454,"p":"28165.47000000","q":"0.00056000","b":20720542158,"a":20720542592,"T":1680652799999,"m":true,"M":true}})",
      0);
  const auto& t = as<Trade>(r);
  EXPECT_EQ(t.trade_id, 3071245454);
  EXPECT_EQ(t.price.to_string(), "28165.47000000");
}

TEST(ParseWs, UnknownKeysAnywhereAreIgnored) {
  Parser p;
  auto r = p.parse_ws_frame(
      R"({"e":"trade","E":1,"s":"BTCUSDT","zz":{"nested":[1,2,{"x":"y"}]},"t":1,"p":"1.0","q":"2.0","T":2,"m":false,"future":null})",
      0);
  EXPECT_EQ(as<Trade>(r).quantity.to_string(), "2.0");
}

TEST(ParseWs, AggTrade) {
  Parser p;
  auto r = p.parse_ws_frame(
      R"({"stream":"nknusdt@aggTrade","data":{"e":"aggTrade","E":1633998523963,"s":"NKNUSDT","a":15683430,"p":"0.35280000","q":"58.00000000","f":19862790,"l":19862790,"T":1633998523963,"m":false,"M":true}})",
      0);
  const auto& t = as<AggTrade>(r);
  EXPECT_EQ(t.symbol.view(), "NKNUSDT");
  EXPECT_EQ(t.agg_trade_id, 15683430);
  EXPECT_EQ(t.first_trade_id, 19862790);
  EXPECT_EQ(t.last_trade_id, 19862790);
  EXPECT_FALSE(t.is_buyer_maker);
}

TEST(ParseWs, Kline) {
  Parser p;
  auto r = p.parse_ws_frame(
      R"({"e":"kline","E":1633998534486,"s":"LRCBTC","k":{"t":1633998480000,"T":1633998539999,"s":"LRCBTC","i":"1m","f":12368013,"L":12368013,"o":"0.00000638","c":"0.00000638","h":"0.00000638","l":"0.00000638","v":"177.00000000","n":1,"x":false,"q":"0.00112926","V":"177.00000000","Q":"0.00112926","B":"0"}})",
      0);
  const auto& c = as<Candle>(r);
  EXPECT_EQ(c.interval, Interval::k1m);
  EXPECT_EQ(c.open_time, 1633998480000000);
  EXPECT_EQ(c.close_time, 1633998539999000);
  EXPECT_EQ(c.open.to_string(), "0.00000638");
  EXPECT_EQ(c.quote_asset_volume.to_string(), "0.00112926");
  EXPECT_EQ(c.number_of_trades, 1);
  EXPECT_EQ(c.first_trade_id, 12368013);
  EXPECT_FALSE(c.is_closed);
}

TEST(ParseWs, DepthUpdateWith64BitIdsAndZeroQuantityDeletes) {
  Parser p;
  auto r = p.parse_ws_frame(
      R"({"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1723161264913,"s":"BTCUSDT","U":50093243591,"u":50093243592,"b":[],"a":[["61840.38000000","0.05025000"],["61840.39000000","0.00000000"]]}})",
      0);
  const auto& d = as<DepthUpdate>(r);
  EXPECT_EQ(d.first_update_id, 50093243591);
  EXPECT_EQ(d.final_update_id, 50093243592);
  EXPECT_FALSE(d.prev_final_update_id.has_value());
  EXPECT_TRUE(d.bids.empty());
  ASSERT_EQ(d.asks.size(), 2u);
  EXPECT_TRUE(d.asks[1].quantity.is_zero());
  EXPECT_EQ(d.asks[1].quantity.to_string(), "0.00000000");
}

TEST(ParseWs, FuturesDepthUpdateKeepsPu) {
  Parser p;
  auto r = p.parse_ws_frame(
      R"({"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":10,"u":12,"pu":9,"b":[["1.0","2.0"]],"a":[]})",
      0);
  EXPECT_EQ(as<DepthUpdate>(r).prev_final_update_id, 9);
}

TEST(ParseWs, SpotBookTickerHasNoEventType) {
  Parser p;
  auto r = p.parse_ws_frame(
      R"({"u":50093239212,"s":"BTCUSDT","b":"61837.63000000","B":"3.78826000","a":"61837.64000000","A":"1.54698000"})",
      5);
  const auto& b = as<BookTicker>(r);
  EXPECT_EQ(b.update_id, 50093239212);
  EXPECT_EQ(b.bid_quantity.to_string(), "3.78826000");
  EXPECT_EQ(b.ask_price.to_string(), "61837.64000000");
  EXPECT_EQ(b.event_time, 0);
}

TEST(ParseWs, PartialDepthTakesSymbolFromStreamOrHint) {
  Parser p;
  const char* body = R"({"lastUpdateId":160,"bids":[["0.0024","10"]],"asks":[["0.0026","100"]]})";
  auto combined =
      p.parse_ws_frame(std::string(R"({"stream":"bnbbtc@depth5@100ms","data":)") + body + "}", 0);
  const auto& s = as<DepthSnapshot>(combined);
  EXPECT_EQ(s.symbol.view(), "BNBBTC");
  EXPECT_TRUE(s.is_partial);
  EXPECT_EQ(s.bids[0].price.to_string(), "0.0024");
  auto raw_without_hint = p.parse_ws_frame(body, 0);
  ASSERT_FALSE(raw_without_hint.ok());
  EXPECT_EQ(raw_without_hint.error().code, ParseErrc::kMissingField);
  Symbol hint = *Symbol::parse("BNBBTC");
  EXPECT_EQ(as<DepthSnapshot>(p.parse_ws_frame(body, 0, &hint)).last_update_id, 160);
}

TEST(ParseWs, MicrosecondTimeUnitFrames) {
  Parser p;
  auto r = p.parse_ws_frame(
      R"({"e":"trade","E":1767225600039500,"s":"BTCUSDT","t":1,"p":"1","q":"1","T":1767225600039409,"m":true,"M":true})",
      0);
  EXPECT_EQ(as<Trade>(r).trade_time, 1767225600039409);
}

struct BadFrame {
  const char* name;
  const char* frame;
  ParseErrc code;
  const char* field;
};

class ParseWsBadInput : public ::testing::TestWithParam<BadFrame> {};

TEST_P(ParseWsBadInput, ReturnsErrorNamingFieldAndReason) {
  Parser p;
  const auto& c = GetParam();
  auto r = p.parse_ws_frame(c.frame, 0);
  ASSERT_FALSE(r.ok()) << c.name;
  EXPECT_EQ(r.error().code, c.code) << c.name << ": " << r.error().message();
  EXPECT_EQ(r.error().field, c.field) << c.name << ": " << r.error().message();
  EXPECT_FALSE(r.error().message().empty());
}

constexpr const char* kGood =
    R"({"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true})";

INSTANTIATE_TEST_SUITE_P(
    Cases, ParseWsBadInput,
    ::testing::Values(
        BadFrame{"not_json", "hello", ParseErrc::kMalformedJson, ""},
        BadFrame{"empty", "", ParseErrc::kMalformedJson, ""},
        BadFrame{"array", "[1,2]", ParseErrc::kMalformedJson, ""},
        // Regressions (issue 16): unbalanced objects without an event type crashed the parser
        // (SIGSEGV in simdjson's On Demand field lookup).
        BadFrame{"unbalanced_nested", R"({"a":{"b":1})", ParseErrc::kMalformedJson, ""},
        BadFrame{"unbalanced_no_event", R"({"x":"y","d":{"u":1})", ParseErrc::kMalformedJson, ""},
        BadFrame{"unbalanced_snapshot", R"({"lastUpdateId":1,"bids":[["1","2"],"asks":[]})",
                 ParseErrc::kMalformedJson, ""},
        BadFrame{"mismatched_close", R"({"e":"trade","E":1])", ParseErrc::kMalformedJson, ""},
        BadFrame{"unbalanced_combined", R"({"stream":"btcusdt@trade","data":{"u":{"b":1})",
                 ParseErrc::kMalformedJson, ""},
        BadFrame{"truncated",
                 R"({"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,"p":"61837.6)",
                 ParseErrc::kMalformedJson, ""},
        BadFrame{
            "truncated_combined",
            R"({"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1","q":"1","T":1,"m":true)",
            ParseErrc::kMalformedJson, ""},
        BadFrame{"price_as_number",
                 R"({"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":61837.63,"q":"1","T":1,"m":true})",
                 ParseErrc::kWrongType, "p"},
        BadFrame{"id_as_string",
                 R"({"e":"trade","E":1,"s":"BTCUSDT","t":"1","p":"1","q":"1","T":1,"m":true})",
                 ParseErrc::kWrongType, "t"},
        BadFrame{"bool_as_string",
                 R"({"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1","q":"1","T":1,"m":"true"})",
                 ParseErrc::kWrongType, "m"},
        BadFrame{"bad_decimal",
                 R"({"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1.2.3","q":"1","T":1,"m":true})",
                 ParseErrc::kBadValue, "p"},
        BadFrame{"missing_price",
                 R"({"e":"trade","E":1,"s":"BTCUSDT","t":1,"q":"1","T":1,"m":true})",
                 ParseErrc::kMissingField, "p"},
        BadFrame{
            "id_beyond_int64",
            R"({"e":"trade","E":1,"s":"BTCUSDT","t":99999999999999999999,"p":"1","q":"1","T":1,"m":true})",
            ParseErrc::kBadValue, "t"},
        BadFrame{"bad_symbol",
                 R"({"e":"trade","E":1,"s":"BTC USDT","t":1,"p":"1","q":"1","T":1,"m":true})",
                 ParseErrc::kBadValue, "s"},
        BadFrame{"unknown_event", R"({"e":"24hrTicker","E":1,"s":"BTCUSDT"})",
                 ParseErrc::kUnknownEvent, "e"},
        BadFrame{
            "bad_interval",
            R"({"e":"kline","E":1,"s":"X","k":{"t":1,"T":2,"i":"7m","o":"1","h":"1","l":"1","c":"1","v":"1","n":1,"x":true,"q":"1","V":"1","Q":"1"}})",
            ParseErrc::kBadValue, "k.i"},
        BadFrame{"bad_level",
                 R"({"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[["1.0"]],"a":[]})",
                 ParseErrc::kBadValue, "b"},
        BadFrame{"stream_without_data", R"({"stream":"btcusdt@trade"})", ParseErrc::kMissingField,
                 "data"},
        BadFrame{"bad_stream_name", R"({"stream":"nonsense","data":{}})", ParseErrc::kBadValue,
                 "stream"},
        BadFrame{"trailing_garbage", R"({"u":1,"s":"BTCUSDT","b":"1","B":"1","a":"1","A":"1"} x)",
                 ParseErrc::kMalformedJson, ""}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(ParseWs, ParserRecoversAfterErrors) {
  Parser p;
  EXPECT_FALSE(p.parse_ws_frame("{\"e\":", 0).ok());
  EXPECT_TRUE(p.parse_ws_frame(kGood, 0).ok());
}

TEST(ParseRest, Klines) {
  Parser p;
  auto r = p.parse_rest_klines(
      R"([[1499040000000,"0.01634790","0.80000000","0.01575800","0.01577100","148976.11427815",1499644799999,"2434.19055334",308,"1756.87402397","28.46694368","0"]])",
      kBtc, Interval::k1w);
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_EQ(r->size(), 1u);
  const auto& c = (*r)[0];
  EXPECT_EQ(c.open.to_string(), "0.01634790");
  EXPECT_EQ(c.close_time, 1499644799999000);
  EXPECT_EQ(c.number_of_trades, 308);
  EXPECT_EQ(c.taker_buy_quote_asset_volume.to_string(), "28.46694368");
  EXPECT_TRUE(c.is_closed);
  auto short_row = p.parse_rest_klines(R"([[1499040000000,"1","1"]])", kBtc, Interval::k1w);
  ASSERT_FALSE(short_row.ok());
  EXPECT_EQ(short_row.error().code, ParseErrc::kBadValue);
}

TEST(ParseRest, AggTradesAndTrades) {
  Parser p;
  auto agg = p.parse_rest_agg_trades(
      R"([{"a":4064947752,"p":"75940.50000000","q":"0.00200000","f":6685595042,"l":6685595042,"T":1789525800105,"m":false,"M":true}])",
      kBtc);
  ASSERT_TRUE(agg.ok()) << agg.error().message();
  EXPECT_EQ((*agg)[0].agg_trade_id, 4064947752);
  EXPECT_EQ((*agg)[0].first_trade_id, 6685595042);
  auto trades = p.parse_rest_trades(
      R"([{"id":28457,"price":"4.00000100","qty":"12.00000000","quoteQty":"48.000012","time":1499865549590,"isBuyerMaker":true,"isBestMatch":true}])",
      kBtc);
  ASSERT_TRUE(trades.ok()) << trades.error().message();
  EXPECT_EQ((*trades)[0].price.to_string(), "4.00000100");
  auto missing =
      p.parse_rest_trades(R"([{"id":1,"price":"1","time":1,"isBuyerMaker":true}])", kBtc);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().field, "qty");
}

TEST(ParseRest, DepthSnapshotAndErrorBody) {
  Parser p;
  auto snap = p.parse_rest_depth(
      R"({"lastUpdateId":1027024,"bids":[["4.00000000","431.00000000"]],"asks":[["4.00000200","12.00000000"]]})",
      kBtc, 7);
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->last_update_id, 1027024);
  EXPECT_FALSE(snap->is_partial);
  EXPECT_EQ(snap->asks[0].price.to_string(), "4.00000200");
  auto err = p.parse_api_error(R"({"code":-1121,"msg":"Invalid symbol."})");
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(err->code, -1121);
  EXPECT_EQ(err->msg, "Invalid symbol.");
  EXPECT_FALSE(p.parse_api_error(R"({"lastUpdateId":1})").ok());
}

TEST(ParseRest, ExchangeInfoFilters) {
  Parser p;
  auto info = p.parse_exchange_info(
      R"({"timezone":"UTC","serverTime":1670769464853,"rateLimits":[{"rateLimitType":"REQUEST_WEIGHT","interval":"MINUTE","intervalNum":1,"limit":1200}],"exchangeFilters":[],"symbols":[{"symbol":"BTCUSDT","status":"TRADING","baseAsset":"BTC","baseAssetPrecision":8,"quoteAsset":"USDT","quoteAssetPrecision":8,"filters":[{"filterType":"PRICE_FILTER","minPrice":"0.01000000","maxPrice":"1000000.00000000","tickSize":"0.01000000"},{"filterType":"LOT_SIZE","minQty":"0.00001000","maxQty":"9000.00000000","stepSize":"0.00001000"},{"filterType":"MIN_NOTIONAL","minNotional":"10.00000000","applyToMarket":true,"avgPriceMins":5}]}]})");
  ASSERT_TRUE(info.ok()) << info.error().message();
  ASSERT_EQ(info->symbols.size(), 1u);
  const auto& s = info->symbols[0];
  EXPECT_EQ(s.tick_size.to_string(), "0.01000000");
  EXPECT_EQ(s.step_size.to_string(), "0.00001000");
  EXPECT_EQ(s.min_notional.to_string(), "10.00000000");
  EXPECT_EQ(info->rate_limits[0].limit, 1200);
}

TEST(Wire, TradeRecordMatchesDocumentedSchema) {
  Parser p;
  auto r = p.parse_ws_frame(kGood, 1723161254061862);
  std::string out;
  wire::encode(r.value(), out);
  EXPECT_EQ(
      out,
      R"({"v":1,"type":"trade","symbol":"BTCUSDT","trade_id":3735683259,"price":"61837.63000000","quantity":"0.02000000","timestamp":1723161255342000,"is_buyer_maker":true,"is_best_match":true,"event_time":1723161255343000,"receive_time":1723161254061862,"seq":3735683259})");
}

}  // namespace
}  // namespace sf::binance
