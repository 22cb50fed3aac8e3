// Our GNN layers against PyTorch Geometric: same graph, same weights, forward and backward of
// sum(out * w); outputs and input/parameter gradients must agree within 1e-5.
//
// The reference comes from tests/ml/gnn/pyg_reference.py, run here in the PyG venv
// (SF_PYG_VENV, default ~/.cache/streamforge/venv-pyg, made by scripts/install-test-python.sh).
// Without that venv the tests skip.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "ml/gnn/layers.h"

namespace {

namespace fs = std::filesystem;
using sf::ml::gnn::GATConv;
using sf::ml::gnn::GATv2Conv;
using sf::ml::gnn::GCNConv;
using sf::ml::gnn::SAGEConv;

constexpr double kTolerance = 1e-5;

std::string pyg_python() {
  std::string venv;
  if (const char* v = std::getenv("SF_PYG_VENV"); v != nullptr && *v != '\0') {
    venv = v;
  } else if (const char* home = std::getenv("HOME"); home != nullptr) {
    venv = std::string(home) + "/.cache/streamforge/venv-pyg";
  }
  std::string python = venv + "/bin/python";
  return !venv.empty() && access(python.c_str(), X_OK) == 0 ? python : std::string();
}

// Reads the SFT1 file pyg_reference.py writes.
std::map<std::string, torch::Tensor> read_tensors(const fs::path& path) {
  std::map<std::string, torch::Tensor> out;
  std::ifstream in(path, std::ios::binary);
  if (!in) return out;
  auto u32 = [&] {
    uint32_t v = 0;
    in.read(reinterpret_cast<char*>(&v), sizeof v);
    return v;
  };
  char magic[4] = {};
  in.read(magic, 4);
  if (std::string(magic, 4) != "SFT1") return out;
  const uint32_t count = u32();
  for (uint32_t i = 0; i < count && in; ++i) {
    std::string name(u32(), '\0');
    in.read(name.data(), static_cast<std::streamsize>(name.size()));
    const uint32_t dtype = u32();
    const uint32_t ndim = u32();
    std::vector<int64_t> dims(ndim);
    in.read(reinterpret_cast<char*>(dims.data()), static_cast<std::streamsize>(ndim * 8));
    auto t = torch::empty(dims, dtype == 0 ? torch::kFloat32 : torch::kInt64);
    in.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(t.nbytes()));
    out.emplace(std::move(name), std::move(t));
  }
  if (!in) out.clear();
  return out;
}

class PygEquality : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    python_ = pyg_python();
    if (python_.empty()) return;
    dir_ = fs::temp_directory_path() / ("sf-gnn-pyg-" + std::to_string(getpid()));
    fs::create_directories(dir_);
    const std::string cmd = python_ + " " + SF_REPO_ROOT "/tests/ml/gnn/pyg_reference.py --out " +
                            dir_.string() + " 2>" + (dir_ / "stderr.txt").string();
    status_ = std::system(cmd.c_str());
  }
  static void TearDownTestSuite() {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // Loads the reference for `kind`, copies the PyG parameters into `layer` under the explicit
  // name map (ours -> PyG's), runs forward/backward and compares.
  template <typename Layer>
  void check(const std::string& kind, Layer& layer,
             const std::vector<std::pair<std::string, std::string>>& names) {
    if (python_.empty()) {
      GTEST_SKIP() << "PyG venv absent (run scripts/install-test-python.sh or set SF_PYG_VENV)";
    }
    ASSERT_EQ(status_, 0) << "pyg_reference.py failed; see " << (dir_ / "stderr.txt");
    auto ref = read_tensors(dir_ / (kind + ".sft"));
    ASSERT_FALSE(ref.empty()) << "cannot read " << (dir_ / (kind + ".sft"));
    for (const char* key : {"x", "edge_index", "out", "w", "grad.x"}) {
      ASSERT_TRUE(ref.count(key)) << kind << ": reference lacks " << key;
    }

    auto params = layer->named_parameters();
    ASSERT_EQ(params.size(), names.size()) << kind << ": parameter count";
    {
      torch::NoGradGuard no_grad;
      for (const auto& [ours, theirs] : names) {
        ASSERT_TRUE(params.contains(ours)) << kind << ": we have no parameter " << ours;
        ASSERT_TRUE(ref.count("param." + theirs)) << kind << ": PyG has no parameter " << theirs;
        const auto& src = ref.at("param." + theirs);
        ASSERT_EQ(params[ours].sizes(), src.sizes()) << kind << ": shape of " << ours;
        params[ours].copy_(src);
      }
    }

    auto x = ref.at("x").clone().requires_grad_(true);
    auto out = layer->forward(x, ref.at("edge_index"));
    ASSERT_EQ(out.sizes(), ref.at("out").sizes()) << kind << ": output shape";
    (out * ref.at("w")).sum().backward();

    auto max_diff = [](const torch::Tensor& a, const torch::Tensor& b) {
      return (a - b).abs().max().item<double>();
    };
    const double d_out = max_diff(out.detach(), ref.at("out"));
    const double d_x = max_diff(x.grad(), ref.at("grad.x"));
    double d_params = 0;
    for (const auto& [ours, theirs] : names) {
      const double d = max_diff(params[ours].grad(), ref.at("grad." + theirs));
      EXPECT_LE(d, kTolerance) << kind << ": gradient of " << ours << " (PyG " << theirs << ")";
      d_params = std::max(d_params, d);
    }
    EXPECT_LE(d_out, kTolerance) << kind << ": output";
    EXPECT_LE(d_x, kTolerance) << kind << ": gradient of x";
    // Guard against a vacuous pass: the reference must be non-trivial.
    EXPECT_GT(ref.at("out").abs().max().item<double>(), 0.1);
    EXPECT_GT(ref.at("grad.x").abs().max().item<double>(), 0.1);
    std::printf("%s: max |diff| output %.3g, grad x %.3g, grad params %.3g\n", kind.c_str(), d_out,
                d_x, d_params);
  }

  static inline std::string python_;
  static inline fs::path dir_;
  static inline int status_ = -1;
};

TEST_F(PygEquality, GCNConv) {
  GCNConv layer(8, 4);
  check("gcn", layer, {{"lin.weight", "lin.weight"}, {"bias", "bias"}});
}

TEST_F(PygEquality, SAGEConv) {
  SAGEConv layer(8, 4);
  check("sage", layer,
        {{"lin_l.weight", "lin_l.weight"},
         {"lin_l.bias", "lin_l.bias"},
         {"lin_r.weight", "lin_r.weight"}});
}

TEST_F(PygEquality, GATConvTwoHeads) {
  GATConv layer(8, 4, /*heads=*/2);
  check("gat", layer,
        {{"lin_src.weight", "lin_src.weight"},
         {"att_src", "att_src"},
         {"att_dst", "att_dst"},
         {"bias", "bias"}});
}

TEST_F(PygEquality, GATv2ConvTwoHeads) {
  GATv2Conv layer(8, 4, /*heads=*/2);
  check("gatv2", layer,
        {{"lin_l.weight", "lin_l.weight"},
         {"lin_l.bias", "lin_l.bias"},
         {"lin_r.weight", "lin_r.weight"},
         {"lin_r.bias", "lin_r.bias"},
         {"att", "att"},
         {"bias", "bias"}});
}

// Building blocks, independent of PyG.
TEST(GnnOps, SelfLoopsReplaceExistingOnes) {
  auto ei = torch::tensor({0, 1, 2, 1, 1, 2}, torch::kInt64).view({2, 3});  // 0->1, 1->1, 2->2
  auto out = sf::ml::gnn::with_self_loops(ei, 3);
  auto expected = torch::tensor({0, 0, 1, 2, 1, 0, 1, 2}, torch::kInt64).view({2, 4});
  EXPECT_TRUE(torch::equal(out, expected)) << out;
}

TEST(GnnOps, SegmentSoftmaxSumsToOnePerTarget) {
  auto src = torch::tensor({1.0f, 2.0f, 3.0f, 1000.0f, 5.0f});
  auto index = torch::tensor({0, 0, 2, 2, 3}, torch::kInt64);
  auto p = sf::ml::gnn::segment_softmax(src, index, 4);
  auto sums = sf::ml::gnn::scatter_sum(p, index, 4);
  EXPECT_NEAR(sums[0].item<float>(), 1.0, 1e-6);
  EXPECT_NEAR(sums[1].item<float>(), 0.0, 1e-6);  // no incoming edges
  EXPECT_NEAR(sums[2].item<float>(), 1.0, 1e-6);
  EXPECT_NEAR(sums[3].item<float>(), 1.0, 1e-6);
  EXPECT_NEAR(p[0].item<float>(), 1.0 / (1.0 + std::exp(1.0)), 1e-6);
  EXPECT_FALSE(torch::isnan(p).any().item<bool>());  // large logits are max-shifted
}

}  // namespace
