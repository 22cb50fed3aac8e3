// Offline schema validation of generated Job manifests: no cluster can run here, so the manifests
// are checked against the Kubernetes OpenAPI schemas (as JSON Schema, strict: unknown fields are
// rejected wherever Kubernetes' schema closes an object) with the `kubernetes-validate` PyPI
// package, which bundles those schemas for Kubernetes 1.25 .. 1.37 and runs offline.
// scripts/install-test-python.sh installs it into the test venv; without it these tests skip.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "services/queue_manager/k8s/manifest.h"

namespace sf::services::qm::k8s {
namespace {

// The validator from the test venv (SF_PY_VENV or ~/.cache/streamforge/venv), else from PATH.
std::string validator() {
  std::string venv;
  if (const char* configured = std::getenv("SF_PY_VENV")) {
    venv = configured;
  } else if (const char* home = std::getenv("HOME")) {
    venv = std::string(home) + "/.cache/streamforge/venv";
  }
  if (!venv.empty() && access((venv + "/bin/kubernetes-validate").c_str(), X_OK) == 0) {
    return venv + "/bin/kubernetes-validate";
  }
  if (std::system("command -v kubernetes-validate >/dev/null 2>&1") == 0) {
    return "kubernetes-validate";
  }
  return {};
}

struct RunResult {
  int rc = -1;
  std::string output;
};

RunResult run(const std::string& command) {
  RunResult r;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return r;
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) r.output.append(buf.data(), n);
  int status = pclose(pipe);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

class K8sManifestSchema : public ::testing::Test {
 protected:
  void SetUp() override {
    tool_ = validator();
    if (tool_.empty()) {
      GTEST_SKIP() << "kubernetes-validate not installed (run scripts/install-test-python.sh): "
                      "Job manifests not validated against the Kubernetes OpenAPI schema";
    }
    dir_ = std::filesystem::temp_directory_path() /
           ("sf-k8s-schema-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  std::string write(const std::string& name, const std::string& text) {
    auto path = dir_ / name;
    std::ofstream(path) << text;
    return path.string();
  }

  // Strict validation of all `files` against one Kubernetes version.
  RunResult validate(const std::vector<std::string>& files, const std::string& version) {
    std::string cmd = "'" + tool_ + "' --strict --no-warn -k " + version;
    for (const auto& f : files) cmd += " '" + f + "'";
    return run(cmd);
  }

  std::string tool_;
  std::filesystem::path dir_;
};

StageLaunch make(std::string queue_id, std::string stage, std::string service) {
  StageLaunch l;
  l.queue_id = std::move(queue_id);
  l.stage = std::move(stage);
  l.service = std::move(service);
  l.env = {{"QUEUE_ID", l.queue_id},
           {"KAFKA_BOOTSTRAP_SERVERS", "kafka:9092"},
           {"TELEMETRY_PRODUCER_ID", l.stage}};
  return l;
}

TEST_F(K8sManifestSchema, GeneratedJobsValidateStrictlyAgainstOldestAndNewestSchemas) {
  std::vector<std::string> files;
  auto add = [&](const std::string& tag, const StageLaunch& l, const K8sOptions& o) {
    files.push_back(write(tag + ".json", render_job(l, o, ManifestFormat::kPrettyJson)));
    files.push_back(write(tag + ".yaml", render_job(l, o, ManifestFormat::kYaml)));
  };

  K8sOptions defaults;
  auto loader = make("hl-btcusdt-20200701-ab12", "load-candles", "loader-producer");
  loader.env["SYMBOL"] = "BTCUSDT";
  loader.env["TIME_RANGE"] = "2020-07-01:2020-07-10";
  add("loader-producer", loader, defaults);

  K8sOptions secrets;
  secrets.secret = "sf-db-credentials";
  secrets.cpu_request = "250m";
  secrets.memory_request = "256Mi";
  secrets.cpu_limit = "1";
  secrets.memory_limit = "1Gi";
  secrets.node_selector = {{"kubernetes.io/os", "linux"}, {"pool", "io"}};
  secrets.service_account = "streamforge-worker";
  secrets.active_deadline_seconds = 86400;
  secrets.image_pull_policy = "IfNotPresent";
  secrets.image = "registry.example.com/streamforge:1.0.0";
  auto connector = make("hl-btcusdt-20200701-ab12", "persist-candles", "arango-connector");
  connector.env["ARANGO_PASSWORD"] = "s3cret";
  connector.env["KAFKA_PASSWORD"] = "s3cret";
  connector.env["POSTGRES_DSN"] = "postgresql://sf:s3cret@pg/sf";
  connector.env["ARANGO_URL"] = "http://arangodb:8529";
  add("arango-connector", connector, secrets);

  K8sOptions gpu;
  gpu.gpu_count = 2;
  gpu.memory_limit = "16Gi";
  gpu.automount_service_account_token = true;
  add("gnn-trainer", make("gnn-q1", "train", "gnn-trainer"), gpu);

  K8sOptions bare;
  bare.config_map.clear();
  bare.ttl_seconds_after_finished.reset();
  auto long_id =
      make(std::string(120, 'Q') + "_With.Odd/Chars", "Stage With Spaces", "dummy-service");
  long_id.env["NOTE"] = "multi\nline: \"quoted\" # hash";
  long_id.attempt = 12;
  add("long-queue-id", long_id, bare);

  // The multi-document `--dry-run` output of a whole workflow: two Jobs in one file.
  std::size_t resources = files.size() + 2;
  files.push_back(write("workflow.yaml", render_jobs({loader, connector}, secrets)));

  for (const std::string version : {"1.25.0", "1.37.0"}) {
    RunResult r = validate(files, version);
    EXPECT_EQ(r.rc, 0) << "Kubernetes " << version << ":\n" << r.output;
    // Every file was checked and passed (kubernetes-validate prints one line per resource).
    std::size_t passed = 0;
    for (std::size_t at = r.output.find("passed"); at != std::string::npos;
         at = r.output.find("passed", at + 1)) {
      ++passed;
    }
    EXPECT_EQ(passed, resources) << r.output;
  }
}

// The validator really is strict: a misspelt field and a wrong type are rejected, so a pass above
// means something.
TEST_F(K8sManifestSchema, ValidatorRejectsUnknownFieldsAndWrongTypes) {
  const std::string good = render_job(make("q", "s", "dummy-service"), K8sOptions{});
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string text = good;
    auto at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) text.replace(at, from.size(), to);
    return text;
  };
  const std::string unknown = write(
      "unknown.json",
      replaced("\"restartPolicy\":\"Never\"", "\"restartPolicy\":\"Never\",\"restartPolcy\":1"));
  const std::string wrong_type =
      write("wrong-type.json", replaced("\"backoffLimit\":0", "\"backoffLimit\":\"0\""));
  const std::string ok = write("ok.json", good);

  EXPECT_EQ(validate({ok}, "1.37.0").rc, 0);
  RunResult r1 = validate({unknown}, "1.37.0");
  EXPECT_NE(r1.rc, 0) << r1.output;
  EXPECT_NE(r1.output.find("restartPolcy"), std::string::npos) << r1.output;
  RunResult r2 = validate({wrong_type}, "1.37.0");
  EXPECT_NE(r2.rc, 0) << r2.output;
  EXPECT_NE(r2.output.find("backoffLimit"), std::string::npos) << r2.output;
}

// The shipped deployment manifests (RBAC, queue-manager Deployment) are valid as well.
TEST_F(K8sManifestSchema, DeployManifestsValidate) {
  const std::string dir = std::string(SF_REPO_ROOT) + "/deploy/k8s/";
  RunResult r = validate({dir + "rbac.yaml", dir + "queue-manager.yaml"}, "1.37.0");
  EXPECT_EQ(r.rc, 0) << r.output;
  for (const char* resource : {"serviceaccount/queue-manager", "role/queue-manager-jobs",
                               "rolebinding/queue-manager-jobs", "deployment/queue-manager"}) {
    EXPECT_NE(r.output.find(std::string(resource) + " against"), std::string::npos)
        << resource << "\n"
        << r.output;
  }
}

}  // namespace
}  // namespace sf::services::qm::k8s
