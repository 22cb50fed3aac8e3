// The `candles` graph on BTCUSDT 5m (2022, freqtrade): no look-ahead, past -> present edges,
// features against hand computation, labels.
#include "ml/graph/candle_graph.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>

#include "graph_test_util.h"

namespace sf::ml {
namespace {

using testing::changed;
using testing::dec;
using testing::freqtrade_series;

constexpr const char* kBtc = "klines_5m_2022_freqtrade/BTC_USDT-5m.json";

const std::vector<Candle>& btc() {
  const auto& c = freqtrade_series("BTC");
  EXPECT_EQ(c.size(), 28'966u);
  return c;
}

// Every value after candle t changed: prices x1.5, volumes x3.
std::vector<Candle> perturbed_after(const std::vector<Candle>& in, std::size_t t) {
  std::vector<Candle> out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i)
    out.push_back(i <= t ? in[i] : changed(in[i], dec("1.5"), dec("3")));
  return out;
}

bool same_bits(float a, float b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

TEST(CandleGraph, NoLookAheadBeyondTrainingSpan) {
  SF_REQUIRE_SHARED_DATA(kBtc);
  const auto& base = btc();
  ASSERT_FALSE(base.empty());
  CandleGraphOptions opt;
  const std::size_t t = 25'000;  // beyond the training span (0.7 * 28,966 = 20,276 nodes)
  auto a = build_candle_graph(base, opt);
  auto b = build_candle_graph(perturbed_after(base, t), opt);
  ASSERT_TRUE(a) << a.error();
  ASSERT_TRUE(b) << b.error();
  ASSERT_LT(a->train_nodes, t);
  ASSERT_EQ(a->num_nodes(), b->num_nodes());
  const std::size_t f = a->num_features();
  for (std::size_t i = 0; i <= t; ++i)
    for (std::size_t j = 0; j < f; ++j)
      ASSERT_TRUE(same_bits(a->feature(i, j), b->feature(i, j)))
          << "node " << i << " feature " << a->feature_names[j];
  // Normalisation parameters: bitwise.
  ASSERT_EQ(a->norm_mean.size(), f);
  for (std::size_t j = 0; j < f; ++j) {
    EXPECT_EQ(std::memcmp(&a->norm_mean[j], &b->norm_mean[j], sizeof(double)), 0);
    EXPECT_EQ(std::memcmp(&a->norm_std[j], &b->norm_std[j], sizeof(double)), 0);
  }
  // Edges into nodes <= t: the same edges, same order, same weight bits.
  std::vector<Edge> ea, eb;
  for (const Edge& e : a->edges)
    if (e.dst <= static_cast<std::int64_t>(t)) ea.push_back(e);
  for (const Edge& e : b->edges)
    if (e.dst <= static_cast<std::int64_t>(t)) eb.push_back(e);
  ASSERT_EQ(ea.size(), eb.size());
  ASSERT_GT(ea.size(), t * 3);
  for (std::size_t k = 0; k < ea.size(); ++k) {
    ASSERT_EQ(ea[k].src, eb[k].src) << k;
    ASSERT_EQ(ea[k].dst, eb[k].dst) << k;
    ASSERT_EQ(ea[k].kind, eb[k].kind) << k;
    ASSERT_TRUE(same_bits(ea[k].weight, eb[k].weight)) << k;
  }
  // Not vacuous: the change is visible after t (log volume shifts by ln 3, return at t+1).
  const std::size_t lv = 3;
  EXPECT_NE(a->feature(t + 1, 0), b->feature(t + 1, 0));
  EXPECT_NE(a->feature(t + 5, lv), b->feature(t + 5, lv));
}

TEST(CandleGraph, RawFeaturesNoLookAheadInsideTrainingSpan) {
  SF_REQUIRE_SHARED_DATA(kBtc);
  const auto& base = btc();
  ASSERT_FALSE(base.empty());
  CandleGraphOptions opt;
  const std::size_t t = 5'000;  // inside the span: normalisation changes, raw features must not
  auto a = candle_features(base, opt);
  auto b = candle_features(perturbed_after(base, t), opt);
  auto c = candle_features(std::span(base).first(t + 1), opt);  // truncated at t
  ASSERT_TRUE(a && b && c);
  const std::size_t f = candle_feature_names(opt).size();
  for (std::size_t k = 0; k < (t + 1) * f; ++k) {
    ASSERT_EQ(std::memcmp(&(*a)[k], &(*b)[k], sizeof(double)), 0) << k / f << "," << k % f;
    ASSERT_EQ(std::memcmp(&(*a)[k], &(*c)[k], sizeof(double)), 0) << k / f << "," << k % f;
  }
  EXPECT_NE((*a)[(t + 3) * f + 3], (*b)[(t + 3) * f + 3]);
}

TEST(CandleGraph, EdgesOnlyPastToPresent) {
  SF_REQUIRE_SHARED_DATA(kBtc);
  const auto& base = btc();
  ASSERT_FALSE(base.empty());
  CandleGraphOptions opt;
  opt.lags = 4;
  opt.similarity_top_m = 5;
  opt.similarity_lookback = 100;
  auto g = build_candle_graph(base, opt);
  ASSERT_TRUE(g) << g.error();
  std::size_t temporal = 0, similar = 0;
  std::int64_t prev_dst = -1;
  for (const Edge& e : g->edges) {
    ASSERT_GE(e.src, 0);
    ASSERT_LT(e.dst, static_cast<std::int64_t>(g->num_nodes()));
    ASSERT_LT(g->node_time[e.src], g->node_time[e.dst]) << to_string(e.kind);
    ASSERT_GE(e.dst, prev_dst) << "edges are grouped by destination";
    prev_dst = e.dst;
    if (e.kind == EdgeKind::kTemporal) {
      ++temporal;
      ASSERT_LE(e.dst - e.src, 4);
      ASSERT_FLOAT_EQ(e.weight, 1.0f / static_cast<float>(e.dst - e.src));
    } else {
      ASSERT_EQ(e.kind, EdgeKind::kSimilarity);
      ++similar;
      ASSERT_LE(e.dst - e.src, 100);
      ASSERT_LE(e.weight, 1.0f + 1e-6f);
    }
  }
  const std::size_t n = g->num_nodes();
  EXPECT_EQ(temporal, 4 * n - (1 + 2 + 3 + 4));
  EXPECT_GT(similar, 5 * (n - 200));
  EXPECT_LE(similar, 5 * n);

  // The similarity sources of a few nodes are the top cosines among the previous 100 nodes.
  const std::size_t f = g->num_features();
  auto cosine = [&](std::size_t x, std::size_t y) {
    double d = 0, nx = 0, ny = 0;
    for (std::size_t k = 0; k < f; ++k) {
      d += double(g->feature(x, k)) * g->feature(y, k);
      nx += double(g->feature(x, k)) * g->feature(x, k);
      ny += double(g->feature(y, k)) * g->feature(y, k);
    }
    return d / (std::sqrt(nx) * std::sqrt(ny));
  };
  for (std::size_t node : {500u, 9'999u, 28'000u}) {
    std::vector<double> sims;
    for (std::size_t j = node - 100; j < node; ++j) sims.push_back(cosine(node, j));
    std::sort(sims.rbegin(), sims.rend());
    std::vector<double> got;
    for (const Edge& e : g->edges)
      if (e.dst == static_cast<std::int64_t>(node) && e.kind == EdgeKind::kSimilarity)
        got.push_back(e.weight);
    ASSERT_EQ(got.size(), 5u);
    for (std::size_t k = 0; k < 5; ++k) EXPECT_NEAR(got[k], sims[k], 1e-6) << node << " " << k;
  }
}

double rel_diff(double a, double b) {
  return std::abs(a - b) / std::max(1e-12, std::abs(b));
}

TEST(CandleGraph, FeaturesMatchHandComputation) {
  SF_REQUIRE_SHARED_DATA(kBtc);
  const auto& all = btc();
  ASSERT_FALSE(all.empty());
  // 600 candles with a known trade count and taker-buy volume (freqtrade rows have neither).
  std::vector<Candle> cs;
  for (std::size_t i = 0; i < 600; ++i) {
    const Decimal taker = all[i].volume * dec("0.25");
    cs.push_back(changed(all[i], dec("1"), dec("1"), static_cast<std::int64_t>(100 + i), &taker));
  }
  CandleGraphOptions opt;
  auto raw = candle_features(cs, opt);
  ASSERT_TRUE(raw) << raw.error();
  auto g = build_candle_graph(cs, opt);
  ASSERT_TRUE(g);
  const std::size_t f = g->num_features();
  ASSERT_EQ(f, 15u);
  auto close = [&](std::size_t i) { return cs[i].close.to_double(); };
  for (std::size_t i : {40u, 333u, 599u}) {
    const Candle& c = cs[i];
    const double h = c.high.to_double(), l = c.low.to_double(), cl = close(i);
    const double* row = &(*raw)[i * f];
    EXPECT_DOUBLE_EQ(row[0], std::log(cl / close(i - 1)));
    EXPECT_DOUBLE_EQ(row[1], (h - l) / cl);
    EXPECT_DOUBLE_EQ(row[2], (cl - l) / (h - l));
    EXPECT_DOUBLE_EQ(row[3], std::log(1 + c.volume.to_double()));
    EXPECT_DOUBLE_EQ(row[4], std::log(101.0 + static_cast<double>(i)));
    EXPECT_NEAR(row[5], 0.25, 1e-12);
    // rv_20: sample deviation of the last 20 log returns.
    std::vector<double> r;
    for (std::size_t k = i - 19; k <= i; ++k) r.push_back(std::log(close(k) / close(k - 1)));
    double m = 0, ss = 0;
    for (double x : r) m += x / 20;
    for (double x : r) ss += (x - m) * (x - m);
    EXPECT_LT(rel_diff(row[6], std::sqrt(ss / 19)), 1e-7);
    // RSI 14, Wilder, seeded with the mean of the first 14 changes.
    double ag = 0, al = 0;
    for (std::size_t k = 1; k <= 14; ++k) {
      const double d = close(k) - close(k - 1);
      ag += std::max(d, 0.0) / 14;
      al += std::max(-d, 0.0) / 14;
    }
    for (std::size_t k = 15; k <= i; ++k) {
      const double d = close(k) - close(k - 1);
      ag = (ag * 13 + std::max(d, 0.0)) / 14;
      al = (al * 13 + std::max(-d, 0.0)) / 14;
    }
    EXPECT_LT(std::abs(row[7] - 100 * ag / (ag + al)), 1e-8);
    // MACD(12,26,9) histogram / close: EMAs seeded with SMAs, TA-Lib alignment.
    auto ema_series = [&](int period, std::size_t seed_end) {  // EMA over closes, seeded at
      double e = 0;                                            // seed_end with SMA
      for (std::size_t k = seed_end + 1 - period; k <= seed_end; ++k) e += close(k) / period;
      std::vector<double> out(cs.size(), std::nan(""));
      out[seed_end] = e;
      for (std::size_t k = seed_end + 1; k < cs.size(); ++k)
        out[k] = e = e + (close(k) - e) * 2.0 / (period + 1);
      return out;
    };
    auto fast = ema_series(12, 25), slow = ema_series(26, 25);
    std::vector<double> macd(cs.size(), std::nan(""));
    for (std::size_t k = 25; k < cs.size(); ++k) macd[k] = fast[k] - slow[k];
    double sig = 0;
    for (std::size_t k = 25; k < 34; ++k) sig += macd[k] / 9;
    for (std::size_t k = 34; k <= i; ++k) sig = sig + (macd[k] - sig) * 2.0 / 10;
    EXPECT_LT(std::abs(row[8] - (macd[i] - sig) / cl), 1e-9) << i;
    // Bollinger %b (20, 2): population deviation.
    double sm = 0, sv = 0;
    for (std::size_t k = i - 19; k <= i; ++k) sm += close(k) / 20;
    for (std::size_t k = i - 19; k <= i; ++k) sv += (close(k) - sm) * (close(k) - sm) / 20;
    const double up = sm + 2 * std::sqrt(sv), lo = sm - 2 * std::sqrt(sv);
    EXPECT_LT(std::abs(row[9] - (cl - lo) / (up - lo)), 1e-7);
    // VWAP of the UTC day so far.
    const TimestampUs day = c.open_time / 86'400'000'000LL;
    double pv = 0, v = 0;
    for (std::size_t k = 0; k <= i; ++k) {
      if (cs[k].open_time / 86'400'000'000LL != day) continue;
      const double tp = (cs[k].high.to_double() + cs[k].low.to_double() + close(k)) / 3;
      pv += tp * cs[k].volume.to_double();
      v += cs[k].volume.to_double();
    }
    EXPECT_LT(std::abs(row[10] - (cl / (pv / v) - 1)), 1e-12);
    // Time of day / day of week (2022-01-06 was a Thursday: Monday = 0 -> 3).
    const double sod = static_cast<double>((c.open_time / 1'000'000) % 86'400);
    const int dow = static_cast<int>((c.open_time / 86'400'000'000LL + 3) % 7);
    EXPECT_DOUBLE_EQ(row[11], std::sin(2 * std::numbers::pi * sod / 86400));
    EXPECT_DOUBLE_EQ(row[12], std::cos(2 * std::numbers::pi * sod / 86400));
    EXPECT_DOUBLE_EQ(row[13], std::sin(2 * std::numbers::pi * dow / 7));
    EXPECT_DOUBLE_EQ(row[14], std::cos(2 * std::numbers::pi * dow / 7));
    // The stored feature is the z-score with the training-span parameters.
    for (std::size_t j = 0; j < f; ++j)
      EXPECT_EQ(g->feature(i, j), static_cast<float>((row[j] - g->norm_mean[j]) / g->norm_std[j]));
  }
  EXPECT_EQ(static_cast<int>((cs[0].open_time / 86'400'000'000LL + 3) % 7), 3);
  // Warm-up: MACD is the last to start (bar 33).
  EXPECT_EQ(g->warmup_nodes, 33u);
  EXPECT_TRUE(std::isnan((*raw)[32 * f + 8]));
  EXPECT_EQ(g->feature(0, 0), 0.0f) << "undefined -> 0 after normalisation";
  // The normalisation is fitted on the first 70 % only.
  const std::size_t train = g->train_nodes;
  ASSERT_EQ(train, 420u);
  double m = 0;
  for (std::size_t i = 0; i < train; ++i) m += (*raw)[i * f + 3];
  EXPECT_LT(rel_diff(g->norm_mean[3], m / train), 1e-12);
}

TEST(CandleGraph, LabelsAreSeparateAndDocumented) {
  SF_REQUIRE_SHARED_DATA(kBtc);
  const auto& all = btc();
  ASSERT_FALSE(all.empty());
  std::span<const Candle> cs(all.data(), 1000);
  const double band = 0.001;
  auto dir = direction_labels(cs, band);
  ASSERT_EQ(dir.size(), 1000u);
  EXPECT_EQ(dir.back(), kUnknown);
  std::size_t counts[3] = {0, 0, 0};
  for (std::size_t i = 0; i + 1 < cs.size(); ++i) {
    const double r = std::log(cs[i + 1].close.to_double() / cs[i].close.to_double());
    const int want = std::abs(r) < band ? kFlat : (r > 0 ? kUp : kDown);
    ASSERT_EQ(dir[i], want) << i;
    ++counts[want];
  }
  EXPECT_GT(counts[kFlat], 0u);
  EXPECT_GT(counts[kUp], 0u);
  EXPECT_GT(counts[kDown], 0u);
  auto vol = volatility_labels(cs, 12);
  EXPECT_TRUE(std::isnan(vol[1000 - 12]));
  EXPECT_FALSE(std::isnan(vol[1000 - 13]));
  // The next 12 candles' realized volatility at node i equals rv_12's value at node i + 12.
  CandleGraphOptions opt;
  opt.rv_window = 12;
  auto raw = candle_features(cs, opt);
  ASSERT_TRUE(raw);
  for (std::size_t i : {0u, 100u, 987u})
    EXPECT_LT(rel_diff(vol[i], (*raw)[(i + 12) * 15 + 6]), 1e-7) << i;
}

TEST(CandleGraph, RejectsBadInput) {
  SF_REQUIRE_SHARED_DATA(kBtc);
  const auto& all = btc();
  ASSERT_GT(all.size(), 10u);
  std::vector<Candle> cs(all.begin(), all.begin() + 5);
  cs.push_back(all[2]);  // goes back in time
  auto g = build_candle_graph(cs);
  ASSERT_FALSE(g);
  EXPECT_NE(g.error().find("not increasing"), std::string::npos);
  CandleGraphOptions bad;
  bad.train_fraction = 0;
  EXPECT_FALSE(build_candle_graph(std::span(all).first(10), bad));
  std::vector<ExtraColumn> extra = {{"x", {1.0, 2.0}}};
  EXPECT_FALSE(build_candle_graph(std::span(all).first(10), {}, extra));
}

}  // namespace
}  // namespace sf::ml
