#include "exchange/binance/rest/transport.h"

#include <fcntl.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <exception>
#include <optional>
#include <thread>
#include <vector>

#include "exchange/binance/rest/tls_context.h"
#include "runtime/url.h"

namespace sf::binance {
namespace {

namespace net = boost::asio;
namespace ssl = net::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

// How often an in-flight request looks at its cancel check.
constexpr auto kCancelPollInterval = std::chrono::milliseconds(20);
// Downloads move the body through a buffer of this size: large enough that a gigabyte takes few
// syscalls, small enough to stay out of the way.
constexpr std::size_t kDownloadChunkBytes = 256 * 1024;
// A non-2xx body (an error page) is read and dropped so that the connection can be kept alive;
// beyond this much it is cheaper to drop the connection instead.
constexpr std::uint64_t kMaxDroppedBodyBytes = 1 << 20;

TransportError make_error(TransportErrc code, std::string message, bool transient = true) {
  return TransportError{.code = code, .message = std::move(message), .transient = transient};
}

bool is_ip_address(const std::string& host) {
  beast::error_code ec;
  net::ip::make_address(host, ec);
  return !ec;
}

// Why a read or write failed. `got_some`: part of the response had arrived.
TransportError classify_io_error(const beast::error_code& ec, bool got_some,
                                 std::string_view what) {
  std::string message = std::string(what) + ": " + ec.message();
  if (ec == beast::error::timeout) return make_error(TransportErrc::kTimeout, std::move(message));
  if (ec == http::error::body_limit || ec == http::error::header_limit) {
    return make_error(TransportErrc::kProtocol, std::move(message), /*transient=*/false);
  }
  // Content-Length promised more than arrived, or chunking was cut off.
  if (ec == http::error::partial_message) {
    return make_error(TransportErrc::kTruncated, std::move(message));
  }
  const bool closed = ec == http::error::end_of_stream || ec == net::error::eof ||
                      ec == net::error::connection_reset || ec == net::error::broken_pipe ||
                      ec == net::error::connection_aborted || ec == ssl::error::stream_truncated;
  if (closed) {
    return make_error(got_some ? TransportErrc::kTruncated : TransportErrc::kReset,
                      std::move(message));
  }
  if (ec.category() == http::make_error_code(http::error::bad_version).category()) {
    // Any other HTTP parser complaint: a garbled response, worth another try.
    return make_error(TransportErrc::kProtocol, std::move(message));
  }
  return make_error(TransportErrc::kReset, std::move(message));
}

// The download's destination file, written with plain write(2) so that errors carry errno.
class FileSink {
 public:
  FileSink() = default;
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;
  ~FileSink() {
    if (fd_ >= 0) ::close(fd_);
  }

  // "" on success, else why not.
  std::string open(const std::filesystem::path& path) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) return "cannot create " + path.string() + ": " + std::strerror(errno);
    path_ = path;
    return {};
  }
  std::string write(const char* data, std::size_t size) {
    while (size > 0) {
      const ssize_t n = ::write(fd_, data, size);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return "cannot write " + path_.string() + ": " + std::strerror(errno);
      data += n;
      size -= static_cast<std::size_t>(n);
      written_ += static_cast<std::uint64_t>(n);
    }
    return {};
  }
  // close(2) reports delayed write errors (NFS, quota), so it is checked too.
  std::string close() {
    const int fd = fd_;
    fd_ = -1;
    if (fd >= 0 && ::close(fd) != 0) {
      return "cannot write " + path_.string() + ": " + std::strerror(errno);
    }
    return {};
  }
  std::uint64_t written() const { return written_; }

 private:
  int fd_ = -1;
  std::filesystem::path path_;
  std::uint64_t written_ = 0;
};

// A whole URL split into the origin (for parse_base_url) and the request target.
struct SplitUrl {
  std::string origin;  // "https://host:port"
  std::string target;  // "/path?query", "/" when empty; the fragment dropped
};

std::optional<SplitUrl> split_url(std::string_view url) {
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::nullopt;
  if (const std::size_t hash = url.find('#'); hash != std::string_view::npos) {
    url = url.substr(0, hash);
  }
  const std::size_t path_start = url.find_first_of("/?", scheme_end + 3);
  SplitUrl split;
  split.origin = std::string(url.substr(0, path_start));
  if (path_start == std::string_view::npos) {
    split.target = "/";
  } else {
    split.target = std::string(url.substr(path_start));
    if (split.target.front() == '?') split.target.insert(split.target.begin(), '/');
  }
  return split;
}

// A Location header value made absolute against the URL that sent it (RFC 9110 §10.2.2).
std::string resolve_location(const std::string& current, std::string_view location) {
  if (location.starts_with("http://") || location.starts_with("https://")) {
    return std::string(location);
  }
  const std::size_t scheme_end = current.find("://");
  if (location.starts_with("//")) return current.substr(0, scheme_end + 1) + std::string(location);
  const std::size_t path_start = current.find_first_of("/?#", scheme_end + 3);
  const std::string origin = current.substr(0, path_start);
  if (location.starts_with('/')) return origin + std::string(location);
  // Relative to the current path's directory.
  std::string path = path_start == std::string::npos ? "/" : current.substr(path_start);
  path = path.substr(0, path.find_first_of("?#"));
  if (path.empty() || path.front() != '/') path = "/" + path;
  return origin + path.substr(0, path.rfind('/') + 1) + std::string(location);
}

bool is_redirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

// Statuses that say "try again later" rather than "no".
bool is_retryable_status(int status) {
  return status == 408 || status == 429 || (status >= 500 && status <= 599);
}

std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

std::string BaseUrl::origin() const {
  const bool ipv6 = host.find(':') != std::string::npos;
  std::string out = tls ? "https://" : "http://";
  out += ipv6 ? "[" + host + "]" : host;
  if (port != (tls ? 443 : 80)) out += ":" + std::to_string(port);
  return out;
}

Result<BaseUrl, std::string> parse_base_url(std::string_view url) {
  BaseUrl parsed;
  std::string_view rest;
  if (url.starts_with("https://")) {
    parsed.tls = true;
    parsed.port = 443;
    rest = url.substr(8);
  } else if (url.starts_with("http://")) {
    parsed.tls = false;
    parsed.port = 80;
    rest = url.substr(7);
  } else {
    return unexpected("base URL '" + std::string(url) + "' must start with http:// or https://");
  }
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return unexpected("base URL '" + std::string(url) + "' must not have a query or fragment");
  }
  const std::size_t slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view prefix = rest.substr(slash);
    while (prefix.ends_with('/')) prefix.remove_suffix(1);
    parsed.path_prefix = std::string(prefix);
  }
  auto host_port = runtime::parse_authority(authority, parsed.port, url);
  if (!host_port) return unexpected(host_port.error());
  parsed.host = std::move(host_port->host);
  parsed.port = host_port->port;
  return parsed;
}

const char* to_string(TransportErrc code) {
  switch (code) {
    case TransportErrc::kConfig:
      return "config";
    case TransportErrc::kConnect:
      return "connect";
    case TransportErrc::kTls:
      return "tls";
    case TransportErrc::kTimeout:
      return "timeout";
    case TransportErrc::kReset:
      return "reset";
    case TransportErrc::kTruncated:
      return "truncated";
    case TransportErrc::kProtocol:
      return "protocol";
    case TransportErrc::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

struct HttpTransport::Impl {
  BaseUrl url;
  TransportOptions options;
  std::string host_header;
  // Declared before the streams so that it outlives them.
  net::io_context io;
  std::optional<ssl::context> tls_context;
  tcp::resolver resolver{io};
  std::optional<beast::tcp_stream> plain;
  std::optional<ssl::stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  int connections_opened = 0;

  // Set by the polling loop when it aborts the operation in flight, so that the coroutine can
  // tell a cancellation or an overdue name lookup from a network failure.
  enum class Abort : std::uint8_t { kNone, kCancelled, kResolveTimeout, kDeadline };
  Abort abort = Abort::kNone;
  std::optional<Clock::time_point> resolve_deadline;
  // Downloads: when the whole request must be over (DownloadOptions::timeout).
  std::optional<Clock::time_point> request_deadline;
  std::vector<char> chunk;  // the download buffer, kept between downloads

  bool connected() const { return plain.has_value() || secure.has_value(); }

  beast::tcp_stream& lowest() { return secure ? secure->next_layer() : *plain; }

  void close() {
    if (connected()) {
      beast::error_code ignored;
      // No TLS close_notify: responses are delimited by Content-Length or chunking, and a
      // shutdown exchange with a server that has gone away could only add a wait.
      lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
      lowest().close();
    }
    secure.reset();
    plain.reset();
    buffer.clear();
  }

  void abort_in_flight() {
    resolver.cancel();
    if (connected()) lowest().cancel();
  }

  struct AttemptState {
    std::optional<TransportError> error;
    bool reused_connection = false;
    bool got_response_bytes = false;
  };
  struct Attempt : AttemptState {
    std::optional<TransportResponse> response;
  };
  struct DownloadAttempt : AttemptState {
    std::optional<DownloadResponse> response;
    bool local_file = false;  // `error` is about the destination file
  };

  TransportError aborted_error(std::string_view what) const {
    if (abort == Abort::kCancelled) {
      return make_error(TransportErrc::kCancelled, std::string(what) + ": cancelled",
                        /*transient=*/false);
    }
    if (abort == Abort::kDeadline) {
      return make_error(TransportErrc::kTimeout,
                        std::string(what) + ": the download ran past its timeout");
    }
    return make_error(TransportErrc::kTimeout, std::string(what) + ": timed out after " +
                                                   std::to_string(options.connect_timeout.count()) +
                                                   " ms");
  }

  net::awaitable<void> connect(AttemptState& attempt) {
    beast::error_code ec;
    const auto deadline = Clock::now() + options.connect_timeout;
    const std::string where = url.host + ":" + std::to_string(url.port);
    resolve_deadline = deadline;
    const auto endpoints = co_await resolver.async_resolve(
        url.host, std::to_string(url.port), net::redirect_error(net::use_awaitable, ec));
    resolve_deadline.reset();
    if (abort != Abort::kNone) {
      attempt.error = aborted_error("resolving " + url.host);
      co_return;
    }
    if (ec) {
      attempt.error =
          make_error(TransportErrc::kConnect, "cannot resolve " + url.host + ": " + ec.message());
      co_return;
    }
    if (url.tls) {
      secure.emplace(io, *tls_context);
    } else {
      plain.emplace(io);
    }
    lowest().expires_at(deadline);
    co_await lowest().async_connect(endpoints, net::redirect_error(net::use_awaitable, ec));
    if (ec) {
      attempt.error = abort != Abort::kNone ? aborted_error("connecting to " + where)
                      : ec == beast::error::timeout
                          ? make_error(TransportErrc::kTimeout,
                                       "connecting to " + where + " timed out after " +
                                           std::to_string(options.connect_timeout.count()) + " ms")
                          : make_error(TransportErrc::kConnect,
                                       "cannot connect to " + where + ": " + ec.message());
      close();
      co_return;
    }
    ++connections_opened;
    if (url.tls) {
      SSL* handle = secure->native_handle();
      // SNI carries host names only (RFC 6066 forbids IP literals).
      if (!is_ip_address(url.host) && SSL_set_tlsext_host_name(handle, url.host.c_str()) != 1) {
        attempt.error = make_error(TransportErrc::kTls, "cannot set SNI host name " + url.host,
                                   /*transient=*/false);
        close();
        co_return;
      }
      if (options.tls.verify_peer) {
        secure->set_verify_mode(ssl::verify_peer);
        secure->set_verify_callback(runtime::host_name_verifier(url.host));
      } else {
        secure->set_verify_mode(ssl::verify_none);
      }
      co_await secure->async_handshake(ssl::stream_base::client,
                                       net::redirect_error(net::use_awaitable, ec));
      if (ec) {
        if (abort != Abort::kNone) {
          attempt.error = aborted_error("TLS handshake with " + where);
        } else if (ec == beast::error::timeout) {
          attempt.error =
              make_error(TransportErrc::kTimeout, "TLS handshake with " + where + " timed out");
        } else {
          attempt.error = make_error(TransportErrc::kTls,
                                     where + ": " + runtime::tls_handshake_failure(handle, ec),
                                     /*transient=*/false);
        }
        close();
        co_return;
      }
    }
  }

  template <class Stream>
  net::awaitable<void> exchange_on(Stream& stream, const http::request<http::empty_body>& request,
                                   Attempt& attempt) {
    beast::error_code ec;
    const std::string where = url.host + ":" + std::to_string(url.port);
    lowest().expires_after(options.io_timeout);
    co_await http::async_write(stream, request, net::redirect_error(net::use_awaitable, ec));
    if (ec) {
      attempt.error = abort == Abort::kCancelled
                          ? aborted_error("sending to " + where)
                          : classify_io_error(ec, false, "sending to " + where);
      close();
      co_return;
    }
    // Interim 1xx responses (100 Continue) precede the real one: skip them.
    std::optional<http::response_parser<http::string_body>> parser;
    for (;;) {
      parser.emplace();
      parser->body_limit(options.max_body_bytes);
      co_await http::async_read(stream, buffer, *parser,
                                net::redirect_error(net::use_awaitable, ec));
      if (parser->got_some()) attempt.got_response_bytes = true;
      if (ec) {
        attempt.error =
            abort == Abort::kCancelled
                ? aborted_error("reading from " + where)
                : classify_io_error(ec, attempt.got_response_bytes, "reading from " + where);
        close();
        co_return;
      }
      const unsigned status = parser->get().result_int();
      if (status < 100 || status >= 200 || status == 101) break;
    }
    http::response<http::string_body> message = parser->release();
    TransportResponse response;
    response.status = static_cast<int>(message.result_int());
    for (const auto& field : message) {
      response.headers.add(std::string(field.name_string()), std::string(field.value()));
    }
    response.body = std::move(message.body());
    if (!message.keep_alive()) close();
    attempt.response = std::move(response);
  }

  net::awaitable<void> exchange(const http::request<http::empty_body>& request, Attempt& attempt) {
    attempt.reused_connection = connected();
    if (!connected()) {
      co_await connect(attempt);
      if (attempt.error) co_return;
    }
    if (secure) {
      co_await exchange_on(*secure, request, attempt);
    } else {
      co_await exchange_on(*plain, request, attempt);
    }
  }

  template <class Stream>
  net::awaitable<void> download_on(Stream& stream, const http::request<http::empty_body>& request,
                                   const std::filesystem::path& dest, const DownloadOptions& limits,
                                   DownloadAttempt& attempt) {
    beast::error_code ec;
    const std::string where = url.host + ":" + std::to_string(url.port);
    auto fail = [&](const beast::error_code& error, std::string what) {
      if (abort != Abort::kNone) {
        attempt.error = aborted_error(what);
      } else if (error == http::error::body_limit) {
        attempt.error = make_error(
            TransportErrc::kProtocol,
            what + ": the body is over the limit of " + std::to_string(limits.max_bytes) + " bytes",
            /*transient=*/false);
      } else {
        attempt.error = classify_io_error(error, attempt.got_response_bytes, what);
      }
      close();
    };
    lowest().expires_after(options.io_timeout);
    co_await http::async_write(stream, request, net::redirect_error(net::use_awaitable, ec));
    if (ec) {
      fail(ec, "sending to " + where);
      co_return;
    }
    // Interim 1xx responses (100 Continue) precede the real one: skip them (they have no body).
    std::optional<http::response_parser<http::buffer_body>> parser;
    for (;;) {
      parser.emplace();
      parser->body_limit(limits.max_bytes);
      lowest().expires_after(options.io_timeout);
      co_await http::async_read_header(stream, buffer, *parser,
                                       net::redirect_error(net::use_awaitable, ec));
      if (parser->got_some()) attempt.got_response_bytes = true;
      if (ec) {
        fail(ec, "reading from " + where);
        co_return;
      }
      const unsigned status = parser->get().result_int();
      if (status < 100 || status >= 200 || status == 101) break;
    }
    DownloadResponse response;
    response.status = static_cast<int>(parser->get().result_int());
    for (const auto& field : parser->get()) {
      response.headers.add(std::string(field.name_string()), std::string(field.value()));
    }
    // Only a success body goes to `dest`: a 404 page must not end up looking like a download.
    const bool keep_body = response.ok();
    FileSink file;
    if (keep_body) {
      if (std::string failed = file.open(dest); !failed.empty()) {
        attempt.error = make_error(TransportErrc::kConfig, std::move(failed), false);
        attempt.local_file = true;
        close();
        co_return;
      }
    }
    chunk.resize(kDownloadChunkBytes);
    std::uint64_t dropped = 0;
    bool connection_usable = true;
    while (!parser->is_done()) {
      auto& body = parser->get().body();
      body.data = chunk.data();
      body.size = chunk.size();
      // Per chunk, so io_timeout bounds a stall rather than the whole (possibly huge) body.
      lowest().expires_after(options.io_timeout);
      co_await http::async_read(stream, buffer, *parser,
                                net::redirect_error(net::use_awaitable, ec));
      if (ec == http::error::need_buffer) ec = {};  // the chunk is full: not an error
      if (ec) {
        fail(ec, "reading from " + where);
        co_return;
      }
      const std::size_t got = chunk.size() - parser->get().body().size;
      if (keep_body) {
        if (std::string failed = file.write(chunk.data(), got); !failed.empty()) {
          attempt.error = make_error(TransportErrc::kConfig, std::move(failed), false);
          attempt.local_file = true;
          close();
          co_return;
        }
      } else if ((dropped += got) > kMaxDroppedBodyBytes) {
        connection_usable = false;
        break;
      }
    }
    if (keep_body) {
      if (std::string failed = file.close(); !failed.empty()) {
        attempt.error = make_error(TransportErrc::kConfig, std::move(failed), false);
        attempt.local_file = true;
        close();
        co_return;
      }
      response.bytes = file.written();
    }
    if (!connection_usable || !parser->keep_alive()) close();
    attempt.response = std::move(response);
  }

  net::awaitable<void> download(const http::request<http::empty_body>& request,
                                const std::filesystem::path& dest, const DownloadOptions& limits,
                                DownloadAttempt& attempt) {
    attempt.reused_connection = connected();
    if (!connected()) {
      co_await connect(attempt);
      if (attempt.error) co_return;
    }
    if (secure) {
      co_await download_on(*secure, request, dest, limits, attempt);
    } else {
      co_await download_on(*plain, request, dest, limits, attempt);
    }
  }

  // Runs `task` to completion on `io`, watching the cancel check and the deadlines. Returns
  // whether the task was aborted.
  bool drive(net::awaitable<void> task, AttemptState& attempt, const CancelCheck& cancelled) {
    bool done = false;
    abort = Abort::kNone;
    resolve_deadline.reset();
    net::co_spawn(io, std::move(task), [&attempt, &done](std::exception_ptr error) {
      done = true;
      if (!error) return;
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        attempt.error = make_error(TransportErrc::kReset, e.what());
      } catch (...) {
        attempt.error = make_error(TransportErrc::kReset, "unknown error");
      }
    });
    io.restart();
    // Run in slices so that a cancel request (or a stuck name lookup, which has no timeout of
    // its own) is noticed while the request is in flight.
    while (!done) {
      io.run_for(kCancelPollInterval);
      if (done || abort != Abort::kNone) continue;
      if (cancelled && cancelled()) {
        abort = Abort::kCancelled;
        abort_in_flight();
      } else if (resolve_deadline && Clock::now() > *resolve_deadline) {
        abort = Abort::kResolveTimeout;
        abort_in_flight();
      } else if (request_deadline && Clock::now() > *request_deadline) {
        abort = Abort::kDeadline;
        abort_in_flight();
      }
    }
    return abort != Abort::kNone;
  }

  Attempt run_once(const http::request<http::empty_body>& request, const CancelCheck& cancelled) {
    Attempt attempt;
    request_deadline.reset();
    if (drive(exchange(request, attempt), attempt, cancelled) && attempt.response) {
      // The response completed in the same slice as the abort: keep it, but the connection's
      // state is unknown after cancel().
      close();
    }
    return attempt;
  }

  DownloadAttempt download_once(const http::request<http::empty_body>& request,
                                const std::filesystem::path& dest, const DownloadOptions& limits) {
    DownloadAttempt attempt;
    request_deadline.reset();
    if (limits.timeout.count() > 0) request_deadline = Clock::now() + limits.timeout;
    if (drive(download(request, dest, limits, attempt), attempt, limits.cancelled) &&
        attempt.response) {
      close();
    }
    request_deadline.reset();
    return attempt;
  }
};

HttpTransport::HttpTransport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpTransport::~HttpTransport() {
  if (impl_) impl_->close();
}

Result<std::unique_ptr<HttpTransport>, TransportError> HttpTransport::create(
    std::string_view base_url, TransportOptions options) {
  auto url = parse_base_url(base_url);
  if (!url) return unexpected(make_error(TransportErrc::kConfig, url.error(), false));
  auto impl = std::make_unique<Impl>();
  impl->url = std::move(*url);
  impl->options = std::move(options);
  const bool ipv6 = impl->url.host.find(':') != std::string::npos;
  impl->host_header = ipv6 ? "[" + impl->url.host + "]" : impl->url.host;
  if (impl->url.port != (impl->url.tls ? 443 : 80)) {
    impl->host_header += ":" + std::to_string(impl->url.port);
  }
  if (impl->url.tls) {
    impl->tls_context.emplace(ssl::context::tls_client);
    if (auto configured = configure_client_tls(*impl->tls_context, impl->options.tls); !configured)
      return unexpected(make_error(TransportErrc::kConfig, configured.error(), false));
  }
  return std::unique_ptr<HttpTransport>(new HttpTransport(std::move(impl)));
}

Result<TransportResponse, TransportError> HttpTransport::get(std::string_view target,
                                                             const runtime::HttpHeaders& headers,
                                                             const CancelCheck& cancelled) {
  if (target.empty() || target.front() != '/') {
    return unexpected(make_error(TransportErrc::kConfig,
                                 "request target must start with '/': " + std::string(target),
                                 false));
  }
  http::request<http::empty_body> request;
  request.method(http::verb::get);
  request.target(impl_->url.path_prefix + std::string(target));
  request.version(11);
  request.set(http::field::host, impl_->host_header);
  request.set(http::field::user_agent, impl_->options.user_agent);
  request.set(http::field::accept, "application/json");
  for (const auto& [name, value] : headers) request.set(name, value);
  request.keep_alive(true);

  auto attempt = impl_->run_once(request, cancelled);
  // A kept-alive connection the server closed while idle fails before any response byte; a GET
  // is safe to repeat on a fresh connection. Timeouts are not repeated here: the caller's retry
  // policy (with backoff) owns those.
  if (!attempt.response && attempt.error && attempt.reused_connection &&
      !attempt.got_response_bytes && attempt.error->code == TransportErrc::kReset) {
    attempt = impl_->run_once(request, cancelled);
  }
  if (!attempt.response) {
    return unexpected(attempt.error ? std::move(*attempt.error)
                                    : make_error(TransportErrc::kReset, "no response"));
  }
  return std::move(*attempt.response);
}

Result<DownloadResponse, DownloadError> HttpTransport::download(std::string_view target,
                                                                const std::filesystem::path& dest,
                                                                const DownloadOptions& options) {
  const std::string url = impl_->url.origin() + impl_->url.path_prefix + std::string(target);
  if (target.empty() || target.front() != '/') {
    return unexpected(DownloadError{
        .error = make_error(TransportErrc::kConfig,
                            "request target must start with '/': " + std::string(target), false),
        .url = url,
        .attempts = 0});
  }
  http::request<http::empty_body> request;
  request.method(http::verb::get);
  request.target(impl_->url.path_prefix + std::string(target));
  request.version(11);
  request.set(http::field::host, impl_->host_header);
  request.set(http::field::user_agent, impl_->options.user_agent);
  request.set(http::field::accept, "*/*");
  for (const auto& [name, value] : options.headers) request.set(name, value);
  request.keep_alive(true);

  int attempts = 1;
  auto attempt = impl_->download_once(request, dest, options);
  // As in get(): a kept-alive connection closed while idle is replaced once.
  if (!attempt.response && attempt.error && !attempt.local_file && attempt.reused_connection &&
      !attempt.got_response_bytes && attempt.error->code == TransportErrc::kReset) {
    ++attempts;
    attempt = impl_->download_once(request, dest, options);
  }
  if (!attempt.response) {
    return unexpected(DownloadError{.error = attempt.error
                                                 ? std::move(*attempt.error)
                                                 : make_error(TransportErrc::kReset, "no response"),
                                    .local_file = attempt.local_file,
                                    .url = url,
                                    .attempts = attempts});
  }
  attempt.response->url = url;
  attempt.response->attempts = attempts;
  return std::move(*attempt.response);
}

const BaseUrl& HttpTransport::base_url() const {
  return impl_->url;
}
int HttpTransport::connections_opened() const {
  return impl_->connections_opened;
}
void HttpTransport::close() {
  impl_->close();
}

HttpDownloader::HttpDownloader(TransportOptions transport_options, DownloadOptions options)
    : transport_options_(std::move(transport_options)),
      options_(std::move(options)),
      random_state_(static_cast<std::uint64_t>(Clock::now().time_since_epoch().count()) ^
                    reinterpret_cast<std::uintptr_t>(this)) {}

HttpDownloader::~HttpDownloader() = default;

int HttpDownloader::connections_opened() const {
  int total = 0;
  for (const auto& [origin, transport] : transports_) total += transport->connections_opened();
  return total;
}

Result<HttpTransport*, TransportError> HttpDownloader::transport_for(const BaseUrl& url) {
  const std::string origin = url.origin();
  if (auto found = transports_.find(origin); found != transports_.end()) {
    return found->second.get();
  }
  // Redirects could name any number of hosts; a handful of live connections is plenty.
  constexpr std::size_t kMaxOrigins = 4;
  if (transports_.size() >= kMaxOrigins) transports_.clear();
  auto created = HttpTransport::create(origin, transport_options_);
  if (!created) return unexpected(std::move(created.error()));
  HttpTransport* transport = created->get();
  transports_.emplace(origin, std::move(*created));
  return transport;
}

Result<DownloadResponse, DownloadError> HttpDownloader::download(
    std::string_view url, const std::filesystem::path& dest) {
  const std::optional<Clock::time_point> deadline =
      options_.timeout.count() > 0 ? std::optional(Clock::now() + options_.timeout) : std::nullopt;
  std::string current(url);
  int attempts = 0;
  int redirects = 0;
  int retries = 0;
  auto fail = [&](TransportErrc code, std::string message, bool transient = false) {
    return unexpected(DownloadError{.error = make_error(code, std::move(message), transient),
                                    .url = current,
                                    .attempts = attempts});
  };
  auto cancelled = [&] { return options_.cancelled && options_.cancelled(); };
  // Sleeps before a retry; false when cancelled or when the wait would pass the deadline.
  auto wait = [&](std::chrono::milliseconds delay) {
    const auto until = Clock::now() + delay;
    if (deadline && until > *deadline) return false;
    while (Clock::now() < until) {
      if (cancelled()) return false;
      std::this_thread::sleep_for(
          std::min<Clock::duration>(kCancelPollInterval, until - Clock::now()));
    }
    return !cancelled();
  };
  auto unit_random = [&] {
    return static_cast<double>(splitmix64(random_state_) >> 11) * 0x1.0p-53;
  };

  for (;;) {
    if (cancelled()) return fail(TransportErrc::kCancelled, current + ": cancelled");
    const auto split = split_url(current);
    if (!split) return fail(TransportErrc::kConfig, "not an http(s) URL: " + current);
    auto base = parse_base_url(split->origin);
    if (!base) return fail(TransportErrc::kConfig, base.error());
    auto transport = transport_for(*base);
    if (!transport) {
      return unexpected(DownloadError{
          .error = std::move(transport.error()), .url = current, .attempts = attempts});
    }
    DownloadOptions limits = options_;
    if (deadline) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now());
      if (left.count() <= 0) {
        return fail(TransportErrc::kTimeout,
                    current + ": the download ran past its timeout of " +
                        std::to_string(options_.timeout.count()) + " ms",
                    true);
      }
      limits.timeout = left;
    }
    auto got = (*transport)->download(split->target, dest, limits);
    attempts += got ? got->attempts : got.error().attempts;
    if (!got) {
      DownloadError error = std::move(got.error());
      error.url = current;
      error.attempts = attempts;
      if (!error.local_file && error.error.transient && retries < options_.max_retries &&
          wait(options_.backoff.delay(retries, unit_random()))) {
        ++retries;
        continue;
      }
      return unexpected(std::move(error));
    }
    const int status = got->status;
    const auto location = got->headers.get("Location");
    if (is_redirect(status) && location && !location->empty()) {
      if (++redirects > options_.max_redirects) {
        return fail(
            TransportErrc::kProtocol,
            current + ": more than " + std::to_string(options_.max_redirects) + " redirects");
      }
      std::string next = resolve_location(current, *location);
      if (current.starts_with("https://") && !next.starts_with("https://")) {
        return fail(TransportErrc::kProtocol,
                    current + ": refusing a redirect from https to " + next);
      }
      current = std::move(next);
      continue;
    }
    if (is_retryable_status(status) && retries < options_.max_retries) {
      auto delay = options_.backoff.delay(retries, unit_random());
      // The server knows best how long it needs, within the bound that the policy allows.
      if (const auto header = got->headers.get("Retry-After")) {
        if (const auto after = parse_retry_after(*header)) {
          delay =
              std::max(delay, std::min<std::chrono::milliseconds>(*after, options_.backoff.max));
        }
      }
      if (wait(delay)) {
        ++retries;
        continue;
      }
    }
    got->url = current;
    got->attempts = attempts;
    got->redirects = redirects;
    return std::move(*got);
  }
}

}  // namespace sf::binance
