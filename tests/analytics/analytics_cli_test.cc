// `streamforge candles` and `streamforge indicators` as a user runs them: real process,
// stdin/files, stdout/stderr, exit codes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "test_support.h"

namespace {

struct RunResult {
  int status;
  std::string out;
  std::string err;
};

RunResult run(const std::string& args, const std::string& input) {
  auto dir = std::filesystem::temp_directory_path();
  auto in = dir / ("sf_analytics_in_" + std::to_string(::getpid()));
  auto err = dir / ("sf_analytics_err_" + std::to_string(::getpid()));
  std::ofstream(in) << input;
  std::string cmd = sf::testing::streamforge_bin().string() + " " + args + " < " + in.string() +
                    " 2> " + err.string();
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

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) {
    if (!l.empty() && l.back() == '\r') l.pop_back();
    out.push_back(l);
  }
  return out;
}

const char* kDir = "klines_btcusdt_2020_htm";

TEST(CandlesCli, RollsUpFifteenMinuteCsvIntoBinanceDailyRows) {
  SF_REQUIRE_SHARED_DATA(std::string(kDir) + "/BTCUSDT-15m-2020-01-01_2020-07-12.csv");
  const auto dir = sf::testing::shared_data_dir() / kDir;
  auto r = run("candles --interval 1d --closed-only " +
                   (dir / "BTCUSDT-15m-2020-01-01_2020-07-12.csv").string(),
               "");
  ASSERT_EQ(r.status, 0) << r.err;
  auto ours = lines_of(r.out);
  // 2020-01-01 .. 2020-07-11 complete days; the file's last row (2020-07-12 00:00) starts a day
  // that has not ended, which --closed-only drops.
  ASSERT_EQ(ours.size(), 193u);
  std::ifstream daily(dir / "BTCUSDT-1d-2017-08-17_2020-07-12.csv");
  std::map<std::string, std::string> binance;
  for (std::string l; std::getline(daily, l);) {
    if (!l.empty() && l.back() == '\r') l.pop_back();
    binance[l.substr(0, l.find(','))] = l;
  }
  for (const auto& row : ours) {
    const std::string open = row.substr(0, row.find(','));
    ASSERT_TRUE(binance.count(open)) << row;
    // 2020-07-11: Binance's daily file was fetched on 2020-07-12 and its last complete day is
    // 07-11; it equals ours too.
    EXPECT_EQ(row, binance[open]);
  }
}

TEST(CandlesCli, TradesFromStdinToOneMinuteCandles) {
  const std::string t1 =
      R"({"v":1,"type":"trade","symbol":"BTCUSDT","trade_id":1,"price":"61837.63000000","quantity":"0.02000000","timestamp":1723161255342000,"is_buyer_maker":true,"event_time":0,"receive_time":0,"seq":1})";
  const std::string t2 =
      R"({"v":1,"type":"trade","symbol":"BTCUSDT","trade_id":2,"price":"61840.00000000","quantity":"0.01000000","timestamp":1723161259000000,"is_buyer_maker":false,"event_time":0,"receive_time":0,"seq":2})";
  const std::string t3 =
      R"({"v":1,"type":"trade","symbol":"BTCUSDT","trade_id":3,"price":"61800.00000000","quantity":"1.00000000","timestamp":1723161420000000,"is_buyer_maker":true,"event_time":0,"receive_time":0,"seq":3})";
  auto r = run("candles --interval 1m", t1 + "\n" + t2 + "\n" + t3 + "\n");
  ASSERT_EQ(r.status, 0) << r.err;
  auto rows = lines_of(r.out);
  ASSERT_EQ(rows.size(), 4u);  // 23:54, 23:55 (trades), 23:56 (flat), 23:57 (open at EOF)
  EXPECT_EQ(rows[0],
            "1723161240000,61837.63000000,61840.00000000,61837.63000000,61840.00000000,"
            "0.03000000,1723161299999,1855.15260000,2,0.01000000,618.40000000,0");
  EXPECT_EQ(rows[1],
            "1723161300000,61840.00000000,61840.00000000,61840.00000000,61840.00000000,"
            "0.00000000,1723161359999,0.00000000,0,0.00000000,0.00000000,0");
  auto skip = run("candles --interval 1m --empty skip --closed-only", t1 + "\n" + t3 + "\n");
  ASSERT_EQ(skip.status, 0) << skip.err;
  EXPECT_EQ(lines_of(skip.out).size(), 1u);
}

TEST(CandlesCli, BadInputIsAClearErrorWithNonZeroExit) {
  const std::string good =
      "1593561600000,9138.08000000,9138.16000000,9100.00000000,9117.23000000,365.82786000,"
      "1593561899999,3333795.23051561,3437,143.86467300,1311043.45651440,0\n";
  auto bad_row = run("candles --interval 15m", good + "1593561900000,9117.85,oops\n");
  EXPECT_EQ(bad_row.status, 1);
  EXPECT_NE(bad_row.err.find("stdin:2: "), std::string::npos) << bad_row.err;
  EXPECT_NE(bad_row.err.find("12 columns"), std::string::npos) << bad_row.err;

  auto bad_json = run("candles --interval 1h", "{\"v\":1,\"type\":\"trade\"}\n");
  EXPECT_EQ(bad_json.status, 1);
  EXPECT_NE(bad_json.err.find("stdin:1: "), std::string::npos) << bad_json.err;

  auto finer = run("candles --interval 1m --from-interval 5m", good);
  EXPECT_EQ(finer.status, 1);
  EXPECT_NE(finer.err.find("does not divide"), std::string::npos) << finer.err;

  EXPECT_EQ(run("candles", good).status, 2);  // --interval is required
  EXPECT_EQ(run("candles --interval 7m", good).status, 2);
  EXPECT_EQ(run("candles --interval 1h /nonexistent/klines.csv", "").status, 1);
}

TEST(IndicatorsCli, HeaderColumnsAndValues) {
  std::string csv;
  // 30 one-minute klines with close = 100 + i.
  for (int i = 0; i < 30; ++i) {
    const long long open = 1593561600000LL + i * 60000LL;
    const std::string c = std::to_string(100 + i) + ".00000000";
    csv += std::to_string(open) + "," + c + "," + c + "," + c + "," + c + ",1.00000000," +
           std::to_string(open + 59999) + ",0,1,0,0,0\n";
  }
  auto r =
      run("indicators --config '[{\"name\":\"sma\",\"params\":{\"period\":3}},{\"name\":\"obv\"}]'",
          csv);
  ASSERT_EQ(r.status, 0) << r.err;
  auto rows = lines_of(r.out);
  ASSERT_EQ(rows.size(), 31u);
  EXPECT_EQ(rows[0], "open_time,sma_3,obv");
  EXPECT_EQ(rows[1], "1593561600000,,1");
  EXPECT_EQ(rows[3], "1593561720000,101,3");
  EXPECT_EQ(rows[30], "1593563340000,128,30");

  auto env = run("indicators", csv);  // no config: the defaults
  ASSERT_EQ(env.status, 0) << env.err;
  EXPECT_EQ(lines_of(env.out)[0],
            "open_time,sma_20,ema_20,rsi_14,macd_12_26_9,macd_signal_12_26_9,macd_hist_12_26_9,"
            "bb_upper_20_2,bb_middle_20_2,bb_lower_20_2,atr_14,vwap,obv,rv_20");
}

TEST(IndicatorsCli, BadConfigAndBadInputFail) {
  auto unknown = run("indicators --config '[{\"name\":\"stoch\"}]'", "");
  EXPECT_EQ(unknown.status, 2);
  EXPECT_NE(unknown.err.find("unknown indicator 'stoch'"), std::string::npos) << unknown.err;
  auto malformed = run("indicators --config '[{'", "");
  EXPECT_EQ(malformed.status, 2);
  EXPECT_NE(malformed.err.find("INDICATORS_CONFIG"), std::string::npos) << malformed.err;
  auto bad_row = run("indicators", "not,a,kline\n");
  EXPECT_EQ(bad_row.status, 1);
  EXPECT_NE(bad_row.err.find("stdin:1: "), std::string::npos) << bad_row.err;
}

}  // namespace
