// Service configuration from, highest precedence first: command-line flags, environment
// variables, a KEY=VALUE config file (--config FILE or $SF_CONFIG), then the defaults.
//
//   ConfigParser parser("streamforge dummy-service", "Consumes a queue and does nothing.");
//   parser.add({.name = "QUEUE_ID", .help = "Queue to consume", .required = true});
//   parser.add({.name = "PORT", .type = OptionType::kInt, .default_value = "8080",
//               .help = "HTTP port"});
//   auto config = parser.parse(argc, argv);
//   if (!config) { std::cerr << config.error() << "\n"; return 2; }
//   if (config->help_requested()) { std::cout << parser.help_text(); return 0; }
//   auto port = config->get_int("PORT");
//
// An option named QUEUE_ID is read from $QUEUE_ID and the flag --queue-id. Flags take
// "--flag value" or "--flag=value"; a bool flag alone means true ("--no-flag" means false).
// "--" ends the flags; everything that is not a flag is returned as a positional argument.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace sf::runtime {

enum class OptionType : std::uint8_t {
  kString,
  kInt,  // int64
  kDouble,
  kBool,      // true/false, 1/0, yes/no, on/off
  kDuration,  // seconds ("1.5") or with a unit: "250ms", "30s", "5m", "2h"
};

const char* to_string(OptionType type);

// Who may set an option of a service that runs as a workflow stage (docs/security.md).
enum class OptionScope : std::uint8_t {
  kStage,     // a workflow template or an API caller, per stage: the service's documented flags
  kPlatform,  // only the platform's own configuration: endpoints, file paths, protocol wiring
  kSecret,    // a credential: from the platform's secret store at launch, never stored or shown
};
const char* to_string(OptionScope scope);

struct OptionSpec {
  // Every member has an initializer so that designated initializers may leave any out.
  std::string name{};  // environment-variable style: QUEUE_ID
  OptionType type = OptionType::kString;
  std::string default_value{};  // text, parsed like any other value; empty: no default
  std::string help{};
  bool required = false;  // an error when no source sets it (so it takes no default)
  OptionScope scope = OptionScope::kStage;
};

// The scope that applies: a name that runtime::is_secret_name calls secret is kSecret whatever
// the declaration says.
OptionScope effective_scope(const OptionSpec& spec);

// "QUEUE_ID" -> "--queue-id"
std::string flag_for(std::string_view option_name);

// Parses a duration as OptionType::kDuration does.
Result<std::chrono::milliseconds, std::string> parse_duration(std::string_view text);
Result<bool, std::string> parse_bool(std::string_view text);

enum class ConfigSource : std::uint8_t { kUnset, kDefault, kFile, kEnv, kFlag };
const char* to_string(ConfigSource source);

// The effective configuration. Values were validated by the parser; asking for an option that
// was never declared, or with the wrong type, is a programming error (std::logic_error).
class Config {
 public:
  struct Entry {
    OptionSpec spec;
    std::string value;
    ConfigSource source = ConfigSource::kUnset;
  };

  // Whether any source (or a default) gave the option a value.
  bool has(std::string_view name) const;
  std::string get_string(std::string_view name) const;
  std::int64_t get_int(std::string_view name) const;
  double get_double(std::string_view name) const;
  bool get_bool(std::string_view name) const;
  std::chrono::milliseconds get_duration(std::string_view name) const;
  ConfigSource source(std::string_view name) const;

  // Every declared option in declaration order, for logging the effective configuration (use
  // log::is_sensitive_key to mask secrets).
  const std::vector<Entry>& entries() const { return entries_; }
  const std::vector<std::string>& positional() const { return positional_; }
  bool help_requested() const { return help_requested_; }
  // The config file read, if any.
  const std::string& config_file() const { return config_file_; }

 private:
  friend class ConfigParser;
  const Entry& entry(std::string_view name, std::optional<OptionType> expected) const;

  std::vector<Entry> entries_;
  std::vector<std::string> positional_;
  bool help_requested_ = false;
  std::string config_file_;
};

class ConfigParser {
 public:
  // `program` goes in the usage line ("streamforge dummy-service").
  explicit ConfigParser(std::string program, std::string description = {});

  // Declares an option; a duplicate name or a name that is not [A-Z0-9_]+ throws
  // std::invalid_argument (a programming error).
  ConfigParser& add(OptionSpec spec);

  // Reads the real environment. argv[0] is the program name and is skipped.
  Result<Config, std::string> parse(int argc, const char* const* argv) const;
  // For tests and embedding: explicit arguments (no program name) and environment lookup.
  using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
  Result<Config, std::string> parse(const std::vector<std::string>& args,
                                    const EnvLookup& env) const;

  std::string help_text() const;
  const std::vector<OptionSpec>& options() const { return options_; }

 private:
  const OptionSpec* find_by_flag(std::string_view flag) const;
  const OptionSpec* find_by_name(std::string_view name) const;

  std::string program_;
  std::string description_;
  std::vector<OptionSpec> options_;
};

// The environment lookup that parse(argc, argv) uses (std::getenv).
std::optional<std::string> getenv_lookup(const std::string& name);

}  // namespace sf::runtime
