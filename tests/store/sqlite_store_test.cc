// SQLite-specific behaviour: pragmas, migrations, rollback, storage types, query plans, URLs.
#include "store/sqlite_store.h"

#include <sqlite3.h>

#include <fstream>

#include "store/store_test_support.h"

namespace sf::store::testing {
namespace {

// A second, raw connection to a store's file: inspects and tampers with what the store wrote.
class RawDb {
 public:
  explicit RawDb(const std::filesystem::path& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) ADD_FAILURE() << sqlite3_errmsg(db_);
    sqlite3_busy_timeout(db_, 5000);
  }
  ~RawDb() { sqlite3_close(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  void exec(const std::string& sql) {
    char* message = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
      ADD_FAILURE() << sql << ": " << (message ? message : "?");
    }
    sqlite3_free(message);
  }

  // The first column of the first row as text ("" when there is no row, "NULL" for NULL).
  std::string scalar(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db_);
      return {};
    }
    std::string out;
    if (sqlite3_step(stmt) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(stmt, 0);
      out = text ? reinterpret_cast<const char*>(text) : "NULL";
    }
    sqlite3_finalize(stmt);
    return out;
  }

 private:
  sqlite3* db_ = nullptr;
};

constexpr TimestampUs kT0 = 1767225600039409;

class SqliteStoreTest : public ::testing::Test {
 protected:
  std::filesystem::path db_path() const { return dir_.path() / "store.db"; }
  std::string url() const { return "sqlite:" + db_path().string(); }

  TempDir dir_;
};

TEST_F(SqliteStoreTest, RunsInWalMode) {
  SF_ASSERT_OK_AND_ASSIGN(store, open_store(url()));
  EXPECT_EQ(store->kind(), "sqlite");
  RawDb raw(db_path());
  EXPECT_EQ(raw.scalar("PRAGMA journal_mode"), "wal");
}

TEST_F(SqliteStoreTest, RecordsEveryAppliedMigration) {
  SF_ASSERT_OK_AND_ASSIGN(store, open_store(url()));
  SF_ASSERT_OK_AND_ASSIGN(version, store->schema_version());
  EXPECT_EQ(version, SqliteStore::latest_schema_version());
  RawDb raw(db_path());
  EXPECT_EQ(raw.scalar("SELECT COUNT(*) FROM schema_migrations"),
            std::to_string(SqliteStore::latest_schema_version()));
  EXPECT_EQ(raw.scalar("SELECT MIN(version) FROM schema_migrations"), "1");
  // applied_at is µs since the epoch, recent.
  EXPECT_GT(std::stoll(raw.scalar("SELECT MIN(applied_at) FROM schema_migrations")),
            kT0 - 400LL * 86400 * 1'000'000);
}

TEST_F(SqliteStoreTest, RefusesADatabaseNewerThanThisBuild) {
  { SF_ASSERT_OK_AND_ASSIGN(store, open_store(url())); }
  const int newer = SqliteStore::latest_schema_version() + 1;
  {
    RawDb raw(db_path());
    raw.exec("INSERT INTO schema_migrations (version, applied_at) VALUES (" +
             std::to_string(newer) + ", 0)");
  }
  auto reopened = open_store(url());
  ASSERT_FALSE(reopened.ok());
  EXPECT_EQ(reopened.error().code, StoreErrc::kMigration);
  EXPECT_NE(reopened.error().message.find("newer"), std::string::npos) << reopened.error().message;
  // Refusing must not have touched the database.
  RawDb raw(db_path());
  EXPECT_EQ(raw.scalar("SELECT MAX(version) FROM schema_migrations"), std::to_string(newer));
}

// A batch that fails on its row `failing_row` (of `rows`) after earlier rows updated existing
// trades and inserted new ones inside the transaction; none of it may survive.
class SqliteRollbackTest : public SqliteStoreTest,
                           public ::testing::WithParamInterface<std::pair<int, int>> {};

TEST_P(SqliteRollbackTest, AFailingBatchRollsBackEntirely) {
  const auto [rows, failing_row] = GetParam();
  SF_ASSERT_OK_AND_ASSIGN(store, open_store(url()));
  SF_ASSERT_OK(store->upsert_trades(
      std::vector{make_trade(0, kT0, "1.00000000"), make_trade(1, kT0 + 1, "2.00000000")}));
  {
    // Another connection makes one trade id unwritable.
    RawDb raw(db_path());
    raw.exec("CREATE TRIGGER refuse_one_trade BEFORE INSERT ON trades WHEN NEW.trade_id = " +
             std::to_string(failing_row) +
             " BEGIN SELECT RAISE(ABORT, 'trades are read-only'); END");
  }
  std::vector<Trade> batch;
  for (int i = 0; i < rows; ++i) batch.push_back(make_trade(i, kT0 + i, "9.00000000"));
  auto written = store->upsert_trades(batch);
  ASSERT_FALSE(written.ok());
  EXPECT_EQ(written.error().code, StoreErrc::kWrite);
  EXPECT_NE(written.error().message.find("trades are read-only"), std::string::npos)
      << written.error().message;

  SF_ASSERT_OK_AND_ASSIGN(stored, store->trades(S("BTCUSDT"), {}));
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_EQ(stored[0].price.to_string(), "1.00000000");
  EXPECT_EQ(stored[1].price.to_string(), "2.00000000");

  // The connection is usable again: the next good batch commits.
  SF_ASSERT_OK(store->upsert_trades(std::vector{make_trade(rows + 1, kT0 + rows)}));
  SF_ASSERT_OK_AND_ASSIGN(after, store->trades(S("BTCUSDT"), {}));
  EXPECT_EQ(after.size(), 3u);
}

INSTANTIATE_TEST_SUITE_P(BatchShapes, SqliteRollbackTest,
                         ::testing::Values(std::pair{5, 4}, std::pair{1000, 700},
                                           std::pair{1000, 999}));

TEST_F(SqliteStoreTest, StoresDecimalsAsTextAndTimesAndIdsAsIntegers) {
  SF_ASSERT_OK_AND_ASSIGN(store, open_store(url()));
  SF_ASSERT_OK(store->upsert_trades(std::vector{make_trade(50093239218, kT0)}));
  SF_ASSERT_OK(store->upsert_candles(std::vector{make_candle(kT0, true)}));
  RawDb raw(db_path());
  EXPECT_EQ(raw.scalar("SELECT typeof(price) || ',' || price FROM trades"), "text,61837.63000000");
  EXPECT_EQ(raw.scalar("SELECT typeof(quantity) || ',' || quantity FROM trades"),
            "text,0.02000000");
  EXPECT_EQ(raw.scalar("SELECT typeof(trade_id) || ',' || trade_id FROM trades"),
            "integer,50093239218");
  EXPECT_EQ(raw.scalar("SELECT typeof(trade_time) || ',' || trade_time FROM trades"),
            "integer,1767225600039409");
  EXPECT_EQ(raw.scalar("SELECT typeof(is_best_match) || ',' || is_best_match FROM trades"),
            "integer,1");
  EXPECT_EQ(raw.scalar("SELECT typeof(close) || ',' || interval FROM candles"), "text,1m");
  EXPECT_EQ(raw.scalar("SELECT COUNT(*) FROM candles WHERE typeof(ignore_value) <> 'text' OR "
                       "typeof(quote_asset_volume) <> 'text' OR typeof(open_time) <> 'integer'"),
            "0");
}

TEST_F(SqliteStoreTest, StoresMissingBestMatchAsNull) {
  SF_ASSERT_OK_AND_ASSIGN(store, open_store(url()));
  SF_ASSERT_OK(store->upsert_agg_trades(std::vector{make_agg_trade(1, kT0)}));
  RawDb raw(db_path());
  EXPECT_EQ(raw.scalar("SELECT is_best_match FROM agg_trades"), "NULL");
}

TEST_F(SqliteStoreTest, StoresDepthLevelsAsCompactJson) {
  SF_ASSERT_OK_AND_ASSIGN(store, open_store(url()));
  SF_ASSERT_OK(store->upsert_depth_snapshots(std::vector{make_snapshot(7)}));
  RawDb raw(db_path());
  EXPECT_EQ(raw.scalar("SELECT bids FROM depth_snapshots"),
            R"([["61837.63000000","0.02000000"],["61837.62000000","1.00000000"]])");
  EXPECT_EQ(raw.scalar("SELECT asks FROM depth_snapshots"), R"([["61837.64000000","0.50000000"]])");
  EXPECT_EQ(raw.scalar("SELECT json_valid(bids) AND json_valid(asks) FROM depth_snapshots"), "1");
}

TEST_F(SqliteStoreTest, ReadsDepthLevelsWithWhitespace) {
  SF_ASSERT_OK_AND_ASSIGN(store, open_store(url()));
  SF_ASSERT_OK(store->upsert_depth_snapshots(std::vector{make_snapshot(7)}));
  {
    RawDb raw(db_path());
    raw.exec(R"(UPDATE depth_snapshots SET bids = '[ [ "1.10" , "2.0" ] , ["1.00","3"] ]',
                asks = ' [ ] ')");
  }
  SF_ASSERT_OK_AND_ASSIGN(rows, store->depth_snapshots(S("BTCUSDT"), 0, 100));
  ASSERT_EQ(rows.size(), 1u);
  ASSERT_EQ(rows[0].bids.size(), 2u);
  EXPECT_EQ(rows[0].bids[0].price.to_string(), "1.10");
  EXPECT_EQ(rows[0].bids[1].quantity.to_string(), "3");
  EXPECT_TRUE(rows[0].asks.empty());
}

TEST_F(SqliteStoreTest, ReportsUndecodableValuesAsCorrupt) {
  SF_ASSERT_OK_AND_ASSIGN(store, open_store(url()));
  SF_ASSERT_OK(store->upsert_trades(std::vector{make_trade(1, kT0)}));
  SF_ASSERT_OK(store->upsert_depth_snapshots(std::vector{make_snapshot(7)}));
  {
    RawDb raw(db_path());
    raw.exec("UPDATE trades SET price = '61837.6x'");
    raw.exec("UPDATE depth_snapshots SET asks = '[[\"1\",\"2\"]'");  // unterminated
  }
  auto trades = store->trades(S("BTCUSDT"), {});
  ASSERT_FALSE(trades.ok());
  EXPECT_EQ(trades.error().code, StoreErrc::kCorrupt);
  EXPECT_NE(trades.error().message.find("trades.price"), std::string::npos)
      << trades.error().message;
  auto snapshots = store->depth_snapshots(S("BTCUSDT"), 0, 100);
  ASSERT_FALSE(snapshots.ok());
  EXPECT_EQ(snapshots.error().code, StoreErrc::kCorrupt);
}

TEST_F(SqliteStoreTest, TablesAreStrict) {
  SF_ASSERT_OK_AND_ASSIGN(store, open_store(url()));
  RawDb raw(db_path());
  // STRICT: SQLite rejects (or converts to the declared type) instead of storing any type.
  EXPECT_EQ(raw.scalar("SELECT COUNT(*) FROM pragma_table_list WHERE strict = 0 AND name IN "
                       "('trades', 'agg_trades', 'candles', 'depth_snapshots', 'indicators', "
                       "'telemetry', 'workflows', 'graphs', 'graph_nodes', 'graph_edges')"),
            "0");
  EXPECT_EQ(raw.scalar("SELECT COUNT(*) FROM pragma_table_list WHERE strict = 1"), "10");
}

TEST_F(SqliteStoreTest, ReadQueriesUseIndexesAndNeverSort) {
  SF_ASSERT_OK_AND_ASSIGN(store, SqliteStore::open(db_path().string()));
  SF_ASSERT_OK_AND_ASSIGN(plans, store->read_query_plans());
  ASSERT_EQ(plans.size(), 8u);
  for (const auto& [name, plan] : plans) {
    EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << name << ": " << plan;
    if (name == "workflows") continue;  // lists every workflow, in index order
    EXPECT_EQ(plan.find("SCAN"), std::string::npos) << name << ": " << plan;
    EXPECT_NE(plan.find("SEARCH"), std::string::npos) << name << ": " << plan;
  }
}

TEST_F(SqliteStoreTest, InMemoryStoreWorks) {
  SF_ASSERT_OK_AND_ASSIGN(store, open_store("sqlite::memory:"));
  SF_ASSERT_OK(store->upsert_trades(std::vector{make_trade(1, kT0)}));
  SF_ASSERT_OK_AND_ASSIGN(rows, store->trades(S("BTCUSDT"), {}));
  EXPECT_EQ(rows.size(), 1u);
  SF_ASSERT_OK_AND_ASSIGN(version, store->schema_version());
  EXPECT_EQ(version, SqliteStore::latest_schema_version());
}

TEST_F(SqliteStoreTest, OpenStoreCreatesParentDirectories) {
  const std::filesystem::path nested = dir_.path() / "a" / "b" / "c" / "store.db";
  SF_ASSERT_OK_AND_ASSIGN(store, open_store("sqlite:" + nested.string()));
  EXPECT_TRUE(std::filesystem::exists(nested));
}

TEST_F(SqliteStoreTest, AnUnusablePathIsAnOpenError) {
  const std::filesystem::path file = dir_.path() / "plain-file";
  std::ofstream(file) << "not a directory";
  auto store = open_store("sqlite:" + (file / "store.db").string());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, StoreErrc::kOpen);
}

TEST_F(SqliteStoreTest, AFileThatIsNotADatabaseIsRefused) {
  std::ofstream(db_path()) << std::string(4096, 'x');
  auto store = open_store(url());
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.error().code, StoreErrc::kConfig);
}

TEST(OpenStore, RejectsUrlsItDoesNotKnow) {
  // postgres:// and postgresql:// URLs are PostgresStore's (postgres_store_test.cc).
  for (const char* url : {"", "sqlite:", "postgres:streamforge", "mysql://x/y", "/tmp/store.db",
                          "SQLITE:/tmp/store.db", "file:/tmp/store.db"}) {
    auto store = open_store(url);
    ASSERT_FALSE(store.ok()) << url;
    EXPECT_EQ(store.error().code, StoreErrc::kConfig) << url;
    EXPECT_NE(store.error().message.find("sqlite:PATH"), std::string::npos)
        << url << ": " << store.error().message;
  }
}

TEST(StoreErrc, HasReadableNames) {
  EXPECT_STREQ(to_string(StoreErrc::kOpen), "open");
  EXPECT_STREQ(to_string(StoreErrc::kMigration), "migration");
  EXPECT_STREQ(to_string(StoreErrc::kWrite), "write");
  EXPECT_STREQ(to_string(StoreErrc::kRead), "read");
  EXPECT_STREQ(to_string(StoreErrc::kCorrupt), "corrupt");
  EXPECT_STREQ(to_string(StoreErrc::kConfig), "config");
}

}  // namespace
}  // namespace sf::store::testing
