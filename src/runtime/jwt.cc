#include "runtime/jwt.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>

namespace sf::runtime::jwt {

void PkeyFree::operator()(EVP_PKEY* key) const noexcept {
  EVP_PKEY_free(key);
}

namespace {

namespace dom = simdjson::dom;

constexpr std::size_t kMaxTokenBytes = 16 * 1024;
constexpr std::size_t kMaxJwksBytes = 1024 * 1024;
// RFC 7518 3.3 asks for 2048 bits at least; the upper bound keeps one verification cheap.
constexpr int kMinRsaBits = 2048;
constexpr int kMaxRsaBits = 16384;

template <auto F>
struct Deleter {
  template <class T>
  void operator()(T* p) const noexcept {
    F(p);
  }
};
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD_free>>;
using ParamsPtr = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG_free>>;

// Drops whatever OpenSSL queued on this thread's error queue meanwhile: failures here are
// reported as values, and a stale entry would be misread by the next TLS call on the thread
// (SSL_get_error consults the queue).
class ErrorQueueScope {
 public:
  ErrorQueueScope() { ERR_set_mark(); }
  ~ErrorQueueScope() { ERR_pop_to_mark(); }
  ErrorQueueScope(const ErrorQueueScope&) = delete;
  ErrorQueueScope& operator=(const ErrorQueueScope&) = delete;
};

enum class Family { kRsaPkcs1, kRsaPss, kEcdsa, kEd25519 };

struct Algorithm {
  std::string_view name;
  Family family;
  const EVP_MD* (*md)();   // nullptr for EdDSA (one-shot, no separate digest)
  std::string_view crv;    // EC/OKP curve the key must be on
  const char* group;       // OpenSSL group name for EC keys
  std::size_t coordinate;  // ECDSA: bytes of one coordinate, and of R and of S
};

constexpr Algorithm kAlgorithms[] = {
    {"RS256", Family::kRsaPkcs1, EVP_sha256, "", nullptr, 0},
    {"RS384", Family::kRsaPkcs1, EVP_sha384, "", nullptr, 0},
    {"RS512", Family::kRsaPkcs1, EVP_sha512, "", nullptr, 0},
    {"PS256", Family::kRsaPss, EVP_sha256, "", nullptr, 0},
    {"PS384", Family::kRsaPss, EVP_sha384, "", nullptr, 0},
    {"PS512", Family::kRsaPss, EVP_sha512, "", nullptr, 0},
    {"ES256", Family::kEcdsa, EVP_sha256, "P-256", "P-256", 32},
    {"ES384", Family::kEcdsa, EVP_sha384, "P-384", "P-384", 48},
    {"ES512", Family::kEcdsa, EVP_sha512, "P-521", "P-521", 66},
    {"EdDSA", Family::kEd25519, nullptr, "Ed25519", nullptr, 0},
};

const Algorithm* find_algorithm(std::string_view name) {
  for (const Algorithm& a : kAlgorithms) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

// The ECDSA algorithm of an EC JWK's curve, which gives the coordinate size and OpenSSL group
// (P-521 goes with ES512).
const Algorithm* ec_algorithm_for_curve(std::string_view crv) {
  for (const Algorithm& a : kAlgorithms) {
    if (a.family == Family::kEcdsa && a.crv == crv) return &a;
  }
  return nullptr;
}

bool key_fits(const Jwk& key, const Algorithm& alg) {
  if (!key.alg.empty() && key.alg != alg.name) return false;
  switch (alg.family) {
    case Family::kRsaPkcs1:
    case Family::kRsaPss:
      return key.kty == "RSA";
    case Family::kEcdsa:
      return key.kty == "EC" && key.crv == alg.crv;
    case Family::kEd25519:
      return key.kty == "OKP" && key.crv == alg.crv;
  }
  return false;
}

int base64url_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

// Strict base64url (RFC 7515 2): no padding, no other characters, and the unused low bits of the
// last character must be zero, so that each byte string has exactly one encoding and a token
// whose text was altered never decodes to the signed bytes.
std::optional<std::string> base64url_decode(std::string_view in) {
  if (in.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(in.size() / 4 * 3 + 2);
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char ch : in) {
    const int v = base64url_value(static_cast<unsigned char>(ch));
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  if ((acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

// JWK members come from the issuer, not from the token: tolerate padding some producers add.
std::optional<std::string> jwk_base64url_decode(std::string_view in) {
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  return base64url_decode(in);
}

const unsigned char* bytes(const std::string& s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// A member that may be absent, present with the expected type, or present with another.
enum class Member { kAbsent, kWrongType, kOk };

Member string_member(dom::object object, std::string_view key, std::string_view* out) {
  dom::element element;
  if (object.at_key(key).get(element) != simdjson::SUCCESS) return Member::kAbsent;
  return element.get_string().get(*out) == simdjson::SUCCESS ? Member::kOk : Member::kWrongType;
}

// --- JWKS ---------------------------------------------------------------------------------------

PkeyPtr key_from_params(const char* type, OSSL_PARAM_BLD* builder) {
  ParamsPtr params(OSSL_PARAM_BLD_to_param(builder));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0) return nullptr;
  EVP_PKEY* key = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0) return nullptr;
  return PkeyPtr(key);
}

PkeyPtr rsa_key(dom::object jwk) {
  std::string_view n_text, e_text;
  if (string_member(jwk, "n", &n_text) != Member::kOk) return nullptr;
  if (string_member(jwk, "e", &e_text) != Member::kOk) return nullptr;
  const auto n_bytes = jwk_base64url_decode(n_text);
  const auto e_bytes = jwk_base64url_decode(e_text);
  if (!n_bytes || !e_bytes || n_bytes->empty() || e_bytes->empty()) return nullptr;
  if (n_bytes->size() > kMaxRsaBits / 8 + 1 || e_bytes->size() > 8) return nullptr;
  BnPtr n(BN_bin2bn(bytes(*n_bytes), static_cast<int>(n_bytes->size()), nullptr));
  BnPtr e(BN_bin2bn(bytes(*e_bytes), static_cast<int>(e_bytes->size()), nullptr));
  if (!n || !e) return nullptr;
  const int bits = BN_num_bits(n.get());
  if (bits < kMinRsaBits || bits > kMaxRsaBits || !BN_is_odd(n.get())) return nullptr;
  // e = 1 would make every message its own signature; an even e is not an RSA key.
  if (!BN_is_odd(e.get()) || BN_is_one(e.get())) return nullptr;
  ParamBldPtr builder(OSSL_PARAM_BLD_new());
  if (!builder || !OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) ||
      !OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_E, e.get())) {
    return nullptr;
  }
  return key_from_params("RSA", builder.get());
}

PkeyPtr ec_key(dom::object jwk, const Algorithm& alg) {
  std::string_view x_text, y_text;
  if (string_member(jwk, "x", &x_text) != Member::kOk) return nullptr;
  if (string_member(jwk, "y", &y_text) != Member::kOk) return nullptr;
  const auto x = jwk_base64url_decode(x_text);
  const auto y = jwk_base64url_decode(y_text);
  // RFC 7518 6.2.1.2 wants full-length coordinates; shorter ones (leading zeros dropped by some
  // producers) are unambiguous, so left-pad them.
  if (!x || !y || x->empty() || y->empty() || x->size() > alg.coordinate ||
      y->size() > alg.coordinate) {
    return nullptr;
  }
  std::string point(1 + 2 * alg.coordinate, '\0');
  point[0] = 0x04;  // uncompressed
  std::memcpy(point.data() + 1 + alg.coordinate - x->size(), x->data(), x->size());
  std::memcpy(point.data() + 1 + 2 * alg.coordinate - y->size(), y->data(), y->size());
  ParamBldPtr builder(OSSL_PARAM_BLD_new());
  if (!builder ||
      !OSSL_PARAM_BLD_push_utf8_string(builder.get(), OSSL_PKEY_PARAM_GROUP_NAME, alg.group, 0) ||
      !OSSL_PARAM_BLD_push_octet_string(builder.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                        point.size())) {
    return nullptr;
  }
  PkeyPtr key = key_from_params("EC", builder.get());
  if (!key) return nullptr;
  // A point off the curve or of the wrong order must never be used to verify.
  PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) return nullptr;
  return key;
}

PkeyPtr ed25519_key(dom::object jwk) {
  std::string_view x_text;
  if (string_member(jwk, "x", &x_text) != Member::kOk) return nullptr;
  const auto x = jwk_base64url_decode(x_text);
  if (!x || x->size() != 32) return nullptr;
  return PkeyPtr(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, bytes(*x), x->size()));
}

// One JWKS entry as a verification key, or nullopt when it is not one this file can use.
std::optional<Jwk> parse_jwk(dom::element element) {
  dom::object object;
  if (element.get_object().get(object) != simdjson::SUCCESS) return std::nullopt;
  Jwk jwk;
  std::string_view text;
  if (string_member(object, "kty", &text) != Member::kOk) return std::nullopt;
  jwk.kty = text;
  switch (string_member(object, "use", &text)) {
    case Member::kAbsent:
      break;
    case Member::kWrongType:
      return std::nullopt;
    case Member::kOk:
      if (text != "sig") return std::nullopt;
  }
  dom::element ops;
  if (object.at_key("key_ops").get(ops) == simdjson::SUCCESS) {
    dom::array list;
    if (ops.get_array().get(list) != simdjson::SUCCESS) return std::nullopt;
    bool verify = false;
    for (dom::element op : list) {
      std::string_view name;
      if (op.get_string().get(name) == simdjson::SUCCESS && name == "verify") verify = true;
    }
    if (!verify) return std::nullopt;
  }
  switch (string_member(object, "kid", &text)) {
    case Member::kAbsent:
      break;
    case Member::kWrongType:
      return std::nullopt;
    case Member::kOk:
      jwk.kid = text;
  }
  switch (string_member(object, "crv", &text)) {
    case Member::kAbsent:
      break;
    case Member::kWrongType:
      return std::nullopt;
    case Member::kOk:
      jwk.crv = text;
  }
  if (jwk.kty == "RSA") {
    jwk.crv.clear();
    jwk.key = rsa_key(object);
  } else if (jwk.kty == "EC") {
    const Algorithm* curve = ec_algorithm_for_curve(jwk.crv);
    if (curve == nullptr) return std::nullopt;
    jwk.key = ec_key(object, *curve);
  } else if (jwk.kty == "OKP" && jwk.crv == "Ed25519") {
    jwk.key = ed25519_key(object);
  } else {
    return std::nullopt;
  }
  if (!jwk.key) return std::nullopt;
  switch (string_member(object, "alg", &text)) {
    case Member::kAbsent:
      break;
    case Member::kWrongType:
      return std::nullopt;
    case Member::kOk: {
      // A key pinned to an algorithm this file lacks (RSA-OAEP, HS256, ...) or that does not fit
      // its type verifies nothing.
      const Algorithm* alg = find_algorithm(text);
      jwk.alg = text;
      if (alg == nullptr || !key_fits(jwk, *alg)) return std::nullopt;
    }
  }
  return jwk;
}

// --- tokens -------------------------------------------------------------------------------------

Unexpected<Error> fail(Errc code, const char* message) {
  return unexpected(Error{code, message});
}

// R||S (RFC 7518 3.4) to the DER ECDSA-Sig-Value that OpenSSL verifies.
std::optional<std::string> ecdsa_raw_to_der(const std::string& raw, std::size_t coordinate) {
  const int half = static_cast<int>(coordinate);
  BnPtr r(BN_bin2bn(bytes(raw), half, nullptr));
  BnPtr s(BN_bin2bn(bytes(raw) + half, half, nullptr));
  EcdsaSigPtr sig(ECDSA_SIG_new());
  if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return std::nullopt;
  r.release();  // owned by sig now
  s.release();
  const int size = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (size <= 0) return std::nullopt;
  std::string der(static_cast<std::size_t>(size), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_ECDSA_SIG(sig.get(), &out) != size) return std::nullopt;
  return der;
}

bool signature_ok(const Algorithm& alg, EVP_PKEY* key, std::string_view signed_text,
                  const std::string& signature) {
  std::string der;
  const std::string* sig = &signature;
  switch (alg.family) {
    case Family::kRsaPkcs1:
    case Family::kRsaPss:
      if (signature.size() != static_cast<std::size_t>(EVP_PKEY_get_size(key))) return false;
      break;
    case Family::kEcdsa: {
      if (signature.size() != 2 * alg.coordinate) return false;
      auto converted = ecdsa_raw_to_der(signature, alg.coordinate);
      if (!converted) return false;
      der = std::move(*converted);
      sig = &der;
      break;
    }
    case Family::kEd25519:
      if (signature.size() != 64) return false;
      break;
  }
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) return false;
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  if (EVP_DigestVerifyInit(ctx.get(), &pctx, alg.md != nullptr ? alg.md() : nullptr, nullptr,
                           key) != 1) {
    return false;
  }
  if (alg.family == Family::kRsaPkcs1 &&
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0) {
    return false;
  }
  // RFC 7518 3.5: MGF1 with the same hash, salt as long as the hash (checked exactly).
  if (alg.family == Family::kRsaPss &&
      (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
       EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) <= 0 ||
       EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, alg.md()) <= 0)) {
    return false;
  }
  return EVP_DigestVerify(ctx.get(), bytes(*sig), sig->size(),
                          reinterpret_cast<const unsigned char*>(signed_text.data()),
                          signed_text.size()) == 1;
}

Result<dom::object, Error> parse_object(dom::parser& parser, const std::string& json,
                                        const char* what) {
  dom::element root;
  dom::object object;
  if (parser.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS ||
      root.get_object().get(object) != simdjson::SUCCESS) {
    return fail(Errc::kMalformed, what);
  }
  return object;
}

std::int64_t saturating_add(std::int64_t a, std::int64_t b) {
  std::int64_t sum = 0;
  if (!__builtin_add_overflow(a, b, &sum)) return sum;
  return b > 0 ? std::numeric_limits<std::int64_t>::max()
               : std::numeric_limits<std::int64_t>::min();
}

// A NumericDate (RFC 7519 2): integer or fractional seconds; fractions round the strict way
// (`round_up` for lower bounds such as nbf, down for exp).
Member numeric_date(dom::object payload, std::string_view key, bool round_up, std::int64_t* out) {
  dom::element element;
  if (payload.at_key(key).get(element) != simdjson::SUCCESS) return Member::kAbsent;
  if (element.get_int64().get(*out) == simdjson::SUCCESS) return Member::kOk;
  if (element.type() != dom::element_type::DOUBLE) return Member::kWrongType;  // uint64 too
  double value = 0;
  if (element.get_double().get(value) != simdjson::SUCCESS) return Member::kWrongType;
  value = round_up ? std::ceil(value) : std::floor(value);
  // Beyond about +-2^63 the cast would be undefined; no real date is there.
  if (!std::isfinite(value) || std::fabs(value) >= 9.0e18) return Member::kWrongType;
  *out = static_cast<std::int64_t>(value);
  return Member::kOk;
}

void add_unique(std::vector<std::string>& list, std::string_view item) {
  if (item.empty()) return;
  if (std::find(list.begin(), list.end(), item) == list.end()) list.emplace_back(item);
}

void add_words(std::vector<std::string>& list, std::string_view text) {
  while (!text.empty()) {
    const std::size_t space = text.find(' ');
    add_unique(list, text.substr(0, space));
    if (space == std::string_view::npos) break;
    text.remove_prefix(space + 1);
  }
}

// Appends the strings of an array; false when it is not an array of strings.
bool add_string_array(std::vector<std::string>& list, dom::element element) {
  dom::array array;
  if (element.get_array().get(array) != simdjson::SUCCESS) return false;
  for (dom::element item : array) {
    std::string_view text;
    if (item.get_string().get(text) != simdjson::SUCCESS) return false;
    add_unique(list, text);
  }
  return true;
}

// Keycloak's {"roles":[...]} (realm_access, resource_access.<client>); false on a wrong type.
bool add_roles(std::vector<std::string>& roles, dom::element access) {
  dom::object object;
  if (access.get_object().get(object) != simdjson::SUCCESS) return false;
  dom::element list;
  if (object.at_key("roles").get(list) != simdjson::SUCCESS) return true;
  return add_string_array(roles, list);
}

Result<Claims, Error> read_claims(dom::object payload, const VerifyOptions& options) {
  Claims claims;
  const std::int64_t now = options.now ? options.now()
                                       : std::chrono::duration_cast<std::chrono::seconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count();
  const std::int64_t leeway = std::max<std::int64_t>(0, options.leeway.count());

  std::int64_t exp = 0, nbf = 0, iat = 0;
  switch (numeric_date(payload, "exp", false, &exp)) {
    case Member::kAbsent:
      return fail(Errc::kMalformed, "token has no expiry");
    case Member::kWrongType:
      return fail(Errc::kMalformed, "malformed exp claim");
    case Member::kOk:
      break;
  }
  if (now >= saturating_add(exp, leeway)) return fail(Errc::kExpired, "token expired");
  const Member has_nbf = numeric_date(payload, "nbf", true, &nbf);
  const Member has_iat = numeric_date(payload, "iat", true, &iat);
  if (has_nbf == Member::kWrongType) return fail(Errc::kMalformed, "malformed nbf claim");
  if (has_iat == Member::kWrongType) return fail(Errc::kMalformed, "malformed iat claim");
  if (has_nbf == Member::kOk && saturating_add(now, leeway) < nbf) {
    return fail(Errc::kNotYetValid, "token not yet valid");
  }
  if (has_iat == Member::kOk && iat > saturating_add(now, leeway)) {
    return fail(Errc::kNotYetValid, "token issued in the future");
  }
  claims.expires_at = exp;

  std::string_view text;
  switch (string_member(payload, "iss", &text)) {
    case Member::kAbsent:
      return fail(Errc::kWrongIssuer, "wrong issuer");
    case Member::kWrongType:
      return fail(Errc::kMalformed, "malformed iss claim");
    case Member::kOk:
      if (options.issuer.empty() || text != options.issuer) {
        return fail(Errc::kWrongIssuer, "wrong issuer");
      }
      claims.issuer = text;
  }

  dom::element aud;
  if (payload.at_key("aud").get(aud) != simdjson::SUCCESS) {
    return fail(Errc::kWrongAudience, "wrong audience");
  }
  if (aud.get_string().get(text) == simdjson::SUCCESS) {
    claims.audience.emplace_back(text);
  } else if (!add_string_array(claims.audience, aud)) {
    return fail(Errc::kMalformed, "malformed aud claim");
  }
  if (options.audience.empty() || std::find(claims.audience.begin(), claims.audience.end(),
                                            options.audience) == claims.audience.end()) {
    return fail(Errc::kWrongAudience, "wrong audience");
  }

  switch (string_member(payload, "sub", &text)) {
    case Member::kAbsent:
      break;
    case Member::kWrongType:
      return fail(Errc::kMalformed, "malformed sub claim");
    case Member::kOk:
      claims.subject = text;
  }
  switch (string_member(payload, "preferred_username", &text)) {
    case Member::kAbsent:
      break;
    case Member::kWrongType:
      return fail(Errc::kMalformed, "malformed preferred_username claim");
    case Member::kOk:
      claims.preferred_username = text;
  }

  switch (string_member(payload, "scope", &text)) {
    case Member::kAbsent:
      break;
    case Member::kWrongType:
      return fail(Errc::kMalformed, "malformed scope claim");
    case Member::kOk:
      add_words(claims.scopes, text);
  }
  dom::element scp;
  if (payload.at_key("scp").get(scp) == simdjson::SUCCESS) {
    if (scp.get_string().get(text) == simdjson::SUCCESS) {
      add_words(claims.scopes, text);
    } else if (!add_string_array(claims.scopes, scp)) {
      return fail(Errc::kMalformed, "malformed scp claim");
    }
  }

  dom::element access;
  if (payload.at_key("realm_access").get(access) == simdjson::SUCCESS &&
      !add_roles(claims.roles, access)) {
    return fail(Errc::kMalformed, "malformed realm_access claim");
  }
  if (payload.at_key("resource_access").get(access) == simdjson::SUCCESS) {
    dom::object clients;
    if (access.get_object().get(clients) != simdjson::SUCCESS) {
      return fail(Errc::kMalformed, "malformed resource_access claim");
    }
    dom::element client;
    if (clients.at_key(options.audience).get(client) == simdjson::SUCCESS &&
        !add_roles(claims.roles, client)) {
      return fail(Errc::kMalformed, "malformed resource_access claim");
    }
  }
  return claims;
}

}  // namespace

Result<std::shared_ptr<const Jwks>, std::string> parse_jwks(std::string_view json) {
  ErrorQueueScope errors;
  if (json.size() > kMaxJwksBytes) return unexpected(std::string("JWKS document too large"));
  dom::parser parser;
  dom::element root;
  if (auto ec = parser.parse(json.data(), json.size()).get(root)) {
    return unexpected(std::string("JWKS is not JSON: ") + simdjson::error_message(ec));
  }
  dom::array list;
  if (root.at_key("keys").get_array().get(list) != simdjson::SUCCESS) {
    return unexpected(std::string("JWKS has no \"keys\" array"));
  }
  auto jwks = std::make_shared<Jwks>();
  std::size_t skipped = 0;
  for (dom::element element : list) {
    if (auto jwk = parse_jwk(element)) {
      jwks->keys.push_back(std::move(*jwk));
    } else {
      ++skipped;
    }
  }
  if (jwks->keys.empty()) {
    return unexpected("JWKS has no usable signing key (" + std::to_string(skipped) + " skipped)");
  }
  return std::shared_ptr<const Jwks>(std::move(jwks));
}

Result<Claims, Error> verify(std::string_view token, const Jwks& keys,
                             const VerifyOptions& options) {
  ErrorQueueScope errors;
  if (token.size() > kMaxTokenBytes) return fail(Errc::kMalformed, "token too long");
  const std::size_t dot1 = token.find('.');
  const std::size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return fail(Errc::kMalformed, "token is not a compact JWS");
  }
  const auto header_json = base64url_decode(token.substr(0, dot1));
  if (!header_json) return fail(Errc::kMalformed, "malformed token header");

  // One parser per thread, reused: tokens arrive at request rate. The header's DOM is gone once
  // the payload is parsed, so everything needed from it is copied out first.
  thread_local dom::parser parser;
  std::string alg_name, kid;
  {
    auto header = parse_object(parser, *header_json, "malformed token header");
    if (!header) return unexpected(header.error());
    std::string_view text;
    if (string_member(*header, "alg", &text) != Member::kOk) {
      return fail(Errc::kMalformed, "malformed token header");
    }
    alg_name = text;
    switch (string_member(*header, "kid", &text)) {
      case Member::kAbsent:
        break;
      case Member::kWrongType:
        return fail(Errc::kMalformed, "malformed token header");
      case Member::kOk:
        kid = text;
    }
    // RFC 7515 4.1.11: extensions marked critical must be understood; none are here.
    dom::element crit;
    if (header->at_key("crit").get(crit) == simdjson::SUCCESS) {
      return fail(Errc::kMalformed, "unsupported critical header");
    }
  }
  const Algorithm* alg = find_algorithm(alg_name);
  if (alg == nullptr || std::find(options.algorithms.begin(), options.algorithms.end(), alg_name) ==
                            options.algorithms.end()) {
    return fail(Errc::kUnsupportedAlgorithm, "unsupported algorithm");
  }

  const auto payload_json = base64url_decode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  if (!payload_json) return fail(Errc::kMalformed, "malformed token payload");
  const auto signature = base64url_decode(token.substr(dot2 + 1));
  if (!signature) return fail(Errc::kMalformed, "malformed token signature");

  // With a kid: every key of that kid that fits alg (a kid may repeat during a rotation).
  // Without: only a key set where exactly one key fits, rather than trying each in turn.
  std::vector<const Jwk*> candidates;
  for (const Jwk& key : keys.keys) {
    if ((kid.empty() || key.kid == kid) && key_fits(key, *alg)) candidates.push_back(&key);
  }
  if (candidates.empty() || (kid.empty() && candidates.size() != 1)) {
    return fail(Errc::kUnknownKey, "no matching key");
  }
  const std::string_view signed_text = token.substr(0, dot2);
  const bool signed_ok = std::any_of(candidates.begin(), candidates.end(), [&](const Jwk* key) {
    return signature_ok(*alg, key->key.get(), signed_text, *signature);
  });
  if (!signed_ok) return fail(Errc::kBadSignature, "bad signature");

  auto payload = parse_object(parser, *payload_json, "malformed token payload");
  if (!payload) return unexpected(payload.error());
  return read_claims(*payload, options);
}

const char* to_string(Errc code) {
  switch (code) {
    case Errc::kMalformed:
      return "malformed";
    case Errc::kUnsupportedAlgorithm:
      return "unsupported_algorithm";
    case Errc::kUnknownKey:
      return "unknown_key";
    case Errc::kBadSignature:
      return "bad_signature";
    case Errc::kExpired:
      return "expired";
    case Errc::kNotYetValid:
      return "not_yet_valid";
    case Errc::kWrongIssuer:
      return "wrong_issuer";
    case Errc::kWrongAudience:
      return "wrong_audience";
  }
  return "unknown";
}

}  // namespace sf::runtime::jwt
