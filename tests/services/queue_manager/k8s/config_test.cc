// Cluster configuration: kubeconfig files and in-cluster service-account files, from temp paths.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "services/queue_manager/k8s/k8s_client.h"

namespace sf::services::qm::k8s {
namespace {

class K8sConfig : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sf-k8s-config-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string write(const std::string& name, const std::string& text) {
    auto path = dir_ / name;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << text;
    return path.string();
  }
  EnvLookup env() {
    return [this](const std::string& k) -> std::optional<std::string> {
      auto it = vars_.find(k);
      return it == vars_.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
  }

  std::filesystem::path dir_;
  std::map<std::string, std::string> vars_;
};

// "-----BEGIN CERTIFICATE-----\nfake\n" in base64.
constexpr const char* kCaB64 = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCmZha2UK";

TEST_F(K8sConfig, KubeconfigCurrentContextWithTokenAndCaData) {
  const std::string path = write("kubeconfig", std::string(R"(apiVersion: v1
kind: Config
# a comment
clusters:
- cluster:
    certificate-authority-data: )") + kCaB64 + R"(
    server: https://10.1.2.3:6443
  name: prod
- name: dev
  cluster:
    server: "http://127.0.0.1:8001"   # kubectl proxy
contexts:
- context:
    cluster: prod
    user: admin
    namespace: streaming
  name: prod-ctx
- name: dev-ctx
  context:
    cluster: dev
    user: ''
current-context: prod-ctx
preferences: {}
users:
- name: admin
  user:
    token: 'abc.def-ghi'
)");
  auto config = load_kubeconfig(path);
  ASSERT_TRUE(config) << config.error();
  EXPECT_EQ(config->server, "https://10.1.2.3:6443");
  EXPECT_EQ(config->token, "abc.def-ghi");
  EXPECT_EQ(config->ca_pem, "-----BEGIN CERTIFICATE-----\nfake\n");
  EXPECT_EQ(config->ns, "streaming");
  EXPECT_FALSE(config->insecure_skip_tls_verify);

  auto dev = load_kubeconfig(path, "dev-ctx");
  ASSERT_TRUE(dev) << dev.error();
  EXPECT_EQ(dev->server, "http://127.0.0.1:8001");
  EXPECT_EQ(dev->token, "");
  EXPECT_EQ(dev->ns, "");

  auto missing = load_kubeconfig(path, "nope");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().find("context 'nope' not found"), std::string::npos);
}

TEST_F(K8sConfig, KubeconfigRelativeFilesAndTokenFile) {
  write("certs/ca.crt", "PEM");
  write("certs/client.crt", "CERT");
  write("certs/client.key", "KEY");
  write("token", "file-token\n");
  const std::string path = write("kubeconfig", R"(apiVersion: v1
clusters:
  - name: c
    cluster:
      server: https://api.example.com
      certificate-authority: certs/ca.crt
contexts:
  - name: x
    context: {cluster: c, user: u}
current-context: x
users:
  - name: u
    user:
      tokenFile: token
      client-certificate: certs/client.crt
      client-key: certs/client.key
)");
  // Flow mappings are outside the supported subset: a clear error, not a wrong config.
  auto flow = load_kubeconfig(path);
  ASSERT_FALSE(flow);
  EXPECT_NE(flow.error().find("flow collections"), std::string::npos) << flow.error();

  const std::string block = write("kubeconfig2", R"(apiVersion: v1
clusters:
  - name: c
    cluster:
      server: https://api.example.com
      certificate-authority: certs/ca.crt
contexts:
  - name: x
    context:
      cluster: c
      user: u
current-context: x
users:
  - name: u
    user:
      tokenFile: token
      client-certificate: certs/client.crt
      client-key: certs/client.key
)");
  auto config = load_kubeconfig(block);
  ASSERT_TRUE(config) << config.error();
  EXPECT_EQ(config->ca_file, (dir_ / "certs/ca.crt").string());
  EXPECT_EQ(config->token, "file-token");
  EXPECT_EQ(config->token_file, (dir_ / "token").string());
  EXPECT_EQ(config->client_cert_pem, "CERT");
  EXPECT_EQ(config->client_key_pem, "KEY");
}

TEST_F(K8sConfig, KubeconfigUnsupportedAuthIsNamed) {
  const std::string path = write("kubeconfig", R"(clusters:
- name: c
  cluster:
    server: https://eks.example.com
contexts:
- name: x
  context:
    cluster: c
    user: u
current-context: x
users:
- name: u
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: aws
      args:
      - eks
      - get-token
)");
  auto config = load_kubeconfig(path);
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().find("exec plugins are not supported"), std::string::npos)
      << config.error();
}

TEST_F(K8sConfig, KubeconfigAsJson) {
  const std::string path = write("kubeconfig.json", R"({"apiVersion":"v1","clusters":[
    {"name":"c","cluster":{"server":"https://k:443","insecure-skip-tls-verify":true}}],
    "contexts":[{"name":"x","context":{"cluster":"c","user":"u","namespace":"ns1"}}],
    "current-context":"x","users":[{"name":"u","user":{"token":"t"}}]})");
  auto config = load_kubeconfig(path);
  ASSERT_TRUE(config) << config.error();
  EXPECT_EQ(config->server, "https://k:443");
  EXPECT_TRUE(config->insecure_skip_tls_verify);
  EXPECT_EQ(config->token, "t");
  EXPECT_EQ(config->ns, "ns1");
}

TEST_F(K8sConfig, InClusterFromInjectedPaths) {
  write("sa/token", "sa-token\n");
  write("sa/ca.crt", "PEM");
  write("sa/namespace", "stf\n");
  InClusterPaths paths{.dir = (dir_ / "sa").string(), .host = std::nullopt, .port = std::nullopt};
  vars_ = {{"KUBERNETES_SERVICE_HOST", "10.96.0.1"}, {"KUBERNETES_SERVICE_PORT", "443"}};
  auto config = load_in_cluster_config(paths, env());
  ASSERT_TRUE(config) << config.error();
  EXPECT_EQ(config->server, "https://10.96.0.1:443");
  EXPECT_EQ(config->token, "sa-token");
  EXPECT_EQ(config->ca_file, (dir_ / "sa/ca.crt").string());
  EXPECT_EQ(config->ns, "stf");
  EXPECT_EQ(config->source, "in-cluster");

  // IPv6 service address.
  paths.host = "fd00::1";
  auto v6 = load_in_cluster_config(paths, env());
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->server, "https://[fd00::1]:443");

  // load_cluster_config: in-cluster when KUBERNETES_SERVICE_HOST is set and KUBECONFIG is not.
  paths.host.reset();
  auto chosen = load_cluster_config(env(), paths);
  ASSERT_TRUE(chosen) << chosen.error();
  EXPECT_EQ(chosen->source, "in-cluster");

  // KUBECONFIG wins; its first existing file is used.
  const std::string kc = write("kc", R"(clusters:
- name: c
  cluster:
    server: http://127.0.0.1:1
contexts:
- name: x
  context:
    cluster: c
current-context: x
)");
  vars_["KUBECONFIG"] = (dir_ / "absent").string() + ":" + kc;
  auto from_kc = load_cluster_config(env(), paths);
  ASSERT_TRUE(from_kc) << from_kc.error();
  EXPECT_EQ(from_kc->source, kc);
}

TEST_F(K8sConfig, InClusterFailuresAreErrors) {
  InClusterPaths paths{.dir = (dir_ / "none").string(), .host = "10.0.0.1", .port = "443"};
  auto no_token = load_in_cluster_config(paths, env());
  ASSERT_FALSE(no_token);
  EXPECT_NE(no_token.error().find("token"), std::string::npos);
  paths.host = std::nullopt;
  auto no_host = load_in_cluster_config(paths, env());
  ASSERT_FALSE(no_host);
  EXPECT_NE(no_host.error().find("KUBERNETES_SERVICE_HOST"), std::string::npos);
  write("sa/token", "t");
  paths = InClusterPaths{.dir = (dir_ / "sa").string(), .host = "h", .port = std::nullopt};
  auto no_ca = load_in_cluster_config(paths, env());
  ASSERT_FALSE(no_ca);
  EXPECT_NE(no_ca.error().find("ca.crt"), std::string::npos);
}

TEST(K8sYaml, SubsetAndBase64) {
  auto doc =
      parse_yaml("a:\n  b: 'it''s'\n  c: \"x\\ny\"\nlist:\n- - 1\n  - 2\n- k: v\n  k2: v2\n");
  ASSERT_TRUE(doc) << doc.error();
  EXPECT_EQ(doc->get("a")->str("b"), "it's");
  EXPECT_EQ(doc->get("a")->str("c"), "x\ny");
  const YamlNode* list = doc->get("list");
  ASSERT_NE(list, nullptr);
  ASSERT_EQ(list->seq.size(), 2u);
  ASSERT_EQ(list->seq[0].seq.size(), 2u);
  EXPECT_EQ(list->seq[0].seq[1].scalar, "2");
  EXPECT_EQ(list->seq[1].str("k2"), "v2");
  EXPECT_FALSE(parse_yaml("a: |\n  text\n"));
  EXPECT_FALSE(parse_yaml("a:\n    b: 1\n  c: 2\n"));

  EXPECT_EQ(*base64_decode("aGVsbG8="), "hello");
  EXPECT_EQ(*base64_decode("aGVs\nbG8"), "hello");
  EXPECT_FALSE(base64_decode("a$=="));
}

}  // namespace
}  // namespace sf::services::qm::k8s
