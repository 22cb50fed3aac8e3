// Job manifest generation: names, labels, secrets, resources, GPU, rendering.
#include "services/queue_manager/k8s/manifest.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <map>
#include <regex>
#include <stdexcept>

namespace sf::services::qm::k8s {
namespace {

namespace dom = simdjson::dom;

StageLaunch launch(std::string queue_id, std::string stage, std::string service, int attempt = 1) {
  StageLaunch l;
  l.queue_id = std::move(queue_id);
  l.stage = std::move(stage);
  l.service = std::move(service);
  l.attempt = attempt;
  l.env = {{"QUEUE_ID", l.queue_id}, {"SYMBOL", "BTCUSDT"}, {"TYPE", "api_candles_5m"}};
  return l;
}

bool dns_label(const std::string& s) {
  static const std::regex re("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$");
  return s.size() <= 63 && std::regex_match(s, re);
}

bool label_value_ok(const std::string& s) {
  static const std::regex re("^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$");
  return s.size() <= 63 && std::regex_match(s, re);
}

TEST(K8sManifest, JobNameIsTheDocumentedScheme) {
  EXPECT_EQ(job_name(launch("hl-btcusdt-20200701-ab12", "load-candles", "loader-producer", 2)),
            "sf-hl-btcusdt-20200701-ab12-load-candles-2");
}

TEST(K8sManifest, JobNameSanitisesToDns1123) {
  const std::string name = job_name(launch("Q_1..BTC/USDT", "Load Candles!", "x", 1));
  EXPECT_EQ(name, "sf-q-1-btc-usdt-load-candles-1");
  EXPECT_TRUE(dns_label(name)) << name;
  EXPECT_TRUE(dns_label(job_name(launch("-", "-", "x", 3)))) << job_name(launch("-", "-", "x", 3));
}

TEST(K8sManifest, LongNamesAreCutWithADistinguishingHash) {
  const std::string q(100, 'q');
  const std::string a = job_name(launch(q + "a", "persist", "arango-connector", 1));
  const std::string b = job_name(launch(q + "b", "persist", "arango-connector", 1));
  EXPECT_EQ(a.size(), 63u);
  EXPECT_TRUE(dns_label(a)) << a;
  EXPECT_TRUE(dns_label(b)) << b;
  EXPECT_NE(a, b);
  EXPECT_EQ(a.substr(0, 10), "sf-qqqqqqq");
  // Deterministic: the same launch always names the same Job.
  EXPECT_EQ(a, job_name(launch(q + "a", "persist", "arango-connector", 1)));
  // A cut that lands on '-' does not leave "--" or a trailing '-'.
  const std::string dashy = job_name(launch(std::string(50, 'a') + "------------x", "s", "x", 1));
  EXPECT_TRUE(dns_label(dashy)) << dashy;
}

TEST(K8sManifest, LabelValuesAreValid) {
  EXPECT_EQ(label_value("hl-BTCUSDT_2020.07"), "hl-BTCUSDT_2020.07");
  EXPECT_EQ(label_value("a b/c"), "a-b-c");
  EXPECT_EQ(label_value("--x--"), "x");
  EXPECT_EQ(label_value("___"), "");
  const std::string longv = label_value(std::string(80, 'z') + "/");
  EXPECT_LE(longv.size(), 63u);
  EXPECT_TRUE(label_value_ok(longv)) << longv;
  EXPECT_NE(label_value(std::string(80, 'z') + "1"), label_value(std::string(80, 'z') + "2"));
}

struct Parsed {
  dom::parser parser;
  dom::element root;
  explicit Parsed(const std::string& json) {
    auto err = parser.parse(json).get(root);
    if (err) throw std::runtime_error(std::string("bad JSON: ") + simdjson::error_message(err));
  }
};

std::string str(dom::element e) {
  return std::string(std::string_view(e));
}

TEST(K8sManifest, JobHasTheRequiredShape) {
  K8sOptions options;
  auto l = launch("hl-1", "load-candles", "loader-producer");
  Parsed p(render_job(l, options));
  auto job = p.root;
  EXPECT_EQ(str(job["apiVersion"]), "batch/v1");
  EXPECT_EQ(str(job["kind"]), "Job");
  EXPECT_EQ(str(job["metadata"]["name"]), "sf-hl-1-load-candles-1");
  EXPECT_EQ(str(job["metadata"]["namespace"]), "stf");
  auto labels = job["metadata"]["labels"];
  EXPECT_EQ(str(labels["app.kubernetes.io/name"]), "loader-producer");
  EXPECT_EQ(str(labels["app.kubernetes.io/instance"]), "sf-hl-1-load-candles-1");
  EXPECT_EQ(str(labels["app.kubernetes.io/component"]), "load-candles");
  EXPECT_EQ(str(labels["app.kubernetes.io/part-of"]), "streamforge");
  EXPECT_EQ(str(labels["app.kubernetes.io/managed-by"]), "queue-manager");
  EXPECT_EQ(str(labels["streamforge.io/queue-id"]), "hl-1");
  EXPECT_EQ(int64_t(job["spec"]["backoffLimit"]), 0);
  EXPECT_EQ(int64_t(job["spec"]["ttlSecondsAfterFinished"]), 3600);
  EXPECT_TRUE(job["spec"]["activeDeadlineSeconds"].error());
  auto pod = job["spec"]["template"]["spec"];
  EXPECT_EQ(str(pod["restartPolicy"]), "Never");
  EXPECT_EQ(str(job["spec"]["template"]["metadata"]["labels"]["streamforge.io/queue-id"]), "hl-1");
  dom::array containers = pod["containers"];
  ASSERT_EQ(containers.size(), 1u);
  auto c = containers.at(0);
  EXPECT_EQ(str(c["name"]), "streamforge");
  EXPECT_EQ(str(c["image"]), "streamforge:latest");
  dom::array args = c["args"];
  ASSERT_EQ(args.size(), 1u);
  EXPECT_EQ(str(args.at(0)), "loader-producer");
  // Env sorted by name.
  std::vector<std::string> names;
  for (auto e : dom::array(c["env"])) names.push_back(str(e["name"]));
  EXPECT_EQ(names, (std::vector<std::string>{"QUEUE_ID", "SYMBOL", "TYPE"}));
  // The ConfigMap whole; never the whole Secret (least privilege: secretKeyRef per credential).
  dom::array env_from = c["envFrom"];
  ASSERT_EQ(env_from.size(), 1u);
  EXPECT_EQ(str(env_from.at(0)["configMapRef"]["name"]), "streamforge-config");
  EXPECT_TRUE(c["resources"].error());  // none configured
  EXPECT_TRUE(pod["nodeSelector"].error());
}

TEST(K8sManifest, PasswordsNeverAppearInPlainEnv) {
  K8sOptions options;
  options.secret = "sf-creds";
  auto l = launch("q", "persist", "arango-connector");
  l.env["KAFKA_PASSWORD"] = "hunter2-kafka";
  l.env["ARANGO_PASSWORD"] = "hunter2-arango";
  l.env["POSTGRES_DSN"] = "postgresql://u:hunter2-pg@db/sf";
  l.env["SF_API_TOKEN"] = "hunter2-token";
  l.env["ARANGO_USER"] = "root";
  for (auto format :
       {ManifestFormat::kCompactJson, ManifestFormat::kPrettyJson, ManifestFormat::kYaml}) {
    const std::string text = render_job(l, options, format);
    EXPECT_EQ(text.find("hunter2"), std::string::npos) << text;
  }
  Parsed p(render_job(l, options));
  int refs = 0;
  for (auto e : dom::array(p.root["spec"]["template"]["spec"]["containers"].at(0)["env"])) {
    const std::string name = str(e["name"]);
    if (name == "ARANGO_USER") {
      EXPECT_EQ(str(e["value"]), "root");
      continue;
    }
    if (name == "QUEUE_ID" || name == "SYMBOL" || name == "TYPE") continue;
    EXPECT_TRUE(e["value"].error()) << name;
    EXPECT_EQ(str(e["valueFrom"]["secretKeyRef"]["name"]), "sf-creds") << name;
    EXPECT_EQ(str(e["valueFrom"]["secretKeyRef"]["key"]), name);
    ++refs;
  }
  EXPECT_EQ(refs, 4);
}

// The stage's secret names become references; so does anything secret by name or by value that
// reached the env (BINANCE_API_KEY, MINIO_SECRET_KEY and a store URL with a password were plain
// values before the central rule).
TEST(K8sManifest, StageSecretsAndSecretValuesBecomeReferences) {
  auto l = launch("q", "load", "loader-producer");
  l.secrets = {"BINANCE_API_KEY", "KAFKA_PASSWORD"};
  l.env["MINIO_SECRET_KEY"] = "hunter2-minio";
  l.env["SF_STORE"] = "postgresql://sf:hunter2-store@db/x";
  l.env["SF_STORE_PLAIN"] = "sqlite:./x.db";
  const std::string text = render_job(l, K8sOptions{}, ManifestFormat::kYaml);
  EXPECT_EQ(text.find("hunter2"), std::string::npos) << text;
  Parsed p(render_job(l, K8sOptions{}));
  std::map<std::string, std::string> refs, values;
  for (auto e : dom::array(p.root["spec"]["template"]["spec"]["containers"].at(0)["env"])) {
    if (e["value"].error())
      refs[str(e["name"])] = str(e["valueFrom"]["secretKeyRef"]["key"]);
    else
      values[str(e["name"])] = str(e["value"]);
  }
  EXPECT_EQ(refs, (std::map<std::string, std::string>{{"BINANCE_API_KEY", "BINANCE_API_KEY"},
                                                      {"KAFKA_PASSWORD", "KAFKA_PASSWORD"},
                                                      {"MINIO_SECRET_KEY", "MINIO_SECRET_KEY"},
                                                      {"SF_STORE", "SF_STORE"}}));
  EXPECT_EQ(values.at("SF_STORE_PLAIN"), "sqlite:./x.db");
}

TEST(K8sManifest, ResourcesNodeSelectorServiceAccountAndGpu) {
  K8sOptions options;
  options.cpu_request = "500m";
  options.memory_request = "1Gi";
  options.cpu_limit = "2";
  options.memory_limit = "4Gi";
  options.node_selector = {{"pool", "batch"}};
  options.service_account = "sf-worker";
  options.gpu_count = 1;
  options.active_deadline_seconds = 7200;
  Parsed gnn(render_job(launch("q", "train", "gnn-trainer"), options));
  auto pod = gnn.root["spec"]["template"]["spec"];
  auto c = pod["containers"].at(0);
  EXPECT_EQ(str(c["resources"]["limits"]["nvidia.com/gpu"]), "1");
  EXPECT_EQ(str(c["resources"]["requests"]["cpu"]), "500m");
  EXPECT_EQ(str(c["resources"]["limits"]["memory"]), "4Gi");
  EXPECT_EQ(str(pod["nodeSelector"]["pool"]), "batch");
  EXPECT_EQ(str(pod["serviceAccountName"]), "sf-worker");
  EXPECT_EQ(str(pod["tolerations"].at(0)["key"]), "nvidia.com/gpu");
  EXPECT_EQ(int64_t(gnn.root["spec"]["activeDeadlineSeconds"]), 7200);
  // Other services get no GPU.
  Parsed loader(render_job(launch("q", "load", "loader-producer"), options));
  EXPECT_TRUE(loader.root["spec"]["template"]["spec"]["containers"]
                  .at(0)["resources"]["limits"]["nvidia.com/gpu"]
                  .error());
  EXPECT_TRUE(loader.root["spec"]["template"]["spec"]["tolerations"].error());
  // gpu_count 0: none even for gnn-trainer.
  options.gpu_count = 0;
  Parsed none(render_job(launch("q", "train", "gnn-trainer"), options));
  EXPECT_TRUE(none.root["spec"]["template"]["spec"]["containers"]
                  .at(0)["resources"]["limits"]["nvidia.com/gpu"]
                  .error());
}

TEST(K8sManifest, RenderingsAgreeAndAreDeterministic) {
  K8sOptions options;
  auto l = launch("q \"quoted\"", "st", "dummy-service");
  l.env["WEIRD"] = "line1\nline2: {x} # not a comment";
  const std::string compact = render_job(l, options);
  EXPECT_EQ(compact, render_job(l, options));
  const std::string pretty = render_job(l, options, ManifestFormat::kPrettyJson);
  EXPECT_NE(pretty.find("\n  \"kind\": \"Job\""), std::string::npos) << pretty;
  Parsed a(compact);
  Parsed b(pretty);
  EXPECT_EQ(simdjson::minify(a.root), simdjson::minify(b.root));
  const std::string yaml = render_job(l, options, ManifestFormat::kYaml);
  EXPECT_NE(yaml.find("apiVersion: \"batch/v1\"\nkind: \"Job\"\nmetadata:\n  name: "),
            std::string::npos)
      << yaml;
  EXPECT_NE(yaml.find("\n        - name: \"streamforge\"\n          image: "), std::string::npos)
      << yaml;
}

TEST(K8sManifest, DryRunRendersEveryStage) {
  K8sOptions options;
  std::vector<StageLaunch> stages = {launch("q", "load", "loader-producer"),
                                     launch("q", "persist", "arango-connector")};
  const std::string yaml = render_jobs(stages, options);
  EXPECT_EQ(yaml.rfind("---\napiVersion: \"batch/v1\"\n", 0), 0u) << yaml;
  EXPECT_NE(yaml.find("---\napiVersion", 10), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("name: \"sf-q-persist-1\""), std::string::npos);
  Parsed list(render_jobs(stages, options, ManifestFormat::kPrettyJson));
  EXPECT_EQ(str(list.root["kind"]), "List");
  dom::array items = list.root["items"];
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(str(items.at(1)["metadata"]["name"]), "sf-q-persist-1");
}

TEST(K8sManifest, OptionsFromEnvironment) {
  std::map<std::string, std::string> env = {{"K8S_NAMESPACE", "data"},
                                            {"STREAMFORGE_IMAGE", "reg.local/sf:1.2"},
                                            {"K8S_BACKOFF_LIMIT", "2"},
                                            {"K8S_TTL_SECONDS", "-1"},
                                            {"K8S_NODE_SELECTOR", "a=b, c=d"},
                                            {"K8S_GPU_COUNT", "2"},
                                            {"K8S_GPU_SERVICES", "gnn-trainer,x"},
                                            {"K8S_CPU_LIMIT", "1"}};
  auto lookup = [&](const std::string& k) -> std::optional<std::string> {
    auto it = env.find(k);
    return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  K8sOptions o = K8sOptions::from_env(lookup);
  EXPECT_EQ(o.ns, "data");
  EXPECT_EQ(o.image, "reg.local/sf:1.2");
  EXPECT_EQ(o.backoff_limit, 2);
  EXPECT_FALSE(o.ttl_seconds_after_finished.has_value());
  EXPECT_EQ(o.node_selector, (std::map<std::string, std::string>{{"a", "b"}, {"c", "d"}}));
  EXPECT_EQ(o.gpu_count, 2);
  EXPECT_TRUE(o.gpu_services.contains("x"));
  EXPECT_EQ(o.cpu_limit, "1");

  env = {{"K8S_NAMESPACE", "Bad_NS"}};
  EXPECT_THROW(K8sOptions::from_env(lookup), std::invalid_argument);
  env = {{"K8S_BACKOFF_LIMIT", "many"}};
  EXPECT_THROW(K8sOptions::from_env(lookup), std::invalid_argument);
  env = {{"K8S_NODE_SELECTOR", "novalue"}};
  EXPECT_THROW(K8sOptions::from_env(lookup), std::invalid_argument);
  env = {{"K8S_SECRET", ""}};
  EXPECT_THROW(K8sOptions::from_env(lookup), std::invalid_argument);
  env = {};
  K8sOptions d = K8sOptions::from_env(lookup);
  EXPECT_EQ(d.ns, "stf");
  EXPECT_EQ(d.image, "streamforge:latest");
  EXPECT_EQ(d.ttl_seconds_after_finished, 3600);
}

}  // namespace
}  // namespace sf::services::qm::k8s
