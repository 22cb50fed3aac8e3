// Where trained models live: weights, configuration, normalisation and metrics under a versioned
// key prefix (`<model>/<version>/...`). A directory by default (MODEL_DIR, ./data/models); an
// S3-compatible object store (MinIO) when MINIO_ENDPOINT, MINIO_ACCESS_KEY, MINIO_SECRET_KEY and
// MINIO_BUCKET_NAME are set (the original's variables), spoken to with AWS Signature Version 4,
// path-style URLs, over http or https (runtime::HttpClient: system CAs plus SF_CA_FILE).
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace sf::ml {

class ModelStore {
 public:
  virtual ~ModelStore() = default;
  // Keys: relative '/'-separated paths of printable characters (UTF-8, spaces, '+', '=', '&' ...
  // allowed); no control characters, backslash, leading '/' or "..".
  virtual Result<void, std::string> put(const std::string& key, std::string_view bytes) = 0;
  virtual Result<std::string, std::string> get(const std::string& key) = 0;
  // Keys under `prefix`, sorted.
  virtual Result<std::vector<std::string>, std::string> list(const std::string& prefix) = 0;
  // Where `key` is, for people: a path or s3://bucket/key.
  virtual std::string location(const std::string& key) const = 0;
};

class DirectoryModelStore final : public ModelStore {
 public:
  explicit DirectoryModelStore(std::filesystem::path root);
  Result<void, std::string> put(const std::string& key, std::string_view bytes) override;
  Result<std::string, std::string> get(const std::string& key) override;
  Result<std::vector<std::string>, std::string> list(const std::string& prefix) override;
  std::string location(const std::string& key) const override;

 private:
  std::filesystem::path root_;
};

struct S3Options {
  std::string endpoint;  // http://host:port or host:port
  std::string access_key;
  std::string secret_key;
  std::string bucket;
  std::string region = "us-east-1";
};

class S3ModelStore final : public ModelStore {
 public:
  // Fails on a bad endpoint (not http, no host).
  static Result<std::unique_ptr<S3ModelStore>, std::string> open(S3Options options);
  ~S3ModelStore() override;
  Result<void, std::string> put(const std::string& key, std::string_view bytes) override;
  Result<std::string, std::string> get(const std::string& key) override;
  Result<std::vector<std::string>, std::string> list(const std::string& prefix) override;
  std::string location(const std::string& key) const override;

 private:
  struct Impl;
  explicit S3ModelStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// MINIO_* set: S3ModelStore; else DirectoryModelStore(model_dir).
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
Result<std::unique_ptr<ModelStore>, std::string> open_model_store(const EnvLookup& env,
                                                                  const std::string& model_dir);

// Copies every regular file of `dir` to `<prefix>/<file name>`; returns the keys written.
Result<std::vector<std::string>, std::string> put_directory(ModelStore& store,
                                                            const std::filesystem::path& dir,
                                                            const std::string& prefix);

// ---- AWS Signature Version 4 (exposed for tests against AWS's published examples) ----------
std::string sha256_hex(std::string_view data);
struct SigV4Request {
  std::string method;                          // GET
  std::string path;                            // /bucket/key, not yet URI-encoded
  std::map<std::string, std::string> query;    // name -> value, not encoded
  std::map<std::string, std::string> headers;  // lower-case names: host, x-amz-date, ...
  std::string payload_sha256;                  // hex; also sent as x-amz-content-sha256
};
// "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request,SignedHeaders=...,
// Signature=..." — every header in `headers` is signed; x-amz-date gives the time.
std::string sigv4_authorization(const SigV4Request& request, const std::string& access_key,
                                const std::string& secret_key, const std::string& region,
                                const std::string& service = "s3");
// RFC 3986 encoding as SigV4 wants it ('/' kept when encode_slash is false).
std::string uri_encode(std::string_view text, bool encode_slash);

}  // namespace sf::ml
