// Topic names: what Kafka accepts, held to on every bus so that a name valid in the embedded
// platform is valid on a cluster too.
#pragma once

#include <algorithm>
#include <string_view>

namespace sf::bus {

// [A-Za-z0-9._-]{1,249}, not "." or "..".
inline bool valid_topic_name(std::string_view t) {
  return !t.empty() && t.size() <= 249 && t != "." && t != ".." &&
         std::all_of(t.begin(), t.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
         });
}

}  // namespace sf::bus
