// JWT test helpers: keys made at test time, their JWKs, and tokens signed with them (OpenSSL API,
// nothing on disk). Shared by jwt_test.cc and api_auth_test.cc.
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "runtime/jwt.h"

namespace sf::runtime::jwt::testing {

using jwt::PkeyPtr;

template <auto F>
struct Deleter {
  template <class T>
  void operator()(T* p) const noexcept {
    F(p);
  }
};
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free>>;

inline void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("OpenSSL failed: ") + what);
}

inline std::string b64url(std::string_view data) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (const unsigned char c : data) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 63]);
  return out;
}

inline std::string quote(std::string_view text) {
  return "\"" + std::string(text) + "\"";
}

// --- keys and JWKs ------------------------------------------------------------------------------

inline PkeyPtr make_rsa() {
  return PkeyPtr(EVP_RSA_gen(2048));
}
inline PkeyPtr make_ec(const char* curve) {
  return PkeyPtr(EVP_EC_gen(curve));
}
inline PkeyPtr make_ed25519() {
  return PkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
}

inline std::string bn_b64(const BIGNUM* bn, int size = 0) {
  std::string out(static_cast<std::size_t>(size > 0 ? size : BN_num_bytes(bn)), '\0');
  check(BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()),
                     static_cast<int>(out.size())) >= 0,
        "BN_bn2binpad");
  return b64url(out);
}

inline BnPtr bn_param(EVP_PKEY* key, const char* name) {
  BIGNUM* bn = nullptr;
  check(EVP_PKEY_get_bn_param(key, name, &bn) == 1, name);
  return BnPtr(bn);
}

// `extra` is inserted verbatim as more members (",\"alg\":\"RS256\"").
inline std::string rsa_jwk(EVP_PKEY* key, const std::string& kid, const std::string& extra = "") {
  return R"({"kty":"RSA","kid":")" + kid + R"(","n":")" +
         bn_b64(bn_param(key, OSSL_PKEY_PARAM_RSA_N).get()) + R"(","e":")" +
         bn_b64(bn_param(key, OSSL_PKEY_PARAM_RSA_E).get()) + "\"" + extra + "}";
}

inline std::string ec_jwk(EVP_PKEY* key, const std::string& kid, const std::string& crv,
                          int coordinate, const std::string& extra = "") {
  return R"({"kty":"EC","kid":")" + kid + R"(","crv":")" + crv + R"(","x":")" +
         bn_b64(bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X).get(), coordinate) + R"(","y":")" +
         bn_b64(bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y).get(), coordinate) + "\"" + extra + "}";
}

inline std::string ed25519_jwk(EVP_PKEY* key, const std::string& kid,
                               const std::string& extra = "") {
  std::string raw(32, '\0');
  std::size_t size = raw.size();
  check(
      EVP_PKEY_get_raw_public_key(key, reinterpret_cast<unsigned char*>(raw.data()), &size) == 1 &&
          size == 32,
      "EVP_PKEY_get_raw_public_key");
  return R"({"kty":"OKP","kid":")" + kid + R"(","crv":"Ed25519","x":")" + b64url(raw) + "\"" +
         extra + "}";
}

inline std::string jwks_of(std::initializer_list<std::string> keys) {
  std::string out = R"({"keys":[)";
  for (const std::string& key : keys) {
    if (out.back() != '[') out += ',';
    out += key;
  }
  return out + "]}";
}

inline std::shared_ptr<const Jwks> parse_or_die(const std::string& json) {
  auto parsed = parse_jwks(json);
  if (!parsed) throw std::runtime_error("parse_jwks: " + parsed.error());
  return *parsed;
}

// --- signing ------------------------------------------------------------------------------------

inline const EVP_MD* digest_for(std::string_view alg) {
  if (alg.ends_with("256")) return EVP_sha256();
  if (alg.ends_with("384")) return EVP_sha384();
  if (alg.ends_with("512")) return EVP_sha512();
  return nullptr;  // EdDSA
}

inline std::string raw_signature(std::string_view alg, EVP_PKEY* key, std::string_view input,
                                 int pss_salt_length = RSA_PSS_SALTLEN_DIGEST) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  check(ctx && EVP_DigestSignInit(ctx.get(), &pctx, digest_for(alg), nullptr, key) == 1,
        "EVP_DigestSignInit");
  if (alg.starts_with("PS")) {
    check(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
              EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, pss_salt_length) > 0 &&
              EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, digest_for(alg)) > 0,
          "PSS parameters");
  }
  const auto* data = reinterpret_cast<const unsigned char*>(input.data());
  std::size_t size = 0;
  check(EVP_DigestSign(ctx.get(), nullptr, &size, data, input.size()) == 1, "EVP_DigestSign");
  std::string sig(size, '\0');
  check(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &size, data,
                       input.size()) == 1,
        "EVP_DigestSign");
  sig.resize(size);
  if (!alg.starts_with("ES")) return sig;
  // JWS wants R||S, each as long as a coordinate, where OpenSSL gives DER.
  const int coordinate = alg == "ES256" ? 32 : alg == "ES384" ? 48 : 66;
  const auto* der = reinterpret_cast<const unsigned char*>(sig.data());
  EcdsaSigPtr ecdsa(d2i_ECDSA_SIG(nullptr, &der, static_cast<long>(sig.size())));
  check(ecdsa != nullptr, "d2i_ECDSA_SIG");
  std::string raw(2 * static_cast<std::size_t>(coordinate), '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  check(BN_bn2binpad(ECDSA_SIG_get0_r(ecdsa.get()), out, coordinate) == coordinate &&
            BN_bn2binpad(ECDSA_SIG_get0_s(ecdsa.get()), out + coordinate, coordinate) == coordinate,
        "BN_bn2binpad");
  return raw;
}

// "header.payload" signed with `alg`, header and payload given as JSON text.
inline std::string sign_json(std::string_view alg, EVP_PKEY* key, const std::string& header,
                             const std::string& payload) {
  const std::string input = b64url(header) + "." + b64url(payload);
  return input + "." + b64url(raw_signature(alg, key, input));
}

}  // namespace sf::runtime::jwt::testing
