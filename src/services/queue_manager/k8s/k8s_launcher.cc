#include "services/queue_manager/k8s/k8s_launcher.h"

#include <simdjson.h>

#include "runtime/log.h"

namespace sf::services::qm::k8s {
namespace {

namespace dom = simdjson::dom;

std::string get_string(dom::element e, std::string_view key) {
  std::string_view v;
  if (e[key].get_string().get(v) != simdjson::SUCCESS) return {};
  return std::string(v);
}

std::int64_t get_int(dom::element e, std::string_view key) {
  std::int64_t v = 0;
  if (e[key].get_int64().get(v) != simdjson::SUCCESS) return 0;
  return v;
}

struct PodView {
  bool found = false;
  std::string phase;
  std::optional<int> exit_code;
  std::string terminated_reason;  // "Error", "Completed", "OOMKilled"
  std::string waiting_reason;     // "ImagePullBackOff", "CreateContainerConfigError"
  std::string waiting_message;
};

// The newest pod of the Job and its `streamforge` container (else its first container).
PodView read_pods(std::string_view pods_json) {
  PodView view;
  if (pods_json.empty()) return view;
  dom::parser parser;
  dom::element root;
  if (parser.parse(pods_json.data(), pods_json.size()).get(root) != simdjson::SUCCESS) return view;
  dom::array items;
  if (root["items"].get_array().get(items) != simdjson::SUCCESS) return view;
  std::string newest;
  for (dom::element pod : items) {
    dom::element meta;
    std::string created;
    if (pod["metadata"].get(meta) == simdjson::SUCCESS)
      created = get_string(meta, "creationTimestamp");
    // RFC 3339 UTC timestamps order as strings; ties (same second) keep the later item.
    if (view.found && created < newest) continue;
    PodView candidate;
    candidate.found = true;
    dom::element status;
    if (pod["status"].get(status) == simdjson::SUCCESS) {
      candidate.phase = get_string(status, "phase");
      dom::array containers;
      if (status["containerStatuses"].get_array().get(containers) == simdjson::SUCCESS) {
        std::optional<dom::element> chosen;
        for (dom::element c : containers) {
          if (!chosen || get_string(c, "name") == "streamforge") chosen = c;
        }
        if (chosen) {
          dom::element state;
          if ((*chosen)["state"].get(state) == simdjson::SUCCESS) {
            dom::element terminated;
            dom::element waiting;
            if (state["terminated"].get(terminated) == simdjson::SUCCESS) {
              std::int64_t code = 0;
              if (terminated["exitCode"].get_int64().get(code) == simdjson::SUCCESS) {
                candidate.exit_code = static_cast<int>(code);
              }
              candidate.terminated_reason = get_string(terminated, "reason");
            } else if (state["waiting"].get(waiting) == simdjson::SUCCESS) {
              candidate.waiting_reason = get_string(waiting, "reason");
              candidate.waiting_message = get_string(waiting, "message");
            }
          }
        }
      }
    }
    newest = created;
    view = std::move(candidate);
  }
  return view;
}

bool terminal(const RunStatus& s) {
  return s.state == RunState::kExited || s.state == RunState::kFailed;
}

RunStatus unknown_status(std::string detail) {
  RunStatus s;
  s.state = RunState::kUnknown;
  s.detail = std::move(detail);
  return s;
}

bool http_ok(int status) {
  return status >= 200 && status < 300;
}

}  // namespace

std::string status_message(std::string_view body) {
  dom::parser parser;
  dom::element root;
  if (parser.parse(body.data(), body.size()).get(root) == simdjson::SUCCESS &&
      get_string(root, "kind") == "Status") {
    std::string reason = get_string(root, "reason");
    std::string message = get_string(root, "message");
    return reason.empty() ? message : reason + ": " + message;
  }
  std::string text(body.substr(0, 300));
  return text;
}

RunStatus job_run_status(std::string_view job_json, std::string_view pods_json) {
  RunStatus out;
  dom::parser parser;
  dom::element job;
  if (parser.parse(job_json.data(), job_json.size()).get(job) != simdjson::SUCCESS ||
      get_string(job, "kind") != "Job") {
    out.detail = "unparsable Job object";
    return out;
  }
  const PodView pod = read_pods(pods_json);
  dom::element status;
  const bool has_status = job["status"].get(status) == simdjson::SUCCESS;

  bool complete = false;
  bool failed = false;
  std::string reason;
  std::string message;
  dom::array conditions;
  if (has_status && status["conditions"].get_array().get(conditions) == simdjson::SUCCESS) {
    for (dom::element c : conditions) {
      if (get_string(c, "status") != "True") continue;
      const std::string type = get_string(c, "type");
      if (type == "Complete") {
        complete = true;
      } else if (type == "Failed") {
        failed = true;
        reason = get_string(c, "reason");
        message = get_string(c, "message");
      }
    }
  }
  if (complete) {
    out.state = RunState::kExited;
    out.exit_code = pod.exit_code.value_or(0);
    out.detail = "Complete";
    return out;
  }
  if (failed) {
    out.detail = "Failed";
    if (!reason.empty()) out.detail += ": " + reason;
    if (!message.empty()) out.detail += " (" + message + ")";
    if (pod.exit_code) {
      out.state = RunState::kExited;
      out.exit_code = pod.exit_code;
      if (!pod.terminated_reason.empty()) out.detail += "; container " + pod.terminated_reason;
    } else {
      // No container ever ended (deadline exceeded while pending, image never pulled, ...).
      out.state = RunState::kFailed;
      if (!pod.waiting_reason.empty()) out.detail += "; container waiting: " + pod.waiting_reason;
    }
    return out;
  }
  const std::int64_t active = has_status ? get_int(status, "active") : 0;
  const std::int64_t succeeded = has_status ? get_int(status, "succeeded") : 0;
  const std::int64_t failed_pods = has_status ? get_int(status, "failed") : 0;
  if (active > 0) {
    if (pod.found && (pod.phase == "Pending" || !pod.waiting_reason.empty())) {
      out.state = RunState::kStarting;
      out.detail = pod.waiting_reason.empty()
                       ? "pod Pending"
                       : "container waiting: " + pod.waiting_reason +
                             (pod.waiting_message.empty() ? std::string()
                                                          : " (" + pod.waiting_message + ")");
    } else {
      out.state = RunState::kRunning;
      out.detail = "active";
    }
    return out;
  }
  if (succeeded > 0) {
    out.state = RunState::kExited;
    out.exit_code = pod.exit_code.value_or(0);
    out.detail = "succeeded";
    return out;
  }
  if (failed_pods > 0) {
    // A pod failed and the Job controller has not decided yet (retry or Failed).
    out.state = RunState::kRunning;
    out.detail = "pod failed; awaiting the Job's verdict";
    return out;
  }
  out.state = RunState::kStarting;
  out.detail = "Job created, no pod yet";
  return out;
}

K8sLauncher::K8sLauncher(ClusterConfig cluster, K8sOptions options,
                         std::chrono::milliseconds request_timeout)
    : api_(std::move(cluster), request_timeout), options_(std::move(options)) {
  options_.validate();
}

std::string K8sLauncher::jobs_path() const {
  return "/apis/batch/v1/namespaces/" + options_.ns + "/jobs";
}

Result<std::string, std::string> K8sLauncher::start(const StageLaunch& launch) {
  const std::string name = job_name(launch);
  const std::string body = render_job(launch, options_);
  auto response = api_.request("POST", jobs_path(), body);
  if (!response) return unexpected("creating Job " + name + ": " + response.error());
  if (response->status == 409) {
    return unexpected("Job " + name + " already exists in namespace " + options_.ns + " (" +
                      status_message(response->body) + ")");
  }
  if (!http_ok(response->status)) {
    return unexpected("creating Job " + name + ": HTTP " + std::to_string(response->status) + " " +
                      status_message(response->body));
  }
  {
    std::lock_guard lock(mutex_);
    finished_.erase(name);
  }
  log::info("k8s-launcher", "job created",
            {{"job", name}, {"namespace", options_.ns}, {"queue_id", launch.queue_id}});
  return name;
}

RunStatus K8sLauncher::status(const std::string& handle) {
  {
    std::lock_guard lock(mutex_);
    if (auto it = finished_.find(handle); it != finished_.end()) return it->second;
  }
  auto job = api_.request("GET", jobs_path() + "/" + handle);
  if (!job) {
    return unknown_status("Job " + handle + ": " + job.error());
  }
  if (job->status == 404) {
    return unknown_status("Job " + handle + " not found in namespace " + options_.ns);
  }
  if (!http_ok(job->status)) {
    return unknown_status("Job " + handle + ": HTTP " + std::to_string(job->status) + " " +
                          status_message(job->body));
  }
  std::string pods_body;
  auto pods = api_.request(
      "GET", "/api/v1/namespaces/" + options_.ns + "/pods?labelSelector=job-name%3D" + handle);
  if (pods && http_ok(pods->status)) pods_body = std::move(pods->body);
  RunStatus result = job_run_status(job->body, pods_body);
  if (terminal(result)) {
    std::lock_guard lock(mutex_);
    finished_[handle] = result;
  }
  return result;
}

void K8sLauncher::stop(const std::string& handle) {
  auto response =
      api_.request("DELETE", jobs_path() + "/" + handle + "?propagationPolicy=Background");
  if (!response) {
    log::warn("k8s-launcher", "cannot delete job", {{"job", handle}, {"error", response.error()}});
    return;
  }
  if (http_ok(response->status) || response->status == 404) return;  // 404: already gone
  log::warn(
      "k8s-launcher", "cannot delete job",
      {{"job", handle}, {"status", response->status}, {"error", status_message(response->body)}});
}

std::unique_ptr<K8sLauncher> make_k8s_launcher(const EnvLookup& env, const InClusterPaths& paths) {
  auto cluster = load_cluster_config(env, paths);
  if (!cluster) throw std::invalid_argument(cluster.error());
  K8sOptions options = K8sOptions::from_env(env);
  if (!env("K8S_NAMESPACE") && !cluster->ns.empty()) {
    options.ns = cluster->ns;
    options.validate();
  }
  return std::make_unique<K8sLauncher>(std::move(*cluster), std::move(options));
}

}  // namespace sf::services::qm::k8s
