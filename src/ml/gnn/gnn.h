// A small graph neural network (two message-passing layers + a linear head) behind an interface
// that does not include libtorch: cheap to include anywhere. The layers themselves are in
// ml/gnn/layers.h (libtorch; equal to PyTorch Geometric's, see docs/gnn.md).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sf::ml::gnn {

enum class LayerKind { kGcn, kSage, kGat, kGatV2 };

std::string_view to_string(LayerKind kind);                        // "gcn", "sage", "gat", "gatv2"
std::optional<LayerKind> parse_layer_kind(std::string_view name);  // inverse of to_string

struct ModelConfig {
  LayerKind kind = LayerKind::kGcn;
  int64_t in_features = 0;
  int64_t hidden = 16;  // per head for GAT / GATv2 (layer outputs are hidden * heads wide)
  int64_t out_features = 1;
  int64_t heads = 1;     // GAT / GATv2 only; must be 1 for GCN and SAGE
  double dropout = 0.0;  // attention dropout (GAT / GATv2), training steps only
  uint64_t seed = 0;     // parameter initialisation
  int threads = 0;       // libtorch intra-op threads; 0 leaves libtorch's setting
};

// Node features row-major [num_nodes, num_features]; edges source -> target.
struct Graph {
  int64_t num_nodes = 0;
  int64_t num_features = 0;
  std::vector<float> x;
  std::vector<int64_t> src;
  std::vector<int64_t> dst;
};

// Empty when the graph fits the config, else why not.
std::string validate(const ModelConfig& config, const Graph& graph);

// Loss of a masked training step (train_step_masked).
enum class LossKind { kMse, kCrossEntropy };

struct TrainStepOptions {
  LossKind loss = LossKind::kMse;
  // 1 = node contributes to the loss; empty = every node. Size num_nodes otherwise.
  std::vector<std::uint8_t> mask;
  // Cross-entropy only: weight per class (size out_features); empty = uniform. The loss is the
  // weighted mean over masked nodes (torch's cross_entropy with weight, reduction mean).
  std::vector<float> class_weights;
  double lr = 0.01;
};

struct Output {
  std::vector<float> values;  // row-major [num_nodes, out_features]; empty on error
  double loss = 0;            // train_step only: the MSE before the update
  std::string error;          // empty on success
  bool ok() const { return error.empty(); }
};

class Model {
 public:
  // Throws std::invalid_argument for an invalid config (sizes <= 0, heads != 1 for GCN/SAGE).
  explicit Model(const ModelConfig& config);
  ~Model();
  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;

  const ModelConfig& config() const;
  int64_t num_parameters() const;

  // Inference (no gradients, dropout off).
  Output forward(const Graph& graph) const;
  // One full-batch training step: MSE against target ([num_nodes, out_features]), backward, Adam
  // with learning rate lr. Output carries the predictions and loss before the update.
  Output train_step(const Graph& graph, const std::vector<float>& target, double lr = 0.01);
  // Full-graph forward, loss over the masked nodes only, backward, Adam step (lr). Target: MSE
  // -> [num_nodes, out_features]; cross-entropy -> [num_nodes] class indices in
  // [0, out_features) stored as float (unmasked entries are ignored, any value). The head's
  // outputs are the logits. Output carries predictions and the loss before the update.
  Output train_step_masked(const Graph& graph, const std::vector<float>& target,
                           const TrainStepOptions& options);

  // Weights and (when a step was taken) the Adam state and its learning rate, in one torch
  // archive (torch::serialize). Empty on success, else the error.
  std::string save(const std::string& path) const;
  // Loads what save() wrote into a model of the same config; restores the optimizer state too.
  std::string load(const std::string& path);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sf::ml::gnn
