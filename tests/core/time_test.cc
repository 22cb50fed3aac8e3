#include "core/time.h"

#include <gtest/gtest.h>

#include "core/interval.h"

namespace sf {
namespace {

TEST(Time, DetectsMillisAndMicrosByMagnitude) {
  EXPECT_EQ(to_micros(1723161255343, TimeUnit::kAuto), 1723161255343000);        // 13 digits: ms
  EXPECT_EQ(to_micros(1767225600039409, TimeUnit::kAuto), 1767225600039409);     // 16 digits: µs
  EXPECT_EQ(to_micros(1735693199999999, TimeUnit::kAuto), 1735693199999999);
  EXPECT_EQ(to_micros(5, TimeUnit::kMicroseconds), 5);
  EXPECT_EQ(to_micros(5, TimeUnit::kMilliseconds), 5000);
}

TEST(Time, FormatsIso8601) {
  EXPECT_EQ(format_iso8601(1723161255343000), "2024-08-08T23:54:15.343000Z");
  EXPECT_EQ(format_iso8601(1767225600039409), "2026-01-01T00:00:00.039409Z");
  EXPECT_EQ(micros_to_millis(-1), -1);
}

TEST(Time, ParsesDates) {
  TimestampUs t = 0;
  ASSERT_TRUE(parse_date("2020-07-01", &t));
  EXPECT_EQ(t, 1593561600000000);
  EXPECT_TRUE(parse_date("2024-02-29", &t));
  EXPECT_FALSE(parse_date("2023-02-29", &t));
  EXPECT_FALSE(parse_date("2023-13-01", &t));
  EXPECT_FALSE(parse_date("2023-1-01", &t));
}

TEST(Interval, NamesAndLengths) {
  EXPECT_EQ(parse_interval("5m"), Interval::k5m);
  EXPECT_EQ(parse_interval("1M"), Interval::k1M);
  EXPECT_EQ(parse_interval("1mo"), Interval::k1M);
  EXPECT_FALSE(parse_interval("5M").has_value());
  EXPECT_EQ(interval_micros(Interval::k15m), 900'000'000);
  EXPECT_EQ(interval_name(Interval::k1w), "1w");
}

}  // namespace
}  // namespace sf
