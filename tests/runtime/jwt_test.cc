// jwt::verify and jwt::parse_jwks against tokens signed here with keys made at test time (OpenSSL
// API, nothing on disk): every supported algorithm verifies and yields its claims, every kind of
// bad token is refused with its own code (including the classic "none" and HS256 key-confusion
// attacks), and thousands of mangled tokens and key sets neither crash nor verify.
#include "runtime/jwt.h"

// GCC 12 reports a false -Wrestrict on std::string concatenation at -O3 (GCC bug 105329).
#pragma GCC diagnostic ignored "-Wrestrict"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "jwt_test_support.h"

namespace sf::runtime::jwt {
namespace {

constexpr std::int64_t kNow = 1'700'000'000;
constexpr char kIssuer[] = "https://sso.example.test/realms/streamforge";
constexpr char kAudience[] = "streamforge-api";

using namespace testing;  // NOLINT: the shared helpers are this test's vocabulary

// Keys made once: RSA generation is slow enough to matter across the suite.
struct TestKeys {
  PkeyPtr rsa = make_rsa();
  PkeyPtr rsa_other = make_rsa();  // an attacker's, or last month's
  PkeyPtr ec256 = make_ec("P-256");
  PkeyPtr ec384 = make_ec("P-384");
  PkeyPtr ec521 = make_ec("P-521");
  PkeyPtr ed = make_ed25519();
  PkeyPtr rsa_encryption = make_rsa();
  // Keycloak-like: signing keys plus an encryption key that must not be used.
  std::shared_ptr<const Jwks> jwks = parse_or_die(jwks_of({
      rsa_jwk(rsa.get(), "rsa-1"),
      rsa_jwk(rsa.get(), "rsa-rs256-only", R"(,"alg":"RS256","use":"sig")"),
      rsa_jwk(rsa_encryption.get(), "rsa-enc", R"(,"alg":"RSA-OAEP","use":"enc")"),
      ec_jwk(ec256.get(), "ec-256", "P-256", 32),
      ec_jwk(ec384.get(), "ec-384", "P-384", 48),
      ec_jwk(ec521.get(), "ec-521", "P-521", 66),
      ed25519_jwk(ed.get(), "ed-1"),
  }));
};

const TestKeys& keys() {
  static const TestKeys* const instance = new TestKeys();
  return *instance;
}

using Fields = std::map<std::string, std::string>;  // member name -> raw JSON value

std::string object_of(const Fields& fields) {
  std::string out = "{";
  for (const auto& [name, value] : fields) {
    if (out.size() > 1) out += ',';
    out += quote(name) + ":" + value;
  }
  return out + "}";
}

Fields standard_claims() {
  return {
      {"iss", quote(kIssuer)},
      {"aud", quote(kAudience)},
      {"sub", quote("3f1c9a3e-user")},
      {"exp", std::to_string(kNow + 300)},
      {"iat", std::to_string(kNow - 10)},
      {"nbf", std::to_string(kNow - 10)},
  };
}

std::string sign(std::string_view alg, EVP_PKEY* key, const std::string& kid,
                 const Fields& claims = standard_claims()) {
  Fields header{{"alg", quote(alg)}, {"typ", quote("JWT")}};
  if (!kid.empty()) header["kid"] = quote(kid);
  return sign_json(alg, key, object_of(header), object_of(claims));
}

VerifyOptions options() {
  VerifyOptions o;
  o.issuer = kIssuer;
  o.audience = kAudience;
  o.now = [] { return kNow; };
  return o;
}

Errc error_of(const Result<Claims, Error>& result) {
  EXPECT_FALSE(result.ok());
  return result.ok() ? static_cast<Errc>(-1) : result.error().code;
}

// Why verify() refuses `token` against the test key set.
Errc refusal(const std::string& token, const VerifyOptions& o = options()) {
  return error_of(verify(token, *keys().jwks, o));
}

bool verifies(const std::string& token, const VerifyOptions& o = options()) {
  return verify(token, *keys().jwks, o).ok();
}

// verifies(), saying why not.
bool accepted(const std::string& token, const VerifyOptions& o = options()) {
  const auto result = verify(token, *keys().jwks, o);
  if (!result.ok()) ADD_FAILURE() << "refused: " << result.error().message;
  return result.ok();
}

// --- valid tokens -------------------------------------------------------------------------------

TEST(JwtTest, Rs256TokenVerifiesAndYieldsKeycloakClaims) {
  Fields claims = standard_claims();
  claims["scope"] = quote("openid profile md:read  md:read");
  claims["scp"] = R"(["orders:write","profile"])";
  claims["preferred_username"] = quote("alice");
  claims["realm_access"] = R"({"roles":["offline_access","trader"]})";
  claims["resource_access"] =
      R"({"streamforge-api":{"roles":["admin","trader"]},"account":{"roles":["manage-account"]}})";
  claims["aud"] = R"(["account","streamforge-api"])";
  const auto result =
      verify(sign("RS256", keys().rsa.get(), "rsa-1", claims), *keys().jwks, options());
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->subject, "3f1c9a3e-user");
  EXPECT_EQ(result->issuer, kIssuer);
  EXPECT_EQ(result->audience, (std::vector<std::string>{"account", "streamforge-api"}));
  EXPECT_EQ(result->expires_at, kNow + 300);
  EXPECT_EQ(result->preferred_username, "alice");
  EXPECT_EQ(result->scopes,
            (std::vector<std::string>{"openid", "profile", "md:read", "orders:write"}));
  // Roles of other clients ("account") are not this API's.
  EXPECT_EQ(result->roles, (std::vector<std::string>{"offline_access", "trader", "admin"}));
}

TEST(JwtTest, EveryDefaultAlgorithmVerifies) {
  struct Case {
    const char* alg;
    EVP_PKEY* key;
    const char* kid;
  };
  const TestKeys& k = keys();
  for (const Case& c :
       {Case{"RS256", k.rsa.get(), "rsa-1"}, Case{"RS384", k.rsa.get(), "rsa-1"},
        Case{"RS512", k.rsa.get(), "rsa-1"}, Case{"PS256", k.rsa.get(), "rsa-1"},
        Case{"PS384", k.rsa.get(), "rsa-1"}, Case{"PS512", k.rsa.get(), "rsa-1"},
        Case{"ES256", k.ec256.get(), "ec-256"}, Case{"ES384", k.ec384.get(), "ec-384"},
        Case{"EdDSA", k.ed.get(), "ed-1"}}) {
    const auto result = verify(sign(c.alg, c.key, c.kid), *k.jwks, options());
    EXPECT_TRUE(result.ok()) << c.alg << ": " << result.error().message;
    if (result.ok()) {
      EXPECT_EQ(result->subject, "3f1c9a3e-user") << c.alg;
    }
  }
}

TEST(JwtTest, Es512OnlyWhenListed) {
  const std::string token = sign("ES512", keys().ec521.get(), "ec-521");
  EXPECT_EQ(refusal(token), Errc::kUnsupportedAlgorithm);
  VerifyOptions o = options();
  o.algorithms.push_back("ES512");
  const auto result = verify(token, *keys().jwks, o);
  EXPECT_TRUE(result.ok()) << result.error().message;
}

TEST(JwtTest, ScpAsStringAndMissingOptionalClaims) {
  Fields claims = standard_claims();
  claims.erase("sub");
  claims.erase("nbf");
  claims.erase("iat");
  claims["scp"] = quote("a b");
  const auto result =
      verify(sign("ES256", keys().ec256.get(), "ec-256", claims), *keys().jwks, options());
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->subject, "");
  EXPECT_EQ(result->scopes, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(result->roles.empty());
}

// --- time ---------------------------------------------------------------------------------------

TEST(JwtTest, ExpiryHonoursLeeway) {
  Fields claims = standard_claims();
  claims["exp"] = std::to_string(kNow - 61);
  const std::string expired = sign("RS256", keys().rsa.get(), "rsa-1", claims);
  EXPECT_EQ(refusal(expired), Errc::kExpired);

  claims["exp"] = std::to_string(kNow - 59);
  const std::string within = sign("RS256", keys().rsa.get(), "rsa-1", claims);
  EXPECT_TRUE(accepted(within));

  VerifyOptions strict = options();
  strict.leeway = std::chrono::seconds(0);
  EXPECT_EQ(refusal(within, strict), Errc::kExpired);
  claims["exp"] = std::to_string(kNow);  // exp is the first instant the token is invalid
  EXPECT_EQ(refusal(sign("RS256", keys().rsa.get(), "rsa-1", claims), strict), Errc::kExpired);
}

TEST(JwtTest, NotBeforeAndIssuedAtInTheFuture) {
  Fields claims = standard_claims();
  claims["nbf"] = std::to_string(kNow + 120);
  EXPECT_EQ(refusal(sign("EdDSA", keys().ed.get(), "ed-1", claims)), Errc::kNotYetValid);
  claims["nbf"] = std::to_string(kNow + 30);  // clock skew
  EXPECT_TRUE(accepted(sign("EdDSA", keys().ed.get(), "ed-1", claims)));

  claims = standard_claims();
  claims["iat"] = std::to_string(kNow + 3600);
  EXPECT_EQ(refusal(sign("EdDSA", keys().ed.get(), "ed-1", claims)), Errc::kNotYetValid);
}

TEST(JwtTest, ExpIsRequiredAndMustBeANumber) {
  Fields claims = standard_claims();
  claims.erase("exp");
  EXPECT_EQ(refusal(sign("RS256", keys().rsa.get(), "rsa-1", claims)), Errc::kMalformed);
  for (const char* bad : {R"("1700000300")", "null", "true", "[1700000300]", "1e300",
                          "18446744073709551615", "-1e300"}) {
    claims["exp"] = bad;
    EXPECT_EQ(refusal(sign("RS256", keys().rsa.get(), "rsa-1", claims)), Errc::kMalformed) << bad;
  }
  claims["exp"] = "1700000300.75";  // fractional NumericDate
  const auto result =
      verify(sign("RS256", keys().rsa.get(), "rsa-1", claims), *keys().jwks, options());
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->expires_at, kNow + 300);
  claims["exp"] = std::to_string(-9'000'000'000'000'000'000);
  EXPECT_EQ(refusal(sign("RS256", keys().rsa.get(), "rsa-1", claims)), Errc::kExpired);
}

TEST(JwtTest, ExtremeClockAndLeewayDoNotOverflow) {
  const std::string token = sign("RS256", keys().rsa.get(), "rsa-1");
  VerifyOptions o = options();
  o.leeway = std::chrono::seconds(std::numeric_limits<std::int64_t>::max());
  EXPECT_TRUE(accepted(token, o));
  o.leeway = std::chrono::seconds(60);
  o.now = [] { return std::numeric_limits<std::int64_t>::max(); };
  EXPECT_EQ(refusal(token, o), Errc::kExpired);
  o.now = [] { return std::numeric_limits<std::int64_t>::min(); };
  EXPECT_EQ(refusal(token, o), Errc::kNotYetValid);

  Fields claims = standard_claims();
  claims["exp"] = std::to_string(kNow + 50);
  o = options();
  o.leeway = std::chrono::seconds(-100);  // counts as zero, does not shorten the lifetime
  EXPECT_TRUE(accepted(sign("RS256", keys().rsa.get(), "rsa-1", claims), o));
}

// --- issuer and audience ------------------------------------------------------------------------

TEST(JwtTest, WrongOrMissingIssuer) {
  Fields claims = standard_claims();
  claims["iss"] = quote("https://sso.example.test/realms/other");
  EXPECT_EQ(refusal(sign("RS256", keys().rsa.get(), "rsa-1", claims)), Errc::kWrongIssuer);
  claims["iss"] = quote(std::string(kIssuer) + "/");  // exact match, no normalisation
  EXPECT_EQ(refusal(sign("RS256", keys().rsa.get(), "rsa-1", claims)), Errc::kWrongIssuer);
  claims.erase("iss");
  EXPECT_EQ(refusal(sign("RS256", keys().rsa.get(), "rsa-1", claims)), Errc::kWrongIssuer);
  // An unconfigured issuer accepts nothing, not even a token without "iss".
  VerifyOptions unset = options();
  unset.issuer.clear();
  claims["iss"] = quote("");
  EXPECT_EQ(refusal(sign("RS256", keys().rsa.get(), "rsa-1", claims), unset), Errc::kWrongIssuer);
}

TEST(JwtTest, WrongAudienceAsStringOrArray) {
  Fields claims = standard_claims();
  claims["aud"] = quote("account");
  EXPECT_EQ(refusal(sign("ES256", keys().ec256.get(), "ec-256", claims)), Errc::kWrongAudience);
  claims["aud"] = R"(["account","streamforge-api-2"])";
  EXPECT_EQ(refusal(sign("ES256", keys().ec256.get(), "ec-256", claims)), Errc::kWrongAudience);
  claims["aud"] = "[]";
  EXPECT_EQ(refusal(sign("ES256", keys().ec256.get(), "ec-256", claims)), Errc::kWrongAudience);
  claims.erase("aud");
  claims["azp"] = quote(kAudience);  // azp is not an audience
  EXPECT_EQ(refusal(sign("ES256", keys().ec256.get(), "ec-256", claims)), Errc::kWrongAudience);
  VerifyOptions unset = options();  // an unconfigured audience accepts nothing
  unset.audience.clear();
  claims["aud"] = R"([""])";
  EXPECT_EQ(refusal(sign("ES256", keys().ec256.get(), "ec-256", claims), unset),
            Errc::kWrongAudience);
  claims["aud"] = R"(["streamforge-api",7])";
  EXPECT_EQ(refusal(sign("ES256", keys().ec256.get(), "ec-256", claims)), Errc::kMalformed);
}

TEST(JwtTest, ClaimsOfTheWrongTypeAreMalformed) {
  for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"sub", "42"},
           {"iss", "{}"},
           {"nbf", R"("soon")"},
           {"iat", "[]"},
           {"scope", R"(["a"])"},
           {"scp", "[1]"},
           {"preferred_username", "false"},
           {"realm_access", "[]"},
           {"realm_access", R"({"roles":"admin"})"},
           {"resource_access", R"({"streamforge-api":{"roles":[null]}})"},
           {"resource_access", "1"},
       }) {
    Fields claims = standard_claims();
    claims[name] = value;
    EXPECT_EQ(refusal(sign("RS256", keys().rsa.get(), "rsa-1", claims)), Errc::kMalformed)
        << name << "=" << value;
  }
}

// --- signatures and keys ------------------------------------------------------------------------

TEST(JwtTest, SignatureByAnotherKeyWithTheSameKid) {
  EXPECT_EQ(refusal(sign("RS256", keys().rsa_other.get(), "rsa-1")), Errc::kBadSignature);
  const PkeyPtr other_ec = make_ec("P-256");
  EXPECT_EQ(refusal(sign("ES256", other_ec.get(), "ec-256")), Errc::kBadSignature);
  const PkeyPtr other_ed = make_ed25519();
  EXPECT_EQ(refusal(sign("EdDSA", other_ed.get(), "ed-1")), Errc::kBadSignature);
}

TEST(JwtTest, PayloadChangedAfterSigning) {
  for (const auto& [alg, key, kid] : {std::tuple{"RS256", keys().rsa.get(), "rsa-1"},
                                      std::tuple{"PS256", keys().rsa.get(), "rsa-1"},
                                      std::tuple{"ES256", keys().ec256.get(), "ec-256"},
                                      std::tuple{"EdDSA", keys().ed.get(), "ed-1"}}) {
    const std::string token = sign(alg, key, kid);
    Fields elevated = standard_claims();
    elevated["realm_access"] = R"({"roles":["admin"]})";
    const std::size_t dot1 = token.find('.');
    const std::size_t dot2 = token.rfind('.');
    const std::string forged =
        token.substr(0, dot1 + 1) + b64url(object_of(elevated)) + token.substr(dot2);
    EXPECT_EQ(refusal(forged), Errc::kBadSignature) << alg;
    // The signature of one algorithm does not pass for the other of the same key type.
    if (std::string_view(alg) == "RS256") {
      const std::string ps = sign("PS256", key, kid);
      const std::string mixed = token.substr(0, dot2) + ps.substr(ps.rfind('.'));
      EXPECT_EQ(refusal(mixed), Errc::kBadSignature);
    }
  }
}

TEST(JwtTest, SignatureOfTheWrongLengthIsBad) {
  const std::string token = sign("ES256", keys().ec256.get(), "ec-256");
  const std::string input = token.substr(0, token.rfind('.'));
  const std::string sig = raw_signature("ES256", keys().ec256.get(), input);
  EXPECT_TRUE(accepted(input + "." + b64url(sig)));
  EXPECT_EQ(refusal(input + "." + b64url(sig.substr(1))), Errc::kBadSignature);
  EXPECT_EQ(refusal(input + "." + b64url(sig + '\0')), Errc::kBadSignature);
  EXPECT_EQ(refusal(input + "."), Errc::kBadSignature);
  // DER, as OpenSSL would produce it, is not the JWS encoding.
  MdCtxPtr ctx(EVP_MD_CTX_new());
  ASSERT_EQ(EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, keys().ec256.get()), 1);
  std::string der(128, '\0');
  std::size_t size = der.size();
  ASSERT_EQ(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(der.data()), &size,
                           reinterpret_cast<const unsigned char*>(input.data()), input.size()),
            1);
  der.resize(size);
  EXPECT_EQ(refusal(input + "." + b64url(der)), Errc::kBadSignature);
}

TEST(JwtTest, PssSaltMustBeTheDigestLength) {
  const std::string token = sign("PS256", keys().rsa.get(), "rsa-1");
  const std::string input = token.substr(0, token.rfind('.'));
  for (const int salt : {0, 20, RSA_PSS_SALTLEN_MAX}) {
    const std::string sig = raw_signature("PS256", keys().rsa.get(), input, salt);
    EXPECT_EQ(refusal(input + "." + b64url(sig)), Errc::kBadSignature) << salt;
  }
  EXPECT_TRUE(accepted(input + "." + b64url(raw_signature("PS256", keys().rsa.get(), input, 32))));
}

TEST(JwtTest, AlgNoneIsRefusedEvenWhenListed) {
  VerifyOptions o = options();
  o.algorithms.push_back("none");
  const std::string header = b64url(R"({"alg":"none","kid":"rsa-1"})");
  const std::string payload = b64url(object_of(standard_claims()));
  EXPECT_EQ(refusal(header + "." + payload + ".", o), Errc::kUnsupportedAlgorithm);
  EXPECT_EQ(refusal(b64url(R"({"alg":"None"})") + "." + payload + ".", o),
            Errc::kUnsupportedAlgorithm);
}

TEST(JwtTest, Hs256WithThePublicKeyAsSecretIsRefused) {
  // The key confusion attack: HMAC keyed with the RSA public key that the attacker can fetch.
  BioPtr bio(BIO_new(BIO_s_mem()));
  ASSERT_EQ(PEM_write_bio_PUBKEY(bio.get(), keys().rsa.get()), 1);
  char* pem = nullptr;
  const long pem_size = BIO_get_mem_data(bio.get(), &pem);
  const std::string input = b64url(R"({"alg":"HS256","typ":"JWT","kid":"rsa-1"})") + "." +
                            b64url(object_of(standard_claims()));
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_size = 0;
  ASSERT_NE(
      HMAC(EVP_sha256(), pem, static_cast<int>(pem_size),
           reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &mac_size),
      nullptr);
  const std::string token =
      input + "." + b64url(std::string_view(reinterpret_cast<char*>(mac), mac_size));
  VerifyOptions o = options();
  o.algorithms.push_back("HS256");
  EXPECT_EQ(refusal(token, o), Errc::kUnsupportedAlgorithm);
  EXPECT_EQ(refusal(token), Errc::kUnsupportedAlgorithm);
}

TEST(JwtTest, AlgorithmOutsideTheAllowedListIsRefused) {
  VerifyOptions o = options();
  o.algorithms = {"ES256"};
  EXPECT_EQ(refusal(sign("RS256", keys().rsa.get(), "rsa-1"), o), Errc::kUnsupportedAlgorithm);
  EXPECT_TRUE(accepted(sign("ES256", keys().ec256.get(), "ec-256"), o));
  o.algorithms.clear();
  EXPECT_EQ(refusal(sign("ES256", keys().ec256.get(), "ec-256"), o), Errc::kUnsupportedAlgorithm);
}

TEST(JwtTest, KeyOfAnotherTypeOrAlgorithmIsRefused) {
  // RS256 header naming the EC key: whatever the signature, the key cannot verify RS256.
  EXPECT_EQ(refusal(sign("RS256", keys().rsa.get(), "ec-256")), Errc::kUnknownKey);
  EXPECT_EQ(refusal(sign("ES384", keys().ec384.get(), "ec-256")), Errc::kUnknownKey);
  EXPECT_EQ(refusal(sign("EdDSA", keys().ed.get(), "rsa-1")), Errc::kUnknownKey);
  // A JWK that names its "alg" verifies that one only.
  EXPECT_TRUE(accepted(sign("RS256", keys().rsa.get(), "rsa-rs256-only")));
  EXPECT_EQ(refusal(sign("PS256", keys().rsa.get(), "rsa-rs256-only")), Errc::kUnknownKey);
  // The encryption key was skipped.
  EXPECT_EQ(refusal(sign("RS256", keys().rsa_encryption.get(), "rsa-enc")), Errc::kUnknownKey);
}

TEST(JwtTest, UnknownKidAndKidlessTokens) {
  EXPECT_EQ(refusal(sign("RS256", keys().rsa.get(), "rsa-2")), Errc::kUnknownKey);
  // Without a kid: fine when exactly one key fits the algorithm, refused when several do.
  EXPECT_TRUE(accepted(sign("EdDSA", keys().ed.get(), "")));
  EXPECT_TRUE(accepted(sign("ES256", keys().ec256.get(), "")));
  EXPECT_EQ(refusal(sign("RS256", keys().rsa.get(), "")), Errc::kUnknownKey);
  const auto single = parse_or_die(jwks_of({rsa_jwk(keys().rsa.get(), "only")}));
  EXPECT_TRUE(verify(sign("RS256", keys().rsa.get(), ""), *single, options()).ok());
}

TEST(JwtTest, RepeatedKidTriesEachKey) {
  const auto rotated =
      parse_or_die(jwks_of({rsa_jwk(keys().rsa_other.get(), "k"), rsa_jwk(keys().rsa.get(), "k")}));
  EXPECT_TRUE(verify(sign("RS256", keys().rsa.get(), "k"), *rotated, options()).ok());
  EXPECT_TRUE(verify(sign("RS256", keys().rsa_other.get(), "k"), *rotated, options()).ok());
}

TEST(JwtTest, KeysInTheHeaderAreNeverTrusted) {
  // An attacker signs with their own key and ships it in "jwk" (and points "jku"/"x5u" away).
  const PkeyPtr attacker = make_rsa();
  Fields header{{"alg", quote("RS256")},
                {"kid", quote("rsa-1")},
                {"jwk", rsa_jwk(attacker.get(), "rsa-1")},
                {"jku", quote("https://evil.example/jwks")},
                {"x5u", quote("https://evil.example/cert")}};
  EXPECT_EQ(
      refusal(sign_json("RS256", attacker.get(), object_of(header), object_of(standard_claims()))),
      Errc::kBadSignature);
  header["kid"] = quote("attacker");
  EXPECT_EQ(
      refusal(sign_json("RS256", attacker.get(), object_of(header), object_of(standard_claims()))),
      Errc::kUnknownKey);
}

TEST(JwtTest, CriticalHeaderIsRefused) {
  const std::string token = sign_json("RS256", keys().rsa.get(),
                                      R"({"alg":"RS256","kid":"rsa-1","crit":["b64"],"b64":false})",
                                      object_of(standard_claims()));
  EXPECT_EQ(refusal(token), Errc::kMalformed);
}

// --- malformed tokens ---------------------------------------------------------------------------

TEST(JwtTest, MalformedTokens) {
  const std::string good = sign("RS256", keys().rsa.get(), "rsa-1");
  const std::size_t dot1 = good.find('.');
  const std::size_t dot2 = good.rfind('.');
  const std::string header = good.substr(0, dot1);
  const std::string payload = good.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string signature = good.substr(dot2 + 1);
  ASSERT_TRUE(accepted(good));

  std::vector<std::string> cases = {
      "",
      ".",
      "..",
      header + "." + payload,
      header + "." + payload + "." + signature + "." + signature,
      header + "." + payload + "." + signature + ".",
      "*" + header + "." + payload + "." + signature,
      header + "." + payload + "*." + signature,
      header + "." + payload + "." + signature + "*",
      header + "." + payload + "." + signature + "=",
      header + "." + payload + "." + signature.substr(1),  // length % 4 == 1 or bad bits
      header + "." + payload + "." + std::string(signature.size(), '+'),
      b64url("not json") + "." + payload + "." + signature,
      b64url(R"(["RS256"])") + "." + payload + "." + signature,
      b64url(R"({"alg":"RS256")") + "." + payload + "." + signature,
      b64url(R"({"alg":256,"kid":"rsa-1"})") + "." + payload + "." + signature,
      b64url(R"({"kid":"rsa-1"})") + "." + payload + "." + signature,
      b64url(R"({"alg":"RS256","kid":1})") + "." + payload + "." + signature,
      b64url(std::string("{\"alg\":\"RS256\xff\"}")) + "." + payload + "." + signature,
      std::string(20 * 1024, 'A') + "." + payload + "." + signature,
      header + "." + payload + "." + signature + std::string(20 * 1024, 'A'),
  };
  std::string padded_header = header;
  while (padded_header.size() % 4 != 0) padded_header += '=';
  if (padded_header != header) cases.push_back(padded_header + "." + payload + "." + signature);
  for (const std::string& token : cases) {
    EXPECT_EQ(refusal(token), Errc::kMalformed) << token.substr(0, 200);
  }
  // Base64url proper: standard-alphabet characters are not accepted.
  std::string standard = good;
  for (char& c : standard) c = c == '-' ? '+' : c == '_' ? '/' : c;
  if (standard != good) {
    EXPECT_EQ(refusal(standard), Errc::kMalformed);
  }
}

TEST(JwtTest, NonCanonicalBase64IsMalformed) {
  // A 2048-bit signature is 256 bytes: its last character carries 4 unused bits.
  const std::string good = sign("RS256", keys().rsa.get(), "rsa-1");
  std::string altered = good;
  const char last = altered.back();
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  altered.back() = alphabet[alphabet.find(last) | 1];
  ASSERT_NE(altered, good);
  EXPECT_EQ(refusal(altered), Errc::kMalformed);
}

TEST(JwtTest, PayloadThatIsNotAnObjectIsMalformed) {
  for (const char* payload : {"[1,2,3]", "\"claims\"", "42", "null", "{", ""}) {
    const std::string token =
        sign_json("RS256", keys().rsa.get(), R"({"alg":"RS256","kid":"rsa-1"})", payload);
    EXPECT_EQ(refusal(token), Errc::kMalformed) << payload;
  }
}

TEST(JwtTest, ErrorsNeverEchoTheToken) {
  const std::string marker = "MARKER<script>";
  Fields claims = standard_claims();
  claims["iss"] = quote(marker);
  const std::vector<std::string> tokens = {
      sign("RS256", keys().rsa.get(), marker),
      sign("RS256", keys().rsa.get(), "rsa-1", claims),
      sign_json("RS256", keys().rsa.get(), R"({"alg":")" + marker + "\"}", "{}"),
      marker,
  };
  for (const std::string& token : tokens) {
    const auto result = verify(token, *keys().jwks, options());
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().message.find("MARKER"), std::string::npos) << result.error().message;
    EXPECT_FALSE(result.error().message.empty());
  }
}

TEST(JwtTest, LeavesTheOpenSslErrorQueueEmpty) {
  ERR_clear_error();
  EXPECT_FALSE(verifies(sign("RS256", keys().rsa_other.get(), "rsa-1")));
  const PkeyPtr other_ec = make_ec("P-256");
  EXPECT_FALSE(verifies(sign("ES256", other_ec.get(), "ec-256")));
  const std::string zero_sig = sign("ES256", other_ec.get(), "ec-256");
  EXPECT_FALSE(
      verifies(zero_sig.substr(0, zero_sig.rfind('.') + 1) + b64url(std::string(64, '\0'))));
  EXPECT_FALSE(parse_jwks(R"({"keys":[{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}]})").ok());
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(JwtTest, ErrcNames) {
  EXPECT_STREQ(to_string(Errc::kMalformed), "malformed");
  EXPECT_STREQ(to_string(Errc::kUnsupportedAlgorithm), "unsupported_algorithm");
  EXPECT_STREQ(to_string(Errc::kUnknownKey), "unknown_key");
  EXPECT_STREQ(to_string(Errc::kBadSignature), "bad_signature");
  EXPECT_STREQ(to_string(Errc::kExpired), "expired");
  EXPECT_STREQ(to_string(Errc::kNotYetValid), "not_yet_valid");
  EXPECT_STREQ(to_string(Errc::kWrongIssuer), "wrong_issuer");
  EXPECT_STREQ(to_string(Errc::kWrongAudience), "wrong_audience");
}

// --- JWKS ---------------------------------------------------------------------------------------

TEST(JwksTest, SkipsKeysItCannotUse) {
  const TestKeys& k = keys();
  const PkeyPtr small_rsa(EVP_RSA_gen(1024));
  const PkeyPtr ed448(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED448"));
  std::string ed448_x(57, '\0');
  std::size_t ed448_size = ed448_x.size();
  ASSERT_EQ(EVP_PKEY_get_raw_public_key(
                ed448.get(), reinterpret_cast<unsigned char*>(ed448_x.data()), &ed448_size),
            1);
  const auto parsed = parse_jwks(jwks_of({
      rsa_jwk(k.rsa.get(), "enc", R"(,"use":"enc")"),
      rsa_jwk(k.rsa.get(), "ops-encrypt", R"(,"key_ops":["encrypt"])"),
      rsa_jwk(k.rsa.get(), "ops-verify", R"(,"key_ops":["verify"])"),
      rsa_jwk(k.rsa.get(), "oaep", R"(,"alg":"RSA-OAEP")"),
      rsa_jwk(k.rsa.get(), "hs", R"(,"alg":"HS256")"),
      rsa_jwk(k.rsa.get(), "rsa-as-es", R"(,"alg":"ES256")"),
      rsa_jwk(small_rsa.get(), "small"),
      R"({"kty":"oct","kid":"secret","k":"c2VjcmV0"})",
      R"({"kty":"RSA","kid":"no-n","e":"AQAB"})",
      R"({"kty":"RSA","kid":"e-one","n":")" + b64url(std::string(256, '\xff')) + R"(","e":"AQ"})",
      R"({"kty":"RSA","kid":"bad-b64","n":"!!!!","e":"AQAB"})",
      R"({"kid":"no-kty"})",
      R"({"kty":7})",
      R"("not an object")",
      R"({"kty":"EC","kid":"ec-unknown-curve","crv":"P-192","x":"AAAA","y":"AAAA"})",
      R"({"kty":"EC","kid":"ec-off-curve","crv":"P-256","x":")" + b64url(std::string(32, '\1')) +
          R"(","y":")" + b64url(std::string(32, '\2')) + R"("})",
      ec_jwk(k.ec256.get(), "ec-wrong-crv", "P-384", 32),
      R"({"kty":"OKP","kid":"ed448","crv":"Ed448","x":")" + b64url(ed448_x) + R"("})",
      R"({"kty":"OKP","kid":"ed-short","crv":"Ed25519","x":"AAAA"})",
      ed25519_jwk(k.ed.get(), "ed-use-number", R"(,"use":1)"),
      ec_jwk(k.ec256.get(), "ec-good", "P-256", 32, R"(,"use":"sig","alg":"ES256")"),
  }));
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  std::vector<std::string> kids;
  for (const Jwk& jwk : (*parsed)->keys) kids.push_back(jwk.kid);
  EXPECT_EQ(kids, (std::vector<std::string>{"ops-verify", "ec-good"}));
  EXPECT_EQ((*parsed)->keys[1].kty, "EC");
  EXPECT_EQ((*parsed)->keys[1].crv, "P-256");
  EXPECT_EQ((*parsed)->keys[1].alg, "ES256");
}

TEST(JwksTest, ToleratesPaddingAndShortCoordinates) {
  // Leading zero bytes of a coordinate dropped, and '=' padding: both unambiguous.
  // About one key in 256 has a short x; 6000 tries all failing is below 1e-9.
  for (int attempt = 0; attempt < 6000; ++attempt) {
    const PkeyPtr ec = make_ec("P-256");
    const BnPtr x = bn_param(ec.get(), OSSL_PKEY_PARAM_EC_PUB_X);
    if (BN_num_bytes(x.get()) == 32) continue;
    const std::string jwk =
        R"({"kty":"EC","kid":"short","crv":"P-256","x":")" + bn_b64(x.get()) + R"(==","y":")" +
        bn_b64(bn_param(ec.get(), OSSL_PKEY_PARAM_EC_PUB_Y).get(), 32) + R"("})";
    const auto parsed = parse_jwks(jwks_of({jwk}));
    ASSERT_TRUE(parsed.ok()) << parsed.error();
    EXPECT_TRUE(verify(sign("ES256", ec.get(), "short"), **parsed, options()).ok());
    return;
  }
  FAIL() << "no P-256 key with a short x coordinate in 6000 tries";
}

TEST(JwksTest, ErrorsOnUnusableDocuments) {
  for (const std::string& doc : std::vector<std::string>{
           "",
           "not json",
           "{",
           "[]",
           "{}",
           R"({"keys":{}})",
           R"({"keys":[]})",
           R"({"keys":[{"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB"}]})",
           jwks_of({rsa_jwk(keys().rsa.get(), "enc", R"(,"use":"enc")")}),
           std::string(1024 * 1024 + 1, ' '),
       }) {
    const auto parsed = parse_jwks(doc);
    EXPECT_FALSE(parsed.ok()) << doc.substr(0, 100);
    if (!parsed.ok()) {
      EXPECT_FALSE(parsed.error().empty());
    }
  }
}

// --- robustness ---------------------------------------------------------------------------------

// Flips one to three bytes (xor with a non-zero value), or truncates.
std::string mangle(const std::string& text, std::mt19937& rng) {
  std::string out = text;
  if (rng() % 4 == 0) {
    out.resize(rng() % out.size());
    return out;
  }
  const int flips = 1 + static_cast<int>(rng() % 3);
  for (int i = 0; i < flips; ++i) {
    out[rng() % out.size()] ^= static_cast<char>(1 + rng() % 255);
  }
  return out;
}

struct FuzzCase {
  const char* alg;
  EVP_PKEY* key;
  std::string jwk;  // the only key of its set, no whitespace: any change matters
};

std::vector<FuzzCase> fuzz_cases() {
  const TestKeys& k = keys();
  return {{"RS256", k.rsa.get(), rsa_jwk(k.rsa.get(), "k1")},
          {"ES256", k.ec256.get(), ec_jwk(k.ec256.get(), "k1", "P-256", 32)},
          {"EdDSA", k.ed.get(), ed25519_jwk(k.ed.get(), "k1")}};
}

TEST(JwtRobustnessTest, MangledTokensNeverVerify) {
  std::mt19937 rng(20240611);
  for (const FuzzCase& c : fuzz_cases()) {
    const auto jwks = parse_or_die(jwks_of({c.jwk}));
    Fields claims = standard_claims();
    claims["scope"] = quote("openid md:read");
    claims["realm_access"] = R"({"roles":["trader"]})";
    const std::string token = sign(c.alg, c.key, "k1", claims);
    ASSERT_TRUE(verify(token, *jwks, options()).ok()) << c.alg;
    int verified = 0;
    for (int i = 0; i < 5000; ++i) {
      const std::string variant = mangle(token, rng);
      if (variant == token) continue;
      if (verify(variant, *jwks, options()).ok()) {
        ++verified;
        ADD_FAILURE() << c.alg << " variant verified: " << variant;
      }
    }
    EXPECT_EQ(verified, 0) << c.alg;
  }
}

TEST(JwtRobustnessTest, MangledKeySetsNeverVerify) {
  std::mt19937 rng(7);
  for (const FuzzCase& c : fuzz_cases()) {
    const std::string doc = jwks_of({c.jwk});
    const std::string token = sign(c.alg, c.key, "k1");
    ASSERT_TRUE(verify(token, *parse_or_die(doc), options()).ok()) << c.alg;
    int parsed = 0;
    for (int i = 0; i < 5000; ++i) {
      const std::string variant = mangle(doc, rng);
      if (variant == doc) continue;
      const auto jwks = parse_jwks(variant);
      if (!jwks.ok()) continue;
      ++parsed;
      EXPECT_FALSE(verify(token, **jwks, options()).ok()) << c.alg << ": " << variant;
    }
    // Some mangled documents still parse (another kid, modulus or point): the check above is
    // not vacuous.
    EXPECT_GT(parsed, 0) << c.alg;
  }
}

TEST(JwtRobustnessTest, RandomBytesNeverCrash) {
  std::mt19937 rng(99);
  using namespace std::string_literals;
  const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ {}\"\0\xff"s;
  for (int i = 0; i < 5000; ++i) {
    std::string text(rng() % 300, '\0');
    for (char& c : text) c = alphabet[rng() % alphabet.size()];
    EXPECT_FALSE(verifies(text));
    EXPECT_FALSE(parse_jwks(text).ok());
    // Well-formed segments around random JSON-ish bytes reach the parsers behind the decoder.
    const std::string token = b64url(text) + "." + b64url(text) + "." + b64url(text);
    EXPECT_FALSE(verifies(token));
  }
}

}  // namespace
}  // namespace sf::runtime::jwt
