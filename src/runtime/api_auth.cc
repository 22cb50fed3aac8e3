#include "runtime/api_auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <simdjson.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <mutex>
#include <sstream>
#include <vector>

#include "runtime/http_client.h"
#include "runtime/jwt.h"
#include "runtime/log.h"
#include "runtime/secrets.h"

namespace sf::runtime {
namespace {

constexpr const char* kLog = "api-auth";
// JWKS: refetched this often, and at most this often when a token names an unknown key (a key
// rotation at the issuer), so that a flood of bad tokens cannot turn into a flood of fetches.
constexpr auto kJwksMaxAge = std::chrono::minutes(10);
constexpr auto kJwksMinRefetch = std::chrono::seconds(30);

using Digest = std::array<unsigned char, 32>;

Digest sha256(std::string_view text) {
  Digest out{};
  unsigned int size = 0;
  EVP_Digest(text.data(), text.size(), out.data(), &size, EVP_sha256(), nullptr);
  return out;
}

std::optional<Digest> parse_hex_digest(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  Digest out{};
  for (std::size_t i = 0; i < 32; ++i) {
    auto nibble = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    const int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<unsigned char>(hi * 16 + lo);
  }
  return out;
}

std::optional<Access> parse_access(std::string_view text) {
  if (text == "read") return Access::kRead;
  if (text == "operate") return Access::kOperate;
  if (text == "admin") return Access::kAdmin;
  return std::nullopt;
}

struct StaticToken {
  Digest digest;
  std::string name;
  Access access;
};

std::vector<std::string_view> words(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    const std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

Result<std::vector<StaticToken>, std::string> parse_tokens_file(std::string_view text) {
  std::vector<StaticToken> out;
  auto parsed = for_each_setting_line(
      text, [&out](std::size_t line_no, std::string_view line) -> Result<void, std::string> {
        const auto w = words(line);
        if (w.size() < 2 || w.size() > 3)
          return unexpected(std::string("expected <token> <read|operate|admin> [name]"));
        auto access = parse_access(w[1]);
        if (!access) return unexpected(std::string("scope must be read, operate or admin"));
        StaticToken t{{},
                      w.size() == 3 ? std::string(w[2]) : "token-line-" + std::to_string(line_no),
                      *access};
        if (w[0].starts_with("sha256:")) {
          auto d = parse_hex_digest(w[0].substr(7));
          if (!d) return unexpected(std::string("sha256: needs 64 hex digits"));
          t.digest = *d;
        } else {
          if (w[0].size() < 16)
            return unexpected(std::string("a token needs at least 16 characters"));
          t.digest = sha256(w[0]);
        }
        out.push_back(std::move(t));
        return {};
      });
  if (!parsed) return unexpected(parsed.error());
  return out;
}

Result<std::string, std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return unexpected("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// What tells that a file changed: inode, size and both times (a file replaced by a rename, or
// rewritten with a same-length token within one timestamp tick, still shows). -1 when missing.
struct FileStamp {
  std::int64_t inode = -1, size = -1, mtime_ns = -1, ctime_ns = -1;
  bool operator==(const FileStamp&) const = default;
};
FileStamp file_stamp(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  return {static_cast<std::int64_t>(st.st_ino), static_cast<std::int64_t>(st.st_size),
          static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
          static_cast<std::int64_t>(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec};
}

// The bearer token of a request: the Authorization header, or on a WebSocket upgrade the
// access_token query parameter (browsers cannot set headers on WebSockets).
std::optional<std::string_view> bearer_token(const HttpRequest& request, std::string* why) {
  if (auto h = request.headers.get("Authorization")) {
    std::string_view v = *h;
    if (v.size() < 7 || !iequals(v.substr(0, 7), "Bearer ")) {
      *why = "Authorization must be \"Bearer <token>\"";
      return std::nullopt;
    }
    v.remove_prefix(7);
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
    if (v.empty()) {
      *why = "empty bearer token";
      return std::nullopt;
    }
    return v;
  }
  const bool upgrade = iequals(request.headers.get_or("Upgrade", ""), "websocket");
  if (upgrade)
    if (auto t = request.query_param("access_token"); t && !t->empty()) return *t;
  *why = "a bearer token is required";
  return std::nullopt;
}

}  // namespace

struct ApiAuth::Impl {
  Settings settings;

  std::mutex mu;
  std::vector<StaticToken> tokens;  // SF_API_TOKEN and the file's
  std::vector<StaticToken> file_tokens;
  FileStamp tokens_file_stamp;
  bool tokens_file_stamp_known = false;

  std::shared_ptr<const jwt::Jwks> jwks;
  std::chrono::steady_clock::time_point jwks_fetched{};
  std::chrono::steady_clock::time_point jwks_attempted{};
  bool jwks_fetching = false;
  FileStamp jwks_file_stamp;

  // Reads the tokens file again when it changed. Fails closed: a file that went away or no longer
  // parses revokes every token it held (SF_API_TOKEN stays). One error line per change, not per
  // request.
  Result<void, std::string> reload_tokens_file_locked() {
    if (settings.tokens_file.empty()) return {};
    const FileStamp stamp = file_stamp(settings.tokens_file);
    if (tokens_file_stamp_known && stamp == tokens_file_stamp) return {};
    tokens_file_stamp = stamp;
    tokens_file_stamp_known = true;
    file_tokens.clear();
    auto text = read_file(settings.tokens_file);
    if (!text) return unexpected("SF_API_TOKENS_FILE: " + text.error());
    auto parsed = parse_tokens_file(*text);
    if (!parsed)
      return unexpected("SF_API_TOKENS_FILE " + settings.tokens_file + ": " + parsed.error());
    file_tokens = std::move(*parsed);
    return {};
  }

  // Fetches (or reads) the issuer's key set. Called without `mu` held: a slow issuer must not
  // hold up static-token callers.
  Result<std::shared_ptr<const jwt::Jwks>, std::string> fetch_jwks(FileStamp* file_read) const {
    const auto& oidc = *settings.oidc;
    std::string document;
    if (!oidc.jwks_file.empty()) {
      *file_read = file_stamp(oidc.jwks_file);
      auto text = read_file(oidc.jwks_file);
      if (!text) return unexpected("SF_OIDC_JWKS_FILE: " + text.error());
      document = std::move(*text);
    } else {
      std::string url = oidc.jwks_url;
      HttpClient client;
      if (url.empty()) {
        std::string issuer = oidc.issuer;
        while (!issuer.empty() && issuer.back() == '/') issuer.pop_back();
        auto r = client.get(issuer + "/.well-known/openid-configuration", std::chrono::seconds(5));
        if (!r || r->status != 200)
          return unexpected("OIDC discovery at " + issuer +
                            " failed: " + (r ? "HTTP " + std::to_string(r->status) : r.error()));
        simdjson::dom::parser parser;
        simdjson::dom::element doc;
        std::string_view uri;
        if (parser.parse(r->body).get(doc) || doc["jwks_uri"].get_string().get(uri))
          return unexpected("OIDC discovery document of " + issuer + " has no jwks_uri");
        url = std::string(uri);
      }
      auto r = client.get(url, std::chrono::seconds(5));
      if (!r || r->status != 200)
        return unexpected("JWKS fetch from " + url +
                          " failed: " + (r ? "HTTP " + std::to_string(r->status) : r.error()));
      document = std::move(r->body);
    }
    auto keys = jwt::parse_jwks(document);
    if (!keys) return unexpected("JWKS: " + keys.error());
    return std::move(*keys);
  }

  // Fetches the key set now (startup); the last good one stays on failure.
  Result<void, std::string> refresh_jwks() {
    FileStamp stamp;
    auto keys = fetch_jwks(&stamp);
    std::lock_guard lock(mu);
    jwks_attempted = std::chrono::steady_clock::now();
    if (!keys) return unexpected(keys.error());
    jwks = std::move(*keys);
    jwks_fetched = jwks_attempted;
    jwks_file_stamp = stamp;
    return {};
  }

  // The key set, refreshed when old, changed on disk, or `force`d (a token named an unknown key).
  // At most one fetch at a time and one attempt per kJwksMinRefetch, whatever the callers send;
  // others go on with the keys held meanwhile.
  std::shared_ptr<const jwt::Jwks> current_jwks(bool force) {
    std::shared_ptr<const jwt::Jwks> held;
    {
      std::lock_guard lock(mu);
      held = jwks;
      const auto now = std::chrono::steady_clock::now();
      const bool stale = !jwks || now - jwks_fetched > kJwksMaxAge ||
                         (!settings.oidc->jwks_file.empty() &&
                          file_stamp(settings.oidc->jwks_file) != jwks_file_stamp);
      if (!(stale || force) || jwks_fetching || now - jwks_attempted <= kJwksMinRefetch)
        return held;
      jwks_fetching = true;
      jwks_attempted = now;
    }
    FileStamp stamp;
    auto keys = fetch_jwks(&stamp);
    std::lock_guard lock(mu);
    jwks_fetching = false;
    if (!keys) {
      log::warn(kLog, "JWKS not refreshed", {{"error", keys.error()}});
      return jwks;
    }
    jwks = std::move(*keys);
    jwks_fetched = std::chrono::steady_clock::now();
    jwks_file_stamp = stamp;
    return jwks;
  }

  Result<Caller, std::string> verify_jwt(std::string_view token) {
    const auto& oidc = *settings.oidc;
    jwt::VerifyOptions vo;
    vo.issuer = oidc.issuer;
    vo.audience = oidc.audience;
    vo.leeway = oidc.leeway;
    auto keys = current_jwks(false);
    if (!keys) return unexpected(std::string("the issuer's keys are not available"));
    auto claims = jwt::verify(token, *keys, vo);
    if (!claims && claims.error().code == jwt::Errc::kUnknownKey) {
      if (auto fresh = current_jwks(true); fresh && fresh != keys)
        claims = jwt::verify(token, *fresh, vo);
    }
    if (!claims) return unexpected("invalid token: " + claims.error().message);
    Caller caller;
    caller.method = "oidc";
    caller.name = claims->preferred_username.empty() ? claims->subject : claims->preferred_username;
    caller.access = Access::kPublic;
    auto grant = [&](const std::string& granted) {
      if (!granted.starts_with(oidc.scope_prefix)) return;
      if (auto a = parse_access(std::string_view(granted).substr(oidc.scope_prefix.size())))
        caller.access = std::max(caller.access, *a);
    };
    for (const auto& s : claims->scopes) grant(s);
    for (const auto& r : claims->roles) grant(r);
    return caller;
  }

  Result<Caller, std::string> authenticate(const HttpRequest& request) {
    std::string why;
    auto token = bearer_token(request, &why);
    if (!token) return unexpected(why);
    // Three base64url segments: an OIDC access token.
    if (settings.oidc && std::count(token->begin(), token->end(), '.') == 2)
      return verify_jwt(*token);
    const Digest digest = sha256(*token);
    std::optional<Caller> found;
    std::lock_guard lock(mu);
    if (auto r = reload_tokens_file_locked(); !r)
      log::error(kLog, "tokens file not reloaded", {{"error", r.error()}});
    // Every entry is compared, in constant time, whatever matched before.
    for (const auto* list : {&tokens, &file_tokens}) {
      for (const auto& t : *list) {
        if (CRYPTO_memcmp(t.digest.data(), digest.data(), digest.size()) == 0 && !found)
          found = Caller{t.name, t.access, "token"};
      }
    }
    if (!found) return unexpected(std::string("invalid token"));
    return *found;
  }
};

ApiAuth::ApiAuth(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ApiAuth::~ApiAuth() = default;

Result<std::shared_ptr<ApiAuth>, std::string> ApiAuth::create(Settings settings) {
  auto impl = std::make_unique<Impl>();
  impl->settings = std::move(settings);
  if (!impl->settings.token.empty()) {
    if (impl->settings.token.size() < 16)
      return unexpected(std::string("SF_API_TOKEN needs at least 16 characters"));
    impl->tokens.push_back({sha256(impl->settings.token), "api-token", Access::kAdmin});
  }
  if (auto r = impl->reload_tokens_file_locked(); !r) return unexpected(r.error());
  if (impl->settings.oidc) {
    const auto& oidc = *impl->settings.oidc;
    if (oidc.audience.empty())
      return unexpected(std::string("SF_OIDC_AUDIENCE is required with SF_OIDC_ISSUER"));
    // Keys are fetched now so that a wrong URL shows at startup; an issuer that is down only
    // delays OIDC callers (fetched again at most every kJwksMinRefetch).
    if (auto r = impl->refresh_jwks(); !r) {
      if (!oidc.jwks_file.empty()) return unexpected(r.error());
      log::warn(kLog, "OIDC keys not fetched yet", {{"error", r.error()}});
    }
  }
  return std::shared_ptr<ApiAuth>(new ApiAuth(std::move(impl)));
}

bool ApiAuth::enabled() const {
  return !impl_->settings.token.empty() || !impl_->settings.tokens_file.empty() ||
         impl_->settings.oidc.has_value();
}

Result<Caller, std::string> ApiAuth::authenticate(const HttpRequest& request) const {
  return impl_->authenticate(request);
}

void add_api_security_options(ConfigParser& parser) {
  parser.add({.name = "SF_API_TOKEN",
              .default_value = "",
              .help = "bearer token with the admin scope (16+ characters; docs/security.md)"});
  parser.add(
      {.name = "SF_API_TOKENS_FILE",
       .default_value = "",
       .help = "static tokens, one per line: <token|sha256:HEX> <read|operate|admin> [name]"});
  parser.add(
      {.name = "SF_OIDC_ISSUER",
       .default_value = "",
       .help = "accept OIDC access tokens (JWT) from this issuer, e.g. a Keycloak realm URL"});
  parser.add({.name = "SF_OIDC_AUDIENCE", .default_value = "", .help = "required `aud` of tokens"});
  parser.add({.name = "SF_OIDC_JWKS_URL",
              .default_value = "",
              .help = "the issuer's JWKS (default: from its discovery document)"});
  parser.add({.name = "SF_OIDC_JWKS_FILE",
              .default_value = "",
              .help = "a JWKS file instead of fetching one"});
  parser.add({.name = "SF_OIDC_SCOPE_PREFIX",
              .default_value = "streamforge:",
              .help = "scopes/roles <prefix>read|operate|admin grant access"});
  parser.add({.name = "SF_OIDC_LEEWAY",
              .type = OptionType::kDuration,
              .default_value = "60",
              .help = "clock skew allowed on exp/nbf/iat"});
  parser.add({.name = "SF_API_TLS_CERT_FILE",
              .default_value = "",
              .help = "serve the API over TLS with this PEM certificate (chain)"});
  parser.add({.name = "SF_API_TLS_KEY_FILE", .default_value = "", .help = "its PEM private key"});
  parser.add({.name = "SF_API_TLS_CLIENT_CA_FILE",
              .default_value = "",
              .help = "require client certificates issued by this PEM CA (mutual TLS)"});
}

bool is_loopback_host(std::string_view host) {
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

Result<void, std::string> apply_api_security(const Config& config,
                                             HttpServerOptions& server_options,
                                             std::shared_ptr<ApiAuth>* auth_out) {
  ApiAuth::Settings settings;
  settings.token = config.get_string("SF_API_TOKEN");
  settings.tokens_file = config.get_string("SF_API_TOKENS_FILE");
  if (const auto issuer = config.get_string("SF_OIDC_ISSUER"); !issuer.empty()) {
    ApiAuth::OidcSettings oidc;
    oidc.issuer = issuer;
    oidc.audience = config.get_string("SF_OIDC_AUDIENCE");
    oidc.jwks_url = config.get_string("SF_OIDC_JWKS_URL");
    oidc.jwks_file = config.get_string("SF_OIDC_JWKS_FILE");
    oidc.scope_prefix = config.get_string("SF_OIDC_SCOPE_PREFIX");
    oidc.leeway =
        std::chrono::duration_cast<std::chrono::seconds>(config.get_duration("SF_OIDC_LEEWAY"));
    settings.oidc = std::move(oidc);
  }
  auto auth = ApiAuth::create(std::move(settings));
  if (!auth) return unexpected(auth.error());
  if ((*auth)->enabled()) {
    server_options.authenticate = [a = *auth](const HttpRequest& r) { return a->authenticate(r); };
  } else if (!is_loopback_host(server_options.bind_address)) {
    return unexpected("refusing to serve the API on " + server_options.bind_address +
                      " without credentials (SF_API_TOKEN, SF_API_TOKENS_FILE or SF_OIDC_ISSUER)");
  }
  server_options.tls_cert_file = config.get_string("SF_API_TLS_CERT_FILE");
  server_options.tls_key_file = config.get_string("SF_API_TLS_KEY_FILE");
  server_options.tls_client_ca_file = config.get_string("SF_API_TLS_CLIENT_CA_FILE");
  if (server_options.tls_cert_file.empty() != server_options.tls_key_file.empty())
    return unexpected(std::string("SF_API_TLS_CERT_FILE and SF_API_TLS_KEY_FILE go together"));
  if (!server_options.tls_client_ca_file.empty() && server_options.tls_cert_file.empty())
    return unexpected(std::string("SF_API_TLS_CLIENT_CA_FILE needs SF_API_TLS_CERT_FILE"));
  if (auth_out) *auth_out = *auth;
  return {};
}

}  // namespace sf::runtime
