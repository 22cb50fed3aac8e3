// A client for ArangoDB's HTTP API (http or https), the transport under ArangoStore
// (store/arango_store.h). Endpoints used, per ArangoDB's HTTP API documentation
// (docs.arangodb.com / docs.arango.ai, "HTTP API"):
//
//   GET    /_db/<db>/_api/database/current              does the database exist
//   POST   /_db/_system/_api/database                   {"name"}: create it
//   POST   /_db/<db>/_api/collection                    {"name","type"}: 2 document, 3 edge
//   PUT    /_db/<db>/_api/collection/C/truncate         remove every document of C
//   POST   /_db/<db>/_api/index?collection=C            {"type":"persistent","fields","unique"}
//   POST
//   /_db/<db>/_api/import?collection=C&type=documents&onDuplicate=..&complete=true&details=true
//                                                       JSON Lines body; answer counts created,
//                                                       errors, empty, updated, ignored, details
//   POST   /_db/<db>/_api/document/C?overwriteMode=..   JSON array body; one result per document
//   GET    /_db/<db>/_api/document/C/<key>
//   DELETE /_db/<db>/_api/document/C/<key>
//   POST   /_db/<db>/_api/cursor                        {"query","bindVars","batchSize"}
//   POST   /_db/<db>/_api/cursor/<id>                   next batch (PUT before 3.11: see
//                                                       ArangoConfig::cursor_next_method)
//   DELETE /_db/<db>/_api/cursor/<id>                   a cursor abandoned before its end
//   POST   /_db/<db>/_api/gharial                       {"name","edgeDefinitions"}
//   POST   /_db/<db>/_api/gharial/<graph>/vertex/C      add a vertex
//   POST   /_db/<db>/_api/gharial/<graph>/edge/C        add an edge ({"_from","_to",...})
//
// Errors: any HTTP status >= 400 (or a body with "error":true) becomes an ArangoError carrying
// the status and ArangoDB's errorNum and errorMessage; a request that got no answer has
// http_status 0. Requests that are safe to repeat (reads, imports and writes that replace by
// _key, creations whose "already exists" answer is accepted) are retried after connection errors
// and 503s with exponential backoff; cursor continuations are not (they advance the cursor).
//
// Credentials travel only in the Authorization header (HTTP basic auth); they are never logged
// and never part of an error message. Thread-safe: each request borrows a kept-alive connection
// from a small pool.
#pragma once

#include <simdjson.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace sf::runtime {
class HttpClient;
}

namespace sf::store {

// ArangoDB error numbers this code tells apart (ArangoDB's "Error codes" reference).
namespace arango_errnum {
inline constexpr int kForbidden = 11;
inline constexpr int kConflict = 1200;
inline constexpr int kDocumentNotFound = 1202;
inline constexpr int kDataSourceNotFound = 1203;  // collection or view not found
inline constexpr int kDuplicateName = 1207;
inline constexpr int kUniqueConstraintViolated = 1210;
inline constexpr int kDocumentKeyBad = 1221;
inline constexpr int kDatabaseNotFound = 1228;
inline constexpr int kCursorNotFound = 1600;
inline constexpr int kGraphNotFound = 1924;
inline constexpr int kGraphDuplicate = 1925;
}  // namespace arango_errnum

struct ArangoConfig {
  std::string url = "http://127.0.0.1:8529";  // ARANGO_URL
  std::string database = "streamforge";       // ARANGO_DB
  std::string user;                           // ARANGO_USER; empty: no Authorization header
  std::string password;                       // ARANGO_PASSWORD
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};
  int max_attempts = 3;                          // for requests safe to repeat
  std::chrono::milliseconds retry_backoff{100};  // doubled after each failed attempt
  // Verb for "read the next batch": POST since ArangoDB 3.11 (PUT deprecated there), PUT before.
  std::string cursor_next_method = "POST";

  // The defaults overridden by ARANGO_URL, ARANGO_DB, ARANGO_USER, ARANGO_PASSWORD.
  static ArangoConfig from_env();
};

struct ArangoError {
  int http_status = 0;  // 0: no HTTP answer (refused, timeout, malformed)
  int error_num = 0;    // ArangoDB's errorNum, 0 when the body had none
  std::string message;  // "POST /_db/d/_api/import: HTTP 409 errorNum 1210: unique constraint ..."
};

template <class T>
using ArangoResult = Result<T, ArangoError>;

enum class OnDuplicate : std::uint8_t { kError, kUpdate, kReplace, kIgnore };
enum class OverwriteMode : std::uint8_t { kIgnore, kReplace, kUpdate, kConflict };
enum class CollectionType : std::uint8_t { kDocument = 2, kEdge = 3 };

const char* to_string(OnDuplicate mode);
const char* to_string(OverwriteMode mode);

// The counts of a bulk import's answer.
struct ImportCounts {
  std::int64_t created = 0;
  std::int64_t errors = 0;
  std::int64_t empty = 0;
  std::int64_t updated = 0;
  std::int64_t ignored = 0;
  std::vector<std::string> details;
};

struct EdgeDefinition {
  std::string collection;
  std::vector<std::string> from;
  std::vector<std::string> to;
};

// Percent-encodes one path segment or query value (RFC 3986 unreserved characters stay).
std::string arango_url_encode(std::string_view text);

class ArangoClient {
 public:
  // Fails (http_status 0) when config.url is not an http URL.
  static ArangoResult<std::unique_ptr<ArangoClient>> create(ArangoConfig config);
  ~ArangoClient();
  ArangoClient(const ArangoClient&) = delete;
  ArangoClient& operator=(const ArangoClient&) = delete;

  const ArangoConfig& config() const { return config_; }

  // Creates the database through _system unless it exists. True when this call created it.
  ArangoResult<bool> ensure_database();
  // True when created, false when it existed already (409, errorNum 1207).
  ArangoResult<bool> create_collection(const std::string& name,
                                       CollectionType type = CollectionType::kDocument);
  // Removes every document of the collection, keeping it, its type and its indexes.
  ArangoResult<void> truncate_collection(const std::string& name);
  // Idempotent: an identical index that exists already is answered with 200.
  ArangoResult<void> ensure_persistent_index(const std::string& collection,
                                             const std::vector<std::string>& fields, bool unique);

  // Bulk import of JSON Lines (one object per line), with complete=true and details=true: any
  // document error fails the request; an answer that still counts errors, or fewer documents than
  // `expected_documents` (when > 0), is an error too, so nothing is lost silently.
  ArangoResult<ImportCounts> import_documents(const std::string& collection, std::string_view jsonl,
                                              OnDuplicate on_duplicate,
                                              std::size_t expected_documents);
  // Batch insert of a JSON array of documents; every per-document error is reported. Returns the
  // number of documents written.
  ArangoResult<std::size_t> insert_documents(const std::string& collection,
                                             std::string_view json_array, OverwriteMode mode);
  // The document as JSON, nullopt when it (or its collection) does not exist.
  ArangoResult<std::optional<std::string>> get_document(const std::string& collection,
                                                        const std::string& key);
  // Removes one document: true when removed, false when it (or its collection) did not exist.
  ArangoResult<bool> remove_document(const std::string& collection, const std::string& key);

  // Runs an AQL query and calls `on_document` for every result in order, fetching further
  // batches while hasMore. `bind_vars_json` is a JSON object. A callback error stops the reading
  // (the cursor is deleted) and comes back as the message. Returns the number of results.
  using DocumentCallback = std::function<Result<void, std::string>(simdjson::dom::element)>;
  ArangoResult<std::size_t> query(std::string_view aql, std::string_view bind_vars_json,
                                  std::size_t batch_size, const DocumentCallback& on_document);

  // Named graphs (gharial). create_graph is true when created, false when it existed (1925).
  ArangoResult<bool> create_graph(const std::string& name,
                                  const std::vector<EdgeDefinition>& edge_definitions);
  ArangoResult<void> add_vertex(const std::string& graph, const std::string& collection,
                                std::string_view document_json);
  // `document_json` must carry "_from" and "_to" ("collection/key").
  ArangoResult<void> add_edge(const std::string& graph, const std::string& collection,
                              std::string_view document_json);

  struct Response {
    int status = 0;
    std::string body;
  };
  // One request to `path` (e.g. "/_db/streamforge/_api/version"); an HTTP error status is an
  // ArangoError. `idempotent` allows retries.
  ArangoResult<Response> request(std::string_view method, const std::string& path,
                                 std::string_view body, bool idempotent);

  // "/_db/<database>"
  std::string db_path() const;

 private:
  explicit ArangoClient(ArangoConfig config);

  std::unique_ptr<runtime::HttpClient> borrow();
  void give_back(std::unique_ptr<runtime::HttpClient> client);

  ArangoConfig config_;
  std::string base_;           // "http://host:port" without a trailing slash
  std::string authorization_;  // "Basic ..." or empty
  std::mutex pool_mutex_;
  std::vector<std::unique_ptr<runtime::HttpClient>> pool_;
};

}  // namespace sf::store
