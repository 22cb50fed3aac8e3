// Client TLS settings shared by the REST transport and the WebSocket client: TLS 1.2+, and peer
// verification against a CA file, a CA directory or the system store.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <string>

#include "core/result.h"
#include "exchange/binance/rest/transport.h"

namespace sf::binance {

// Applies `tls` to a fresh client context; the error text names the file or directory at fault.
Result<void, std::string> configure_client_tls(boost::asio::ssl::context& context,
                                               const TlsOptions& tls);

}  // namespace sf::binance
