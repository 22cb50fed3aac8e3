#include "store/levels_json.h"

namespace sf::store {

void append_levels_json(const std::vector<PriceLevel>& levels, std::string* out) {
  char buf[Decimal::kMaxTextLength + 2];
  out->push_back('[');
  for (std::size_t i = 0; i < levels.size(); ++i) {
    if (i != 0) out->push_back(',');
    out->append("[\"");
    out->append(buf, levels[i].price.format_to(buf));
    out->append("\",\"");
    out->append(buf, levels[i].quantity.format_to(buf));
    out->append("\"]");
  }
  out->push_back(']');
}

bool parse_levels_json(std::string_view json, std::vector<PriceLevel>* out) {
  std::size_t pos = 0;
  auto skip_space = [&] {
    while (pos < json.size() &&
           (json[pos] == ' ' || json[pos] == '\n' || json[pos] == '\t' || json[pos] == '\r'))
      ++pos;
  };
  auto expect = [&](char c) {
    skip_space();
    if (pos >= json.size() || json[pos] != c) return false;
    ++pos;
    return true;
  };
  auto decimal_string = [&](Decimal* value) {
    if (!expect('"')) return false;
    std::size_t end = json.find('"', pos);
    if (end == std::string_view::npos) return false;
    auto parsed = Decimal::parse(json.substr(pos, end - pos));
    if (!parsed) return false;
    *value = *parsed;
    pos = end + 1;
    return true;
  };
  if (!expect('[')) return false;
  skip_space();
  if (pos < json.size() && json[pos] == ']') {
    ++pos;
  } else {
    while (true) {
      PriceLevel level;
      if (!expect('[') || !decimal_string(&level.price) || !expect(',') ||
          !decimal_string(&level.quantity) || !expect(']'))
        return false;
      out->push_back(level);
      skip_space();
      if (pos < json.size() && json[pos] == ',') {
        ++pos;
        continue;
      }
      if (!expect(']')) return false;
      break;
    }
  }
  skip_space();
  return pos == json.size();
}

}  // namespace sf::store
