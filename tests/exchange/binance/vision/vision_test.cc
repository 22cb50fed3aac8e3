// VisionReader against a local mirror in data.binance.vision's layout, built from the real files
// of ../shared/data: the four kline zips as Binance published them, plus zips made here from the
// BTCUSDT kline CSVs (REST, same 12 columns), the 2026 aggTrades sample (µs) and trades taken
// from a recorded WS stream. The mirror is served over loopback HTTP for the fetcher tests.
#include "exchange/binance/vision/vision.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zip.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "exchange/binance/parse.h"
#include "exchange/binance/vision/checksum.h"
#include "mirror_support.h"
#include "runtime/http_server.h"
#include "test_support.h"
#include "tls_mirror_support.h"
#include "tools/normalize.h"

namespace sf::binance {
namespace {

namespace fs = std::filesystem;
using sf::testing::write_checksum;
using sf::testing::write_file;
using sf::testing::write_zip;

constexpr TimestampUs kMicrosEra = 1'735'689'600'000'000LL;  // 2025-01-01: spot files switch to µs

TimestampUs date(const char* text) {
  TimestampUs t = 0;
  EXPECT_TRUE(parse_date(text, &t)) << text;
  return t;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Lines as stored (a trailing '\r' kept), for writing zips byte for byte.
std::vector<std::string> raw_lines(const fs::path& path) {
  std::vector<std::string> lines;
  std::string error;
  EXPECT_TRUE(tools::for_each_line(
      path.string(), [&](std::string_view line) { lines.emplace_back(line); }, &error))
      << error;
  return lines;
}

std::string without_cr(std::string line) {
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

std::string join(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines) text += line + "\n";
  return text;
}

void flip_byte(const fs::path& path, std::size_t offset) {
  std::string bytes = read_file(path);
  ASSERT_LT(offset, bytes.size());
  bytes[offset] = static_cast<char>(bytes[offset] ^ 0x5a);
  write_file(path, bytes);
}

// Binance writes times in ms before 2025 and in µs from then on.
std::string file_time(TimestampUs us) {
  return std::to_string(us >= kMicrosEra ? us : micros_to_millis(us));
}

const char* file_bool(bool value) {
  return value ? "True" : "False";
}

std::string kline_row(const Candle& c) {
  return file_time(c.open_time) + "," + c.open.to_string() + "," + c.high.to_string() + "," +
         c.low.to_string() + "," + c.close.to_string() + "," + c.volume.to_string() + "," +
         file_time(c.close_time) + "," + c.quote_asset_volume.to_string() + "," +
         std::to_string(c.number_of_trades) + "," + c.taker_buy_base_asset_volume.to_string() +
         "," + c.taker_buy_quote_asset_volume.to_string() + "," + c.ignore.to_string();
}

std::string agg_trade_row(const AggTrade& t) {
  return std::to_string(t.agg_trade_id) + "," + t.price.to_string() + "," + t.quantity.to_string() +
         "," + std::to_string(t.first_trade_id) + "," + std::to_string(t.last_trade_id) + "," +
         file_time(t.trade_time) + "," + file_bool(t.is_buyer_maker) + "," +
         file_bool(t.is_best_match.value_or(true));
}

std::string trade_row(const Trade& t) {
  return std::to_string(t.trade_id) + "," + t.price.to_string() + "," + t.quantity.to_string() +
         "," + (t.price * t.quantity).to_string() + "," + file_time(t.trade_time) + "," +
         file_bool(t.is_buyer_maker) + "," + file_bool(t.is_best_match.value_or(true));
}

// Renders what the reader handed out in the file's own CSV form.
std::vector<std::string> rows_of(const std::vector<MarketEvent>& events) {
  std::vector<std::string> rows;
  for (const auto& e : events) {
    if (const auto* c = std::get_if<Candle>(&e)) rows.push_back(kline_row(*c));
    if (const auto* a = std::get_if<AggTrade>(&e)) rows.push_back(agg_trade_row(*a));
    if (const auto* t = std::get_if<Trade>(&e)) rows.push_back(trade_row(*t));
  }
  return rows;
}

// The source rows whose first column (kline open time) lies in [from, to).
std::vector<std::string> kline_rows_between(const std::vector<std::string>& rows, TimestampUs from,
                                            TimestampUs to) {
  std::vector<std::string> out;
  for (const auto& row : rows) {
    const TimestampUs open = to_micros(std::stoll(row.substr(0, row.find(','))), TimeUnit::kAuto);
    if (open >= from && open < to) out.push_back(row);
  }
  return out;
}

// The mirror shared by all tests; tests that damage files make their own copies.
struct Mirror {
  fs::path root;
  std::vector<std::string> klines_5m;    // source rows, '\r' removed
  std::vector<std::string> klines_15m;   // source rows, '\r' removed
  std::vector<std::string> agg_trades;   // source rows
  std::vector<std::string> trades;       // the rows written into the trades zip
  std::vector<std::string> btc_1h_0907;  // rows of the real BTCUSDT-1h-2022-09-07.zip
};

fs::path klines_path(const fs::path& root, const std::string& period, const std::string& symbol,
                     const std::string& interval, const std::string& date_text) {
  return root / "data/spot" / period / "klines" / symbol / interval /
         (symbol + "-" + interval + "-" + date_text + ".zip");
}

// Writes one zip per UTC day of `lines` (kline rows; the first column is the open time in ms)
// and, when `monthly`, one per calendar month too, except the months in `skip_months`.
void write_kline_zips(const fs::path& root, const std::string& interval,
                      const std::vector<std::string>& lines, bool monthly,
                      const std::vector<std::string>& skip_months) {
  std::map<std::string, std::vector<std::string>> by_day;
  std::map<std::string, std::vector<std::string>> by_month;
  for (const auto& line : lines) {
    const std::int64_t ms = std::stoll(line.substr(0, line.find(',')));
    const std::string day = format_iso8601(ms * 1000).substr(0, 10);
    by_day[day].push_back(line);
    by_month[day.substr(0, 7)].push_back(line);
  }
  for (const auto& [day, rows] : by_day) {
    const fs::path zip = klines_path(root, "daily", "BTCUSDT", interval, day);
    write_zip(zip, join(rows));
    write_checksum(zip);
  }
  if (!monthly) return;
  for (const auto& [month, rows] : by_month) {
    if (std::find(skip_months.begin(), skip_months.end(), month) != skip_months.end()) continue;
    const fs::path zip = klines_path(root, "monthly", "BTCUSDT", interval, month);
    write_zip(zip, join(rows));
    write_checksum(zip);
  }
}

Mirror* g_mirror = nullptr;

const Mirror& mirror() {
  if (g_mirror) return *g_mirror;
  auto* m = new Mirror;
  g_mirror = m;
  const fs::path data = sf::testing::shared_data_dir();
  m->root = fs::temp_directory_path() / ("sf_vision_test_" + std::to_string(::getpid()));
  fs::remove_all(m->root);

  // The real data.binance.vision zips, as published (no CHECKSUM came with them: made here).
  for (const auto& entry : fs::directory_iterator(data / "klines_zip_2022_lti")) {
    const std::string name = entry.path().filename().string();  // ETHUSDT-1m-2022-08-14.zip
    const std::string symbol = name.substr(0, name.find('-'));
    const std::string interval =
        name.substr(symbol.size() + 1, name.find('-', symbol.size() + 1) - symbol.size() - 1);
    const std::string day = name.substr(name.size() - 14, 10);
    const fs::path zip = klines_path(m->root, "daily", symbol, interval, day);
    fs::create_directories(zip.parent_path());
    fs::copy_file(entry.path(), zip);
    write_checksum(zip);
  }
  for (const auto& row : raw_lines(data / "klines_zip_2022_lti/BTCUSDT-1h-2022-09-07.zip"))
    m->btc_1h_0907.push_back(without_cr(row));

  // BTCUSDT 5m: daily files only. 15m: daily and monthly files, except the monthly file of
  // March 2020, so that the fallback to its daily files is exercised.
  const auto raw_5m =
      raw_lines(data / "klines_btcusdt_2020_htm/BTCUSDT-5m-2020-07-01_2020-07-11.csv");
  const auto raw_15m =
      raw_lines(data / "klines_btcusdt_2020_htm/BTCUSDT-15m-2020-01-01_2020-07-12.csv");
  write_kline_zips(m->root, "5m", raw_5m, false, {});
  write_kline_zips(m->root, "15m", raw_15m, true, {"2020-03"});
  for (const auto& row : raw_5m) m->klines_5m.push_back(without_cr(row));
  for (const auto& row : raw_15m) m->klines_15m.push_back(without_cr(row));

  // aggTrades of 2026-01-01 (µs): the daily file and a monthly file holding the same rows.
  const auto agg =
      raw_lines(data / "aggtrades_btcusdt_2026-01-01/BTCUSDT-aggTrades-2026-01-01_first5000.csv");
  for (const char* period : {"daily", "monthly"}) {
    const std::string date_text = std::string(period) == "daily" ? "2026-01-01" : "2026-01";
    const fs::path zip = m->root / "data/spot" / period / "aggTrades/BTCUSDT" /
                         ("BTCUSDT-aggTrades-" + date_text + ".zip");
    write_zip(zip, join(agg));
    write_checksum(zip);
  }
  for (const auto& row : agg) m->agg_trades.push_back(without_cr(row));

  // Trades: Binance's trades file layout filled from the recorded @trade frames of 2024-08-08
  // (quoteQty = price x qty, as Binance computes it). No CHECKSUM: the unverified case.
  Parser parser;
  for (const auto& frame :
       raw_lines(data / "hftbacktest_ws_spot/btcusdt_20240808_first5000.frames.jsonl")) {
    auto event = parser.parse_ws_frame(frame, 0);
    if (event && std::holds_alternative<Trade>(*event))
      m->trades.push_back(trade_row(std::get<Trade>(*event)));
  }
  write_zip(m->root / "data/spot/daily/trades/BTCUSDT/BTCUSDT-trades-2024-08-08.zip",
            join(m->trades));
  return *m;
}

VisionRequest klines(const char* symbol, Interval interval, TimestampUs from, TimestampUs to) {
  return {.symbol = *Symbol::parse(symbol),
          .kind = VisionKind::kKlines,
          .interval = interval,
          .from = from,
          .to = to};
}

VisionRequest agg_trades(TimestampUs from, TimestampUs to) {
  return {
      .symbol = *Symbol::parse("BTCUSDT"), .kind = VisionKind::kAggTrades, .from = from, .to = to};
}

VisionResult<VisionStats> read_into(VisionReader& reader, const VisionRequest& request,
                                    std::vector<MarketEvent>* events) {
  return reader.read(request, [events](const MarketEvent& e) {
    events->push_back(e);
    return true;
  });
}

VisionReader open_or_die(VisionOptions options) {
  auto reader = VisionReader::open(std::move(options));
  if (!reader) throw std::runtime_error(reader.error().to_string());
  return std::move(reader).value();
}

std::vector<std::string> names(const std::vector<VisionFile>& files) {
  std::vector<std::string> out;
  for (const auto& f : files) out.push_back(f.name);
  return out;
}

// Restores an environment variable when the test ends.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value)
      ::setenv(name, value, 1);
    else
      ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// Serves a mirror directory over loopback HTTP and counts the requests.
class MirrorServer {
 public:
  explicit MirrorServer(fs::path root) : root_(std::move(root)) {
    server_.route("GET", "/data/{rest...}", [this](const runtime::HttpRequest& request) {
      ++requests_;
      const std::string rest(request.path_param("rest"));
      const fs::path file = root_ / "data" / rest;
      if (rest.find("..") != std::string::npos || !fs::is_regular_file(file))
        return runtime::HttpResponse::error(404, "no such file");
      return runtime::HttpResponse::text(200, read_file(file), "application/octet-stream");
    });
    auto started = server_.start();
    if (!started) throw std::runtime_error(started.error());
  }
  std::string base_url() const { return server_.base_url(); }
  std::uint16_t port() const { return server_.port(); }
  int requests() const { return requests_; }

 private:
  fs::path root_;
  std::atomic<int> requests_{0};
  runtime::HttpServer server_;
};

class VisionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SF_REQUIRE_SHARED_DATA("klines_zip_2022_lti/BTCUSDT-1h-2022-09-07.zip");
    SF_REQUIRE_SHARED_DATA("klines_btcusdt_2020_htm/BTCUSDT-5m-2020-07-01_2020-07-11.csv");
    SF_REQUIRE_SHARED_DATA("klines_btcusdt_2020_htm/BTCUSDT-15m-2020-01-01_2020-07-12.csv");
    SF_REQUIRE_SHARED_DATA(
        "aggtrades_btcusdt_2026-01-01/BTCUSDT-aggTrades-2026-01-01_first5000.csv");
    SF_REQUIRE_SHARED_DATA("hftbacktest_ws_spot/btcusdt_20240808_first5000.frames.jsonl");
    root_ = mirror().root;
    scratch_ =
        root_.parent_path() / (root_.filename().string() + "_" +
                               ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(scratch_);
    fs::create_directories(scratch_);
  }
  void TearDown() override {
    if (!scratch_.empty()) fs::remove_all(scratch_);
  }
  static void TearDownTestSuite() {
    if (!g_mirror) return;
    fs::remove_all(g_mirror->root);
    delete g_mirror;
    g_mirror = nullptr;
  }

  VisionReader local(VisionOptions options = {}) {
    if (options.base_url.empty()) options.base_url = root_.string();
    return open_or_die(std::move(options));
  }

  // A private mirror with one zip: BTCUSDT-1h-2022-09-07, made from `rows`.
  fs::path one_day_mirror(const std::vector<std::string>& rows) {
    const fs::path zip = klines_path(scratch_ / "mirror", "daily", "BTCUSDT", "1h", "2022-09-07");
    write_zip(zip, join(rows));
    return scratch_ / "mirror";
  }

  fs::path root_;
  fs::path scratch_;
};

TEST_F(VisionTest, Klines5mComeOutByteIdenticalToTheSource) {
  auto reader = local();
  std::vector<MarketEvent> events;
  auto stats = read_into(
      reader, klines("BTCUSDT", Interval::k5m, date("2020-07-01"), date("2020-07-10")), &events);
  ASSERT_TRUE(stats.ok()) << stats.error().to_string();
  EXPECT_EQ(stats->rows, 2592u);
  EXPECT_EQ(stats->files, 9u);
  EXPECT_EQ(stats->checksums_verified, 9u);
  EXPECT_EQ(stats->checksums_missing, 0u);
  EXPECT_EQ(stats->rows_out_of_range, 0u);
  ASSERT_EQ(events.size(), 2592u);
  const std::vector<std::string> expected(mirror().klines_5m.begin(),
                                          mirror().klines_5m.begin() + 2592);
  EXPECT_EQ(rows_of(events), expected);  // every field, as decimal text, in order
  const auto& first = std::get<Candle>(events.front());
  EXPECT_EQ(first.symbol.view(), "BTCUSDT");
  EXPECT_EQ(first.interval, Interval::k5m);
  EXPECT_EQ(first.open_time, date("2020-07-01"));
  EXPECT_EQ(std::get<Candle>(events.back()).open_time, date("2020-07-10") - 300'000'000);
}

TEST_F(VisionTest, WholeMonthsComeFromMonthlyFilesTheRestFromDailyFiles) {
  auto reader = local();
  const auto request = klines("BTCUSDT", Interval::k15m, date("2020-04-15"), date("2020-07-03"));
  auto plan = reader.plan(request);
  ASSERT_TRUE(plan.ok()) << plan.error().to_string();
  std::vector<std::string> expected_names;
  for (int day = 15; day <= 30; ++day)
    expected_names.push_back("BTCUSDT-15m-2020-04-" + std::to_string(day) + ".zip");
  expected_names.insert(expected_names.end(),
                        {"BTCUSDT-15m-2020-05.zip", "BTCUSDT-15m-2020-06.zip",
                         "BTCUSDT-15m-2020-07-01.zip", "BTCUSDT-15m-2020-07-02.zip"});
  EXPECT_EQ(names(*plan), expected_names);
  EXPECT_EQ((*plan)[16].location,
            (root_ / "data/spot/monthly/klines/BTCUSDT/15m/BTCUSDT-15m-2020-05.zip").string());

  std::vector<MarketEvent> events;
  auto stats = read_into(reader, request, &events);
  ASSERT_TRUE(stats.ok()) << stats.error().to_string();
  EXPECT_EQ(stats->files, 20u);
  EXPECT_EQ(stats->monthly_fallbacks, 0u);
  EXPECT_EQ(stats->checksums_verified, 20u);
  const auto expected = kline_rows_between(mirror().klines_15m, request.from, request.to);
  // 79 days x 96 bars, less the real halts of 2020-04-25 (10 bars) and 2020-06-28 (14 bars).
  EXPECT_EQ(expected.size(), 7560u);
  EXPECT_EQ(rows_of(events), expected);
}

TEST_F(VisionTest, MissingMonthlyFileFallsBackToItsDailyFiles) {
  auto reader = local();
  const auto request = klines("BTCUSDT", Interval::k15m, date("2020-02-01"), date("2020-05-01"));
  auto plan = reader.plan(request);
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->size(), 33u);  // February, the 31 days of March, April
  EXPECT_EQ(plan->front().name, "BTCUSDT-15m-2020-02.zip");
  EXPECT_EQ((*plan)[1].name, "BTCUSDT-15m-2020-03-01.zip");
  EXPECT_EQ((*plan)[31].name, "BTCUSDT-15m-2020-03-31.zip");
  EXPECT_EQ(plan->back().name, "BTCUSDT-15m-2020-04.zip");

  std::vector<MarketEvent> events;
  auto stats = read_into(reader, request, &events);
  ASSERT_TRUE(stats.ok()) << stats.error().to_string();
  EXPECT_EQ(stats->monthly_fallbacks, 1u);
  EXPECT_EQ(stats->files, 33u);
  // Real halts inside the range (2020-02-09, 2020-02-19, 2020-03-04, 2020-04-25) stay gaps.
  EXPECT_EQ(rows_of(events), kline_rows_between(mirror().klines_15m, request.from, request.to));
}

TEST_F(VisionTest, RealBinanceZipsReadWithVerifiedChecksums) {
  auto reader = local();
  std::vector<MarketEvent> events;
  auto stats = read_into(
      reader, klines("ETHUSDT", Interval::k1m, date("2022-08-14"), date("2022-08-16")), &events);
  ASSERT_TRUE(stats.ok()) << stats.error().to_string();
  EXPECT_EQ(events.size(), 2880u);
  EXPECT_EQ(stats->checksums_verified, 2u);

  events.clear();
  stats = read_into(
      reader, klines("BTCUSDT", Interval::k1h, date("2022-09-07"), date("2022-09-08")), &events);
  ASSERT_TRUE(stats.ok()) << stats.error().to_string();
  EXPECT_EQ(rows_of(events), mirror().btc_1h_0907);
  EXPECT_EQ(rows_of(events).front(),
            "1662508800000,18790.61000000,18873.17000000,18656.19000000,18833.11000000,"
            "15856.22484000,1662512399999,297803717.08278760,293838,7775.22601000,"
            "146043111.16954950,0");
}

TEST_F(VisionTest, AggTradesKeepMicrosecondsAndDenseIds) {
  auto reader = local();
  std::vector<MarketEvent> events;
  auto stats = read_into(reader, agg_trades(date("2026-01-01"), date("2026-01-02")), &events);
  ASSERT_TRUE(stats.ok()) << stats.error().to_string();
  ASSERT_EQ(events.size(), 5000u);
  EXPECT_EQ(stats->file_reports.at(0).file.name, "BTCUSDT-aggTrades-2026-01-01.zip");
  EXPECT_EQ(rows_of(events), mirror().agg_trades);
  const auto& first = std::get<AggTrade>(events.front());
  EXPECT_EQ(first.trade_time, 1767225600039409);  // µs as written, not ms x 1000
  EXPECT_EQ(std::get<AggTrade>(events.back()).trade_time, 1767226339347397);
  std::int64_t expected_id = first.agg_trade_id;
  for (const auto& e : events) {
    const auto& t = std::get<AggTrade>(e);
    EXPECT_EQ(t.agg_trade_id, expected_id++);
    EXPECT_GE(t.trade_time, date("2026-01-01"));
    EXPECT_LT(t.trade_time, date("2026-01-02"));
  }
  EXPECT_EQ(expected_id, 3800402495);

  // The whole month: the monthly file.
  events.clear();
  stats = read_into(reader, agg_trades(date("2026-01-01"), date("2026-02-01")), &events);
  ASSERT_TRUE(stats.ok()) << stats.error().to_string();
  EXPECT_EQ(stats->files, 1u);
  EXPECT_EQ(stats->file_reports.at(0).file.name, "BTCUSDT-aggTrades-2026-01.zip");
  EXPECT_EQ(events.size(), 5000u);

  // Five minutes out of the day, to the microsecond.
  const TimestampUs from = date("2026-01-01") + 5 * 60'000'000LL;
  const TimestampUs to = date("2026-01-01") + 10 * 60'000'000LL;
  std::size_t expected = 0;
  for (const auto& row : mirror().agg_trades) {
    auto t = parse_agg_trade_csv(row, *Symbol::parse("BTCUSDT"));
    ASSERT_TRUE(t.ok());
    expected += t->trade_time >= from && t->trade_time < to;
  }
  events.clear();
  stats = read_into(reader, agg_trades(from, to), &events);
  ASSERT_TRUE(stats.ok());
  EXPECT_GT(expected, 1000u);
  EXPECT_EQ(events.size(), expected);
  EXPECT_EQ(stats->rows_out_of_range, 5000u - expected);
  EXPECT_GE(std::get<AggTrade>(events.front()).trade_time, from);
  EXPECT_LT(std::get<AggTrade>(events.back()).trade_time, to);
}

TEST_F(VisionTest, TradesReadAndAMissingChecksumIsReported) {
  auto reader = local();
  const VisionRequest request{.symbol = *Symbol::parse("BTCUSDT"),
                              .kind = VisionKind::kTrades,
                              .from = date("2024-08-08"),
                              .to = date("2024-08-09")};
  std::vector<MarketEvent> events;
  auto stats = read_into(reader, request, &events);
  ASSERT_TRUE(stats.ok()) << stats.error().to_string();
  EXPECT_GT(events.size(), 500u);
  EXPECT_EQ(rows_of(events), mirror().trades);
  EXPECT_EQ(stats->checksums_missing, 1u);
  EXPECT_EQ(stats->checksums_verified, 0u);
  EXPECT_EQ(stats->file_reports.at(0).checksum, ChecksumStatus::kMissing);

  auto strict = local({.require_checksum = true});
  events.clear();
  auto refused = read_into(strict, request, &events);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, VisionErrc::kChecksumMissing);
  EXPECT_TRUE(events.empty());
}

TEST_F(VisionTest, CorruptedZipIsRejectedByItsChecksum) {
  const fs::path mirror_dir = scratch_ / "mirror";
  const fs::path zip = klines_path(mirror_dir, "daily", "ETHUSDT", "1m", "2022-08-14");
  fs::create_directories(zip.parent_path());
  fs::copy_file(root_ / fs::relative(zip, mirror_dir), zip);
  fs::copy_file(fs::path(root_ / fs::relative(zip, mirror_dir)).string() + ".CHECKSUM",
                zip.string() + ".CHECKSUM");
  flip_byte(zip, fs::file_size(zip) / 2);

  auto reader = local({.base_url = mirror_dir.string()});
  int delivered = 0;
  const auto request = klines("ETHUSDT", Interval::k1m, date("2022-08-14"), date("2022-08-15"));
  auto stats = reader.read(request, [&](const MarketEvent&) { return ++delivered, true; });
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.error().code, VisionErrc::kChecksumMismatch);
  EXPECT_EQ(stats.error().location, zip.string());
  EXPECT_EQ(delivered, 0);  // not a single row of a file that failed verification

  // Without its CHECKSUM the damage still shows, but only while streaming: as a garbled row
  // (kBadRow), or when libzip's inflate or CRC check fails at the end of the member.
  fs::remove(zip.string() + ".CHECKSUM");
  stats = reader.read(request, [&](const MarketEvent&) { return true; });
  ASSERT_FALSE(stats.ok());
  EXPECT_TRUE(stats.error().code == VisionErrc::kBadRow ||
              stats.error().code == VisionErrc::kBadArchive)
      << stats.error().to_string();
  auto skipping = local({.base_url = mirror_dir.string(), .bad_rows = BadRowPolicy::kSkip});
  stats = skipping.read(request, [&](const MarketEvent&) { return true; });
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.error().code, VisionErrc::kBadArchive) << stats.error().to_string();
  EXPECT_NE(stats.error().message.find("CRC"), std::string::npos) << stats.error().message;

  // Not a zip at all.
  write_file(zip, "<html>Access Denied</html>");
  stats = reader.read(request, [&](const MarketEvent&) { return true; });
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.error().code, VisionErrc::kBadArchive);
}

TEST_F(VisionTest, ChecksumNamingAnotherFileIsRejected) {
  const fs::path mirror_dir = one_day_mirror(mirror().btc_1h_0907);
  const fs::path zip = klines_path(mirror_dir, "daily", "BTCUSDT", "1h", "2022-09-07");
  auto digest = sha256_file_hex(zip);
  ASSERT_TRUE(digest.ok());
  write_file(zip.string() + ".CHECKSUM", *digest + "  BTCUSDT-1h-2022-09-08.zip\n");
  auto reader = local({.base_url = mirror_dir.string()});
  auto stats = reader.read(klines("BTCUSDT", Interval::k1h, date("2022-09-07"), date("2022-09-08")),
                           [](const MarketEvent&) { return true; });
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.error().code, VisionErrc::kBadChecksumFile);
}

TEST_F(VisionTest, MissingFileIsNotFoundNamingTheExpectedPath) {
  auto reader = local();
  std::vector<MarketEvent> events;
  auto stats = read_into(
      reader, klines("ETHUSDT", Interval::k1m, date("2022-08-15"), date("2022-08-17")), &events);
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.error().code, VisionErrc::kNotFound);
  const std::string expected =
      (root_ / "data/spot/daily/klines/ETHUSDT/1m/ETHUSDT-1m-2022-08-16.zip").string();
  EXPECT_EQ(stats.error().location, expected);
  EXPECT_NE(stats.error().to_string().find(expected), std::string::npos);
  EXPECT_EQ(events.size(), 1440u);  // 2022-08-15 was read before the gap was met
}

TEST_F(VisionTest, HeaderRowIsSkipped) {
  std::vector<std::string> rows = {
      "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,"
      "taker_buy_quote_volume,ignore\r"};
  rows.insert(rows.end(), mirror().btc_1h_0907.begin(), mirror().btc_1h_0907.end());
  auto reader = local({.base_url = one_day_mirror(rows).string()});
  std::vector<MarketEvent> events;
  auto stats = read_into(
      reader, klines("BTCUSDT", Interval::k1h, date("2022-09-07"), date("2022-09-08")), &events);
  ASSERT_TRUE(stats.ok()) << stats.error().to_string();
  EXPECT_EQ(stats->header_rows, 1u);
  EXPECT_EQ(stats->skipped_rows, 0u);
  EXPECT_EQ(rows_of(events), mirror().btc_1h_0907);
}

TEST_F(VisionTest, BadRowStopsNamingFileAndLineOrIsSkipped) {
  std::vector<std::string> rows = mirror().btc_1h_0907;
  rows[4].replace(rows[4].find(',') + 1, 5, "1x790");  // line 5: open price is not a decimal
  rows[9] = rows[9].substr(0, rows[9].rfind(','));     // line 10: 11 columns
  const fs::path mirror_dir = one_day_mirror(rows);
  const auto request = klines("BTCUSDT", Interval::k1h, date("2022-09-07"), date("2022-09-08"));

  auto stopping = local({.base_url = mirror_dir.string()});
  std::vector<MarketEvent> events;
  auto stats = read_into(stopping, request, &events);
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.error().code, VisionErrc::kBadRow);
  EXPECT_EQ(stats.error().line, 5u);
  EXPECT_EQ(stats.error().location,
            klines_path(mirror_dir, "daily", "BTCUSDT", "1h", "2022-09-07").string());
  EXPECT_NE(stats.error().to_string().find("BTCUSDT-1h-2022-09-07.zip line 5: "), std::string::npos)
      << stats.error().to_string();
  EXPECT_NE(stats.error().message.find("column 1"), std::string::npos) << stats.error().message;
  EXPECT_EQ(events.size(), 4u);

  auto skipping = local({.base_url = mirror_dir.string(), .bad_rows = BadRowPolicy::kSkip});
  events.clear();
  stats = read_into(skipping, request, &events);
  ASSERT_TRUE(stats.ok()) << stats.error().to_string();
  EXPECT_EQ(events.size(), 22u);
  EXPECT_EQ(stats->skipped_rows, 2u);
  ASSERT_EQ(stats->row_errors.size(), 2u);
  EXPECT_EQ(stats->row_errors[0].rfind("BTCUSDT-1h-2022-09-07.zip line 5: ", 0), 0u)
      << stats->row_errors[0];
  EXPECT_EQ(stats->row_errors[1].rfind("BTCUSDT-1h-2022-09-07.zip line 10: ", 0), 0u)
      << stats->row_errors[1];
}

TEST_F(VisionTest, FileUrlPlainPathAndEnvironmentReadTheSameMirror) {
  const auto request = klines("BTCUSDT", Interval::k5m, date("2020-07-09"), date("2020-07-12"));
  std::vector<std::vector<std::string>> results;
  {
    ScopedEnv env(kVisionUrlEnv, ("file://" + root_.string()).c_str());
    for (const std::string& base :
         {root_.string(), root_.string() + "/", "file://" + root_.string(),
          "file://localhost" + root_.string(), std::string()}) {
      auto reader = open_or_die({.base_url = base});  // "" -> $BINANCE_VISION_URL
      EXPECT_TRUE(reader.is_local()) << base;
      EXPECT_EQ(reader.base(), root_.string()) << base;
      std::vector<MarketEvent> events;
      auto stats = read_into(reader, request, &events);
      ASSERT_TRUE(stats.ok()) << base << ": " << stats.error().to_string();
      results.push_back(rows_of(events));
    }
  }
  // 2020-07-09, 07-10 and the single row of 07-11 that the source holds.
  const auto expected = kline_rows_between(mirror().klines_5m, request.from, request.to);
  EXPECT_EQ(expected.size(), 577u);
  for (const auto& rows : results) EXPECT_EQ(rows, expected);
}

TEST_F(VisionTest, CallbackCanStopTheRead) {
  auto reader = local();
  int seen = 0;
  auto stats = reader.read(klines("BTCUSDT", Interval::k5m, date("2020-07-01"), date("2020-07-10")),
                           [&](const MarketEvent&) { return ++seen < 10; });
  ASSERT_TRUE(stats.ok()) << stats.error().to_string();
  EXPECT_TRUE(stats->stopped);
  EXPECT_EQ(seen, 10);
  EXPECT_EQ(stats->rows, 10u);
  EXPECT_EQ(stats->files, 1u);
}

TEST_F(VisionTest, BadOptionsAndRequestsAreConfigErrors) {
  for (const std::string& base :
       {std::string("ftp://example.com"), (scratch_ / "does-not-exist").string(),
        std::string("file://relative/dir")}) {
    auto reader = VisionReader::open({.base_url = base});
    ASSERT_FALSE(reader.ok()) << base;
    EXPECT_EQ(reader.error().code, VisionErrc::kConfig) << base;
  }
  auto reader = local();
  auto no_interval = reader.plan(VisionRequest{.symbol = *Symbol::parse("BTCUSDT"),
                                               .kind = VisionKind::kKlines,
                                               .from = date("2020-07-01"),
                                               .to = date("2020-07-02")});
  ASSERT_FALSE(no_interval.ok());
  EXPECT_EQ(no_interval.error().code, VisionErrc::kConfig);
  auto backwards =
      reader.read(klines("BTCUSDT", Interval::k5m, date("2020-07-02"), date("2020-07-01")),
                  [](const MarketEvent&) { return true; });
  ASSERT_FALSE(backwards.ok());
  EXPECT_EQ(backwards.error().code, VisionErrc::kConfig);
}

TEST_F(VisionTest, HttpFetcherDownloadsIntoTheCacheAndReadsItFromThereAfterwards) {
  MirrorServer server(root_);
  const fs::path cache = scratch_ / "cache";
  const auto request = klines("BTCUSDT", Interval::k5m, date("2020-07-01"), date("2020-07-03"));
  const std::vector<std::string> expected(mirror().klines_5m.begin(),
                                          mirror().klines_5m.begin() + 576);
  const VisionOptions options{.base_url = server.base_url() + "/", .cache_dir = cache};

  auto first = open_or_die(options);
  EXPECT_FALSE(first.is_local());
  EXPECT_EQ(first.cache_root(), cache / ("127.0.0.1_" + std::to_string(server.port())));
  std::vector<MarketEvent> events;
  auto stats = read_into(first, request, &events);
  ASSERT_TRUE(stats.ok()) << stats.error().to_string();
  EXPECT_EQ(rows_of(events), expected);
  EXPECT_EQ(server.requests(), 4);  // two zips, two CHECKSUMs
  EXPECT_EQ(stats->downloads, 4u);
  EXPECT_EQ(stats->cache_hits, 0u);
  EXPECT_EQ(stats->checksums_verified, 2u);
  ASSERT_EQ(stats->file_reports.size(), 2u);
  EXPECT_TRUE(stats->file_reports[0].downloaded);
  const fs::path cached =
      first.cache_root() / "data/spot/daily/klines/BTCUSDT/5m/BTCUSDT-5m-2020-07-01.zip";
  EXPECT_EQ(stats->file_reports[0].local_path, cached);
  EXPECT_EQ(read_file(cached),
            read_file(root_ / "data/spot/daily/klines/BTCUSDT/5m/BTCUSDT-5m-2020-07-01.zip"));
  EXPECT_TRUE(fs::exists(cached.string() + ".CHECKSUM"));

  // A second reader on the same cache asks the server for nothing.
  auto second = open_or_die(options);
  events.clear();
  stats = read_into(second, request, &events);
  ASSERT_TRUE(stats.ok()) << stats.error().to_string();
  EXPECT_EQ(rows_of(events), expected);
  EXPECT_EQ(server.requests(), 4);
  EXPECT_EQ(stats->cache_hits, 2u);
  EXPECT_EQ(stats->downloads, 0u);
  EXPECT_EQ(stats->checksums_verified, 2u);
  EXPECT_FALSE(stats->file_reports[0].downloaded);

  // A cached file damaged on disk fails its checksum and is downloaded again.
  flip_byte(cached, fs::file_size(cached) / 2);
  events.clear();
  stats = read_into(second, request, &events);
  ASSERT_TRUE(stats.ok()) << stats.error().to_string();
  EXPECT_EQ(rows_of(events), expected);
  EXPECT_EQ(server.requests(), 6);  // that zip and its CHECKSUM
  EXPECT_TRUE(stats->file_reports[0].downloaded);
}

TEST_F(VisionTest, HttpNotFoundMonthlyFallbackAndMismatch) {
  MirrorServer server(root_);
  auto reader = open_or_die({.base_url = server.base_url(), .cache_dir = scratch_ / "cache"});

  auto missing =
      reader.read(klines("ETHUSDT", Interval::k1m, date("2022-08-16"), date("2022-08-17")),
                  [](const MarketEvent&) { return true; });
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, VisionErrc::kNotFound);
  EXPECT_EQ(missing.error().location,
            server.base_url() + "/data/spot/daily/klines/ETHUSDT/1m/ETHUSDT-1m-2022-08-16.zip");

  // March 2020 has no monthly 15m file: the server's 404 sends the reader to the daily files.
  const auto march = klines("BTCUSDT", Interval::k15m, date("2020-03-01"), date("2020-04-01"));
  auto plan = reader.plan(march);
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->size(), 1u);
  EXPECT_EQ(plan->front().location,
            server.base_url() + "/data/spot/monthly/klines/BTCUSDT/15m/BTCUSDT-15m-2020-03.zip");
  std::vector<MarketEvent> events;
  auto stats = read_into(reader, march, &events);
  ASSERT_TRUE(stats.ok()) << stats.error().to_string();
  EXPECT_EQ(stats->monthly_fallbacks, 1u);
  EXPECT_EQ(stats->files, 31u);
  EXPECT_EQ(rows_of(events), kline_rows_between(mirror().klines_15m, march.from, march.to));

  // A server copy that does not match its CHECKSUM is refused and not kept in the cache.
  const fs::path bad_root = scratch_ / "bad_mirror";
  const fs::path zip = klines_path(bad_root, "daily", "BTCUSDT", "1h", "2022-09-07");
  fs::create_directories(zip.parent_path());
  fs::copy_file(root_ / fs::relative(zip, bad_root), zip);
  fs::copy_file(root_ / (fs::relative(zip, bad_root).string() + ".CHECKSUM"),
                zip.string() + ".CHECKSUM");
  flip_byte(zip, 200);
  MirrorServer bad_server(bad_root);
  auto bad_reader =
      open_or_die({.base_url = bad_server.base_url(), .cache_dir = scratch_ / "cache"});
  auto mismatch =
      bad_reader.read(klines("BTCUSDT", Interval::k1h, date("2022-09-07"), date("2022-09-08")),
                      [](const MarketEvent&) { return true; });
  ASSERT_FALSE(mismatch.ok());
  EXPECT_EQ(mismatch.error().code, VisionErrc::kChecksumMismatch);
  EXPECT_FALSE(fs::exists(bad_reader.cache_root() / fs::relative(zip, bad_root)));
}

TEST_F(VisionTest, DefaultBaseIsDataBinanceVisionOverHttps) {
  ScopedEnv url(kVisionUrlEnv, nullptr);
  ScopedEnv xdg("XDG_CACHE_HOME", (scratch_ / "xdg").c_str());
  auto reader = open_or_die({});
  EXPECT_FALSE(reader.is_local());
  EXPECT_EQ(reader.base(), "https://data.binance.vision");
  EXPECT_EQ(reader.cache_root(), scratch_ / "xdg/streamforge/vision/data.binance.vision");
  const auto request = klines("BTCUSDT", Interval::k5m, date("2020-07-01"), date("2020-07-02"));
  auto plan = reader.plan(request);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->at(0).location,
            "https://data.binance.vision/data/spot/daily/klines/BTCUSDT/5m/"
            "BTCUSDT-5m-2020-07-01.zip");
  // Reading would go to the Internet, which tests do not: the next test reads over TLS from a
  // loopback mirror with the same default fetcher.
}

TEST_F(VisionTest, HttpsMirrorReadsTheSameRowsWithItsCaAndNothingWithout) {
  sf::testing::TlsMirror server(root_, scratch_ / "tls");
  ASSERT_NO_FATAL_FAILURE(server.start());
  if (!server.skip_reason().empty()) GTEST_SKIP() << server.skip_reason();
  const auto request = klines("BTCUSDT", Interval::k5m, date("2020-07-01"), date("2020-07-10"));
  const std::vector<std::string> expected(mirror().klines_5m.begin(),
                                          mirror().klines_5m.begin() + 2592);

  HttpFetcherOptions trusting;
  trusting.tls.ca_file = server.ca_file();
  auto reader = open_or_die({.base_url = server.base_url(),
                             .cache_dir = scratch_ / "cache",
                             .fetcher = make_http_fetcher(trusting)});
  std::vector<MarketEvent> events;
  auto stats = read_into(reader, request, &events);
  ASSERT_TRUE(stats.ok()) << stats.error().to_string();
  EXPECT_EQ(stats->rows, 2592u);
  EXPECT_EQ(rows_of(events), expected);
  EXPECT_EQ(stats->files, 9u);
  EXPECT_EQ(stats->downloads, 18u);  // nine zips, nine CHECKSUMs
  EXPECT_EQ(stats->checksums_verified, 9u);
  const fs::path relative = "data/spot/daily/klines/BTCUSDT/5m/BTCUSDT-5m-2020-07-05.zip";
  EXPECT_EQ(read_file(reader.cache_root() / relative), read_file(root_ / relative));

  // The default fetcher trusts the system store only, which knows nothing of the test's
  // self-signed certificate: the first download fails verification and nothing is cached.
  auto untrusting = open_or_die({.base_url = server.base_url(), .cache_dir = scratch_ / "cache2"});
  auto refused = untrusting.read(request, [](const MarketEvent&) { return true; });
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, VisionErrc::kFetch) << refused.error().to_string();
  EXPECT_NE(refused.error().message.find("certificate verify failed"), std::string::npos)
      << refused.error().message;
  int cached_files = 0;  // directories are made before the download; no file may be left
  for (const auto& entry : fs::recursive_directory_iterator(untrusting.cache_root()))
    cached_files += entry.is_regular_file() ? 1 : 0;
  EXPECT_EQ(cached_files, 0);
}

// A Fetcher of the test's own: serves https://mirror.example/... from a directory.
class DirectoryFetcher final : public Fetcher {
 public:
  explicit DirectoryFetcher(fs::path root) : root_(std::move(root)) {}
  Result<void, VisionError> fetch(const std::string& url, const fs::path& dest) override {
    urls.push_back(url);
    const std::string prefix = "https://mirror.example/";
    const fs::path source = root_ / url.substr(prefix.size());
    if (!fs::exists(source)) return vision_error(VisionErrc::kNotFound, url, "absent");
    fs::copy_file(source, dest, fs::copy_options::overwrite_existing);
    return {};
  }
  std::vector<std::string> urls;

 private:
  fs::path root_;
};

TEST_F(VisionTest, AnyFetcherCanBePluggedIn) {
  auto fetcher = std::make_shared<DirectoryFetcher>(root_);
  auto reader = open_or_die(
      {.base_url = "https://mirror.example", .cache_dir = scratch_ / "cache", .fetcher = fetcher});
  std::vector<MarketEvent> events;
  auto stats = read_into(reader, agg_trades(date("2026-01-01"), date("2026-01-02")), &events);
  ASSERT_TRUE(stats.ok()) << stats.error().to_string();
  EXPECT_EQ(rows_of(events), mirror().agg_trades);
  EXPECT_EQ(stats->checksums_verified, 1u);
  const std::string zip_url =
      "https://mirror.example/data/spot/daily/aggTrades/BTCUSDT/BTCUSDT-aggTrades-2026-01-01.zip";
  EXPECT_EQ(fetcher->urls, (std::vector<std::string>{zip_url, zip_url + ".CHECKSUM"}));
}

TEST(VisionSha256, MatchesSha256sumOfARealFile) {
  SF_REQUIRE_SHARED_DATA("klines_zip_2022_lti/ETHUSDT-1m-2022-08-14.zip");
  // `sha256sum ETHUSDT-1m-2022-08-14.zip`
  auto digest = sha256_file_hex(sf::testing::shared_data_dir() /
                                "klines_zip_2022_lti/ETHUSDT-1m-2022-08-14.zip");
  ASSERT_TRUE(digest.ok()) << digest.error().to_string();
  EXPECT_EQ(*digest, "45c01d8f72dab068f3e42a0a135f042821ebe464245d394127cd958cd988568f");
  auto missing = sha256_file_hex("/nonexistent/file.zip");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, VisionErrc::kNotFound);
}

}  // namespace
}  // namespace sf::binance
