#include "ml/train/baselines.h"

#include <algorithm>
#include <cmath>

namespace sf::ml::train {

int majority_class(const std::vector<int>& labels, const std::vector<std::int64_t>& train, int k) {
  std::vector<std::int64_t> count(static_cast<std::size_t>(k), 0);
  for (auto i : train) count[static_cast<std::size_t>(labels[static_cast<std::size_t>(i)])]++;
  return static_cast<int>(std::max_element(count.begin(), count.end()) - count.begin());
}

void LogisticRegression::fit(const FeatureMatrix& x, const std::vector<int>& labels,
                             const std::vector<std::int64_t>& train, int k,
                             const std::vector<double>& class_weights, int iterations, double lr,
                             double l2) {
  k_ = k;
  f_ = x.cols;
  const std::size_t ku = static_cast<std::size_t>(k), d = f_ + 1;
  w_.assign(ku * d, 0.0);
  std::vector<double> grad(ku * d), p(ku);
  double wsum = 0;
  for (auto i : train)
    wsum += class_weights[static_cast<std::size_t>(labels[static_cast<std::size_t>(i)])];
  if (wsum <= 0) return;
  for (int it = 0; it < iterations; ++it) {
    std::fill(grad.begin(), grad.end(), 0.0);
    for (auto i64 : train) {
      const auto i = static_cast<std::size_t>(i64);
      const auto y = static_cast<std::size_t>(labels[i]);
      probabilities(x, i, p);
      const double wi = class_weights[y] / wsum;
      for (std::size_t c = 0; c < ku; ++c) {
        const double g = wi * (p[c] - (c == y ? 1.0 : 0.0));
        for (std::size_t j = 0; j < f_; ++j) grad[c * d + j] += g * x.at(i, j);
        grad[c * d + f_] += g;
      }
    }
    for (std::size_t c = 0; c < ku; ++c)
      for (std::size_t j = 0; j < d; ++j) {
        const double reg = j < f_ ? l2 * w_[c * d + j] : 0.0;
        w_[c * d + j] -= lr * (grad[c * d + j] + reg);
      }
  }
}

void LogisticRegression::probabilities(const FeatureMatrix& x, std::size_t i,
                                       std::vector<double>& p) const {
  const std::size_t ku = static_cast<std::size_t>(k_), d = f_ + 1;
  double mx = -1e300;
  for (std::size_t c = 0; c < ku; ++c) {
    double z = w_[c * d + f_];
    for (std::size_t j = 0; j < f_; ++j) z += w_[c * d + j] * x.at(i, j);
    p[c] = z;
    mx = std::max(mx, z);
  }
  double s = 0;
  for (auto& v : p) s += (v = std::exp(v - mx));
  for (auto& v : p) v /= s;
}

ClassScores LogisticRegression::predict(const FeatureMatrix& x,
                                        const std::vector<std::int64_t>& nodes) const {
  ClassScores out;
  const std::size_t ku = static_cast<std::size_t>(k_);
  std::vector<double> p(ku);
  for (auto i64 : nodes) {
    const auto i = static_cast<std::size_t>(i64);
    probabilities(x, i, p);
    std::size_t best = 0;
    for (std::size_t c = 0; c < ku; ++c) {
      out.scores.push_back(p[c]);
      if (p[c] > p[best]) best = c;
    }
    out.predicted.push_back(static_cast<int>(best));
  }
  return out;
}

void LinearRegression::fit(const FeatureMatrix& x, const std::vector<double>& y,
                           const std::vector<std::int64_t>& train) {
  const std::size_t f = x.cols, d = f + 1;
  std::vector<double> a(d * d, 0.0), b(d, 0.0), row(d);
  for (auto i64 : train) {
    const auto i = static_cast<std::size_t>(i64);
    for (std::size_t j = 0; j < f; ++j) row[j] = x.at(i, j);
    row[f] = 1.0;
    for (std::size_t r = 0; r < d; ++r) {
      b[r] += row[r] * y[i];
      for (std::size_t c = 0; c < d; ++c) a[r * d + c] += row[r] * row[c];
    }
  }
  const double ridge = 1e-8 * static_cast<double>(train.size()) + 1e-12;
  for (std::size_t j = 0; j < f; ++j) a[j * d + j] += ridge;
  // Gaussian elimination with partial pivoting; a singular pivot leaves that weight at 0.
  std::vector<std::size_t> perm(d);
  for (std::size_t col = 0; col < d; ++col) {
    std::size_t piv = col;
    for (std::size_t r = col + 1; r < d; ++r)
      if (std::abs(a[r * d + col]) > std::abs(a[piv * d + col])) piv = r;
    if (piv != col) {
      for (std::size_t c = 0; c < d; ++c) std::swap(a[col * d + c], a[piv * d + c]);
      std::swap(b[col], b[piv]);
    }
    const double pv = a[col * d + col];
    if (std::abs(pv) < 1e-300) continue;
    for (std::size_t r = col + 1; r < d; ++r) {
      const double m = a[r * d + col] / pv;
      if (m == 0) continue;
      for (std::size_t c = col; c < d; ++c) a[r * d + c] -= m * a[col * d + c];
      b[r] -= m * b[col];
    }
  }
  w_.assign(d, 0.0);
  for (std::size_t r = d; r-- > 0;) {
    double s = b[r];
    for (std::size_t c = r + 1; c < d; ++c) s -= a[r * d + c] * w_[c];
    const double pv = a[r * d + r];
    w_[r] = std::abs(pv) < 1e-300 ? 0.0 : s / pv;
  }
}

std::vector<double> LinearRegression::predict(const FeatureMatrix& x,
                                              const std::vector<std::int64_t>& nodes) const {
  std::vector<double> out;
  const std::size_t f = x.cols;
  for (auto i64 : nodes) {
    const auto i = static_cast<std::size_t>(i64);
    double s = w_[f];
    for (std::size_t j = 0; j < f; ++j) s += w_[j] * x.at(i, j);
    out.push_back(s);
  }
  return out;
}

}  // namespace sf::ml::train
