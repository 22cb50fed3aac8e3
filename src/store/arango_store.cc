#include "store/arango_store.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <unordered_map>
#include <utility>

#include "runtime/http_client.h"
#include "runtime/json_writer.h"
#include "store/levels_json.h"

namespace sf::store {
namespace {

using runtime::JsonWriter;

constexpr std::string_view kSchemes[] = {"arango://", "arango+http://", "arango+https://"};
constexpr std::string_view kTelemetryCollection = "telemetry";
constexpr std::string_view kWorkflowsCollection = "workflows";
constexpr std::string_view kMetaCollection = "sf_meta";
constexpr std::string_view kGraphsCollection = "graphs";
constexpr std::size_t kMaxKeyBytes = 254;

// The AQL this store sends (the contract tests recognise exactly these strings).
constexpr std::string_view kTimeRangeAql =
    "FOR d IN @@collection FILTER d.symbol == @symbol AND d.series == @series AND d.time >= @from "
    "AND d.time < @to SORT d.time, d.ord RETURN d";
constexpr std::string_view kIdRangeAql =
    "FOR d IN @@collection FILTER d.symbol == @symbol AND d.series == @series AND d.ord >= @from "
    "AND d.ord <= @to SORT d.ord RETURN d";
constexpr std::string_view kTelemetryAql =
    "FOR d IN @@collection FILTER d.queue_id == @queue_id SORT d.timestamp, d._key RETURN d";
constexpr std::string_view kWorkflowsAql =
    "FOR d IN @@collection SORT d.created_at, d._key RETURN d";
constexpr std::string_view kByIdxAql = "FOR d IN @@collection SORT d.idx RETURN d";
constexpr std::string_view kGraphsAql = "FOR d IN @@collection SORT d._key RETURN d";

StoreError err(StoreErrc code, std::string message) {
  return StoreError{code, "arango: " + std::move(message)};
}

StoreError from_arango(StoreErrc code, const ArangoError& e) {
  return err(code, e.message);
}

bool legal_key_char(unsigned char c) {
  if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
  return std::strchr("-:.@()+,=;$!*'", c) != nullptr && c != 0;
}

std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t h = 1469598103934665603ULL;
  for (char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

std::string finish_key(std::string key) {
  if (key.size() <= kMaxKeyBytes) return key;
  char hex[17];
  auto [end, ec] = std::to_chars(hex, hex + 16, fnv1a(key), 16);
  (void)ec;
  key.resize(200);
  key += "_h";
  key.append(hex, end);
  return key;
}

// A 64-bit id as a fixed-width string whose lexicographic order is the numeric order.
std::string ord(std::int64_t id) {
  const std::uint64_t biased = static_cast<std::uint64_t>(id) ^ (1ULL << 63);
  std::string digits = std::to_string(biased);
  return std::string(20 - digits.size(), '0') + digits;
}

std::string double_text(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  return std::string(buf, end);
}

std::string symbol_key(const Symbol& s) {
  return ArangoStore::key_part(s.view());
}

// --- decoding -------------------------------------------------------------------------------

using Element = simdjson::dom::element;
using Ok = Result<void, std::string>;

struct Reader {
  Element doc;
  std::string error;  // first problem

  bool fail(std::string_view field, std::string_view why) {
    if (error.empty()) error = "field '" + std::string(field) + "': " + std::string(why);
    return false;
  }
  std::string_view str(const char* field) {
    std::string_view v;
    if (doc[field].get_string().get(v) != simdjson::SUCCESS) fail(field, "not a string");
    return v;
  }
  std::int64_t int64(const char* field) {
    std::int64_t v = 0;
    if (doc[field].get_int64().get(v) != simdjson::SUCCESS) fail(field, "not a 64-bit integer");
    return v;
  }
  std::int64_t id(const char* field) {  // a decimal string
    std::string_view text = str(field);
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || p != text.data() + text.size()) fail(field, "not an integer string");
    return v;
  }
  double number(const char* field) {
    double v = 0;
    if (doc[field].get_double().get(v) != simdjson::SUCCESS) fail(field, "not a number");
    return v;
  }
  bool boolean(const char* field) {
    bool v = false;
    if (doc[field].get_bool().get(v) != simdjson::SUCCESS) fail(field, "not a boolean");
    return v;
  }
  std::optional<bool> optional_bool(const char* field) {
    Element e;
    if (doc[field].get(e) != simdjson::SUCCESS || e.is_null()) return std::nullopt;
    return boolean(field);
  }
  Decimal decimal(const char* field) {
    std::string_view text = str(field);
    auto parsed = Decimal::parse(text);
    if (!parsed) {
      fail(field, "not a decimal");
      return Decimal();
    }
    return *parsed;
  }
  Symbol symbol() {
    auto s = Symbol::parse(str("symbol"));
    if (!s) {
      fail("symbol", "not a symbol");
      return Symbol();
    }
    return *s;
  }
  std::vector<PriceLevel> levels(const char* field) {
    std::vector<PriceLevel> out;
    Element e;
    if (doc[field].get(e) != simdjson::SUCCESS) {
      fail(field, "missing");
      return out;
    }
    if (!parse_levels_json(simdjson::minify(e), &out)) fail(field, "not [[price,qty],...]");
    return out;
  }
  Ok done() {
    if (!error.empty()) return unexpected(error);
    return {};
  }
};

// --- encoding -------------------------------------------------------------------------------

// `"name":true|false|null`: an optional bool (a source without the field stores null).
void optional_bool_field(JsonWriter& w, std::string_view name, const std::optional<bool>& v) {
  w.key(name);
  if (v) {
    w.value(*v);
  } else {
    w.null();
  }
}

void market_head(JsonWriter& w, const std::string& key, std::string_view kind_series,
                 const Symbol& symbol, TimestampUs time, std::int64_t id) {
  w.begin_object()
      .field("_key", key)
      .field("symbol", symbol.view())
      .field("series", kind_series)
      .field("time", time)
      .field("ord", ord(id));
}

}  // namespace

// --- URLs -----------------------------------------------------------------------------------

bool ArangoStore::is_arango_url(const std::string& url) {
  for (std::string_view s : kSchemes) {
    if (url.starts_with(s)) return true;
  }
  return false;
}

namespace {

std::string percent_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      int v = 0;
      auto [p, ec] = std::from_chars(text.data() + i + 1, text.data() + i + 3, v, 16);
      if (ec == std::errc() && p == text.data() + i + 3) {
        out += static_cast<char>(v);
        i += 2;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

struct UrlParts {
  std::string_view scheme, userinfo, hostport, path, query;
};

UrlParts split_url(std::string_view url) {
  UrlParts p;
  const std::size_t scheme_end = url.find("://");
  p.scheme = url.substr(0, scheme_end + 3);
  std::string_view rest = url.substr(scheme_end + 3);
  const std::size_t q = rest.find('?');
  if (q != std::string_view::npos) {
    p.query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) p.path = rest.substr(slash + 1);
  const std::size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    p.userinfo = authority.substr(0, at);
    p.hostport = authority.substr(at + 1);
  } else {
    p.hostport = authority;
  }
  return p;
}

}  // namespace

std::string ArangoStore::redact_url(const std::string& url) {
  if (!is_arango_url(url)) return url;
  const UrlParts p = split_url(url);
  if (p.userinfo.empty()) return url;
  const std::size_t colon = p.userinfo.find(':');
  if (colon == std::string_view::npos) return url;
  std::string out(p.scheme);
  out += p.userinfo.substr(0, colon);
  out += ":***@";
  out += url.substr(static_cast<std::size_t>(p.hostport.data() - url.data()));
  return out;
}

StoreResult<ArangoStoreOptions> ArangoStore::parse_url(const std::string& url) {
  if (!is_arango_url(url)) {
    return unexpected(err(StoreErrc::kConfig, "not an arango:// URL"));
  }
  const UrlParts p = split_url(url);
  ArangoStoreOptions options;
  options.client = ArangoConfig::from_env();
  if (p.hostport.empty()) {
    return unexpected(err(StoreErrc::kConfig, "store URL '" + redact_url(url) + "' names no host"));
  }
  std::string hostport(p.hostport);
  const bool has_port = hostport.starts_with('[') ? hostport.find("]:") != std::string::npos
                                                  : hostport.find(':') != std::string::npos;
  if (!has_port) hostport += ":8529";
  options.client.url = (url.starts_with("arango+https://") ? "https://" : "http://") + hostport;
  if (!p.userinfo.empty()) {
    const std::size_t colon = p.userinfo.find(':');
    options.client.user = percent_decode(p.userinfo.substr(0, colon));
    options.client.password =
        colon == std::string_view::npos ? "" : percent_decode(p.userinfo.substr(colon + 1));
  }
  if (!p.path.empty()) options.client.database = percent_decode(p.path);
  std::string_view query = p.query;
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const std::size_t eq = pair.find('=');
    const std::string_view name = pair.substr(0, eq);
    const std::string value =
        eq == std::string_view::npos ? "" : percent_decode(pair.substr(eq + 1));
    if (name == "collection") {
      options.collection_name = value;
    } else if (name == "cursor_next") {
      if (value != "POST" && value != "PUT") {
        return unexpected(err(StoreErrc::kConfig, "cursor_next must be POST or PUT"));
      }
      options.client.cursor_next_method = value;
    } else if (name == "batch_size" || name == "write_chunk") {
      std::size_t n = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || ptr != value.data() + value.size() || n == 0) {
        return unexpected(err(StoreErrc::kConfig, "bad " + std::string(name) + " in store URL"));
      }
      (name == "batch_size" ? options.batch_size : options.write_chunk) = n;
    } else {
      return unexpected(err(StoreErrc::kConfig, "unknown parameter '" + std::string(name) +
                                                    "' in store URL '" + redact_url(url) + "'"));
    }
  }
  if (auto checked = runtime::parse_http_url(options.client.url); !checked) {
    return unexpected(
        err(StoreErrc::kConfig, "store URL '" + redact_url(url) + "': " + checked.error()));
  }
  return options;
}

// --- naming ---------------------------------------------------------------------------------

std::string ArangoStore::key_part(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (legal_key_char(c)) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string ArangoStore::collection_for(const Symbol& symbol, std::string_view kind) {
  std::string name = symbol.lower();
  const bool letter = !name.empty() && name[0] >= 'a' && name[0] <= 'z';
  if (!letter) name = "sf_" + name;
  name += '_';
  name += kind;
  return name;
}

std::string ArangoStore::market_collection(const Symbol& symbol, std::string_view kind) const {
  if (!options_.collection_name.empty()) return options_.collection_name;
  return collection_for(symbol, kind);
}

// --- lifecycle ------------------------------------------------------------------------------

ArangoStore::ArangoStore(ArangoStoreOptions options, std::unique_ptr<ArangoClient> client)
    : options_(std::move(options)), client_(std::move(client)) {}

StoreResult<std::unique_ptr<ArangoStore>> ArangoStore::open(ArangoStoreOptions options) {
  auto client = ArangoClient::create(options.client);
  if (!client) return unexpected(from_arango(StoreErrc::kConfig, client.error()));
  std::unique_ptr<ArangoStore> store(new ArangoStore(std::move(options), std::move(*client)));
  if (auto db = store->client_->ensure_database(); !db) {
    return unexpected(from_arango(StoreErrc::kOpen, db.error()));
  }
  if (auto meta = store->ensure_collection(std::string(kMetaCollection), Coll::kMeta); !meta) {
    return unexpected(StoreError{StoreErrc::kOpen, meta.error().message});
  }
  auto version = store->schema_version();
  if (!version) return unexpected(StoreError{StoreErrc::kOpen, version.error().message});
  if (*version == 0) {
    JsonWriter w;
    w.begin_array()
        .begin_object()
        .field("_key", "schema")
        .field("version", kSchemaVersion)
        .end_object()
        .end_array();
    // ignore: a second process that wrote it first wins, with the same content.
    auto written = store->client_->insert_documents(std::string(kMetaCollection), w.view(),
                                                    OverwriteMode::kIgnore);
    if (!written) return unexpected(from_arango(StoreErrc::kMigration, written.error()));
  } else if (*version > kSchemaVersion) {
    return unexpected(err(StoreErrc::kMigration,
                          "database is at schema version " + std::to_string(*version) +
                              ", newer than this build's " + std::to_string(kSchemaVersion)));
  }
  return store;
}

StoreResult<int> ArangoStore::schema_version() {
  auto doc = client_->get_document(std::string(kMetaCollection), "schema");
  if (!doc) return unexpected(from_arango(StoreErrc::kRead, doc.error()));
  if (!doc->has_value()) return 0;
  simdjson::dom::parser parser;
  std::int64_t version = 0;
  if (parser.parse(**doc)["version"].get_int64().get(version) != simdjson::SUCCESS) {
    return unexpected(err(StoreErrc::kCorrupt, "sf_meta/schema has no integer version"));
  }
  return static_cast<int>(version);
}

StoreResult<void> ArangoStore::ensure_collection(const std::string& name, Coll type) {
  {
    std::lock_guard lock(ensured_mutex_);
    if (ensured_.contains(name)) return {};
  }
  auto created = create_collection(name, type);
  if (!created) return unexpected(created.error());
  return {};
}

StoreResult<bool> ArangoStore::create_collection(const std::string& name, Coll type) {
  const CollectionType collection_type =
      type == Coll::kGraphEdges ? CollectionType::kEdge : CollectionType::kDocument;
  auto created = client_->create_collection(name, collection_type);
  if (!created) return unexpected(from_arango(StoreErrc::kWrite, created.error()));
  std::vector<std::vector<std::string>> indexes;
  switch (type) {
    case Coll::kMarket:
      indexes = {{"symbol", "series", "time"}, {"symbol", "series", "ord"}};
      break;
    case Coll::kTelemetry:
      indexes = {{"queue_id", "timestamp"}};
      break;
    case Coll::kWorkflows:
      indexes = {{"created_at"}};
      break;
    case Coll::kGraphNodes:
    case Coll::kGraphEdges:
      indexes = {{"idx"}};  // graph() reads in idx order
      break;
    case Coll::kMeta:
    case Coll::kGraphs:
      break;
  }
  for (const auto& fields : indexes) {
    if (auto index = client_->ensure_persistent_index(name, fields, false); !index) {
      return unexpected(from_arango(StoreErrc::kWrite, index.error()));
    }
  }
  std::lock_guard lock(ensured_mutex_);
  ensured_.insert(name);
  return *created;
}

StoreResult<void> ArangoStore::reset_collection(const std::string& name, Coll type) {
  bool cached = false;
  {
    std::lock_guard lock(ensured_mutex_);
    cached = ensured_.contains(name);
  }
  if (!cached) {
    auto created = create_collection(name, type);
    if (!created) return unexpected(created.error());
    if (*created) return {};  // new, hence empty
  }
  auto truncated = client_->truncate_collection(name);
  if (truncated) return {};
  const ArangoError& e = truncated.error();
  if (cached && e.http_status == 404 && e.error_num == arango_errnum::kDataSourceNotFound) {
    // Dropped behind our back (the cache said it existed): create it again.
    {
      std::lock_guard lock(ensured_mutex_);
      ensured_.erase(name);
    }
    auto created = create_collection(name, type);
    if (!created) return unexpected(created.error());
    if (*created) return {};
    // Created meanwhile by someone else: empty it.
    if (auto again = client_->truncate_collection(name); !again) {
      return unexpected(from_arango(StoreErrc::kWrite, again.error()));
    }
    return {};
  }
  return unexpected(from_arango(StoreErrc::kWrite, e));
}

// --- writes ---------------------------------------------------------------------------------

StoreResult<std::size_t> ArangoStore::write(const std::string& collection, Coll type,
                                            std::vector<Doc> docs) {
  const std::size_t total = docs.size();
  if (docs.empty()) return std::size_t{0};
  if (auto ensured = ensure_collection(collection, type); !ensured) {
    return unexpected(ensured.error());
  }
  // The last occurrence of a key wins; one request never carries a key twice.
  std::unordered_map<std::string_view, std::size_t> last;
  last.reserve(docs.size());
  for (std::size_t i = 0; i < docs.size(); ++i) last[docs[i].key] = i;
  std::string body;
  std::size_t in_body = 0;
  auto flush = [&]() -> StoreResult<void> {
    if (in_body == 0) return {};
    auto imported = client_->import_documents(collection, body, OnDuplicate::kReplace, in_body);
    if (!imported && imported.error().http_status == 404 &&
        (imported.error().error_num == arango_errnum::kDataSourceNotFound ||
         imported.error().error_num == arango_errnum::kDatabaseNotFound)) {
      // Dropped behind our back (the cache said it existed): create it again, retry once.
      {
        std::lock_guard lock(ensured_mutex_);
        ensured_.clear();
      }
      if (imported.error().error_num == arango_errnum::kDatabaseNotFound) {
        if (auto db = client_->ensure_database(); !db) {
          return unexpected(from_arango(StoreErrc::kWrite, db.error()));
        }
      }
      if (auto ensured = ensure_collection(collection, type); !ensured) {
        return unexpected(ensured.error());
      }
      imported = client_->import_documents(collection, body, OnDuplicate::kReplace, in_body);
    }
    if (!imported) return unexpected(from_arango(StoreErrc::kWrite, imported.error()));
    body.clear();
    in_body = 0;
    return {};
  };
  for (std::size_t i = 0; i < docs.size(); ++i) {
    if (last[docs[i].key] != i) continue;
    body += docs[i].json;
    body += '\n';
    if (++in_body >= options_.write_chunk) {
      if (auto f = flush(); !f) return unexpected(f.error());
    }
  }
  if (auto f = flush(); !f) return unexpected(f.error());
  return total;
}

StoreResult<std::size_t> ArangoStore::write_market(ByCollection by_collection, std::size_t count) {
  for (auto& [collection, docs] : by_collection) {
    if (auto r = write(collection, Coll::kMarket, std::move(docs)); !r) return r;
  }
  return count;
}

StoreResult<std::size_t> ArangoStore::upsert_trades(std::span<const Trade> batch) {
  ByCollection by_collection;
  for (const Trade& t : batch) {
    Doc doc;
    doc.key = finish_key(symbol_key(t.symbol) + "_trade_" + std::to_string(t.trade_id));
    JsonWriter w(doc.json);
    market_head(w, doc.key, "trade", t.symbol, t.trade_time, t.trade_id);
    w.field("trade_id", std::to_string(t.trade_id))
        .field("price", t.price.to_string())
        .field("quantity", t.quantity.to_string())
        .field("trade_time", t.trade_time)
        .field("event_time", t.event_time)
        .field("receive_time", t.receive_time)
        .field("is_buyer_maker", t.is_buyer_maker);
    optional_bool_field(w, "is_best_match", t.is_best_match);
    w.end_object();
    by_collection[market_collection(t.symbol, "trades")].push_back(std::move(doc));
  }
  return write_market(std::move(by_collection), batch.size());
}

StoreResult<std::size_t> ArangoStore::upsert_agg_trades(std::span<const AggTrade> batch) {
  ByCollection by_collection;
  for (const AggTrade& t : batch) {
    Doc doc;
    doc.key = finish_key(symbol_key(t.symbol) + "_agg_" + std::to_string(t.agg_trade_id));
    JsonWriter w(doc.json);
    market_head(w, doc.key, "agg_trade", t.symbol, t.trade_time, t.agg_trade_id);
    w.field("agg_trade_id", std::to_string(t.agg_trade_id))
        .field("price", t.price.to_string())
        .field("quantity", t.quantity.to_string())
        .field("first_trade_id", std::to_string(t.first_trade_id))
        .field("last_trade_id", std::to_string(t.last_trade_id))
        .field("trade_time", t.trade_time)
        .field("event_time", t.event_time)
        .field("receive_time", t.receive_time)
        .field("is_buyer_maker", t.is_buyer_maker);
    optional_bool_field(w, "is_best_match", t.is_best_match);
    w.end_object();
    by_collection[market_collection(t.symbol, "agg_trades")].push_back(std::move(doc));
  }
  return write_market(std::move(by_collection), batch.size());
}

StoreResult<std::size_t> ArangoStore::upsert_candles(std::span<const Candle> batch) {
  ByCollection by_collection;
  for (const Candle& c : batch) {
    const std::string iv(interval_name(c.interval));
    Doc doc;
    doc.key = finish_key(symbol_key(c.symbol) + "_candle_" + key_part(iv) + "_" +
                         std::to_string(c.open_time));
    JsonWriter w(doc.json);
    market_head(w, doc.key, "candle/" + iv, c.symbol, c.open_time, 0);
    w.field("interval", iv)
        .field("open_time", c.open_time)
        .field("open", c.open.to_string())
        .field("high", c.high.to_string())
        .field("low", c.low.to_string())
        .field("close", c.close.to_string())
        .field("volume", c.volume.to_string())
        .field("close_time", c.close_time)
        .field("quote_asset_volume", c.quote_asset_volume.to_string())
        .field("number_of_trades", c.number_of_trades)
        .field("taker_buy_base_asset_volume", c.taker_buy_base_asset_volume.to_string())
        .field("taker_buy_quote_asset_volume", c.taker_buy_quote_asset_volume.to_string())
        .field("ignore", c.ignore.to_string())
        .field("first_trade_id", std::to_string(c.first_trade_id))
        .field("last_trade_id", std::to_string(c.last_trade_id))
        .field("is_closed", c.is_closed)
        .field("event_time", c.event_time)
        .field("receive_time", c.receive_time)
        .end_object();
    by_collection[market_collection(c.symbol, "candles_" + iv)].push_back(std::move(doc));
  }
  return write_market(std::move(by_collection), batch.size());
}

StoreResult<std::size_t> ArangoStore::upsert_depth_snapshots(std::span<const DepthSnapshot> batch) {
  ByCollection by_collection;
  for (const DepthSnapshot& d : batch) {
    Doc doc;
    doc.key = finish_key(symbol_key(d.symbol) + "_depth_" + std::to_string(d.last_update_id));
    std::string bids;
    std::string asks;
    append_levels_json(d.bids, &bids);
    append_levels_json(d.asks, &asks);
    JsonWriter w(doc.json);
    market_head(w, doc.key, "depth", d.symbol, d.receive_time, d.last_update_id);
    w.field("last_update_id", std::to_string(d.last_update_id))
        .field_raw("bids", bids)
        .field_raw("asks", asks)
        .field("is_partial", d.is_partial)
        .field("event_time", d.event_time)
        .field("receive_time", d.receive_time)
        .end_object();
    by_collection[market_collection(d.symbol, "depth_snapshots")].push_back(std::move(doc));
  }
  return write_market(std::move(by_collection), batch.size());
}

StoreResult<std::size_t> ArangoStore::upsert_indicators(std::span<const IndicatorValue> batch) {
  ByCollection by_collection;
  for (const IndicatorValue& v : batch) {
    const std::string iv(interval_name(v.interval));
    Doc doc;
    doc.key = finish_key(symbol_key(v.symbol) + "_indicator_" + key_part(iv) + "_" +
                         key_part(v.name) + "_" + std::to_string(v.open_time));
    JsonWriter w(doc.json);
    market_head(w, doc.key, "indicator/" + iv + "/" + v.name, v.symbol, v.open_time, 0);
    w.field("interval", iv).field("name", v.name).field("open_time", v.open_time);
    if (std::isfinite(v.value)) {
      w.field("value", v.value);
    } else {
      w.field_null("value").field("value_special",
                                  std::isnan(v.value) ? "nan" : (v.value > 0 ? "inf" : "-inf"));
    }
    w.end_object();
    by_collection[market_collection(v.symbol, "indicators_" + iv)].push_back(std::move(doc));
  }
  return write_market(std::move(by_collection), batch.size());
}

StoreResult<std::size_t> ArangoStore::append_telemetry(std::span<const TelemetryEvent> batch) {
  std::vector<Doc> docs;
  docs.reserve(batch.size());
  for (const TelemetryEvent& e : batch) {
    Doc doc;
    doc.key = finish_key(key_part(e.queue_id) + "_" + key_part(e.producer) + "_" +
                         key_part(double_text(e.timestamp)) + "_" + key_part(e.status));
    JsonWriter w(doc.json);
    w.begin_object()
        .field("_key", doc.key)
        .field("queue_id", e.queue_id)
        .field("producer", e.producer)
        .field("symbol", e.symbol)
        .field("type", e.type)
        .field("status", e.status)
        .field("message", e.message)
        .field("records_written", e.records_written)
        .field("finished", e.finished)
        .field("timestamp", e.timestamp)
        .field("extra", e.extra)
        .end_object();
    docs.push_back(std::move(doc));
  }
  return write(std::string(kTelemetryCollection), Coll::kTelemetry, std::move(docs));
}

StoreResult<void> ArangoStore::upsert_workflow(const WorkflowState& state) {
  Doc doc;
  doc.key = finish_key(key_part(state.queue_id));
  JsonWriter w(doc.json);
  w.begin_object()
      .field("_key", doc.key)
      .field("queue_id", state.queue_id)
      .field("status", state.status)
      .field("definition", state.definition)
      .field("created_at", state.created_at)
      .field("updated_at", state.updated_at)
      .end_object();
  std::vector<Doc> docs;
  docs.push_back(std::move(doc));
  auto r = write(std::string(kWorkflowsCollection), Coll::kWorkflows, std::move(docs));
  if (!r) return unexpected(r.error());
  return {};
}

// --- reads ----------------------------------------------------------------------------------

StoreResult<std::size_t> ArangoStore::query(std::string_view aql, std::string_view bind_vars,
                                            const ArangoClient::DocumentCallback& on_document) {
  auto r = client_->query(aql, bind_vars, options_.batch_size, on_document);
  if (r) return *r;
  const ArangoError& e = r.error();
  if (e.http_status == 404 && e.error_num == arango_errnum::kDataSourceNotFound) {
    return std::size_t{0};  // never written: nothing to read
  }
  if (e.http_status == 0 && e.message.starts_with("decoding")) {
    return unexpected(err(StoreErrc::kCorrupt, e.message));
  }
  return unexpected(from_arango(StoreErrc::kRead, e));
}

namespace {

std::string time_range_vars(const std::string& collection, const Symbol& symbol,
                            std::string_view series, TimeRange range) {
  JsonWriter w;
  w.begin_object()
      .field("@collection", collection)
      .field("symbol", symbol.view())
      .field("series", series)
      .field("from", range.from)
      .field("to", range.to)
      .end_object();
  return w.take();
}

}  // namespace

StoreResult<std::vector<Trade>> ArangoStore::trades(const Symbol& symbol, TimeRange range) {
  std::vector<Trade> out;
  auto r = query(kTimeRangeAql,
                 time_range_vars(market_collection(symbol, "trades"), symbol, "trade", range),
                 [&](Element doc) -> Ok {
                   Reader rd{doc, {}};
                   Trade t{.symbol = rd.symbol(),
                           .trade_id = rd.id("trade_id"),
                           .price = rd.decimal("price"),
                           .quantity = rd.decimal("quantity"),
                           .trade_time = rd.int64("trade_time"),
                           .event_time = rd.int64("event_time"),
                           .receive_time = rd.int64("receive_time"),
                           .is_buyer_maker = rd.boolean("is_buyer_maker"),
                           .is_best_match = rd.optional_bool("is_best_match")};
                   if (auto ok = rd.done(); !ok) return ok;
                   out.push_back(std::move(t));
                   return {};
                 });
  if (!r) return unexpected(r.error());
  return out;
}

StoreResult<std::vector<AggTrade>> ArangoStore::agg_trades(const Symbol& symbol, TimeRange range) {
  std::vector<AggTrade> out;
  auto r =
      query(kTimeRangeAql,
            time_range_vars(market_collection(symbol, "agg_trades"), symbol, "agg_trade", range),
            [&](Element doc) -> Ok {
              Reader rd{doc, {}};
              AggTrade t{.symbol = rd.symbol(),
                         .agg_trade_id = rd.id("agg_trade_id"),
                         .price = rd.decimal("price"),
                         .quantity = rd.decimal("quantity"),
                         .first_trade_id = rd.id("first_trade_id"),
                         .last_trade_id = rd.id("last_trade_id"),
                         .trade_time = rd.int64("trade_time"),
                         .event_time = rd.int64("event_time"),
                         .receive_time = rd.int64("receive_time"),
                         .is_buyer_maker = rd.boolean("is_buyer_maker"),
                         .is_best_match = rd.optional_bool("is_best_match")};
              if (auto ok = rd.done(); !ok) return ok;
              out.push_back(std::move(t));
              return {};
            });
  if (!r) return unexpected(r.error());
  return out;
}

StoreResult<std::vector<Candle>> ArangoStore::candles(const Symbol& symbol, Interval interval,
                                                      TimeRange range) {
  const std::string iv(interval_name(interval));
  std::vector<Candle> out;
  auto r = query(
      kTimeRangeAql,
      time_range_vars(market_collection(symbol, "candles_" + iv), symbol, "candle/" + iv, range),
      [&](Element doc) -> Ok {
        Reader rd{doc, {}};
        Candle c{.symbol = rd.symbol(),
                 .interval = interval,
                 .open_time = rd.int64("open_time"),
                 .open = rd.decimal("open"),
                 .high = rd.decimal("high"),
                 .low = rd.decimal("low"),
                 .close = rd.decimal("close"),
                 .volume = rd.decimal("volume"),
                 .close_time = rd.int64("close_time"),
                 .quote_asset_volume = rd.decimal("quote_asset_volume"),
                 .number_of_trades = rd.int64("number_of_trades"),
                 .taker_buy_base_asset_volume = rd.decimal("taker_buy_base_asset_volume"),
                 .taker_buy_quote_asset_volume = rd.decimal("taker_buy_quote_asset_volume"),
                 .ignore = rd.decimal("ignore"),
                 .first_trade_id = rd.id("first_trade_id"),
                 .last_trade_id = rd.id("last_trade_id"),
                 .is_closed = rd.boolean("is_closed"),
                 .event_time = rd.int64("event_time"),
                 .receive_time = rd.int64("receive_time")};
        if (auto ok = rd.done(); !ok) return ok;
        out.push_back(std::move(c));
        return {};
      });
  if (!r) return unexpected(r.error());
  return out;
}

StoreResult<std::vector<DepthSnapshot>> ArangoStore::depth_snapshots(const Symbol& symbol,
                                                                     std::int64_t from_id,
                                                                     std::int64_t to_id) {
  JsonWriter vars;
  vars.begin_object()
      .field("@collection", market_collection(symbol, "depth_snapshots"))
      .field("symbol", symbol.view())
      .field("series", "depth")
      .field("from", ord(from_id))
      .field("to", ord(to_id))
      .end_object();
  std::vector<DepthSnapshot> out;
  auto r = query(kIdRangeAql, vars.view(), [&](Element doc) -> Ok {
    Reader rd{doc, {}};
    DepthSnapshot d{.symbol = rd.symbol(),
                    .last_update_id = rd.id("last_update_id"),
                    .bids = rd.levels("bids"),
                    .asks = rd.levels("asks"),
                    .is_partial = rd.boolean("is_partial"),
                    .event_time = rd.int64("event_time"),
                    .receive_time = rd.int64("receive_time")};
    if (auto ok = rd.done(); !ok) return ok;
    out.push_back(std::move(d));
    return {};
  });
  if (!r) return unexpected(r.error());
  return out;
}

StoreResult<std::vector<IndicatorValue>> ArangoStore::indicators(const Symbol& symbol,
                                                                 Interval interval,
                                                                 const std::string& name,
                                                                 TimeRange range) {
  const std::string iv(interval_name(interval));
  std::vector<IndicatorValue> out;
  auto r = query(kTimeRangeAql,
                 time_range_vars(market_collection(symbol, "indicators_" + iv), symbol,
                                 "indicator/" + iv + "/" + name, range),
                 [&](Element doc) -> Ok {
                   Reader rd{doc, {}};
                   IndicatorValue v{.symbol = rd.symbol(),
                                    .interval = interval,
                                    .name = std::string(rd.str("name")),
                                    .open_time = rd.int64("open_time"),
                                    .value = 0};
                   Element value;
                   if (doc["value"].get(value) == simdjson::SUCCESS && value.is_null()) {
                     const std::string_view special = rd.str("value_special");
                     if (special == "inf") {
                       v.value = std::numeric_limits<double>::infinity();
                     } else if (special == "-inf") {
                       v.value = -std::numeric_limits<double>::infinity();
                     } else {
                       v.value = std::numeric_limits<double>::quiet_NaN();
                     }
                   } else {
                     v.value = rd.number("value");
                   }
                   if (auto ok = rd.done(); !ok) return ok;
                   out.push_back(std::move(v));
                   return {};
                 });
  if (!r) return unexpected(r.error());
  return out;
}

namespace {

Result<TelemetryEvent, std::string> read_telemetry(Element doc) {
  Reader rd{doc, {}};
  TelemetryEvent e{.queue_id = std::string(rd.str("queue_id")),
                   .producer = std::string(rd.str("producer")),
                   .symbol = std::string(rd.str("symbol")),
                   .type = std::string(rd.str("type")),
                   .status = std::string(rd.str("status")),
                   .message = std::string(rd.str("message")),
                   .records_written = rd.int64("records_written"),
                   .finished = rd.boolean("finished"),
                   .timestamp = rd.number("timestamp"),
                   .extra = std::string(rd.str("extra"))};
  if (auto ok = rd.done(); !ok) return unexpected(ok.error());
  return e;
}

Result<WorkflowState, std::string> read_workflow(Element doc) {
  Reader rd{doc, {}};
  WorkflowState w{.queue_id = std::string(rd.str("queue_id")),
                  .status = std::string(rd.str("status")),
                  .definition = std::string(rd.str("definition")),
                  .created_at = rd.number("created_at"),
                  .updated_at = rd.number("updated_at")};
  if (auto ok = rd.done(); !ok) return unexpected(ok.error());
  return w;
}

}  // namespace

StoreResult<std::vector<TelemetryEvent>> ArangoStore::telemetry(const std::string& queue_id) {
  JsonWriter vars;
  vars.begin_object()
      .field("@collection", kTelemetryCollection)
      .field("queue_id", queue_id)
      .end_object();
  std::vector<TelemetryEvent> out;
  auto r = query(kTelemetryAql, vars.view(), [&](Element doc) -> Ok {
    auto e = read_telemetry(doc);
    if (!e) return unexpected(e.error());
    out.push_back(std::move(*e));
    return {};
  });
  if (!r) return unexpected(r.error());
  return out;
}

StoreResult<std::optional<WorkflowState>> ArangoStore::workflow(const std::string& queue_id) {
  auto doc =
      client_->get_document(std::string(kWorkflowsCollection), finish_key(key_part(queue_id)));
  if (!doc) return unexpected(from_arango(StoreErrc::kRead, doc.error()));
  if (!doc->has_value()) return std::optional<WorkflowState>();
  simdjson::dom::parser parser;
  Element element;
  if (parser.parse(**doc).get(element) != simdjson::SUCCESS) {
    return unexpected(err(StoreErrc::kCorrupt, "workflow document is not JSON"));
  }
  auto w = read_workflow(element);
  if (!w) return unexpected(err(StoreErrc::kCorrupt, "workflow document: " + w.error()));
  return std::optional<WorkflowState>(std::move(*w));
}

StoreResult<std::vector<WorkflowState>> ArangoStore::workflows() {
  JsonWriter vars;
  vars.begin_object().field("@collection", kWorkflowsCollection).end_object();
  std::vector<WorkflowState> out;
  auto r = query(kWorkflowsAql, vars.view(), [&](Element doc) -> Ok {
    auto w = read_workflow(doc);
    if (!w) return unexpected(w.error());
    out.push_back(std::move(*w));
    return {};
  });
  if (!r) return unexpected(r.error());
  return out;
}

// --- graphs ---------------------------------------------------------------------------------

namespace {

std::string nodes_collection(const std::string& graph) {
  return graph + "_nodes";
}
std::string edges_collection(const std::string& graph) {
  return graph + "_edges";
}

const char* special_text(double v) {
  return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
}

// A float as JSON: its shortest text (std::to_chars(float)), which parsed as a double and cast
// back to float gives the same float; "-0.0" for negative zero (so it reads back as a double with
// its sign); "nan", "inf", "-inf" as strings.
void append_float(std::string& out, float v) {
  if (!std::isfinite(v)) {
    out += '"';
    out += special_text(v);
    out += '"';
    return;
  }
  if (v == 0 && std::signbit(v)) {
    out += "-0.0";
    return;
  }
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  out.append(buf, end);
}

// A number, or one of the strings "nan", "inf", "-inf".
bool number_or_special(Element e, double* out) {
  if (e.get_double().get(*out) == simdjson::SUCCESS) return true;
  std::string_view text;
  if (e.get_string().get(text) != simdjson::SUCCESS) return false;
  if (text == "nan") {
    *out = std::numeric_limits<double>::quiet_NaN();
  } else if (text == "inf") {
    *out = std::numeric_limits<double>::infinity();
  } else if (text == "-inf") {
    *out = -std::numeric_limits<double>::infinity();
  } else {
    return false;
  }
  return true;
}

// The document of collection `graphs`; nodes and edges stay empty.
Result<GraphRecord, std::string> read_graph_document(Element doc) {
  Reader rd{doc, {}};
  GraphRecord g;
  g.name = std::string(rd.str("_key"));
  g.kind = std::string(rd.str("kind"));
  g.interval = std::string(rd.str("interval"));
  Element meta;
  if (doc["meta"].get(meta) != simdjson::SUCCESS || !meta.is_object()) {
    rd.fail("meta", "not a JSON object");
  } else {
    g.meta = simdjson::minify(meta);
  }
  g.created_at = rd.number("created_at");
  g.node_count = rd.int64("node_count");
  g.edge_count = rd.int64("edge_count");
  if (auto ok = rd.done(); !ok) return unexpected(ok.error());
  return g;
}

// A node document and its idx.
Ok read_graph_node(Element doc, std::int64_t* idx, GraphNodeRecord* n) {
  Reader rd{doc, {}};
  *idx = rd.int64("idx");
  n->node_id = rd.id("node_id");
  n->time = rd.int64("time_us");
  n->symbol = std::string(rd.str("symbol"));
  simdjson::dom::array features;
  if (doc["features"].get_array().get(features) != simdjson::SUCCESS) {
    rd.fail("features", "not an array");
  } else {
    n->features.reserve(features.size());
    for (Element f : features) {
      double v = 0;
      if (!number_or_special(f, &v)) {
        rd.fail("features", "not an array of numbers");
        break;
      }
      n->features.push_back(static_cast<float>(v));
    }
  }
  const std::int64_t direction = rd.int64("direction");
  if (direction < -1 || direction > 2) rd.fail("direction", "not in -1..2");
  n->direction = static_cast<std::int32_t>(direction);
  Element volatility;
  if (doc["volatility"].get(volatility) != simdjson::SUCCESS) {
    rd.fail("volatility", "missing");
  } else if (!volatility.is_null()) {
    double v = 0;
    if (number_or_special(volatility, &v)) {
      n->volatility = v;
    } else {
      rd.fail("volatility", "not a number or null");
    }
  }
  return rd.done();
}

// An edge document and its idx.
Ok read_graph_edge(Element doc, std::int64_t* idx, GraphEdgeRecord* e) {
  Reader rd{doc, {}};
  *idx = rd.int64("idx");
  e->src = rd.id("src");
  e->dst = rd.id("dst");
  Element weight;
  double w = 0;
  if (doc["weight"].get(weight) != simdjson::SUCCESS || !number_or_special(weight, &w)) {
    rd.fail("weight", "not a number");
  }
  e->weight = static_cast<float>(w);
  e->kind = std::string(rd.str("kind"));
  return rd.done();
}

}  // namespace

StoreResult<void> ArangoStore::replace_graph(const GraphRecord& graph) {
  if (auto ok = check_graph(graph); !ok) return ok;
  std::lock_guard write_lock(graph_write_mutex_);
  // meta is embedded as an object: it must be one (and is written minified, on one line).
  simdjson::dom::parser parser;
  Element meta;
  if (parser.parse(graph.meta).get(meta) != simdjson::SUCCESS || !meta.is_object()) {
    return unexpected(
        err(StoreErrc::kConfig, "graph '" + graph.name + "': meta is not a JSON object"));
  }
  const std::string meta_json = simdjson::minify(meta);
  const std::string nodes = nodes_collection(graph.name);
  const std::string edges = edges_collection(graph.name);

  // 1. No graph document while nodes and edges are rewritten: readers see no graph, not a
  // half-written one.
  if (auto removed = client_->remove_document(std::string(kGraphsCollection), graph.name);
      !removed) {
    return unexpected(from_arango(StoreErrc::kWrite, removed.error()));
  }
  // 2. Empty vertex and edge collections.
  if (auto r = reset_collection(nodes, Coll::kGraphNodes); !r) return r;
  if (auto r = reset_collection(edges, Coll::kGraphEdges); !r) return r;

  // 3. Nodes, then edges (an edge's ends exist before it), chunked by write_chunk.
  std::vector<Doc> docs;
  docs.reserve(graph.nodes.size());
  for (std::size_t i = 0; i < graph.nodes.size(); ++i) {
    const GraphNodeRecord& n = graph.nodes[i];
    Doc doc;
    doc.key = std::to_string(n.node_id);
    std::string features = "[";
    for (std::size_t j = 0; j < n.features.size(); ++j) {
      if (j) features += ',';
      append_float(features, n.features[j]);
    }
    features += ']';
    JsonWriter w(doc.json);
    w.begin_object()
        .field("_key", doc.key)
        .field("idx", static_cast<std::uint64_t>(i))
        .field("node_id", doc.key)
        .field("time_us", n.time)
        .field("symbol", n.symbol)
        .field_raw("features", features)
        .field("direction", n.direction);
    if (!n.volatility) {
      w.field_null("volatility");
    } else if (std::isfinite(*n.volatility)) {
      w.field("volatility", *n.volatility);
    } else {
      w.field("volatility", special_text(*n.volatility));
    }
    w.end_object();
    docs.push_back(std::move(doc));
  }
  if (auto r = write(nodes, Coll::kGraphNodes, std::move(docs)); !r) return unexpected(r.error());

  docs.clear();
  docs.reserve(graph.edges.size());
  const std::string prefix = nodes + "/";
  for (std::size_t i = 0; i < graph.edges.size(); ++i) {
    const GraphEdgeRecord& e = graph.edges[i];
    Doc doc;
    doc.key = std::to_string(i);
    std::string weight;
    append_float(weight, e.weight);
    const std::string src = std::to_string(e.src);
    const std::string dst = std::to_string(e.dst);
    JsonWriter w(doc.json);
    w.begin_object()
        .field("_key", doc.key)
        .field("_from", prefix + src)
        .field("_to", prefix + dst)
        .field("idx", static_cast<std::uint64_t>(i))
        .field("src", src)
        .field("dst", dst)
        .field_raw("weight", weight)
        .field("kind", e.kind)
        .end_object();
    docs.push_back(std::move(doc));
  }
  if (auto r = write(edges, Coll::kGraphEdges, std::move(docs)); !r) return unexpected(r.error());

  // 4. The named graph over both collections (kept when it exists).
  const std::vector<EdgeDefinition> definitions = {
      EdgeDefinition{.collection = edges, .from = {nodes}, .to = {nodes}}};
  if (auto created = client_->create_graph(graph.name, definitions); !created) {
    return unexpected(from_arango(StoreErrc::kWrite, created.error()));
  }

  // 5. The graph document, last: from now on readers see the whole graph.
  Doc doc;
  doc.key = graph.name;
  JsonWriter w(doc.json);
  w.begin_object()
      .field("_key", graph.name)
      .field("kind", graph.kind)
      .field("interval", graph.interval)
      .field_raw("meta", meta_json)
      .field("created_at", graph.created_at)
      .field("node_count", static_cast<std::int64_t>(graph.nodes.size()))
      .field("edge_count", static_cast<std::int64_t>(graph.edges.size()))
      .end_object();
  docs.clear();
  docs.push_back(std::move(doc));
  if (auto r = write(std::string(kGraphsCollection), Coll::kGraphs, std::move(docs)); !r) {
    return unexpected(r.error());
  }
  return {};
}

StoreResult<std::optional<GraphRecord>> ArangoStore::graph(const std::string& name) {
  if (!valid_graph_name(name)) return std::optional<GraphRecord>();  // none can be stored
  const std::string incomplete = "graph '" + name + "' is being written or incomplete";
  // The graph document and its revision; nullopt when there is none.
  auto head = [&]() -> StoreResult<std::optional<std::pair<GraphRecord, std::string>>> {
    auto doc = client_->get_document(std::string(kGraphsCollection), name);
    if (!doc) return unexpected(from_arango(StoreErrc::kRead, doc.error()));
    if (!doc->has_value()) return std::optional<std::pair<GraphRecord, std::string>>();
    simdjson::dom::parser parser;
    Element element;
    if (parser.parse(**doc).get(element) != simdjson::SUCCESS) {
      return unexpected(err(StoreErrc::kCorrupt, "graph document '" + name + "' is not JSON"));
    }
    auto g = read_graph_document(element);
    if (!g) {
      return unexpected(err(StoreErrc::kCorrupt, "graph document '" + name + "': " + g.error()));
    }
    std::string_view rev;
    if (element["_rev"].get_string().get(rev) != simdjson::SUCCESS) rev = {};
    return std::optional<std::pair<GraphRecord, std::string>>(
        std::pair<GraphRecord, std::string>(std::move(*g), std::string(rev)));
  };
  auto first = head();
  if (!first) return unexpected(first.error());
  if (!first->has_value()) return std::optional<GraphRecord>();
  GraphRecord g = std::move((*first)->first);
  const std::string rev = std::move((*first)->second);

  // Positions 0, 1, ... in order; a gap (or a repeat) means a partial graph.
  bool in_order = true;
  JsonWriter vars;
  vars.begin_object().field("@collection", nodes_collection(name)).end_object();
  auto nodes = query(kByIdxAql, vars.view(), [&](Element doc) -> Ok {
    GraphNodeRecord n;
    std::int64_t idx = 0;
    if (auto ok = read_graph_node(doc, &idx, &n); !ok) return ok;
    in_order = in_order && idx == static_cast<std::int64_t>(g.nodes.size());
    g.nodes.push_back(std::move(n));
    return {};
  });
  if (!nodes) return unexpected(nodes.error());
  vars.clear();
  vars.begin_object().field("@collection", edges_collection(name)).end_object();
  auto edges = query(kByIdxAql, vars.view(), [&](Element doc) -> Ok {
    GraphEdgeRecord e;
    std::int64_t idx = 0;
    if (auto ok = read_graph_edge(doc, &idx, &e); !ok) return ok;
    in_order = in_order && idx == static_cast<std::int64_t>(g.edges.size());
    g.edges.push_back(std::move(e));
    return {};
  });
  if (!edges) return unexpected(edges.error());
  if (!in_order || static_cast<std::int64_t>(g.nodes.size()) != g.node_count ||
      static_cast<std::int64_t>(g.edges.size()) != g.edge_count) {
    return unexpected(err(StoreErrc::kCorrupt, incomplete));
  }
  // Rewritten while we read (a writer removes the document first and writes it last)?
  auto second = head();
  if (!second) return unexpected(second.error());
  if (!second->has_value() || (*second)->second != rev) {
    return unexpected(err(StoreErrc::kCorrupt, incomplete));
  }
  return std::optional<GraphRecord>(std::move(g));
}

StoreResult<std::vector<GraphRecord>> ArangoStore::graphs() {
  JsonWriter vars;
  vars.begin_object().field("@collection", kGraphsCollection).end_object();
  std::vector<GraphRecord> out;
  auto r = query(kGraphsAql, vars.view(), [&](Element doc) -> Ok {
    auto g = read_graph_document(doc);
    if (!g) return unexpected(g.error());
    out.push_back(std::move(*g));
    return {};
  });
  if (!r) return unexpected(r.error());
  return out;
}

}  // namespace sf::store
