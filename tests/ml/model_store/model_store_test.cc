// Model store: the directory store; the S3 store against AWS's published Signature V4 example, as
// contract tests (S3ContractModelStore.*) against an in-process stand-in that checks each request
// the way S3 does (path-style bucket/key, x-amz-content-sha256 equal to the body's hash, an
// Authorization header whose signature it recomputes from what it received), and against a real
// S3-compatible server (S3RealServer.*: SeaweedFS from scripts/s3.sh; skipped unless
// SF_TEST_S3_ENDPOINT is set).
#include "ml/model_store/model_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>

#include "runtime/http_server.h"

namespace sf::ml {
namespace {

namespace fs = std::filesystem;

TEST(SigV4, MatchesAwsPublishedGetObjectExample) {
  // docs.aws.amazon.com, "Signature Calculations ... Example: GET Object".
  SigV4Request r;
  r.method = "GET";
  r.path = "/test.txt";
  r.payload_sha256 = sha256_hex("");
  r.headers = {{"host", "examplebucket.s3.amazonaws.com"},
               {"range", "bytes=0-9"},
               {"x-amz-content-sha256", r.payload_sha256},
               {"x-amz-date", "20130524T000000Z"}};
  EXPECT_EQ(r.payload_sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sigv4_authorization(r, "AKIAIOSFODNN7EXAMPLE",
                                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1"),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  EXPECT_EQ(uri_encode("a b/c~d", false), "a%20b/c~d");
  EXPECT_EQ(uri_encode("a/b", true), "a%2Fb");
}

TEST(DirectoryModelStore, PutGetListAndRejectEscapingKeys) {
  const fs::path root = fs::temp_directory_path() / ("sf_models_" + std::to_string(::getpid()));
  fs::remove_all(root);
  DirectoryModelStore store(root);
  ASSERT_TRUE(store.put("m1/v1/metrics.json", "{\"a\":1}").ok());
  ASSERT_TRUE(store.put("m1/v1/model.pt", std::string("\0\1\2", 3)).ok());
  ASSERT_TRUE(store.put("m1/v2/metrics.json", "{}").ok());
  EXPECT_EQ(*store.get("m1/v1/metrics.json"), "{\"a\":1}");
  EXPECT_EQ(store.get("m1/v1/model.pt")->size(), 3u);
  auto keys = store.list("m1/v1/");
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(*keys, (std::vector<std::string>{"m1/v1/metrics.json", "m1/v1/model.pt"}));
  EXPECT_FALSE(store.put("../escape", "x").ok());
  EXPECT_FALSE(store.put("/abs", "x").ok());
  // A ".tmp" key would be hidden by list() and collide with the temp file of its own write; a
  // "./" segment may be normalised by an S3 server and break the signature.
  EXPECT_FALSE(store.put("m1/v1/weights.tmp", "x").ok());
  EXPECT_FALSE(store.put("./m1/a", "x").ok());
  EXPECT_FALSE(store.put("m1/./a", "x").ok());
  EXPECT_FALSE(store.get("m1/v9/none").ok());
  fs::remove_all(root);
}

// An S3 stand-in that validates requests like S3 and keeps objects in memory (a test double).
class S3ContractServer {
 public:
  static constexpr const char* kAccess = "minio-access";
  static constexpr const char* kSecret = "minio-secret-key";

  S3ContractServer() {
    server_.route("PUT", "/{bucket}", [this](const runtime::HttpRequest& r) {
      if (auto bad = check(r)) return *bad;
      std::lock_guard lock(mu_);
      const bool existed = !buckets_.insert(r.path_params.at("bucket")).second;
      return existed ? xml(409, "BucketAlreadyOwnedByYou") : runtime::HttpResponse::text(200, "");
    });
    server_.route("PUT", "/{bucket}/{key...}", [this](const runtime::HttpRequest& r) {
      if (auto bad = check(r)) return *bad;
      std::lock_guard lock(mu_);
      if (!buckets_.count(r.path_params.at("bucket"))) return xml(404, "NoSuchBucket");
      objects_[r.path_params.at("key")] = r.body;
      ++puts;
      return runtime::HttpResponse::text(200, "");
    });
    server_.route("GET", "/{bucket}/{key...}", [this](const runtime::HttpRequest& r) {
      if (auto bad = check(r)) return *bad;
      std::lock_guard lock(mu_);
      auto it = objects_.find(r.path_params.at("key"));
      if (it == objects_.end()) return xml(404, "NoSuchKey");
      return runtime::HttpResponse::text(200, it->second, "application/octet-stream");
    });
    server_.route("GET", "/{bucket}", [this](const runtime::HttpRequest& r) {
      if (auto bad = check(r)) return *bad;
      auto lt = r.query.find("list-type");
      if (lt == r.query.end() || lt->second != "2") return xml(400, "InvalidArgument");
      auto p = r.query.find("prefix");
      const std::string prefix = p == r.query.end() ? "" : p->second;
      std::lock_guard lock(mu_);
      std::string body = "<ListBucketResult><IsTruncated>false</IsTruncated>";
      for (const auto& [k, v] : objects_)
        if (k.rfind(prefix, 0) == 0)
          body += "<Contents><Key>" + xml_escape(k) + "</Key></Contents>";
      return runtime::HttpResponse::text(200, body + "</ListBucketResult>", "application/xml");
    });
    EXPECT_TRUE(server_.start().ok());
  }
  std::string endpoint() const { return server_.base_url(); }
  int puts = 0;
  int rejected = 0;

 private:
  static std::string xml_escape(const std::string& text) {  // as S3 writes keys in listings
    std::string out;
    for (char c : text) {
      if (c == '&')
        out += "&amp;";
      else if (c == '<')
        out += "&lt;";
      else if (c == '>')
        out += "&gt;";
      else if (c == '"')
        out += "&quot;";
      else if (c == '\'')
        out += "&apos;";
      else
        out += c;
    }
    return out;
  }
  static runtime::HttpResponse xml(int status, const std::string& code) {
    return runtime::HttpResponse::text(status, "<Error><Code>" + code + "</Code></Error>",
                                       "application/xml");
  }
  // What S3 checks: the payload hash header matches the body, and the signature matches one
  // computed with the secret over the request as received.
  std::optional<runtime::HttpResponse> check(const runtime::HttpRequest& r) {
    const std::string hash(r.headers.get_or("x-amz-content-sha256", ""));
    if (hash != sha256_hex(r.body)) return ++rejected, xml(400, "XAmzContentSHA256Mismatch");
    SigV4Request s;
    s.method = r.method;
    s.path = r.path;
    for (const auto& [k, v] : r.query) s.query[k] = v;
    s.payload_sha256 = hash;
    s.headers = {{"host", std::string(r.headers.get_or("Host", ""))},
                 {"x-amz-content-sha256", hash},
                 {"x-amz-date", std::string(r.headers.get_or("x-amz-date", ""))}};
    const std::string want = sigv4_authorization(s, kAccess, kSecret, "us-east-1");
    if (r.headers.get_or("Authorization", "") != want)
      return ++rejected, xml(403, "SignatureDoesNotMatch");
    return std::nullopt;
  }

  runtime::HttpServer server_;
  std::mutex mu_;
  std::set<std::string> buckets_;
  std::map<std::string, std::string> objects_;
};

TEST(S3ContractModelStore, PutGetListWithValidSignatures) {
  S3ContractServer s3;
  auto store = S3ModelStore::open(
      {s3.endpoint(), S3ContractServer::kAccess, S3ContractServer::kSecret, "models", "us-east-1"});
  ASSERT_TRUE(store.ok()) << store.error();
  EXPECT_TRUE((*store)->list("q1/").ok());  // no bucket yet: empty
  std::string weights(100000, '\0');
  for (std::size_t i = 0; i < weights.size(); ++i) weights[i] = static_cast<char>(i * 7);
  ASSERT_TRUE((*store)->put("q1/v1/model.pt", weights).ok());
  ASSERT_TRUE((*store)->put("q1/v1/metrics.json", "{\"accuracy\":0.5}").ok());
  ASSERT_TRUE((*store)->put("q2/v1/metrics.json", "{}").ok());
  auto back = (*store)->get("q1/v1/model.pt");
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(*back, weights);
  auto keys = (*store)->list("q1/");
  ASSERT_TRUE(keys.ok()) << keys.error();
  EXPECT_EQ(*keys, (std::vector<std::string>{"q1/v1/metrics.json", "q1/v1/model.pt"}));
  EXPECT_EQ(s3.rejected, 0);
  EXPECT_EQ(s3.puts, 3);
  EXPECT_NE((*store)->location("q1/v1/model.pt").find("s3://models/q1/v1/model.pt"),
            std::string::npos);
}

TEST(S3ContractModelStore, AWrongSecretIsRefusedAndReported) {
  S3ContractServer s3;
  auto store = S3ModelStore::open(
      {s3.endpoint(), S3ContractServer::kAccess, "wrong", "models", "us-east-1"});
  ASSERT_TRUE(store.ok());
  auto r = (*store)->put("q1/v1/model.pt", "x");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("SignatureDoesNotMatch"), std::string::npos) << r.error();
  EXPECT_GT(s3.rejected, 0);
}

// The value, or the error where the test expected a value (so that a failure shows it).
std::string text_or_error(const Result<std::string, std::string>& r) {
  return r.ok() ? *r : "<error: " + r.error() + ">";
}
std::vector<std::string> keys_or_error(const Result<std::vector<std::string>, std::string>& r) {
  return r.ok() ? *r : std::vector<std::string>{"<error: " + r.error() + ">"};
}

// Regressions: keys were limited to [A-Za-z0-9._/-], so a model file named with a space, '+', '='
// or non-ASCII letters could not be stored; and listings returned keys still XML-escaped, as S3
// sends them (SeaweedFS writes "&amp;", "&lt;", "&#39;", "&#34;"; this stand-in the named forms).
const std::vector<std::string> kSpecialKeys = {
    "sp/v1/with space.json", "sp/v1/plus+equals=sign.bin",
    "sp/v1/\u00fcn\u00efc\u00f6d\u00e9-\u6a21\u578b.pt", "sp/v1/amp&lt<gt>'q\"~!$,;:@()*.txt",
    "sp/v1/percent%20literal.txt"};

TEST(S3ContractModelStore, KeysWithSpecialCharactersRoundTrip) {
  S3ContractServer s3;
  auto store = S3ModelStore::open(
      {s3.endpoint(), S3ContractServer::kAccess, S3ContractServer::kSecret, "models", "us-east-1"});
  ASSERT_TRUE(store.ok()) << store.error();
  for (const auto& key : kSpecialKeys) {
    auto put = (*store)->put(key, "bytes of " + key);
    ASSERT_TRUE(put.ok()) << key << ": " << put.error();
  }
  for (const auto& key : kSpecialKeys) {
    auto back = (*store)->get(key);
    ASSERT_TRUE(back.ok()) << key << ": " << back.error();
    EXPECT_EQ(*back, "bytes of " + key);
  }
  auto keys = (*store)->list("sp/v1/");
  ASSERT_TRUE(keys.ok()) << keys.error();
  auto want = kSpecialKeys;
  std::sort(want.begin(), want.end());
  EXPECT_EQ(*keys, want);
  EXPECT_EQ(s3.rejected, 0);
  EXPECT_FALSE((*store)->put("sp/v1/tab\there", "x").ok());
  EXPECT_FALSE((*store)->put("sp/v1/back\\slash", "x").ok());
}

TEST(DirectoryModelStore, KeysWithSpecialCharactersRoundTrip) {
  const fs::path root = fs::temp_directory_path() / ("sf_models_sp_" + std::to_string(::getpid()));
  fs::remove_all(root);
  DirectoryModelStore store(root);
  for (const auto& key : kSpecialKeys) ASSERT_TRUE(store.put(key, key).ok()) << key;
  for (const auto& key : kSpecialKeys) EXPECT_EQ(text_or_error(store.get(key)), key);
  auto want = kSpecialKeys;
  std::sort(want.begin(), want.end());
  EXPECT_EQ(keys_or_error(store.list("sp/v1/")), want);
  fs::remove_all(root);
}

// ---- against a real S3-compatible server -------------------------------------------------------
// SF_TEST_S3_ENDPOINT (http://127.0.0.1:PORT), SF_TEST_S3_ACCESS_KEY and SF_TEST_S3_SECRET_KEY name
// a running S3 server that verifies Signature V4 against configured credentials; scripts/s3.sh
// start runs one (SeaweedFS, built from its Go module) and scripts/test.sh exports these. Each test
// uses a fresh bucket, which the store creates on its first put.
class S3RealServer : public ::testing::Test {
 protected:
  void SetUp() override {
    endpoint_ = env("SF_TEST_S3_ENDPOINT");
    access_ = env("SF_TEST_S3_ACCESS_KEY");
    secret_ = env("SF_TEST_S3_SECRET_KEY");
    if (endpoint_.empty() || access_.empty() || secret_.empty())
      GTEST_SKIP() << "SF_TEST_S3_ENDPOINT, SF_TEST_S3_ACCESS_KEY and SF_TEST_S3_SECRET_KEY not "
                      "set: no real "
                      "S3 server; run `scripts/s3.sh start && eval \"$(scripts/s3.sh env)\"` first "
                      "(scripts/test.sh does)";
    static int counter = 0;
    bucket_ = "sf-test-" + std::to_string(::getpid()) + "-" + std::to_string(::time(nullptr)) +
              "-" + std::to_string(++counter);
  }
  static std::string env(const char* name) {
    const char* v = std::getenv(name);
    return v == nullptr ? "" : v;
  }
  std::unique_ptr<S3ModelStore> open(const std::string& secret) {
    auto store = S3ModelStore::open({endpoint_, access_, secret, bucket_, "us-east-1"});
    EXPECT_TRUE(store.ok()) << store.error();
    return store.ok() ? std::move(*store) : nullptr;
  }
  std::string endpoint_, access_, secret_, bucket_;
};

TEST_F(S3RealServer, PutDirectoryThenGetAndListTheModel) {
  auto store = open(secret_);
  ASSERT_TRUE(store);
  auto before = store->list("gnn/");  // the bucket does not exist yet: nothing stored
  ASSERT_TRUE(before.ok()) << before.error();
  EXPECT_TRUE(before->empty());

  const fs::path dir = fs::temp_directory_path() / ("sf_s3_model_" + bucket_);
  fs::create_directories(dir);
  std::map<std::string, std::string> files = {
      {"config.json", "{\"hidden\":64,\"layers\":2}"},
      {"metrics.json", "{\"accuracy\":0.37}"},
      {"normalization.json", "{\"mean\":[0.1],\"std\":[1.2]}"},
      {"model.pt", std::string("\0PK\x03\x04 binary \xff\xfe", 15)},
      {"empty.bin", ""}};
  for (const auto& [name, bytes] : files) {
    std::ofstream(dir / name, std::ios::binary) << bytes;
  }
  auto keys = put_directory(*store, dir, "gnn/v1");
  fs::remove_all(dir);
  ASSERT_TRUE(keys.ok()) << keys.error();
  std::vector<std::string> want;
  for (const auto& [name, bytes] : files) want.push_back("gnn/v1/" + name);
  EXPECT_EQ(*keys, want);
  ASSERT_TRUE(store->put("gnn/v2/metrics.json", "{}").ok());
  ASSERT_TRUE(store->put("gnn-other/v1/metrics.json", "{}").ok());

  auto listed = store->list("gnn/v1/");
  ASSERT_TRUE(listed.ok()) << listed.error();
  EXPECT_EQ(*listed, want);
  auto all = store->list("gnn/");
  ASSERT_TRUE(all.ok()) << all.error();
  EXPECT_EQ(all->size(), files.size() + 1);
  for (const auto& [name, bytes] : files) {
    auto back = store->get("gnn/v1/" + name);
    ASSERT_TRUE(back.ok()) << name << ": " << back.error();
    EXPECT_EQ(*back, bytes) << name;
  }
  // Overwriting a key replaces the object.
  ASSERT_TRUE(store->put("gnn/v2/metrics.json", "{\"accuracy\":0.4}").ok());
  EXPECT_EQ(text_or_error(store->get("gnn/v2/metrics.json")), "{\"accuracy\":0.4}");
}

TEST_F(S3RealServer, LargeObjectRoundTripsByteIdentical) {
  auto store = open(secret_);
  ASSERT_TRUE(store);
  std::string weights(5 * 1024 * 1024 + 123, '\0');  // crosses SeaweedFS's 4 MB chunking
  std::uint64_t x = 0x9e3779b97f4a7c15ULL;
  for (auto& c : weights) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    c = static_cast<char>(x);
  }
  auto put = store->put("big/v1/model.pt", weights);
  ASSERT_TRUE(put.ok()) << put.error();
  auto back = store->get("big/v1/model.pt");
  ASSERT_TRUE(back.ok()) << back.error();
  ASSERT_EQ(back->size(), weights.size());
  EXPECT_TRUE(*back == weights) << "5 MB object came back different";
  EXPECT_EQ(sha256_hex(*back), sha256_hex(weights));
}

TEST_F(S3RealServer, KeysWithSpecialCharactersRoundTrip) {
  auto store = open(secret_);
  ASSERT_TRUE(store);
  for (const auto& key : kSpecialKeys) {
    auto put = store->put(key, "bytes of " + key);
    ASSERT_TRUE(put.ok()) << key << ": " << put.error();
  }
  for (const auto& key : kSpecialKeys) {
    auto back = store->get(key);
    ASSERT_TRUE(back.ok()) << key << ": " << back.error();
    EXPECT_EQ(*back, "bytes of " + key);
  }
  auto keys = store->list("sp/v1/");
  ASSERT_TRUE(keys.ok()) << keys.error();
  auto want = kSpecialKeys;
  std::sort(want.begin(), want.end());
  EXPECT_EQ(*keys, want);
  // A prefix with special characters is signed and matched too.
  auto one = store->list("sp/v1/plus+equals=");
  ASSERT_TRUE(one.ok()) << one.error();
  EXPECT_EQ(*one, std::vector<std::string>{"sp/v1/plus+equals=sign.bin"});
}

TEST_F(S3RealServer, ListingPastOneThousandKeysFollowsContinuationTokens) {
  auto store = open(secret_);
  ASSERT_TRUE(store);
  std::vector<std::string> want;  // S3 returns at most 1000 keys a page
  for (int i = 0; i < 1005; ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "many/v1/part-%04d.bin", i);
    want.push_back(name);
    auto put = store->put(name, std::to_string(i));
    ASSERT_TRUE(put.ok()) << name << ": " << put.error();
  }
  ASSERT_TRUE(store->put("many/v2/other.bin", "x").ok());
  auto keys = store->list("many/v1/");
  ASSERT_TRUE(keys.ok()) << keys.error();
  EXPECT_EQ(keys->size(), want.size());
  EXPECT_EQ(*keys, want);
}

TEST_F(S3RealServer, AWrongSecretIsRefusedWithTheStatus) {
  auto good = open(secret_);
  ASSERT_TRUE(good);
  auto seeded = good->put("m/v1/metrics.json", "{}");
  ASSERT_TRUE(seeded.ok()) << seeded.error();
  auto bad = open(secret_ + "-wrong");
  ASSERT_TRUE(bad);
  auto put = bad->put("m/v1/metrics.json", "tampered");
  ASSERT_FALSE(put.ok());
  EXPECT_NE(put.error().find("HTTP 403"), std::string::npos) << put.error();
  EXPECT_NE(put.error().find("SignatureDoesNotMatch"), std::string::npos) << put.error();
  auto get = bad->get("m/v1/metrics.json");
  ASSERT_FALSE(get.ok());
  EXPECT_NE(get.error().find("HTTP 403"), std::string::npos) << get.error();
  auto list = bad->list("m/");
  ASSERT_FALSE(list.ok()) << "a refused listing must not look like an empty one";
  EXPECT_NE(list.error().find("HTTP 403"), std::string::npos) << list.error();
  EXPECT_EQ(text_or_error(good->get("m/v1/metrics.json")), "{}");
}

TEST_F(S3RealServer, AMissingKeyIsReportedAsMissing) {
  auto store = open(secret_);
  ASSERT_TRUE(store);
  auto seeded = store->put("m/v1/metrics.json", "{}");
  ASSERT_TRUE(seeded.ok()) << seeded.error();
  auto r = store->get("m/v1/no-such-model.pt");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("HTTP 404"), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("NoSuchKey"), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("m/v1/no-such-model.pt"), std::string::npos) << r.error();
  auto none = store->list("m/v9/");
  ASSERT_TRUE(none.ok()) << none.error();
  EXPECT_TRUE(none->empty());
}

TEST(ModelStoreSelection, MinioVariablesChooseS3ElseADirectory) {
  std::map<std::string, std::string> env;
  auto lookup = [&](const std::string& k) -> std::optional<std::string> {
    auto it = env.find(k);
    return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  auto dir = open_model_store(lookup, "/tmp/sf-models-x");
  ASSERT_TRUE(dir.ok());
  EXPECT_EQ((*dir)->location("a/b"), "/tmp/sf-models-x/a/b");
  env = {{"MINIO_ENDPOINT", "minio.minio:9000"},
         {"MINIO_ACCESS_KEY", "a"},
         {"MINIO_SECRET_KEY", "s"},
         {"MINIO_BUCKET_NAME", "models"}};
  auto s3 = open_model_store(lookup, "/tmp/sf-models-x");
  ASSERT_TRUE(s3.ok()) << s3.error();
  EXPECT_EQ((*s3)->location("a/b").rfind("s3://models/a/b", 0), 0u);
  env["MINIO_BUCKET_NAME"] = "";
  EXPECT_FALSE(open_model_store(lookup, "x").ok());
  env["MINIO_BUCKET_NAME"] = "models";
  env["MINIO_ENDPOINT"] = "https://minio:9000";
  EXPECT_TRUE(open_model_store(lookup, "x").ok());  // https is spoken too (runtime::HttpClient)
}

}  // namespace
}  // namespace sf::ml
