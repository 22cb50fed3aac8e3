// The `kubernetes` launcher (QM_LAUNCHER=kubernetes): one batch/v1 Job per stage run, through the
// API server's REST API.
//
//   start  POST   /apis/batch/v1/namespaces/{ns}/jobs              201; 409 -> error naming the Job
//   status GET    /apis/batch/v1/namespaces/{ns}/jobs/{name} conditions/active/succeeded/failed
//          GET    /api/v1/namespaces/{ns}/pods?labelSelector=job-name=<name>   exit code, waiting
//   stop   DELETE /apis/batch/v1/namespaces/{ns}/jobs/{name}?propagationPolicy=Background (404 ok)
//
// The handle is the Job name. The service account needs create/get/list/watch/delete on
// batch/v1 jobs and get/list on pods (deploy/k8s/rbac.yaml). Manifests: manifest.h.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "services/queue_manager/k8s/k8s_client.h"
#include "services/queue_manager/k8s/manifest.h"
#include "services/queue_manager/launcher.h"

namespace sf::services::qm::k8s {

class K8sLauncher final : public Launcher {
 public:
  // Throws std::invalid_argument on configuration errors (bad options, server URL, CA). Jobs go
  // to options.ns.
  K8sLauncher(ClusterConfig cluster, K8sOptions options,
              std::chrono::milliseconds request_timeout = std::chrono::seconds(10));

  Result<std::string, std::string> start(const StageLaunch& launch) override;
  RunStatus status(const std::string& handle) override;
  void stop(const std::string& handle) override;
  std::string_view kind() const override { return "kubernetes"; }

  const K8sOptions& options() const { return options_; }

 private:
  std::string jobs_path() const;

  ApiClient api_;
  K8sOptions options_;
  std::mutex mutex_;
  // The last terminal status seen per Job, so that a Job removed afterwards (TTL, stop) still
  // reports how it ended.
  std::map<std::string, RunStatus> finished_;
};

// Options from the environment (K8S_*, STREAMFORGE_IMAGE; K8S_NAMESPACE, else the cluster
// config's namespace, else "stf") and the cluster from KUBECONFIG / in-cluster files. Throws
// std::invalid_argument on configuration errors.
std::unique_ptr<K8sLauncher> make_k8s_launcher(const EnvLookup& env,
                                               const InClusterPaths& paths = {});

// Maps a Job object and its pods list (both JSON; `pods_json` may be empty) to a RunStatus.
// Exposed for tests.
RunStatus job_run_status(std::string_view job_json, std::string_view pods_json);
// The message of a Kubernetes Status object (or the body itself when it is not one).
std::string status_message(std::string_view body);

}  // namespace sf::services::qm::k8s
