// batch/v1 Job manifests for queue-manager's Kubernetes launcher (k8s_launcher.h).
//
// One Job per stage run, named `sf-<queue_id>-<stage>-<attempt>` as a DNS-1123 label, with the
// stage's environment, ConfigMap/Secret references for shared settings, and the credentials
// (KAFKA_PASSWORD, ARANGO_PASSWORD, POSTGRES_DSN, ...) only ever as secretKeyRef: a password in a
// stage's env never lands in the manifest as plain text.
//
// Everything here is a pure function of (StageLaunch, K8sOptions), so `--dry-run` prints exactly
// what the launcher would submit, and tests validate it against the Kubernetes OpenAPI schema
// offline (tests/services/queue_manager/k8s/manifest_schema_test.cc).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "services/queue_manager/launcher.h"

namespace sf::services::qm::k8s {

struct K8sOptions {
  std::string ns = "stf";                    // K8S_NAMESPACE (the original's namespace)
  std::string image = "streamforge:latest";  // STREAMFORGE_IMAGE
  std::string image_pull_policy;  // K8S_IMAGE_PULL_POLICY: "", Always, IfNotPresent, Never
  std::string config_map = "streamforge-config";  // K8S_CONFIGMAP: envFrom (optional); "" for none
  std::string secret = "streamforge-secrets";     // K8S_SECRET: envFrom + secretKeyRef target
  // Variables never written as plain env: they become secretKeyRef {secret, key = the name}.
  // So do every name runtime::is_secret_name calls secret, every value that carries a password
  // and every name in StageLaunch::secrets.
  std::set<std::string> secret_env = {"KAFKA_PASSWORD", "ARANGO_PASSWORD", "POSTGRES_DSN"};
  int backoff_limit = 0;  // K8S_BACKOFF_LIMIT: 0, queue-manager's self-healing decides restarts
  std::optional<int> ttl_seconds_after_finished = 3600;  // K8S_TTL_SECONDS (<0 in env: none)
  std::optional<std::int64_t> active_deadline_seconds;   // K8S_ACTIVE_DEADLINE_SECONDS
  // Resource quantities ("500m", "1Gi"); empty ones are left out.
  std::string cpu_request;                           // K8S_CPU_REQUEST
  std::string memory_request;                        // K8S_MEMORY_REQUEST
  std::string cpu_limit;                             // K8S_CPU_LIMIT
  std::string memory_limit;                          // K8S_MEMORY_LIMIT
  std::map<std::string, std::string> node_selector;  // K8S_NODE_SELECTOR "k=v,k2=v2"
  std::string service_account;  // K8S_SERVICE_ACCOUNT (the pods'; "" = namespace default)
  // Workers do not talk to the API server: no token in their pods unless asked for.
  bool automount_service_account_token = false;  // K8S_AUTOMOUNT_SA_TOKEN
  // nvidia.com/gpu limit for the services listed (K8S_GPU_COUNT, K8S_GPU_SERVICES "a,b");
  // 0 = no GPU requested. GPU pods also tolerate the usual nvidia.com/gpu NoSchedule taint.
  int gpu_count = 0;
  std::set<std::string> gpu_services = {"gnn-trainer"};

  // From K8S_* / STREAMFORGE_IMAGE variables through `lookup` (unset -> the defaults above).
  // Throws std::invalid_argument naming the variable on a bad value (a configuration error).
  static K8sOptions from_env(
      const std::function<std::optional<std::string>(const std::string&)>& lookup);
  // Throws std::invalid_argument when the options cannot produce a valid Job (bad namespace,
  // empty image, negative limits, ...).
  void validate() const;
};

// `sf-<queue_id>-<stage>-<attempt>` as a DNS-1123 label: lowercase, [a-z0-9-], starting and
// ending alphanumeric, at most 63 characters; when longer, cut and suffixed with 8 hex digits of
// a hash of the full name, so that distinct long names stay distinct.
std::string job_name(const StageLaunch& launch);
// A valid label value (at most 63 of [A-Za-z0-9_.-], alphanumeric at both ends; other characters
// become '-'; hash-suffixed when cut).
std::string label_value(std::string_view text);
// Whether `name`'s value must be a secretKeyRef under `options` (by name; values are checked too).
bool is_secret_env(const K8sOptions& options, std::string_view name);

// A small ordered JSON tree: keys keep insertion order, so output is deterministic.
struct JsonNode {
  enum class Kind : std::uint8_t { kNull, kBool, kInt, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  bool boolean = false;
  std::int64_t integer = 0;
  std::string text;
  std::vector<JsonNode> items;                            // kArray
  std::vector<std::pair<std::string, JsonNode>> members;  // kObject

  static JsonNode of(Kind k) {
    JsonNode n;
    n.kind = k;
    return n;
  }
  static JsonNode object() { return of(Kind::kObject); }
  static JsonNode array() { return of(Kind::kArray); }
  static JsonNode string(std::string s) {
    JsonNode n = of(Kind::kString);
    n.text = std::move(s);
    return n;
  }
  static JsonNode integer_value(std::int64_t v) {
    JsonNode n = of(Kind::kInt);
    n.integer = v;
    return n;
  }
  static JsonNode boolean_value(bool v) {
    JsonNode n = of(Kind::kBool);
    n.boolean = v;
    return n;
  }
  // Object member (appended; callers keep keys unique).
  JsonNode& set(std::string key, JsonNode value);
  JsonNode& push(JsonNode value);
  const JsonNode* find(std::string_view key) const;
};

// The Job as a tree.
JsonNode job_manifest(const StageLaunch& launch, const K8sOptions& options);

enum class ManifestFormat : std::uint8_t { kCompactJson, kPrettyJson, kYaml };
std::string render(const JsonNode& node, ManifestFormat format);
// job_manifest() rendered: compact JSON is what the launcher POSTs; pretty JSON and YAML are for
// `--dry-run`.
std::string render_job(const StageLaunch& launch, const K8sOptions& options,
                       ManifestFormat format = ManifestFormat::kCompactJson);

// `--dry-run` for a whole workflow: YAML documents separated by "---", or (JSON formats) a
// v1 List of the Jobs, which `kubectl apply -f` accepts as it is.
std::string render_jobs(const std::vector<StageLaunch>& launches, const K8sOptions& options,
                        ManifestFormat format = ManifestFormat::kYaml);

}  // namespace sf::services::qm::k8s
