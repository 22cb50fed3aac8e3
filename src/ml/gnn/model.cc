#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/container/any.h>
#include <torch/optim/adam.h>
#include <torch/serialize.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>
#include <torch/utils.h>

#include <filesystem>
#include <stdexcept>

#include "ml/gnn/gnn.h"
#include "ml/gnn/layers.h"

namespace sf::ml::gnn {

std::string_view to_string(LayerKind kind) {
  switch (kind) {
    case LayerKind::kGcn:
      return "gcn";
    case LayerKind::kSage:
      return "sage";
    case LayerKind::kGat:
      return "gat";
    case LayerKind::kGatV2:
      return "gatv2";
  }
  return "?";
}

std::optional<LayerKind> parse_layer_kind(std::string_view name) {
  for (auto k : {LayerKind::kGcn, LayerKind::kSage, LayerKind::kGat, LayerKind::kGatV2}) {
    if (to_string(k) == name) return k;
  }
  return std::nullopt;
}

std::string validate(const ModelConfig& config, const Graph& graph) {
  if (graph.num_nodes <= 0) return "graph has no nodes";
  if (graph.num_features != config.in_features) {
    return "graph has " + std::to_string(graph.num_features) + " features, model expects " +
           std::to_string(config.in_features);
  }
  if (static_cast<int64_t>(graph.x.size()) != graph.num_nodes * graph.num_features) {
    return "x has " + std::to_string(graph.x.size()) + " values, expected num_nodes * num_features";
  }
  if (graph.src.size() != graph.dst.size()) return "src and dst differ in length";
  for (size_t e = 0; e < graph.src.size(); ++e) {
    if (graph.src[e] < 0 || graph.src[e] >= graph.num_nodes || graph.dst[e] < 0 ||
        graph.dst[e] >= graph.num_nodes) {
      return "edge " + std::to_string(e) + " refers to a node out of range";
    }
  }
  return {};
}

namespace {

torch::nn::AnyModule make_layer(const ModelConfig& c, int64_t in) {
  switch (c.kind) {
    case LayerKind::kGcn:
      return torch::nn::AnyModule(GCNConv(in, c.hidden));
    case LayerKind::kSage:
      return torch::nn::AnyModule(SAGEConv(in, c.hidden));
    case LayerKind::kGat:
      return torch::nn::AnyModule(GATConv(in, c.hidden, c.heads, c.dropout));
    case LayerKind::kGatV2:
      return torch::nn::AnyModule(GATv2Conv(in, c.hidden, c.heads, c.dropout));
  }
  throw std::invalid_argument("gnn: unknown layer kind");
}

}  // namespace

struct Model::Impl {
  ModelConfig config;
  std::shared_ptr<torch::nn::Module> root = std::make_shared<torch::nn::Module>("GnnModel");
  torch::nn::AnyModule conv1;
  torch::nn::AnyModule conv2;
  torch::nn::Linear head{nullptr};
  std::unique_ptr<torch::optim::Adam> opt;
  double opt_lr = -1;

  explicit Impl(const ModelConfig& c) : config(c) {
    if (c.in_features <= 0 || c.hidden <= 0 || c.out_features <= 0 || c.heads <= 0) {
      throw std::invalid_argument("gnn: in_features, hidden, out_features and heads must be > 0");
    }
    const bool attention = c.kind == LayerKind::kGat || c.kind == LayerKind::kGatV2;
    if (!attention && c.heads != 1) {
      throw std::invalid_argument("gnn: heads must be 1 for " + std::string(to_string(c.kind)));
    }
    if (c.dropout < 0 || c.dropout >= 1)
      throw std::invalid_argument("gnn: dropout must be in [0, 1)");
    if (c.threads > 0) torch::set_num_threads(c.threads);
    torch::manual_seed(c.seed);
    const int64_t width = c.hidden * c.heads;
    conv1 = make_layer(c, c.in_features);
    conv2 = make_layer(c, width);
    root->register_module("conv1", conv1.ptr());
    root->register_module("conv2", conv2.ptr());
    head = root->register_module("head", torch::nn::Linear(width, c.out_features));
  }

  torch::Tensor run(const Graph& g) {
    auto x = torch::from_blob(const_cast<float*>(g.x.data()), {g.num_nodes, g.num_features},
                              torch::kFloat32);
    const auto e = static_cast<int64_t>(g.src.size());
    auto src = torch::from_blob(const_cast<int64_t*>(g.src.data()), {e}, torch::kInt64);
    auto dst = torch::from_blob(const_cast<int64_t*>(g.dst.data()), {e}, torch::kInt64);
    auto edge_index = torch::stack({src, dst});
    auto h = torch::relu(conv1.forward(x, edge_index));
    h = torch::relu(conv2.forward(h, edge_index));
    return head(h);
  }

  static std::vector<float> to_vector(const torch::Tensor& t) {
    auto c = t.detach().contiguous();
    return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
  }
};

Model::Model(const ModelConfig& config) : impl_(std::make_unique<Impl>(config)) {}
Model::~Model() = default;
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;

const ModelConfig& Model::config() const {
  return impl_->config;
}

int64_t Model::num_parameters() const {
  int64_t n = 0;
  for (const auto& p : impl_->root->parameters()) n += p.numel();
  return n;
}

Output Model::forward(const Graph& graph) const {
  Output out;
  out.error = validate(impl_->config, graph);
  if (!out.ok()) return out;
  torch::NoGradGuard no_grad;
  impl_->root->eval();
  out.values = Impl::to_vector(impl_->run(graph));
  return out;
}

Output Model::train_step(const Graph& graph, const std::vector<float>& target, double lr) {
  Output out;
  out.error = validate(impl_->config, graph);
  if (out.ok() &&
      static_cast<int64_t>(target.size()) != graph.num_nodes * impl_->config.out_features) {
    out.error = "target has " + std::to_string(target.size()) +
                " values, expected num_nodes * out_features";
  }
  if (!out.ok()) return out;
  if (!impl_->opt || impl_->opt_lr != lr) {
    impl_->opt = std::make_unique<torch::optim::Adam>(impl_->root->parameters(),
                                                      torch::optim::AdamOptions(lr));
    impl_->opt_lr = lr;
  }
  impl_->root->train();
  impl_->opt->zero_grad();
  auto pred = impl_->run(graph);
  auto y = torch::from_blob(const_cast<float*>(target.data()),
                            {graph.num_nodes, impl_->config.out_features}, torch::kFloat32);
  auto loss = torch::nn::functional::mse_loss(pred, y);
  loss.backward();
  impl_->opt->step();
  out.values = Impl::to_vector(pred);
  out.loss = loss.item<double>();
  return out;
}

Output Model::train_step_masked(const Graph& graph, const std::vector<float>& target,
                                const TrainStepOptions& o) {
  Output out;
  out.error = validate(impl_->config, graph);
  const int64_t n = graph.num_nodes;
  const int64_t k = impl_->config.out_features;
  const bool ce = o.loss == LossKind::kCrossEntropy;
  if (out.ok() && static_cast<int64_t>(target.size()) != (ce ? n : n * k))
    out.error = "target has " + std::to_string(target.size()) + " values, expected " +
                (ce ? std::string("num_nodes") : std::string("num_nodes * out_features"));
  if (out.ok() && !o.mask.empty() && static_cast<int64_t>(o.mask.size()) != n)
    out.error = "mask has " + std::to_string(o.mask.size()) + " values, expected num_nodes";
  if (out.ok() && ce && !o.class_weights.empty() &&
      static_cast<int64_t>(o.class_weights.size()) != k)
    out.error = "class_weights has " + std::to_string(o.class_weights.size()) +
                " values, expected out_features";
  std::vector<int64_t> rows;
  if (out.ok()) {
    for (int64_t i = 0; i < n; ++i)
      if (o.mask.empty() || o.mask[static_cast<size_t>(i)]) rows.push_back(i);
    if (rows.empty()) out.error = "mask selects no node";
  }
  std::vector<int64_t> classes;
  if (out.ok() && ce) {
    for (auto i : rows) {
      const float v = target[static_cast<size_t>(i)];
      const auto c = static_cast<int64_t>(v);
      if (!(v >= 0) || c >= k || static_cast<float>(c) != v) {
        out.error = "target of node " + std::to_string(i) + " is not a class in [0, out_features)";
        break;
      }
      classes.push_back(c);
    }
  }
  if (!out.ok()) return out;
  if (!impl_->opt || impl_->opt_lr != o.lr) {
    impl_->opt = std::make_unique<torch::optim::Adam>(impl_->root->parameters(),
                                                      torch::optim::AdamOptions(o.lr));
    impl_->opt_lr = o.lr;
  }
  impl_->root->train();
  impl_->opt->zero_grad();
  auto pred = impl_->run(graph);
  auto idx = torch::tensor(rows, torch::kInt64);
  auto sel = pred.index_select(0, idx);
  torch::Tensor loss;
  if (ce) {
    auto y = torch::tensor(classes, torch::kInt64);
    auto opts = torch::nn::functional::CrossEntropyFuncOptions();
    if (!o.class_weights.empty()) opts.weight(torch::tensor(o.class_weights, torch::kFloat32));
    loss = torch::nn::functional::cross_entropy(sel, y, opts);
  } else {
    auto y = torch::from_blob(const_cast<float*>(target.data()), {n, k}, torch::kFloat32)
                 .index_select(0, idx);
    loss = torch::nn::functional::mse_loss(sel, y);
  }
  loss.backward();
  impl_->opt->step();
  out.values = Impl::to_vector(pred);
  out.loss = loss.item<double>();
  return out;
}

std::string Model::save(const std::string& path) const {
  try {
    torch::serialize::OutputArchive archive;
    impl_->root->save(archive);
    if (impl_->opt) {
      torch::serialize::OutputArchive optim;
      impl_->opt->save(optim);
      archive.write("sf_optimizer", optim);
      archive.write("sf_optimizer_lr", torch::tensor(impl_->opt_lr, torch::kFloat64));
    }
    archive.save_to(path);
  } catch (const std::exception& e) {
    return "cannot save model to " + path + ": " + e.what();
  }
  return {};
}

std::string Model::load(const std::string& path) {
  if (!std::filesystem::exists(path)) return "no model file " + path;
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    impl_->root->load(archive);
    torch::Tensor lr;
    torch::serialize::InputArchive optim;
    if (archive.try_read("sf_optimizer_lr", lr) && archive.try_read("sf_optimizer", optim)) {
      impl_->opt_lr = lr.item<double>();
      impl_->opt = std::make_unique<torch::optim::Adam>(impl_->root->parameters(),
                                                        torch::optim::AdamOptions(impl_->opt_lr));
      impl_->opt->load(optim);
    } else {
      impl_->opt.reset();
      impl_->opt_lr = -1;
    }
  } catch (const std::exception& e) {
    return "cannot load model from " + path + ": " + e.what();
  }
  return {};
}

}  // namespace sf::ml::gnn
