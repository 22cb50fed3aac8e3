// json_balanced: the structural check run before every On Demand parse of outside input.
#include "core/json_balance.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace sf {
namespace {

TEST(JsonBalanced, AcceptsBalancedDocumentsWhateverTheirStrings) {
  for (const char* ok :
       {"{}", "[]", "1", R"({"a":[1,{"b":"}"}]})", R"({"s":"[{\"]"})", R"({"k":"\\"})",
        R"({"e":"trade","E":1723161255343,"s":"BTCUSDT","p":"61837.63000000"})", ""}) {
    EXPECT_TRUE(json_balanced(ok)) << ok;
  }
}

TEST(JsonBalanced, RefusesUnbalancedMismatchedOrUnterminated) {
  for (const char* bad : {R"({"a":{"b":1})", R"({"x":"y","d":{"u":1})", "{", "}", "[}", "{]",
                          R"({"a":[1,2})", R"({"a":"b)", R"({"a":"b\"})", "]["}) {
    EXPECT_FALSE(json_balanced(bad)) << bad;
  }
}

TEST(JsonBalanced, DepthBeyondSimdjsonsLimitIsRefused) {
  EXPECT_TRUE(json_balanced(std::string(1024, '[') + std::string(1024, ']')));
  EXPECT_FALSE(json_balanced(std::string(1025, '[') + std::string(1025, ']')));
}

// The vectorised path (text without backslashes) answers as the byte loop does, on random texts
// of brackets, quotes and filler that cross 64-byte blocks.
TEST(JsonBalanced, VectorisedAndBytewiseAgree) {
  std::mt19937 rng(42);
  const char alphabet[] = {'{', '}', '[', ']', '"', 'a', ':', ',', '1'};
  int balanced = 0;
  for (int n = 0; n < 200'000; ++n) {
    std::string text;
    const std::size_t length = rng() % 200;
    for (std::size_t i = 0; i < length; ++i) text += alphabet[rng() % sizeof alphabet];
    const bool expected = json_balance_detail::balanced_bytewise(text);
    ASSERT_EQ(json_balanced(text), expected) << text;
    balanced += expected;
  }
  // Balanced ones built on purpose, so that the accepting side is exercised too.
  for (int n = 0; n < 20'000; ++n) {
    std::string text;
    std::string closers;
    while (text.size() < 150) {
      switch (rng() % 5) {
        case 0:
          text += '{';
          closers += '}';
          break;
        case 1:
          text += '[';
          closers += ']';
          break;
        case 2:
          text += R"("s{]")";
          break;
        case 3:
          if (!closers.empty()) {
            text += closers.back();
            closers.pop_back();
          }
          break;
        default:
          text += "12,";
          break;
      }
    }
    text.append(closers.rbegin(), closers.rend());
    ASSERT_TRUE(json_balanced(text)) << text;
    ASSERT_TRUE(json_balance_detail::balanced_bytewise(text)) << text;
  }
  EXPECT_GT(balanced, 0);
}

}  // namespace
}  // namespace sf
