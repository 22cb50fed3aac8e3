// Client TLS settings shared by the REST transport and the WebSocket client: the runtime's
// (runtime/tls.h), which runtime::HttpClient uses too.
#pragma once

#include "runtime/tls.h"

namespace sf::binance {

using TlsOptions = runtime::TlsOptions;  // as in transport.h
using runtime::configure_client_tls;

}  // namespace sf::binance
