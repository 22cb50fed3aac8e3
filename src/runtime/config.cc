#include "runtime/config.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <stdexcept>

#include "runtime/secrets.h"

namespace sf::runtime {
namespace {

constexpr std::string_view kConfigFlag = "--config";
constexpr const char* kConfigEnv = "SF_CONFIG";

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

Result<std::int64_t, std::string> parse_int(std::string_view text) {
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    return unexpected(std::string("expected an integer"));
  }
  return value;
}

Result<double, std::string> parse_double(std::string_view text) {
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() ||
      !std::isfinite(value)) {
    return unexpected(std::string("expected a number"));
  }
  return value;
}

// Checks that `text` is a valid value of `type`; the error says what was expected.
Result<void, std::string> validate(OptionType type, std::string_view text) {
  switch (type) {
    case OptionType::kString:
      return {};
    case OptionType::kInt:
      if (auto r = parse_int(text); !r) return unexpected(r.error());
      return {};
    case OptionType::kDouble:
      if (auto r = parse_double(text); !r) return unexpected(r.error());
      return {};
    case OptionType::kBool:
      if (auto r = parse_bool(text); !r) return unexpected(r.error());
      return {};
    case OptionType::kDuration:
      if (auto r = parse_duration(text); !r) return unexpected(r.error());
      return {};
  }
  return {};
}

std::string bad_value(std::string_view value, std::string_view where, const std::string& why) {
  return "invalid value '" + std::string(value) + "' for " + std::string(where) + ": " + why;
}

const char* placeholder(OptionType type) {
  switch (type) {
    case OptionType::kString:
      return " STRING";
    case OptionType::kInt:
      return " INT";
    case OptionType::kDouble:
      return " NUMBER";
    case OptionType::kBool:
      return "";
    case OptionType::kDuration:
      return " DURATION";
  }
  return "";
}

bool valid_option_name(std::string_view name) {
  if (name.empty() || !(name[0] >= 'A' && name[0] <= 'Z')) return false;
  for (char c : name) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

}  // namespace

const char* to_string(OptionType type) {
  switch (type) {
    case OptionType::kString:
      return "string";
    case OptionType::kInt:
      return "int";
    case OptionType::kDouble:
      return "double";
    case OptionType::kBool:
      return "bool";
    case OptionType::kDuration:
      return "duration";
  }
  return "unknown";
}

const char* to_string(OptionScope scope) {
  switch (scope) {
    case OptionScope::kStage:
      return "stage";
    case OptionScope::kPlatform:
      return "platform";
    case OptionScope::kSecret:
      return "secret";
  }
  return "platform";
}

OptionScope effective_scope(const OptionSpec& spec) {
  return is_secret_name(spec.name) ? OptionScope::kSecret : spec.scope;
}

const char* to_string(ConfigSource source) {
  switch (source) {
    case ConfigSource::kUnset:
      return "unset";
    case ConfigSource::kDefault:
      return "default";
    case ConfigSource::kFile:
      return "file";
    case ConfigSource::kEnv:
      return "env";
    case ConfigSource::kFlag:
      return "flag";
  }
  return "unknown";
}

std::string flag_for(std::string_view option_name) {
  std::string flag = "--" + lower(option_name);
  for (char& c : flag) {
    if (c == '_') c = '-';
  }
  return flag;
}

Result<bool, std::string> parse_bool(std::string_view text) {
  const std::string value = lower(text);
  if (value == "true" || value == "1" || value == "yes" || value == "on") return true;
  if (value == "false" || value == "0" || value == "no" || value == "off") return false;
  return unexpected(std::string("expected a boolean (true/false, 1/0, yes/no, on/off)"));
}

Result<std::chrono::milliseconds, std::string> parse_duration(std::string_view text) {
  static const std::string kExpected =
      "expected a duration in seconds or with a unit (e.g. 1.5, 250ms, 30s, 5m, 2h)";
  double scale_ms = 1000;  // a bare number is seconds
  std::string_view number = text;
  if (text.ends_with("ms")) {
    scale_ms = 1;
    number.remove_suffix(2);
  } else if (text.ends_with("s")) {
    number.remove_suffix(1);
  } else if (text.ends_with("m")) {
    scale_ms = 60'000;
    number.remove_suffix(1);
  } else if (text.ends_with("h")) {
    scale_ms = 3'600'000;
    number.remove_suffix(1);
  }
  auto value = parse_double(number);
  if (!value || *value < 0) return unexpected(kExpected);
  return std::chrono::milliseconds(std::llround(*value * scale_ms));
}

std::optional<std::string> getenv_lookup(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

// --- Config ------------------------------------------------------------------------------------

const Config::Entry& Config::entry(std::string_view name,
                                   std::optional<OptionType> expected) const {
  for (const Entry& e : entries_) {
    if (e.spec.name != name) continue;
    if (expected && e.spec.type != *expected) {
      throw std::logic_error("option " + std::string(name) + " is " + to_string(e.spec.type) +
                             ", not " + to_string(*expected));
    }
    if (expected && e.source == ConfigSource::kUnset) {
      throw std::logic_error("option " + std::string(name) + " has no value (check has())");
    }
    return e;
  }
  throw std::logic_error("unknown option " + std::string(name));
}

bool Config::has(std::string_view name) const {
  return entry(name, std::nullopt).source != ConfigSource::kUnset;
}

std::string Config::get_string(std::string_view name) const {
  return entry(name, std::nullopt).value;
}

std::int64_t Config::get_int(std::string_view name) const {
  return *parse_int(entry(name, OptionType::kInt).value);
}

double Config::get_double(std::string_view name) const {
  return *parse_double(entry(name, OptionType::kDouble).value);
}

bool Config::get_bool(std::string_view name) const {
  return *parse_bool(entry(name, OptionType::kBool).value);
}

std::chrono::milliseconds Config::get_duration(std::string_view name) const {
  return *parse_duration(entry(name, OptionType::kDuration).value);
}

ConfigSource Config::source(std::string_view name) const {
  return entry(name, std::nullopt).source;
}

// --- ConfigParser ------------------------------------------------------------------------------

ConfigParser::ConfigParser(std::string program, std::string description)
    : program_(std::move(program)), description_(std::move(description)) {}

ConfigParser& ConfigParser::add(OptionSpec spec) {
  if (!valid_option_name(spec.name)) {
    throw std::invalid_argument("invalid option name '" + spec.name +
                                "' (expected [A-Z][A-Z0-9_]*)");
  }
  if (find_by_name(spec.name) != nullptr || spec.name == "CONFIG" || spec.name == "HELP") {
    throw std::invalid_argument("option " + spec.name + " declared twice or reserved");
  }
  if (spec.required && !spec.default_value.empty()) {
    throw std::invalid_argument("option " + spec.name + " cannot be both required and defaulted");
  }
  if (!spec.default_value.empty()) {
    if (auto valid = validate(spec.type, spec.default_value); !valid) {
      throw std::invalid_argument(
          bad_value(spec.default_value, "the default of " + spec.name, valid.error()));
    }
  }
  options_.push_back(std::move(spec));
  return *this;
}

const OptionSpec* ConfigParser::find_by_flag(std::string_view flag) const {
  for (const OptionSpec& spec : options_) {
    if (flag_for(spec.name) == flag) return &spec;
  }
  return nullptr;
}

const OptionSpec* ConfigParser::find_by_name(std::string_view name) const {
  for (const OptionSpec& spec : options_) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

Result<Config, std::string> ConfigParser::parse(int argc, const char* const* argv) const {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  return parse(args, getenv_lookup);
}

Result<Config, std::string> ConfigParser::parse(const std::vector<std::string>& args,
                                                const EnvLookup& env) const {
  Config config;
  std::map<std::string, std::string, std::less<>> flag_values;  // option name -> value
  std::optional<std::string> config_path;

  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      config.positional_.insert(config.positional_.end(), args.begin() + static_cast<long>(i) + 1,
                                args.end());
      break;
    }
    if (arg == "--help" || arg == "-h") {
      config.help_requested_ = true;
      return config;
    }
    const bool looks_like_flag =
        arg.size() > 1 && arg[0] == '-' && !(arg[1] >= '0' && arg[1] <= '9') && arg[1] != '.';
    if (!looks_like_flag) {
      config.positional_.push_back(arg);
      continue;
    }
    if (!arg.starts_with("--")) {
      return unexpected("unknown flag " + arg + " (flags are --long-names)");
    }
    const std::size_t equals = arg.find('=');
    const std::string flag = arg.substr(0, equals);
    std::optional<std::string> inline_value;
    if (equals != std::string::npos) inline_value = arg.substr(equals + 1);

    auto take_value = [&]() -> Result<std::string, std::string> {
      if (inline_value) return *inline_value;
      if (i + 1 >= args.size() || args[i + 1].starts_with("--")) {
        return unexpected("flag " + flag + " requires a value");
      }
      return args[++i];
    };

    if (flag == kConfigFlag) {
      auto value = take_value();
      if (!value) return unexpected(value.error());
      config_path = *value;
      continue;
    }
    const OptionSpec* spec = find_by_flag(flag);
    if (spec == nullptr && flag.starts_with("--no-")) {
      const OptionSpec* negated = find_by_flag("--" + flag.substr(5));
      if (negated != nullptr && negated->type == OptionType::kBool && !inline_value) {
        flag_values[negated->name] = "false";
        continue;
      }
    }
    if (spec == nullptr) return unexpected("unknown flag " + flag);
    std::string value;
    if (spec->type == OptionType::kBool && !inline_value) {
      value = "true";  // a bare boolean flag never consumes the next argument
    } else {
      auto taken = take_value();
      if (!taken) return unexpected(taken.error());
      value = std::move(*taken);
    }
    if (auto valid = validate(spec->type, value); !valid) {
      return unexpected(bad_value(value, "flag " + flag, valid.error()));
    }
    flag_values[spec->name] = std::move(value);
  }

  // The config file: --config wins over $SF_CONFIG.
  std::map<std::string, std::string, std::less<>> file_values;
  if (!config_path) config_path = env(kConfigEnv);
  if (config_path && !config_path->empty()) {
    std::ifstream file(*config_path);
    if (!file) return unexpected("cannot read config file '" + *config_path + "'");
    config.config_file_ = *config_path;
    std::string line;
    for (int line_number = 1; std::getline(file, line); ++line_number) {
      std::string_view text = trim(line);
      if (text.empty() || text.front() == '#') continue;
      if (text.starts_with("export ")) text = trim(text.substr(7));
      const std::string where =
          "config file " + *config_path + " line " + std::to_string(line_number);
      const std::size_t equals = text.find('=');
      if (equals == std::string_view::npos) {
        return unexpected(where + ": expected KEY=VALUE");
      }
      const std::string_view key = trim(text.substr(0, equals));
      std::string_view value = trim(text.substr(equals + 1));
      if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
          value.back() == value.front()) {
        value = value.substr(1, value.size() - 2);
      }
      const OptionSpec* spec = find_by_name(key);
      if (spec == nullptr) return unexpected(where + ": unknown option " + std::string(key));
      if (value.empty()) continue;
      if (auto valid = validate(spec->type, value); !valid) {
        return unexpected(where + ": " + bad_value(value, spec->name, valid.error()));
      }
      file_values[spec->name] = std::string(value);
    }
  }

  std::string missing;
  for (const OptionSpec& spec : options_) {
    Config::Entry entry;
    entry.spec = spec;
    if (auto it = flag_values.find(spec.name); it != flag_values.end()) {
      entry.value = it->second;
      entry.source = ConfigSource::kFlag;
    } else if (auto from_env = env(spec.name); from_env && !from_env->empty()) {
      if (auto valid = validate(spec.type, *from_env); !valid) {
        return unexpected(bad_value(*from_env, "environment variable " + spec.name, valid.error()));
      }
      entry.value = std::move(*from_env);
      entry.source = ConfigSource::kEnv;
    } else if (auto in_file = file_values.find(spec.name); in_file != file_values.end()) {
      entry.value = in_file->second;
      entry.source = ConfigSource::kFile;
    } else if (!spec.default_value.empty()) {
      entry.value = spec.default_value;
      entry.source = ConfigSource::kDefault;
    }
    if (spec.required && entry.source == ConfigSource::kUnset) {
      if (!missing.empty()) missing.append(", ");
      missing.append(flag_for(spec.name)).append(" (env ").append(spec.name).append(")");
    }
    config.entries_.push_back(std::move(entry));
  }
  if (!missing.empty()) return unexpected("missing required option(s): " + missing);
  return config;
}

std::string ConfigParser::help_text() const {
  std::string text = "Usage: " + program_ + " [options]";
  text.append(" [args...]\n");
  if (!description_.empty()) text.append("\n").append(description_).append("\n");
  text.append(
      "\nOptions (flags override environment variables, which override the config file):\n");
  auto describe = [&text](const std::string& left, const std::string& help,
                          const std::string& details) {
    text.append("  ").append(left).append("\n      ");
    if (!help.empty()) text.append(help).append(" ");
    text.append("(").append(details).append(")\n");
  };
  for (const OptionSpec& spec : options_) {
    std::string details = "env " + spec.name;
    if (spec.required) details.append(", required");
    if (!spec.default_value.empty()) details.append(", default ").append(spec.default_value);
    if (spec.type == OptionType::kBool) {
      details.append(", --no-").append(flag_for(spec.name).substr(2)).append(" for false");
    }
    describe(flag_for(spec.name) + placeholder(spec.type), spec.help, details);
  }
  describe("--config FILE", "Read KEY=VALUE lines ('#' comments) from FILE", "env SF_CONFIG");
  text.append("  -h, --help\n      Show this help and exit\n");
  return text;
}

}  // namespace sf::runtime
