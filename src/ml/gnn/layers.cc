#include "ml/gnn/layers.h"

#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/dropout.h>
#include <torch/nn/init.h>

namespace sf::ml::gnn {
namespace {

namespace F = torch::nn::functional;

constexpr double kNegativeSlope = 0.2;

torch::nn::Linear make_linear(int64_t in, int64_t out, bool bias) {
  return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(bias));
}

// PyG's glorot (xavier uniform) for weights and zeros for biases.
void glorot_linear(torch::nn::Linear& lin) {
  torch::NoGradGuard no_grad;
  torch::nn::init::xavier_uniform_(lin->weight);
  if (lin->bias.defined()) lin->bias.zero_();
}

// Attention vectors [1, H, C]: glorot over the last two dimensions, as PyG does.
void glorot_att(torch::Tensor& att) {
  torch::NoGradGuard no_grad;
  const double a = std::sqrt(6.0 / static_cast<double>(att.size(-2) + att.size(-1)));
  att.uniform_(-a, a);
}

torch::Tensor attention_leaky_relu(const torch::Tensor& t) {
  return F::leaky_relu(t, F::LeakyReLUFuncOptions().negative_slope(kNegativeSlope));
}

}  // namespace

torch::Tensor with_self_loops(const torch::Tensor& edge_index, int64_t num_nodes) {
  auto keep = edge_index[0] != edge_index[1];
  auto kept = edge_index.index_select(1, keep.nonzero().squeeze(1));
  auto loop = torch::arange(num_nodes, edge_index.options()).unsqueeze(0).repeat({2, 1});
  return torch::cat({kept, loop}, 1);
}

torch::Tensor scatter_sum(const torch::Tensor& src, const torch::Tensor& index, int64_t num_nodes) {
  auto sizes = src.sizes().vec();
  sizes[0] = num_nodes;
  return torch::zeros(sizes, src.options()).index_add(0, index, src);
}

torch::Tensor segment_softmax(const torch::Tensor& src, const torch::Tensor& index,
                              int64_t num_nodes) {
  auto sizes = src.sizes().vec();
  sizes[0] = num_nodes;
  auto expanded = src.dim() == 1 ? index : index.view({-1, 1}).expand_as(src);
  auto max = torch::zeros(sizes, src.options())
                 .scatter_reduce(0, expanded, src.detach(), "amax", /*include_self=*/false);
  auto out = (src - max.index_select(0, index)).exp();
  auto sum = scatter_sum(out, index, num_nodes) + 1e-16;
  return out / sum.index_select(0, index);
}

// ---- GCNConv ---------------------------------------------------------------------------------

GCNConvImpl::GCNConvImpl(int64_t in_channels, int64_t out_channels) {
  lin = register_module("lin", make_linear(in_channels, out_channels, false));
  bias = register_parameter("bias", torch::zeros({out_channels}));
  reset_parameters();
}

void GCNConvImpl::reset_parameters() {
  glorot_linear(lin);
  torch::NoGradGuard no_grad;
  bias.zero_();
}

torch::Tensor GCNConvImpl::forward(const torch::Tensor& x, const torch::Tensor& edge_index) {
  const int64_t n = x.size(0);
  auto ei = with_self_loops(edge_index, n);
  auto src = ei[0];
  auto dst = ei[1];
  auto ones = torch::ones({ei.size(1)}, x.options());
  auto deg = scatter_sum(ones, dst, n);
  auto dis = deg.pow(-0.5);
  dis.masked_fill_(dis == std::numeric_limits<float>::infinity(), 0);
  auto norm = dis.index_select(0, src) * dis.index_select(0, dst);
  auto h = lin(x);
  auto msg = h.index_select(0, src) * norm.unsqueeze(1);
  return scatter_sum(msg, dst, n) + bias;
}

// ---- SAGEConv --------------------------------------------------------------------------------

SAGEConvImpl::SAGEConvImpl(int64_t in_channels, int64_t out_channels) {
  lin_l = register_module("lin_l", make_linear(in_channels, out_channels, true));
  lin_r = register_module("lin_r", make_linear(in_channels, out_channels, false));
  reset_parameters();
}

void SAGEConvImpl::reset_parameters() {
  // PyG's Linear default (kaiming uniform) for both; initial values are not part of equality.
  lin_l->reset_parameters();
  lin_r->reset_parameters();
}

torch::Tensor SAGEConvImpl::forward(const torch::Tensor& x, const torch::Tensor& edge_index) {
  const int64_t n = x.size(0);
  auto src = edge_index[0];
  auto dst = edge_index[1];
  auto sum = scatter_sum(x.index_select(0, src), dst, n);
  auto count = scatter_sum(torch::ones({edge_index.size(1)}, x.options()), dst, n).clamp_min(1);
  auto mean = sum / count.unsqueeze(1);
  return lin_l(mean) + lin_r(x);
}

// ---- GATConv ---------------------------------------------------------------------------------

GATConvImpl::GATConvImpl(int64_t in_channels, int64_t out_channels_, int64_t heads_,
                         double dropout_)
    : heads(heads_), out_channels(out_channels_), dropout(dropout_) {
  lin_src = register_module("lin_src", make_linear(in_channels, heads * out_channels, false));
  att_src = register_parameter("att_src", torch::empty({1, heads, out_channels}));
  att_dst = register_parameter("att_dst", torch::empty({1, heads, out_channels}));
  bias = register_parameter("bias", torch::zeros({heads * out_channels}));
  reset_parameters();
}

void GATConvImpl::reset_parameters() {
  glorot_linear(lin_src);
  glorot_att(att_src);
  glorot_att(att_dst);
  torch::NoGradGuard no_grad;
  bias.zero_();
}

torch::Tensor GATConvImpl::forward(const torch::Tensor& x, const torch::Tensor& edge_index) {
  const int64_t n = x.size(0);
  auto h = lin_src(x).view({-1, heads, out_channels});  // [N, H, C]
  auto a_src = (h * att_src).sum(-1);                   // [N, H]
  auto a_dst = (h * att_dst).sum(-1);
  auto ei = with_self_loops(edge_index, n);
  auto src = ei[0];
  auto dst = ei[1];
  auto alpha =
      attention_leaky_relu(a_src.index_select(0, src) + a_dst.index_select(0, dst));  // [E, H]
  alpha = segment_softmax(alpha, dst, n);
  if (dropout > 0)
    alpha = F::dropout(alpha, F::DropoutFuncOptions().p(dropout).training(is_training()));
  auto msg = h.index_select(0, src) * alpha.unsqueeze(-1);  // [E, H, C]
  return scatter_sum(msg, dst, n).view({-1, heads * out_channels}) + bias;
}

// ---- GATv2Conv -------------------------------------------------------------------------------

GATv2ConvImpl::GATv2ConvImpl(int64_t in_channels, int64_t out_channels_, int64_t heads_,
                             double dropout_)
    : heads(heads_), out_channels(out_channels_), dropout(dropout_) {
  lin_l = register_module("lin_l", make_linear(in_channels, heads * out_channels, true));
  lin_r = register_module("lin_r", make_linear(in_channels, heads * out_channels, true));
  att = register_parameter("att", torch::empty({1, heads, out_channels}));
  bias = register_parameter("bias", torch::zeros({heads * out_channels}));
  reset_parameters();
}

void GATv2ConvImpl::reset_parameters() {
  glorot_linear(lin_l);
  glorot_linear(lin_r);
  glorot_att(att);
  torch::NoGradGuard no_grad;
  bias.zero_();
}

torch::Tensor GATv2ConvImpl::forward(const torch::Tensor& x, const torch::Tensor& edge_index) {
  const int64_t n = x.size(0);
  auto xl = lin_l(x).view({-1, heads, out_channels});  // sources (x_j)
  auto xr = lin_r(x).view({-1, heads, out_channels});  // targets (x_i)
  auto ei = with_self_loops(edge_index, n);
  auto src = ei[0];
  auto dst = ei[1];
  auto xj = xl.index_select(0, src);
  auto e = attention_leaky_relu(xr.index_select(0, dst) + xj);
  auto alpha = segment_softmax((e * att).sum(-1), dst, n);  // [E, H]
  if (dropout > 0)
    alpha = F::dropout(alpha, F::DropoutFuncOptions().p(dropout).training(is_training()));
  auto msg = xj * alpha.unsqueeze(-1);
  return scatter_sum(msg, dst, n).view({-1, heads * out_channels}) + bias;
}

}  // namespace sf::ml::gnn
