#include "runtime/log.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <mutex>

#include "runtime/json_writer.h"
#include "runtime/secrets.h"

namespace sf::log {
namespace {

std::atomic<Level> g_level{Level::kInfo};

struct LoggerState {
  std::mutex mutex;
  Sink sink;  // empty: stderr
  std::vector<std::pair<std::string, std::string>> global_fields;
  std::string line;     // reused for every line, so steady-state logging does not allocate
  std::string scratch;  // renamed keys
};

LoggerState& state() {
  static LoggerState* instance = new LoggerState();  // never destroyed: logging works at exit
  return *instance;
}

void write_stderr(std::string_view line) {
  const char* data = line.data();
  std::size_t left = line.size();
  while (left > 0) {
    const ssize_t written = ::write(STDERR_FILENO, data, left);
    if (written < 0) {
      if (errno == EINTR) continue;
      return;  // nowhere left to report a logging failure
    }
    data += written;
    left -= static_cast<std::size_t>(written);
  }
}

// Formats "YYYY-MM-DDTHH:MM:SS.ffffffZ" (UTC, microseconds) into `out` without allocating.
struct Timestamp {
  char text[32];
  std::size_t size = 0;
  std::string_view view() const { return {text, size}; }
  void append(const char* data, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) text[size++] = data[i];
  }
  void push_back(char c) { text[size++] = c; }
};

void format_timestamp(Timestamp& out, std::int64_t micros) {
  std::int64_t seconds = micros / 1'000'000;
  std::int64_t fraction = micros % 1'000'000;
  if (fraction < 0) {
    fraction += 1'000'000;
    --seconds;
  }
  std::int64_t days = seconds / 86'400;
  std::int64_t second_of_day = seconds % 86'400;
  if (second_of_day < 0) {
    second_of_day += 86'400;
    --days;
  }
  // Howard Hinnant's civil_from_days.
  const std::int64_t z = days + 719'468;
  const std::int64_t era = (z >= 0 ? z : z - 146'096) / 146'097;
  const std::int64_t doe = z - era * 146'097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36'524 - doe / 146'096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const std::int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const std::int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);

  auto digits = [&out](std::int64_t value, int width) {
    char buffer[12];
    for (int i = width - 1; i >= 0; --i) {
      buffer[i] = static_cast<char>('0' + value % 10);
      value /= 10;
    }
    out.append(buffer, static_cast<std::size_t>(width));
  };
  digits(year, 4);
  out.push_back('-');
  digits(month, 2);
  out.push_back('-');
  digits(day, 2);
  out.push_back('T');
  digits(second_of_day / 3600, 2);
  out.push_back(':');
  digits(second_of_day / 60 % 60, 2);
  out.push_back(':');
  digits(second_of_day % 60, 2);
  out.push_back('.');
  digits(fraction, 6);
  out.push_back('Z');
}

bool is_reserved_key(std::string_view key) {
  return key == "ts" || key == "level" || key == "logger" || key == "msg";
}

void write_key(runtime::JsonWriter& json, std::string& scratch, std::string_view key) {
  if (!is_reserved_key(key)) {
    json.key(key);
    return;
  }
  scratch.clear();
  scratch.push_back('_');
  scratch.append(key.data(), key.size());
  json.key(scratch);
}

void write_value(runtime::JsonWriter& json, std::string_view key, const Value& value) {
  if (is_sensitive_key(key)) {
    json.value("***");
    return;
  }
  switch (value.kind()) {
    case Value::Kind::kString:
      // An endpoint logged with its password (a store URL, a DSN) is logged without it.
      if (runtime::value_has_credentials(value.text()))
        json.value(runtime::redact_credentials(value.text()));
      else
        json.value(value.text());
      break;
    case Value::Kind::kInt:
      json.value(value.int_value());
      break;
    case Value::Kind::kUint:
      json.value(value.uint_value());
      break;
    case Value::Kind::kDouble:
      json.value(value.double_value());
      break;
    case Value::Kind::kBool:
      json.value(value.bool_value());
      break;
    case Value::Kind::kNull:
      json.null();
      break;
  }
}

}  // namespace

const char* to_string(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "unknown";
}

Result<Level, std::string> parse_level(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  if (lower == "debug") return Level::kDebug;
  if (lower == "info") return Level::kInfo;
  if (lower == "warn" || lower == "warning") return Level::kWarn;
  if (lower == "error") return Level::kError;
  return unexpected("invalid log level '" + std::string(text) +
                    "' (expected debug, info, warn or error)");
}

void set_level(Level level) {
  g_level.store(level, std::memory_order_relaxed);
}
Level level() {
  return g_level.load(std::memory_order_relaxed);
}
bool enabled(Level level) {
  return static_cast<std::uint8_t>(level) >=
         static_cast<std::uint8_t>(g_level.load(std::memory_order_relaxed));
}

bool is_sensitive_key(std::string_view key) {
  if (runtime::is_secret_name(key)) return true;
  // A path to a secret ("db_password_file") is masked in logs too, though it is no secret itself.
  for (std::string_view suffix : {"_file", "_path", "_dir", "_FILE", "_PATH", "_DIR"})
    if (key.ends_with(suffix))
      return runtime::is_secret_name(key.substr(0, key.size() - suffix.size()));
  return false;
}

void write(Level level, std::string_view logger, std::string_view msg,
           std::span<const Field> fields) {
  if (!enabled(level)) return;
  const auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  LoggerState& s = state();
  std::lock_guard lock(s.mutex);
  Timestamp ts;
  format_timestamp(ts, now_us);
  std::string& line = s.line;
  line.clear();
  runtime::JsonWriter json(line);
  json.begin_object().field("ts", ts.view()).field("level", to_string(level));
  json.field("logger", logger).field("msg", msg);
  for (const auto& [key, value] : s.global_fields) {
    write_key(json, s.scratch, key);
    write_value(json, key, Value(value));
  }
  for (const Field& field : fields) {
    write_key(json, s.scratch, field.key);
    write_value(json, field.key, field.value);
  }
  json.end_object();
  line.push_back('\n');
  try {
    if (s.sink) {
      s.sink(line);
    } else {
      write_stderr(line);
    }
  } catch (...) {
    // A failing sink must not take the caller down with it.
  }
}

void set_sink(Sink sink) {
  LoggerState& s = state();
  std::lock_guard lock(s.mutex);
  s.sink = std::move(sink);
}

void set_global_fields(std::vector<std::pair<std::string, std::string>> fields) {
  LoggerState& s = state();
  std::lock_guard lock(s.mutex);
  s.global_fields = std::move(fields);
}

}  // namespace sf::log
