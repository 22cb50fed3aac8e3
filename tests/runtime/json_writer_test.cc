#include "runtime/json_writer.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cmath>
#include <limits>
#include <string>

namespace sf::runtime {
namespace {

simdjson::dom::element parse_or_fail(simdjson::dom::parser& parser, const std::string& json) {
  simdjson::dom::element element;
  const auto error = parser.parse(json).get(element);
  EXPECT_EQ(error, simdjson::SUCCESS) << simdjson::error_message(error) << " in " << json;
  return element;
}

std::string round_trip_string(const std::string& text) {
  JsonWriter writer;
  writer.begin_object().field("s", text).end_object();
  simdjson::dom::parser parser;
  std::string_view parsed;
  const auto error = parse_or_fail(parser, writer.str())["s"].get(parsed);
  EXPECT_EQ(error, simdjson::SUCCESS) << writer.str();
  return std::string(parsed);
}

TEST(JsonWriterTest, WritesNestedDocumentThatParses) {
  JsonWriter writer;
  writer.begin_object()
      .field("name", "BTCUSDT")
      .field("count", 3)
      .field("price", 61837.63)
      .field("live", true)
      .field_null("missing")
      .key("levels")
      .begin_array()
      .value(1)
      .value("two")
      .begin_object()
      .field("x", false)
      .end_object()
      .begin_array()
      .end_array()
      .end_array()
      .field_raw("raw", R"({"a":[1,2]})")
      .key("empty")
      .begin_object()
      .end_object()
      .end_object();
  EXPECT_EQ(writer.str(),
            R"({"name":"BTCUSDT","count":3,"price":61837.63,"live":true,"missing":null,)"
            R"("levels":[1,"two",{"x":false},[]],"raw":{"a":[1,2]},"empty":{}})");

  simdjson::dom::parser parser;
  auto doc = parse_or_fail(parser, writer.str());
  EXPECT_EQ(std::string_view(doc["name"]), "BTCUSDT");
  EXPECT_EQ(int64_t(doc["count"]), 3);
  EXPECT_EQ(double(doc["price"]), 61837.63);
  EXPECT_TRUE(bool(doc["live"]));
  EXPECT_TRUE(doc["missing"].is_null());
  EXPECT_EQ(int64_t(doc["raw"]["a"].at(1)), 2);
}

TEST(JsonWriterTest, EscapesEveryControlCharacterQuoteAndBackslash) {
  std::string all;
  for (int c = 0; c < 0x20; ++c) all.push_back(static_cast<char>(c));
  all += "\"\\/ plain \x7f";
  EXPECT_EQ(round_trip_string(all), all);

  std::string escaped;
  append_json_escaped(escaped, std::string("a\"b\\c\n\r\t\b\f\x01\x1f", 12));
  EXPECT_EQ(escaped, R"(a\"b\\c\n\r\t\b\f\u0001\u001f)");

  JsonWriter writer;
  writer.value(std::string_view("nul\0byte", 8));
  EXPECT_EQ(writer.str(), R"("nul\u0000byte")");
}

TEST(JsonWriterTest, KeepsValidUtf8AndReplacesInvalidBytes) {
  const std::string valid = "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x9A\x80";  // é € 🚀
  EXPECT_EQ(round_trip_string(valid), valid);

  const std::string invalid =
      "a\xFF"
      "b\xC3"
      "c\xED\xA0\x80"
      "d\xF4\x90\x80\x80";
  std::string escaped;
  append_json_escaped(escaped, invalid);
  EXPECT_EQ(escaped.find('\xFF'), std::string::npos);
  // Every byte that does not start a well-formed sequence becomes U+FFFD (surrogates and code
  // points above U+10FFFF included) and the result is valid JSON.
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(round_trip_string(invalid), "a" + r + "b" + r + "c" + r + r + r + "d" + r + r + r + r);
}

TEST(JsonWriterTest, KeysAreEscapedToo) {
  JsonWriter writer;
  writer.begin_object().field("we\"ird\nkey", 1).end_object();
  simdjson::dom::parser parser;
  auto doc = parse_or_fail(parser, writer.str());
  EXPECT_EQ(int64_t(doc["we\"ird\nkey"]), 1);
}

TEST(JsonWriterTest, NumbersRoundTrip) {
  const double doubles[] = {0.1,       -0.0,     1e300, 5e-324, 123456.789,
                            1.0 / 3.0, 61837.63, 1e-7,  2.5,    -17.25};
  for (double d : doubles) {
    JsonWriter writer;
    writer.begin_array().value(d).end_array();
    simdjson::dom::parser parser;
    double parsed = 0;
    ASSERT_EQ(parse_or_fail(parser, writer.str()).at(0).get(parsed), simdjson::SUCCESS)
        << writer.str();
    EXPECT_EQ(parsed, d) << writer.str();
  }

  JsonWriter writer;
  writer.begin_array()
      .value(std::numeric_limits<std::int64_t>::min())
      .value(std::numeric_limits<std::int64_t>::max())
      .value(std::numeric_limits<std::uint64_t>::max())
      .value(std::numeric_limits<double>::quiet_NaN())
      .value(std::numeric_limits<double>::infinity())
      .value(3.0)
      .value(short{-7})
      .end_array();
  EXPECT_EQ(writer.str(),
            "[-9223372036854775808,9223372036854775807,18446744073709551615,null,null,3,-7]");
  simdjson::dom::parser parser;
  auto doc = parse_or_fail(parser, writer.str());
  EXPECT_EQ(uint64_t(doc.at(2)), std::numeric_limits<std::uint64_t>::max());
}

TEST(JsonWriterTest, ReusesBufferAndAppendsToExternalString) {
  JsonWriter writer;
  writer.begin_object().field("k", std::string(1000, 'x')).end_object();
  const auto capacity = writer.str().capacity();
  writer.clear();
  EXPECT_TRUE(writer.str().empty());
  EXPECT_EQ(writer.str().capacity(), capacity);
  writer.value(1);
  EXPECT_EQ(writer.str(), "1");  // no stray comma after clear()

  std::string line = "prefix ";
  JsonWriter external(line);
  external.begin_object().field("a", 1).end_object();
  EXPECT_EQ(line, R"(prefix {"a":1})");

  JsonWriter moved = std::move(writer);
  moved.value(2);
  EXPECT_EQ(moved.take(), "1,2");
  EXPECT_TRUE(moved.str().empty());
}

TEST(JsonWriterTest, NullCString) {
  JsonWriter writer;
  const char* nothing = nullptr;
  writer.begin_array().value(nothing).value("x").end_array();
  EXPECT_EQ(writer.str(), R"([null,"x"])");
}

}  // namespace
}  // namespace sf::runtime
