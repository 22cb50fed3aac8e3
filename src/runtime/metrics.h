// Prometheus metrics: counters, gauges, histograms and scrape-time callbacks, rendered in the
// text exposition format 0.0.4.
//
// counter()/gauge()/histogram() get or create a series and return a reference that stays valid
// for the registry's lifetime: look it up once (that takes a lock), then update it from hot paths
// with plain atomic operations.
//
//   auto& parse_errors = metrics::default_registry().counter(
//       "sf_parse_errors_total", "Messages that failed to parse", {{"reason", "bad_field"}});
//   parse_errors.inc();
//
// Naming mistakes (invalid names, one name used with two types or two bucket layouts) are
// programming errors and throw std::logic_error / std::invalid_argument.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sf::metrics {

// Label name/value pairs. Order does not matter: a series is identified (and rendered) by its
// labels sorted by name.
using Labels = std::vector<std::pair<std::string, std::string>>;

// Monotonic integer count.
class Counter {
 public:
  void inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// A value that goes up and down.
class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double delta) { value_.fetch_add(delta, std::memory_order_relaxed); }
  void sub(double delta) { value_.fetch_sub(delta, std::memory_order_relaxed); }
  void inc() { add(1); }
  void dec() { sub(1); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted into fixed buckets (upper bounds, inclusive) plus +Inf, with their sum.
class Histogram {
 public:
  // `upper_bounds` must be finite and strictly increasing (std::invalid_argument otherwise).
  explicit Histogram(std::vector<double> upper_bounds);

  void observe(double v);
  const std::vector<double>& upper_bounds() const { return upper_bounds_; }
  // Cumulative counts per bucket, the last one being +Inf (== count()).
  std::vector<std::uint64_t> cumulative_counts() const;
  std::uint64_t count() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> upper_bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> bucket_counts_;  // per bucket, not cumulative
  std::atomic<double> sum_{0};
};

// Bucket layouts.
std::vector<double> exponential_buckets(double start, double factor, int count);
std::vector<double> linear_buckets(double start, double width, int count);
// 0.5 ms .. 10 s, for request and processing latencies in seconds.
std::vector<double> default_latency_buckets();

class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  Counter& counter(std::string_view name, std::string_view help, const Labels& labels = {});
  Gauge& gauge(std::string_view name, std::string_view help, const Labels& labels = {});
  Histogram& histogram(std::string_view name, std::string_view help,
                       const std::vector<double>& upper_bounds, const Labels& labels = {});

  // Series whose value is computed at scrape time (e.g. a queue's lag). Registering the same
  // name and labels again replaces the callback. Callbacks run under the registry's lock: they
  // must be quick and must not call back into the registry. A callback that throws is skipped.
  void gauge_callback(std::string_view name, std::string_view help, const Labels& labels,
                      std::function<double()> callback);
  void counter_callback(std::string_view name, std::string_view help, const Labels& labels,
                        std::function<double()> callback);
  // Removes a callback series (for instance when the queue it reports on goes away).
  bool remove_callback(std::string_view name, const Labels& labels = {});

  // Text exposition format 0.0.4; families sorted by name, series by labels.
  std::string render() const;
  void render_to(std::string& out) const;

 private:
  enum class Type : std::uint8_t;
  struct Family;
  struct Series;
  Series& series_locked(std::string_view name, std::string_view help, Type type,
                        const Labels& labels, const std::vector<double>* upper_bounds = nullptr);

  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Family>, std::less<>> families_;
};

// The process-wide registry that services and the HTTP server use by default.
Registry& default_registry();

// Prometheus label-value escaping (\\, \", \n).
void append_escaped_label_value(std::string& out, std::string_view value);

}  // namespace sf::metrics
