// A contract server for ArangoDB's HTTP API, for the ArangoContract* tests. No ArangoDB server can
// run on these machines, so the ArangoDB store is tested against this local HTTP server on
// 127.0.0.1 instead. It is a test double, not a database:
//  - it checks every request against ArangoDB's documented HTTP API (method, path, query
//    parameters and their values, required body attributes and their types, JSON validity, the
//    basic-auth header) and records a violation for anything else, which the tests assert to be
//    empty; an undocumented request is also answered 404/400 so the caller fails;
//  - it keeps databases, collections (type 2 document / 3 edge), persistent index definitions,
//    documents (per collection, by _key), named graphs and cursors in memory, so writes and reads
//    round-trip; /_api/import (onDuplicate error|update|replace|ignore, complete, details; into
//    an edge collection every document needs _from/_to), batch /_api/document (overwriteMode
//    ignore|replace|update|conflict), DELETE /_api/document/<c>/<key> and
//    PUT /_api/collection/<c>/truncate follow the documented semantics;
//  - for /_api/cursor it recognises exactly the AQL strings ArangoStore sends (asserting their
//    bind variables) and answers from memory with batch paging (hasMore, id, next batch through
//    POST or PUT /_api/cursor/<id>, DELETE);
//  - faults can be injected: a given answer to the next N requests matching a method and path.
// Answers follow ArangoDB's shapes: {"error":true,"errorNum":N,"errorMessage":"..","code":S}.
#pragma once

#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "runtime/http_server.h"
#include "runtime/json_writer.h"

namespace sf::store::testing {

class ArangoContractServer {
 public:
  struct Recorded {
    std::string method;
    std::string path;  // percent-decoded, without the query
    std::multimap<std::string, std::string, std::less<>> query;
    std::string body;  // first 1 MiB
  };
  struct IndexDef {
    std::vector<std::string> fields;
    bool unique = false;
  };
  struct Graph {
    std::string name;
    std::string edge_definitions;  // as received (minified)
    std::map<std::string, std::pair<std::set<std::string>, std::set<std::string>>> edges;
  };

  // An empty user: no auth required.
  explicit ArangoContractServer(std::string user = "sf", std::string password = "s3cret-pw")
      : user_(std::move(user)), password_(std::move(password)) {
    dbs_["_system"];
    runtime::HttpServerOptions options;
    options.threads = 4;
    options.max_body_bytes = 256u << 20;
    server_ = std::make_unique<runtime::HttpServer>(options);
    for (const char* method : {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"}) {
      server_->route(method, "/{rest...}",
                     [this](const runtime::HttpRequest& r) { return dispatch(r); });
    }
    auto started = server_->start();
    if (!started) throw std::runtime_error("contract server: " + started.error());
  }
  ~ArangoContractServer() { stop(); }

  void stop() {
    if (server_) server_->stop();
  }
  std::uint16_t port() const { return server_->port(); }
  std::string http_url() const { return server_->base_url(); }
  // arango://user:password@127.0.0.1:port/db[?params]
  std::string store_url(const std::string& db = "streamforge",
                        const std::string& params = "") const {
    std::string url = "arango://";
    if (!user_.empty()) url += user_ + ":" + password_ + "@";
    url += "127.0.0.1:" + std::to_string(port()) + "/" + db;
    if (!params.empty()) url += "?" + params;
    return url;
  }
  const std::string& password() const { return password_; }

  std::vector<std::string> violations() const {
    std::lock_guard lock(mutex_);
    return violations_;
  }
  std::vector<Recorded> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  // Requests whose "METHOD path" starts with `prefix`.
  std::size_t count_requests(std::string_view method, std::string_view path_prefix) const {
    std::lock_guard lock(mutex_);
    return static_cast<std::size_t>(std::count_if(requests_.begin(), requests_.end(), [&](auto& r) {
      return r.method == method && std::string_view(r.path).starts_with(path_prefix);
    }));
  }
  void clear_requests() {
    std::lock_guard lock(mutex_);
    requests_.clear();
  }

  bool has_database(const std::string& db) const {
    std::lock_guard lock(mutex_);
    return dbs_.contains(db);
  }
  std::vector<std::string> collections(const std::string& db) const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    if (auto it = dbs_.find(db); it != dbs_.end()) {
      for (const auto& [name, c] : it->second.collections) out.push_back(name);
    }
    return out;
  }
  int collection_type(const std::string& db, const std::string& coll) const {
    std::lock_guard lock(mutex_);
    const Collection* c = find(db, coll);
    return c ? c->type : 0;
  }
  std::vector<IndexDef> indexes(const std::string& db, const std::string& coll) const {
    std::lock_guard lock(mutex_);
    const Collection* c = find(db, coll);
    return c ? c->indexes : std::vector<IndexDef>{};
  }
  std::size_t document_count(const std::string& db, const std::string& coll) const {
    std::lock_guard lock(mutex_);
    const Collection* c = find(db, coll);
    return c ? c->docs.size() : 0;
  }
  std::vector<std::string> keys(const std::string& db, const std::string& coll) const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    if (const Collection* c = find(db, coll)) {
      for (const auto& [k, d] : c->docs) out.push_back(k);
    }
    return out;
  }
  // The stored document as JSON (with _key, _id, _rev).
  std::optional<std::string> document(const std::string& db, const std::string& coll,
                                      const std::string& key) const {
    std::lock_guard lock(mutex_);
    const Collection* c = find(db, coll);
    if (!c) return std::nullopt;
    auto it = c->docs.find(key);
    if (it == c->docs.end()) return std::nullopt;
    return render(it->second);
  }
  std::optional<Graph> graph(const std::string& db, const std::string& name) const {
    std::lock_guard lock(mutex_);
    auto it = dbs_.find(db);
    if (it == dbs_.end()) return std::nullopt;
    auto g = it->second.graphs.find(name);
    if (g == it->second.graphs.end()) return std::nullopt;
    return g->second;
  }
  std::size_t open_cursors() const {
    std::lock_guard lock(mutex_);
    return cursors_.size();
  }

  // The next `times` requests with this method whose path contains `path_part` get this answer.
  void inject(std::string method, std::string path_part, int status, std::string body,
              int times = 1) {
    std::lock_guard lock(mutex_);
    faults_.push_back({std::move(method), std::move(path_part), status, std::move(body), times});
  }
  // ArangoDB's error body.
  static std::string error_body(int status, int error_num, std::string_view message) {
    runtime::JsonWriter w;
    w.begin_object()
        .field("code", status)
        .field("error", true)
        .field("errorMessage", message)
        .field("errorNum", error_num)
        .end_object();
    return w.take();
  }

 private:
  using Attrs = std::vector<std::pair<std::string, std::string>>;  // name -> raw JSON value
  struct Collection {
    int type = 2;
    std::map<std::string, Attrs> docs;
    std::vector<IndexDef> indexes;
  };
  struct Database {
    std::map<std::string, Collection> collections;
    std::map<std::string, Graph> graphs;
  };
  struct Cursor {
    std::vector<std::string> docs;
    std::size_t pos = 0;
    std::size_t batch = 1000;
  };
  struct Fault {
    std::string method, path_part;
    int status;
    std::string body;
    int times;
  };
  using Response = runtime::HttpResponse;
  using Request = runtime::HttpRequest;

  // --- helpers (mutex held) ---------------------------------------------------------------

  const Collection* find(const std::string& db, const std::string& coll) const {
    auto it = dbs_.find(db);
    if (it == dbs_.end()) return nullptr;
    auto c = it->second.collections.find(coll);
    return c == it->second.collections.end() ? nullptr : &c->second;
  }
  Collection* find(const std::string& db, const std::string& coll) {
    return const_cast<Collection*>(std::as_const(*this).find(db, coll));
  }

  static Response error(int status, int num, std::string_view message) {
    return Response::json(status, error_body(status, num, message));
  }
  Response violation(const Request& r, std::string what) {
    violations_.push_back(r.method + " " + r.target + ": " + what);
    return error(400, 10, "contract server: undocumented request: " + what);
  }

  static bool legal_key(std::string_view key) {
    if (key.empty() || key.size() > 254) return false;
    for (char ch : key) {
      const auto c = static_cast<unsigned char>(ch);
      const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      std::string_view("_-:.@()+,=;$!*'%").find(ch) != std::string_view::npos;
      if (!ok) return false;
    }
    return true;
  }
  static bool legal_name(std::string_view name) {  // traditional collection/database names
    if (name.empty() || name.size() > 256) return false;
    if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z'))) return false;
    for (char c : name) {
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '_' || c == '-')) {
        return false;
      }
    }
    return true;
  }

  static std::string render(const Attrs& attrs) {
    std::string out = "{";
    for (std::size_t i = 0; i < attrs.size(); ++i) {
      if (i) out += ',';
      runtime::append_json_string(out, attrs[i].first);
      out += ':';
      out += attrs[i].second;
    }
    out += '}';
    return out;
  }
  static const std::string* attr(const Attrs& attrs, std::string_view name) {
    for (const auto& [k, v] : attrs) {
      if (k == name) return &v;
    }
    return nullptr;
  }
  static void set_attr(Attrs& attrs, const std::string& name, std::string value) {
    for (auto& [k, v] : attrs) {
      if (k == name) {
        v = std::move(value);
        return;
      }
    }
    attrs.emplace_back(name, std::move(value));
  }
  std::string next_rev() { return "\"_r" + std::to_string(++rev_) + "\""; }
  static std::string quoted(std::string_view s) {
    std::string out;
    runtime::append_json_string(out, s);
    return out;
  }

  // Attrs of a JSON object (system attributes _id/_rev dropped; _key kept first).
  static Attrs attrs_of(simdjson::dom::object obj) {
    Attrs attrs;
    for (auto field : obj) {
      std::string name(field.key);
      if (name == "_id" || name == "_rev") continue;
      std::string raw = simdjson::minify(field.value);
      if (name == "_key") {
        attrs.insert(attrs.begin(), {std::move(name), std::move(raw)});
      } else {
        attrs.emplace_back(std::move(name), std::move(raw));
      }
    }
    return attrs;
  }

  // A comparable value (AQL order: null < bool < number < string < array/object).
  using Value = std::variant<std::monostate, bool, double, std::string>;
  static Value value_of(simdjson::dom::element e) {
    switch (e.type()) {
      case simdjson::dom::element_type::NULL_VALUE:
        return std::monostate{};
      case simdjson::dom::element_type::BOOL:
        return bool(e.get_bool().value_unsafe());
      case simdjson::dom::element_type::INT64:
      case simdjson::dom::element_type::UINT64:
      case simdjson::dom::element_type::DOUBLE:
        return e.get_double().value_unsafe();
      case simdjson::dom::element_type::STRING:
        return std::string(e.get_string().value_unsafe());
      default:
        return std::string("\x7f") + simdjson::minify(e);
    }
  }
  static Value value_of_raw(simdjson::dom::parser& parser, const std::string* raw) {
    if (raw == nullptr) return std::monostate{};
    simdjson::dom::element e;
    if (parser.parse(*raw).get(e) != simdjson::SUCCESS) return std::monostate{};
    return value_of(e);
  }

  // --- dispatch -------------------------------------------------------------------------

  Response dispatch(const Request& r) {
    std::lock_guard lock(mutex_);
    requests_.push_back(Recorded{r.method, r.path, r.query, r.body.substr(0, 1u << 20)});
    for (auto it = faults_.begin(); it != faults_.end(); ++it) {
      if (it->method == r.method && r.path.find(it->path_part) != std::string::npos) {
        Response injected = Response::json(it->status, it->body);
        if (--it->times <= 0) faults_.erase(it);
        return injected;
      }
    }
    if (!user_.empty()) {
      const std::string expected = "Basic " + b64(user_ + ":" + password_);
      auto got = r.header("Authorization");
      if (!got || *got != expected) {
        return error(401, 11, "not authorized to execute this request");
      }
    }
    // /_db/<db>/_api/...
    std::vector<std::string_view> seg;
    std::string_view p = r.path;
    while (!p.empty()) {
      if (p.front() == '/') p.remove_prefix(1);
      const std::size_t slash = p.find('/');
      seg.push_back(p.substr(0, slash));
      p = slash == std::string_view::npos ? std::string_view() : p.substr(slash);
    }
    if (seg.size() < 3 || seg[0] != "_db" || seg[2] != "_api") {
      return violation(r, "path outside /_db/<db>/_api");
    }
    const std::string db(seg[1]);
    const std::vector<std::string_view> api(seg.begin() + 3, seg.end());
    const std::string_view m = r.method;
    if (api.size() == 2 && api[0] == "database" && api[1] == "current" && m == "GET") {
      if (!check_query(r, {})) return violation(r, "unexpected query parameters");
      if (!dbs_.contains(db)) return error(404, 1228, "database not found");
      return Response::json(200, R"({"error":false,"code":200,"result":{"name":)" + quoted(db) +
                                     R"(,"id":"1","path":"","isSystem":false}})");
    }
    if (api.size() == 1 && api[0] == "database" && m == "POST") return create_database(r, db);
    if (!dbs_.contains(db)) return error(404, 1228, "database not found");
    Database& d = dbs_[db];
    if (api.size() == 1 && api[0] == "collection" && m == "POST") return create_collection(r, d);
    if (api.size() == 3 && api[0] == "collection" && api[2] == "truncate" && m == "PUT") {
      return truncate_collection(r, d, std::string(api[1]));
    }
    if (api.size() == 1 && api[0] == "index" && m == "POST") return create_index(r, d);
    if (api.size() == 1 && api[0] == "import" && m == "POST") return import(r, d);
    if (api.size() == 2 && api[0] == "document" && m == "POST") {
      return insert_documents(r, d, std::string(api[1]));
    }
    if (api.size() == 3 && api[0] == "document" && m == "GET") {
      if (!check_query(r, {})) return violation(r, "unexpected query parameters");
      auto c = d.collections.find(std::string(api[1]));
      if (c == d.collections.end()) return error(404, 1203, "collection or view not found");
      auto doc = c->second.docs.find(std::string(api[2]));
      if (doc == c->second.docs.end()) return error(404, 1202, "document not found");
      return Response::json(200, render(doc->second));
    }
    if (api.size() == 3 && api[0] == "document" && m == "DELETE") {
      return remove_document(r, d, std::string(api[1]), std::string(api[2]));
    }
    if (api.size() == 1 && api[0] == "cursor" && m == "POST") return create_cursor(r, d);
    if (api.size() == 2 && api[0] == "cursor" && (m == "POST" || m == "PUT" || m == "DELETE")) {
      return cursor_next(r, std::string(api[1]));
    }
    if (api.size() == 1 && api[0] == "gharial" && m == "POST") return create_graph(r, d);
    if (api.size() == 4 && api[0] == "gharial" && (api[2] == "vertex" || api[2] == "edge") &&
        m == "POST") {
      return graph_insert(r, d, std::string(api[1]), api[2] == "edge", std::string(api[3]));
    }
    return violation(r, "not a documented endpoint/method");
  }

  // Query parameters must be among `allowed`.
  static bool check_query(const Request& r, std::initializer_list<std::string_view> allowed) {
    for (const auto& [k, v] : r.query) {
      if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) return false;
    }
    return true;
  }
  static bool is_bool_text(std::string_view v) { return v == "true" || v == "false"; }

  // Parses a JSON body into `parser`; nullopt (and a violation) when it is not JSON.
  std::optional<simdjson::dom::element> body_json(const Request& r, simdjson::dom::parser& parser) {
    simdjson::dom::element e;
    if (parser.parse(r.body).get(e) != simdjson::SUCCESS) return std::nullopt;
    return e;
  }

  Response create_database(const Request& r, const std::string& db) {
    if (db != "_system") {
      violations_.push_back("database created outside _system");
      return error(403, 1230, "operation only allowed in system database");
    }
    if (!check_query(r, {})) return violation(r, "unexpected query parameters");
    simdjson::dom::parser parser;
    auto body = body_json(r, parser);
    std::string_view name;
    if (!body || (*body)["name"].get_string().get(name) != simdjson::SUCCESS) {
      return violation(r, "body needs a string 'name'");
    }
    simdjson::dom::object obj;
    if (body->get_object().get(obj) != simdjson::SUCCESS) return violation(r, "body not an object");
    for (auto field : obj) {
      if (field.key != "name" && field.key != "options" && field.key != "users") {
        return violation(r, "unknown body attribute " + std::string(field.key));
      }
    }
    if (!legal_name(name)) return error(400, 1229, "database name invalid");
    if (dbs_.contains(std::string(name))) return error(409, 1207, "duplicate database name");
    dbs_[std::string(name)];
    return Response::json(201, R"({"error":false,"code":201,"result":true})");
  }

  Response create_collection(const Request& r, Database& d) {
    if (!check_query(r, {"waitForSyncReplication", "enforceReplicationFactor"})) {
      return violation(r, "unexpected query parameters");
    }
    simdjson::dom::parser parser;
    auto body = body_json(r, parser);
    std::string_view name;
    if (!body || (*body)["name"].get_string().get(name) != simdjson::SUCCESS) {
      return violation(r, "body needs a string 'name'");
    }
    std::int64_t type = 2;
    if (simdjson::dom::element t; (*body)["type"].get(t) == simdjson::SUCCESS) {
      if (t.get_int64().get(type) != simdjson::SUCCESS || (type != 2 && type != 3)) {
        return violation(r, "'type' must be 2 (document) or 3 (edge)");
      }
    }
    if (!legal_name(name)) return error(400, 1208, "illegal name");
    if (d.collections.contains(std::string(name))) return error(409, 1207, "duplicate name");
    d.collections[std::string(name)].type = static_cast<int>(type);
    return Response::json(200, R"({"error":false,"code":200,"id":"1","name":)" + quoted(name) +
                                   R"(,"type":)" + std::to_string(type) + R"(,"status":3})");
  }

  // PUT /_api/collection/<name>/truncate: removes every document; type and indexes stay.
  Response truncate_collection(const Request& r, Database& d, const std::string& coll) {
    if (!check_query(r, {"waitForSync", "compact"})) {
      return violation(r, "unexpected query parameters");
    }
    for (const char* flag : {"waitForSync", "compact"}) {
      if (auto v = r.query_param(flag); v && !is_bool_text(*v)) {
        return violation(r, std::string(flag) + " must be true|false");
      }
    }
    if (!r.body.empty()) {
      simdjson::dom::parser parser;
      if (!body_json(r, parser)) return violation(r, "body is not JSON");
    }
    auto c = d.collections.find(coll);
    if (c == d.collections.end()) return error(404, 1203, "collection or view not found");
    c->second.docs.clear();
    return Response::json(200, R"({"error":false,"code":200,"id":"1","name":)" + quoted(coll) +
                                   R"(,"isSystem":false,"status":3,"type":)" +
                                   std::to_string(c->second.type) + "}");
  }

  // DELETE /_api/document/<collection>/<key>
  Response remove_document(const Request& r, Database& d, const std::string& coll,
                           const std::string& key) {
    if (!check_query(r,
                     {"waitForSync", "returnOld", "silent", "refillIndexCaches", "ignoreRevs"})) {
      return violation(r, "unknown document query parameter");
    }
    for (const char* flag :
         {"waitForSync", "returnOld", "silent", "refillIndexCaches", "ignoreRevs"}) {
      if (auto v = r.query_param(flag); v && !is_bool_text(*v)) {
        return violation(r, std::string(flag) + " must be true|false");
      }
    }
    if (!r.body.empty()) return violation(r, "removing one document takes no body");
    auto c = d.collections.find(coll);
    if (c == d.collections.end()) return error(404, 1203, "collection or view not found");
    auto doc = c->second.docs.find(key);
    if (doc == c->second.docs.end()) return error(404, 1202, "document not found");
    const std::string rev = *attr(doc->second, "_rev");
    c->second.docs.erase(doc);
    return Response::json(202, R"({"_id":)" + quoted(coll + "/" + key) + R"(,"_key":)" +
                                   quoted(key) + R"(,"_rev":)" + rev + "}");
  }

  Response create_index(const Request& r, Database& d) {
    auto coll = r.query_param("collection");
    if (!coll || !check_query(r, {"collection"})) {
      return violation(r, "index needs ?collection= and nothing else");
    }
    simdjson::dom::parser parser;
    auto body = body_json(r, parser);
    std::string_view type;
    simdjson::dom::array fields;
    if (!body || (*body)["type"].get_string().get(type) != simdjson::SUCCESS ||
        (*body)["fields"].get_array().get(fields) != simdjson::SUCCESS || fields.size() == 0) {
      return violation(r, "index body needs 'type' and a non-empty 'fields' array");
    }
    if (type != "persistent") return violation(r, "only persistent indexes are expected");
    IndexDef def;
    for (auto f : fields) {
      std::string_view s;
      if (f.get_string().get(s) != simdjson::SUCCESS) return violation(r, "fields: strings only");
      def.fields.emplace_back(s);
    }
    if (simdjson::dom::element u; (*body)["unique"].get(u) == simdjson::SUCCESS) {
      if (u.get_bool().get(def.unique) != simdjson::SUCCESS) {
        return violation(r, "'unique' must be a boolean");
      }
    }
    auto c = d.collections.find(std::string(*coll));
    if (c == d.collections.end()) return error(404, 1203, "collection or view not found");
    for (const IndexDef& existing : c->second.indexes) {
      if (existing.fields == def.fields && existing.unique == def.unique) {
        return Response::json(
            200, R"({"error":false,"code":200,"isNewlyCreated":false,"type":"persistent"})");
      }
    }
    c->second.indexes.push_back(def);
    return Response::json(
        201, R"({"error":false,"code":201,"isNewlyCreated":true,"type":"persistent"})");
  }

  // Applies one document with an onDuplicate/overwriteMode policy. Returns an error (errorNum,
  // message) or nothing; counts created/updated/ignored.
  struct Applied {
    int error_num = 0;
    std::string message;
    enum { kCreated, kUpdated, kIgnored, kFailed } what = kFailed;
    std::string key;
  };
  Applied apply(Collection& c, Attrs attrs, std::string_view policy) {
    Applied a;
    const std::string* raw_key = attr(attrs, "_key");
    std::string key;
    if (raw_key) {
      simdjson::dom::parser parser;
      std::string_view k;
      if (parser.parse(*raw_key).get_string().get(k) != simdjson::SUCCESS || !legal_key(k)) {
        return Applied{1221, "illegal document key", Applied::kFailed, {}};
      }
      key = std::string(k);
    } else {
      key = std::to_string(++auto_key_);
      attrs.insert(attrs.begin(), {"_key", quoted(key)});
    }
    a.key = key;
    auto it = c.docs.find(key);
    if (it == c.docs.end()) {
      set_attr(attrs, "_rev", next_rev());
      c.docs.emplace(key, std::move(attrs));
      a.what = Applied::kCreated;
      return a;
    }
    if (policy == "error" || policy == "conflict") {
      return Applied{1210, "unique constraint violated", Applied::kFailed, key};
    }
    if (policy == "ignore") {
      a.what = Applied::kIgnored;
      return a;
    }
    if (policy == "update") {
      for (auto& [k, v] : attrs) set_attr(it->second, k, v);
    } else {  // replace
      it->second = std::move(attrs);
    }
    set_attr(it->second, "_rev", next_rev());
    a.what = Applied::kUpdated;
    return a;
  }

  // An edge document's _from/_to: a string "<collection>/<key>" with a legal key.
  static bool edge_end(simdjson::dom::object obj, const char* name) {
    std::string_view id;
    if (obj[name].get_string().get(id) != simdjson::SUCCESS) return false;
    const std::size_t slash = id.find('/');
    return slash != std::string_view::npos && legal_name(id.substr(0, slash)) &&
           legal_key(id.substr(slash + 1));
  }

  Response import(const Request& r, Database& d) {
    if (!check_query(r, {"collection", "type", "onDuplicate", "complete", "details", "waitForSync",
                         "fromPrefix", "toPrefix", "overwrite", "overwriteCollectionPrefix",
                         "ignoreMissing"})) {
      return violation(r, "unknown import query parameter");
    }
    auto coll = r.query_param("collection");
    auto type = r.query_param("type");
    if (!coll) return violation(r, "import needs ?collection=");
    if (!type || (*type != "documents" && *type != "list" && *type != "array" && *type != "auto")) {
      return violation(r, "import ?type= must be documents, array (list) or auto");
    }
    const std::string_view on_dup = r.query_param("onDuplicate").value_or("error");
    if (on_dup != "error" && on_dup != "update" && on_dup != "replace" && on_dup != "ignore") {
      return violation(r, "onDuplicate must be error|update|replace|ignore");
    }
    for (const char* flag : {"complete", "details", "waitForSync", "overwrite"}) {
      if (auto v = r.query_param(flag); v && !is_bool_text(*v)) {
        return violation(r, std::string(flag) + " must be true|false");
      }
    }
    const bool complete = r.query_param("complete").value_or("false") == "true";
    const bool details = r.query_param("details").value_or("false") == "true";
    auto c = d.collections.find(std::string(*coll));
    if (c == d.collections.end()) return error(404, 1203, "collection or view not found");
    // Collect the documents (or empty lines).
    std::vector<std::optional<std::string>> items;  // nullopt: empty line
    simdjson::dom::parser parser;
    if (*type == "documents") {
      std::string_view body = r.body;
      while (!body.empty()) {
        const std::size_t nl = body.find('\n');
        std::string_view line = body.substr(0, nl);
        body = nl == std::string_view::npos ? std::string_view() : body.substr(nl + 1);
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
        if (line.empty()) {
          items.emplace_back(std::nullopt);
        } else {
          items.emplace_back(std::string(line));
        }
      }
    } else {
      simdjson::dom::array arr;
      if (parser.parse(r.body).get_array().get(arr) != simdjson::SUCCESS) {
        return violation(r, "import type=array body is not a JSON array");
      }
      for (auto e : arr) items.emplace_back(simdjson::minify(e));
    }
    // Validate all first (complete=true must not apply anything on error).
    std::vector<Attrs> docs(items.size());
    std::int64_t empty = 0;
    std::vector<std::string> detail_lines;
    std::vector<bool> bad(items.size(), false);
    simdjson::dom::parser line_parser;
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (!items[i]) {
        ++empty;
        continue;
      }
      simdjson::dom::object obj;
      if (line_parser.parse(*items[i]).get_object().get(obj) != simdjson::SUCCESS) {
        violations_.push_back("import line " + std::to_string(i + 1) + " is not a JSON object");
        bad[i] = true;
        detail_lines.push_back("at position " + std::to_string(i) +
                               ": invalid JSON type (expecting object)");
        continue;
      }
      docs[i] = attrs_of(obj);
      if (c->second.type == 3 && !(edge_end(obj, "_from") && edge_end(obj, "_to"))) {
        bad[i] = true;
        detail_lines.push_back("at position " + std::to_string(i) +
                               ": creating document failed with error 'edge attribute missing or "
                               "invalid'");
        continue;
      }
      if (const std::string* k = attr(docs[i], "_key")) {
        std::string_view key;
        simdjson::dom::parser kp;
        if (kp.parse(*k).get_string().get(key) != simdjson::SUCCESS || !legal_key(key)) {
          bad[i] = true;
          detail_lines.push_back("at position " + std::to_string(i) +
                                 ": creating document failed with error 'illegal document key'");
        }
      }
    }
    std::int64_t errors = static_cast<std::int64_t>(std::count(bad.begin(), bad.end(), true));
    if (complete && errors > 0) {
      const bool edge = detail_lines.front().find("edge attribute") != std::string::npos;
      return error(400, edge ? 1233 : 1221, detail_lines.front());
    }
    if (complete && on_dup == "error") {
      for (std::size_t i = 0; i < docs.size(); ++i) {
        const std::string* k = attr(docs[i], "_key");
        if (k && c->second.docs.contains(std::string(k->substr(1, k->size() - 2)))) {
          return error(409, 1210, "unique constraint violated");
        }
      }
    }
    std::int64_t created = 0, updated = 0, ignored = 0;
    for (std::size_t i = 0; i < docs.size(); ++i) {
      if (!items[i] || bad[i]) continue;
      Applied a = apply(c->second, std::move(docs[i]), on_dup);
      if (a.what == Applied::kCreated) ++created;
      if (a.what == Applied::kUpdated) ++updated;
      if (a.what == Applied::kIgnored) ++ignored;
      if (a.what == Applied::kFailed) {
        ++errors;
        detail_lines.push_back("at position " + std::to_string(i) +
                               ": creating document failed with error '" + a.message + "'");
      }
    }
    runtime::JsonWriter w;
    w.begin_object()
        .field("error", false)
        .field("created", created)
        .field("errors", errors)
        .field("empty", empty)
        .field("updated", updated)
        .field("ignored", ignored);
    if (details) {
      w.key("details").begin_array();
      for (const auto& line : detail_lines) w.value(line);
      w.end_array();
    }
    w.end_object();
    return Response::json(201, w.take());
  }

  Response insert_documents(const Request& r, Database& d, const std::string& coll) {
    if (!check_query(r, {"overwriteMode", "overwrite", "waitForSync", "returnNew", "returnOld",
                         "silent", "keepNull", "mergeObjects", "refillIndexCaches"})) {
      return violation(r, "unknown document query parameter");
    }
    const std::string_view mode = r.query_param("overwriteMode").value_or("conflict");
    if (mode != "ignore" && mode != "replace" && mode != "update" && mode != "conflict") {
      return violation(r, "overwriteMode must be ignore|replace|update|conflict");
    }
    auto c = d.collections.find(coll);
    if (c == d.collections.end()) return error(404, 1203, "collection or view not found");
    simdjson::dom::parser parser;
    auto body = body_json(r, parser);
    if (!body || (!body->is_array() && !body->is_object())) {
      return violation(r, "document body must be an object or an array of objects");
    }
    auto result_of = [&](simdjson::dom::element e, runtime::JsonWriter& w) {
      simdjson::dom::object obj;
      if (e.get_object().get(obj) != simdjson::SUCCESS) {
        violations_.push_back("document batch element is not an object");
        w.begin_object()
            .field("error", true)
            .field("errorNum", 1227)
            .field("errorMessage", "invalid document type")
            .end_object();
        return false;
      }
      Applied a = apply(c->second, attrs_of(obj), mode);
      if (a.what == Applied::kFailed) {
        w.begin_object()
            .field("error", true)
            .field("errorNum", a.error_num)
            .field("errorMessage", a.message)
            .end_object();
        return false;
      }
      w.begin_object()
          .field("_id", coll + "/" + a.key)
          .field("_key", a.key)
          .field_raw("_rev", *attr(c->second.docs[a.key], "_rev"))
          .end_object();
      return true;
    };
    runtime::JsonWriter w;
    if (body->is_array()) {
      simdjson::dom::array items;
      if (body->get_array().get(items) != simdjson::SUCCESS) return violation(r, "not an array");
      w.begin_array();
      for (auto e : items) result_of(e, w);
      w.end_array();
      return Response::json(202, w.take());
    }
    if (!result_of(*body, w)) return Response::json(409, w.take());
    return Response::json(202, w.take());
  }

  // The AQL ArangoStore sends, and how this double evaluates each.
  struct Aql {
    std::string_view text;
    std::vector<std::pair<std::string, std::string>> equals;  // attribute, bind variable
    std::string range_attr;                                   // empty: none
    bool range_to_inclusive = false;
    bool range_numbers = true;  // else strings
    std::vector<std::string> sort;
  };
  static const std::vector<Aql>& known_queries() {
    static const std::vector<Aql> queries = {
        {"FOR d IN @@collection FILTER d.symbol == @symbol AND d.series == @series AND d.time >= "
         "@from AND d.time < @to SORT d.time, d.ord RETURN d",
         {{"symbol", "symbol"}, {"series", "series"}},
         "time",
         false,
         true,
         {"time", "ord"}},
        {"FOR d IN @@collection FILTER d.symbol == @symbol AND d.series == @series AND d.ord >= "
         "@from AND d.ord <= @to SORT d.ord RETURN d",
         {{"symbol", "symbol"}, {"series", "series"}},
         "ord",
         true,
         false,
         {"ord"}},
        {"FOR d IN @@collection FILTER d.queue_id == @queue_id SORT d.timestamp, d._key RETURN d",
         {{"queue_id", "queue_id"}},
         "",
         false,
         true,
         {"timestamp", "_key"}},
        {"FOR d IN @@collection SORT d.created_at, d._key RETURN d",
         {},
         "",
         false,
         true,
         {"created_at", "_key"}},
        {"FOR d IN @@collection SORT d.idx RETURN d", {}, "", false, true, {"idx"}},
        {"FOR d IN @@collection SORT d._key RETURN d", {}, "", false, true, {"_key"}},
    };
    return queries;
  }

  Response create_cursor(const Request& r, Database& d) {
    if (!check_query(r, {})) return violation(r, "unexpected query parameters");
    simdjson::dom::parser parser;
    auto body = body_json(r, parser);
    std::string_view text;
    if (!body || (*body)["query"].get_string().get(text) != simdjson::SUCCESS) {
      return violation(r, "cursor body needs a string 'query'");
    }
    simdjson::dom::object fields;
    if (body->get_object().get(fields) != simdjson::SUCCESS) return violation(r, "not an object");
    for (auto field : fields) {
      static constexpr std::string_view kAllowed[] = {
          "query", "bindVars", "batchSize", "count", "ttl", "cache", "memoryLimit", "options"};
      if (std::find(std::begin(kAllowed), std::end(kAllowed), field.key) == std::end(kAllowed)) {
        return violation(r, "unknown cursor attribute " + std::string(field.key));
      }
    }
    std::int64_t batch = 1000;
    if (simdjson::dom::element b; (*body)["batchSize"].get(b) == simdjson::SUCCESS) {
      if (b.get_int64().get(batch) != simdjson::SUCCESS || batch <= 0) {
        return violation(r, "batchSize must be a positive integer");
      }
    }
    const Aql* aql = nullptr;
    for (const Aql& q : known_queries()) {
      if (q.text == text) aql = &q;
    }
    if (aql == nullptr) {
      violations_.push_back("unrecognised AQL: " + std::string(text));
      return error(400, 1501, "contract server: unrecognised query");
    }
    simdjson::dom::object vars;
    if ((*body)["bindVars"].get_object().get(vars) != simdjson::SUCCESS) {
      return violation(r, "bindVars must be an object");
    }
    // Exactly the query's bind variables, with the right types.
    std::set<std::string> expected = {"@collection"};
    for (const auto& [a, v] : aql->equals) expected.insert(v);
    if (!aql->range_attr.empty()) expected.insert({"from", "to"});
    std::set<std::string> got;
    for (auto field : vars) got.insert(std::string(field.key));
    if (got != expected) return violation(r, "bindVars do not match the query's parameters");
    std::string_view coll;
    if (vars["@collection"].get_string().get(coll) != simdjson::SUCCESS) {
      return violation(r, "@collection must be a string");
    }
    for (const auto& [a, v] : aql->equals) {
      if (!vars[v].is_string()) return violation(r, "@" + v + " must be a string");
    }
    if (!aql->range_attr.empty()) {
      for (const char* v : {"from", "to"}) {
        const bool ok = aql->range_numbers ? vars[v].is_number() : vars[v].is_string();
        if (!ok) return violation(r, std::string("@") + v + " has the wrong type");
      }
    }
    auto c = d.collections.find(std::string(coll));
    if (c == d.collections.end()) {
      return error(404, 1203,
                   "AQL: collection or view not found: " + std::string(coll) + " (while parsing)");
    }
    // Evaluate.
    simdjson::dom::parser vp;
    std::vector<std::pair<std::vector<Value>, const Attrs*>> rows;
    for (const auto& [key, doc] : c->second.docs) {
      bool keep = true;
      for (const auto& [a, v] : aql->equals) {
        if (value_of_raw(vp, attr(doc, a)) != value_of(vars[v].value_unsafe())) keep = false;
      }
      if (keep && !aql->range_attr.empty()) {
        const Value x = value_of_raw(vp, attr(doc, aql->range_attr));
        const Value from = value_of(vars["from"].value_unsafe());
        const Value to = value_of(vars["to"].value_unsafe());
        keep = x >= from && (aql->range_to_inclusive ? x <= to : x < to);
      }
      if (!keep) continue;
      std::vector<Value> sort_key;
      for (const std::string& s : aql->sort) sort_key.push_back(value_of_raw(vp, attr(doc, s)));
      rows.emplace_back(std::move(sort_key), &doc);
    }
    std::stable_sort(rows.begin(), rows.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    Cursor cursor;
    cursor.batch = static_cast<std::size_t>(batch);
    for (const auto& row : rows) cursor.docs.push_back(render(*row.second));
    return batch_response(std::move(cursor), 201);
  }

  Response batch_response(Cursor cursor, int status, std::string id = {}) {
    runtime::JsonWriter w;
    w.begin_object().key("result").begin_array();
    const std::size_t end = std::min(cursor.docs.size(), cursor.pos + cursor.batch);
    for (std::size_t i = cursor.pos; i < end; ++i) w.raw(cursor.docs[i]);
    w.end_array();
    cursor.pos = end;
    const bool more = end < cursor.docs.size();
    w.field("hasMore", more);
    if (more) {
      if (id.empty()) id = std::to_string(++cursor_ids_);
      w.field("id", id);
      cursors_[id] = std::move(cursor);
    } else if (!id.empty()) {
      cursors_.erase(id);
    }
    w.field("cached", false).field("error", false).field("code", status).end_object();
    return Response::json(status, w.take());
  }

  Response cursor_next(const Request& r, const std::string& id) {
    if (!check_query(r, {})) return violation(r, "unexpected query parameters");
    if (!r.body.empty()) {
      simdjson::dom::parser parser;
      if (!body_json(r, parser)) return violation(r, "body is not JSON");
    }
    auto it = cursors_.find(id);
    if (it == cursors_.end()) return error(404, 1600, "cursor not found");
    if (r.method == "DELETE") {
      cursors_.erase(it);
      return Response::json(202, R"({"id":)" + quoted(id) + R"(,"error":false,"code":202})");
    }
    Cursor cursor = std::move(it->second);
    return batch_response(std::move(cursor), 200, id);
  }

  Response create_graph(const Request& r, Database& d) {
    if (!check_query(r, {"waitForSync"})) return violation(r, "unexpected query parameters");
    simdjson::dom::parser parser;
    auto body = body_json(r, parser);
    std::string_view name;
    simdjson::dom::array defs;
    if (!body || (*body)["name"].get_string().get(name) != simdjson::SUCCESS) {
      return violation(r, "graph body needs a string 'name'");
    }
    Graph g;
    g.name = std::string(name);
    if (simdjson::dom::element e; (*body)["edgeDefinitions"].get(e) == simdjson::SUCCESS) {
      if (e.get_array().get(defs) != simdjson::SUCCESS) {
        return violation(r, "edgeDefinitions must be an array");
      }
      g.edge_definitions = simdjson::minify(e);
      for (auto def : defs) {
        std::string_view coll;
        simdjson::dom::array from, to;
        if (def["collection"].get_string().get(coll) != simdjson::SUCCESS ||
            def["from"].get_array().get(from) != simdjson::SUCCESS ||
            def["to"].get_array().get(to) != simdjson::SUCCESS || from.size() == 0 ||
            to.size() == 0) {
          return violation(r, "edge definition needs 'collection', non-empty 'from' and 'to'");
        }
        auto& [fs, ts] = g.edges[std::string(coll)];
        for (auto f : from) fs.insert(std::string(f.get_string().value_unsafe()));
        for (auto t : to) ts.insert(std::string(t.get_string().value_unsafe()));
      }
    }
    if (d.graphs.contains(g.name)) return error(409, 1925, "graph already exists");
    for (const auto& [edge, ends] : g.edges) {
      d.collections[edge].type = 3;
      for (const auto& v : ends.first) d.collections.try_emplace(v);
      for (const auto& v : ends.second) d.collections.try_emplace(v);
    }
    const std::string answer = R"({"error":false,"code":202,"graph":{"name":)" + quoted(g.name) +
                               R"(,"edgeDefinitions":)" +
                               (g.edge_definitions.empty() ? "[]" : g.edge_definitions) + "}}";
    d.graphs[g.name] = std::move(g);
    return Response::json(202, answer);
  }

  Response graph_insert(const Request& r, Database& d, const std::string& graph, bool edge,
                        const std::string& coll) {
    if (!check_query(r, {"waitForSync", "returnNew"})) {
      return violation(r, "unexpected query parameters");
    }
    auto g = d.graphs.find(graph);
    if (g == d.graphs.end()) return error(404, 1924, "graph not found");
    simdjson::dom::parser parser;
    auto body = body_json(r, parser);
    simdjson::dom::object obj;
    if (!body || body->get_object().get(obj) != simdjson::SUCCESS) {
      return violation(r, "vertex/edge body must be a JSON object");
    }
    if (edge) {
      auto def = g->second.edges.find(coll);
      if (def == g->second.edges.end())
        return error(404, 1930, "edge collection not used in graph");
      std::string_view from, to;
      if (obj["_from"].get_string().get(from) != simdjson::SUCCESS ||
          obj["_to"].get_string().get(to) != simdjson::SUCCESS) {
        return violation(r, "an edge needs string _from and _to");
      }
      auto ends_ok = [&](std::string_view id, const std::set<std::string>& allowed) {
        const std::size_t slash = id.find('/');
        if (slash == std::string_view::npos) return false;
        const std::string vc(id.substr(0, slash));
        if (!allowed.contains(vc)) return false;
        auto c = d.collections.find(vc);
        return c != d.collections.end() &&
               c->second.docs.contains(std::string(id.substr(slash + 1)));
      };
      if (!ends_ok(from, def->second.first) || !ends_ok(to, def->second.second)) {
        return error(400, 1906, "invalid edge: _from/_to not in the definition or not found");
      }
    } else {
      bool known = false;
      for (const auto& [e, ends] : g->second.edges) {
        known = known || ends.first.contains(coll) || ends.second.contains(coll);
      }
      if (!known) return error(404, 1926, "vertex collection not part of the graph");
    }
    Applied a = apply(d.collections[coll], attrs_of(obj), "conflict");
    if (a.what == Applied::kFailed) return error(409, a.error_num, a.message);
    return Response::json(202, std::string(R"({"error":false,"code":202,")") +
                                   (edge ? "edge" : "vertex") + R"(":{"_id":)" +
                                   quoted(coll + "/" + a.key) + R"(,"_key":)" + quoted(a.key) +
                                   "}}");
  }

  static std::string b64(std::string_view in) {
    static constexpr char kA[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::uint32_t buf = 0;
    int bits = 0;
    for (unsigned char c : in) {
      buf = (buf << 8) | c;
      bits += 8;
      while (bits >= 6) {
        bits -= 6;
        out += kA[(buf >> bits) & 63];
      }
    }
    if (bits > 0) out += kA[(buf << (6 - bits)) & 63];
    while (out.size() % 4) out += '=';
    return out;
  }

  std::string user_;
  std::string password_;
  mutable std::mutex mutex_;
  std::map<std::string, Database> dbs_;
  std::map<std::string, Cursor> cursors_;
  std::vector<Fault> faults_;
  std::vector<std::string> violations_;
  std::vector<Recorded> requests_;
  std::uint64_t rev_ = 0;
  std::uint64_t auto_key_ = 0;
  std::uint64_t cursor_ids_ = 0;
  std::unique_ptr<runtime::HttpServer> server_;
};

}  // namespace sf::store::testing
