#include "store/store.h"

#include <filesystem>
#include <string_view>
#include <system_error>

#include "store/arango_store.h"
#include "store/postgres_store.h"
#include "store/sqlite_store.h"

namespace sf::store {
namespace {

constexpr std::string_view kSqliteScheme = "sqlite:";
constexpr std::string_view kPostgresSchemes[] = {"postgres://", "postgresql://"};
constexpr const char* kAcceptedForms =
    "accepted forms: sqlite:PATH, sqlite::memory:, postgres://USER:PASSWORD@HOST:PORT/DATABASE, "
    "postgresql://..., arango://USER:PASSWORD@HOST:PORT/DATABASE, arango+http://...";

bool is_postgres_url(const std::string& url) {
  for (std::string_view scheme : kPostgresSchemes) {
    if (url.starts_with(scheme)) return true;
  }
  return false;
}

}  // namespace

const char* to_string(StoreErrc e) {
  switch (e) {
    case StoreErrc::kOpen:
      return "open";
    case StoreErrc::kMigration:
      return "migration";
    case StoreErrc::kWrite:
      return "write";
    case StoreErrc::kRead:
      return "read";
    case StoreErrc::kCorrupt:
      return "corrupt";
    case StoreErrc::kConfig:
      return "config";
  }
  return "unknown";
}

StoreResult<std::unique_ptr<Store>> open_store(const std::string& url) {
  if (ArangoStore::is_arango_url(url)) {
    auto options = ArangoStore::parse_url(url);
    if (!options) return unexpected(options.error());
    auto store = ArangoStore::open(std::move(*options));
    if (!store) return unexpected(store.error());
    return std::unique_ptr<Store>(std::move(*store));
  }
  if (is_postgres_url(url)) {
    // libpq takes the URL as it is (query parameters such as options=-csearch_path%3DNAME too).
    auto store = PostgresStore::open(url);
    if (!store) return unexpected(store.error());
    return std::unique_ptr<Store>(std::move(*store));
  }
  if (!url.starts_with(kSqliteScheme)) {
    // The URL may be a mistyped PostgreSQL one: never echo a password.
    return unexpected(StoreError{
        StoreErrc::kConfig,
        "unsupported store URL '" + PostgresStore::redact_dsn(url) + "' (" + kAcceptedForms + ")"});
  }
  const std::string path = url.substr(kSqliteScheme.size());
  if (path.empty()) {
    return unexpected(StoreError{StoreErrc::kConfig,
                                 "store URL '" + url + "' names no path (" + kAcceptedForms + ")"});
  }
  if (path != ":memory:") {
    const std::filesystem::path parent = std::filesystem::path(path).parent_path();
    std::error_code ec;
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    if (ec) {
      return unexpected(StoreError{
          StoreErrc::kOpen, "cannot create directory '" + parent.string() + "': " + ec.message()});
    }
  }
  auto store = SqliteStore::open(path);
  if (!store) return unexpected(store.error());
  return std::unique_ptr<Store>(std::move(*store));
}

std::string redact_store_url(const std::string& url) {
  if (ArangoStore::is_arango_url(url)) return ArangoStore::redact_url(url);
  return PostgresStore::redact_dsn(url);
}

}  // namespace sf::store
