#include "ml/model_store/model_store.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/time.h"
#include "runtime/http_client.h"

// GCC 12 reports a false -Wrestrict in std::string concatenation at -O3 (GCC bug 105329).
#pragma GCC diagnostic ignored "-Wrestrict"

namespace sf::ml {
namespace {

std::string hex(const unsigned char* data, std::size_t n) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 15];
  }
  return out;
}

std::string hmac(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

// Keys are relative '/'-separated paths of printable characters (UTF-8 included: spaces, '+',
// '=', '&', non-ASCII file names all work, in directories and S3 alike); no control characters, no
// backslash, nothing that climbs out of the root.
bool valid_key(const std::string& key) {
  if (key.empty() || key.front() == '/' || key.find("..") != std::string::npos) return false;
  // "./" segments may be normalised away by a server (breaking the signature); ".tmp" is the
  // directory store's suffix for a file being written (hidden from list()).
  if (key.starts_with("./") || key.find("/./") != std::string::npos || key.ends_with(".tmp"))
    return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u != 0x7f && c != '\\';
  });
}

// The text of an XML element as S3 sends it: &amp; &lt; &gt; &quot; &apos; and numeric
// references (&#13; for a carriage return in a key, &#x...;) decoded.
std::string xml_unescape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto semi = text[i] == '&' ? text.find(';', i) : std::string_view::npos;
    if (semi == std::string_view::npos || semi - i > 10) {
      out += text[i];
      continue;
    }
    const std::string_view entity = text.substr(i + 1, semi - i - 1);
    unsigned long code = 0;
    if (entity == "amp") {
      out += '&';
    } else if (entity == "lt") {
      out += '<';
    } else if (entity == "gt") {
      out += '>';
    } else if (entity == "quot") {
      out += '"';
    } else if (entity == "apos") {
      out += '\'';
    } else if (entity.size() > 1 && entity[0] == '#' &&
               [&] {  // the whole reference must be digits; no surrogates
                 const bool hex = entity[1] == 'x';
                 const std::string_view digits = entity.substr(hex ? 2 : 1);
                 auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(),
                                                  code, hex ? 16 : 10);
                 return !digits.empty() && ec == std::errc() &&
                        end == digits.data() + digits.size() && code > 0 && code <= 0x10ffff &&
                        !(code >= 0xd800 && code <= 0xdfff);
               }()) {
      if (code < 0x80) {  // UTF-8 encode the code point
        out += static_cast<char>(code);
      } else if (code < 0x800) {
        out += static_cast<char>(0xc0 | (code >> 6));
        out += static_cast<char>(0x80 | (code & 0x3f));
      } else if (code < 0x10000) {
        out += static_cast<char>(0xe0 | (code >> 12));
        out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (code & 0x3f));
      } else {
        out += static_cast<char>(0xf0 | (code >> 18));
        out += static_cast<char>(0x80 | ((code >> 12) & 0x3f));
        out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (code & 0x3f));
      }
    } else {
      out += text[i];
      continue;
    }
    i = semi;
  }
  return out;
}

}  // namespace

std::string sha256_hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return hex(digest, sizeof digest);
}

std::string uri_encode(std::string_view text, bool encode_slash) {
  static const char* kDigits = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
                            c == '~' || (c == '/' && !encode_slash);
    if (unreserved) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kDigits[c >> 4];
      out += kDigits[c & 15];
    }
  }
  return out;
}

std::string sigv4_authorization(const SigV4Request& r, const std::string& access_key,
                                const std::string& secret_key, const std::string& region,
                                const std::string& service) {
  const std::string amz_date = r.headers.count("x-amz-date") ? r.headers.at("x-amz-date") : "";
  const std::string date = amz_date.substr(0, 8);
  std::string query;
  for (const auto& [k, v] : r.query) {  // std::map: sorted by name, as SigV4 requires
    if (!query.empty()) query += '&';
    query += uri_encode(k, true) + "=" + uri_encode(v, true);
  }
  std::string canonical_headers, signed_headers;
  for (const auto& [k, v] : r.headers) {
    std::string value = v;
    value.erase(0, value.find_first_not_of(' '));
    value.erase(value.find_last_not_of(' ') + 1);
    canonical_headers += k + ":" + value + "\n";
    if (!signed_headers.empty()) signed_headers += ';';
    signed_headers += k;
  }
  const std::string canonical = r.method + "\n" + uri_encode(r.path, false) + "\n" + query + "\n" +
                                canonical_headers + "\n" + signed_headers + "\n" + r.payload_sha256;
  const std::string scope = date + "/" + region + "/" + service + "/aws4_request";
  const std::string to_sign =
      "AWS4-HMAC-SHA256\n" + amz_date + "\n" + scope + "\n" + sha256_hex(canonical);
  const std::string key =
      hmac(hmac(hmac(hmac("AWS4" + secret_key, date), region), service), "aws4_request");
  const std::string signature = hmac(key, to_sign);
  return "AWS4-HMAC-SHA256 Credential=" + access_key + "/" + scope +
         ",SignedHeaders=" + signed_headers + ",Signature=" +
         hex(reinterpret_cast<const unsigned char*>(signature.data()), signature.size());
}

// ------------------------------------------------------------------------------------ directory

DirectoryModelStore::DirectoryModelStore(std::filesystem::path root) : root_(std::move(root)) {}

Result<void, std::string> DirectoryModelStore::put(const std::string& key, std::string_view bytes) {
  if (!valid_key(key)) return unexpected("invalid model key '" + key + "'");
  const auto path = root_ / key;
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) return unexpected("cannot create " + path.parent_path().string() + ": " + ec.message());
  const auto tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) return unexpected("cannot write " + tmp);
  }
  std::filesystem::rename(tmp, path, ec);  // whole files only: a reader never sees half of one
  if (ec) return unexpected("cannot rename to " + path.string() + ": " + ec.message());
  return {};
}

Result<std::string, std::string> DirectoryModelStore::get(const std::string& key) {
  if (!valid_key(key)) return unexpected("invalid model key '" + key + "'");
  std::ifstream in(root_ / key, std::ios::binary);
  if (!in) return unexpected("no model object " + (root_ / key).string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<std::vector<std::string>, std::string> DirectoryModelStore::list(const std::string& prefix) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!std::filesystem::exists(root_, ec)) return out;
  for (auto it = std::filesystem::recursive_directory_iterator(root_, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    const std::string key = std::filesystem::relative(it->path(), root_).generic_string();
    if (key.rfind(prefix, 0) == 0 && key.size() > 4 && key.substr(key.size() - 4) != ".tmp")
      out.push_back(key);
  }
  if (ec) return unexpected("cannot list " + root_.string() + ": " + ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

std::string DirectoryModelStore::location(const std::string& key) const {
  return (root_ / key).string();
}

// ------------------------------------------------------------------------------------------ S3

struct S3ModelStore::Impl {
  S3Options o;
  runtime::HttpUrl base;
  std::string host_header;  // host:port as sent
  runtime::HttpClient client;
  bool bucket_ready = false;

  Result<runtime::HttpResponse, std::string> call(const std::string& method,
                                                  const std::string& path,
                                                  const std::map<std::string, std::string>& query,
                                                  std::string_view body) {
    SigV4Request r;
    r.method = method;
    r.path = path;
    r.query = query;
    r.payload_sha256 = sha256_hex(body);
    r.headers = {{"host", host_header},
                 {"x-amz-content-sha256", r.payload_sha256},
                 {"x-amz-date", format_amz_date(now_micros())}};
    runtime::HttpHeaders h;
    h.set("Authorization", sigv4_authorization(r, o.access_key, o.secret_key, o.region));
    h.set("x-amz-content-sha256", r.payload_sha256);
    h.set("x-amz-date", r.headers["x-amz-date"]);
    std::string target =
        (base.tls ? "https://" : "http://") + host_header + uri_encode(path, false);
    std::string qs;
    for (const auto& [k, v] : query)
      qs += (qs.empty() ? "?" : "&") + uri_encode(k, true) + "=" + uri_encode(v, true);
    auto resp = client.request(method, target + qs, body, h, std::chrono::seconds(60));
    if (!resp) return unexpected("S3 " + method + " " + path + ": " + resp.error());
    return resp;
  }

  static std::string format_amz_date(TimestampUs t) {
    // 20130524T000000Z from ISO 8601 "2013-05-24T00:00:00.000000Z"
    const std::string iso = format_iso8601(t);
    std::string out;
    for (char c : iso.substr(0, 19))
      if (c != '-' && c != ':') out += c;
    return out + "Z";
  }

  static std::string s3_error(const runtime::HttpResponse& r) {
    auto code = r.body.find("<Code>");
    std::string what = code == std::string::npos
                           ? ""
                           : r.body.substr(code + 6, r.body.find("</Code>", code) - code - 6);
    return "HTTP " + std::to_string(r.status) + (what.empty() ? "" : " " + what);
  }

  Result<void, std::string> ensure_bucket() {
    if (bucket_ready) return {};
    auto r = call("PUT", "/" + o.bucket, {}, {});
    if (!r) return unexpected(r.error());
    // 200 created; 409 BucketAlreadyOwnedByYou / BucketAlreadyExists: it is there.
    if (r->status != 200 && r->status != 409)
      return unexpected("create bucket " + o.bucket + ": " + s3_error(*r));
    bucket_ready = true;
    return {};
  }
};

S3ModelStore::S3ModelStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
S3ModelStore::~S3ModelStore() = default;

Result<std::unique_ptr<S3ModelStore>, std::string> S3ModelStore::open(S3Options o) {
  std::string endpoint = o.endpoint;
  if (endpoint.find("://") == std::string::npos) endpoint = "http://" + endpoint;
  auto url = runtime::parse_http_url(endpoint);
  if (!url) return unexpected("MINIO_ENDPOINT: " + url.error());
  if (o.bucket.empty() || o.access_key.empty() || o.secret_key.empty())
    return unexpected(
        std::string("MINIO_BUCKET_NAME, MINIO_ACCESS_KEY and MINIO_SECRET_KEY are required"));
  auto impl = std::make_unique<Impl>();
  impl->base = *url;
  // The Host header as runtime::HttpClient sends it, and signs: no port for https on 443.
  impl->host_header =
      url->host + (url->tls && url->port == 443 ? std::string() : ":" + std::to_string(url->port));
  impl->o = std::move(o);
  return std::unique_ptr<S3ModelStore>(new S3ModelStore(std::move(impl)));
}

Result<void, std::string> S3ModelStore::put(const std::string& key, std::string_view bytes) {
  if (!valid_key(key)) return unexpected("invalid model key '" + key + "'");
  if (auto b = impl_->ensure_bucket(); !b) return b;
  auto r = impl_->call("PUT", "/" + impl_->o.bucket + "/" + key, {}, bytes);
  if (!r) return unexpected(r.error());
  if (r->status != 200) return unexpected("put " + key + ": " + Impl::s3_error(*r));
  return {};
}

Result<std::string, std::string> S3ModelStore::get(const std::string& key) {
  if (!valid_key(key)) return unexpected("invalid model key '" + key + "'");
  auto r = impl_->call("GET", "/" + impl_->o.bucket + "/" + key, {}, {});
  if (!r) return unexpected(r.error());
  if (r->status != 200) return unexpected("get " + key + ": " + Impl::s3_error(*r));
  return std::move(r->body);
}

Result<std::vector<std::string>, std::string> S3ModelStore::list(const std::string& prefix) {
  std::vector<std::string> out;
  std::string token;
  while (true) {
    std::map<std::string, std::string> q{{"list-type", "2"}, {"prefix", prefix}};
    if (!token.empty()) q["continuation-token"] = token;
    auto r = impl_->call("GET", "/" + impl_->o.bucket, q, {});
    if (!r) return unexpected(r.error());
    if (r->status == 404) return out;  // no bucket yet: nothing stored
    if (r->status != 200) return unexpected("list " + prefix + ": " + Impl::s3_error(*r));
    for (std::size_t p = r->body.find("<Key>"); p != std::string::npos;
         p = r->body.find("<Key>", p + 5))
      out.push_back(
          xml_unescape(std::string_view(r->body).substr(p + 5, r->body.find("</Key>", p) - p - 5)));
    const auto t = r->body.find("<NextContinuationToken>");
    if (r->body.find("<IsTruncated>true</IsTruncated>") == std::string::npos ||
        t == std::string::npos)
      break;
    token = xml_unescape(std::string_view(r->body).substr(
        t + 23, r->body.find("</NextContinuationToken>", t) - t - 23));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string S3ModelStore::location(const std::string& key) const {
  return "s3://" + impl_->o.bucket + "/" + key + " (" + impl_->host_header + ")";
}

Result<std::unique_ptr<ModelStore>, std::string> open_model_store(const EnvLookup& env,
                                                                  const std::string& model_dir) {
  auto get = [&](const char* k) { return env(k).value_or(""); };
  if (!get("MINIO_ENDPOINT").empty()) {
    auto s3 =
        S3ModelStore::open({get("MINIO_ENDPOINT"), get("MINIO_ACCESS_KEY"), get("MINIO_SECRET_KEY"),
                            get("MINIO_BUCKET_NAME"), env("MINIO_REGION").value_or("us-east-1")});
    if (!s3) return unexpected(s3.error());
    return std::unique_ptr<ModelStore>(std::move(*s3));
  }
  return std::unique_ptr<ModelStore>(std::make_unique<DirectoryModelStore>(model_dir));
}

Result<std::vector<std::string>, std::string> put_directory(ModelStore& store,
                                                            const std::filesystem::path& dir,
                                                            const std::string& prefix) {
  std::vector<std::string> keys;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string key = prefix + "/" + entry.path().filename().string();
    if (auto r = store.put(key, ss.str()); !r) return unexpected(r.error());
    keys.push_back(key);
  }
  if (ec) return unexpected("cannot read " + dir.string() + ": " + ec.message());
  std::sort(keys.begin(), keys.end());
  return keys;
}

}  // namespace sf::ml
