#include "services/queue_manager/workflow.h"

#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "bus/topic_name.h"
#include "core/interval.h"
#include "core/symbol.h"
#include "core/time.h"
#include "runtime/json_writer.h"
#include "runtime/secrets.h"
#include "runtime/service.h"
#include "runtime/worker.h"

namespace sf::services::qm {
namespace {

namespace dom = simdjson::dom;

std::string str(dom::element e) {
  std::string_view v;
  if (e.get_string().get(v)) return {};
  return std::string(v);
}

Result<std::map<std::string, std::string>, std::string> string_map(dom::element e,
                                                                   const std::string& what) {
  std::map<std::string, std::string> out;
  dom::object obj;
  if (e.get_object().get(obj)) return unexpected(what + " must be an object of strings");
  for (auto [k, v] : obj) {
    std::string_view sv;
    if (v.get_string().get(sv))
      return unexpected(what + "." + std::string(k) + " must be a string");
    out.emplace(std::string(k), std::string(sv));
  }
  return out;
}

Result<std::vector<std::string>, std::string> string_list(dom::element e, const std::string& what) {
  std::vector<std::string> out;
  dom::array arr;
  if (e.get_array().get(arr)) return unexpected(what + " must be a list of strings");
  for (auto v : arr) {
    std::string_view sv;
    if (v.get_string().get(sv)) return unexpected(what + " must be a list of strings");
    out.emplace_back(sv);
  }
  return out;
}

bool valid_name(std::string_view n) {
  if (n.empty() || n.size() > 40) return false;
  for (char c : n)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return true;
}

std::string replace_placeholders(const std::string& text,
                                 const std::map<std::string, std::string>& vars,
                                 std::string* unknown) {
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    if (text[i] == '{') {
      auto end = text.find('}', i);
      if (end != std::string::npos) {
        const std::string key = text.substr(i + 1, end - i - 1);
        auto it = vars.find(key);
        if (it != vars.end()) {
          out += it->second;
        } else if (unknown && unknown->empty()) {
          *unknown = key;
        }
        i = end + 1;
        continue;
      }
    }
    out += text[i++];
  }
  return out;
}

// "2020-07-01" -> "20200701" / "2020_07_01"; anything else unchanged but cleaned.
std::string compact_date(const std::string& d, char sep) {
  std::string out;
  for (char c : d) {
    if (c == '-') {
      if (sep) out += sep;
    } else {
      out += c;
    }
  }
  return out;
}

std::string random_suffix() {
  return runtime::short_id(6);
}

}  // namespace

Stage* Workflow::stage(std::string_view name) {
  for (auto& s : stages)
    if (s.name == name) return &s;
  return nullptr;
}
const Stage* Workflow::stage(std::string_view name) const {
  for (const auto& s : stages)
    if (s.name == name) return &s;
  return nullptr;
}

int scrub_secrets(Workflow& w) {
  int removed = 0;
  for (auto& s : w.stages)
    removed += static_cast<int>(std::erase_if(
        s.env, [](const auto& kv) { return runtime::is_secret(kv.first, kv.second); }));
  return removed;
}

bool is_terminal_stage_status(std::string_view s) {
  return s == "finished" || s == "failed" || s == "interrupted";
}

Result<WorkflowTemplate, std::string> parse_template(std::string_view json) {
  dom::parser parser;
  dom::element doc;
  if (parser.parse(json.data(), json.size()).get(doc))
    return unexpected(std::string("not valid JSON"));
  dom::object root;
  if (doc.get_object().get(root)) return unexpected(std::string("a template is a JSON object"));
  WorkflowTemplate t;
  for (auto [key, value] : root) {
    if (key == "name") {
      t.name = str(value);
    } else if (key == "description") {
      t.description = str(value);
    } else if (key == "parameters") {
      dom::object params;
      if (value.get_object().get(params))
        return unexpected(std::string("parameters must be an object"));
      for (auto [pk, pv] : params) {
        ParameterSpec spec;
        dom::object po;
        if (pv.get_object().get(po))
          return unexpected("parameter " + std::string(pk) + " must be an object");
        for (auto [fk, fv] : po) {
          if (fk == "required") {
            if (fv.get_bool().get(spec.required))
              return unexpected("parameters." + std::string(pk) + ".required must be a bool");
          } else if (fk == "default") {
            spec.default_value = str(fv);
          } else if (fk == "help") {
            spec.help = str(fv);
          } else {
            return unexpected("parameters." + std::string(pk) + ": unknown key " + std::string(fk));
          }
        }
        t.parameters.emplace(std::string(pk), spec);
      }
    } else if (key == "stages") {
      dom::array stages;
      if (value.get_array().get(stages)) return unexpected(std::string("stages must be a list"));
      for (auto sv : stages) {
        dom::object so;
        if (sv.get_object().get(so)) return unexpected(std::string("a stage must be an object"));
        StageTemplate st;
        for (auto [sk, sval] : so) {
          const std::string where =
              "stage " + (st.name.empty() ? std::string("?") : st.name) + ": ";
          if (sk == "name") {
            st.name = str(sval);
          } else if (sk == "service") {
            st.service = str(sval);
          } else if (sk == "output") {
            st.output = str(sval);
          } else if (sk == "env") {
            auto m = string_map(sval, where + "env");
            if (!m) return unexpected(m.error());
            st.env = std::move(*m);
          } else if (sk == "inputs") {
            auto l = string_list(sval, where + "inputs");
            if (!l) return unexpected(l.error());
            st.inputs = std::move(*l);
          } else if (sk == "after") {
            auto l = string_list(sval, where + "after");
            if (!l) return unexpected(l.error());
            st.after = std::move(*l);
          } else if (sk == "start") {
            const auto mode = str(sval);
            if (mode == "after")
              st.start = StartMode::kAfter;
            else if (mode == "alongside")
              st.start = StartMode::kAlongside;
            else
              return unexpected(where + "start must be \"after\" or \"alongside\"");
          } else {
            return unexpected(where + "unknown key " + std::string(sk));
          }
        }
        if (!valid_name(st.name))
          return unexpected("stage name \"" + st.name + "\" must be [a-z0-9-]{1,40}");
        if (st.service.empty()) return unexpected("stage " + st.name + ": service is required");
        t.stages.push_back(std::move(st));
      }
    } else {
      return unexpected("unknown key " + std::string(key));
    }
  }
  if (!valid_name(t.name))
    return unexpected("template name \"" + t.name + "\" must be [a-z0-9-]{1,40}");
  if (t.stages.empty()) return unexpected("template " + t.name + " has no stages");
  std::set<std::string> names;
  for (const auto& s : t.stages)
    if (!names.insert(s.name).second) return unexpected("duplicate stage " + s.name);
  for (const auto& s : t.stages) {
    for (const auto& in : s.inputs) {
      if (!names.count(in)) return unexpected("stage " + s.name + ": unknown input " + in);
      auto it = std::find_if(t.stages.begin(), t.stages.end(),
                             [&](const auto& x) { return x.name == in; });
      if (it->output.empty())
        return unexpected("stage " + s.name + ": input " + in + " has no output");
    }
    for (const auto& a : s.after)
      if (!names.count(a)) return unexpected("stage " + s.name + ": unknown stage in after: " + a);
    if (s.start == StartMode::kAlongside && s.inputs.empty())
      return unexpected("stage " + s.name + ": start alongside needs inputs");
  }
  // No cycles: repeatedly remove stages whose dependencies are all removed.
  std::set<std::string> done;
  for (bool progress = true; progress;) {
    progress = false;
    for (const auto& s : t.stages) {
      if (done.count(s.name)) continue;
      bool ready = true;
      for (const auto& d : s.inputs) ready = ready && done.count(d);
      for (const auto& d : s.after) ready = ready && done.count(d);
      if (ready) progress = done.insert(s.name).second;
    }
  }
  if (done.size() != t.stages.size())
    return unexpected("template " + t.name + " has a dependency cycle");
  return t;
}

Result<std::map<std::string, WorkflowTemplate>, std::string> load_templates(
    const std::string& dir) {
  std::map<std::string, WorkflowTemplate> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".json") continue;
    std::ifstream in(entry.path());
    std::stringstream ss;
    ss << in.rdbuf();
    auto t = parse_template(ss.str());
    if (!t) return unexpected(entry.path().string() + ": " + t.error());
    if (entry.path().stem() != t->name)
      return unexpected(entry.path().string() + ": file name must be the template name " + t->name);
    out.emplace(t->name, std::move(*t));
  }
  if (ec) return unexpected("cannot read " + dir + ": " + ec.message());
  return out;
}

std::string default_workflows_dir() {
  if (const char* d = std::getenv("QM_WORKFLOWS_DIR"); d && *d) return d;
  if (std::filesystem::is_directory("workflows")) return "workflows";
  // <repo>/build/bin/streamforge -> <repo>/workflows
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n > 0) {
    std::filesystem::path p(std::string(buf, static_cast<std::size_t>(n)));
    for (auto dir = p.parent_path(); !dir.empty() && dir != dir.root_path();
         dir = dir.parent_path())
      if (std::filesystem::is_directory(dir / "workflows")) return (dir / "workflows").string();
  }
  return "";
}

Result<Workflow, std::string> instantiate(const WorkflowTemplate& t,
                                          const std::map<std::string, std::string>& params,
                                          const std::map<std::string, std::string>& base_env,
                                          const std::string& queue_id) {
  std::map<std::string, std::string> vars;
  for (const auto& [name, value] : params)
    if (!t.parameters.count(name))
      return unexpected("unknown parameter " + name + " for template " + t.name);
  for (const auto& [name, spec] : t.parameters) {
    auto it = params.find(name);
    if (it != params.end() && !it->second.empty())
      vars[name] = it->second;
    else if (spec.required)
      return unexpected("parameter " + name + " is required by template " + t.name);
    else
      vars[name] = spec.default_value;
  }
  if (auto it = vars.find("symbol"); it != vars.end() && !it->second.empty()) {
    auto sym = Symbol::parse(it->second);
    if (!sym) return unexpected("symbol \"" + it->second + "\" is not a valid symbol");
    it->second = std::string(sym->view());
    vars["symbol_lower"] = sym->lower();
  }
  for (const char* d : {"from", "to"}) {
    auto it = vars.find(d);
    if (it == vars.end() || it->second.empty()) continue;
    const auto& v = it->second;
    const bool ok =
        v.size() == 10 && v[4] == '-' && v[7] == '-' &&
        std::all_of(v.begin(), v.end(), [](char c) { return (c >= '0' && c <= '9') || c == '-'; });
    TimestampUs day = 0;
    if (!ok || !parse_date(v, &day))
      return unexpected(std::string(d) + " must be a date YYYY-MM-DD, got \"" + v + "\"");
  }
  // A range that selects nothing is the caller's mistake, said now rather than by a stage that
  // fails three times later.
  if (!vars["from"].empty() && !vars["to"].empty() && vars["from"] >= vars["to"])
    return unexpected("from must be before to (the range is [from, to): to is exclusive), got " +
                      vars["from"] + " .. " + vars["to"]);
  if (auto it = vars.find("interval");
      it != vars.end() && !it->second.empty() && !parse_interval(it->second))
    return unexpected("interval \"" + it->second +
                      "\" is not a Binance interval (1s, 1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, 6h, 8h, "
                      "12h, 1d, 3d, 1w, 1M)");
  if (vars.count("from")) vars["from_us"] = compact_date(vars["from"], '_');

  Workflow w;
  w.template_name = t.name;
  w.params = vars;
  if (!queue_id.empty()) {
    w.queue_id = queue_id;
  } else {
    w.queue_id = t.name;
    if (!vars["symbol_lower"].empty()) w.queue_id += "-" + vars["symbol_lower"];
    if (!vars["from"].empty()) w.queue_id += "-" + compact_date(vars["from"], 0);
    w.queue_id += "-" + random_suffix();
  }
  vars["queue_id"] = w.queue_id;

  for (const auto& st : t.stages) {
    Stage s;
    s.name = st.name;
    s.service = st.service;
    s.inputs = st.inputs;
    s.after = st.after;
    s.start = st.start;
    // Credentials never enter a stage's environment (it is stored and shown): they reach the
    // stage at launch (StageLaunch::secrets).
    for (const auto& [k, v] : base_env)
      if (!runtime::is_secret(k, v)) s.env[k] = v;
    for (const auto& [k, v] : st.env) {
      std::string unknown;
      s.env[k] = replace_placeholders(v, vars, &unknown);
      if (!unknown.empty())
        return unexpected("stage " + st.name + ": unknown placeholder {" + unknown + "} in " + k);
      if (runtime::is_secret(k, s.env[k]))
        return unexpected("stage " + st.name + ": " + k +
                          " would carry a credential; credentials come from the platform");
    }
    if (!st.output.empty()) {
      std::string unknown;
      s.output_topic = w.queue_id + "-" + replace_placeholders(st.output, vars, &unknown);
      if (!unknown.empty())
        return unexpected("stage " + st.name + ": unknown placeholder {" + unknown + "} in output");
      s.env["KAFKA_TOPIC"] = s.output_topic;
    }
    s.env["QUEUE_ID"] = w.queue_id;
    if (!vars["symbol"].empty() && !s.env.count("SYMBOL")) s.env["SYMBOL"] = vars["symbol"];
    w.stages.push_back(std::move(s));
  }
  // Readers' KAFKA_TOPIC: the outputs of their inputs.
  for (auto& s : w.stages) {
    if (s.inputs.empty()) continue;
    std::string topics;
    for (const auto& in : s.inputs) {
      if (!topics.empty()) topics += ",";
      topics += w.stage(in)->output_topic;
    }
    s.env["KAFKA_TOPIC"] = topics;
    if (!s.output_topic.empty()) s.env["OUTPUT_TOPIC"] = s.output_topic;
    // One consumer group per reading stage: two connectors of one queue never share a group.
    if (!s.env.count("CONSUMER_GROUP"))
      s.env["CONSUMER_GROUP"] = s.service + "-" + w.queue_id + "-" + s.name;
  }
  // Parameters end up in topic names: each must stay one legal Kafka name, so that a parameter
  // ("5m,queue-control") cannot turn a stage's topic into a list of other topics.
  for (const auto& s : w.stages) {
    for (const auto& [key, value] : s.env) {
      if (!key.ends_with("TOPIC") && key != "CONSUMER_GROUP") continue;
      for (const auto& topic :
           key == "KAFKA_TOPIC" ? runtime::split_list(value) : std::vector{value})
        if (!bus::valid_topic_name(topic))
          return unexpected("stage " + s.name + ": " + key + " \"" + topic +
                            "\" is not a topic name ([A-Za-z0-9._-]{1,249}; check the parameters)");
    }
  }
  w.created_at = w.updated_at = static_cast<double>(now_micros()) / 1e6;
  return w;
}

std::string to_json(const Workflow& w) {
  std::string out;
  runtime::JsonWriter j(out);
  j.begin_object()
      .field("queue_id", w.queue_id)
      .field("template", w.template_name)
      .field("status", w.status)
      .field("message", w.message)
      .field("created_at", w.created_at)
      .field("updated_at", w.updated_at)
      .field("stop_requested", w.stop_requested);
  j.key("params").begin_object();
  for (const auto& [k, v] : w.params) j.field(k, v);
  j.end_object();
  j.key("stages").begin_array();
  for (const auto& s : w.stages) {
    j.begin_object()
        .field("name", s.name)
        .field("service", s.service)
        .field("status", s.status)
        .field("attempt", static_cast<std::int64_t>(s.attempt))
        .field("records_written", s.records_written)
        .field("message", s.message)
        .field("producer", s.producer)
        .field("handle", s.handle)
        .field("output_topic", s.output_topic)
        .field("start", s.start == StartMode::kAlongside ? "alongside" : "after")
        .field("last_event_at", s.last_event_at)
        .field("started_at", s.started_at)
        .field("next_attempt_at", s.next_attempt_at);
    j.key("inputs").begin_array();
    for (const auto& i : s.inputs) j.value(i);
    j.end_array();
    j.key("after").begin_array();
    for (const auto& i : s.after) j.value(i);
    j.end_array();
    j.key("env").begin_object();
    for (const auto& [k, v] : s.env)
      if (!runtime::is_secret(k, v)) j.field(k, v);  // never stored or shown, whatever happened
    j.end_object();
    j.end_object();
  }
  j.end_array();
  j.end_object();
  return out;
}

Result<Workflow, std::string> workflow_from_json(std::string_view json) {
  dom::parser parser;
  dom::element doc;
  if (parser.parse(json.data(), json.size()).get(doc))
    return unexpected(std::string("not valid JSON"));
  Workflow w;
  auto num = [](dom::element e) {
    double d = 0;
    if (e.get_double().get(d)) {
      std::int64_t i = 0;
      if (!e.get_int64().get(i)) d = static_cast<double>(i);
    }
    return d;
  };
  w.queue_id = str(doc["queue_id"].value_unsafe());
  if (w.queue_id.empty()) return unexpected(std::string("no queue_id"));
  w.template_name = str(doc["template"].value_unsafe());
  w.status = str(doc["status"].value_unsafe());
  w.message = str(doc["message"].value_unsafe());
  w.created_at = num(doc["created_at"].value_unsafe());
  w.updated_at = num(doc["updated_at"].value_unsafe());
  bool stop = false;
  if (!doc["stop_requested"].get_bool().get(stop)) w.stop_requested = stop;
  dom::element params;
  if (!doc["params"].get(params)) {
    auto m = string_map(params, "params");
    if (m) w.params = std::move(*m);
  }
  dom::array stages;
  if (doc["stages"].get_array().get(stages)) return unexpected(std::string("no stages"));
  for (auto e : stages) {
    Stage s;
    s.name = str(e["name"].value_unsafe());
    s.service = str(e["service"].value_unsafe());
    s.status = str(e["status"].value_unsafe());
    std::int64_t attempt = 0, records = 0;
    if (!e["attempt"].get_int64().get(attempt)) s.attempt = static_cast<int>(attempt);
    if (!e["records_written"].get_int64().get(records)) s.records_written = records;
    s.message = str(e["message"].value_unsafe());
    s.producer = str(e["producer"].value_unsafe());
    s.handle = str(e["handle"].value_unsafe());
    s.output_topic = str(e["output_topic"].value_unsafe());
    s.start =
        str(e["start"].value_unsafe()) == "alongside" ? StartMode::kAlongside : StartMode::kAfter;
    s.last_event_at = num(e["last_event_at"].value_unsafe());
    s.started_at = num(e["started_at"].value_unsafe());
    s.next_attempt_at = num(e["next_attempt_at"].value_unsafe());
    dom::element x;
    if (!e["inputs"].get(x))
      if (auto l = string_list(x, "inputs")) s.inputs = std::move(*l);
    if (!e["after"].get(x))
      if (auto l = string_list(x, "after")) s.after = std::move(*l);
    if (!e["env"].get(x))
      if (auto m = string_map(x, "env")) s.env = std::move(*m);
    w.stages.push_back(std::move(s));
  }
  return w;
}

}  // namespace sf::services::qm
