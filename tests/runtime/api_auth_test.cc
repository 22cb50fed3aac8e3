// The API server's security (runtime/api_auth.h, docs/security.md) on a real HttpServer: static
// tokens with scopes (clear or hashed, a rotated file), OIDC access tokens checked against the
// issuer's JWKS (fetched through its discovery document from a local stand-in for Keycloak, or
// read from a file): expired, wrong-audience, wrongly signed or foreign tokens get 401, missing
// scopes 403; and TLS: trusted clients work, untrusted ones fail, mutual TLS wants a client
// certificate.
#include "runtime/api_auth.h"

// GCC 12 reports a false -Wrestrict on std::string concatenation at -O3 (GCC bug 105329).
#pragma GCC diagnostic ignored "-Wrestrict"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "jwt_test_support.h"
#include "runtime/http_client.h"
#include "tls_test_support.h"

namespace sf::runtime {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using jwt::testing::PkeyPtr;

constexpr char kAudience[] = "streamforge-api";

std::string temp_file(const std::string& name, const std::string& content) {
  const fs::path p =
      fs::temp_directory_path() / ("sf_auth_" + std::to_string(::getpid()) + "_" + name);
  std::ofstream(p) << content;
  return p.string();
}

Config parse(std::vector<std::string> args) {
  ConfigParser parser("test");
  add_api_security_options(parser);
  auto c = parser.parse(args, [](const std::string&) { return std::nullopt; });
  EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error());
  return *c;
}

// A server with one route per access level, secured by `args` (the options' flags).
struct SecuredServer {
  std::unique_ptr<HttpServer> server;
  std::string error;

  explicit SecuredServer(std::vector<std::string> args) {
    HttpServerOptions o;
    if (auto r = apply_api_security(parse(std::move(args)), o); !r) {
      error = r.error();
      return;
    }
    server = std::make_unique<HttpServer>(o);
    auto who = [](const HttpRequest& r) {
      return HttpResponse::json(200, "{\"caller\":\"" + r.caller.name + "\",\"access\":\"" +
                                         to_string(r.caller.access) + "\"}");
    };
    server->route("GET", "/read", who);
    server->route("POST", "/operate", who);
    server->route("POST", "/admin", who, Access::kAdmin);
    if (auto r = server->start(); !r) error = r.error();
  }

  int status(const std::string& method, const std::string& path, const std::string& token) {
    HttpHeaders h;
    if (!token.empty()) h.set("Authorization", "Bearer " + token);
    auto r = http_request(method, server->base_url() + path, "", h, 10s);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error());
    return r.ok() ? r->status : -1;
  }
};

TEST(ApiAuth, NoCredentialsMeansLoopbackOnly) {
  HttpServerOptions o;
  o.bind_address = "0.0.0.0";
  auto refused = apply_api_security(parse({}), o);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().find("without credentials"), std::string::npos);
  SecuredServer local({});
  ASSERT_TRUE(local.error.empty()) << local.error;
  EXPECT_EQ(local.status("POST", "/admin", ""), 200);  // the local user is admin
  // Too short a token is a configuration error, not a weak deployment.
  HttpServerOptions weak;
  EXPECT_FALSE(apply_api_security(parse({"--sf-api-token", "short"}), weak).ok());
}

TEST(ApiAuth, StaticTokensGrantTheirScopeAndTheFileIsReadAgainWhenItChanges) {
  const std::string file = temp_file("tokens",
                                     "reader-token-0123456789 read r\n"
                                     "operator-token-0123456789 operate o\n");
  SecuredServer s({"--sf-api-token", "the-admin-token-0123456789", "--sf-api-tokens-file", file});
  ASSERT_TRUE(s.error.empty()) << s.error;
  EXPECT_EQ(s.status("GET", "/read", ""), 401);
  EXPECT_EQ(s.status("GET", "/read", "nope-nope-nope-nope"), 401);
  EXPECT_EQ(s.status("GET", "/read", "reader-token-0123456789"), 200);
  EXPECT_EQ(s.status("POST", "/operate", "reader-token-0123456789"), 403);
  EXPECT_EQ(s.status("POST", "/operate", "operator-token-0123456789"), 200);
  EXPECT_EQ(s.status("POST", "/admin", "operator-token-0123456789"), 403);
  EXPECT_EQ(s.status("POST", "/admin", "the-admin-token-0123456789"), 200);
  EXPECT_EQ(s.status("GET", "/health/live", ""), 200);
  // Rotation: the reader token is revoked, a new one added; no restart.
  std::this_thread::sleep_for(20ms);
  std::ofstream(file) << "new-reader-token-0123456789 read r2\n";
  EXPECT_EQ(s.status("GET", "/read", "reader-token-0123456789"), 401);
  EXPECT_EQ(s.status("GET", "/read", "new-reader-token-0123456789"), 200);
  // Fail closed: a file that no longer parses, or is gone, revokes what it held.
  std::this_thread::sleep_for(20ms);
  std::ofstream(file) << "new-reader-token-0123456789 superuser r2\n";
  EXPECT_EQ(s.status("GET", "/read", "new-reader-token-0123456789"), 401);
  std::ofstream(file) << "new-reader-token-0123456789 read r2\n";
  EXPECT_EQ(s.status("GET", "/read", "new-reader-token-0123456789"), 200);
  fs::remove(file);
  EXPECT_EQ(s.status("GET", "/read", "new-reader-token-0123456789"), 401);
  EXPECT_EQ(s.status("POST", "/admin", "the-admin-token-0123456789"), 200);  // not from the file
  // A token in the URL counts only on a WebSocket route, not on /read (even with Upgrade).
  HttpHeaders upgrade;
  upgrade.set("Upgrade", "websocket");
  auto in_url =
      http_request("GET", s.server->base_url() + "/read?access_token=the-admin-token-0123456789",
                   "", upgrade, 10s);
  ASSERT_TRUE(in_url.ok());
  EXPECT_EQ(in_url->status, 401);
  // A bad line names its line and never the token.
  const std::string bad =
      temp_file("bad", "ok-token-0123456789 read\nsecret-token-0123456789 root\n");
  HttpServerOptions o;
  auto r = apply_api_security(parse({"--sf-api-tokens-file", bad}), o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("line 2"), std::string::npos) << r.error();
  EXPECT_EQ(r.error().find("secret-token"), std::string::npos) << r.error();
  fs::remove(bad);
}

// ---- OIDC -------------------------------------------------------------------------------------

struct Issuer {
  PkeyPtr key = jwt::testing::make_rsa();
  PkeyPtr other = jwt::testing::make_rsa();  // not in the JWKS
  std::unique_ptr<HttpServer> server;        // discovery document and JWKS, as Keycloak serves them
  std::string url;
  std::atomic<int> jwks_fetches{0};

  Issuer() {
    server = std::make_unique<HttpServer>(HttpServerOptions{});
    server->route("GET", "/realms/sf/.well-known/openid-configuration", [this](const auto&) {
      return HttpResponse::json(200, R"({"issuer":")" + url + R"(","jwks_uri":")" + url +
                                         R"(/protocol/openid-connect/certs"})");
    });
    server->route("GET", "/realms/sf/protocol/openid-connect/certs", [this](const auto&) {
      ++jwks_fetches;
      return HttpResponse::json(200, jwks());
    });
    EXPECT_TRUE(server->start().ok());
    url = server->base_url() + "/realms/sf";
  }
  std::string jwks() const {
    return jwt::testing::jwks_of({jwt::testing::rsa_jwk(key.get(), "k1")});
  }

  // A token with `claims` members (raw JSON) on top of valid iss/aud/exp/sub.
  std::string token(const std::string& claims, EVP_PKEY* signer = nullptr,
                    std::int64_t exp_offset = 300, const std::string& aud = kAudience) const {
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    const std::string payload = R"({"iss":")" + url + R"(","aud":")" + aud +
                                R"(","sub":"u-1","preferred_username":"alice","exp":)" +
                                std::to_string(now + exp_offset) + (claims.empty() ? "" : ",") +
                                claims + "}";
    return jwt::testing::sign_json("RS256", signer ? signer : key.get(),
                                   R"({"alg":"RS256","typ":"JWT","kid":"k1"})", payload);
  }
};

TEST(ApiAuth, OidcTokensFromTheIssuerAreAcceptedWithTheirScopesAndBadOnesAre401) {
  Issuer issuer;
  SecuredServer s(
      {"--sf-oidc-issuer", issuer.url, "--sf-oidc-audience", kAudience, "--sf-oidc-leeway", "5"});
  ASSERT_TRUE(s.error.empty()) << s.error;
  EXPECT_EQ(issuer.jwks_fetches.load(), 1);  // through discovery, at startup
  // Scopes from the scope claim, Keycloak realm roles and client roles.
  EXPECT_EQ(s.status("GET", "/read", issuer.token(R"("scope":"openid streamforge:read")")), 200);
  EXPECT_EQ(s.status("POST", "/operate", issuer.token(R"("scope":"openid streamforge:read")")),
            403);
  EXPECT_EQ(s.status("POST", "/operate",
                     issuer.token(R"("realm_access":{"roles":["streamforge:operate"]})")),
            200);
  EXPECT_EQ(s.status("POST", "/admin",
                     issuer.token(std::string(R"("resource_access":{")") + kAudience +
                                  R"(":{"roles":["streamforge:admin"]}})")),
            200);
  EXPECT_EQ(s.status("GET", "/read", issuer.token("")), 403);  // valid, but no scope at all
  // Expired (beyond the 5 s leeway), for another audience, signed by another key, tampered.
  EXPECT_EQ(s.status("GET", "/read", issuer.token(R"("scope":"streamforge:read")", nullptr, -60)),
            401);
  EXPECT_EQ(s.status("GET", "/read",
                     issuer.token(R"("scope":"streamforge:read")", nullptr, 300, "other-api")),
            401);
  EXPECT_EQ(
      s.status("GET", "/read", issuer.token(R"("scope":"streamforge:read")", issuer.other.get())),
      401);
  std::string tampered = issuer.token(R"("scope":"streamforge:read")");
  tampered[tampered.find('.') + 5] ^= 1;
  EXPECT_EQ(s.status("GET", "/read", tampered), 401);
  // An unsigned token ("alg":"none") never passes.
  const std::string none =
      jwt::testing::b64url(R"({"alg":"none"})") + "." +
      jwt::testing::b64url(
          R"({"iss":")" + issuer.url +
          R"(","aud":"streamforge-api","exp":9999999999,"scope":"streamforge:admin"})") +
      ".";
  EXPECT_EQ(s.status("POST", "/admin", none), 401);
  // A token naming an unknown kid triggers one refetch (a rotation at the issuer), not a flood.
  const int before = issuer.jwks_fetches.load();
  for (int i = 0; i < 5; ++i) {
    const auto foreign = jwt::testing::sign_json(
        "RS256", issuer.other.get(), R"({"alg":"RS256","kid":"k9"})",
        R"({"iss":")" + issuer.url + R"(","aud":"streamforge-api","exp":9999999999})");
    EXPECT_EQ(s.status("GET", "/read", foreign), 401);
  }
  EXPECT_LE(issuer.jwks_fetches.load() - before, 1);
}

TEST(ApiAuth, AJwksFileWorksOfflineAndAMissingOneIsAStartupError) {
  Issuer issuer;
  const std::string jwks = temp_file("jwks.json", issuer.jwks());
  SecuredServer s({"--sf-oidc-issuer", issuer.url, "--sf-oidc-audience", kAudience,
                   "--sf-oidc-jwks-file", jwks});
  ASSERT_TRUE(s.error.empty()) << s.error;
  issuer.server->stop();  // the file is all it needs
  EXPECT_EQ(s.status("GET", "/read", issuer.token(R"("scp":["streamforge:read"])")), 200);
  HttpServerOptions o;
  EXPECT_FALSE(apply_api_security(parse({"--sf-oidc-issuer", issuer.url, "--sf-oidc-audience",
                                         kAudience, "--sf-oidc-jwks-file", "/nonexistent.json"}),
                                  o)
                   .ok());
  HttpServerOptions no_audience;
  EXPECT_FALSE(apply_api_security(parse({"--sf-oidc-issuer", issuer.url}), no_audience).ok());
  fs::remove(jwks);
}

// ---- TLS --------------------------------------------------------------------------------------

namespace net = boost::asio;
namespace beast = boost::beast;

// GET `target` over TLS with an optional client certificate; the status, or the error.
Result<int, std::string> tls_get(std::uint16_t port, const std::string& ca_pem,
                                 const testing::KeyAndCert* client, const std::string& target) {
  try {
    net::io_context io;
    net::ssl::context ctx(net::ssl::context::tls_client);
    ctx.add_certificate_authority(net::buffer(ca_pem));
    ctx.set_verify_mode(net::ssl::verify_peer);
    if (client) {
      ctx.use_certificate_chain(net::buffer(client->cert_pem));
      ctx.use_private_key(net::buffer(client->key_pem), net::ssl::context::pem);
    }
    net::ssl::stream<net::ip::tcp::socket> stream(io, ctx);
    stream.next_layer().connect({net::ip::make_address("127.0.0.1"), port});
    stream.handshake(net::ssl::stream_base::client);
    namespace http = beast::http;
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, "127.0.0.1");
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    return static_cast<int>(res.result_int());
  } catch (const std::exception& e) {
    return unexpected(std::string(e.what()));
  }
}

TEST(ApiTls, TrustedClientsWorkUntrustedOnesFailAndMutualTlsWantsACertificate) {
  const auto server_id = testing::make_self_signed("localhost", "DNS:localhost,IP:127.0.0.1");
  const auto client_id = testing::make_self_signed("analyst", "DNS:analyst");
  const auto stranger = testing::make_self_signed("stranger", "DNS:stranger");
  const std::string cert = temp_file("cert.pem", server_id.cert_pem);
  const std::string key = temp_file("key.pem", server_id.key_pem);
  const std::string client_ca = temp_file("client-ca.pem", client_id.cert_pem);
  {
    SecuredServer s({"--sf-api-tls-cert-file", cert, "--sf-api-tls-key-file", key});
    ASSERT_TRUE(s.error.empty()) << s.error;
    EXPECT_EQ(s.server->base_url().rfind("https://", 0), 0u);
    // runtime::HttpClient trusting the test CA: works, keep-alive and all.
    TlsOptions trust_test_ca;
    trust_test_ca.ca_file = cert;
    HttpClient trusting(trust_test_ca);
    auto ok = trusting.get(s.server->base_url() + "/read");
    ASSERT_TRUE(ok.ok()) << ok.error();
    EXPECT_EQ(ok->status, 200);
    // A client that trusts only the system store refuses the server.
    HttpClient system_only(TlsOptions{});
    auto untrusted = system_only.get(s.server->base_url() + "/read");
    ASSERT_FALSE(untrusted.ok());
    EXPECT_NE(untrusted.error().find("certificate"), std::string::npos) << untrusted.error();
    // Plain HTTP to a TLS port gets nowhere.
    auto plain = http_request(
        "GET", "http://127.0.0.1:" + std::to_string(s.server->port()) + "/read", "", {}, 5s);
    EXPECT_FALSE(plain.ok() && plain->status == 200);
  }
  {
    SecuredServer s({"--sf-api-tls-cert-file", cert, "--sf-api-tls-key-file", key,
                     "--sf-api-tls-client-ca-file", client_ca});
    ASSERT_TRUE(s.error.empty()) << s.error;
    auto with_cert = tls_get(s.server->port(), server_id.cert_pem, &client_id, "/read");
    ASSERT_TRUE(with_cert.ok()) << with_cert.error();
    EXPECT_EQ(*with_cert, 200);
    EXPECT_FALSE(tls_get(s.server->port(), server_id.cert_pem, nullptr, "/read").ok());
    EXPECT_FALSE(tls_get(s.server->port(), server_id.cert_pem, &stranger, "/read").ok());
  }
  // TLS and tokens together; a key that does not match its certificate is a startup error.
  {
    SecuredServer s({"--sf-api-tls-cert-file", cert, "--sf-api-tls-key-file", key, "--sf-api-token",
                     "tls-and-token-0123456789"});
    ASSERT_TRUE(s.error.empty()) << s.error;
    EXPECT_EQ(*tls_get(s.server->port(), server_id.cert_pem, nullptr, "/read"), 401);
  }
  const std::string wrong_key = temp_file("wrong-key.pem", stranger.key_pem);
  SecuredServer mismatched({"--sf-api-tls-cert-file", cert, "--sf-api-tls-key-file", wrong_key});
  EXPECT_NE(mismatched.error.find("mismatch"), std::string::npos) << mismatched.error;
  for (const auto& f : {cert, key, client_ca, wrong_key}) fs::remove(f);
}

}  // namespace
}  // namespace sf::runtime
