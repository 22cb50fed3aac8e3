#include "ml/train/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace sf::ml::train {

double roc_auc(const std::vector<double>& score, const std::vector<bool>& positive) {
  const std::size_t n = score.size();
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return score[a] < score[b]; });
  double rank_sum = 0;
  std::int64_t pos = 0;
  for (std::size_t i = 0; i < n;) {
    std::size_t j = i;
    while (j < n && score[order[j]] == score[order[i]]) ++j;
    const double avg_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
    for (std::size_t t = i; t < j; ++t)
      if (positive[order[t]]) {
        rank_sum += avg_rank;
        ++pos;
      }
    i = j;
  }
  const auto neg = static_cast<std::int64_t>(n) - pos;
  if (pos == 0 || neg == 0) return std::numeric_limits<double>::quiet_NaN();
  const double p = static_cast<double>(pos);
  return (rank_sum - p * (p + 1) / 2) / (p * static_cast<double>(neg));
}

ClassificationMetrics classification_metrics(const std::vector<int>& y_true,
                                             const std::vector<int>& y_pred, int k,
                                             const std::vector<double>& scores) {
  ClassificationMetrics m;
  const auto ku = static_cast<std::size_t>(k);
  m.n = static_cast<std::int64_t>(y_true.size());
  m.confusion.assign(ku, std::vector<std::int64_t>(ku, 0));
  std::int64_t correct = 0;
  for (std::size_t i = 0; i < y_true.size(); ++i) {
    m.confusion[static_cast<std::size_t>(y_true[i])][static_cast<std::size_t>(y_pred[i])]++;
    correct += y_true[i] == y_pred[i];
  }
  if (m.n == 0) {
    m.accuracy = m.balanced_accuracy = m.macro_f1 = m.roc_auc_ovr =
        std::numeric_limits<double>::quiet_NaN();
    return m;
  }
  m.accuracy = static_cast<double>(correct) / static_cast<double>(m.n);
  double recall_sum = 0, f1_sum = 0;
  int recall_classes = 0, f1_classes = 0;
  for (std::size_t c = 0; c < ku; ++c) {
    std::int64_t tp = m.confusion[c][c], actual = 0, predicted = 0;
    for (std::size_t j = 0; j < ku; ++j) {
      actual += m.confusion[c][j];
      predicted += m.confusion[j][c];
    }
    if (actual > 0) {
      recall_sum += static_cast<double>(tp) / static_cast<double>(actual);
      ++recall_classes;
    }
    if (actual > 0 || predicted > 0) {
      // F1 = 2 tp / (actual + predicted)
      f1_sum += 2.0 * static_cast<double>(tp) / static_cast<double>(actual + predicted);
      ++f1_classes;
    }
  }
  m.balanced_accuracy = recall_classes ? recall_sum / recall_classes : 0;
  m.macro_f1 = f1_classes ? f1_sum / f1_classes : 0;
  m.roc_auc_ovr = std::numeric_limits<double>::quiet_NaN();
  if (scores.size() == y_true.size() * ku) {
    double auc_sum = 0;
    int auc_classes = 0;
    for (std::size_t c = 0; c < ku; ++c) {
      std::vector<double> s(y_true.size());
      std::vector<bool> pos(y_true.size());
      for (std::size_t i = 0; i < y_true.size(); ++i) {
        s[i] = scores[i * ku + c];
        pos[i] = static_cast<std::size_t>(y_true[i]) == c;
      }
      const double a = roc_auc(s, pos);
      if (!std::isnan(a)) {
        auc_sum += a;
        ++auc_classes;
      }
    }
    if (auc_classes) m.roc_auc_ovr = auc_sum / auc_classes;
  }
  return m;
}

RegressionMetrics regression_metrics(const std::vector<double>& y_true,
                                     const std::vector<double>& y_pred) {
  RegressionMetrics m;
  m.n = static_cast<std::int64_t>(y_true.size());
  if (m.n == 0) {
    m.rmse = m.mae = m.r2 = std::numeric_limits<double>::quiet_NaN();
    return m;
  }
  double mean = 0;
  for (double v : y_true) mean += v;
  mean /= static_cast<double>(m.n);
  double sse = 0, sae = 0, sst = 0;
  for (std::size_t i = 0; i < y_true.size(); ++i) {
    const double e = y_pred[i] - y_true[i];
    sse += e * e;
    sae += std::abs(e);
    sst += (y_true[i] - mean) * (y_true[i] - mean);
  }
  m.rmse = std::sqrt(sse / static_cast<double>(m.n));
  m.mae = sae / static_cast<double>(m.n);
  m.r2 = sst > 0 ? 1 - sse / sst : std::numeric_limits<double>::quiet_NaN();
  return m;
}

}  // namespace sf::ml::train
