#include "store/arango_client.h"

#include <cstdlib>
#include <thread>
#include <utility>

#include "runtime/http_client.h"
#include "runtime/json_writer.h"
#include "runtime/log.h"

namespace sf::store {
namespace {

constexpr std::string_view kLogger = "arango";

std::string base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == in.size()) {
    const unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const unsigned v =
        (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

// The path without its query, for messages (keys and collection names are not secret).
std::string_view path_only(std::string_view path) {
  return path.substr(0, path.find('?'));
}

ArangoError error_from_response(std::string_view method, std::string_view path, int status,
                                std::string_view body) {
  ArangoError error{.http_status = status, .error_num = 0, .message = {}};
  std::string detail;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(body.data(), body.size()).get(doc) == simdjson::SUCCESS && doc.is_object()) {
    std::int64_t num = 0;
    if (doc["errorNum"].get_int64().get(num) == simdjson::SUCCESS) {
      error.error_num = static_cast<int>(num);
    }
    std::string_view msg;
    if (doc["errorMessage"].get_string().get(msg) == simdjson::SUCCESS) detail = msg;
  } else {
    detail = body.substr(0, 200);
  }
  error.message =
      std::string(method) + " " + std::string(path_only(path)) + ": HTTP " + std::to_string(status);
  if (error.error_num != 0) error.message += " errorNum " + std::to_string(error.error_num);
  if (!detail.empty()) error.message += ": " + detail;
  return error;
}

ArangoError local_error(std::string message) {
  return ArangoError{.http_status = 0, .error_num = 0, .message = std::move(message)};
}

}  // namespace

const char* to_string(OnDuplicate mode) {
  switch (mode) {
    case OnDuplicate::kError:
      return "error";
    case OnDuplicate::kUpdate:
      return "update";
    case OnDuplicate::kReplace:
      return "replace";
    case OnDuplicate::kIgnore:
      return "ignore";
  }
  return "error";
}

const char* to_string(OverwriteMode mode) {
  switch (mode) {
    case OverwriteMode::kIgnore:
      return "ignore";
    case OverwriteMode::kReplace:
      return "replace";
    case OverwriteMode::kUpdate:
      return "update";
    case OverwriteMode::kConflict:
      return "conflict";
  }
  return "conflict";
}

std::string arango_url_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

ArangoConfig ArangoConfig::from_env() {
  ArangoConfig config;
  auto env = [](const char* name) -> std::optional<std::string> {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') return std::nullopt;
    return std::string(value);
  };
  if (auto v = env("ARANGO_URL")) config.url = *v;
  if (auto v = env("ARANGO_DB")) config.database = *v;
  if (auto v = env("ARANGO_USER")) config.user = *v;
  if (auto v = env("ARANGO_PASSWORD")) config.password = *v;
  return config;
}

ArangoResult<std::unique_ptr<ArangoClient>> ArangoClient::create(ArangoConfig config) {
  auto parsed = runtime::parse_http_url(config.url);
  if (!parsed) return unexpected(local_error("bad ArangoDB URL: " + parsed.error()));
  if (config.database.empty()) return unexpected(local_error("no ArangoDB database named"));
  return std::unique_ptr<ArangoClient>(new ArangoClient(std::move(config)));
}

ArangoClient::ArangoClient(ArangoConfig config) : config_(std::move(config)) {
  auto parsed = runtime::parse_http_url(config_.url);
  const bool v6 = parsed->host.find(':') != std::string::npos;
  base_ = std::string(parsed->tls ? "https://" : "http://") +
          (v6 ? "[" + parsed->host + "]" : parsed->host) + ":" + std::to_string(parsed->port);
  if (!config_.user.empty()) {
    authorization_ = "Basic " + base64(config_.user + ":" + config_.password);
  }
}

ArangoClient::~ArangoClient() = default;

std::string ArangoClient::db_path() const {
  return "/_db/" + arango_url_encode(config_.database);
}

std::unique_ptr<runtime::HttpClient> ArangoClient::borrow() {
  std::lock_guard lock(pool_mutex_);
  if (pool_.empty()) return std::make_unique<runtime::HttpClient>();
  auto client = std::move(pool_.back());
  pool_.pop_back();
  return client;
}

void ArangoClient::give_back(std::unique_ptr<runtime::HttpClient> client) {
  std::lock_guard lock(pool_mutex_);
  if (pool_.size() < 8) pool_.push_back(std::move(client));
}

ArangoResult<ArangoClient::Response> ArangoClient::request(std::string_view method,
                                                           const std::string& path,
                                                           std::string_view body, bool idempotent) {
  runtime::HttpHeaders headers;
  if (!authorization_.empty()) headers.add("Authorization", authorization_);
  if (!body.empty()) headers.add("Content-Type", "application/json");
  headers.add("Accept", "application/json");
  const std::string url = base_ + path;
  const int attempts = idempotent ? std::max(1, config_.max_attempts) : 1;
  auto backoff = config_.retry_backoff;
  ArangoError last;
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    auto client = borrow();
    auto response = client->request(method, url, body, headers, config_.timeout);
    if (!response) {
      client->close();  // a half-used connection is not reused
      last = local_error(std::string(method) + " " + std::string(path_only(path)) +
                         ": no answer from ArangoDB at " + base_ + ": " + response.error());
    } else {
      give_back(std::move(client));
      const int status = response->status;
      log::debug(kLogger, "request",
                 {{"method", method}, {"path", path_only(path)}, {"status", status}});
      if (status < 400) return Response{status, std::move(response->body)};
      last = error_from_response(method, path, status, response->body);
      if (status != 503) return unexpected(std::move(last));
    }
    if (attempt < attempts) {
      log::warn(kLogger, "retrying",
                {{"method", method}, {"path", path_only(path)}, {"error", last.message}});
      std::this_thread::sleep_for(backoff);
      backoff *= 2;
    }
  }
  return unexpected(std::move(last));
}

ArangoResult<bool> ArangoClient::ensure_database() {
  auto current = request("GET", db_path() + "/_api/database/current", {}, true);
  if (current) return false;
  if (current.error().http_status != 404) return unexpected(current.error());
  runtime::JsonWriter body;
  body.begin_object().field("name", config_.database).end_object();
  auto created = request("POST", "/_db/_system/_api/database", body.view(), true);
  if (created) return true;
  if (created.error().http_status == 409) return false;  // created meanwhile
  return unexpected(created.error());
}

ArangoResult<bool> ArangoClient::create_collection(const std::string& name, CollectionType type) {
  runtime::JsonWriter body;
  body.begin_object().field("name", name).field("type", static_cast<int>(type)).end_object();
  auto created = request("POST", db_path() + "/_api/collection", body.view(), true);
  if (created) return true;
  if (created.error().http_status == 409 &&
      created.error().error_num == arango_errnum::kDuplicateName) {
    return false;
  }
  return unexpected(created.error());
}

ArangoResult<void> ArangoClient::truncate_collection(const std::string& name) {
  auto truncated = request(
      "PUT", db_path() + "/_api/collection/" + arango_url_encode(name) + "/truncate", {}, true);
  if (!truncated) return unexpected(truncated.error());
  return {};
}

ArangoResult<void> ArangoClient::ensure_persistent_index(const std::string& collection,
                                                         const std::vector<std::string>& fields,
                                                         bool unique) {
  runtime::JsonWriter body;
  body.begin_object().field("type", "persistent").key("fields").begin_array();
  for (const std::string& f : fields) body.value(f);
  body.end_array().field("unique", unique).end_object();
  auto created =
      request("POST", db_path() + "/_api/index?collection=" + arango_url_encode(collection),
              body.view(), true);
  if (!created) return unexpected(created.error());
  return {};
}

ArangoResult<ImportCounts> ArangoClient::import_documents(const std::string& collection,
                                                          std::string_view jsonl,
                                                          OnDuplicate on_duplicate,
                                                          std::size_t expected_documents) {
  const std::string path = db_path() + "/_api/import?collection=" + arango_url_encode(collection) +
                           "&type=documents&onDuplicate=" + to_string(on_duplicate) +
                           "&complete=true&details=true";
  // Safe to repeat only when a second run of the same documents lands on the same state.
  const bool idempotent = on_duplicate != OnDuplicate::kError;
  auto response = request("POST", path, jsonl, idempotent);
  if (!response) return unexpected(response.error());
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(response->body).get(doc) != simdjson::SUCCESS || !doc.is_object()) {
    return unexpected(
        ArangoError{response->status, 0, "POST /_api/import: answer is not a JSON object"});
  }
  ImportCounts counts;
  auto count = [&](const char* name, std::int64_t* out) -> bool {
    return doc[name].get_int64().get(*out) == simdjson::SUCCESS;
  };
  if (!count("created", &counts.created) || !count("errors", &counts.errors) ||
      !count("empty", &counts.empty) || !count("updated", &counts.updated) ||
      !count("ignored", &counts.ignored)) {
    return unexpected(ArangoError{response->status, 0,
                                  "POST /_api/import: answer lacks created/errors/empty/updated/"
                                  "ignored counts"});
  }
  simdjson::dom::array details;
  if (doc["details"].get_array().get(details) == simdjson::SUCCESS) {
    for (simdjson::dom::element d : details) {
      std::string_view text;
      if (d.get_string().get(text) == simdjson::SUCCESS) counts.details.emplace_back(text);
    }
  }
  if (counts.errors > 0 || counts.empty > 0) {
    std::string message = "POST /_api/import into " + collection + ": " +
                          std::to_string(counts.errors) + " document errors, " +
                          std::to_string(counts.empty) + " empty lines";
    for (std::size_t i = 0; i < counts.details.size() && i < 3; ++i) {
      message += "; " + counts.details[i];
    }
    return unexpected(ArangoError{response->status, 0, std::move(message)});
  }
  const std::int64_t accounted = counts.created + counts.updated + counts.ignored;
  if (expected_documents > 0 && accounted != static_cast<std::int64_t>(expected_documents)) {
    return unexpected(ArangoError{
        response->status, 0,
        "POST /_api/import into " + collection + ": sent " + std::to_string(expected_documents) +
            " documents, ArangoDB accounted for " + std::to_string(accounted)});
  }
  return counts;
}

ArangoResult<std::size_t> ArangoClient::insert_documents(const std::string& collection,
                                                         std::string_view json_array,
                                                         OverwriteMode mode) {
  const std::string path = db_path() + "/_api/document/" + arango_url_encode(collection) +
                           "?overwriteMode=" + to_string(mode);
  auto response = request("POST", path, json_array, mode != OverwriteMode::kConflict);
  if (!response) return unexpected(response.error());
  simdjson::dom::parser parser;
  simdjson::dom::array results;
  if (parser.parse(response->body).get_array().get(results) != simdjson::SUCCESS) {
    return unexpected(
        ArangoError{response->status, 0, "POST /_api/document: answer is not a JSON array"});
  }
  std::size_t written = 0;
  std::size_t failed = 0;
  std::string first_error;
  for (simdjson::dom::element r : results) {
    bool is_error = false;
    if (r["error"].get_bool().get(is_error) == simdjson::SUCCESS && is_error) {
      ++failed;
      if (first_error.empty()) {
        std::int64_t num = 0;
        std::string_view msg;
        if (r["errorNum"].get_int64().get(num) != simdjson::SUCCESS) num = 0;
        if (r["errorMessage"].get_string().get(msg) != simdjson::SUCCESS) msg = {};
        first_error = "errorNum " + std::to_string(num) + ": " + std::string(msg);
      }
    } else {
      ++written;
    }
  }
  if (failed > 0) {
    return unexpected(ArangoError{
        response->status, 0,
        "POST /_api/document/" + collection + ": " + std::to_string(failed) + " of " +
            std::to_string(failed + written) + " documents failed, first " + first_error});
  }
  return written;
}

ArangoResult<std::optional<std::string>> ArangoClient::get_document(const std::string& collection,
                                                                    const std::string& key) {
  auto response = request(
      "GET",
      db_path() + "/_api/document/" + arango_url_encode(collection) + "/" + arango_url_encode(key),
      {}, true);
  if (response) return std::optional<std::string>(std::move(response->body));
  const ArangoError& e = response.error();
  if (e.http_status == 404 && (e.error_num == arango_errnum::kDocumentNotFound ||
                               e.error_num == arango_errnum::kDataSourceNotFound)) {
    return std::optional<std::string>();
  }
  return unexpected(e);
}

ArangoResult<bool> ArangoClient::remove_document(const std::string& collection,
                                                 const std::string& key) {
  auto response = request(
      "DELETE",
      db_path() + "/_api/document/" + arango_url_encode(collection) + "/" + arango_url_encode(key),
      {}, true);
  if (response) return true;
  const ArangoError& e = response.error();
  if (e.http_status == 404 && (e.error_num == arango_errnum::kDocumentNotFound ||
                               e.error_num == arango_errnum::kDataSourceNotFound)) {
    return false;
  }
  return unexpected(e);
}

ArangoResult<std::size_t> ArangoClient::query(std::string_view aql, std::string_view bind_vars_json,
                                              std::size_t batch_size,
                                              const DocumentCallback& on_document) {
  runtime::JsonWriter body;
  body.begin_object().field("query", aql).field_raw("bindVars", bind_vars_json);
  body.field("batchSize", static_cast<std::uint64_t>(batch_size == 0 ? 1000 : batch_size));
  body.end_object();
  const std::string cursor_path = db_path() + "/_api/cursor";
  auto response = request("POST", cursor_path, body.view(), true);
  std::size_t count = 0;
  simdjson::dom::parser parser;
  while (true) {
    if (!response) return unexpected(response.error());
    simdjson::dom::element doc;
    simdjson::dom::array result;
    if (parser.parse(response->body).get(doc) != simdjson::SUCCESS ||
        doc["result"].get_array().get(result) != simdjson::SUCCESS) {
      return unexpected(
          ArangoError{response->status, 0, "POST /_api/cursor: answer has no result array"});
    }
    bool has_more = false;
    if (doc["hasMore"].get_bool().get(has_more) != simdjson::SUCCESS) has_more = false;
    std::string id;
    if (has_more) {
      std::string_view id_view;
      if (doc["id"].get_string().get(id_view) != simdjson::SUCCESS || id_view.empty()) {
        return unexpected(
            ArangoError{response->status, 0, "POST /_api/cursor: hasMore without a cursor id"});
      }
      id = id_view;
    }
    for (simdjson::dom::element item : result) {
      if (auto ok = on_document(item); !ok) {
        if (has_more) (void)request("DELETE", cursor_path + "/" + arango_url_encode(id), {}, true);
        return unexpected(local_error("decoding a query result: " + ok.error()));
      }
      ++count;
    }
    if (!has_more) return count;
    response =
        request(config_.cursor_next_method, cursor_path + "/" + arango_url_encode(id), {}, false);
  }
}

ArangoResult<bool> ArangoClient::create_graph(const std::string& name,
                                              const std::vector<EdgeDefinition>& edge_definitions) {
  runtime::JsonWriter body;
  body.begin_object().field("name", name).key("edgeDefinitions").begin_array();
  for (const EdgeDefinition& def : edge_definitions) {
    body.begin_object().field("collection", def.collection).key("from").begin_array();
    for (const std::string& c : def.from) body.value(c);
    body.end_array().key("to").begin_array();
    for (const std::string& c : def.to) body.value(c);
    body.end_array().end_object();
  }
  body.end_array().end_object();
  auto created = request("POST", db_path() + "/_api/gharial", body.view(), true);
  if (created) return true;
  if (created.error().http_status == 409 &&
      created.error().error_num == arango_errnum::kGraphDuplicate) {
    return false;
  }
  return unexpected(created.error());
}

ArangoResult<void> ArangoClient::add_vertex(const std::string& graph, const std::string& collection,
                                            std::string_view document_json) {
  auto r = request("POST",
                   db_path() + "/_api/gharial/" + arango_url_encode(graph) + "/vertex/" +
                       arango_url_encode(collection),
                   document_json, false);
  if (!r) return unexpected(r.error());
  return {};
}

ArangoResult<void> ArangoClient::add_edge(const std::string& graph, const std::string& collection,
                                          std::string_view document_json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string_view from;
  std::string_view to;
  if (parser.parse(document_json.data(), document_json.size()).get(doc) != simdjson::SUCCESS ||
      doc["_from"].get_string().get(from) != simdjson::SUCCESS ||
      doc["_to"].get_string().get(to) != simdjson::SUCCESS) {
    return unexpected(local_error("an edge needs string _from and _to attributes"));
  }
  auto r = request("POST",
                   db_path() + "/_api/gharial/" + arango_url_encode(graph) + "/edge/" +
                       arango_url_encode(collection),
                   document_json, false);
  if (!r) return unexpected(r.error());
  return {};
}

}  // namespace sf::store
