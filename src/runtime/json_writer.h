// A small, fast JSON writer that appends to a std::string.
//
// Used for log lines, HTTP bodies and wire formats, so it avoids every allocation beyond the
// buffer's own growth: reuse one writer (clear() keeps the capacity) on hot paths. Commas are
// placed automatically; nesting is the caller's job (begin/end must pair up) and is not checked.
//
//   JsonWriter w;
//   w.begin_object().field("symbol", "BTCUSDT").field("qty", 1.5).key("tags").begin_array();
//   w.value("a").value(2).end_array().end_object();
//   send(w.view());
#pragma once

#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>

namespace sf::runtime {

// Appends `text` escaped per RFC 8259 without the surrounding quotes: '"', '\\' and all control
// characters are escaped (\n, \t, ... or \u00XX); invalid UTF-8 bytes become \ufffd so that the
// output is always valid JSON whatever the input bytes.
void append_json_escaped(std::string& out, std::string_view text);
// Same, with the surrounding quotes.
void append_json_string(std::string& out, std::string_view text);
// Shortest text that reads back to the same double (std::to_chars); NaN and infinities, which
// JSON cannot represent, are written as null.
void append_json_number(std::string& out, double number);
void append_json_number(std::string& out, std::int64_t number);
void append_json_number(std::string& out, std::uint64_t number);

class JsonWriter {
 public:
  // Writes into an internal buffer.
  JsonWriter() : out_(&own_) {}
  // Appends to `out` (which must outlive the writer); existing contents are kept.
  explicit JsonWriter(std::string& out) : out_(&out) {}

  JsonWriter(const JsonWriter&) = delete;
  JsonWriter& operator=(const JsonWriter&) = delete;
  JsonWriter(JsonWriter&& other) noexcept;
  JsonWriter& operator=(JsonWriter&& other) noexcept;

  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  // An object key; the next call writes its value.
  JsonWriter& key(std::string_view name);

  JsonWriter& value(std::string_view text);
  JsonWriter& value(const std::string& text) { return value(std::string_view(text)); }
  JsonWriter& value(const char* text);  // nullptr writes null
  JsonWriter& value(bool flag);
  template <std::integral T>
  requires(!std::same_as<T, bool>) JsonWriter& value(T number) {
    separate();
    if constexpr (std::is_signed_v<T>) {
      append_json_number(*out_, static_cast<std::int64_t>(number));
    } else {
      append_json_number(*out_, static_cast<std::uint64_t>(number));
    }
    need_comma_ = true;
    return *this;
  }
  template <std::floating_point T>
  JsonWriter& value(T number) {
    separate();
    append_json_number(*out_, static_cast<double>(number));
    need_comma_ = true;
    return *this;
  }
  JsonWriter& null();
  // Inserts `json`, which must be one complete JSON value, verbatim (no validation).
  JsonWriter& raw(std::string_view json);

  // key(name) followed by value(v) / raw(json) / null().
  template <class T>
  JsonWriter& field(std::string_view name, const T& v) {
    key(name);
    return value(v);
  }
  JsonWriter& field_raw(std::string_view name, std::string_view json) {
    key(name);
    return raw(json);
  }
  JsonWriter& field_null(std::string_view name) {
    key(name);
    return null();
  }

  const std::string& str() const { return *out_; }
  std::string_view view() const { return *out_; }
  std::size_t size() const { return out_->size(); }
  // Empties the buffer but keeps its capacity, for reuse.
  void clear();
  // Moves the text out and resets the writer.
  std::string take();

 private:
  void separate() {
    if (need_comma_) out_->push_back(',');
  }

  std::string own_;
  std::string* out_;
  bool need_comma_ = false;
};

}  // namespace sf::runtime
