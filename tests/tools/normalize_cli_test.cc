// The `streamforge normalize` command as a user runs it: real process, stdin/stdout/stderr, exit
// codes.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <fstream>

#include "test_support.h"

namespace {

struct RunResult {
  int status;
  std::string out;
  std::string err;
};

RunResult run(const std::string& args, const std::string& input) {
  auto dir = std::filesystem::temp_directory_path();
  auto in = dir / ("sf_norm_in_" + std::to_string(::getpid()));
  auto err = dir / ("sf_norm_err_" + std::to_string(::getpid()));
  std::ofstream(in) << input;
  std::string cmd = sf::testing::streamforge_bin().string() + " normalize " + args + " < " +
                    in.string() + " 2> " + err.string();
  RunResult r{};
  FILE* p = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf;
  std::size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int status = pclose(p);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream e(err);
  r.err.assign(std::istreambuf_iterator<char>(e), {});
  std::filesystem::remove(in);
  std::filesystem::remove(err);
  return r;
}

const char* kTrade =
    R"({"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true})";

TEST(NormalizeCli, StdinToStdout) {
  auto r = run("", std::string("1723161254061862657 ") + kTrade + "\n");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(
      r.out,
      R"({"v":1,"type":"trade","symbol":"BTCUSDT","trade_id":3735683259,"price":"61837.63000000","quantity":"0.02000000","timestamp":1723161255342000,"is_buyer_maker":true,"is_best_match":true,"event_time":1723161255343000,"receive_time":1723161254061862,"seq":3735683259})"
      "\n");
}

// Regression (issue 16): these lines killed `streamforge normalize` with SIGSEGV.
TEST(NormalizeCli, UnbalancedLinesAreErrorsNotCrashes) {
  const std::string input =
      std::string("{\"a\":{\"b\":1}\n{\"x\":\"y\",\"d\":{\"u\":1}\n") + kTrade + "\n";
  auto r = run("", input);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  EXPECT_NE(r.err.find("line 1: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("line 2: "), std::string::npos) << r.err;
}

TEST(NormalizeCli, ErrorsGoToStderrWithLineNumbers) {
  std::string input = std::string(kTrade) + "\n{\"e\":\"trade\"\n" + kTrade + "\n";
  auto lenient = run("", input);
  EXPECT_EQ(lenient.status, 0);
  EXPECT_EQ(std::count(lenient.out.begin(), lenient.out.end(), '\n'), 2);
  EXPECT_NE(lenient.err.find("line 2: "), std::string::npos) << lenient.err;
  auto strict = run("--strict", input);
  EXPECT_EQ(strict.status, 1);
}

TEST(NormalizeCli, CsvNeedsSymbolFlagOnStdin) {
  std::string row =
      "3800397495,87648.21000000,0.08185000,5723703861,5723703861,1767225600039409,True,True\n";
  auto without = run("--strict", row);
  EXPECT_EQ(without.status, 1);
  EXPECT_NE(without.err.find("pass --symbol"), std::string::npos);
  auto with = run("--strict --symbol btcusdt", row);
  EXPECT_EQ(with.status, 0) << with.err;
  EXPECT_NE(with.out.find(R"("type":"agg_trade","symbol":"BTCUSDT","trade_id":3800397495)"),
            std::string::npos);
}

TEST(NormalizeCli, BadFlagsAreUsageErrors) {
  EXPECT_EQ(run("--interval 7m", "").status, 2);
  EXPECT_EQ(run("--frobnicate", "").status, 2);
  EXPECT_EQ(run("/nonexistent/file.csv", "").status, 2);
}

TEST(NormalizeCli, GzipFileFromSharedData) {
  SF_REQUIRE_SHARED_DATA("hftbacktest_ws_spot/btcusdt_20230405.dat.gz");
  auto path = sf::testing::shared_data_dir() / "hftbacktest_ws_spot/btcusdt_20230405.dat.gz";
  auto r = run("--strict " + path.string(), "");
  EXPECT_EQ(r.status, 0) << r.err.substr(0, 500);
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 15088);
}

}  // namespace
