// PostgreSQL-specific behaviour: migrations, rollback, storage types, secrets in messages,
// reconnection, query plans. Tests that need a server skip without SF_TEST_POSTGRES_DSN; those
// about DSNs and messages run everywhere.
#include "store/postgres_store.h"

#include <cmath>
#include <limits>
#include <thread>

#include "store/postgres_test_support.h"
#include "store/store_test_support.h"

namespace sf::store::testing {
namespace {

constexpr TimestampUs kT0 = 1767225600039409;
constexpr const char* kSecret = "s3cret-Pa55word";

// ---------------------------------------------------------------------------------------------
// DSNs and messages (no server needed)

TEST(PostgresDsn, RedactsThePasswordInEveryForm) {
  EXPECT_EQ(PostgresStore::redact_dsn("postgres://sf:s3cret@127.0.0.1:15432/streamforge"),
            "postgres://sf:***@127.0.0.1:15432/streamforge");
  EXPECT_EQ(PostgresStore::redact_dsn("postgresql://sf:p%40ss@db/x?sslmode=disable"),
            "postgresql://sf:***@db/x?sslmode=disable");
  EXPECT_EQ(PostgresStore::redact_dsn("postgresql://sf@db/x?password=s3cret&sslmode=disable"),
            "postgresql://sf@db/x?password=***&sslmode=disable");
  EXPECT_EQ(PostgresStore::redact_dsn("host=db user=sf password='s3 cret' dbname=x"),
            "host=db user=sf password=*** dbname=x");
  EXPECT_EQ(PostgresStore::redact_dsn("host=db password = s3cret"), "host=db password = ***");
  // Nothing to hide.
  EXPECT_EQ(PostgresStore::redact_dsn("postgres://sf@db:5432/x"), "postgres://sf@db:5432/x");
  EXPECT_EQ(PostgresStore::redact_dsn("postgres://db/x"), "postgres://db/x");
}

void expect_open_error_hides_secret(const std::string& url, StoreErrc code) {
  auto store = open_store(url);
  ASSERT_FALSE(store.ok()) << url;
  EXPECT_EQ(store.error().code, code) << store.error().message;
  EXPECT_EQ(store.error().message.find(kSecret), std::string::npos) << store.error().message;
  EXPECT_EQ(store.error().message.find("s3cret"), std::string::npos) << store.error().message;
}

TEST(PostgresDsn, UnreachableServerIsAnOpenErrorWithoutThePassword) {
  // Port 1 on loopback: nothing listens there, the connection is refused at once.
  const std::string url =
      std::string("postgres://streamforge:") + kSecret + "@127.0.0.1:1/streamforge";
  auto store = open_store(url);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, StoreErrc::kOpen);
  EXPECT_NE(store.error().message.find("postgres://streamforge:***@127.0.0.1:1/streamforge"),
            std::string::npos)
      << store.error().message;
  EXPECT_EQ(store.error().message.find(kSecret), std::string::npos) << store.error().message;

  expect_open_error_hides_secret(
      std::string("postgresql://streamforge@127.0.0.1:1/streamforge?password=") + kSecret,
      StoreErrc::kOpen);
  // A malformed URL: libpq's complaint must not leak either.
  expect_open_error_hides_secret(
      std::string("postgresql://streamforge:") + kSecret + "@127.0.0.1:notaport/streamforge",
      StoreErrc::kOpen);
}

TEST(PostgresDsn, UnsupportedSchemesAreAConfigErrorWithoutThePassword) {
  expect_open_error_hides_secret(std::string("mysql://root:") + kSecret + "@db/x",
                                 StoreErrc::kConfig);
  auto store = open_store("mysql://db/x");
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.error().message.find("postgres://"), std::string::npos)
      << "lists the accepted forms: " << store.error().message;
}

// ---------------------------------------------------------------------------------------------
// Against a server

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!schema_.available()) GTEST_SKIP() << "postgres unavailable: " << kPostgresUnavailable;
  }

  StoreResult<std::unique_ptr<Store>> open() { return open_store(schema_.url()); }

  PostgresTestSchema schema_;
};

TEST_F(PostgresStoreTest, RecordsEveryAppliedMigration) {
  SF_ASSERT_OK_AND_ASSIGN(store, open());
  EXPECT_EQ(store->kind(), "postgres");
  SF_ASSERT_OK_AND_ASSIGN(version, store->schema_version());
  EXPECT_EQ(version, PostgresStore::latest_schema_version());
  EXPECT_EQ(schema_.scalar("SELECT COUNT(*) FROM schema_migrations"),
            std::to_string(PostgresStore::latest_schema_version()));
  EXPECT_EQ(schema_.scalar("SELECT MIN(version) FROM schema_migrations"), "1");
  EXPECT_GT(std::stoll(schema_.scalar("SELECT MIN(applied_at) FROM schema_migrations")),
            kT0 - 400LL * 86400 * 1'000'000);
  // The tables are in the test's schema, not in public.
  EXPECT_EQ(schema_.scalar("SELECT table_schema FROM information_schema.tables "
                           "WHERE table_name = 'trades' AND table_schema = '" +
                           schema_.schema() + "'"),
            schema_.schema());
}

TEST_F(PostgresStoreTest, RefusesADatabaseNewerThanThisBuild) {
  { SF_ASSERT_OK_AND_ASSIGN(store, open()); }
  const int newer = PostgresStore::latest_schema_version() + 1;
  schema_.exec("INSERT INTO schema_migrations (version, applied_at) VALUES (" +
               std::to_string(newer) + ", 0)");
  auto reopened = open();
  ASSERT_FALSE(reopened.ok());
  EXPECT_EQ(reopened.error().code, StoreErrc::kMigration);
  EXPECT_NE(reopened.error().message.find("newer"), std::string::npos) << reopened.error().message;
  // Refusing must not have touched the database.
  EXPECT_EQ(schema_.scalar("SELECT MAX(version) FROM schema_migrations"), std::to_string(newer));
  EXPECT_EQ(schema_.scalar("SELECT COUNT(*) FROM schema_migrations"),
            std::to_string(PostgresStore::latest_schema_version() + 1));
}

TEST_F(PostgresStoreTest, StoresOpeningAFreshSchemaAtOnceMigrateItOnce) {
  constexpr int kStores = 4;
  std::vector<std::thread> threads;
  std::vector<std::string> failures(kStores);
  for (int i = 0; i < kStores; ++i) {
    threads.emplace_back([&, i] {
      auto store = open();
      if (!store) failures[i] = store.error().message;
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const std::string& failure : failures) EXPECT_EQ(failure, "");
  EXPECT_EQ(schema_.scalar("SELECT COUNT(*) FROM schema_migrations"),
            std::to_string(PostgresStore::latest_schema_version()));
}

TEST_F(PostgresStoreTest, WrongPasswordIsAnOpenErrorWithoutThePassword) {
  // Swap the password in the working DSN for a wrong one.
  std::string url = schema_.url();
  const std::size_t at = url.find('@');
  const std::size_t colon = url.rfind(':', at);
  ASSERT_NE(at, std::string::npos);
  ASSERT_NE(colon, std::string::npos);
  ASSERT_GT(colon, url.find("://") + 2) << "the DSN has no password to replace: " << url;
  url.replace(colon + 1, at - colon - 1, kSecret);
  auto store = open_store(url);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, StoreErrc::kOpen);
  EXPECT_NE(store.error().message.find("password authentication failed"), std::string::npos)
      << store.error().message;
  EXPECT_EQ(store.error().message.find(kSecret), std::string::npos) << store.error().message;
}

TEST_F(PostgresStoreTest, StoresDecimalsAsNumericThatRoundTripByteIdentical) {
  SF_ASSERT_OK_AND_ASSIGN(store, open());
  const char* decimals[] = {"0.00000000",
                            "8733.91139481",
                            "61837.63000000",
                            "0.00000001",
                            "0",
                            "12",
                            "-1.5",
                            "1000000.00000000",
                            "99999999999999999999999999999.99999999",
                            "12345678901234567890.123456789012345678"};
  std::vector<Trade> batch;
  for (std::size_t i = 0; i < std::size(decimals); ++i) {
    batch.push_back(
        make_trade(static_cast<std::int64_t>(i), kT0 + static_cast<std::int64_t>(i), decimals[i]));
  }
  SF_ASSERT_OK(store->upsert_trades(batch));

  for (std::size_t i = 0; i < std::size(decimals); ++i) {
    // The server's own text of the value is the written text: the scale is kept.
    EXPECT_EQ(schema_.scalar("SELECT pg_typeof(price)::text || ',' || price::text FROM trades "
                             "WHERE trade_id = " +
                             std::to_string(i)),
              std::string("numeric,") + decimals[i]);
  }
  SF_ASSERT_OK_AND_ASSIGN(rows, store->trades(S("BTCUSDT"), {}));
  ASSERT_EQ(rows.size(), batch.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].price.to_string(), decimals[i]);
    EXPECT_TRUE(rows[i].price.identical(batch[i].price)) << decimals[i];
  }
  // Users can compute with them in SQL.
  EXPECT_EQ(schema_.scalar("SELECT SUM(price) FROM trades WHERE trade_id IN (0, 1, 2)"),
            "70571.54139481");
}

TEST_F(PostgresStoreTest, UsesBigintBooleanJsonbAndDoublePrecisionColumns) {
  SF_ASSERT_OK_AND_ASSIGN(store, open());
  SF_ASSERT_OK(store->upsert_trades(std::vector{make_trade(50093239218, kT0)}));
  SF_ASSERT_OK(store->upsert_depth_snapshots(std::vector{make_snapshot(100)}));
  SF_ASSERT_OK(store->append_telemetry(
      std::vector{make_telemetry("q1", "svc__a", 1767225600.039409, "started")}));
  EXPECT_EQ(schema_.scalar("SELECT pg_typeof(trade_id)::text || ',' || trade_id FROM trades"),
            "bigint,50093239218");
  EXPECT_EQ(schema_.scalar("SELECT pg_typeof(trade_time)::text || ',' || trade_time FROM trades"),
            "bigint,1767225600039409");
  EXPECT_EQ(schema_.scalar("SELECT pg_typeof(is_best_match)::text FROM trades"), "boolean");
  EXPECT_EQ(schema_.scalar("SELECT pg_typeof(bids)::text || ',' || (bids -> 0 ->> 0) "
                           "FROM depth_snapshots"),
            "jsonb,61837.63000000");
  EXPECT_EQ(schema_.scalar("SELECT pg_typeof(timestamp)::text FROM telemetry"), "double precision");
}

TEST_F(PostgresStoreTest, TextWithCopySpecialCharactersRoundTrips) {
  SF_ASSERT_OK_AND_ASSIGN(store, open());
  const std::string tricky = "tab\there, newline\nthere, cr\r, backslash \\ and \\N, ünïcødé, \\.";
  TelemetryEvent event = make_telemetry("q\t1", "svc\\a", 1.5, "error", tricky);
  event.extra = R"({"path":"C:\\temp","note":"line\nbreak"})";
  SF_ASSERT_OK(store->append_telemetry(std::vector{event}));
  const WorkflowState workflow{.queue_id = "\\N",
                               .status = "pending",
                               .definition = "{\"steps\":[\"a\\tb\"]}\n",
                               .created_at = 1.25,
                               .updated_at = 2.5};
  SF_ASSERT_OK(store->upsert_workflow(workflow));

  SF_ASSERT_OK_AND_ASSIGN(events, store->telemetry("q\t1"));
  ASSERT_EQ(events.size(), 1u);
  expect_same(events[0], event);
  SF_ASSERT_OK_AND_ASSIGN(got, store->workflow("\\N"));
  ASSERT_TRUE(got.has_value());
  expect_same(*got, workflow);
}

TEST_F(PostgresStoreTest, DoublesRoundTripBitExactIncludingInfinities) {
  SF_ASSERT_OK_AND_ASSIGN(store, open());
  const double values[] = {std::numeric_limits<double>::infinity(),
                           -std::numeric_limits<double>::infinity(),
                           -0.0,
                           std::numeric_limits<double>::denorm_min(),
                           std::numeric_limits<double>::max(),
                           0.1 + 0.2,
                           1767225600.039409};
  std::vector<IndicatorValue> batch;
  for (std::size_t i = 0; i < std::size(values); ++i) {
    batch.push_back(make_indicator(kT0 + static_cast<std::int64_t>(i), values[i]));
  }
  SF_ASSERT_OK(store->upsert_indicators(batch));
  SF_ASSERT_OK_AND_ASSIGN(rows, store->indicators(S("BTCUSDT"), Interval::k1m, "rsi_14", {}));
  ASSERT_EQ(rows.size(), batch.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].value, values[i]) << i;
    EXPECT_EQ(std::signbit(rows[i].value), std::signbit(values[i])) << i;
  }
}

TEST_F(PostgresStoreTest, ReplayingIdenticalRowsWritesNothingButAnyChangeIsWritten) {
  SF_ASSERT_OK_AND_ASSIGN(store, open());
  const std::string version_of_candle =
      "SELECT xmin::text || ':' || close::text FROM candles WHERE open_time = " +
      std::to_string(kT0);
  SF_ASSERT_OK(store->upsert_candles(std::vector{make_candle(kT0, true, "61850.0")}));
  const std::string written = schema_.scalar(version_of_candle);
  SF_ASSERT_OK(store->upsert_candles(std::vector{make_candle(kT0, true, "61850.0")}));
  EXPECT_EQ(schema_.scalar(version_of_candle), written) << "an identical replay wrote a new row";
  // Equal as NUMERIC, but written with another scale: replaced, so it reads back as written.
  SF_ASSERT_OK(store->upsert_candles(std::vector{make_candle(kT0, true, "61850.00")}));
  const std::string rescaled = schema_.scalar(version_of_candle);
  EXPECT_NE(rescaled, written);
  EXPECT_TRUE(rescaled.ends_with(":61850.00")) << rescaled;
  SF_ASSERT_OK_AND_ASSIGN(rows, store->candles(S("BTCUSDT"), Interval::k1m, {}));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].close.to_string(), "61850.00");

  // Same for an append-mostly table, whose replay fails the plain COPY and merges.
  SF_ASSERT_OK(store->upsert_trades(std::vector{make_trade(1, kT0), make_trade(2, kT0 + 1)}));
  const std::string trade_versions =
      "SELECT string_agg(xmin::text, ',' ORDER BY trade_id) FROM trades";
  const std::string before = schema_.scalar(trade_versions);
  SF_ASSERT_OK(store->upsert_trades(std::vector{make_trade(1, kT0), make_trade(2, kT0 + 1)}));
  EXPECT_EQ(schema_.scalar(trade_versions), before);
  SF_ASSERT_OK(store->upsert_trades(std::vector{make_trade(1, kT0), make_trade(2, kT0 + 5)}));
  SF_ASSERT_OK_AND_ASSIGN(trades, store->trades(S("BTCUSDT"), {}));
  ASSERT_EQ(trades.size(), 2u);
  EXPECT_EQ(trades[1].trade_time, kT0 + 5);
}

// A batch whose row `failing_row` (of `rows`) is refused by a trigger after earlier rows updated
// existing trades and inserted new ones inside the transaction; none of it may survive.
class PostgresRollbackTest : public PostgresStoreTest,
                             public ::testing::WithParamInterface<std::pair<int, int>> {};

TEST_P(PostgresRollbackTest, AFailingBatchRollsBackEntirely) {
  const auto [rows, failing_row] = GetParam();
  SF_ASSERT_OK_AND_ASSIGN(store, open());
  SF_ASSERT_OK(store->upsert_trades(
      std::vector{make_trade(0, kT0, "1.00000000"), make_trade(1, kT0 + 1, "2.00000000")}));
  schema_.exec(
      "CREATE FUNCTION refuse_one_trade() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
      "IF NEW.trade_id = " +
      std::to_string(failing_row) +
      " THEN RAISE EXCEPTION 'trades are read-only'; END IF; RETURN NEW; END $$");
  schema_.exec(
      "CREATE TRIGGER refuse_one_trade BEFORE INSERT OR UPDATE ON trades "
      "FOR EACH ROW EXECUTE FUNCTION refuse_one_trade()");

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

INSTANTIATE_TEST_SUITE_P(BatchShapes, PostgresRollbackTest,
                         ::testing::Values(std::pair{5, 4}, std::pair{1000, 700},
                                           std::pair{1000, 999}));

TEST_F(PostgresStoreTest, AValueTheServerRejectsFailsTheWholeCopy) {
  SF_ASSERT_OK_AND_ASSIGN(store, open());
  SF_ASSERT_OK(store->append_telemetry(std::vector{make_telemetry("q1", "svc__a", 1, "started")}));
  std::vector<TelemetryEvent> batch;
  for (int i = 0; i < 500; ++i) {
    // Row 250's message is not UTF-8, which the server refuses while parsing the COPY data.
    batch.push_back(make_telemetry("q1", "svc__a", 2 + i, "loading", i == 250 ? "bad \xff" : "ok"));
  }
  batch.push_back(make_telemetry("q1", "svc__a", 1, "started", "replaced?"));
  auto written = store->append_telemetry(batch);
  ASSERT_FALSE(written.ok());
  EXPECT_EQ(written.error().code, StoreErrc::kWrite);
  EXPECT_NE(written.error().message.find("UTF8"), std::string::npos) << written.error().message;
  SF_ASSERT_OK_AND_ASSIGN(events, store->telemetry("q1"));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].message, "");
}

TEST_F(PostgresStoreTest, ReconnectsAfterTheServerDropsTheConnection) {
  SF_ASSERT_OK_AND_ASSIGN(store, open());
  SF_ASSERT_OK(store->upsert_trades(std::vector{make_trade(1, kT0)}));
  // The timeout makes pg_terminate_backend wait until the store's server process is gone.
  EXPECT_EQ(schema_.scalar("SELECT bool_and(pg_terminate_backend(pid, 10000)) FROM "
                           "pg_stat_activity WHERE application_name = '" +
                           schema_.schema() + "'"),
            "t");
  // The call that finds the connection dead fails; the next one reconnects.
  auto failed = store->trades(S("BTCUSDT"), {});
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, StoreErrc::kRead);
  SF_ASSERT_OK_AND_ASSIGN(rows, store->trades(S("BTCUSDT"), {}));
  EXPECT_EQ(rows.size(), 1u);
  // Staging tables and prepared statements were rebuilt with the session.
  SF_ASSERT_OK(store->upsert_trades(std::vector{make_trade(2, kT0 + 1), make_trade(2, kT0 + 1)}));
  SF_ASSERT_OK_AND_ASSIGN(after, store->trades(S("BTCUSDT"), {}));
  EXPECT_EQ(after.size(), 2u);
}

TEST_F(PostgresStoreTest, EveryReadCanBeServedInOrderByAnIndex) {
  SF_ASSERT_OK_AND_ASSIGN(opened, PostgresStore::open(schema_.url()));
  SF_ASSERT_OK_AND_ASSIGN(plans, opened->read_query_plans());
  ASSERT_EQ(plans.size(), 8u);
  const std::pair<const char*, const char*> expected_index[] = {
      {"trades", "trades_by_time"},      {"agg_trades", "agg_trades_by_time"},
      {"candles", "candles_pkey"},       {"depth_snapshots", "depth_snapshots_pkey"},
      {"indicators", "indicators_pkey"}, {"telemetry", "telemetry_by_time"},
      {"workflow", "workflows_pkey"},    {"workflows", "workflows_by_creation"},
  };
  for (std::size_t i = 0; i < plans.size(); ++i) {
    const auto& [name, plan] = plans[i];
    EXPECT_EQ(name, expected_index[i].first);
    EXPECT_NE(plan.find(expected_index[i].second), std::string::npos) << name << ": " << plan;
    EXPECT_EQ(plan.find("Sort"), std::string::npos) << name << ": " << plan;
    EXPECT_EQ(plan.find("Seq Scan"), std::string::npos) << name << ": " << plan;
  }
}

}  // namespace
}  // namespace sf::store::testing
