#include "runtime/store_options.h"

#include <cstdlib>

namespace sf::runtime {
namespace {

std::string arango_url_from(const std::string& url, const std::string& db, const std::string& user,
                            const std::string& password, const std::string& collection) {
  std::string hostport = url;
  if (auto p = hostport.find("://"); p != std::string::npos) hostport = hostport.substr(p + 3);
  while (!hostport.empty() && hostport.back() == '/') hostport.pop_back();
  std::string out = (url.starts_with("https://") ? "arango+https://" : "arango://") + user;
  if (!password.empty()) out += ":" + password;
  out += "@" + hostport + "/" + db;
  if (!collection.empty()) out += "?collection=" + collection;
  return out;
}

}  // namespace

void add_store_options(ConfigParser& parser) {
  parser.add({.name = "SF_STORE",
              .default_value = "",
              .help =
                  "store URL: sqlite:PATH, postgres://..., arango://... (default: ARANGO_URL when "
                  "set, else POSTGRES_DSN, else sqlite:./data/streamforge.db)"});
  parser.add(
      {.name = "COLLECTION_NAME",
       .default_value = "",
       .help = "ArangoDB collection for the records (default: derived per symbol and type)"});
  parser.add(
      {.name = "ARANGO_URL", .default_value = "", .help = "ArangoDB endpoint, http://host:8529"});
  parser.add({.name = "ARANGO_DB", .default_value = "streamforge", .help = "ArangoDB database"});
  parser.add({.name = "ARANGO_USER", .default_value = "root", .help = "ArangoDB user"});
  parser.add({.name = "ARANGO_PASSWORD", .default_value = "", .help = "ArangoDB password"});
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
