#include "core/decimal.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace sf {
namespace {

Decimal D(std::string_view s) {
  auto r = Decimal::parse(s);
  EXPECT_TRUE(r.ok()) << s;
  return r.value();
}

TEST(Decimal, RoundTripsBinanceStringsByteIdentical) {
  for (const char* s : {"61837.63000000", "0.00000000", "0.02000000", "1000000.00000000",
                        "0.00000001", "48.000012", "-1.5", "8733.91139481", "0", "12",
                        "99999999999999999999999999999.99999999"}) {
    EXPECT_EQ(D(s).to_string(), s);
  }
}

TEST(Decimal, KeepsScaleAsWritten) {
  auto d = D("61837.63000000");
  EXPECT_EQ(d.scale(), 8);
  EXPECT_EQ(static_cast<long long>(d.mantissa()), 6183763000000LL);
  EXPECT_EQ(D("1.0"), D("1.00"));
  EXPECT_FALSE(D("1.0").identical(D("1.00")));
}

TEST(Decimal, RejectsMalformedText) {
  EXPECT_EQ(Decimal::parse("").error(), DecimalErrc::kEmpty);
  EXPECT_EQ(Decimal::parse("1e5").error(), DecimalErrc::kBadCharacter);
  EXPECT_EQ(Decimal::parse("1.2.3").error(), DecimalErrc::kBadCharacter);
  EXPECT_EQ(Decimal::parse("-").error(), DecimalErrc::kNoDigits);
  EXPECT_EQ(Decimal::parse(".").error(), DecimalErrc::kNoDigits);
  EXPECT_EQ(Decimal::parse(" 1").error(), DecimalErrc::kBadCharacter);
  EXPECT_EQ(Decimal::parse("0.0000000000000000001").error(), DecimalErrc::kTooManyDigits);
  EXPECT_EQ(Decimal::parse("123456789012345678901234567890123456789").error(),
            DecimalErrc::kTooManyDigits);
  EXPECT_TRUE(Decimal::parse("12345678901234567890123456789012345678").ok());
}

TEST(Decimal, AdditionIsExactAcrossScales) {
  EXPECT_EQ((D("0.1") + D("0.2")).to_string(), "0.3");
  EXPECT_EQ((D("61837.63000000") + D("0.01")).to_string(), "61837.64000000");
  EXPECT_EQ((D("1") - D("1.00000001")).to_string(), "-0.00000001");
  // Ten million additions of 0.1 stay exact (a double would drift).
  Decimal sum;
  Decimal tenth = D("0.1");
  for (int i = 0; i < 10'000'000; ++i) sum += tenth;
  EXPECT_EQ(sum, D("1000000"));
}

TEST(Decimal, MultiplicationForQuoteVolume) {
  // price * qty with 8+8 decimals stays exact at scale 16.
  EXPECT_EQ((D("61837.63000000") * D("0.02000000")).normalized().to_string(), "1236.7526");
  // Values that overflow int64 mantissas (meme-coin base volumes) stay exact.
  auto big = D("12345678901234.12345678") * D("1000.00000000");
  EXPECT_EQ(big.normalized().to_string(), "12345678901234123.45678");
  // Scale beyond 18 rounds half-even.
  auto r = D("0.0000000001") * D("0.0000000005");  // 5e-20 -> 0 at 18 digits (half-even)
  EXPECT_EQ(r.scale(), 18);
  EXPECT_TRUE(r.is_zero());
}

TEST(Decimal, DivisionRoundsHalfEven) {
  Decimal out;
  ASSERT_TRUE(Decimal::divide(D("1"), D("3"), 8, &out));
  EXPECT_EQ(out.to_string(), "0.33333333");
  ASSERT_TRUE(Decimal::divide(D("2"), D("3"), 8, &out));
  EXPECT_EQ(out.to_string(), "0.66666667");
  ASSERT_TRUE(Decimal::divide(D("0.125"), D("1"), 2, &out));
  EXPECT_EQ(out.to_string(), "0.12");  // tie -> even
  ASSERT_TRUE(Decimal::divide(D("0.135"), D("1"), 2, &out));
  EXPECT_EQ(out.to_string(), "0.14");  // tie -> even
  ASSERT_TRUE(Decimal::divide(D("-0.125"), D("1"), 2, &out, Rounding::kHalfUp));
  EXPECT_EQ(out.to_string(), "-0.13");
  ASSERT_TRUE(Decimal::divide(D("-7"), D("2"), 0, &out, Rounding::kDown));
  EXPECT_EQ(out.to_string(), "-3");
  EXPECT_FALSE(Decimal::divide(D("1"), D("0.000"), 8, &out));
  // VWAP = quote / base of a real kline (BTCUSDT 5m 2020-07-01 00:00); reference from Python decimal.
  ASSERT_TRUE(Decimal::divide(D("3333795.23051561"), D("365.82786000"), 8, &out));
  EXPECT_EQ(out.to_string(), "9113.01624353");
}

TEST(Decimal, OrderingByValue) {
  EXPECT_LT(D("0.99999999"), D("1"));
  EXPECT_GT(D("-0.5"), D("-0.51"));
  EXPECT_EQ(D("0.000"), D("-0"));
  EXPECT_LT(D("-99999999999999999999999999999999999999"), D("0.1"));
}

TEST(Decimal, RescaleRounds) {
  EXPECT_EQ(D("1.005").rescaled(2).to_string(), "1.00");
  EXPECT_EQ(D("1.015").rescaled(2).to_string(), "1.02");
  EXPECT_EQ(D("1.5").rescaled(8).to_string(), "1.50000000");
}

TEST(Decimal, OverflowIsFatalNotSilent) {
  auto big = D("99999999999999999999999999999999999999");
  EXPECT_THROW(big + D("1"), std::overflow_error);
}

}  // namespace
}  // namespace sf
