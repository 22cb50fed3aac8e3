#include "services/queue_manager/k8s/manifest.h"

#include <cctype>
#include <charconv>
#include <cstdio>
#include <stdexcept>

#include "runtime/json_writer.h"
#include "runtime/secrets.h"

namespace sf::services::qm::k8s {
namespace {

constexpr std::size_t kMaxLabel = 63;

std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

std::string hash8(std::string_view text) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(fnv1a(text)));
  return std::string(buf, 8);
}

bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool is_alnum(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0;
}

// Cuts `s` to fit `max` with room for "-<hash8>", then strips trailing characters that may not
// end a name.
template <class Ends>
std::string cut_with_hash(std::string s, std::string_view full, std::size_t max, Ends ok_end) {
  s.resize(max - 9);
  while (!s.empty() && !ok_end(s.back())) s.pop_back();
  if (s.empty()) return "x-" + hash8(full);
  return s + "-" + hash8(full);
}

bool valid_dns_label(std::string_view s) {
  if (s.empty() || s.size() > kMaxLabel) return false;
  for (char c : s) {
    if (!is_lower_alnum(c) && c != '-') return false;
  }
  return is_lower_alnum(s.front()) && is_lower_alnum(s.back());
}

bool valid_label_value(std::string_view s) {
  return label_value(s) == s;
}

int parse_int(const std::string& name, const std::string& text, std::int64_t min,
              std::int64_t max) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || v < min || v > max) {
    throw std::invalid_argument(name + ": expected an integer in [" + std::to_string(min) + ", " +
                                std::to_string(max) + "], got '" + text + "'");
  }
  return static_cast<int>(v);
}

std::vector<std::string> split(std::string_view text, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find(sep, start);
    if (end == std::string_view::npos) end = text.size();
    std::string part(text.substr(start, end - start));
    while (!part.empty() && part.front() == ' ') part.erase(part.begin());
    while (!part.empty() && part.back() == ' ') part.pop_back();
    if (!part.empty()) out.push_back(std::move(part));
    start = end + 1;
  }
  return out;
}

bool parse_bool(const std::string& name, const std::string& text) {
  if (text == "1" || text == "true" || text == "yes") return true;
  if (text == "0" || text == "false" || text == "no") return false;
  throw std::invalid_argument(name + ": expected true or false, got '" + text + "'");
}

// --- rendering -------------------------------------------------------------------------------

void render_json(const JsonNode& n, std::string& out, int indent, bool pretty) {
  auto newline = [&](int level) {
    if (!pretty) return;
    out.push_back('\n');
    out.append(static_cast<std::size_t>(level) * 2, ' ');
  };
  switch (n.kind) {
    case JsonNode::Kind::kNull:
      out += "null";
      break;
    case JsonNode::Kind::kBool:
      out += n.boolean ? "true" : "false";
      break;
    case JsonNode::Kind::kInt:
      runtime::append_json_number(out, n.integer);
      break;
    case JsonNode::Kind::kString:
      runtime::append_json_string(out, n.text);
      break;
    case JsonNode::Kind::kArray:
      if (n.items.empty()) {
        out += "[]";
        break;
      }
      out.push_back('[');
      for (std::size_t i = 0; i < n.items.size(); ++i) {
        if (i) out.push_back(',');
        newline(indent + 1);
        render_json(n.items[i], out, indent + 1, pretty);
      }
      newline(indent);
      out.push_back(']');
      break;
    case JsonNode::Kind::kObject:
      if (n.members.empty()) {
        out += "{}";
        break;
      }
      out.push_back('{');
      for (std::size_t i = 0; i < n.members.size(); ++i) {
        if (i) out.push_back(',');
        newline(indent + 1);
        runtime::append_json_string(out, n.members[i].first);
        out += pretty ? ": " : ":";
        render_json(n.members[i].second, out, indent + 1, pretty);
      }
      newline(indent);
      out.push_back('}');
      break;
  }
}

bool plain_yaml_key(std::string_view key) {
  if (key.empty() || !is_alnum(key.front())) return false;
  for (char c : key) {
    if (!is_alnum(c) && c != '-' && c != '_' && c != '.' && c != '/') return false;
  }
  return true;
}

void yaml_key(std::string& out, std::string_view key) {
  if (plain_yaml_key(key)) {
    out += key;
  } else {
    runtime::append_json_string(out, key);
  }
  out.push_back(':');
}

bool yaml_scalar(const JsonNode& n) {
  return (n.kind != JsonNode::Kind::kArray && n.kind != JsonNode::Kind::kObject) ||
         (n.kind == JsonNode::Kind::kArray && n.items.empty()) ||
         (n.kind == JsonNode::Kind::kObject && n.members.empty());
}

void yaml_scalar_text(const JsonNode& n, std::string& out) {
  // Strings are always double-quoted: a JSON string is a valid YAML double-quoted scalar, and
  // "true", "0755" or "1e3" stay strings.
  render_json(n, out, 0, false);
}

void render_yaml(const JsonNode& n, std::string& out, int indent);

// The value after "key:" or "- ".
void yaml_value_after(const JsonNode& n, std::string& out, int indent) {
  if (yaml_scalar(n)) {
    out.push_back(' ');
    yaml_scalar_text(n, out);
    out.push_back('\n');
  } else {
    out.push_back('\n');
    render_yaml(n, out, indent);
  }
}

void render_yaml(const JsonNode& n, std::string& out, int indent) {
  const std::string pad(static_cast<std::size_t>(indent) * 2, ' ');
  if (n.kind == JsonNode::Kind::kObject) {
    for (const auto& [key, value] : n.members) {
      out += pad;
      yaml_key(out, key);
      yaml_value_after(value, out, indent + 1);
    }
  } else if (n.kind == JsonNode::Kind::kArray) {
    for (const auto& item : n.items) {
      out += pad;
      out += "-";
      if (item.kind == JsonNode::Kind::kObject && !item.members.empty()) {
        // First member on the dash line, the rest aligned under it.
        std::string nested;
        render_yaml(item, nested, indent + 1);
        out += ' ';
        out += nested.substr(pad.size() + 2);
      } else {
        yaml_value_after(item, out, indent + 1);
      }
    }
  } else {
    out += pad;
    yaml_scalar_text(n, out);
    out.push_back('\n');
  }
}

JsonNode str(std::string s) {
  return JsonNode::string(std::move(s));
}

}  // namespace

JsonNode& JsonNode::set(std::string key, JsonNode value) {
  members.emplace_back(std::move(key), std::move(value));
  return members.back().second;
}

JsonNode& JsonNode::push(JsonNode value) {
  items.push_back(std::move(value));
  return items.back();
}

const JsonNode* JsonNode::find(std::string_view key) const {
  for (const auto& [k, v] : members) {
    if (k == key) return &v;
  }
  return nullptr;
}

std::string job_name(const StageLaunch& launch) {
  const std::string full =
      "sf-" + launch.queue_id + "-" + launch.stage + "-" + std::to_string(launch.attempt);
  std::string out;
  out.reserve(full.size());
  for (char c : full) {
    char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!is_lower_alnum(l)) l = '-';
    if (l == '-' && (out.empty() || out.back() == '-')) continue;  // collapse, no leading '-'
    out.push_back(l);
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  if (out.size() > kMaxLabel) out = cut_with_hash(std::move(out), full, kMaxLabel, is_lower_alnum);
  return out;
}

std::string label_value(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) out.push_back(is_alnum(c) || c == '-' || c == '_' || c == '.' ? c : '-');
  std::size_t first = 0;
  while (first < out.size() && !is_alnum(out[first])) ++first;
  out.erase(0, first);
  while (!out.empty() && !is_alnum(out.back())) out.pop_back();
  if (out.size() > kMaxLabel) out = cut_with_hash(std::move(out), text, kMaxLabel, is_alnum);
  return out;
}

bool is_secret_env(const K8sOptions& options, std::string_view name) {
  return options.secret_env.contains(std::string(name)) || runtime::is_secret_name(name);
}

K8sOptions K8sOptions::from_env(
    const std::function<std::optional<std::string>(const std::string&)>& lookup) {
  K8sOptions o;
  auto get = [&](const char* name) { return lookup(name); };
  if (auto v = get("K8S_NAMESPACE")) o.ns = *v;
  if (auto v = get("STREAMFORGE_IMAGE")) o.image = *v;
  if (auto v = get("K8S_IMAGE_PULL_POLICY")) o.image_pull_policy = *v;
  if (auto v = get("K8S_CONFIGMAP")) o.config_map = *v;
  if (auto v = get("K8S_SECRET")) o.secret = *v;
  if (auto v = get("K8S_BACKOFF_LIMIT"))
    o.backoff_limit = parse_int("K8S_BACKOFF_LIMIT", *v, 0, 1000);
  if (auto v = get("K8S_TTL_SECONDS")) {
    int ttl = parse_int("K8S_TTL_SECONDS", *v, -1, 1 << 30);
    o.ttl_seconds_after_finished = ttl < 0 ? std::nullopt : std::optional<int>(ttl);
  }
  if (auto v = get("K8S_ACTIVE_DEADLINE_SECONDS")) {
    int d = parse_int("K8S_ACTIVE_DEADLINE_SECONDS", *v, 0, 1 << 30);
    o.active_deadline_seconds = d == 0 ? std::nullopt : std::optional<std::int64_t>(d);
  }
  if (auto v = get("K8S_CPU_REQUEST")) o.cpu_request = *v;
  if (auto v = get("K8S_MEMORY_REQUEST")) o.memory_request = *v;
  if (auto v = get("K8S_CPU_LIMIT")) o.cpu_limit = *v;
  if (auto v = get("K8S_MEMORY_LIMIT")) o.memory_limit = *v;
  if (auto v = get("K8S_NODE_SELECTOR")) {
    for (const auto& pair : split(*v, ',')) {
      auto eq = pair.find('=');
      if (eq == std::string::npos || eq == 0) {
        throw std::invalid_argument("K8S_NODE_SELECTOR: expected key=value[,key=value], got '" +
                                    *v + "'");
      }
      o.node_selector[pair.substr(0, eq)] = pair.substr(eq + 1);
    }
  }
  if (auto v = get("K8S_SERVICE_ACCOUNT")) o.service_account = *v;
  if (auto v = get("K8S_AUTOMOUNT_SA_TOKEN")) {
    o.automount_service_account_token = parse_bool("K8S_AUTOMOUNT_SA_TOKEN", *v);
  }
  if (auto v = get("K8S_GPU_COUNT")) o.gpu_count = parse_int("K8S_GPU_COUNT", *v, 0, 64);
  if (auto v = get("K8S_GPU_SERVICES")) {
    auto names = split(*v, ',');
    o.gpu_services = std::set<std::string>(names.begin(), names.end());
  }
  o.validate();
  return o;
}

void K8sOptions::validate() const {
  if (!valid_dns_label(ns)) {
    throw std::invalid_argument("K8S_NAMESPACE: '" + ns + "' is not a DNS-1123 label");
  }
  if (image.empty()) throw std::invalid_argument("STREAMFORGE_IMAGE: empty");
  if (!image_pull_policy.empty() && image_pull_policy != "Always" &&
      image_pull_policy != "IfNotPresent" && image_pull_policy != "Never") {
    throw std::invalid_argument("K8S_IMAGE_PULL_POLICY: expected Always, IfNotPresent or Never");
  }
  if (!config_map.empty() && !valid_label_value(config_map)) {
    throw std::invalid_argument("K8S_CONFIGMAP: '" + config_map + "' is not a valid name");
  }
  if (secret.empty() || !valid_label_value(secret)) {
    // Without a secret there is nowhere to put the credentials but plain env, which we refuse.
    throw std::invalid_argument("K8S_SECRET: '" + secret + "' is not a valid Secret name");
  }
  if (backoff_limit < 0) throw std::invalid_argument("K8S_BACKOFF_LIMIT: negative");
  if (gpu_count < 0) throw std::invalid_argument("K8S_GPU_COUNT: negative");
  if (!service_account.empty() && !valid_label_value(service_account)) {
    throw std::invalid_argument("K8S_SERVICE_ACCOUNT: '" + service_account + "' is not valid");
  }
}

JsonNode job_manifest(const StageLaunch& launch, const K8sOptions& options) {
  const std::string name = job_name(launch);

  JsonNode labels = JsonNode::object();
  labels.set("app.kubernetes.io/name", str(label_value(launch.service)));
  labels.set("app.kubernetes.io/instance", str(name));
  labels.set("app.kubernetes.io/component", str(label_value(launch.stage)));
  labels.set("app.kubernetes.io/part-of", str("streamforge"));
  labels.set("app.kubernetes.io/managed-by", str("queue-manager"));
  labels.set("streamforge.io/queue-id", str(label_value(launch.queue_id)));

  // The unsanitised identity, for people and for a restarted queue-manager.
  JsonNode annotations = JsonNode::object();
  annotations.set("streamforge.io/queue-id", str(launch.queue_id));
  annotations.set("streamforge.io/stage", str(launch.stage));
  annotations.set("streamforge.io/service", str(launch.service));
  annotations.set("streamforge.io/attempt", str(std::to_string(launch.attempt)));

  JsonNode job = JsonNode::object();
  job.set("apiVersion", str("batch/v1"));
  job.set("kind", str("Job"));
  JsonNode& meta = job.set("metadata", JsonNode::object());
  meta.set("name", str(name));
  meta.set("namespace", str(options.ns));
  meta.set("labels", labels);
  meta.set("annotations", annotations);

  JsonNode& spec = job.set("spec", JsonNode::object());
  spec.set("backoffLimit", JsonNode::integer_value(options.backoff_limit));
  if (options.ttl_seconds_after_finished) {
    spec.set("ttlSecondsAfterFinished",
             JsonNode::integer_value(*options.ttl_seconds_after_finished));
  }
  if (options.active_deadline_seconds) {
    spec.set("activeDeadlineSeconds", JsonNode::integer_value(*options.active_deadline_seconds));
  }
  JsonNode& tmpl = spec.set("template", JsonNode::object());
  JsonNode& tmeta = tmpl.set("metadata", JsonNode::object());
  tmeta.set("labels", labels);
  tmeta.set("annotations", annotations);
  JsonNode& pod = tmpl.set("spec", JsonNode::object());
  pod.set("restartPolicy", str("Never"));
  if (!options.service_account.empty()) {
    pod.set("serviceAccountName", str(options.service_account));
  }
  pod.set("automountServiceAccountToken",
          JsonNode::boolean_value(options.automount_service_account_token));
  if (!options.node_selector.empty()) {
    JsonNode& sel = pod.set("nodeSelector", JsonNode::object());
    for (const auto& [k, v] : options.node_selector) sel.set(k, str(v));
  }
  const bool gpu = options.gpu_count > 0 && options.gpu_services.contains(launch.service);
  if (gpu) {
    JsonNode toleration = JsonNode::object();
    toleration.set("key", str("nvidia.com/gpu"));
    toleration.set("operator", str("Exists"));
    toleration.set("effect", str("NoSchedule"));
    pod.set("tolerations", JsonNode::array()).push(std::move(toleration));
  }

  JsonNode container = JsonNode::object();
  container.set("name", str("streamforge"));
  container.set("image", str(options.image));
  if (!options.image_pull_policy.empty()) {
    container.set("imagePullPolicy", str(options.image_pull_policy));
  }
  container.set("args", JsonNode::array()).push(str(launch.service));

  // Credentials are references into the Secret, never values: the stage's secret names, and
  // (should one slip into the env) any variable that is secret by name or by value.
  std::map<std::string, bool> vars;  // name -> from the Secret; std::map: sorted, deterministic
  for (const auto& [key, value] : launch.env)
    vars[key] = is_secret_env(options, key) || runtime::value_has_credentials(value);
  for (const auto& key : launch.secrets) vars[key] = true;
  JsonNode env = JsonNode::array();
  for (const auto& [key, from_secret] : vars) {
    JsonNode var = JsonNode::object();
    var.set("name", str(key));
    if (from_secret) {
      JsonNode& ref =
          var.set("valueFrom", JsonNode::object()).set("secretKeyRef", JsonNode::object());
      ref.set("name", str(options.secret));
      ref.set("key", str(key));
      // The manager may hold a credential the Secret lacks (one given to it by a flag): the
      // variable is then unset and the stage says what it misses, instead of a pod that cannot
      // be created.
      ref.set("optional", JsonNode::boolean_value(true));
    } else {
      var.set("value", str(launch.env.at(key)));
    }
    env.push(std::move(var));
  }
  if (!env.items.empty()) container.set("env", std::move(env));

  JsonNode env_from = JsonNode::array();
  if (!options.config_map.empty()) {
    JsonNode ref = JsonNode::object();
    JsonNode& cm = ref.set("configMapRef", JsonNode::object());
    cm.set("name", str(options.config_map));
    cm.set("optional", JsonNode::boolean_value(true));
    env_from.push(std::move(ref));
  }
  // No envFrom of the Secret: a stage gets the credentials it needs (secretKeyRef above), not
  // every one the Secret holds.
  if (!env_from.items.empty()) container.set("envFrom", std::move(env_from));

  JsonNode requests = JsonNode::object();
  if (!options.cpu_request.empty()) requests.set("cpu", str(options.cpu_request));
  if (!options.memory_request.empty()) requests.set("memory", str(options.memory_request));
  JsonNode limits = JsonNode::object();
  if (!options.cpu_limit.empty()) limits.set("cpu", str(options.cpu_limit));
  if (!options.memory_limit.empty()) limits.set("memory", str(options.memory_limit));
  if (gpu) limits.set("nvidia.com/gpu", str(std::to_string(options.gpu_count)));
  if (!requests.members.empty() || !limits.members.empty()) {
    JsonNode& res = container.set("resources", JsonNode::object());
    if (!requests.members.empty()) res.set("requests", std::move(requests));
    if (!limits.members.empty()) res.set("limits", std::move(limits));
  }
  pod.set("containers", JsonNode::array()).push(std::move(container));
  return job;
}

std::string render(const JsonNode& node, ManifestFormat format) {
  std::string out;
  switch (format) {
    case ManifestFormat::kCompactJson:
      render_json(node, out, 0, false);
      break;
    case ManifestFormat::kPrettyJson:
      render_json(node, out, 0, true);
      out.push_back('\n');
      break;
    case ManifestFormat::kYaml:
      render_yaml(node, out, 0);
      break;
  }
  return out;
}

std::string render_job(const StageLaunch& launch, const K8sOptions& options,
                       ManifestFormat format) {
  return render(job_manifest(launch, options), format);
}

std::string render_jobs(const std::vector<StageLaunch>& launches, const K8sOptions& options,
                        ManifestFormat format) {
  if (format == ManifestFormat::kYaml) {
    std::string out;
    for (const auto& launch : launches) {
      out += "---\n";
      out += render_job(launch, options, format);
    }
    return out;
  }
  JsonNode list = JsonNode::object();
  list.set("apiVersion", str("v1"));
  list.set("kind", str("List"));
  JsonNode& items = list.set("items", JsonNode::array());
  for (const auto& launch : launches) items.push(job_manifest(launch, options));
  return render(list, format);
}

}  // namespace sf::services::qm::k8s
