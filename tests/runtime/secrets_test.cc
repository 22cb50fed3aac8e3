// What counts as a credential (by name and by value), how one is redacted, and the platform's
// SecretStore: environment plus a secrets file that takes effect again when rotated.
#include "runtime/secrets.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "runtime/config.h"
#include "runtime/protocol.h"

namespace sf::runtime {
namespace {

TEST(SecretNames, CredentialsAreSecretWhateverTheirCase) {
  for (const char* name :
       {"KAFKA_PASSWORD", "KAFKA_PASSWORD_PRODUCER", "ARANGO_PASSWORD", "BINANCE_API_KEY",
        "BINANCE_API_SECRET", "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY", "AWS_SECRET_ACCESS_KEY",
        "POSTGRES_DSN", "SF_API_TOKEN", "KAFKA_SASL_JAAS_CONFIG", "password", "api_key",
        "Vault_Token", "GCP_CREDENTIALS", "TLS_PRIVATE_KEY"})
    EXPECT_TRUE(is_secret_name(name)) << name;
  for (const char* name : {"KAFKA_TOPIC", "BINANCE_API_URL", "ARANGO_USER", "SYMBOL", "SF_STORE",
                           "SF_SECRETS_FILE", "SF_API_TOKENS_FILE", "SF_API_TLS_KEY_FILE",
                           "TELEMETRY_PRODUCER_ID", "KAFKA_CA_PATH", "MODEL_DIR"})
    EXPECT_FALSE(is_secret_name(name)) << name;
}

TEST(SecretValues, UrlPasswordsAndKeywordPasswordsAreCredentials) {
  EXPECT_TRUE(value_has_credentials("postgresql://sf:pw@127.0.0.1:5432/db"));
  EXPECT_TRUE(value_has_credentials("arango+https://root:p%40ss@arango:8529/streamforge"));
  EXPECT_TRUE(value_has_credentials("host=db user=sf password=pw dbname=x"));
  EXPECT_TRUE(value_has_credentials("host=db password='a b'"));
  EXPECT_TRUE(value_has_credentials("postgresql://db/x?user=sf&password=pw"));
  EXPECT_TRUE(value_has_credentials("kafka://a:9092,http://u:p@h"));
  // ',' and ';' may stand unencoded in a password; libpq allows spaces around '='.
  EXPECT_TRUE(value_has_credentials("postgresql://sf:a,b@db/x"));
  EXPECT_TRUE(value_has_credentials("postgresql://sf:a;b@db/x"));
  EXPECT_TRUE(value_has_credentials("host=db password = pw"));
  EXPECT_FALSE(value_has_credentials("postgresql://sf@127.0.0.1/db"));  // user, no password
  EXPECT_FALSE(value_has_credentials("sqlite:./data/streamforge.db"));
  EXPECT_FALSE(value_has_credentials("http://[::1]:8080/queues"));
  EXPECT_FALSE(value_has_credentials("my_password=x"));  // another keyword
  EXPECT_FALSE(value_has_credentials("password="));      // nothing in it
  EXPECT_TRUE(is_secret("SF_STORE", "postgresql://u:pw@h/db"));
  EXPECT_FALSE(is_secret("SF_STORE", "sqlite:x.db"));
}

TEST(SecretValues, RedactionKeepsTheEndpointAndDropsThePassword) {
  EXPECT_EQ(redact_credentials("postgresql://sf:pw@127.0.0.1:5432/db"),
            "postgresql://sf:***@127.0.0.1:5432/db");
  EXPECT_EQ(redact_credentials("host=db password=pw user=sf"), "host=db password=*** user=sf");
  EXPECT_EQ(redact_credentials("a http://u:p1@h and http://v:p2@g"),
            "a http://u:***@h and http://v:***@g");
  EXPECT_EQ(redact_credentials("nothing here"), "nothing here");
  EXPECT_EQ(redact_credentials("postgresql://sf:a,b;c@db/x"), "postgresql://sf:***@db/x");
  EXPECT_EQ(redact_credentials("host=db password=a,b user=sf"), "host=db password=*** user=sf");
  EXPECT_EQ(redact_credentials("postgresql://db/x?password=p&user=sf"),
            "postgresql://db/x?password=***&user=sf");
}

// A worker's error message that quotes an endpoint with its password (a driver's error text)
// loses the password before it reaches the bus, the store and the API.
TEST(SecretValues, TelemetryMessagesLoseTheirPasswords) {
  TelemetryEvent e;
  e.queue_id = "q";
  e.status = "error";
  e.message = "cannot connect to postgresql://sf:hunter2@db:5432/x: timeout";
  const std::string json = encode_telemetry(e);
  EXPECT_EQ(json.find("hunter2"), std::string::npos) << json;
  EXPECT_NE(json.find("postgresql://sf:***@db:5432/x: timeout"), std::string::npos) << json;
  auto back = decode_telemetry(json);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->message, "cannot connect to postgresql://sf:***@db:5432/x: timeout");
}

TEST(SecretsFile, ParsesKeyValueLinesAndNamesTheBadLineWithoutItsValue) {
  auto ok = parse_secrets_file("# comment\n\nA_PASSWORD=x=y\nexport B_TOKEN = \"q w\"\r\nC=''\n");
  ASSERT_TRUE(ok) << ok.error();
  EXPECT_EQ(ok->at("A_PASSWORD"), "x=y");
  EXPECT_EQ(ok->at("B_TOKEN"), "q w");
  EXPECT_EQ(ok->at("C"), "");
  auto bad = parse_secrets_file("A=1\nthe-canary-value\n");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("line 2"), std::string::npos);
  EXPECT_EQ(bad.error().find("canary"), std::string::npos);
  EXPECT_FALSE(parse_secrets_file("1BAD=x"));
}

TEST(SecretStoreTest, ReadsTheEnvironmentsCredentialsOnly) {
  ::setenv("SF_TEST_DB_PASSWORD", "p1", 1);
  ::setenv("SF_TEST_STORE_URL", "postgresql://u:p2@h/db", 1);
  ::setenv("SF_TEST_PLAIN_SETTING", "not-secret", 1);
  auto store = SecretStore::from_environment();
  ASSERT_TRUE(store) << store.error();
  EXPECT_EQ((*store)->get("SF_TEST_DB_PASSWORD"), "p1");
  EXPECT_EQ((*store)->get("SF_TEST_STORE_URL"), "postgresql://u:p2@h/db");
  EXPECT_FALSE((*store)->get("SF_TEST_PLAIN_SETTING"));
  ::unsetenv("SF_TEST_DB_PASSWORD");
  ::unsetenv("SF_TEST_STORE_URL");
  ::unsetenv("SF_TEST_PLAIN_SETTING");
}

TEST(SecretStoreTest, ARotatedFileTakesEffectAtTheNextLookup) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("sf-secrets-" + std::to_string(::getpid()) + ".env");
  { std::ofstream(path) << "ARANGO_PASSWORD=first\n"; }
  SecretStore store;
  store.set("ARANGO_PASSWORD", "from-env");
  store.set("KAFKA_PASSWORD", "k");
  ASSERT_TRUE(store.add_file(path.string()));
  EXPECT_EQ(store.get("ARANGO_PASSWORD"), "first");  // the file wins: it is what gets rotated
  EXPECT_EQ(store.names(), (std::vector<std::string>{"ARANGO_PASSWORD", "KAFKA_PASSWORD"}));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  { std::ofstream(path) << "ARANGO_PASSWORD=second-and-longer\nMINIO_SECRET_KEY=m\n"; }
  EXPECT_EQ(store.get("ARANGO_PASSWORD"), "second-and-longer");
  EXPECT_EQ(store.get("MINIO_SECRET_KEY"), "m");
  std::filesystem::remove(path);
  EXPECT_EQ(store.get("ARANGO_PASSWORD"), "second-and-longer");  // last good values stay
  SecretStore missing;
  EXPECT_FALSE(missing.add_file("/nonexistent/secrets.env"));
}

TEST(OptionScopes, SecretNamesAreSecretWhateverTheDeclarationSays) {
  EXPECT_EQ(effective_scope({.name = "SOME_PASSWORD"}), OptionScope::kSecret);
  EXPECT_EQ(effective_scope({.name = "SYMBOL"}), OptionScope::kStage);
  EXPECT_EQ(effective_scope({.name = "X_URL", .scope = OptionScope::kPlatform}),
            OptionScope::kPlatform);
}

}  // namespace
}  // namespace sf::runtime
