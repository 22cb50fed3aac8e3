// Structured logging: one JSON object per line on stderr, e.g.
//   {"ts":"2026-11-28T19:15:14.123456Z","level":"info","logger":"bus","msg":"published",
//    "topic":"trades","count":3}
//
//   log::info("bus", "published", {{"topic", topic}, {"count", n}});
//   log::Logger bus_log("bus");  bus_log.warn("slow consumer", {{"lag_ms", 1200.5}});
//
// Thread-safe: lines are formatted and handed to the sink under one lock, and the stderr sink
// issues one write() per line, so lines never interleave. Fields whose key contains "password",
// "secret" or "token" (any case) are written as "***". Field values are views: they only need to
// live for the duration of the call.
#pragma once

#include <concepts>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace sf::log {

enum class Level : std::uint8_t { kDebug, kInfo, kWarn, kError };

const char* to_string(Level level);
// "debug", "info", "warn"/"warning", "error" (any case).
Result<Level, std::string> parse_level(std::string_view text);

// Lines below the global level are dropped; the default is kInfo.
void set_level(Level level);
Level level();
bool enabled(Level level);

// A field value: string, integer, floating point, bool or null.
class Value {
 public:
  enum class Kind : std::uint8_t { kString, kInt, kUint, kDouble, kBool, kNull };

  Value(std::string_view text) : kind_(Kind::kString), text_(text) {}    // NOLINT: implicit
  Value(const std::string& text) : kind_(Kind::kString), text_(text) {}  // NOLINT
  Value(const char* text)                                                // NOLINT
      : kind_(text ? Kind::kString : Kind::kNull), text_(text ? text : "") {}
  Value(bool flag) : kind_(Kind::kBool), bool_(flag) {}  // NOLINT
  Value(std::nullptr_t) : kind_(Kind::kNull) {}          // NOLINT
  template <std::integral T>
  requires(!std::same_as<T, bool>) Value(T number)  // NOLINT
      : kind_(std::is_signed_v<T> ? Kind::kInt : Kind::kUint) {
    if constexpr (std::is_signed_v<T>) {
      int_ = number;
    } else {
      uint_ = number;
    }
  }
  template <std::floating_point T>
  Value(T number) : kind_(Kind::kDouble), double_(static_cast<double>(number)) {}  // NOLINT

  Kind kind() const { return kind_; }
  std::string_view text() const { return text_; }
  std::int64_t int_value() const { return int_; }
  std::uint64_t uint_value() const { return uint_; }
  double double_value() const { return double_; }
  bool bool_value() const { return bool_; }

 private:
  Kind kind_;
  std::string_view text_;
  std::int64_t int_ = 0;
  std::uint64_t uint_ = 0;
  double double_ = 0;
  bool bool_ = false;
};

struct Field {
  std::string_view key;
  Value value;
};

// True for keys whose values must never reach a log: runtime::is_secret_name ("password",
// "secret", "token", "api_key", any case).
bool is_sensitive_key(std::string_view key);

// Writes one line if `level` is enabled. Fields named ts/level/logger/msg are written with a
// leading underscore so that every key in a line stays unique.
void write(Level level, std::string_view logger, std::string_view msg,
           std::span<const Field> fields);
inline void write(Level level, std::string_view logger, std::string_view msg,
                  std::initializer_list<Field> fields = {}) {
  write(level, logger, msg, std::span<const Field>(fields.begin(), fields.size()));
}

inline void debug(std::string_view logger, std::string_view msg,
                  std::initializer_list<Field> fields = {}) {
  if (enabled(Level::kDebug)) write(Level::kDebug, logger, msg, fields);
}
inline void info(std::string_view logger, std::string_view msg,
                 std::initializer_list<Field> fields = {}) {
  if (enabled(Level::kInfo)) write(Level::kInfo, logger, msg, fields);
}
inline void warn(std::string_view logger, std::string_view msg,
                 std::initializer_list<Field> fields = {}) {
  if (enabled(Level::kWarn)) write(Level::kWarn, logger, msg, fields);
}
inline void error(std::string_view logger, std::string_view msg,
                  std::initializer_list<Field> fields = {}) {
  if (enabled(Level::kError)) write(Level::kError, logger, msg, fields);
}

// A named logger, for code that logs under one name.
class Logger {
 public:
  explicit Logger(std::string name) : name_(std::move(name)) {}
  const std::string& name() const { return name_; }
  void debug(std::string_view msg, std::initializer_list<Field> fields = {}) const {
    log::debug(name_, msg, fields);
  }
  void info(std::string_view msg, std::initializer_list<Field> fields = {}) const {
    log::info(name_, msg, fields);
  }
  void warn(std::string_view msg, std::initializer_list<Field> fields = {}) const {
    log::warn(name_, msg, fields);
  }
  void error(std::string_view msg, std::initializer_list<Field> fields = {}) const {
    log::error(name_, msg, fields);
  }

 private:
  std::string name_;
};

// Receives each complete line, including its trailing '\n'. Called under the logger's lock, so
// a sink needs no locking of its own but must not log. nullptr restores the stderr sink.
using Sink = std::function<void(std::string_view line)>;
void set_sink(Sink sink);

// String fields added to every line after msg (e.g. {"service","dummy"}, {"worker_id","w1"});
// replaces the previous set.
void set_global_fields(std::vector<std::pair<std::string, std::string>> fields);

}  // namespace sf::log
