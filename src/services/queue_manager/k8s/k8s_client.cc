#include "services/queue_manager/k8s/k8s_client.h"

#include <openssl/ssl.h>
#include <simdjson.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "exchange/binance/rest/tls_context.h"
#include "exchange/binance/rest/transport.h"

namespace sf::services::qm::k8s {
namespace {

namespace net = boost::asio;
namespace ssl = net::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return ss.str();
}

std::string trim(std::string_view s) {
  std::size_t b = 0;
  std::size_t e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r' || s[b] == '\n')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r' || s[e - 1] == '\n')) {
    --e;
  }
  return std::string(s.substr(b, e - b));
}

// --- YAML subset ------------------------------------------------------------------------------

struct Line {
  int indent = 0;
  std::string text;  // without indentation; "-" alone marks a sequence item
  int number = 0;    // 1-based, for messages
};

// Strips a trailing " # comment" outside quotes.
std::string strip_comment(const std::string& s) {
  char quote = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '#' && (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t')) {
      return s.substr(0, i);
    }
  }
  return s;
}

Result<std::string, std::string> unquote(const std::string& raw, int line) {
  std::string s = trim(raw);
  if (s.size() >= 2 && s.front() == '\'' && s.back() == '\'') {
    std::string out;
    for (std::size_t i = 1; i + 1 < s.size(); ++i) {
      out.push_back(s[i]);
      if (s[i] == '\'' && i + 2 < s.size() && s[i + 1] == '\'') ++i;
    }
    return out;
  }
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') {
    std::string out;
    for (std::size_t i = 1; i + 1 < s.size(); ++i) {
      if (s[i] != '\\') {
        out.push_back(s[i]);
        continue;
      }
      if (i + 2 >= s.size()) return unexpected("line " + std::to_string(line) + ": bad escape");
      char e = s[++i];
      switch (e) {
        case 'n':
          out.push_back('\n');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case '"':
          out.push_back('"');
          break;
        case '\\':
          out.push_back('\\');
          break;
        case '/':
          out.push_back('/');
          break;
        default:
          return unexpected("line " + std::to_string(line) + ": unsupported escape \\" +
                            std::string(1, e));
      }
    }
    return out;
  }
  if (!s.empty() &&
      (s.front() == '|' || s.front() == '>' || s.front() == '&' || s.front() == '*')) {
    return unexpected("line " + std::to_string(line) +
                      ": block scalars, anchors and aliases are not supported");
  }
  return s;
}

// Where "key: value" splits: the first ':' followed by a space or the end, outside quotes.
std::size_t key_colon(const std::string& s) {
  char quote = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (quote) {
      if (c == quote) quote = 0;
    } else if ((c == '"' || c == '\'') && i == 0) {
      quote = c;
    } else if (c == ':' && (i + 1 == s.size() || s[i + 1] == ' ' || s[i + 1] == '\t')) {
      return i;
    }
  }
  return std::string::npos;
}

class YamlParser {
 public:
  explicit YamlParser(std::vector<Line> lines) : lines_(std::move(lines)) {}

  Result<YamlNode, std::string> parse() {
    if (lines_.empty()) return YamlNode{};
    auto node = parse_node(0);
    if (!node) return node;
    if (pos_ < lines_.size()) return error(lines_[pos_], "unexpected indentation");
    return node;
  }

 private:
  static Unexpected<std::string> error(const Line& line, const std::string& what) {
    return unexpected("line " + std::to_string(line.number) + ": " + what);
  }

  Result<YamlNode, std::string> scalar_value(const std::string& raw, const Line& line) {
    std::string t = trim(raw);
    YamlNode n;
    if (t == "{}") {
      n.kind = YamlNode::Kind::kMap;
      return n;
    }
    if (t == "[]") {
      n.kind = YamlNode::Kind::kSeq;
      return n;
    }
    if (t == "~" || t == "null") return n;
    if (!t.empty() && (t.front() == '{' || t.front() == '[')) {
      return error(line, "flow collections are not supported");
    }
    auto s = unquote(t, line.number);
    if (!s) return unexpected(s.error());
    n.kind = YamlNode::Kind::kScalar;
    n.scalar = std::move(*s);
    return n;
  }

  Result<YamlNode, std::string> parse_node(int min_indent) {
    const Line& first = lines_[pos_];
    if (first.indent < min_indent) return YamlNode{};
    if (first.text == "-") return parse_seq(first.indent);
    if (key_colon(first.text) != std::string::npos) return parse_map(first.indent);
    ++pos_;
    return scalar_value(first.text, first);
  }

  Result<YamlNode, std::string> parse_seq(int indent) {
    YamlNode node;
    node.kind = YamlNode::Kind::kSeq;
    while (pos_ < lines_.size() && lines_[pos_].indent == indent && lines_[pos_].text == "-") {
      ++pos_;
      if (pos_ < lines_.size() && lines_[pos_].indent > indent) {
        auto item = parse_node(indent + 1);
        if (!item) return item;
        node.seq.push_back(std::move(*item));
      } else {
        node.seq.emplace_back();
      }
    }
    return node;
  }

  Result<YamlNode, std::string> parse_map(int indent) {
    YamlNode node;
    node.kind = YamlNode::Kind::kMap;
    while (pos_ < lines_.size() && lines_[pos_].indent == indent && lines_[pos_].text != "-") {
      const Line& line = lines_[pos_];
      std::size_t colon = key_colon(line.text);
      if (colon == std::string::npos) return error(line, "expected 'key: value'");
      auto key = unquote(line.text.substr(0, colon), line.number);
      if (!key) return unexpected(key.error());
      std::string rest = trim(line.text.substr(colon + 1));
      ++pos_;
      if (!rest.empty()) {
        auto value = scalar_value(rest, line);
        if (!value) return value;
        node.map.emplace_back(std::move(*key), std::move(*value));
        continue;
      }
      if (pos_ < lines_.size() && (lines_[pos_].indent > indent ||
                                   (lines_[pos_].indent == indent && lines_[pos_].text == "-"))) {
        // A sequence may sit at the key's own indentation ("key:\n- item").
        auto value = lines_[pos_].indent == indent ? parse_seq(indent) : parse_node(indent + 1);
        if (!value) return value;
        node.map.emplace_back(std::move(*key), std::move(*value));
      } else {
        node.map.emplace_back(std::move(*key), YamlNode{});
      }
    }
    return node;
  }

  std::vector<Line> lines_;
  std::size_t pos_ = 0;
};

YamlNode from_json(simdjson::dom::element e) {
  YamlNode n;
  switch (e.type()) {
    case simdjson::dom::element_type::OBJECT:
      n.kind = YamlNode::Kind::kMap;
      for (auto [k, v] : simdjson::dom::object(e)) n.map.emplace_back(std::string(k), from_json(v));
      break;
    case simdjson::dom::element_type::ARRAY:
      n.kind = YamlNode::Kind::kSeq;
      for (auto v : simdjson::dom::array(e)) n.seq.push_back(from_json(v));
      break;
    case simdjson::dom::element_type::STRING:
      n.kind = YamlNode::Kind::kScalar;
      n.scalar = std::string(std::string_view(e));
      break;
    case simdjson::dom::element_type::BOOL:
      n.kind = YamlNode::Kind::kScalar;
      n.scalar = bool(e) ? "true" : "false";
      break;
    case simdjson::dom::element_type::NULL_VALUE:
      break;
    default:
      n.kind = YamlNode::Kind::kScalar;
      n.scalar = simdjson::to_string(e);
      break;
  }
  return n;
}

const YamlNode* find_named(const YamlNode* list, std::string_view name) {
  if (!list || list->kind != YamlNode::Kind::kSeq) return nullptr;
  for (const auto& item : list->seq) {
    if (item.str("name") == name) return &item;
  }
  return nullptr;
}

std::string resolve_path(const std::string& path, const std::filesystem::path& base) {
  if (path.empty()) return path;
  std::filesystem::path p(path);
  return p.is_absolute() ? path : (base / p).string();
}

// The PEM from `<key>-data` (base64) or the file `<key>`.
Result<std::string, std::string> pem_from(const YamlNode& node, const std::string& key,
                                          const std::filesystem::path& base) {
  if (std::string data = node.str(key + "-data"); !data.empty()) {
    auto decoded = base64_decode(data);
    if (!decoded) return unexpected(key + "-data: " + decoded.error());
    return decoded;
  }
  if (std::string file = node.str(key); !file.empty()) {
    std::string path = resolve_path(file, base);
    auto text = read_file(path);
    if (!text) return unexpected(key + ": cannot read " + path);
    return *text;
  }
  return std::string();
}

}  // namespace

// --- public helpers ---------------------------------------------------------------------------

const YamlNode* YamlNode::get(std::string_view key) const {
  if (kind != Kind::kMap) return nullptr;
  for (const auto& [k, v] : map) {
    if (k == key) return &v;
  }
  return nullptr;
}

std::string YamlNode::str(std::string_view key) const {
  const YamlNode* n = get(key);
  return n && n->kind == Kind::kScalar ? n->scalar : std::string();
}

Result<YamlNode, std::string> parse_yaml(std::string_view text) {
  std::string body = trim(text);
  if (!body.empty() && body.front() == '{') {
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    if (auto err = parser.parse(body).get(root); err) {
      return unexpected(std::string("invalid JSON: ") + simdjson::error_message(err));
    }
    return from_json(root);
  }
  std::vector<Line> lines;
  int number = 0;
  std::istringstream in{std::string(text)};
  std::string raw;
  while (std::getline(in, raw)) {
    ++number;
    if (!raw.empty() && raw.back() == '\r') raw.pop_back();
    if (raw.find('\t') != std::string::npos && raw.find_first_not_of(" \t") != std::string::npos &&
        raw[raw.find_first_not_of(' ')] == '\t') {
      return unexpected("line " + std::to_string(number) + ": tab indentation");
    }
    std::string content = strip_comment(raw);
    std::size_t first = content.find_first_not_of(' ');
    if (first == std::string::npos) continue;
    std::string rest = trim(content.substr(first));
    if (rest == "---" || rest == "...") continue;
    int indent = static_cast<int>(first);
    // "- a: b" is a sequence marker followed by "a: b" indented past the dash.
    while (rest == "-" || rest.starts_with("- ")) {
      lines.push_back(Line{.indent = indent, .text = "-", .number = number});
      if (rest == "-") {
        rest.clear();
        break;
      }
      std::size_t after = rest.find_first_not_of(' ', 1);
      indent += static_cast<int>(after);
      rest = rest.substr(after);
    }
    if (!rest.empty()) lines.push_back(Line{.indent = indent, .text = rest, .number = number});
  }
  return YamlParser(std::move(lines)).parse();
}

Result<std::string, std::string> base64_decode(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  bool padding = false;
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '=') {
      padding = true;
      continue;
    }
    int v = value(c);
    if (v < 0 || padding) return unexpected(std::string("invalid base64"));
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  if (bits >= 6) return unexpected(std::string("invalid base64 length"));
  return out;
}

Result<ClusterConfig, std::string> load_in_cluster_config(const InClusterPaths& paths,
                                                          const EnvLookup& env) {
  auto host = paths.host ? paths.host : env("KUBERNETES_SERVICE_HOST");
  auto port = paths.port ? paths.port : env("KUBERNETES_SERVICE_PORT");
  if (!host || host->empty()) {
    return unexpected(std::string("in-cluster config: KUBERNETES_SERVICE_HOST is not set"));
  }
  ClusterConfig config;
  config.source = "in-cluster";
  const bool v6 = host->find(':') != std::string::npos;
  config.server = "https://" + (v6 ? "[" + *host + "]" : *host) + ":" +
                  (port && !port->empty() ? *port : "443");
  config.token_file = paths.dir + "/token";
  auto token = read_file(config.token_file);
  if (!token) return unexpected("in-cluster config: cannot read " + config.token_file);
  config.token = trim(*token);
  if (config.token.empty())
    return unexpected("in-cluster config: " + config.token_file + " is empty");
  const std::string ca = paths.dir + "/ca.crt";
  if (!std::filesystem::exists(ca)) return unexpected("in-cluster config: " + ca + " is missing");
  config.ca_file = ca;
  if (auto ns = read_file(paths.dir + "/namespace")) config.ns = trim(*ns);
  return config;
}

Result<ClusterConfig, std::string> load_kubeconfig(const std::string& path,
                                                   std::string_view context) {
  auto text = read_file(path);
  if (!text) return unexpected("kubeconfig: cannot read " + path);
  auto parsed = parse_yaml(*text);
  if (!parsed) return unexpected("kubeconfig " + path + ": " + parsed.error());
  const YamlNode& root = *parsed;
  const std::filesystem::path base = std::filesystem::path(path).parent_path();
  auto fail = [&](const std::string& what) {
    return unexpected("kubeconfig " + path + ": " + what);
  };

  std::string ctx_name = context.empty() ? root.str("current-context") : std::string(context);
  if (ctx_name.empty()) return fail("no current-context (and no context given)");
  const YamlNode* ctx_entry = find_named(root.get("contexts"), ctx_name);
  const YamlNode* ctx = ctx_entry ? ctx_entry->get("context") : nullptr;
  if (!ctx) return fail("context '" + ctx_name + "' not found");
  const std::string cluster_name = ctx->str("cluster");
  const std::string user_name = ctx->str("user");
  const YamlNode* cluster_entry = find_named(root.get("clusters"), cluster_name);
  const YamlNode* cluster = cluster_entry ? cluster_entry->get("cluster") : nullptr;
  if (!cluster) return fail("cluster '" + cluster_name + "' not found");

  ClusterConfig config;
  config.source = path;
  config.ns = ctx->str("namespace");
  config.server = cluster->str("server");
  if (config.server.empty()) return fail("cluster '" + cluster_name + "' has no server");
  config.insecure_skip_tls_verify = cluster->str("insecure-skip-tls-verify") == "true";
  if (std::string data = cluster->str("certificate-authority-data"); !data.empty()) {
    auto pem = base64_decode(data);
    if (!pem) return fail("certificate-authority-data: " + pem.error());
    config.ca_pem = std::move(*pem);
  } else if (std::string file = cluster->str("certificate-authority"); !file.empty()) {
    config.ca_file = resolve_path(file, base);
  }

  if (!user_name.empty()) {
    const YamlNode* user_entry = find_named(root.get("users"), user_name);
    const YamlNode* user = user_entry ? user_entry->get("user") : nullptr;
    if (!user) return fail("user '" + user_name + "' not found");
    config.token = user->str("token");
    if (std::string file = user->str("tokenFile"); !file.empty()) {
      config.token_file = resolve_path(file, base);
      auto token = read_file(config.token_file);
      if (!token) return fail("tokenFile: cannot read " + config.token_file);
      config.token = trim(*token);
    }
    auto cert = pem_from(*user, "client-certificate", base);
    if (!cert) return fail(cert.error());
    auto key = pem_from(*user, "client-key", base);
    if (!key) return fail(key.error());
    config.client_cert_pem = std::move(*cert);
    config.client_key_pem = std::move(*key);
    if (config.client_cert_pem.empty() != config.client_key_pem.empty()) {
      return fail("user '" + user_name + "': client certificate and key must come together");
    }
    if (config.token.empty() && config.client_cert_pem.empty()) {
      if (user->get("exec"))
        return fail("user '" + user_name + "': exec plugins are not supported");
      if (user->get("auth-provider")) {
        return fail("user '" + user_name + "': auth-provider plugins are not supported");
      }
      if (!user->str("username").empty()) {
        return fail("user '" + user_name + "': basic auth is not supported");
      }
    }
  }
  return config;
}

Result<ClusterConfig, std::string> load_cluster_config(const EnvLookup& env,
                                                       const InClusterPaths& paths) {
  if (auto kubeconfig = env("KUBECONFIG"); kubeconfig && !kubeconfig->empty()) {
    std::string list = *kubeconfig;
    std::size_t start = 0;
    while (start <= list.size()) {
      std::size_t end = list.find(':', start);
      if (end == std::string::npos) end = list.size();
      std::string file = list.substr(start, end - start);
      if (!file.empty() && std::filesystem::exists(file)) return load_kubeconfig(file);
      start = end + 1;
    }
    return unexpected("KUBECONFIG: no readable file in '" + list + "'");
  }
  if (auto host = paths.host ? paths.host : env("KUBERNETES_SERVICE_HOST");
      host && !host->empty()) {
    return load_in_cluster_config(paths, env);
  }
  if (auto home = env("HOME"); home && std::filesystem::exists(*home + "/.kube/config")) {
    return load_kubeconfig(*home + "/.kube/config");
  }
  return unexpected(std::string(
      "no Kubernetes configuration: set KUBECONFIG, run in a pod, or create ~/.kube/config"));
}

// --- ApiClient --------------------------------------------------------------------------------

struct ApiClient::Impl {
  ClusterConfig config;
  std::chrono::milliseconds timeout;
  binance::BaseUrl url;
  std::optional<ssl::context> tls;
  std::string host_header;

  struct Exchange {
    std::optional<ApiResponse> response;
    std::string error;
  };

  std::string bearer() const {
    if (!config.token_file.empty()) {
      if (auto t = read_file(config.token_file)) {
        std::string token = trim(*t);
        if (!token.empty()) return token;
      }
    }
    return config.token;
  }

  template <class Stream>
  net::awaitable<void> send(Stream& stream, http::request<http::string_body>& req, Exchange& ex) {
    beast::error_code ec;
    co_await http::async_write(stream, req, net::redirect_error(net::use_awaitable, ec));
    if (ec) {
      ex.error = "sending to " + url.origin() + ": " + ec.message();
      co_return;
    }
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64u << 20);
    co_await http::async_read(stream, buffer, parser, net::redirect_error(net::use_awaitable, ec));
    if (ec) {
      ex.error = "reading from " + url.origin() + ": " +
                 (ec == beast::error::timeout ? std::string("timed out") : ec.message());
      co_return;
    }
    auto res = parser.release();
    ApiResponse out;
    out.status = static_cast<int>(res.result_int());
    out.content_type = std::string(res[http::field::content_type]);
    out.body = std::move(res.body());
    ex.response = std::move(out);
  }

  net::awaitable<void> run(net::io_context& io, http::request<http::string_body>& req,
                           Exchange& ex) {
    beast::error_code ec;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    tcp::resolver resolver(io);
    auto endpoints = co_await resolver.async_resolve(url.host, std::to_string(url.port),
                                                     net::redirect_error(net::use_awaitable, ec));
    if (ec) {
      ex.error = "cannot resolve " + url.host + ": " + ec.message();
      co_return;
    }
    if (!url.tls) {
      beast::tcp_stream stream(io);
      stream.expires_at(deadline);
      co_await stream.async_connect(endpoints, net::redirect_error(net::use_awaitable, ec));
      if (ec) {
        ex.error = "cannot connect to " + url.origin() + ": " + ec.message();
        co_return;
      }
      co_await send(stream, req, ex);
      stream.socket().shutdown(tcp::socket::shutdown_both, ec);
      co_return;
    }
    ssl::stream<beast::tcp_stream> stream(io, *tls);
    beast::get_lowest_layer(stream).expires_at(deadline);
    co_await beast::get_lowest_layer(stream).async_connect(
        endpoints, net::redirect_error(net::use_awaitable, ec));
    if (ec) {
      ex.error = "cannot connect to " + url.origin() + ": " + ec.message();
      co_return;
    }
    beast::error_code ip_ec;
    const bool is_ip = (net::ip::make_address(url.host, ip_ec), !ip_ec);
    if (!is_ip) SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str());
    if (config.insecure_skip_tls_verify) {
      stream.set_verify_mode(ssl::verify_none);
    } else {
      stream.set_verify_mode(ssl::verify_peer);
      stream.set_verify_callback(ssl::host_name_verification(url.host));
    }
    co_await stream.async_handshake(ssl::stream_base::client,
                                    net::redirect_error(net::use_awaitable, ec));
    if (ec) {
      ex.error = "TLS handshake with " + url.origin() + " failed: " + ec.message();
      co_return;
    }
    co_await send(stream, req, ex);
    beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ec);
  }
};

ApiClient::ApiClient(ClusterConfig config, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  impl_->config = std::move(config);
  impl_->timeout = timeout;
  auto url = binance::parse_base_url(impl_->config.server);
  if (!url) throw std::invalid_argument("Kubernetes server URL: " + url.error());
  impl_->url = *url;
  const bool default_port = (url->tls && url->port == 443) || (!url->tls && url->port == 80);
  const bool v6 = url->host.find(':') != std::string::npos;
  impl_->host_header = (v6 ? "[" + url->host + "]" : url->host) +
                       (default_port ? "" : ":" + std::to_string(url->port));
  if (!url->tls) return;
  auto& ctx = impl_->tls.emplace(ssl::context::tls_client);
  const ClusterConfig& c = impl_->config;
  boost::system::error_code ec;
  if (c.ca_pem.empty()) {
    binance::TlsOptions tls;
    tls.verify_peer = !c.insecure_skip_tls_verify;
    tls.ca_file = c.ca_file;
    if (auto ok = binance::configure_client_tls(ctx, tls); !ok) {
      throw std::invalid_argument("Kubernetes TLS: " + ok.error());
    }
  } else {
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                        ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                    ec);
    if (!ec) ctx.add_certificate_authority(net::buffer(c.ca_pem), ec);
    if (ec)
      throw std::invalid_argument("Kubernetes TLS: certificate-authority-data: " + ec.message());
  }
  if (!c.client_cert_pem.empty()) {
    ctx.use_certificate_chain(net::buffer(c.client_cert_pem), ec);
    if (!ec) ctx.use_private_key(net::buffer(c.client_key_pem), ssl::context::pem, ec);
    if (ec) throw std::invalid_argument("Kubernetes TLS: client certificate/key: " + ec.message());
  }
}

ApiClient::~ApiClient() = default;

const ClusterConfig& ApiClient::config() const {
  return impl_->config;
}

Result<ApiResponse, std::string> ApiClient::request(std::string_view method,
                                                    std::string_view target,
                                                    std::string_view body) const {
  http::verb verb = http::string_to_verb(method);
  if (verb == http::verb::unknown) return unexpected("unknown HTTP method " + std::string(method));
  http::request<http::string_body> req{verb, impl_->url.path_prefix + std::string(target), 11};
  req.set(http::field::host, impl_->host_header);
  req.set(http::field::user_agent, "streamforge-queue-manager");
  req.set(http::field::accept, "application/json");
  if (std::string token = impl_->bearer(); !token.empty()) {
    req.set(http::field::authorization, "Bearer " + token);
  }
  if (!body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = std::string(body);
  }
  req.keep_alive(false);
  req.prepare_payload();

  net::io_context io;
  Impl::Exchange ex;
  net::co_spawn(io, impl_->run(io, req, ex), [&](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& err) {
      ex.error = err.what();
    }
  });
  io.run();
  if (ex.response) return std::move(*ex.response);
  return unexpected(ex.error.empty() ? std::string("request failed") : ex.error);
}

}  // namespace sf::services::qm::k8s
