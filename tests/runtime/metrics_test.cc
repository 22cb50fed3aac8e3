#include "runtime/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <thread>
#include <vector>

namespace sf::metrics {
namespace {

TEST(MetricsTest, RendersCounterGaugeAndHistogramExactly) {
  Registry registry;
  registry
      .counter("sf_parse_errors_total", "Messages that failed to parse", {{"reason", "bad_field"}})
      .inc(3);
  registry
      .counter("sf_parse_errors_total", "Messages that failed to parse",
               {{"reason", "bad \"quoted\"\\\n"}})
      .inc();
  registry.gauge("sf_queue_depth", "Messages waiting", {{"queue", "q1"}, {"bus", "inproc"}})
      .set(2.5);
  auto& latency = registry.histogram("sf_latency_seconds", "Handling latency\nin seconds \\ s",
                                     {0.1, 0.5, 1}, {{"op", "read"}});
  latency.observe(0.0625);
  latency.observe(0.5);  // bounds are inclusive
  latency.observe(3);

  EXPECT_EQ(registry.render(),
            "# HELP sf_latency_seconds Handling latency\\nin seconds \\\\ s\n"
            "# TYPE sf_latency_seconds histogram\n"
            "sf_latency_seconds_bucket{op=\"read\",le=\"0.1\"} 1\n"
            "sf_latency_seconds_bucket{op=\"read\",le=\"0.5\"} 2\n"
            "sf_latency_seconds_bucket{op=\"read\",le=\"1\"} 2\n"
            "sf_latency_seconds_bucket{op=\"read\",le=\"+Inf\"} 3\n"
            "sf_latency_seconds_sum{op=\"read\"} 3.5625\n"
            "sf_latency_seconds_count{op=\"read\"} 3\n"
            "# HELP sf_parse_errors_total Messages that failed to parse\n"
            "# TYPE sf_parse_errors_total counter\n"
            "sf_parse_errors_total{reason=\"bad \\\"quoted\\\"\\\\\\n\"} 1\n"
            "sf_parse_errors_total{reason=\"bad_field\"} 3\n"
            "# HELP sf_queue_depth Messages waiting\n"
            "# TYPE sf_queue_depth gauge\n"
            "sf_queue_depth{bus=\"inproc\",queue=\"q1\"} 2.5\n");
}

TEST(MetricsTest, UnlabelledSeriesAndSpecialValues) {
  Registry registry;
  registry.counter("a_total", "A").inc();
  registry.gauge("b", "B").set(std::numeric_limits<double>::quiet_NaN());
  registry.gauge("c", "C").set(-std::numeric_limits<double>::infinity());
  registry.gauge("d", "D").set(1e21);
  auto& h = registry.histogram("e", "E", {1});
  h.observe(std::numeric_limits<double>::quiet_NaN());  // only +Inf counts it
  EXPECT_EQ(registry.render(),
            "# HELP a_total A\n# TYPE a_total counter\na_total 1\n"
            "# HELP b B\n# TYPE b gauge\nb NaN\n"
            "# HELP c C\n# TYPE c gauge\nc -Inf\n"
            "# HELP d D\n# TYPE d gauge\nd 1e+21\n"
            "# HELP e E\n# TYPE e histogram\n"
            "e_bucket{le=\"1\"} 0\ne_bucket{le=\"+Inf\"} 1\ne_sum NaN\ne_count 1\n");
}

TEST(MetricsTest, GetOrCreateReturnsTheSameSeriesWhateverTheLabelOrder) {
  Registry registry;
  Counter& first = registry.counter("x_total", "X", {{"a", "1"}, {"b", "2"}});
  Counter& again = registry.counter("x_total", "X", {{"b", "2"}, {"a", "1"}});
  Counter& other = registry.counter("x_total", "X", {{"a", "1"}, {"b", "3"}});
  EXPECT_EQ(&first, &again);
  EXPECT_NE(&first, &other);
  first.inc(2);
  again.inc();
  EXPECT_EQ(first.value(), 3u);

  Gauge& gauge = registry.gauge("g", "G");
  gauge.set(5);
  gauge.add(2.5);
  gauge.dec();
  gauge.sub(0.5);
  EXPECT_EQ(gauge.value(), 6);
  EXPECT_EQ(&gauge, &registry.gauge("g", "G"));
}

TEST(MetricsTest, CallbacksAreEvaluatedAtScrapeTime) {
  Registry registry;
  double lag = 1;
  registry.gauge_callback("sf_queue_lag_messages", "Lag", {{"queue", "q"}}, [&] { return lag; });
  registry.counter_callback("sf_bus_messages_total", "Messages", {}, [] { return 42.0; });
  registry.gauge_callback("broken", "Throws", {},
                          []() -> double { throw std::runtime_error("x"); });
  EXPECT_NE(registry.render().find("sf_queue_lag_messages{queue=\"q\"} 1\n"), std::string::npos);
  lag = 17;
  const std::string text = registry.render();
  EXPECT_NE(text.find("sf_queue_lag_messages{queue=\"q\"} 17\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE sf_bus_messages_total counter\nsf_bus_messages_total 42\n"),
            std::string::npos);
  EXPECT_EQ(text.find("\nbroken "), std::string::npos);  // HELP/TYPE stay, the sample goes

  EXPECT_TRUE(registry.remove_callback("sf_queue_lag_messages", {{"queue", "q"}}));
  EXPECT_FALSE(registry.remove_callback("sf_queue_lag_messages", {{"queue", "q"}}));
  EXPECT_EQ(registry.render().find("sf_queue_lag_messages"), std::string::npos);
}

TEST(MetricsTest, MisuseIsAProgrammingError) {
  Registry registry;
  registry.counter("dup", "D");
  EXPECT_THROW(registry.gauge("dup", "D"), std::logic_error);
  EXPECT_THROW(registry.counter("bad-name", "D"), std::invalid_argument);
  EXPECT_THROW(registry.counter("ok", "D", {{"bad-label", "x"}}), std::invalid_argument);
  EXPECT_THROW(registry.counter("ok", "D", {{"__reserved", "x"}}), std::invalid_argument);
  EXPECT_THROW(registry.counter("ok", "D", {{"a", "x"}, {"a", "y"}}), std::invalid_argument);
  EXPECT_THROW(registry.histogram("h", "H", {1}, {{"le", "x"}}), std::invalid_argument);
  registry.histogram("h2", "H", {1, 2});
  EXPECT_THROW(registry.histogram("h2", "H", {1, 3}), std::logic_error);
  EXPECT_THROW(Histogram({2, 1}), std::invalid_argument);
}

TEST(MetricsTest, ConcurrentUpdatesAreNotLost) {
  Registry registry;
  Counter& counter = registry.counter("c_total", "C");
  Gauge& gauge = registry.gauge("g", "G");
  Histogram& histogram = registry.histogram("h", "H", {0.5});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        counter.inc();
        gauge.add(1);
        histogram.observe(i % 2 == 0 ? 0.25 : 1);
        if (i % 1000 == 0) (void)registry.render();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(counter.value(), 40000u);
  EXPECT_EQ(gauge.value(), 40000);
  EXPECT_EQ(histogram.count(), 40000u);
  EXPECT_EQ(histogram.cumulative_counts()[0], 20000u);
  EXPECT_EQ(histogram.sum(), 20000 * 0.25 + 20000 * 1.0);
}

TEST(MetricsTest, BucketHelpersAndDefaultRegistry) {
  EXPECT_EQ(exponential_buckets(1, 2, 4), (std::vector<double>{1, 2, 4, 8}));
  EXPECT_EQ(linear_buckets(0, 5, 3), (std::vector<double>{0, 5, 10}));
  EXPECT_FALSE(default_latency_buckets().empty());
  EXPECT_EQ(&default_registry(), &default_registry());
}

}  // namespace
}  // namespace sf::metrics
