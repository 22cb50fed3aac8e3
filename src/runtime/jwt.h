// OIDC access-token verification: compact JWS tokens (RFC 7515/7519) signed by a key from the
// issuer's JWKS (RFC 7517), as Keycloak issues them to clients of the REST API.
//
//   auto keys = jwt::parse_jwks(body);  // from <issuer>/protocol/openid-connect/certs
//   jwt::VerifyOptions options{.issuer = "https://sso.example/realms/sf", .audience = "sf-api"};
//   auto claims = jwt::verify(bearer_token, **keys, options);
//   if (!claims) return reply_401(jwt::to_string(claims.error().code), claims.error().message);
//
// Tokens are untrusted input: every failure comes back as an Error (no exceptions, no crash), the
// header decides nothing beyond "alg" and "kid" (keys come only from the Jwks, never from "jwk",
// "jku", "x5u" or "x5c"), and "alg" must be one of options.algorithms that this file implements,
// so "none" and the HMAC algorithms are always refused. Fetching and refreshing the JWKS (for
// example on kUnknownKey, rate-limited) is the caller's job.
#pragma once

#include <openssl/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace sf::runtime::jwt {

struct PkeyFree {
  void operator()(EVP_PKEY* key) const noexcept;
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// One verification key of a key set.
struct Jwk {
  std::string kid;  // empty when the JWK has none
  std::string kty;  // "RSA", "EC" or "OKP"
  std::string crv;  // "P-256", "P-384", "P-521" or "Ed25519"; empty for RSA
  std::string alg;  // when the JWK names one, the only "alg" it verifies; else empty
  PkeyPtr key;      // public key only
};

// A parsed key set, immutable once built (share it between threads as shared_ptr<const Jwks>).
struct Jwks {
  std::vector<Jwk> keys;  // in document order; a kid may repeat
};

// Parses a JWKS document ({"keys":[...]}, at most 1 MiB). Usable keys: "kty":"RSA" with "n" and
// "e" (2048 to 16384 bits), "kty":"EC" with "crv" P-256/P-384/P-521 and "x","y", "kty":"OKP"
// with "crv":"Ed25519" and "x". Keys that cannot be used are skipped, not an error: "use" other
// than "sig", "key_ops" without "verify", an unknown kty/crv/alg, missing or invalid components
// (a point off the curve, a short RSA modulus). Error: not JSON, no "keys" array, or no usable key.
Result<std::shared_ptr<const Jwks>, std::string> parse_jwks(std::string_view json);

struct VerifyOptions {
  // Required exact match of "iss". Empty matches no token (fail closed on a missing setting).
  std::string issuer;
  // "aud" (a string or an array of strings) must contain it; "azp" is not consulted. Empty
  // matches no token.
  std::string audience;
  // Clock skew allowed for exp, nbf and iat (negative counts as zero).
  std::chrono::seconds leeway{60};
  // Accepted "alg" values; names this file does not implement (none, HS256, ...) never pass.
  std::vector<std::string> algorithms = {"RS256", "RS384", "RS512", "PS256", "PS384",
                                         "PS512", "ES256", "ES384", "EdDSA"};
  // Unix seconds now; empty means the system clock (tests inject a fixed time).
  std::function<std::int64_t()> now;
};

struct Claims {
  std::string subject;  // "sub"; empty when absent
  std::string issuer;   // "iss"
  std::vector<std::string> audience;
  std::int64_t expires_at = 0;  // "exp", unix seconds
  // "scope" (space-separated string) and "scp" (array of strings, or a space-separated string),
  // merged in order of appearance without duplicates.
  std::vector<std::string> scopes;
  // Keycloak's realm_access.roles then resource_access.<options.audience>.roles, merged without
  // duplicates (a realm role and a client role of the same name are one entry).
  std::vector<std::string> roles;
  std::string preferred_username;  // for logs only: not unique, users may change it
};

enum class Errc {
  kMalformed,             // not a well-formed JWS/JWT, a claim of the wrong type, no "exp"
  kUnsupportedAlgorithm,  // "alg" not in options.algorithms or not implemented here
  kUnknownKey,  // no key with this "kid" that can verify "alg" (without a kid: not exactly one)
  kBadSignature,
  kExpired,        // now >= exp + leeway
  kNotYetValid,    // now + leeway < nbf, or iat > now + leeway
  kWrongIssuer,    // "iss" missing or not options.issuer
  kWrongAudience,  // "aud" missing or without options.audience
};

// `message` is short and fixed text, safe to return to a client: it never echoes the token or any
// value read from it.
struct Error {
  Errc code;
  std::string message;
};

// Verifies a compact JWS "header.payload.signature" (base64url without padding, at most 16 KiB):
// "alg" in options.algorithms, key chosen by "kid" from `keys` (kty, crv and the JWK's own "alg"
// must fit the token's alg; a kid that repeats tries each of its keys; without a kid, or with an
// empty one, the set must hold exactly one key that fits), signature, then "exp" (required), "nbf",
// "iat", "iss" and "aud". Claims of the wrong JSON type are kMalformed; "crit" headers are refused
// (kMalformed). Supported algorithms: RS256/384/512 (RSASSA-PKCS1-v1_5), PS256/384/512 (RSASSA-PSS,
// salt length = digest length, MGF1 with the same digest), ES256/384/512 (raw R||S; ES512 is not in
// the default list), EdDSA (Ed25519).
Result<Claims, Error> verify(std::string_view token, const Jwks& keys,
                             const VerifyOptions& options);

// "malformed", "unsupported_algorithm", "unknown_key", "bad_signature", "expired",
// "not_yet_valid", "wrong_issuer", "wrong_audience".
const char* to_string(Errc code);

}  // namespace sf::runtime::jwt
