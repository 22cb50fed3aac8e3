#include "store/store.h"

#include <cmath>
#include <filesystem>
#include <string_view>
#include <system_error>
#include <unordered_set>

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

StoreResult<void> check_graph(const GraphRecord& graph) {
  auto bad = [&graph](const std::string& why) -> StoreResult<void> {
    return unexpected(StoreError{StoreErrc::kConfig, "graph '" + graph.name + "': " + why});
  };
  if (!valid_graph_name(graph.name))
    return bad("the name must be 1-200 of [A-Za-z0-9_-], starting with a letter");
  std::unordered_set<std::int64_t> ids;
  ids.reserve(graph.nodes.size());
  const std::size_t features = graph.nodes.empty() ? 0 : graph.nodes.front().features.size();
  for (const GraphNodeRecord& n : graph.nodes) {
    if (!ids.insert(n.node_id).second)
      return bad("node id " + std::to_string(n.node_id) + " twice");
    if (n.features.size() != features)
      return bad("node " + std::to_string(n.node_id) + " has " + std::to_string(n.features.size()) +
                 " features, the first node " + std::to_string(features));
    if (n.direction < -1 || n.direction > 2)
      return bad("node " + std::to_string(n.node_id) + ": direction must be -1..2");
    for (float v : n.features)
      if (!std::isfinite(v))
        return bad("node " + std::to_string(n.node_id) + " has a non-finite feature");
    if (n.volatility && !std::isfinite(*n.volatility))
      return bad("node " + std::to_string(n.node_id) + " has a non-finite volatility");
  }
  for (const GraphEdgeRecord& e : graph.edges) {
    if (!std::isfinite(e.weight))
      return bad("edge " + std::to_string(e.src) + " -> " + std::to_string(e.dst) +
                 " has a non-finite weight");
    if (e.kind != "temporal" && e.kind != "similarity" && e.kind != "correlation")
      return bad("edge kind '" + e.kind + "' (temporal, similarity or correlation)");
    if (!ids.contains(e.src) || !ids.contains(e.dst))
      return bad("edge " + std::to_string(e.src) + " -> " + std::to_string(e.dst) +
                 " names a node that is not in the graph");
  }
  return {};
}

std::string redact_store_url(const std::string& url) {
  if (ArangoStore::is_arango_url(url)) return ArangoStore::redact_url(url);
  return PostgresStore::redact_dsn(url);
}

}  // namespace sf::store

namespace sf {

bool valid_graph_name(std::string_view name) {
  if (name.empty() || name.size() > 200) return false;
  auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  if (!letter(name.front())) return false;
  for (char c : name)
    if (!letter(c) && !(c >= '0' && c <= '9') && c != '_' && c != '-') return false;
  return true;
}

}  // namespace sf
