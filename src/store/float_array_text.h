// Float vectors as JSON array text ("[0.5,-1e-39,3.4028235e+38]") in the shortest form that
// reads back bit-identically: how graph node features are kept in SQL text/JSON columns and
// ArangoDB documents (any JSON number parser that rounds to double and then to float agrees).
#pragma once

#include <charconv>
#include <cmath>
#include <string>
#include <string_view>
#include <vector>

namespace sf::store {

inline void append_float_array(std::string& out, const std::vector<float>& values) {
  out += '[';
  char buf[32];
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    const float v = std::isfinite(values[i]) ? values[i] : 0.0f;  // check_graph refuses those
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, ec == std::errc() ? end : buf);
  }
  out += ']';
}

inline std::string float_array_text(const std::vector<float>& values) {
  std::string out;
  out.reserve(values.size() * 12 + 2);
  append_float_array(out, values);
  return out;
}

// Parses what append_float_array writes (spaces allowed). False on anything else.
inline bool parse_float_array(std::string_view text, std::vector<float>* out) {
  out->clear();
  auto skip = [&text] {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\n')) text.remove_prefix(1);
  };
  skip();
  if (text.empty() || text.front() != '[') return false;
  text.remove_prefix(1);
  skip();
  if (!text.empty() && text.front() == ']') return true;
  while (true) {
    skip();
    double v = 0;  // via double, as a JSON parser would: exact for shortest float text
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc()) return false;
    out->push_back(static_cast<float>(v));
    text.remove_prefix(static_cast<std::size_t>(end - text.data()));
    skip();
    if (text.empty()) return false;
    if (text.front() == ']') return true;
    if (text.front() != ',') return false;
    text.remove_prefix(1);
  }
}

}  // namespace sf::store
