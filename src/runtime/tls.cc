#include "runtime/tls.h"

#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <cstdlib>

namespace sf::runtime {

namespace ssl = boost::asio::ssl;

TlsOptions default_client_tls() {
  TlsOptions tls;
  if (const char* file = std::getenv(kCaFileEnv); file != nullptr && *file != '\0') {
    tls.ca_file = file;
    tls.system_store_too = true;
  }
  return tls;
}

Result<void, std::string> configure_client_tls(ssl::context& context, const TlsOptions& tls) {
  boost::system::error_code ec;
  context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                          ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                          ssl::context::no_tlsv1_1,
                      ec);
  if (!ec && tls.verify_peer) {
    if (!tls.ca_file.empty()) {
      context.load_verify_file(tls.ca_file, ec);
      if (ec) return unexpected("cannot load CA file " + tls.ca_file + ": " + ec.message());
    }
    if (!tls.ca_path.empty()) {
      context.add_verify_path(tls.ca_path, ec);
      if (ec) return unexpected("cannot use CA directory " + tls.ca_path + ": " + ec.message());
    }
    if ((tls.ca_file.empty() && tls.ca_path.empty()) || tls.system_store_too) {
      context.set_default_verify_paths(ec);
    }
    if (!ec) context.set_verify_mode(ssl::verify_peer, ec);
  }
  if (ec) return unexpected("TLS setup failed: " + ec.message());
  return {};
}

std::string tls_handshake_failure(SSL* handle, const boost::system::error_code& ec) {
  std::string message = "TLS handshake failed: " + ec.message();
  if (handle != nullptr) {
    const long verify = SSL_get_verify_result(handle);
    if (verify != X509_V_OK) {
      message += " (certificate verify failed: ";
      message += X509_verify_cert_error_string(verify);
      message += ")";
    }
  }
  return message;
}

std::function<bool(bool, ssl::verify_context&)> host_name_verifier(const std::string& host) {
  return
      [verify = ssl::host_name_verification(host)](bool preverified, ssl::verify_context& context) {
        const bool ok = verify(preverified, context);
        X509_STORE_CTX* store = context.native_handle();
        // host_name_verification judges the leaf (depth 0) only, and only once the chain verified.
        if (!ok && preverified && X509_STORE_CTX_get_error(store) == X509_V_OK) {
          X509_STORE_CTX_set_error(store, X509_V_ERR_HOSTNAME_MISMATCH);
        }
        return ok;
      };
}

bool is_ip_literal(const std::string& host) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  return !ec;
}

}  // namespace sf::runtime
