// K8sContract*: contract tests of the Kubernetes launcher's API calls. No cluster can run here, so
// a local fake API server (runtime::HttpServer, plain http) plays the API server: it checks each
// request against the Kubernetes API conventions (method, path, Content-Type, bearer token, a
// valid batch/v1 Job body whose namespace matches the path, the labels queue-manager relies on,
// propagationPolicy on delete, the pods label selector) and answers with responses shaped like
// the real ones (Job objects with status, Status objects for errors, PodLists with
// containerStatuses). Each check that fails is recorded and asserted empty at the end.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <thread>

#include "runtime/http_server.h"
#include "services/queue_manager/k8s/k8s_launcher.h"

namespace sf::services::qm::k8s {
namespace {

using runtime::HttpRequest;
using runtime::HttpResponse;
namespace dom = simdjson::dom;

std::string status_object(int code, const std::string& reason, const std::string& message,
                          const std::string& name = {}) {
  std::string details =
      name.empty() ? std::string()
                   : R"(,"details":{"name":")" + name + R"(","group":"batch","kind":"jobs"})";
  return R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":")" +
         message + R"(","reason":")" + reason + "\"" + details + R"(,"code":)" +
         std::to_string(code) + "}";
}

class FakeApiServer {
 public:
  explicit FakeApiServer(std::string token) : token_(std::move(token)) {
    const std::string jobs = "/apis/batch/v1/namespaces/{ns}/jobs";
    server_.route("POST", jobs, [this](const HttpRequest& r) { return create(r); });
    server_.route("GET", jobs + "/{name}", [this](const HttpRequest& r) { return get(r); });
    server_.route("DELETE", jobs + "/{name}", [this](const HttpRequest& r) { return remove(r); });
    server_.route("GET", "/api/v1/namespaces/{ns}/pods",
                  [this](const HttpRequest& r) { return pods(r); });
    auto started = server_.start();
    if (!started) throw std::runtime_error(started.error());
  }

  std::string url() const { return server_.base_url(); }

  // The Job's .status (JSON object) and its pods' .status (one JSON object per pod).
  void set_state(const std::string& name, std::string status, std::vector<std::string> pods) {
    std::lock_guard lock(mu_);
    auto& job = jobs_.at(name);
    job.status = std::move(status);
    job.pod_statuses = std::move(pods);
  }
  void forget(const std::string& name) {  // e.g. ttlSecondsAfterFinished removed it
    std::lock_guard lock(mu_);
    jobs_.erase(name);
  }
  bool has_job(const std::string& name) {
    std::lock_guard lock(mu_);
    return jobs_.contains(name);
  }
  std::string body_of(const std::string& name) {
    std::lock_guard lock(mu_);
    return jobs_.at(name).manifest;
  }
  std::vector<std::string> violations() {
    std::lock_guard lock(mu_);
    return violations_;
  }
  std::vector<std::string> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  struct Job {
    std::string ns;
    std::string manifest;  // as created, with the server's metadata
    std::string status = "{}";
    std::vector<std::string> pod_statuses;
  };

  void violation(const std::string& what) { violations_.push_back(what); }

  // Common checks; returns a 401 when the token is wrong, as the API server does.
  std::optional<HttpResponse> check_common(const HttpRequest& r) {
    requests_.push_back(r.method + " " + r.target);
    auto auth = r.header("Authorization");
    if (!auth || *auth != "Bearer " + token_) {
      return HttpResponse::json(401, status_object(401, "Unauthorized", "Unauthorized"));
    }
    auto accept = r.header("Accept");
    if (!accept || accept->find("application/json") == std::string_view::npos) {
      violation(r.method + " " + r.target + ": Accept is not application/json");
    }
    return std::nullopt;
  }

  HttpResponse create(const HttpRequest& r) {
    std::lock_guard lock(mu_);
    if (auto denied = check_common(r)) return *denied;
    const std::string ns(r.path_param("ns"));
    if (r.header("Content-Type").value_or("") != "application/json") {
      violation("POST: Content-Type " + std::string(r.header("Content-Type").value_or("none")));
      return HttpResponse::json(415, status_object(415, "UnsupportedMediaType", "bad type"));
    }
    if (!r.query.empty()) violation("POST: unexpected query " + r.target);
    dom::parser parser;
    dom::element job;
    if (parser.parse(r.body).get(job)) {
      violation("POST: body is not JSON");
      return HttpResponse::json(400, status_object(400, "BadRequest", "invalid JSON"));
    }
    auto text = [&](dom::element e, const char* key) {
      std::string_view v;
      return e[key].get_string().get(v) ? std::string() : std::string(v);
    };
    if (text(job, "apiVersion") != "batch/v1" || text(job, "kind") != "Job") {
      violation("POST: not a batch/v1 Job");
    }
    dom::element meta = job["metadata"];
    const std::string name = text(meta, "name");
    static const std::regex dns("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$");
    if (name.size() > 63 || !std::regex_match(name, dns)) violation("POST: bad name " + name);
    if (text(meta, "namespace") != ns) {
      violation("POST: body namespace '" + text(meta, "namespace") + "' != path '" + ns + "'");
      return HttpResponse::json(
          400, status_object(400, "BadRequest",
                             "the namespace of the provided object does not match the namespace "
                             "sent on the request"));
    }
    for (const char* label :
         {"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component",
          "app.kubernetes.io/part-of", "app.kubernetes.io/managed-by", "streamforge.io/queue-id"}) {
      if (meta["labels"][label].error()) violation(std::string("POST: label missing: ") + label);
    }
    dom::element pod = job["spec"]["template"]["spec"];
    if (text(pod, "restartPolicy") != "Never") violation("POST: restartPolicy is not Never");
    dom::array containers;
    if (pod["containers"].get_array().get(containers) || containers.size() == 0) {
      violation("POST: no containers");
    }
    if (jobs_.contains(name)) {
      return HttpResponse::json(
          409, status_object(409, "AlreadyExists", "jobs.batch \\\"" + name + "\\\" already exists",
                             name));
    }
    // The API server echoes the object with its own metadata and an empty status.
    std::string stored = r.body;
    const int uid = ++uid_;
    const std::string meta_key = "\"metadata\":{";
    stored.insert(stored.find(meta_key) + meta_key.size(),
                  R"("uid":"0f6b2c1e-0000-4000-8000-)" + std::to_string(100000000000 + uid) +
                      R"(","resourceVersion":")" + std::to_string(uid) +
                      R"(","generation":1,"creationTimestamp":"2026-11-28T10:00:00Z",)");
    jobs_[name] = Job{.ns = ns, .manifest = stored, .status = "{}", .pod_statuses = {}};
    return HttpResponse::json(201, with_status(stored, "{}"));
  }

  static std::string with_status(std::string manifest, const std::string& status) {
    manifest.pop_back();  // the closing brace
    return manifest + ",\"status\":" + status + "}";
  }

  Job* find(const HttpRequest& r) {
    auto it = jobs_.find(std::string(r.path_param("name")));
    if (it == jobs_.end() || it->second.ns != r.path_param("ns")) return nullptr;
    return &it->second;
  }

  HttpResponse not_found(const std::string& name) {
    return HttpResponse::json(
        404, status_object(404, "NotFound", "jobs.batch \\\"" + name + "\\\" not found", name));
  }

  HttpResponse get(const HttpRequest& r) {
    std::lock_guard lock(mu_);
    if (auto denied = check_common(r)) return *denied;
    if (!r.body.empty()) violation("GET with a body");
    Job* job = find(r);
    if (!job) return not_found(std::string(r.path_param("name")));
    return HttpResponse::json(200, with_status(job->manifest, job->status));
  }

  HttpResponse remove(const HttpRequest& r) {
    std::lock_guard lock(mu_);
    if (auto denied = check_common(r)) return *denied;
    if (r.query_param("propagationPolicy").value_or("") != "Background") {
      // Without it the Job's pods would be orphaned (batch/v1's default is orphan).
      violation("DELETE without propagationPolicy=Background: " + r.target);
    }
    const std::string name(r.path_param("name"));
    Job* job = find(r);
    if (!job) return not_found(name);
    std::string deleted = job->manifest;
    const std::string meta_key = "\"metadata\":{";
    deleted.insert(deleted.find(meta_key) + meta_key.size(),
                   R"("deletionTimestamp":"2026-11-28T10:05:00Z",)");
    std::string body = with_status(deleted, job->status);
    jobs_.erase(name);
    return HttpResponse::json(200, body);
  }

  HttpResponse pods(const HttpRequest& r) {
    std::lock_guard lock(mu_);
    if (auto denied = check_common(r)) return *denied;
    const std::string selector(r.query_param("labelSelector").value_or(""));
    if (selector.rfind("job-name=", 0) != 0) {
      violation("pods listed without a job-name selector: " + r.target);
    }
    const std::string name = selector.substr(std::min<std::size_t>(selector.size(), 9));
    std::string items;
    auto it = jobs_.find(name);
    if (it != jobs_.end()) {
      int i = 0;
      for (const auto& status : it->second.pod_statuses) {
        if (!items.empty()) items += ",";
        items += R"({"metadata":{"name":")" + name + "-" + std::to_string(10000 + i) +
                 R"(","namespace":")" + it->second.ns +
                 R"(","creationTimestamp":"2026-11-28T10:00:0)" + std::to_string(i) +
                 R"(Z","labels":{"job-name":")" + name + R"(","batch.kubernetes.io/job-name":")" +
                 name + R"("}},"spec":{"containers":[{"name":"streamforge"}]},"status":)" + status +
                 "}";
        ++i;
      }
    }
    return HttpResponse::json(
        200,
        R"({"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"42"},"items":[)" +
            items + "]}");
  }

  runtime::HttpServer server_;
  std::string token_;
  std::mutex mu_;
  std::map<std::string, Job> jobs_;
  std::vector<std::string> violations_;
  std::vector<std::string> requests_;
  int uid_ = 0;
};

// Pod statuses as the kubelet reports them.
std::string running_pod() {
  return R"({"phase":"Running","containerStatuses":[{"name":"streamforge","ready":true,)"
         R"("restartCount":0,"image":"streamforge:latest","state":{"running":)"
         R"({"startedAt":"2026-11-28T10:00:05Z"}}}]})";
}
std::string terminated_pod(int code, const char* phase, const char* reason) {
  return std::string(R"({"phase":")") + phase +
         R"(","containerStatuses":[{"name":"streamforge","ready":false,"restartCount":0,)"
         R"("image":"streamforge:latest","state":{"terminated":{"exitCode":)" +
         std::to_string(code) + R"(,"reason":")" + reason +
         R"(","startedAt":"2026-11-28T10:00:05Z","finishedAt":"2026-11-28T10:01:05Z"}}}]})";
}
std::string waiting_pod(const char* reason) {
  return std::string(R"({"phase":"Pending","containerStatuses":[{"name":"streamforge",)"
                     R"("ready":false,"restartCount":0,"image":"streamforge:nope",)"
                     R"("state":{"waiting":{"reason":")") +
         reason + R"(","message":"Back-off pulling image"}}}]})";
}

StageLaunch stage(std::string queue_id, std::string stage_name, std::string service) {
  StageLaunch l;
  l.queue_id = std::move(queue_id);
  l.stage = std::move(stage_name);
  l.service = std::move(service);
  l.env = {{"QUEUE_ID", l.queue_id}, {"ARANGO_PASSWORD", "pw"}};
  return l;
}

class K8sContract : public ::testing::Test {
 protected:
  void SetUp() override { api_ = std::make_unique<FakeApiServer>("contract-token"); }
  void TearDown() override {
    if (api_) {
      EXPECT_EQ(api_->violations(), std::vector<std::string>{});
    }
  }
  std::unique_ptr<K8sLauncher> launcher(std::string token = "contract-token",
                                        std::string ns = "stf") {
    ClusterConfig config;
    config.server = api_->url();
    config.token = std::move(token);
    K8sOptions options;
    options.ns = std::move(ns);
    return std::make_unique<K8sLauncher>(config, options, std::chrono::seconds(5));
  }
  std::unique_ptr<FakeApiServer> api_;
};

TEST_F(K8sContract, StartRunningCompleteExitZero) {
  auto k8s = launcher();
  EXPECT_EQ(k8s->kind(), "kubernetes");
  auto handle = k8s->start(stage("hl-1", "load-candles", "loader-producer"));
  ASSERT_TRUE(handle) << handle.error();
  EXPECT_EQ(*handle, "sf-hl-1-load-candles-1");
  EXPECT_TRUE(api_->has_job(*handle));
  // The password went as a secretKeyRef, never as text.
  EXPECT_EQ(api_->body_of(*handle).find("\"pw\""), std::string::npos);

  RunStatus s = k8s->status(*handle);
  EXPECT_EQ(s.state, RunState::kStarting) << s.detail;

  api_->set_state(*handle, R"({"active":1,"ready":1,"startTime":"2026-11-28T10:00:01Z"})",
                  {running_pod()});
  s = k8s->status(*handle);
  EXPECT_EQ(s.state, RunState::kRunning) << s.detail;
  EXPECT_FALSE(s.exit_code.has_value());

  api_->set_state(
      *handle,
      R"({"succeeded":1,"ready":0,"startTime":"2026-11-28T10:00:01Z",)"
      R"("completionTime":"2026-11-28T10:01:06Z","conditions":[)"
      R"({"type":"SuccessCriteriaMet","status":"True"},)"
      R"({"type":"Complete","status":"True","lastTransitionTime":"2026-11-28T10:01:06Z"}]})",
      {terminated_pod(0, "Succeeded", "Completed")});
  s = k8s->status(*handle);
  EXPECT_EQ(s.state, RunState::kExited) << s.detail;
  ASSERT_TRUE(s.exit_code.has_value());
  EXPECT_EQ(*s.exit_code, 0);

  // ttlSecondsAfterFinished removes the Job: the launcher still knows how it ended.
  api_->forget(*handle);
  s = k8s->status(*handle);
  EXPECT_EQ(s.state, RunState::kExited);
  EXPECT_EQ(s.exit_code, 0);

  const auto requests = api_->requests();
  EXPECT_NE(std::find(requests.begin(), requests.end(),
                      "GET /api/v1/namespaces/stf/pods?labelSelector=job-name%3D" + *handle),
            requests.end());
  EXPECT_EQ(requests.front(), "POST /apis/batch/v1/namespaces/stf/jobs");
}

TEST_F(K8sContract, FailedJobReportsTheContainersExitCode) {
  auto k8s = launcher();
  auto handle = k8s->start(stage("hl-2", "persist", "arango-connector"));
  ASSERT_TRUE(handle) << handle.error();
  // A pod failed, the controller has not concluded yet.
  api_->set_state(*handle, R"({"failed":1,"ready":0})", {terminated_pod(3, "Failed", "Error")});
  RunStatus s = k8s->status(*handle);
  EXPECT_EQ(s.state, RunState::kRunning) << s.detail;

  api_->set_state(*handle,
                  R"({"failed":1,"ready":0,"conditions":[)"
                  R"({"type":"FailureTarget","status":"True","reason":"BackoffLimitExceeded"},)"
                  R"({"type":"Failed","status":"True","reason":"BackoffLimitExceeded",)"
                  R"("message":"Job has reached the specified backoff limit"}]})",
                  {terminated_pod(3, "Failed", "Error")});
  s = k8s->status(*handle);
  EXPECT_EQ(s.state, RunState::kExited) << s.detail;
  ASSERT_TRUE(s.exit_code.has_value());
  EXPECT_EQ(*s.exit_code, 3);
  EXPECT_NE(s.detail.find("BackoffLimitExceeded"), std::string::npos) << s.detail;
}

TEST_F(K8sContract, PendingThenDeadlineExceededWithoutExitCodeIsFailed) {
  auto k8s = launcher();
  auto handle = k8s->start(stage("hl-3", "train", "gnn-trainer"));
  ASSERT_TRUE(handle) << handle.error();
  api_->set_state(*handle, R"({"active":1,"ready":0})", {waiting_pod("ImagePullBackOff")});
  RunStatus s = k8s->status(*handle);
  EXPECT_EQ(s.state, RunState::kStarting) << s.detail;
  EXPECT_NE(s.detail.find("ImagePullBackOff"), std::string::npos) << s.detail;

  api_->set_state(*handle,
                  R"({"failed":1,"conditions":[{"type":"Failed","status":"True",)"
                  R"("reason":"DeadlineExceeded","message":"Job was active longer than )"
                  R"(specified deadline"}]})",
                  {});
  s = k8s->status(*handle);
  EXPECT_EQ(s.state, RunState::kFailed) << s.detail;
  EXPECT_FALSE(s.exit_code.has_value());
  EXPECT_NE(s.detail.find("DeadlineExceeded"), std::string::npos) << s.detail;
}

TEST_F(K8sContract, AlreadyExistsIsAnErrorNamingTheJob) {
  auto k8s = launcher();
  auto l = stage("hl-4", "load", "loader-producer");
  ASSERT_TRUE(k8s->start(l));
  auto again = k8s->start(l);
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().find("sf-hl-4-load-1"), std::string::npos) << again.error();
  EXPECT_NE(again.error().find("already exists"), std::string::npos) << again.error();
  EXPECT_NE(again.error().find("AlreadyExists"), std::string::npos) << again.error();
  // The next attempt is a different Job.
  l.attempt = 2;
  auto retry = k8s->start(l);
  ASSERT_TRUE(retry) << retry.error();
  EXPECT_EQ(*retry, "sf-hl-4-load-2");
}

TEST_F(K8sContract, StopDeletesInTheBackgroundAndIsIdempotent) {
  auto k8s = launcher();
  auto handle = k8s->start(stage("hl-5", "load", "loader-producer"));
  ASSERT_TRUE(handle);
  k8s->stop(*handle);
  EXPECT_FALSE(api_->has_job(*handle));
  k8s->stop(*handle);  // 404 now: fine
  k8s->stop("sf-never-existed-1");
  RunStatus s = k8s->status(*handle);
  EXPECT_EQ(s.state, RunState::kUnknown);
  EXPECT_NE(s.detail.find("not found"), std::string::npos) << s.detail;
  int deletes = 0;
  for (const auto& r : api_->requests()) {
    if (r.rfind("DELETE ", 0) == 0) {
      ++deletes;
      EXPECT_NE(r.find("?propagationPolicy=Background"), std::string::npos) << r;
    }
  }
  EXPECT_EQ(deletes, 3);
}

TEST_F(K8sContract, BearerTokenIsSentAndAWrongOneIsReported) {
  auto wrong = launcher("not-the-token");
  auto denied = wrong->start(stage("hl-6", "load", "loader-producer"));
  ASSERT_FALSE(denied);
  EXPECT_NE(denied.error().find("401"), std::string::npos) << denied.error();
  EXPECT_NE(denied.error().find("Unauthorized"), std::string::npos) << denied.error();
  EXPECT_EQ(wrong->status("sf-hl-6-load-1").state, RunState::kUnknown);
  // The right one works (the fake answers 401 to any request without it).
  auto ok = launcher()->start(stage("hl-6", "load", "loader-producer"));
  EXPECT_TRUE(ok) << ok.error();
}

TEST_F(K8sContract, NamespaceInPathAndBodyAgree) {
  auto k8s = launcher("contract-token", "data-plane");
  auto handle = k8s->start(stage("hl-7", "load", "loader-producer"));
  ASSERT_TRUE(handle) << handle.error();
  EXPECT_EQ(api_->requests().back(), "POST /apis/batch/v1/namespaces/data-plane/jobs");
  EXPECT_EQ(k8s->status(*handle).state, RunState::kStarting);
}

TEST_F(K8sContract, UnreachableApiServerIsAnErrorNotACrash) {
  auto k8s = launcher();
  // Destroyed rather than stop()ped: HttpServer::stop() can leave the listening socket open until
  // destruction (connections would then be accepted by the kernel and never answered).
  EXPECT_TRUE(api_->violations().empty());
  api_.reset();
  const auto t1 = std::chrono::steady_clock::now();
  auto r = k8s->start(stage("hl-8", "load", "loader-producer"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("sf-hl-8-load-1"), std::string::npos) << r.error();
  EXPECT_EQ(k8s->status("sf-hl-8-load-1").state, RunState::kUnknown);
  k8s->stop("sf-hl-8-load-1");
  // Refused at once, not left to the 5 s request timeout.
  EXPECT_LT(std::chrono::steady_clock::now() - t1, std::chrono::seconds(4));
}

TEST_F(K8sContract, LauncherFromKubeconfigUsesItsServerTokenAndNamespace) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("sf-k8s-contract-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = (dir / "kubeconfig").string();
  std::ofstream(path) << "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n"
                         "    server: "
                      << api_->url()
                      << "\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n"
                         "    user: qm\n    namespace: from-kubeconfig\n"
                         "current-context: fake\nusers:\n- name: qm\n  user:\n"
                         "    token: contract-token\n";
  std::map<std::string, std::string> vars = {{"KUBECONFIG", path},
                                             {"STREAMFORGE_IMAGE", "sf:test"}};
  auto k8s = make_k8s_launcher([&](const std::string& k) -> std::optional<std::string> {
    auto it = vars.find(k);
    return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
  });
  EXPECT_EQ(k8s->options().ns, "from-kubeconfig");
  auto handle = k8s->start(stage("hl-9", "load", "loader-producer"));
  ASSERT_TRUE(handle) << handle.error();
  EXPECT_NE(api_->body_of(*handle).find("\"image\":\"sf:test\""), std::string::npos);
  std::filesystem::remove_all(dir);
}

// The https path against `openssl s_server -www` (a TLS server that answers any GET with a 200
// page): the handshake, certificate verification against certificate-authority-data, and the host
// check (the certificate names IP 127.0.0.1). Skips without the openssl binary.
TEST(K8sContractTls, HttpsVerifiesTheClusterCa) {
  if (std::system("command -v openssl >/dev/null 2>&1") != 0) GTEST_SKIP() << "no openssl binary";
  const auto dir =
      std::filesystem::temp_directory_path() / ("sf-k8s-tls-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string key = (dir / "key.pem").string();
  const std::string cert = (dir / "cert.pem").string();
  ASSERT_EQ(
      std::system(("openssl req -x509 -newkey rsa:2048 -nodes -keyout '" + key + "' -out '" + cert +
                   "' -subj /CN=apiserver -addext subjectAltName=IP:127.0.0.1 -days 1 "
                   ">/dev/null 2>&1")
                      .c_str()),
      0);
  // A free port: bind to 0, read it, release it.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);
  ::close(fd);
  const std::string accept = "127.0.0.1:" + std::to_string(port);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 1);
    ::dup2(devnull, 2);
    ::execlp("openssl", "openssl", "s_server", "-quiet", "-key", key.c_str(), "-cert", cert.c_str(),
             "-accept", accept.c_str(), "-www", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  std::ifstream in(cert);
  std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ClusterConfig config;
  config.server = "https://127.0.0.1:" + std::to_string(port);
  config.ca_pem = pem;
  config.token = "t";
  ApiClient client(config, std::chrono::seconds(5));
  Result<ApiResponse, std::string> response = unexpected(std::string("not tried"));
  for (int i = 0; i < 100; ++i) {  // until s_server listens (up to 10 s)
    response = client.request("GET", "/version");
    if (response) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(response) << response.error();
  EXPECT_EQ(response->status, 200);

  // The certificate names 127.0.0.1, not "localhost": the host check refuses it.
  ClusterConfig wrong_host = config;
  wrong_host.server = "https://localhost:" + std::to_string(port);
  auto mismatch = ApiClient(wrong_host, std::chrono::seconds(5)).request("GET", "/version");
  ASSERT_FALSE(mismatch);
  EXPECT_NE(mismatch.error().find("TLS handshake"), std::string::npos) << mismatch.error();

  // The system store does not trust that self-signed certificate.
  ClusterConfig untrusted = config;
  untrusted.ca_pem.clear();
  auto refused = ApiClient(untrusted, std::chrono::seconds(5)).request("GET", "/version");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().find("TLS handshake"), std::string::npos) << refused.error();
  // ... unless verification is switched off.
  untrusted.insecure_skip_tls_verify = true;
  auto insecure = ApiClient(untrusted, std::chrono::seconds(5)).request("GET", "/version");
  EXPECT_TRUE(insecure) << insecure.error();

  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
  std::filesystem::remove_all(dir);
}

TEST(K8sApiClient, ConfigurationErrorsThrow) {
  ClusterConfig c;
  c.server = "ftp://example.com";
  EXPECT_THROW(ApiClient{c}, std::invalid_argument);
  c.server = "https://127.0.0.1:6443";
  c.ca_file = "/nonexistent/ca.crt";
  EXPECT_THROW(ApiClient{c}, std::invalid_argument);
  c.ca_file.clear();
  c.ca_pem = "not a certificate";
  EXPECT_THROW(ApiClient{c}, std::invalid_argument);
}

TEST(K8sStatusMapping, JobObjectsToRunStates) {
  EXPECT_EQ(job_run_status("not json", "").state, RunState::kUnknown);
  EXPECT_EQ(job_run_status(R"({"kind":"Job","status":{}})", "").state, RunState::kStarting);
  EXPECT_EQ(job_run_status(R"({"kind":"Job"})", "").state, RunState::kStarting);
  EXPECT_EQ(job_run_status(R"({"kind":"Job","status":{"active":1}})", "").state,
            RunState::kRunning);
  auto done = job_run_status(
      R"({"kind":"Job","status":{"succeeded":1,"conditions":[{"type":"Complete","status":"True"}]}})",
      "");
  EXPECT_EQ(done.state, RunState::kExited);
  EXPECT_EQ(done.exit_code, 0);
  // A condition with status False does not count.
  EXPECT_EQ(
      job_run_status(
          R"({"kind":"Job","status":{"active":1,"conditions":[{"type":"Failed","status":"False"}]}})",
          "")
          .state,
      RunState::kRunning);
  EXPECT_EQ(status_message(status_object(404, "NotFound", "gone")), "NotFound: gone");
  EXPECT_EQ(status_message("plain text"), "plain text");
}

}  // namespace
}  // namespace sf::services::qm::k8s
