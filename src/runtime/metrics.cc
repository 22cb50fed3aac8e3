#include "runtime/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace sf::metrics {
namespace {

bool is_name_start(char c, bool allow_colon) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (allow_colon && c == ':');
}
bool is_name_char(char c, bool allow_colon) {
  return is_name_start(c, allow_colon) || (c >= '0' && c <= '9');
}

void validate_metric_name(std::string_view name) {
  bool valid = !name.empty() && is_name_start(name[0], true);
  for (char c : name) valid = valid && is_name_char(c, true);
  if (!valid) throw std::invalid_argument("invalid metric name '" + std::string(name) + "'");
}

// Sorted by name, validated, no duplicates.
Labels canonical_labels(std::string_view metric, const Labels& labels, bool histogram) {
  Labels sorted = labels;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    const std::string& name = sorted[i].first;
    bool valid = !name.empty() && is_name_start(name[0], false) && !name.starts_with("__");
    for (char c : name) valid = valid && is_name_char(c, false);
    if (!valid || (histogram && name == "le")) {
      throw std::invalid_argument("invalid label name '" + name + "' on metric '" +
                                  std::string(metric) + "'");
    }
    if (i > 0 && sorted[i - 1].first == name) {
      throw std::invalid_argument("duplicate label '" + name + "' on metric '" +
                                  std::string(metric) + "'");
    }
  }
  return sorted;
}

void append_double(std::string& out, double v) {
  if (std::isnan(v)) {
    out.append("NaN");
  } else if (std::isinf(v)) {
    out.append(v > 0 ? "+Inf" : "-Inf");
  } else {
    char buffer[32];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, v);
    out.append(buffer, result.ptr);
  }
}

void append_uint(std::string& out, std::uint64_t v) {
  char buffer[24];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, v);
  out.append(buffer, result.ptr);
}

void append_help(std::string& out, std::string_view help) {
  for (char c : help) {
    if (c == '\\') {
      out.append("\\\\");
    } else if (c == '\n') {
      out.append("\\n");
    } else {
      out.push_back(c);
    }
  }
}

// name{a="x",b="y"[,le="..."]} — braces omitted when there are no labels at all.
void append_series_name(std::string& out, std::string_view name, std::string_view suffix,
                        const Labels& labels, const std::string* le = nullptr) {
  out.append(name).append(suffix);
  if (labels.empty() && le == nullptr) return;
  out.push_back('{');
  bool first = true;
  for (const auto& [label, value] : labels) {
    if (!first) out.push_back(',');
    first = false;
    out.append(label).append("=\"");
    append_escaped_label_value(out, value);
    out.push_back('"');
  }
  if (le != nullptr) {
    if (!first) out.push_back(',');
    out.append("le=\"").append(*le).push_back('"');
  }
  out.push_back('}');
}

}  // namespace

void append_escaped_label_value(std::string& out, std::string_view value) {
  for (char c : value) {
    if (c == '\\') {
      out.append("\\\\");
    } else if (c == '"') {
      out.append("\\\"");
    } else if (c == '\n') {
      out.append("\\n");
    } else {
      out.push_back(c);
    }
  }
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)),
      bucket_counts_(new std::atomic<std::uint64_t>[upper_bounds_.size() + 1]) {
  for (std::size_t i = 0; i < upper_bounds_.size(); ++i) {
    if (!std::isfinite(upper_bounds_[i]) || (i > 0 && upper_bounds_[i] <= upper_bounds_[i - 1])) {
      throw std::invalid_argument("histogram bucket bounds must be finite and strictly increasing");
    }
  }
  for (std::size_t i = 0; i <= upper_bounds_.size(); ++i) bucket_counts_[i].store(0);
}

void Histogram::observe(double v) {
  // Bucket i counts v <= upper_bounds_[i]; NaN lands only in +Inf.
  const std::size_t index =
      std::isnan(v) ? upper_bounds_.size()
                    : static_cast<std::size_t>(
                          std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), v) -
                          upper_bounds_.begin());
  bucket_counts_[index].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

std::vector<std::uint64_t> Histogram::cumulative_counts() const {
  std::vector<std::uint64_t> counts(upper_bounds_.size() + 1);
  std::uint64_t running = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    running += bucket_counts_[i].load(std::memory_order_relaxed);
    counts[i] = running;
  }
  return counts;
}

std::uint64_t Histogram::count() const {
  return cumulative_counts().back();
}

std::vector<double> exponential_buckets(double start, double factor, int count) {
  std::vector<double> bounds;
  double bound = start;
  for (int i = 0; i < count; ++i, bound *= factor) bounds.push_back(bound);
  return bounds;
}

std::vector<double> linear_buckets(double start, double width, int count) {
  std::vector<double> bounds;
  for (int i = 0; i < count; ++i) bounds.push_back(start + width * i);
  return bounds;
}

std::vector<double> default_latency_buckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

enum class Registry::Type : std::uint8_t { kCounter, kGauge, kHistogram };

struct Registry::Series {
  std::unique_ptr<Counter> counter;
  std::unique_ptr<Gauge> gauge;
  std::unique_ptr<Histogram> histogram;
  std::function<double()> callback;
};

struct Registry::Family {
  std::string help;
  Type type;
  std::vector<double> upper_bounds;  // histograms only
  std::map<Labels, Series> series;
};

Registry::Registry() = default;
Registry::~Registry() = default;

Registry::Series& Registry::series_locked(std::string_view name, std::string_view help, Type type,
                                          const Labels& labels,
                                          const std::vector<double>* upper_bounds) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    validate_metric_name(name);
    auto family = std::make_unique<Family>();
    family->help = std::string(help);
    family->type = type;
    if (upper_bounds != nullptr) family->upper_bounds = *upper_bounds;
    it = families_.emplace(std::string(name), std::move(family)).first;
  }
  Family& family = *it->second;
  if (family.type != type) {
    throw std::logic_error("metric '" + std::string(name) +
                           "' already registered with another type");
  }
  if (upper_bounds != nullptr && family.upper_bounds != *upper_bounds) {
    throw std::logic_error("histogram '" + std::string(name) +
                           "' already registered with other buckets");
  }
  return family.series[canonical_labels(name, labels, type == Type::kHistogram)];
}

Counter& Registry::counter(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  Series& series = series_locked(name, help, Type::kCounter, labels);
  if (series.callback) {
    throw std::logic_error("metric '" + std::string(name) + "' series is a callback");
  }
  if (!series.counter) series.counter = std::make_unique<Counter>();
  return *series.counter;
}

Gauge& Registry::gauge(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  Series& series = series_locked(name, help, Type::kGauge, labels);
  if (series.callback) {
    throw std::logic_error("metric '" + std::string(name) + "' series is a callback");
  }
  if (!series.gauge) series.gauge = std::make_unique<Gauge>();
  return *series.gauge;
}

Histogram& Registry::histogram(std::string_view name, std::string_view help,
                               const std::vector<double>& upper_bounds, const Labels& labels) {
  std::lock_guard lock(mutex_);
  Series& series = series_locked(name, help, Type::kHistogram, labels, &upper_bounds);
  if (!series.histogram) series.histogram = std::make_unique<Histogram>(upper_bounds);
  return *series.histogram;
}

void Registry::gauge_callback(std::string_view name, std::string_view help, const Labels& labels,
                              std::function<double()> callback) {
  std::lock_guard lock(mutex_);
  Series& series = series_locked(name, help, Type::kGauge, labels);
  if (series.gauge) {
    throw std::logic_error("metric '" + std::string(name) + "' series is not a callback");
  }
  series.callback = std::move(callback);
}

void Registry::counter_callback(std::string_view name, std::string_view help, const Labels& labels,
                                std::function<double()> callback) {
  std::lock_guard lock(mutex_);
  Series& series = series_locked(name, help, Type::kCounter, labels);
  if (series.counter) {
    throw std::logic_error("metric '" + std::string(name) + "' series is not a callback");
  }
  series.callback = std::move(callback);
}

bool Registry::remove_callback(std::string_view name, const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto it = families_.find(name);
  if (it == families_.end()) return false;
  Labels sorted = labels;
  std::sort(sorted.begin(), sorted.end());
  auto& all_series = it->second->series;
  auto series = all_series.find(sorted);
  if (series == all_series.end() || !series->second.callback) return false;
  all_series.erase(series);
  return true;
}

std::string Registry::render() const {
  std::string out;
  render_to(out);
  return out;
}

void Registry::render_to(std::string& out) const {
  std::lock_guard lock(mutex_);
  for (const auto& [name, family] : families_) {
    if (family->series.empty()) continue;
    out.append("# HELP ").append(name).push_back(' ');
    append_help(out, family->help);
    out.append("\n# TYPE ").append(name);
    switch (family->type) {
      case Type::kCounter:
        out.append(" counter\n");
        break;
      case Type::kGauge:
        out.append(" gauge\n");
        break;
      case Type::kHistogram:
        out.append(" histogram\n");
        break;
    }
    for (const auto& [labels, series] : family->series) {
      if (series.histogram) {
        const Histogram& histogram = *series.histogram;
        const auto counts = histogram.cumulative_counts();
        std::string le;
        for (std::size_t i = 0; i < counts.size(); ++i) {
          le.clear();
          if (i < histogram.upper_bounds().size()) {
            append_double(le, histogram.upper_bounds()[i]);
          } else {
            le = "+Inf";
          }
          append_series_name(out, name, "_bucket", labels, &le);
          out.push_back(' ');
          append_uint(out, counts[i]);
          out.push_back('\n');
        }
        append_series_name(out, name, "_sum", labels);
        out.push_back(' ');
        append_double(out, histogram.sum());
        out.push_back('\n');
        append_series_name(out, name, "_count", labels);
        out.push_back(' ');
        append_uint(out, counts.back());
        out.push_back('\n');
        continue;
      }
      std::string value;
      if (series.counter) {
        append_uint(value, series.counter->value());
      } else if (series.gauge) {
        append_double(value, series.gauge->value());
      } else if (series.callback) {
        try {
          append_double(value, series.callback());
        } catch (...) {
          continue;  // a broken callback must not break the whole scrape
        }
      } else {
        continue;
      }
      append_series_name(out, name, "", labels);
      out.push_back(' ');
      out.append(value);
      out.push_back('\n');
    }
  }
}

Registry& default_registry() {
  static Registry* registry = new Registry();  // never destroyed: usable during static teardown
  return *registry;
}

}  // namespace sf::metrics
