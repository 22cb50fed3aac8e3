// Credentials: which configuration values are secret, and where a stage's secrets come from.
//
// A secret is never echoed by the API, written into a workflow record, telemetry, a log line or a
// metric, and never put into a Kubernetes Job spec as a value (docs/security.md). Two rules say
// what is secret:
//   - by name: variables whose names hold PASSWORD, SECRET, TOKEN, API_KEY / APIKEY, ACCESS_KEY,
//     PRIVATE_KEY, CREDENTIAL, JAAS or end in _DSN (KAFKA_PASSWORD, ARANGO_PASSWORD,
//     BINANCE_API_KEY, BINANCE_API_SECRET, MINIO_ACCESS_KEY, MINIO_SECRET_KEY, POSTGRES_DSN,
//     SF_API_TOKEN ...), case-insensitively, so log field names ("password") match too;
//   - by value: a URL with a password in its userinfo (postgresql://user:pw@host/db,
//     arango://root:pw@host) or a libpq keyword string with password=...; so SF_STORE or
//     ARANGO_URL are secret exactly when they carry a password.
//
// The platform holds its secrets in a SecretStore (its own environment, plus an optional file
// that is read again at every launch so that a rotated file takes effect without a restart).
// Launchers resolve a stage's secret names against it when they start the stage: the values live
// in the launched process's environment only, never in the stored workflow.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace sf::runtime {

// By name, case-insensitively (see above).
bool is_secret_name(std::string_view name);
// By value: a URL whose userinfo holds a password, or a keyword DSN with a password.
bool value_has_credentials(std::string_view value);
// Either rule.
inline bool is_secret(std::string_view name, std::string_view value) {
  return is_secret_name(name) || value_has_credentials(value);
}
// `value` with any password in it replaced by "***" (URL userinfo, password=... keywords);
// unchanged when it carries none. For messages that must name an endpoint.
std::string redact_credentials(std::string_view value);

// The Kafka credentials any stage on the Kafka bus may need (bus::kafka_options_from_env reads
// them from the process environment).
inline constexpr const char* kBusSecretNames[] = {"KAFKA_PASSWORD", "KAFKA_PASSWORD_PRODUCER",
                                                  "KAFKA_PASSWORD_CONSUMER"};

// The environment variable naming the platform's secrets file (KEY=VALUE lines, '#' comments,
// blank lines ignored; a Kubernetes Secret mounted as a file, a Vault agent's rendered template).
inline constexpr const char* kSecretsFileEnv = "SF_SECRETS_FILE";

// The platform's credentials by name. Thread-safe.
class SecretStore {
 public:
  SecretStore() = default;
  SecretStore(const SecretStore&) = delete;
  SecretStore& operator=(const SecretStore&) = delete;

  // Every secret variable of this process's environment (is_secret by name or value), and the
  // file named by $SF_SECRETS_FILE when set. An unreadable or malformed file is a configuration
  // error (the text names the file and line; never a value).
  static Result<std::shared_ptr<SecretStore>, std::string> from_environment();

  // Adds or replaces one secret (values the platform computed, e.g. its store URL with a
  // password; tests).
  void set(std::string name, std::string value);
  // Reads KEY=VALUE lines from `path` now and again whenever it changes (at the next lookup).
  Result<void, std::string> add_file(std::string path);

  // The names held (file entries included), sorted.
  std::vector<std::string> names() const;
  std::optional<std::string> get(std::string_view name) const;
  bool empty() const { return names().empty(); }

 private:
  Result<void, std::string> reload_file_locked() const;

  mutable std::mutex mu_;
  std::map<std::string, std::string, std::less<>> values_;
  std::string file_;
  mutable std::map<std::string, std::string, std::less<>> file_values_;
  mutable std::int64_t file_mtime_ns_ = -1;
  mutable std::int64_t file_size_ = -1;
};

// The lines of a settings file (the secrets file, the API tokens file): `fn(number, line)` for
// each line that is not blank or a '#' comment, surrounding whitespace and a trailing '\r' cut;
// the first error `fn` returns stops the walk and comes back prefixed with "line N: ".
Result<void, std::string> for_each_setting_line(
    std::string_view text,
    const std::function<Result<void, std::string>(std::size_t, std::string_view)>& fn);

// Parses the secrets file format; errors name the line, never a value.
Result<std::map<std::string, std::string, std::less<>>, std::string> parse_secrets_file(
    std::string_view text);

}  // namespace sf::runtime
