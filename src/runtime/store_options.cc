#include "runtime/store_options.h"

#include <cstdlib>
#include <string_view>

// GCC 12 reports a false -Wrestrict on std::string concatenation at -O3 (GCC bug 105329).
#pragma GCC diagnostic ignored "-Wrestrict"

namespace sf::runtime {
namespace {

// Userinfo and query values are percent-encoded (the store URL parser decodes them), so a
// password holding '@', ':', '/' or '%' survives.
std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string arango_url_from(const std::string& url, const std::string& db, const std::string& user,
                            const std::string& password, const std::string& collection) {
  std::string hostport = url;
  if (auto p = hostport.find("://"); p != std::string::npos) hostport = hostport.substr(p + 3);
  while (!hostport.empty() && hostport.back() == '/') hostport.pop_back();
  std::string out =
      (url.starts_with("https://") ? "arango+https://" : "arango://") + percent_encode(user);
  if (!password.empty()) out += ":" + percent_encode(password);
  out += "@" + hostport + "/" + percent_encode(db);
  if (!collection.empty()) out += "?collection=" + percent_encode(collection);
  return out;
}

}  // namespace

void add_store_options(ConfigParser& parser) {
  parser.add({.name = "SF_STORE",
              .default_value = "",
              .help =
                  "store URL: sqlite:PATH, postgres://..., arango://... (default: ARANGO_URL when "
                  "set, else POSTGRES_DSN, else sqlite:./data/streamforge.db)",
              .scope = runtime::OptionScope::kPlatform});
  parser.add(
      {.name = "COLLECTION_NAME",
       .default_value = "",
       .help = "ArangoDB collection for the records (default: derived per symbol and type)"});
  parser.add({.name = "ARANGO_URL",
              .default_value = "",
              .help = "ArangoDB endpoint, http://host:8529",
              .scope = runtime::OptionScope::kPlatform});
  parser.add({.name = "ARANGO_DB",
              .default_value = "streamforge",
              .help = "ArangoDB database",
              .scope = runtime::OptionScope::kPlatform});
  parser.add({.name = "ARANGO_USER",
              .default_value = "root",
              .help = "ArangoDB user",
              .scope = runtime::OptionScope::kPlatform});
  parser.add({.name = "ARANGO_PASSWORD",
              .default_value = "",
              .help = "ArangoDB password",
              .scope = runtime::OptionScope::kSecret});
}

bool names_own_store(const Config& config) {
  return !config.get_string("SF_STORE").empty() || !config.get_string("ARANGO_URL").empty();
}

std::string store_url_from(const Config& config) {
  std::string store_url = config.get_string("SF_STORE");
  if (store_url.empty()) {
    if (const auto arango = config.get_string("ARANGO_URL"); !arango.empty()) {
      store_url = arango_url_from(
          arango, config.get_string("ARANGO_DB"), config.get_string("ARANGO_USER"),
          config.get_string("ARANGO_PASSWORD"), config.get_string("COLLECTION_NAME"));
    } else if (const char* dsn = std::getenv("POSTGRES_DSN"); dsn && *dsn) {
      store_url = dsn;
    } else {
      store_url = "sqlite:./data/streamforge.db";
    }
  }
  return store_url;
}

}  // namespace sf::runtime
