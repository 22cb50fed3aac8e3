// data.binance.vision paths, file planning and CHECKSUM parsing: pure functions, no files.
#include "exchange/binance/vision/layout.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "exchange/binance/vision/checksum.h"

namespace sf::binance {
namespace {

TimestampUs date(const char* text) {
  TimestampUs t = 0;
  EXPECT_TRUE(parse_date(text, &t)) << text;
  return t;
}

VisionRequest klines(const char* symbol, Interval interval, TimestampUs from, TimestampUs to) {
  return {.symbol = *Symbol::parse(symbol),
          .kind = VisionKind::kKlines,
          .interval = interval,
          .from = from,
          .to = to};
}

std::vector<std::string> names(const std::vector<VisionFile>& files) {
  std::vector<std::string> out;
  for (const auto& f : files) out.push_back(f.name);
  return out;
}

TEST(VisionLayout, PathsFollowBinance) {
  auto request = klines("btcusdt", Interval::k5m, date("2020-07-01"), date("2020-07-02"));
  auto daily = vision_file(request, VisionPeriod::kDaily, date("2020-07-01"));
  EXPECT_EQ(daily.relative_path, "data/spot/daily/klines/BTCUSDT/5m/BTCUSDT-5m-2020-07-01.zip");
  EXPECT_EQ(daily.name, "BTCUSDT-5m-2020-07-01.zip");
  EXPECT_EQ(daily.start, date("2020-07-01"));
  EXPECT_EQ(daily.end, date("2020-07-02"));

  request.interval = Interval::k1M;
  auto monthly = vision_file(request, VisionPeriod::kMonthly, date("2024-02-01"));
  EXPECT_EQ(monthly.relative_path, "data/spot/monthly/klines/BTCUSDT/1mo/BTCUSDT-1mo-2024-02.zip");
  EXPECT_EQ(monthly.end, date("2024-03-01"));  // leap February: 29 days

  VisionRequest agg{.symbol = *Symbol::parse("BTCUSDT"),
                    .kind = VisionKind::kAggTrades,
                    .from = date("2017-08-17"),
                    .to = date("2017-08-18")};
  EXPECT_EQ(vision_file(agg, VisionPeriod::kDaily, date("2017-08-17")).relative_path,
            "data/spot/daily/aggTrades/BTCUSDT/BTCUSDT-aggTrades-2017-08-17.zip");
  VisionRequest trades = agg;
  trades.kind = VisionKind::kTrades;
  EXPECT_EQ(vision_file(trades, VisionPeriod::kMonthly, date("2024-12-01")).relative_path,
            "data/spot/monthly/trades/BTCUSDT/BTCUSDT-trades-2024-12.zip");
}

TEST(VisionLayout, IntervalNamesUseMoForMonths) {
  EXPECT_EQ(vision_interval_name(Interval::k1M), "1mo");
  EXPECT_EQ(vision_interval_name(Interval::k1s), "1s");
  EXPECT_EQ(vision_interval_name(Interval::k1w), "1w");
}

TEST(VisionLayout, DaysOnlyWhenNoMonthIsWhole) {
  auto files =
      plan_vision_files(klines("BTCUSDT", Interval::k5m, date("2020-07-01"), date("2020-07-10")));
  ASSERT_EQ(files.size(), 9u);
  EXPECT_EQ(files.front().name, "BTCUSDT-5m-2020-07-01.zip");
  EXPECT_EQ(files.back().name, "BTCUSDT-5m-2020-07-09.zip");  // `to` is exclusive
  for (const auto& f : files) EXPECT_EQ(f.period, VisionPeriod::kDaily);
}

TEST(VisionLayout, WholeMonthsUseMonthlyFiles) {
  auto files =
      plan_vision_files(klines("BTCUSDT", Interval::k1h, date("2019-12-01"), date("2020-02-01")));
  EXPECT_EQ(names(files),
            (std::vector<std::string>{"BTCUSDT-1h-2019-12.zip", "BTCUSDT-1h-2020-01.zip"}));
}

TEST(VisionLayout, PartialDaysWidenToWholeDaysAroundMonths) {
  // 2020-01-30 12:00 .. 2020-03-01 00:00:00.000001: the range touches 30 and 31 January, the
  // whole of February, and the first microsecond of 1 March.
  auto files =
      plan_vision_files(klines("BTCUSDT", Interval::k15m, date("2020-01-30") + 12 * 3'600'000'000LL,
                               date("2020-03-01") + 1));
  EXPECT_EQ(names(files),
            (std::vector<std::string>{"BTCUSDT-15m-2020-01-30.zip", "BTCUSDT-15m-2020-01-31.zip",
                                      "BTCUSDT-15m-2020-02.zip", "BTCUSDT-15m-2020-03-01.zip"}));
  EXPECT_EQ(files[2].period, VisionPeriod::kMonthly);
  EXPECT_EQ(files[2].end, date("2020-03-01"));
}

TEST(VisionLayout, DailyFilesOfAMonthStayInsideTheRange) {
  auto request = klines("BTCUSDT", Interval::k15m, date("2020-03-30"), date("2020-04-03"));
  auto monthly = vision_file(request, VisionPeriod::kMonthly, date("2020-03-01"));
  EXPECT_EQ(names(daily_files_of_month(request, monthly)),
            (std::vector<std::string>{"BTCUSDT-15m-2020-03-30.zip", "BTCUSDT-15m-2020-03-31.zip"}));
  request.from = date("2020-01-01");
  EXPECT_EQ(daily_files_of_month(request, monthly).size(), 31u);
}

TEST(VisionLayout, NextMonthWrapsTheYear) {
  EXPECT_EQ(next_month_start(date("2019-12-31") + 5), date("2020-01-01"));
  EXPECT_EQ(next_month_start(date("2020-01-01")), date("2020-02-01"));
  EXPECT_EQ(next_month_start(date("2023-02-15")), date("2023-03-01"));
}

TEST(VisionLayout, InvalidRequestsAreConfigErrors) {
  auto request = klines("BTCUSDT", Interval::k5m, date("2020-07-02"), date("2020-07-02"));
  auto empty = validate(request);
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().code, VisionErrc::kConfig);

  request.to = date("2020-07-03");
  request.interval.reset();
  EXPECT_FALSE(validate(request).ok());  // klines need an interval

  request.kind = VisionKind::kTrades;
  EXPECT_TRUE(validate(request).ok());
  request.interval = Interval::k1m;
  EXPECT_FALSE(validate(request).ok());  // ...and only klines take one

  EXPECT_FALSE(validate(VisionRequest{.kind = VisionKind::kTrades, .from = 0, .to = 1}).ok());
}

TEST(VisionChecksum, ParsesSha256sumLines) {
  const std::string digest = "45c01d8f72dab068f3e42a0a135f042821ebe464245d394127cd958cd988568f";
  const std::string name = "ETHUSDT-1m-2022-08-14.zip";
  auto text_mode = parse_checksum_line(digest + "  " + name + "\n", name, "x.CHECKSUM");
  ASSERT_TRUE(text_mode.ok()) << text_mode.error().to_string();
  EXPECT_EQ(*text_mode, digest);

  std::string upper = digest;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto binary_mode = parse_checksum_line(upper + " *" + name + "\r\n", name, "x.CHECKSUM");
  ASSERT_TRUE(binary_mode.ok());
  EXPECT_EQ(*binary_mode, digest);  // lower-cased

  EXPECT_TRUE(parse_checksum_line(digest, name, "x.CHECKSUM").ok());  // a bare digest
  EXPECT_TRUE(parse_checksum_line(digest + "  ./some/dir/" + name, name, "x").ok());
}

TEST(VisionChecksum, RejectsMalformedOrForeignLines) {
  const std::string digest = "45c01d8f72dab068f3e42a0a135f042821ebe464245d394127cd958cd988568f";
  const std::string name = "ETHUSDT-1m-2022-08-14.zip";
  std::string not_hex = digest + "  " + name;
  not_hex[0] = 'g';
  std::string too_short = digest + "  " + name;
  too_short.erase(63, 1);
  for (const std::string& text : {std::string("not a checksum"), too_short, not_hex,
                                  digest + "0  " + name, digest + "  ETHUSDT-1m-2022-08-15.zip"}) {
    auto parsed = parse_checksum_line(text, name, "/m/x.CHECKSUM");
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_EQ(parsed.error().code, VisionErrc::kBadChecksumFile) << text;
    EXPECT_EQ(parsed.error().location, "/m/x.CHECKSUM");
  }
}

TEST(VisionError, TextNamesCodeFileAndLine) {
  VisionError error{.code = VisionErrc::kBadRow,
                    .location = "/m/BTCUSDT-1h-2022-09-07.zip",
                    .line = 5,
                    .message = "column 1: bad_character"};
  EXPECT_EQ(error.to_string(),
            "bad_row: /m/BTCUSDT-1h-2022-09-07.zip line 5: column 1: bad_character");
  EXPECT_STREQ(to_string(VisionErrc::kChecksumMismatch), "checksum_mismatch");
}

}  // namespace
}  // namespace sf::binance
