// Evaluation metrics of the gnn-trainer (docs/gnn.md): classification (accuracy, balanced
// accuracy, macro F1, one-vs-rest ROC-AUC) and regression (RMSE, MAE, R2). Torch-free.
#pragma once

#include <cstdint>
#include <vector>

namespace sf::ml::train {

struct ClassificationMetrics {
  std::int64_t n = 0;
  double accuracy = 0;
  // Mean recall over the classes present in y_true.
  double balanced_accuracy = 0;
  // Mean F1 over the classes present in y_true or y_pred (F1 = 0 where precision + recall = 0).
  double macro_f1 = 0;
  // Mean over classes c present in y_true with both positives and negatives of the AUC of
  // score[c] separating class c from the rest (ties count one half); NaN when no class
  // qualifies or no scores were given.
  double roc_auc_ovr = 0;
  std::vector<std::vector<std::int64_t>> confusion;  // [true][predicted]
};

// y_true, y_pred in [0, k); scores (optional) row-major [n, k], e.g. class probabilities.
ClassificationMetrics classification_metrics(const std::vector<int>& y_true,
                                             const std::vector<int>& y_pred, int k,
                                             const std::vector<double>& scores = {});

// AUC of `score` for the binary labels `positive` (Mann-Whitney, average ranks for ties); NaN
// when one side is empty.
double roc_auc(const std::vector<double>& score, const std::vector<bool>& positive);

struct RegressionMetrics {
  std::int64_t n = 0;
  double rmse = 0;
  double mae = 0;
  double r2 = 0;  // 1 - SS_res / SS_tot around the mean of y_true; NaN when SS_tot = 0
};

RegressionMetrics regression_metrics(const std::vector<double>& y_true,
                                     const std::vector<double>& y_pred);

}  // namespace sf::ml::train
