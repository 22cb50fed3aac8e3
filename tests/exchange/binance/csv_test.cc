#include <gtest/gtest.h>

#include "exchange/binance/parse.h"

namespace sf::binance {
namespace {

const Symbol kBtc = *Symbol::parse("BTCUSDT");

TEST(Csv, KlineMillisecondEra) {
  auto c = parse_kline_csv(
      "1593561600000,9138.08000000,9138.16000000,9100.00000000,9117.23000000,365.82786000,"
      "1593561899999,3333795.23051561,3437,143.86467300,1311043.45651440,0",
      kBtc, Interval::k5m);
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->open_time, 1593561600000000);
  EXPECT_EQ(c->close_time, 1593561899999000);
  EXPECT_EQ(c->quote_asset_volume.to_string(), "3333795.23051561");
  EXPECT_EQ(c->number_of_trades, 3437);
}

TEST(Csv, AggTradeMicrosecondEra) {
  auto t = parse_agg_trade_csv(
      "3800397495,87648.21000000,0.08185000,5723703861,5723703861,1767225600039409,True,True\r",
      kBtc);
  ASSERT_TRUE(t.ok()) << t.error().message();
  EXPECT_EQ(t->trade_time, 1767225600039409);
  EXPECT_EQ(t->agg_trade_id, 3800397495);
  EXPECT_TRUE(t->is_buyer_maker);
}

TEST(Csv, TradeMicrosecondEra) {
  auto t = parse_trade_csv("51175358,17.80180000,5.69000000,101.29224200,1735689600010866,True,True", kBtc);
  ASSERT_TRUE(t.ok()) << t.error().message();
  EXPECT_EQ(t->trade_time, 1735689600010866);
  EXPECT_EQ(t->quantity.to_string(), "5.69000000");
}

TEST(Csv, BadRowsNameTheColumn) {
  auto few = parse_agg_trade_csv("1,2,3", kBtc);
  ASSERT_FALSE(few.ok());
  EXPECT_EQ(few.error().code, ParseErrc::kBadCsv);
  auto many = parse_trade_csv("1,2,3,4,5,True,True,extra", kBtc);
  ASSERT_FALSE(many.ok());
  auto bad_bool = parse_agg_trade_csv("1,1.0,1.0,1,1,1767225600039409,Yes,True", kBtc);
  ASSERT_FALSE(bad_bool.ok());
  EXPECT_EQ(bad_bool.error().field, "column 6");
  auto bad_price = parse_agg_trade_csv("1,abc,1.0,1,1,1767225600039409,True,True", kBtc);
  ASSERT_FALSE(bad_price.ok());
  EXPECT_EQ(bad_price.error().field, "column 1");
  auto header = parse_kline_csv("open_time,open,high,low,close,volume,close_time,quote_volume,count,"
                                "taker_buy_volume,taker_buy_quote_volume,ignore",
                                kBtc, Interval::k1m);
  ASSERT_FALSE(header.ok());  // futures-style header rows are rejected, not misread
}

}  // namespace
}  // namespace sf::binance
