// HTTP request/response values shared by the server (http_server.h) and the client
// (http_client.h). Plain structs with no Beast types, so including them stays cheap.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sf::runtime {

bool iequals(std::string_view a, std::string_view b);

// Header fields in arrival order, looked up case-insensitively.
class HttpHeaders {
 public:
  using Entry = std::pair<std::string, std::string>;

  void add(std::string name, std::string value) {
    entries_.emplace_back(std::move(name), std::move(value));
  }
  // Replaces every field of that name with one.
  void set(std::string name, std::string value) {
    erase(name);
    add(std::move(name), std::move(value));
  }
  void erase(std::string_view name) {
    std::erase_if(entries_, [&](const Entry& e) { return iequals(e.first, name); });
  }
  // The first field of that name.
  std::optional<std::string_view> get(std::string_view name) const {
    for (const auto& [key, value] : entries_) {
      if (iequals(key, name)) return std::string_view(value);
    }
    return std::nullopt;
  }
  std::string_view get_or(std::string_view name, std::string_view fallback) const {
    return get(name).value_or(fallback);
  }
  bool contains(std::string_view name) const { return get(name).has_value(); }

  std::size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  std::vector<Entry>::const_iterator begin() const { return entries_.begin(); }
  std::vector<Entry>::const_iterator end() const { return entries_.end(); }

 private:
  std::vector<Entry> entries_;
};

inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// What a caller may do with the API (docs/security.md). Each level includes the ones before it.
enum class Access : std::uint8_t {
  kPublic,   // anyone: health probes
  kRead,     // workflows, telemetry, metrics, the dashboard's data
  kOperate,  // start and stop workflows from templates, send commands
  kAdmin,    // inline workflows (a caller-written DAG)
};
const char* to_string(Access access);

// Who sent a request, as the server's authenticator established it (HttpServerOptions).
struct Caller {
  std::string name = "local";  // token name or the JWT's subject; "local" without authentication
  Access access = Access::kAdmin;  // without authentication (loopback only): everything
  std::string method = "none";     // "none", "token" or "oidc"
};

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: "/queues/a%20b?limit=10"
  std::string path;    // percent-decoded path without the query: "/queues/a b"
  // Percent-decoded query parameters ('+' is a space); repeated keys keep every value.
  std::multimap<std::string, std::string, std::less<>> query;
  // Values captured by {name} segments of the matched route pattern.
  std::map<std::string, std::string, std::less<>> path_params;
  HttpHeaders headers;
  std::string body;
  std::string remote_address;  // "127.0.0.1:53422"
  Caller caller;               // set by the server before the handler runs

  // First value of a query parameter.
  std::optional<std::string_view> query_param(std::string_view name) const {
    auto it = query.find(name);
    if (it == query.end()) return std::nullopt;
    return std::string_view(it->second);
  }
  // A captured path parameter, empty if the pattern has none of that name.
  std::string_view path_param(std::string_view name) const {
    auto it = path_params.find(name);
    return it == path_params.end() ? std::string_view() : std::string_view(it->second);
  }
  std::optional<std::string_view> header(std::string_view name) const { return headers.get(name); }
};

// Pulls a streamed body piece by piece: append the next piece to `out` and return true, or
// return false at the end (anything appended on that last call is still sent).
using HttpBodyStream = std::function<bool(std::string& out)>;

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  HttpHeaders headers;  // extra headers (server) / all headers received (client)
  // Server only: when set, `body` is ignored and the response is sent with chunked transfer
  // encoding from this producer. It runs on a server thread, so it should not block for long.
  HttpBodyStream stream;

  static HttpResponse json(int status, std::string body) {
    HttpResponse response;
    response.status = status;
    response.body = std::move(body);
    return response;
  }
  static HttpResponse text(int status, std::string body,
                           std::string content_type = "text/plain; charset=utf-8") {
    HttpResponse response;
    response.status = status;
    response.content_type = std::move(content_type);
    response.body = std::move(body);
    return response;
  }
  // {"error": message}
  static HttpResponse error(int status, std::string_view message);
};

}  // namespace sf::runtime
