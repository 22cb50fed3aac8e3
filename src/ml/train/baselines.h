// Baselines of the gnn-trainer, fitted on the train nodes of the same split and features as the
// GNN (docs/gnn.md): majority class, persistence, multinomial logistic regression and linear
// regression on node features without the graph. Torch-free, plain C++.
#pragma once

#include <cstdint>
#include <vector>

namespace sf::ml::train {

// Row-major features [n, f].
struct FeatureMatrix {
  const float* x = nullptr;
  std::size_t rows = 0;
  std::size_t cols = 0;
  float at(std::size_t r, std::size_t c) const { return x[r * cols + c]; }
};

// Class scores for the given nodes, row-major [nodes.size(), k].
struct ClassScores {
  std::vector<int> predicted;
  std::vector<double> scores;
};

// Most frequent train class (ties: lowest); scores one-hot.
int majority_class(const std::vector<int>& labels, const std::vector<std::int64_t>& train, int k);

// Multinomial logistic regression (softmax, with bias) fitted by full-batch gradient descent on
// the train nodes with per-class weights (the same as the GNN's) and an L2 penalty; the initial
// weights are zero, so it is deterministic.
class LogisticRegression {
 public:
  void fit(const FeatureMatrix& x, const std::vector<int>& labels,
           const std::vector<std::int64_t>& train, int k, const std::vector<double>& class_weights,
           int iterations = 300, double lr = 0.5, double l2 = 1e-4);
  ClassScores predict(const FeatureMatrix& x, const std::vector<std::int64_t>& nodes) const;

 private:
  // Softmax of row i's class scores into p (size k).
  void probabilities(const FeatureMatrix& x, std::size_t i, std::vector<double>& p) const;

  int k_ = 0;
  std::size_t f_ = 0;
  std::vector<double> w_;  // [k, f + 1], bias last
};

// Least squares with a tiny ridge (1e-8 * n on the weights), solved by the normal equations.
class LinearRegression {
 public:
  void fit(const FeatureMatrix& x, const std::vector<double>& y,
           const std::vector<std::int64_t>& train);
  std::vector<double> predict(const FeatureMatrix& x, const std::vector<std::int64_t>& nodes) const;

 private:
  std::vector<double> w_;  // [f + 1], bias last
};

}  // namespace sf::ml::train
