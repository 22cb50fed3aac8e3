#include "exchange/binance/rest/tls_context.h"

namespace sf::binance {

namespace ssl = boost::asio::ssl;

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
    if (tls.ca_file.empty() && tls.ca_path.empty()) context.set_default_verify_paths(ec);
    if (!ec) context.set_verify_mode(ssl::verify_peer, ec);
  }
  if (ec) return unexpected("TLS setup failed: " + ec.message());
  return {};
}

}  // namespace sf::binance
