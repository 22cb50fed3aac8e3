#include "runtime/url.h"

#include <charconv>

namespace sf::runtime {

Result<HostPort, std::string> parse_authority(std::string_view authority,
                                              std::uint16_t default_port, std::string_view url) {
  HostPort out;
  out.port = default_port;
  if (authority.find('@') != std::string_view::npos) {
    return unexpected("credentials in URLs are not supported: '" + std::string(url) + "'");
  }
  std::string_view port_text;
  if (authority.starts_with("[")) {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return unexpected("unterminated IPv6 address in '" + std::string(url) + "'");
    }
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return unexpected("bad host in '" + std::string(url) + "'");
      port_text = after.substr(1);
      if (port_text.empty()) return unexpected("empty port in '" + std::string(url) + "'");
    }
  } else {
    const std::size_t colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return unexpected("empty port in '" + std::string(url) + "'");
    }
  }
  if (out.host.empty()) return unexpected("missing host in '" + std::string(url) + "'");
  if (!port_text.empty()) {
    unsigned port = 0;
    const auto [end, error] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (error != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
        port > 65535) {
      return unexpected("invalid port '" + std::string(port_text) + "' in '" + std::string(url) +
                        "'");
    }
    out.port = static_cast<std::uint16_t>(port);
  }
  return out;
}

}  // namespace sf::runtime
