// GNN message-passing layers on libtorch, numerically equal to PyTorch Geometric 2.3's defaults
// (tests/ml/gnn/pyg_equality_test.cc checks outputs and gradients against PyG within 1e-5).
//
// This header pulls in libtorch: include it only where tensors are needed. Code that just wants a
// model uses ml/gnn/gnn.h, which does not include torch.
//
// Graphs are PyG's edge_index: an int64 tensor [2, E], row 0 the source node, row 1 the target
// (messages flow source -> target and are aggregated at the target). Everything is written with
// index_select / index_add_ / scatter_reduce, so autograd gives the gradients.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>

namespace sf::ml::gnn {

// Drops existing self-loops (i -> i) and appends one self-loop per node, in node order: PyG's
// remove_self_loops + add_self_loops, and what add_remaining_self_loops does without edge weights.
torch::Tensor with_self_loops(const torch::Tensor& edge_index, int64_t num_nodes);

// out[index[e]] += src[e] along dim 0; out has num_nodes rows.
torch::Tensor scatter_sum(const torch::Tensor& src, const torch::Tensor& index, int64_t num_nodes);

// Softmax of src ([E] or [E, H]) over the entries sharing the same index (PyG's utils.softmax:
// max-shifted with a detached max, 1e-16 added to the denominator).
torch::Tensor segment_softmax(const torch::Tensor& src, const torch::Tensor& index,
                              int64_t num_nodes);

// GCNConv(in, out): x' = D^-1/2 (A + I) D^-1/2 X W + b, degrees counted at the target.
// Parameters (PyG names): lin.weight [out, in], bias [out].
class GCNConvImpl : public torch::nn::Module {
 public:
  GCNConvImpl(int64_t in_channels, int64_t out_channels);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& edge_index);
  void reset_parameters();

  torch::nn::Linear lin{nullptr};
  torch::Tensor bias;
};
TORCH_MODULE(GCNConv);

// SAGEConv(in, out), mean aggregation with root weight: x'_i = W_l mean_{j->i} x_j + b + W_r x_i.
// Parameters: lin_l.weight [out, in], lin_l.bias [out], lin_r.weight [out, in].
class SAGEConvImpl : public torch::nn::Module {
 public:
  SAGEConvImpl(int64_t in_channels, int64_t out_channels);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& edge_index);
  void reset_parameters();

  torch::nn::Linear lin_l{nullptr};
  torch::nn::Linear lin_r{nullptr};
};
TORCH_MODULE(SAGEConv);

// GATConv(in, out, heads), concat=True, negative_slope 0.2, self-loops added, dropout on the
// attention coefficients (training mode only; 0 by default). Output [N, heads * out].
// Parameters: lin_src.weight [heads*out, in] (shared by source and target), att_src [1, H, out],
// att_dst [1, H, out], bias [heads*out].
class GATConvImpl : public torch::nn::Module {
 public:
  GATConvImpl(int64_t in_channels, int64_t out_channels, int64_t heads = 1, double dropout = 0.0);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& edge_index);
  void reset_parameters();

  int64_t heads;
  int64_t out_channels;
  double dropout;
  torch::nn::Linear lin_src{nullptr};
  torch::Tensor att_src;
  torch::Tensor att_dst;
  torch::Tensor bias;
};
TORCH_MODULE(GATConv);

// GATv2Conv(in, out, heads) with PyG's defaults: concat, negative_slope 0.2, self-loops, separate
// source/target weights with biases (share_weights=False), dropout 0 by default.
// e_ij = att . LeakyReLU(W_r x_i + W_l x_j); messages W_l x_j. Output [N, heads * out].
// Parameters: lin_l.weight, lin_l.bias, lin_r.weight, lin_r.bias, att [1, H, out], bias.
class GATv2ConvImpl : public torch::nn::Module {
 public:
  GATv2ConvImpl(int64_t in_channels, int64_t out_channels, int64_t heads = 1, double dropout = 0.0);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& edge_index);
  void reset_parameters();

  int64_t heads;
  int64_t out_channels;
  double dropout;
  torch::nn::Linear lin_l{nullptr};
  torch::nn::Linear lin_r{nullptr};
  torch::Tensor att;
  torch::Tensor bias;
};
TORCH_MODULE(GATv2Conv);

}  // namespace sf::ml::gnn
