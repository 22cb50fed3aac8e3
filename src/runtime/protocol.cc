#include "runtime/protocol.h"

#include <simdjson.h>

#include "runtime/json_writer.h"
#include "runtime/secrets.h"

namespace sf::runtime {
namespace {

namespace od = simdjson::ondemand;

// One DOM parse per message: telemetry and commands are low-rate, so clarity beats speed here.
template <class F>
Result<void, std::string> for_each_field(std::string_view json, F&& on_field) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto ec = parser.parse(json.data(), json.size()).get(root))
    return unexpected(std::string("malformed JSON: ") + simdjson::error_message(ec));
  simdjson::dom::object obj;
  if (root.get_object().get(obj)) return unexpected(std::string("expected a JSON object"));
  for (auto [key, value] : obj) {
    std::string err = on_field(key, value);
    if (!err.empty()) return unexpected(std::move(err));
  }
  return {};
}

std::string read_string(simdjson::dom::element v, std::string_view key, std::string* out) {
  std::string_view s;
  if (v.get_string().get(s)) return "field '" + std::string(key) + "': expected a string";
  out->assign(s);
  return {};
}

std::string read_number(simdjson::dom::element v, std::string_view key, double* out) {
  if (v.is_int64()) return *out = static_cast<double>(v.get_int64().value_unsafe()), std::string();
  if (v.is_uint64())
    return *out = static_cast<double>(v.get_uint64().value_unsafe()), std::string();
  if (v.get_double().get(*out)) return "field '" + std::string(key) + "': expected a number";
  return {};
}

}  // namespace

bool is_terminal_status(std::string_view status) {
  return status == kStatusFinished || status == kStatusInterrupted || status == kStatusError;
}

std::string encode_telemetry(const TelemetryEvent& e) {
  std::string out;
  JsonWriter w(out);
  w.begin_object()
      .field("queue_id", e.queue_id)
      .field("producer", e.producer)
      .field("symbol", e.symbol)
      .field("type", e.type)
      .field("status", e.status)
      // A message that quotes an endpoint with its password (a driver's error) loses the password
      // here, before it reaches the bus, the store, the API and the logs.
      .field("message",
             value_has_credentials(e.message) ? redact_credentials(e.message) : e.message)
      .field("records_written", e.records_written)
      .field("finished", e.finished)
      .field("timestamp", e.timestamp)
      .field_raw("extra", e.extra.empty() ? std::string_view("{}") : std::string_view(e.extra))
      .end_object();
  return out;
}

Result<TelemetryEvent, std::string> decode_telemetry(std::string_view json) {
  TelemetryEvent e;
  bool has_queue = false, has_status = false;
  auto r = for_each_field(json, [&](std::string_view key, simdjson::dom::element v) -> std::string {
    if (key == "queue_id") return has_queue = true, read_string(v, key, &e.queue_id);
    if (key == "producer") return read_string(v, key, &e.producer);
    if (key == "symbol") return read_string(v, key, &e.symbol);
    if (key == "type") return read_string(v, key, &e.type);
    if (key == "status") return has_status = true, read_string(v, key, &e.status);
    if (key == "message") return read_string(v, key, &e.message);
    if (key == "timestamp") return read_number(v, key, &e.timestamp);
    if (key == "records_written") {
      std::int64_t n = 0;
      if (v.get_int64().get(n)) return "field 'records_written': expected an integer";
      e.records_written = n;
      return {};
    }
    if (key == "finished") {
      if (v.get_bool().get(e.finished)) return "field 'finished': expected a boolean";
      return {};
    }
    if (key == "extra") {
      if (!v.is_object()) return "field 'extra': expected an object";
      e.extra = simdjson::minify(v);
      return {};
    }
    return {};  // unknown keys are ignored: newer producers may add fields
  });
  if (!r) return unexpected(r.error());
  if (!has_queue) return unexpected(std::string("field 'queue_id': missing"));
  if (!has_status) return unexpected(std::string("field 'status': missing"));
  return e;
}

std::string encode_command(const ControlCommand& c) {
  std::string out;
  JsonWriter w(out);
  w.begin_object().field("command", c.command).field("queue_id", c.queue_id);
  if (!c.target.empty()) w.field("target", c.target);
  w.field("sent_at", c.sent_at).end_object();
  return out;
}

Result<ControlCommand, std::string> decode_command(std::string_view json) {
  ControlCommand c;
  auto r = for_each_field(json, [&](std::string_view key, simdjson::dom::element v) -> std::string {
    if (key == "command") return read_string(v, key, &c.command);
    if (key == "queue_id") return read_string(v, key, &c.queue_id);
    if (key == "target") return read_string(v, key, &c.target);
    if (key == "sent_at" || key == "timestamp") return read_number(v, key, &c.sent_at);
    return {};
  });
  if (!r) return unexpected(r.error());
  if (c.command.empty()) return unexpected(std::string("field 'command': missing"));
  if (c.queue_id.empty()) return unexpected(std::string("field 'queue_id': missing"));
  return c;
}

bool command_applies(const ControlCommand& c, std::string_view queue_id, std::string_view service,
                     std::string_view producer) {
  if (c.queue_id != queue_id && c.queue_id != "all") return false;
  return c.target.empty() || c.target == service || c.target == producer;
}

}  // namespace sf::runtime
