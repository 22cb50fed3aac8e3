// URL pieces shared by our HTTP clients (runtime::HttpClient, the Binance REST transport).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace sf::runtime {

struct HostPort {
  std::string host;  // without brackets for IPv6
  std::uint16_t port = 0;
};

// Parses a URL's authority "host[:port]" or "[v6]:port"; `port` keeps `default_port` when none is
// given. Credentials ("user@") are refused. `url` is the whole URL, for error messages.
Result<HostPort, std::string> parse_authority(std::string_view authority, std::uint16_t default_port,
                                              std::string_view url);

}  // namespace sf::runtime
