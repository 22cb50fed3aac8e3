// Metrics, split and baselines of the gnn-trainer against hand-computed values.
#include "ml/train/metrics.h"

#include <gtest/gtest.h>

#include <cmath>

#include "ml/train/baselines.h"
#include "ml/train/dataset.h"

namespace sf::ml::train {
namespace {

TEST(TrainerMetrics, ThreeClassConfusionByHand) {
  // true 0: 0,0,1   true 1: 1,2   true 2: 2,2,2,0,1
  const std::vector<int> y = {0, 0, 0, 1, 1, 2, 2, 2, 2, 2};
  const std::vector<int> p = {0, 0, 1, 1, 2, 2, 2, 2, 0, 1};
  const auto m = classification_metrics(y, p, 3);
  EXPECT_EQ(m.n, 10);
  const std::vector<std::vector<std::int64_t>> want = {{2, 1, 0}, {0, 1, 1}, {1, 1, 3}};
  EXPECT_EQ(m.confusion, want);
  EXPECT_DOUBLE_EQ(m.accuracy, 0.6);
  EXPECT_NEAR(m.balanced_accuracy, 53.0 / 90.0, 1e-12);  // (2/3 + 1/2 + 3/5) / 3
  EXPECT_NEAR(m.macro_f1, 26.0 / 45.0, 1e-12);           // (2/3 + 2/5 + 2/3) / 3
  EXPECT_TRUE(std::isnan(m.roc_auc_ovr));                // no scores given
}

TEST(TrainerMetrics, RocAucByHandWithTies) {
  EXPECT_DOUBLE_EQ(roc_auc({0.1, 0.4, 0.35, 0.8}, {false, false, true, true}), 0.75);
  // positives {0.5, 0.9} vs negatives {0.5, 0.2}: 0.5 + 1 + 1 + 1 of 4 pairs
  EXPECT_DOUBLE_EQ(roc_auc({0.5, 0.5, 0.2, 0.9}, {true, false, false, true}), 0.875);
  EXPECT_TRUE(std::isnan(roc_auc({0.1, 0.2}, {true, true})));
  // One-vs-rest: class 0 perfectly ranked (1), class 1 reversed (0), class 2 absent (skipped).
  const std::vector<int> y = {0, 0, 1, 1};
  const std::vector<double> s = {0.9, 0.1, 0.0,  //
                                 0.8, 0.1, 0.1,  //
                                 0.1, 0.0, 0.9,  //
                                 0.2, 0.0, 0.8};
  const auto m = classification_metrics(y, {0, 0, 2, 2}, 3, s);
  EXPECT_DOUBLE_EQ(m.roc_auc_ovr, 0.5);  // (1 + 0) / 2: class 1 scores 0 < 0.1 of class 0
  EXPECT_DOUBLE_EQ(m.balanced_accuracy, 0.5);
  EXPECT_NEAR(m.macro_f1, (1.0 + 0 + 0) / 3, 1e-12);  // class 2 predicted but absent: F1 0
}

TEST(TrainerMetrics, RegressionByHand) {
  const auto m = regression_metrics({1, 2, 3, 4}, {1, 2, 3, 5});
  EXPECT_DOUBLE_EQ(m.rmse, 0.5);
  EXPECT_DOUBLE_EQ(m.mae, 0.25);
  EXPECT_DOUBLE_EQ(m.r2, 0.8);  // 1 - 1 / 5
  EXPECT_TRUE(std::isnan(regression_metrics({2, 2}, {1, 3}).r2));
}

TEST(TrainerSplit, ChronologicalWithEmbargoAndExclusions) {
  ml::Graph g;
  for (int i = 0; i < 100; ++i) {
    g.node_id.push_back(i);
    g.node_time.push_back(1000 * i);
  }
  g.warmup_nodes = 10;
  std::vector<bool> labelled(100, true);
  labelled[99] = false;
  const auto s = chronological_split(g, labelled, 0.5, 0.2, 3);
  EXPECT_EQ(s.excluded_warmup, 10u);
  EXPECT_EQ(s.excluded_unlabelled, 1u);
  // 89 eligible: 44 train (10..53), 3 embargoed, 17 validation (57..73), 3 embargoed, 22 test.
  ASSERT_EQ(s.train.size(), 44u);
  EXPECT_EQ(s.train.front(), 10);
  EXPECT_EQ(s.train.back(), 53);
  ASSERT_EQ(s.validation.size(), 17u);
  EXPECT_EQ(s.validation.front(), 57);
  EXPECT_EQ(s.validation.back(), 73);
  ASSERT_EQ(s.test.size(), 22u);
  EXPECT_EQ(s.test.front(), 77);
  EXPECT_EQ(s.test.back(), 98);
  EXPECT_EQ(s.embargoed, 6u);
}

TEST(TrainerSplit, BoundaryNeverSplitsEqualTimes) {
  ml::Graph g;  // assets-like: 4 nodes per time
  for (int i = 0; i < 40; ++i) {
    g.node_id.push_back(i);
    g.node_time.push_back(i / 4);
  }
  const auto s = chronological_split(g, std::vector<bool>(40, true), 0.55, 0.2, 0);
  // 22 train -> moved to 24 (time 5 complete); 8 validation -> 8 (times 6, 7); rest test.
  EXPECT_EQ(s.train.size(), 24u);
  EXPECT_EQ(g.node_time[static_cast<std::size_t>(s.validation.front())], 6);
  EXPECT_EQ(s.validation.size(), 8u);
  EXPECT_EQ(g.node_time[static_cast<std::size_t>(s.test.front())], 8);
}

TEST(TrainerBaselines, LogisticAndLinearRegressionFitSimpleData) {
  // Class = which of 3 features is largest; y = 2 x0 - x1 + 3.
  std::vector<float> x;
  std::vector<int> cls;
  std::vector<double> y;
  std::vector<std::int64_t> all;
  for (int i = 0; i < 60; ++i) {
    const float a = static_cast<float>((i * 7) % 11) - 5, b = static_cast<float>((i * 5) % 13) - 6,
                c = static_cast<float>((i * 3) % 7) - 3;
    x.insert(x.end(), {a, b, c});
    cls.push_back(a >= b && a >= c ? 0 : (b >= c ? 1 : 2));
    y.push_back(2.0 * a - b + 3);
    all.push_back(i);
  }
  const FeatureMatrix fx{.x = x.data(), .rows = 60, .cols = 3};
  LogisticRegression lr;
  lr.fit(fx, cls, all, 3, {1, 1, 1}, 2000, 0.5, 0);
  const auto p = lr.predict(fx, all);
  EXPECT_GE(classification_metrics(cls, p.predicted, 3).accuracy, 0.95);
  LinearRegression lin;
  lin.fit(fx, y, all);
  const auto q = lin.predict(fx, all);
  for (std::size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(q[i], y[i], 1e-6);
  EXPECT_EQ(majority_class({0, 2, 2, 1, 2}, {0, 1, 2, 3}, 3), 2);  // nodes 0..3: 0,2,2,1
}

}  // namespace
}  // namespace sf::ml::train
