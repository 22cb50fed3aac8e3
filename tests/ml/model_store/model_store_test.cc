// Model store: the directory store; the S3 store against AWS's published Signature V4 example and,
// as contract tests (no MinIO/S3 server can run here), against a local server that checks each
// request the way S3 does: path-style bucket/key, x-amz-content-sha256 equal to the body's hash,
// and an Authorization header whose signature it recomputes from what it received.
#include "ml/model_store/model_store.h"

#include <gtest/gtest.h>

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
        if (k.rfind(prefix, 0) == 0) body += "<Contents><Key>" + k + "</Key></Contents>";
      return runtime::HttpResponse::text(200, body + "</ListBucketResult>", "application/xml");
    });
    EXPECT_TRUE(server_.start().ok());
  }
  std::string endpoint() const { return server_.base_url(); }
  int puts = 0;
  int rejected = 0;

 private:
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
  EXPECT_FALSE(open_model_store(lookup, "x").ok());
}

}  // namespace
}  // namespace sf::ml
