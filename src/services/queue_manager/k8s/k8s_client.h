// Talking to a Kubernetes API server: where it is and how to authenticate (in-cluster service
// account files or a kubeconfig), and a small synchronous REST client over https (or plain http,
// for tests and `kubectl proxy`).
//
// Supported kubeconfig shape: current-context (or a given context) -> cluster `server`,
// `certificate-authority` / `certificate-authority-data`, `insecure-skip-tls-verify`; user
// `token` / `tokenFile` and optionally `client-certificate(-data)` + `client-key(-data)`;
// context `namespace`. Not supported: `exec` and `auth-provider` plugins (an error names them),
// proxies, and merging several files of a KUBECONFIG list (the first existing file is used).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace sf::services::qm::k8s {

struct ClusterConfig {
  std::string server;  // "https://10.96.0.1:443" or "http://127.0.0.1:8001"
  std::string token;   // bearer token; "" for none (client certificates, kubectl proxy)
  // Read again for every request when set (bound service-account tokens are rotated in place);
  // `token` is the fallback when the file cannot be read.
  std::string token_file;
  std::string ca_file;  // PEM file to trust; else ca_pem; else the system store
  std::string ca_pem;
  std::string client_cert_pem;  // optional mutual TLS
  std::string client_key_pem;
  bool insecure_skip_tls_verify = false;
  std::string ns;      // the namespace the config names ("" if none)
  std::string source;  // "in-cluster" or the kubeconfig path, for messages
};

// In-cluster configuration, with every path injectable for tests.
struct InClusterPaths {
  std::string dir = "/var/run/secrets/kubernetes.io/serviceaccount";  // token, ca.crt, namespace
  std::optional<std::string> host;  // KUBERNETES_SERVICE_HOST when unset
  std::optional<std::string> port;  // KUBERNETES_SERVICE_PORT when unset
};

using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

Result<ClusterConfig, std::string> load_in_cluster_config(const InClusterPaths& paths,
                                                          const EnvLookup& env);
// `context` empty: the file's current-context.
Result<ClusterConfig, std::string> load_kubeconfig(const std::string& path,
                                                   std::string_view context = {});
// KUBECONFIG if set (first existing file of a ':' list), else in-cluster when
// KUBERNETES_SERVICE_HOST is set, else ~/.kube/config.
Result<ClusterConfig, std::string> load_cluster_config(const EnvLookup& env,
                                                       const InClusterPaths& paths = {});

// A tiny YAML subset reader (block mappings and sequences, plain/quoted scalars, {} and []), as
// much as kubeconfig files use. JSON documents are read as JSON.
struct YamlNode {
  enum class Kind : std::uint8_t { kNull, kScalar, kMap, kSeq };
  Kind kind = Kind::kNull;
  std::string scalar;
  std::vector<std::pair<std::string, YamlNode>> map;
  std::vector<YamlNode> seq;
  const YamlNode* get(std::string_view key) const;
  std::string str(std::string_view key) const;  // scalar member or ""
};
Result<YamlNode, std::string> parse_yaml(std::string_view text);

Result<std::string, std::string> base64_decode(std::string_view text);

struct ApiResponse {
  int status = 0;
  std::string content_type;
  std::string body;
};

// One request per connection (queue-manager polls Jobs every few seconds; a handshake per call is
// cheap next to that). Thread-safe: requests share no state.
class ApiClient {
 public:
  // Throws std::invalid_argument on a bad server URL or unreadable CA / client key material:
  // configuration errors.
  explicit ApiClient(ClusterConfig config,
                     std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~ApiClient();
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  // `target` is the path and query ("/apis/batch/v1/namespaces/stf/jobs"). A body is sent as
  // application/json. Any HTTP status is a success here; errors are transport failures.
  Result<ApiResponse, std::string> request(std::string_view method, std::string_view target,
                                           std::string_view body = {}) const;

  const ClusterConfig& config() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sf::services::qm::k8s
