// Exchange symbol stored inline (no heap allocation per event).
#pragma once

#include <algorithm>
#include <compare>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace sf {

class Symbol {
 public:
  static constexpr std::size_t kMaxLength = 23;

  constexpr Symbol() = default;

  // Upper-cases the name; rejects empty, over-long or non [A-Za-z0-9_-] names.
  static std::optional<Symbol> parse(std::string_view name) {
    if (name.empty() || name.size() > kMaxLength) return std::nullopt;
    Symbol s;
    for (std::size_t i = 0; i < name.size(); ++i) {
      char c = name[i];
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
      bool ok = (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
      if (!ok) return std::nullopt;
      s.chars_[i] = c;
    }
    s.length_ = static_cast<std::uint8_t>(name.size());
    return s;
  }

  std::string_view view() const { return {chars_, length_}; }
  std::string str() const { return std::string(view()); }
  std::string lower() const {
    std::string out(view());
    for (char& c : out)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
  }
  bool empty() const { return length_ == 0; }

  friend bool operator==(const Symbol& a, const Symbol& b) { return a.view() == b.view(); }
  friend auto operator<=>(const Symbol& a, const Symbol& b) { return a.view() <=> b.view(); }

 private:
  char chars_[kMaxLength] = {};
  std::uint8_t length_ = 0;
};

}  // namespace sf
