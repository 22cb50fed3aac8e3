// Helpers shared by tests: where the real Binance data lives.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace sf::testing {

// ../shared/data beside the repo root (or $SF_SHARED_DATA).
inline std::filesystem::path shared_data_dir() {
  if (const char* env = std::getenv("SF_SHARED_DATA")) return env;
  return std::filesystem::path(SF_REPO_ROOT) / ".." / "shared" / "data";
}

inline std::filesystem::path streamforge_bin() { return SF_STREAMFORGE_BIN; }

}  // namespace sf::testing

// Skips the test with a clear message when the shared data set is absent.
#define SF_REQUIRE_SHARED_DATA(relative)                                                   \
  do {                                                                                     \
    auto sf_p__ = ::sf::testing::shared_data_dir() / (relative);                           \
    if (!std::filesystem::exists(sf_p__))                                                  \
      GTEST_SKIP() << "shared data not found: " << sf_p__.string()                         \
                   << " (set SF_SHARED_DATA to the folder holding Binance data)";          \
  } while (0)
