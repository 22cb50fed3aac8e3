// ArangoDB store tests. No ArangoDB server can run on these machines, so every test here runs
// against the local contract server (arango_contract_server.h), which checks each request against
// ArangoDB's documented HTTP API; hence the ArangoContract* names. Each test also asserts that the
// store sent no request outside that API.
#include "store/arango_store.h"

#include <cmath>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "runtime/log.h"
#include "runtime/store_options.h"
#include "store/arango_contract_server.h"
#include "store/store_test_support.h"

namespace sf::store::testing {
namespace {

constexpr TimestampUs kT0 = 1767225600039409;

class ArangoContract : public ::testing::Test {
 protected:
  void TearDown() override {
    for (const std::string& v : server_.violations()) ADD_FAILURE() << "contract violation: " << v;
  }

  std::unique_ptr<Store> open(const std::string& params = "") {
    auto store = open_store(server_.store_url("streamforge", params));
    EXPECT_TRUE(store.ok()) << (store.ok() ? "" : store.error().message);
    return store.ok() ? std::move(*store) : nullptr;
  }

  std::vector<ArangoContractServer::Recorded> requests_to(std::string_view method,
                                                          std::string_view path_part) {
    std::vector<ArangoContractServer::Recorded> out;
    for (auto& r : server_.requests()) {
      if (r.method == method && r.path.find(path_part) != std::string::npos) out.push_back(r);
    }
    return out;
  }

  ArangoContractServer server_;
};

TEST_F(ArangoContract, OpenCreatesTheDatabaseAndCollectionsWithIndexesOnFirstUse) {
  ASSERT_FALSE(server_.has_database("streamforge"));
  auto store = open();
  ASSERT_TRUE(store);
  EXPECT_EQ(store->kind(), "arango");
  EXPECT_TRUE(server_.has_database("streamforge"));
  EXPECT_EQ(server_.count_requests("POST", "/_db/_system/_api/database"), 1u);
  SF_ASSERT_OK_AND_ASSIGN(version, store->schema_version());
  EXPECT_EQ(version, ArangoStore::kSchemaVersion);
  EXPECT_TRUE(server_.document("streamforge", "sf_meta", "schema").has_value());

  SF_ASSERT_OK(store->upsert_trades(std::vector{make_trade(1, kT0)}));
  SF_ASSERT_OK(store->upsert_candles(std::vector{make_candle(kT0, true)}));
  EXPECT_EQ(server_.collection_type("streamforge", "btcusdt_trades"), 2);
  EXPECT_EQ(server_.collection_type("streamforge", "btcusdt_candles_1m"), 2);
  const auto indexes = server_.indexes("streamforge", "btcusdt_trades");
  ASSERT_EQ(indexes.size(), 2u);
  EXPECT_EQ(indexes[0].fields, (std::vector<std::string>{"symbol", "series", "time"}));
  EXPECT_EQ(indexes[1].fields, (std::vector<std::string>{"symbol", "series", "ord"}));
  EXPECT_FALSE(indexes[0].unique);

  // Later writes reuse the collection: no second create.
  const std::size_t creates = server_.count_requests("POST", "/_db/streamforge/_api/collection");
  SF_ASSERT_OK(store->upsert_trades(std::vector{make_trade(2, kT0)}));
  EXPECT_EQ(server_.count_requests("POST", "/_db/streamforge/_api/collection"), creates);

  // A second store on the existing database creates nothing and finds the schema.
  auto again = open();
  ASSERT_TRUE(again);
  EXPECT_EQ(server_.count_requests("POST", "/_db/_system/_api/database"), 1u);
  SF_ASSERT_OK_AND_ASSIGN(rows, again->trades(S("BTCUSDT"), {}));
  EXPECT_EQ(rows.size(), 2u);
}

TEST_F(ArangoContract, RewritingTheSameBatchLeavesTheSameDocuments) {
  auto store = open();
  ASSERT_TRUE(store);
  const std::vector<Trade> batch = {make_trade(1, kT0), make_trade(2, kT0 + 1),
                                    make_trade(3, kT0 + 2)};
  SF_ASSERT_OK(store->upsert_trades(batch));
  const auto first = server_.document("streamforge", "btcusdt_trades", "BTCUSDT_trade_2");
  ASSERT_TRUE(first.has_value());
  SF_ASSERT_OK(store->upsert_trades(batch));
  EXPECT_EQ(server_.document_count("streamforge", "btcusdt_trades"), 3u);
  EXPECT_EQ(server_.keys("streamforge", "btcusdt_trades"),
            (std::vector<std::string>{"BTCUSDT_trade_1", "BTCUSDT_trade_2", "BTCUSDT_trade_3"}));
  SF_ASSERT_OK_AND_ASSIGN(rows, store->trades(S("BTCUSDT"), {}));
  ASSERT_EQ(rows.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) expect_same(rows[i], batch[i]);
  // Imports replace by _key, whole-or-nothing, with details.
  const auto imports = requests_to("POST", "/_api/import");
  ASSERT_EQ(imports.size(), 2u);
  for (const auto& r : imports) {
    EXPECT_EQ(r.query.find("collection")->second, "btcusdt_trades");
    EXPECT_EQ(r.query.find("type")->second, "documents");
    EXPECT_EQ(r.query.find("onDuplicate")->second, "replace");
    EXPECT_EQ(r.query.find("complete")->second, "true");
    EXPECT_EQ(r.query.find("details")->second, "true");
    EXPECT_EQ(std::count(r.body.begin(), r.body.end(), '\n'), 3);
  }
}

TEST_F(ArangoContract, CursorPagesThroughMoreResultsThanOneBatch) {
  auto store = open("batch_size=7");
  ASSERT_TRUE(store);
  std::vector<Trade> batch;
  for (int i = 0; i < 50; ++i) batch.push_back(make_trade(100 - i, kT0 + 1000 - i));
  SF_ASSERT_OK(store->upsert_trades(batch));
  server_.clear_requests();
  SF_ASSERT_OK_AND_ASSIGN(rows, store->trades(S("BTCUSDT"), {}));
  ASSERT_EQ(rows.size(), 50u);
  for (std::size_t i = 1; i < rows.size(); ++i)
    EXPECT_LT(rows[i - 1].trade_time, rows[i].trade_time);
  const auto created = requests_to("POST", "/_db/streamforge/_api/cursor");
  ASSERT_EQ(created.size(), 8u);  // 1 create + 7 continuations (50 = 7 * 7 + 1)
  EXPECT_EQ(created[0].path, "/_db/streamforge/_api/cursor");
  EXPECT_NE(created[0].body.find(R"("batchSize":7)"), std::string::npos);
  EXPECT_NE(created[0].body.find(R"("bindVars":{"@collection":"btcusdt_trades")"),
            std::string::npos);
  for (std::size_t i = 1; i < created.size(); ++i) {
    EXPECT_TRUE(created[i].path.starts_with("/_db/streamforge/_api/cursor/"));
  }
  EXPECT_EQ(server_.open_cursors(), 0u);

  // A sub-range through the same paging.
  SF_ASSERT_OK_AND_ASSIGN(some, store->trades(S("BTCUSDT"), {kT0 + 951, kT0 + 971}));
  ASSERT_EQ(some.size(), 20u);
  EXPECT_EQ(some.front().trade_time, kT0 + 951);
  EXPECT_EQ(some.back().trade_time, kT0 + 970);
}

// ArangoDB 3.11 made POST /_api/cursor/<id> the way to read the next batch (PUT deprecated);
// cursor_next=PUT is for older servers.
TEST_F(ArangoContract, CursorContinuationVerbIsPostOrConfiguredPut) {
  for (const std::string verb : {"POST", "PUT"}) {
    SCOPED_TRACE(verb);
    auto store = open("batch_size=2&cursor_next=" + verb);
    ASSERT_TRUE(store);
    SF_ASSERT_OK(store->upsert_agg_trades(std::vector{
        make_agg_trade(1, kT0), make_agg_trade(2, kT0 + 1), make_agg_trade(3, kT0 + 2)}));
    server_.clear_requests();
    SF_ASSERT_OK_AND_ASSIGN(rows, store->agg_trades(S("BTCUSDT"), {}));
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_EQ(server_.count_requests(verb, "/_db/streamforge/_api/cursor/"), 1u);
    EXPECT_EQ(
        server_.count_requests(verb == "POST" ? "PUT" : "POST", "/_db/streamforge/_api/cursor/"),
        0u);
  }
  EXPECT_FALSE(open_store(server_.store_url("streamforge", "cursor_next=GET")).ok());
}

TEST_F(ArangoContract, HttpAndArangoErrorsMapToStoreErrors) {
  // 401 at open: kOpen with the status and errorNum, never the password.
  server_.inject(
      "GET", "/_api/database/current", 401,
      ArangoContractServer::error_body(401, 11, "not authorized to execute this request"));
  auto refused = open_store(server_.store_url());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, StoreErrc::kOpen);
  EXPECT_NE(refused.error().message.find("HTTP 401"), std::string::npos) << refused.error().message;
  EXPECT_NE(refused.error().message.find("errorNum 11"), std::string::npos);
  EXPECT_EQ(refused.error().message.find(server_.password()), std::string::npos);

  auto store = open();
  ASSERT_TRUE(store);
  SF_ASSERT_OK(store->upsert_trades(std::vector{make_trade(1, kT0)}));

  server_.inject("POST", "/_api/import", 409,
                 ArangoContractServer::error_body(409, 1210, "unique constraint violated"));
  auto conflict = store->upsert_trades(std::vector{make_trade(2, kT0)});
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.error().code, StoreErrc::kWrite);
  EXPECT_NE(conflict.error().message.find("HTTP 409 errorNum 1210"), std::string::npos)
      << conflict.error().message;

  // A collection reported missing (dropped behind the store's back) is created again and the
  // import retried once; missing twice in a row is a write error.
  server_.inject("POST", "/_api/import", 404,
                 ArangoContractServer::error_body(404, 1203, "collection or view not found"));
  const std::size_t creates = server_.count_requests("POST", "/_db/streamforge/_api/collection");
  SF_ASSERT_OK(store->upsert_trades(std::vector{make_trade(3, kT0)}));
  EXPECT_EQ(server_.count_requests("POST", "/_db/streamforge/_api/collection"), creates + 1);
  server_.inject("POST", "/_api/import", 404,
                 ArangoContractServer::error_body(404, 1203, "collection or view not found"), 2);
  auto missing = store->upsert_trades(std::vector{make_trade(4, kT0)});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, StoreErrc::kWrite);
  EXPECT_NE(missing.error().message.find("errorNum 1203"), std::string::npos);

  // 500 on a read; retried (idempotent) only on 503, so one injected 500 fails the read.
  server_.inject("POST", "/_api/cursor", 500,
                 ArangoContractServer::error_body(500, 4, "internal error"));
  auto broken = store->trades(S("BTCUSDT"), {});
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.error().code, StoreErrc::kRead);
  EXPECT_NE(broken.error().message.find("HTTP 500 errorNum 4: internal error"), std::string::npos)
      << broken.error().message;

  // A 503 is retried: one injected 503 and the read still succeeds.
  server_.inject("POST", "/_api/cursor", 503,
                 ArangoContractServer::error_body(503, 503, "service unavailable"));
  SF_ASSERT_OK_AND_ASSIGN(rows, store->trades(S("BTCUSDT"), {}));
  EXPECT_EQ(rows.size(), 2u);  // trades 1 and 3

  // Reading a collection that was never written is empty, not an error (404 / 1203).
  SF_ASSERT_OK_AND_ASSIGN(none, store->trades(S("ETHUSDT"), {}));
  EXPECT_TRUE(none.empty());
  SF_ASSERT_OK_AND_ASSIGN(no_workflow, store->workflow("nope"));
  EXPECT_FALSE(no_workflow.has_value());
}

TEST_F(ArangoContract, UndecodableResultIsCorruptAndItsCursorIsDeleted) {
  auto store = open();
  ASSERT_TRUE(store);
  SF_ASSERT_OK(store->upsert_trades(std::vector{make_trade(1, kT0)}));
  server_.inject("POST", "/_api/cursor", 201,
                 R"({"result":[{"symbol":"BTCUSDT","trade_id":17}],"hasMore":true,"id":"77",)"
                 R"("cached":false,"error":false,"code":201})");
  auto rows = store->trades(S("BTCUSDT"), {});
  ASSERT_FALSE(rows.ok());
  EXPECT_EQ(rows.error().code, StoreErrc::kCorrupt);
  EXPECT_NE(rows.error().message.find("trade_id"), std::string::npos) << rows.error().message;
  EXPECT_EQ(server_.count_requests("DELETE", "/_db/streamforge/_api/cursor/77"), 1u);
}

TEST_F(ArangoContract, WrongPasswordIsRefusedWithoutEchoingIt) {
  const std::string url = server_.store_url();
  std::string wrong = url;
  wrong.replace(wrong.find(server_.password()), server_.password().size(), "guessed-pw-123");
  auto refused = open_store(wrong);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, StoreErrc::kOpen);
  EXPECT_NE(refused.error().message.find("HTTP 401"), std::string::npos);
  EXPECT_EQ(refused.error().message.find("guessed-pw-123"), std::string::npos);
}

TEST_F(ArangoContract, ImportAnswersCountingErrorsOrMissingDocumentsAreWriteErrors) {
  auto store = open();
  ASSERT_TRUE(store);
  SF_ASSERT_OK(store->upsert_trades(std::vector{make_trade(1, kT0)}));
  server_.inject(
      "POST", "/_api/import", 201,
      R"({"error":false,"created":1,"errors":1,"empty":0,"updated":0,"ignored":0,)"
      R"("details":["at position 1: creating document failed with error 'illegal document key'"]})");
  auto with_errors = store->upsert_trades(std::vector{make_trade(2, kT0), make_trade(3, kT0)});
  ASSERT_FALSE(with_errors.ok());
  EXPECT_EQ(with_errors.error().code, StoreErrc::kWrite);
  EXPECT_NE(with_errors.error().message.find("1 document errors"), std::string::npos)
      << with_errors.error().message;
  EXPECT_NE(with_errors.error().message.find("illegal document key"), std::string::npos);

  // No errors counted, but one document unaccounted for: still not a silent loss.
  server_.inject("POST", "/_api/import", 201,
                 R"({"error":false,"created":1,"errors":0,"empty":0,"updated":0,"ignored":0})");
  auto short_count = store->upsert_trades(std::vector{make_trade(4, kT0), make_trade(5, kT0)});
  ASSERT_FALSE(short_count.ok());
  EXPECT_NE(short_count.error().message.find("sent 2 documents, ArangoDB accounted for 1"),
            std::string::npos)
      << short_count.error().message;

  // An answer without the counts.
  server_.inject("POST", "/_api/import", 201, R"({"error":false})");
  auto no_counts = store->upsert_trades(std::vector{make_trade(6, kT0)});
  ASSERT_FALSE(no_counts.ok());
  EXPECT_EQ(no_counts.error().code, StoreErrc::kWrite);
}

TEST_F(ArangoContract, ConnectionRefusedIsAnOpenOrWriteOrReadError) {
  ArangoStoreOptions options;
  auto parsed = ArangoStore::parse_url(server_.store_url());
  ASSERT_TRUE(parsed.ok());
  options = *parsed;
  options.client.retry_backoff = std::chrono::milliseconds(5);
  auto opened = ArangoStore::open(options);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  auto store = std::move(*opened);
  SF_ASSERT_OK(store->upsert_trades(std::vector{make_trade(1, kT0)}));
  for (const std::string& v : server_.violations()) ADD_FAILURE() << v;
  server_.stop();

  auto write = store->upsert_trades(std::vector{make_trade(2, kT0)});
  ASSERT_FALSE(write.ok());
  EXPECT_EQ(write.error().code, StoreErrc::kWrite);
  EXPECT_NE(write.error().message.find("no answer from ArangoDB"), std::string::npos)
      << write.error().message;
  auto read = store->trades(S("BTCUSDT"), {});
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.error().code, StoreErrc::kRead);
  auto reopen = ArangoStore::open(options);
  ASSERT_FALSE(reopen.ok());
  EXPECT_EQ(reopen.error().code, StoreErrc::kOpen);
  EXPECT_EQ(reopen.error().message.find(server_.password()), std::string::npos);
}

TEST_F(ArangoContract, DecimalsAndLargeIdsTravelAsExactStrings) {
  auto store = open();
  ASSERT_TRUE(store);
  const char* decimals[] = {"61837.63000000", "0.00000001", "0", "-1.5",
                            "99999999999999999999999999999.99999999"};
  std::vector<Trade> batch;
  std::int64_t id = 9007199254740993;  // beyond 2^53
  for (const char* d : decimals) {
    batch.push_back(Trade{.symbol = S("BTCUSDT"),
                          .trade_id = id++,
                          .price = D(d),
                          .quantity = D(d),
                          .trade_time = kT0,
                          .event_time = kT0 + 1,
                          .receive_time = kT0 + 2,
                          .is_buyer_maker = true,
                          .is_best_match = std::nullopt});
  }
  SF_ASSERT_OK(store->upsert_trades(batch));
  const auto doc =
      server_.document("streamforge", "btcusdt_trades", "BTCUSDT_trade_9007199254740993");
  ASSERT_TRUE(doc.has_value());
  EXPECT_NE(doc->find(R"("price":"61837.63000000")"), std::string::npos) << *doc;
  EXPECT_NE(doc->find(R"("trade_id":"9007199254740993")"), std::string::npos) << *doc;
  SF_ASSERT_OK_AND_ASSIGN(rows, store->trades(S("BTCUSDT"), {}));
  ASSERT_EQ(rows.size(), batch.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    expect_same(rows[i], batch[i]);
    EXPECT_TRUE(rows[i].price.identical(batch[i].price)) << batch[i].price.to_string();
  }
  SF_ASSERT_OK(store->upsert_depth_snapshots(std::vector{make_snapshot(50093239218)}));
  SF_ASSERT_OK_AND_ASSIGN(snaps, store->depth_snapshots(S("BTCUSDT"), 50093239218, 50093239218));
  ASSERT_EQ(snaps.size(), 1u);
  expect_same(snaps[0], make_snapshot(50093239218));
}

TEST_F(ArangoContract, PasswordNeverReachesLogsOrRedactedUrls) {
  std::mutex mutex;
  std::string lines;
  log::set_level(log::Level::kDebug);
  log::set_sink([&](std::string_view line) {
    std::lock_guard lock(mutex);
    lines += line;
  });
  {
    auto store = open();
    ASSERT_TRUE(store);
    SF_ASSERT_OK(store->upsert_trades(std::vector{make_trade(1, kT0)}));
    server_.inject("POST", "/_api/cursor", 503, ArangoContractServer::error_body(503, 503, "busy"));
    SF_ASSERT_OK(store->trades(S("BTCUSDT"), {}));  // retried: logs a warning
    std::string wrong = server_.store_url();
    wrong.replace(wrong.find(server_.password()), server_.password().size(), "other-pw-xyz");
    EXPECT_FALSE(open_store(wrong).ok());
  }
  log::set_sink(nullptr);
  log::set_level(log::Level::kInfo);
  EXPECT_NE(lines.find("retrying"), std::string::npos) << lines;
  EXPECT_NE(lines.find("/_api/import"), std::string::npos);
  EXPECT_EQ(lines.find(server_.password()), std::string::npos) << lines;
  EXPECT_EQ(lines.find("other-pw-xyz"), std::string::npos);
  EXPECT_EQ(lines.find("Basic "), std::string::npos);

  const std::string url = server_.store_url();
  EXPECT_EQ(redact_store_url(url),
            "arango://sf:***@127.0.0.1:" + std::to_string(server_.port()) + "/streamforge");
  EXPECT_EQ(redact_store_url("arango+http://root:p%40ss@db:8529/x?collection=c"),
            "arango+http://root:***@db:8529/x?collection=c");
  EXPECT_EQ(redact_store_url("arango://db:8529/x"), "arango://db:8529/x");
  auto bad = open_store("arango://root:hunter2@db:8529/x?bogus=1");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, StoreErrc::kConfig);
  EXPECT_EQ(bad.error().message.find("hunter2"), std::string::npos) << bad.error().message;
}

// The services' ARANGO_URL + ARANGO_USER/PASSWORD options become a store URL that parses back to
// the same credentials, whatever characters the password holds.
TEST(ArangoStoreUrl, ServiceOptionsRoundTripThroughTheStoreUrl) {
  runtime::ConfigParser parser("test");
  runtime::add_store_options(parser);
  const std::map<std::string, std::string> env = {{"ARANGO_URL", "https://db.example:8530/"},
                                                  {"ARANGO_USER", "svc user"},
                                                  {"ARANGO_PASSWORD", "p@ss:w/o%rd&x=1"},
                                                  {"ARANGO_DB", "market"},
                                                  {"COLLECTION_NAME", "a&b"}};
  auto config = parser.parse({}, [&](const std::string& k) -> std::optional<std::string> {
    auto it = env.find(k);
    return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
  });
  ASSERT_TRUE(config.ok()) << config.error();
  EXPECT_TRUE(runtime::names_own_store(*config));
  const std::string url = runtime::store_url_from(*config);
  EXPECT_TRUE(url.starts_with("arango+https://")) << url;
  auto o = ArangoStore::parse_url(url);
  ASSERT_TRUE(o.ok()) << o.error().message;
  EXPECT_EQ(o->client.url, "https://db.example:8530");
  EXPECT_EQ(o->client.user, "svc user");
  EXPECT_EQ(o->client.password, "p@ss:w/o%rd&x=1");
  EXPECT_EQ(o->client.database, "market");
  EXPECT_EQ(o->collection_name, "a&b");
  EXPECT_EQ(redact_store_url(url).find("p%40ss"), std::string::npos) << redact_store_url(url);
}

TEST_F(ArangoContract, UrlPartsAreParsed) {
  auto o = ArangoStore::parse_url(
      "arango://root:p%40ss@db.local/"
      "market?collection=btcusdt_api_candles_5m_2024_08_01&batch_size=10");
  ASSERT_TRUE(o.ok()) << o.error().message;
  EXPECT_EQ(o->client.url, "http://db.local:8529");
  EXPECT_EQ(o->client.user, "root");
  EXPECT_EQ(o->client.password, "p@ss");
  EXPECT_EQ(o->client.database, "market");
  EXPECT_EQ(o->collection_name, "btcusdt_api_candles_5m_2024_08_01");
  EXPECT_EQ(o->batch_size, 10u);
  EXPECT_FALSE(ArangoStore::parse_url("arango://").ok());
  EXPECT_FALSE(ArangoStore::parse_url("arango://h/db?batch_size=0").ok());
  // TLS (runtime::HttpClient speaks https, verifying against the system CAs and SF_CA_FILE).
  auto tls = ArangoStore::parse_url("arango+https://root@db.example:8530/market");
  ASSERT_TRUE(tls.ok()) << tls.error().message;
  EXPECT_EQ(tls->client.url, "https://db.example:8530");
}

TEST_F(ArangoContract, CollectionNameOverridePutsEveryMarketRecordInOneCollection) {
  auto store = open("collection=btcusdt_api_candles_5m_2024_08_01");
  ASSERT_TRUE(store);
  SF_ASSERT_OK(store->upsert_candles(
      std::vector{make_candle(kT0, true), make_candle(kT0, true, "1", Interval::k5m)}));
  SF_ASSERT_OK(store->upsert_trades(std::vector{make_trade(1, kT0)}));
  EXPECT_EQ(server_.document_count("streamforge", "btcusdt_api_candles_5m_2024_08_01"), 3u);
  EXPECT_EQ(server_.collection_type("streamforge", "btcusdt_trades"), 0);
  SF_ASSERT_OK_AND_ASSIGN(five, store->candles(S("BTCUSDT"), Interval::k5m, {}));
  ASSERT_EQ(five.size(), 1u);
  EXPECT_EQ(five[0].close.to_string(), "1");
  SF_ASSERT_OK_AND_ASSIGN(trades, store->trades(S("BTCUSDT"), {}));
  EXPECT_EQ(trades.size(), 1u);
}

TEST_F(ArangoContract, KeysAreLegalArangoKeysAndDistinctForDistinctNaturalKeys) {
  auto store = open();
  ASSERT_TRUE(store);
  // '_' separates key parts, so these two must not collide; odd bytes are escaped.
  SF_ASSERT_OK(store->append_telemetry(std::vector{
      make_telemetry("a_b", "c", 1.5, "loading"), make_telemetry("a", "b_c", 1.5, "loading"),
      make_telemetry("q/ü 1#?", std::string(300, 'p'), 1767225600.039409, "started")}));
  EXPECT_EQ(server_.document_count("streamforge", "telemetry"), 3u);
  for (const std::string& key : server_.keys("streamforge", "telemetry")) {
    EXPECT_LE(key.size(), 254u) << key;
  }
  SF_ASSERT_OK_AND_ASSIGN(odd, store->telemetry("q/ü 1#?"));
  ASSERT_EQ(odd.size(), 1u);
  EXPECT_EQ(odd[0].producer, std::string(300, 'p'));
  EXPECT_EQ(ArangoStore::key_part("a_b/c%"), "a%5Fb%2Fc%25");
  EXPECT_EQ(ArangoStore::collection_for(S("1INCHUSDT"), "trades"), "sf_1inchusdt_trades");
}

TEST_F(ArangoContract, GharialGraphCreationAndEdgeInsertHaveTheDocumentedShapes) {
  auto store = open();
  ASSERT_TRUE(store);
  auto* arango = dynamic_cast<ArangoStore*>(store.get());
  ASSERT_NE(arango, nullptr);
  ArangoClient& client = arango->client();
  auto created =
      client.create_graph("market_graph_2024_08_01", {{"pair_edges", {"symbols"}, {"symbols"}}});
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_TRUE(*created);
  auto again =
      client.create_graph("market_graph_2024_08_01", {{"pair_edges", {"symbols"}, {"symbols"}}});
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_FALSE(*again);  // 409 / 1925 accepted
  EXPECT_EQ(server_.collection_type("streamforge", "pair_edges"), 3);
  EXPECT_EQ(server_.collection_type("streamforge", "symbols"), 2);
  const auto graph = server_.graph("streamforge", "market_graph_2024_08_01");
  ASSERT_TRUE(graph.has_value());
  EXPECT_EQ(graph->edge_definitions,
            R"([{"collection":"pair_edges","from":["symbols"],"to":["symbols"]}])");

  ASSERT_TRUE(
      client.add_vertex("market_graph_2024_08_01", "symbols", R"({"_key":"BTCUSDT"})").ok());
  ASSERT_TRUE(
      client.add_vertex("market_graph_2024_08_01", "symbols", R"({"_key":"ETHUSDT"})").ok());
  auto edge =
      client.add_edge("market_graph_2024_08_01", "pair_edges",
                      R"({"_from":"symbols/BTCUSDT","_to":"symbols/ETHUSDT","corr":"0.83"})");
  ASSERT_TRUE(edge.ok()) << edge.error().message;
  EXPECT_EQ(server_.document_count("streamforge", "pair_edges"), 1u);
  EXPECT_EQ(requests_to("POST", "/_api/gharial/market_graph_2024_08_01/edge/pair_edges").size(),
            1u);

  // An edge to a missing vertex is refused by the server (1906); one without _to never leaves.
  auto dangling = client.add_edge("market_graph_2024_08_01", "pair_edges",
                                  R"({"_from":"symbols/BTCUSDT","_to":"symbols/XRPUSDT"})");
  ASSERT_FALSE(dangling.ok());
  EXPECT_EQ(dangling.error().error_num, 1906);
  const std::size_t before = server_.requests().size();
  EXPECT_FALSE(
      client.add_edge("market_graph_2024_08_01", "pair_edges", R"({"_from":"symbols/BTCUSDT"})")
          .ok());
  EXPECT_EQ(server_.requests().size(), before);
}

TEST_F(ArangoContract, BatchDocumentApiReportsPerDocumentErrors) {
  auto store = open();
  ASSERT_TRUE(store);
  ArangoClient& client = dynamic_cast<ArangoStore&>(*store).client();
  ASSERT_TRUE(client.create_collection("notes").ok());
  auto written = client.insert_documents("notes", R"([{"_key":"a","v":"1"},{"_key":"b","v":"2"}])",
                                         OverwriteMode::kReplace);
  ASSERT_TRUE(written.ok()) << written.error().message;
  EXPECT_EQ(*written, 2u);
  auto conflict = client.insert_documents("notes", R"([{"_key":"a","v":"3"},{"_key":"c"}])",
                                          OverwriteMode::kConflict);
  ASSERT_FALSE(conflict.ok());
  EXPECT_NE(conflict.error().message.find("1 of 2 documents failed, first errorNum 1210"),
            std::string::npos)
      << conflict.error().message;
  auto update =
      client.insert_documents("notes", R"([{"_key":"b","w":"x"}])", OverwriteMode::kUpdate);
  ASSERT_TRUE(update.ok());
  const auto b = server_.document("streamforge", "notes", "b");
  ASSERT_TRUE(b.has_value());
  EXPECT_NE(b->find(R"("v":"2")"), std::string::npos) << *b;  // merged, not replaced
  EXPECT_NE(b->find(R"("w":"x")"), std::string::npos) << *b;
}

// A graph is stored in ArangoDB's native graph model: a vertex collection, an edge collection
// whose edges point at the vertices, a named graph over both, and the `graphs` document written
// last (after the old one was removed first).
TEST_F(ArangoContract, GraphIsANamedGraphOverVertexAndEdgeCollections) {
  auto store = open("write_chunk=2");
  ASSERT_TRUE(store);
  GraphRecord g;
  g.name = "flows";
  g.kind = "assets";
  g.interval = "1h";
  g.meta = "{\n  \"feature_names\": [\"a\"]\n}";
  g.created_at = 1767225600.5;
  for (int i = 0; i < 3; ++i) {
    g.nodes.push_back(GraphNodeRecord{.node_id = 10 + i,
                                      .time = kT0 + i,
                                      .symbol = "BTCUSDT",
                                      .features = {0.1f * static_cast<float>(i)},
                                      .direction = i - 1,
                                      .volatility = std::nullopt});
  }
  // A negative zero and the extremes survive (NaN and infinities are refused by check_graph).
  g.nodes[0].features = {-0.0f};
  g.nodes[1].features = {std::numeric_limits<float>::max()};
  g.nodes[2].volatility = -std::numeric_limits<double>::denorm_min();
  g.edges = {{.src = 10, .dst = 11, .weight = 0.5f, .kind = "temporal"},
             {.src = 11, .dst = 12, .weight = 0.25f, .kind = "temporal"},
             {.src = 12, .dst = 10, .weight = -1.0f, .kind = "correlation"}};
  SF_ASSERT_OK(store->replace_graph(g));

  EXPECT_EQ(server_.collection_type("streamforge", "flows_nodes"), 2);
  EXPECT_EQ(server_.collection_type("streamforge", "flows_edges"), 3);
  EXPECT_EQ(server_.collection_type("streamforge", "graphs"), 2);
  const auto named = server_.graph("streamforge", "flows");
  ASSERT_TRUE(named.has_value());
  ASSERT_EQ(named->edges.size(), 1u);
  ASSERT_TRUE(named->edges.contains("flows_edges"));
  EXPECT_EQ(named->edges.at("flows_edges").first, (std::set<std::string>{"flows_nodes"}));
  EXPECT_EQ(named->edges.at("flows_edges").second, (std::set<std::string>{"flows_nodes"}));
  EXPECT_EQ(server_.keys("streamforge", "flows_nodes"),
            (std::vector<std::string>{"10", "11", "12"}));
  const auto edge = server_.document("streamforge", "flows_edges", "2");
  ASSERT_TRUE(edge.has_value());
  EXPECT_NE(edge->find(R"("_from":"flows_nodes/12","_to":"flows_nodes/10")"), std::string::npos)
      << *edge;
  const auto doc = server_.document("streamforge", "graphs", "flows");
  ASSERT_TRUE(doc.has_value());
  EXPECT_NE(doc->find(R"("meta":{"feature_names":["a"]})"), std::string::npos) << *doc;
  EXPECT_NE(doc->find(R"("node_count":3,"edge_count":3)"), std::string::npos) << *doc;

  // Replacing: the graph document goes first and comes back last; both collections are
  // truncated, not created again; nodes are imported before edges, in chunks.
  g.edges.pop_back();
  server_.clear_requests();
  SF_ASSERT_OK(store->replace_graph(g));
  const auto log = server_.requests();
  ASSERT_FALSE(log.empty());
  EXPECT_EQ(log.front().method, "DELETE");
  EXPECT_EQ(log.front().path, "/_db/streamforge/_api/document/graphs/flows");
  EXPECT_EQ(log.back().method, "POST");
  EXPECT_EQ(log.back().path, "/_db/streamforge/_api/import");
  EXPECT_EQ(log.back().query.find("collection")->second, "graphs");
  EXPECT_EQ(server_.count_requests("PUT", "/_db/streamforge/_api/collection/flows_nodes/truncate"),
            1u);
  EXPECT_EQ(server_.count_requests("PUT", "/_db/streamforge/_api/collection/flows_edges/truncate"),
            1u);
  EXPECT_EQ(server_.count_requests("POST", "/_db/streamforge/_api/collection"), 0u);
  std::vector<std::string> imported;
  for (const auto& r : requests_to("POST", "/_api/import")) {
    imported.push_back(r.query.find("collection")->second);
  }
  EXPECT_EQ(imported,
            (std::vector<std::string>{"flows_nodes", "flows_nodes", "flows_edges", "graphs"}));
  EXPECT_EQ(server_.document_count("streamforge", "flows_edges"), 2u);
  SF_ASSERT_OK_AND_ASSIGN(read, store->graph("flows"));
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->nodes, g.nodes);
  EXPECT_EQ(read->edges, g.edges);
  EXPECT_EQ(read->meta, R"({"feature_names":["a"]})");
  EXPECT_TRUE(std::signbit(read->nodes[0].features[0]));

  // A node missing behind the store's back: the graph reads as incomplete, not as a smaller one.
  ArangoClient& client = dynamic_cast<ArangoStore&>(*store).client();
  auto removed = client.remove_document("flows_nodes", "11");
  ASSERT_TRUE(removed.ok()) << removed.error().message;
  EXPECT_TRUE(*removed);
  auto again = client.remove_document("flows_nodes", "11");
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_FALSE(*again) << "a document that is not there";
  auto incomplete = store->graph("flows");
  ASSERT_FALSE(incomplete.ok());
  EXPECT_EQ(incomplete.error().code, StoreErrc::kCorrupt);
  EXPECT_NE(incomplete.error().message.find("graph 'flows' is being written or incomplete"),
            std::string::npos)
      << incomplete.error().message;
}

}  // namespace
}  // namespace sf::store::testing
