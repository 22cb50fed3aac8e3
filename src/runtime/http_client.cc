#include "runtime/http_client.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <exception>
#include <optional>

#include "runtime/url.h"

namespace sf::runtime {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using SecureStream = ssl::stream<beast::tcp_stream>;

constexpr std::uint64_t kMaxResponseBytes = 256ull << 20;

bool is_idempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE" ||
         method == "OPTIONS";
}

std::string describe(const beast::error_code& ec, std::chrono::milliseconds timeout) {
  if (ec == beast::error::timeout)
    return "timed out after " + std::to_string(timeout.count()) + " ms";
  return ec.message();
}

}  // namespace

Result<HttpUrl, std::string> parse_http_url(std::string_view url) {
  constexpr std::string_view kHttp = "http://";
  constexpr std::string_view kHttps = "https://";
  HttpUrl parsed;
  std::string_view rest;
  if (url.starts_with(kHttp)) {
    rest = url.substr(kHttp.size());
  } else if (url.starts_with(kHttps)) {
    rest = url.substr(kHttps.size());
    parsed.tls = true;
    parsed.port = 443;
  } else {
    const std::size_t scheme_end = url.find("://");
    if (scheme_end != std::string_view::npos) {
      return unexpected("unsupported URL scheme '" + std::string(url.substr(0, scheme_end)) +
                        "' in '" + std::string(url) +
                        "' (only http:// and https:// are supported)");
    }
    return unexpected("URL '" + std::string(url) + "' must start with http:// or https://");
  }
  if (const std::size_t hash = rest.find('#'); hash != std::string_view::npos) {
    rest = rest.substr(0, hash);
  }
  const std::size_t authority_end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, authority_end);
  if (authority_end != std::string_view::npos) {
    parsed.target = std::string(rest.substr(authority_end));
    if (parsed.target.front() == '?') parsed.target.insert(0, "/");
  }
  auto host_port = parse_authority(authority, parsed.port, url);
  if (!host_port) return unexpected(host_port.error());
  parsed.host = std::move(host_port->host);
  parsed.port = host_port->port;
  return parsed;
}

struct HttpClient::Impl {
  explicit Impl(TlsOptions tls) : tls_options(std::move(tls)) {}

  TlsOptions tls_options;
  // Declared before the streams so that they outlive them.
  std::optional<ssl::context> tls_context;  // made on the first https request
  net::io_context io;
  // At most one of these is open: the kept-alive connection.
  std::optional<beast::tcp_stream> plain;
  std::optional<SecureStream> secure;
  std::string host;
  std::uint16_t port = 0;
  bool tls = false;
  beast::flat_buffer buffer;
  int connections_opened = 0;

  bool connected() const { return plain.has_value() || secure.has_value(); }
  bool connected_to(const HttpUrl& url) const {
    return connected() && host == url.host && port == url.port && tls == url.tls;
  }

  void close() {
    // No TLS close_notify: the peer sees a plain TCP close, as a kept-alive connection dropped
    // by either side would look anyway.
    beast::error_code ignored;
    if (plain) {
      plain->socket().shutdown(tcp::socket::shutdown_both, ignored);
      plain->close();
      plain.reset();
    }
    if (secure) {
      beast::get_lowest_layer(*secure).socket().shutdown(tcp::socket::shutdown_both, ignored);
      beast::get_lowest_layer(*secure).close();
      secure.reset();
    }
    buffer.clear();
  }

  Result<void, std::string> ensure_tls_context() {
    if (tls_context) return {};
    tls_context.emplace(ssl::context::tls_client);
    if (auto configured = configure_client_tls(*tls_context, tls_options); !configured) {
      tls_context.reset();
      return unexpected(configured.error());
    }
    return {};
  }

  struct Attempt {
    std::optional<HttpResponse> response;
    std::string error;
    bool retryable = false;  // failed on a reused connection before any response byte
  };

  // Opens the connection (TCP, then TLS for https); false with attempt.error set on failure.
  net::awaitable<bool> connect(const HttpUrl& url, std::chrono::steady_clock::time_point deadline,
                               std::chrono::milliseconds timeout, Attempt& attempt) {
    beast::error_code ec;
    const std::string where = url.host + ":" + std::to_string(url.port);
    if (url.tls) {
      if (auto ready = ensure_tls_context(); !ready) {
        attempt.error = "https://" + where + ": " + ready.error();
        co_return false;
      }
    }
    tcp::resolver resolver(co_await net::this_coro::executor);
    const auto endpoints = co_await resolver.async_resolve(
        url.host, std::to_string(url.port), net::redirect_error(net::use_awaitable, ec));
    if (ec) {
      attempt.error = "cannot resolve " + url.host + ": " + ec.message();
      co_return false;
    }
    beast::tcp_stream& tcp_layer =
        url.tls ? beast::get_lowest_layer(secure.emplace(io, *tls_context)) : plain.emplace(io);
    tcp_layer.expires_at(deadline);
    co_await tcp_layer.async_connect(endpoints, net::redirect_error(net::use_awaitable, ec));
    if (ec) {
      attempt.error = "cannot connect to " + where + ": " + describe(ec, timeout);
      close();
      co_return false;
    }
    ++connections_opened;
    host = url.host;
    port = url.port;
    tls = url.tls;
    if (!url.tls) co_return true;

    SSL* handle = secure->native_handle();
    // SNI carries host names only (RFC 6066 forbids IP literals).
    if (!is_ip_literal(url.host) && SSL_set_tlsext_host_name(handle, url.host.c_str()) != 1) {
      attempt.error = "https://" + where + ": cannot set SNI host name " + url.host;
      close();
      co_return false;
    }
    if (tls_options.verify_peer) {
      secure->set_verify_mode(ssl::verify_peer);
      secure->set_verify_callback(host_name_verifier(url.host));
    } else {
      secure->set_verify_mode(ssl::verify_none);
    }
    co_await secure->async_handshake(ssl::stream_base::client,
                                     net::redirect_error(net::use_awaitable, ec));
    if (ec) {
      attempt.error = "https://" + where + ": " +
                      (ec == beast::error::timeout ? "TLS handshake " + describe(ec, timeout)
                                                   : tls_handshake_failure(handle, ec));
      close();
      co_return false;
    }
    co_return true;
  }

  template <class Stream>
  net::awaitable<void> transfer(Stream& stream, const std::string& where, bool reused,
                                const http::request<http::string_body>& request,
                                std::chrono::steady_clock::time_point deadline,
                                std::chrono::milliseconds timeout, Attempt& attempt) {
    beast::error_code ec;
    beast::get_lowest_layer(stream).expires_at(deadline);
    co_await http::async_write(stream, request, net::redirect_error(net::use_awaitable, ec));
    if (ec) {
      attempt.error = "sending to " + where + " failed: " + describe(ec, timeout);
      attempt.retryable = reused && ec != beast::error::timeout;
      close();
      co_return;
    }

    // Interim 1xx responses (100 Continue) precede the real one: skip them.
    std::optional<http::response_parser<http::string_body>> parser;
    for (bool first = true;; first = false) {
      parser.emplace();
      parser->body_limit(kMaxResponseBytes);
      parser->skip(request.method() == http::verb::head);
      co_await http::async_read(stream, buffer, *parser,
                                net::redirect_error(net::use_awaitable, ec));
      if (ec) {
        attempt.error = "reading from " + where + " failed: " + describe(ec, timeout);
        attempt.retryable = first && reused && !parser->got_some() && ec != beast::error::timeout;
        close();
        co_return;
      }
      const unsigned status = parser->get().result_int();
      if (status < 100 || status >= 200 || status == 101) break;
    }

    http::response<http::string_body> message = parser->release();
    HttpResponse response;
    response.status = static_cast<int>(message.result_int());
    for (const auto& field : message) {
      response.headers.add(std::string(field.name_string()), std::string(field.value()));
    }
    response.content_type = std::string(response.headers.get_or("Content-Type", ""));
    response.body = std::move(message.body());
    if (!message.keep_alive()) close();
    attempt.response = std::move(response);
  }

  net::awaitable<void> exchange(const HttpUrl& url, const http::request<http::string_body>& request,
                                std::chrono::steady_clock::time_point deadline,
                                std::chrono::milliseconds timeout, Attempt& attempt) {
    const std::string where = url.host + ":" + std::to_string(url.port);
    const bool reused = connected();
    if (!reused && !co_await connect(url, deadline, timeout, attempt)) co_return;
    if (secure) {
      co_await transfer(*secure, where, reused, request, deadline, timeout, attempt);
    } else {
      co_await transfer(*plain, where, reused, request, deadline, timeout, attempt);
    }
  }

  Attempt run_once(const HttpUrl& url, const http::request<http::string_body>& request,
                   std::chrono::steady_clock::time_point deadline,
                   std::chrono::milliseconds timeout) {
    Attempt attempt;
    net::co_spawn(io, exchange(url, request, deadline, timeout, attempt),
                  [&attempt](std::exception_ptr error) {
                    if (!error) return;
                    try {
                      std::rethrow_exception(error);
                    } catch (const std::exception& e) {
                      attempt.error = e.what();
                    } catch (...) {
                      attempt.error = "unknown error";
                    }
                  });
    io.restart();
    io.run();
    return attempt;
  }
};

HttpClient::HttpClient() : HttpClient(default_client_tls()) {}
HttpClient::HttpClient(TlsOptions tls) : impl_(std::make_unique<Impl>(std::move(tls))) {}
HttpClient::~HttpClient() = default;

void HttpClient::close() {
  impl_->close();
}
int HttpClient::connections_opened() const {
  return impl_->connections_opened;
}

Result<HttpResponse, std::string> HttpClient::request(std::string_view method, std::string_view url,
                                                      std::string_view body,
                                                      const HttpHeaders& headers,
                                                      std::chrono::milliseconds timeout) {
  auto parsed = parse_http_url(url);
  if (!parsed) return unexpected(parsed.error());
  if (method.empty()) return unexpected(std::string("empty HTTP method"));
  if (impl_->connected() && !impl_->connected_to(*parsed)) impl_->close();

  http::request<http::string_body> message;
  if (const http::verb verb = http::string_to_verb(method); verb != http::verb::unknown) {
    message.method(verb);
  } else {
    message.method_string(method);
  }
  message.target(parsed->target);
  message.version(11);
  for (const auto& [name, value] : headers) message.insert(name, value);
  if (!headers.contains("Host")) {
    const bool ipv6 = parsed->host.find(':') != std::string::npos;
    std::string host = ipv6 ? "[" + parsed->host + "]" : parsed->host;
    if (!parsed->tls || parsed->port != 443) host += ":" + std::to_string(parsed->port);
    message.set(http::field::host, host);
  }
  if (!headers.contains("User-Agent")) message.set(http::field::user_agent, "streamforge");
  if (!body.empty() && !headers.contains("Content-Type")) {
    message.set(http::field::content_type, "application/json");
  }
  message.body() = std::string(body);
  message.prepare_payload();

  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto attempt = impl_->run_once(*parsed, message, deadline, timeout);
  // The server may have closed a kept-alive connection while it sat idle: retry once on a
  // fresh one, where repeating the request is harmless.
  if (!attempt.response && attempt.retryable && is_idempotent(method)) {
    attempt = impl_->run_once(*parsed, message, deadline, timeout);
  }
  if (!attempt.response) return unexpected(std::move(attempt.error));
  return std::move(*attempt.response);
}

Result<HttpResponse, std::string> http_request(std::string_view method, std::string_view url,
                                               std::string_view body, const HttpHeaders& headers,
                                               std::chrono::milliseconds timeout) {
  HttpClient client;
  return client.request(method, url, body, headers, timeout);
}

}  // namespace sf::runtime
