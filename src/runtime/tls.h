// Client TLS settings shared by every TLS client in the tree (runtime::HttpClient, the Binance
// REST transport and WebSocket client, the Kubernetes API client): TLS 1.2+, and peer
// verification against a CA file, a CA directory and/or the system store.
#pragma once

#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/verify_context.hpp>
#include <boost/system/error_code.hpp>
#include <functional>
#include <string>

#include "core/result.h"

namespace sf::runtime {

struct TlsOptions {
  // Off only for experiments: a client without verification trusts anyone on the path.
  bool verify_peer = true;
  std::string ca_file;  // PEM bundle to trust (instead of the system store, unless below)
  std::string ca_path;  // directory of hashed CA certificates (c_rehash)
  // Trust the system store as well when ca_file or ca_path is set (it is always trusted when
  // neither is).
  bool system_store_too = false;
};

// The environment variable naming an extra PEM CA bundle for runtime::HttpClient (private CAs
// such as an in-cluster MinIO's).
inline constexpr const char* kCaFileEnv = "SF_CA_FILE";

// What runtime::HttpClient uses by default: verify against the system store plus $SF_CA_FILE.
TlsOptions default_client_tls();

// Applies `tls` to a fresh client context; the error text names the file or directory at fault.
Result<void, std::string> configure_client_tls(boost::asio::ssl::context& context,
                                               const TlsOptions& tls);

// A handshake failure in words, with the certificate verification error when there was one
// ("... (certificate verify failed: self-signed certificate)").
std::string tls_handshake_failure(SSL* handle, const boost::system::error_code& ec);

// Peer verification callback: boost::asio::ssl::host_name_verification(host) (RFC 6125 name or
// IP address match against the leaf certificate), which also records a mismatch as
// X509_V_ERR_HOSTNAME_MISMATCH so that tls_handshake_failure can name it.
std::function<bool(bool, boost::asio::ssl::verify_context&)> host_name_verifier(
    const std::string& host);

// Whether `host` is an IP literal (SNI carries host names only, RFC 6066).
bool is_ip_literal(const std::string& host);

}  // namespace sf::runtime
