// Who may call the platform's API, and how the API server is secured (docs/security.md).
//
// Credentials, any number at once:
//   SF_API_TOKEN         one static bearer token with the admin scope (the simple setup);
//   SF_API_TOKENS_FILE   static tokens, one per line: `<token> <read|operate|admin> [name]`, the
//                        token in clear or as `sha256:<hex>` of it (so the file need not hold it);
//                        '#' comments; read again when it changes;
//   SF_OIDC_ISSUER       OIDC access tokens (JWTs, e.g. from Keycloak) from this issuer, checked
//                        for SF_OIDC_AUDIENCE, expiry and a signature by a key of the issuer's
//                        JWKS (SF_OIDC_JWKS_URL, default from the issuer's discovery document;
//                        SF_OIDC_JWKS_FILE for an offline copy). Scopes come from the token's
//                        `scope`/`scp` claims and Keycloak roles (realm_access, resource_access of
//                        the audience) named <SF_OIDC_SCOPE_PREFIX><read|operate|admin>
//                        (prefix default "streamforge:").
// With any of them configured, every route but the health probes needs a credential, from
// loopback too. With none, the server only binds to loopback and every local caller is admin.
//
// TLS for the API server itself: SF_API_TLS_CERT_FILE + SF_API_TLS_KEY_FILE (PEM), optionally
// SF_API_TLS_CLIENT_CA_FILE to require client certificates.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "core/result.h"
#include "runtime/config.h"
#include "runtime/http_server.h"

namespace sf::runtime {

// Adds SF_API_TOKEN, SF_API_TOKENS_FILE, SF_OIDC_* and SF_API_TLS_* to a server's options.
void add_api_security_options(ConfigParser& parser);

class ApiAuth {
 public:
  struct OidcSettings {
    std::string issuer;
    std::string audience;
    std::string jwks_url;   // "" = discovery: <issuer>/.well-known/openid-configuration
    std::string jwks_file;  // instead of fetching
    std::string scope_prefix = "streamforge:";
    std::chrono::seconds leeway{60};
  };
  struct Settings {
    std::string token;        // admin
    std::string tokens_file;  // see above
    std::optional<OidcSettings> oidc;
  };

  // Reads the files named; errors name the file and line (never a token).
  static Result<std::shared_ptr<ApiAuth>, std::string> create(Settings settings);
  ~ApiAuth();

  // Whether any credential is configured (else callers are not authenticated at all).
  bool enabled() const;
  // The caller behind a request's `Authorization: Bearer` header (or, on a WebSocket upgrade,
  // whose browser cannot set headers, an `access_token` query parameter), or why not.
  Result<Caller, std::string> authenticate(const HttpRequest& request) const;

 private:
  struct Impl;
  explicit ApiAuth(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The server's security from the options add_api_security_options declared: authentication and
// TLS applied to `server_options`. Refuses a non-loopback bind address without credentials.
// `auth` (optional) receives the authenticator.
Result<void, std::string> apply_api_security(const Config& config,
                                             HttpServerOptions& server_options,
                                             std::shared_ptr<ApiAuth>* auth = nullptr);

bool is_loopback_host(std::string_view host);

}  // namespace sf::runtime
