#include "ml/train/dataset.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <numeric>
#include <sstream>

namespace sf::ml::train {

const char* to_string(Task t) {
  return t == Task::kDirection ? "direction" : "volatility";
}

namespace {

std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> out;
  std::string cell;
  std::istringstream in(line);
  while (std::getline(in, cell, ',')) out.push_back(cell);
  if (!line.empty() && line.back() == ',') out.emplace_back();
  return out;
}

}  // namespace

Result<Dataset, std::string> load_dataset(const std::filesystem::path& dir) {
  auto g = ml::import_graph(dir);
  if (!g) return unexpected("graph " + dir.string() + ": " + g.error());
  Dataset d;
  d.graph = std::move(*g);
  const std::size_t n = d.graph.num_nodes();
  d.direction.assign(n, -1);
  d.volatility.assign(n, std::numeric_limits<double>::quiet_NaN());
  std::ifstream in(dir / "labels.csv");
  if (!in) return unexpected("no labels.csv in " + dir.string());
  std::string line;
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  const auto header = split_csv(line);
  const std::string prefix = "volatility_next_";
  if (header.size() != 4 || header[0] != "node" || header[2] != "direction" ||
      header[3].rfind(prefix, 0) != 0)
    return unexpected(
        std::string("labels.csv header must be node,open_time,direction,volatility_next_N"));
  d.vol_horizon = std::atoi(header[3].c_str() + prefix.size());
  std::size_t row = 1;
  while (std::getline(in, line)) {
    ++row;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const auto cells = split_csv(line);
    auto bad = [&](const std::string& why) {
      return unexpected("labels.csv line " + std::to_string(row) + ": " + why);
    };
    if (cells.size() != 4) return bad("expected 4 columns");
    long long node = -1;
    int dir_label = -1;
    auto r1 = std::from_chars(cells[0].data(), cells[0].data() + cells[0].size(), node);
    auto r2 = std::from_chars(cells[2].data(), cells[2].data() + cells[2].size(), dir_label);
    if (r1.ec != std::errc() || r2.ec != std::errc()) return bad("node and direction are integers");
    if (node < 0 || static_cast<std::size_t>(node) >= n) return bad("node out of range");
    if (dir_label < -1 || dir_label > 2) return bad("direction must be -1, 0, 1 or 2");
    const auto i = static_cast<std::size_t>(node);
    d.direction[i] = dir_label;
    if (!cells[3].empty()) {
      char* end = nullptr;
      const double v = std::strtod(cells[3].c_str(), &end);
      if (end == cells[3].c_str()) return bad("volatility is not a number");
      d.volatility[i] = v;
    }
  }
  return d;
}

bool parse_graph_source(std::string_view text, GraphSource* out) {
  if (text == "auto" || text.empty()) {
    *out = GraphSource::kAuto;
  } else if (text == "store") {
    *out = GraphSource::kStore;
  } else if (text == "dir") {
    *out = GraphSource::kDir;
  } else {
    return false;
  }
  return true;
}

Result<std::string, std::string> prepare_graph_dir(store::Store* store, const std::string& name,
                                                   const std::filesystem::path& dir,
                                                   GraphSource source) {
  if (!valid_graph_name(name) || dir.filename() != name)
    return unexpected("graph '" + name + "': not a graph name, or " + dir.string() +
                      " is not its directory");
  if (source != GraphSource::kDir && store != nullptr) {
    auto stored = store->graph(name);
    if (!stored)
      return unexpected("reading graph " + name + " from the store: " + stored.error().message);
    if (stored->has_value()) {
      auto labelled = ml::from_graph_record(**stored);
      if (!labelled) return unexpected(labelled.error());
      // Written to a sibling and swapped in, so a crash never leaves a half-written directory.
      // Unique per process and call: two runs of one graph never share the temporary directory.
      static std::atomic<int> calls{0};
      const auto tmp =
          dir.parent_path() / (dir.filename().string() + ".from-store." +
                               std::to_string(::getpid()) + "." + std::to_string(calls++) + ".tmp");
      std::error_code ec;
      std::filesystem::remove_all(tmp, ec);
      if (auto r = ml::export_labelled_graph(*labelled, tmp); !r) return unexpected(r.error());
      std::filesystem::remove_all(dir, ec);
      std::filesystem::rename(tmp, dir, ec);
      if (ec)
        return unexpected("cannot move " + tmp.string() + " to " + dir.string() + ": " +
                          ec.message());
      return std::string("store");
    }
  }
  if (source == GraphSource::kStore)
    return unexpected(store == nullptr ? "GRAPH_SOURCE=store but no store is configured"
                                       : "the store holds no graph named '" + name + "'");
  if (!std::filesystem::exists(dir / "meta.json"))
    return unexpected("graph " + name + " is neither in the store nor in " + dir.string());
  return std::string("dir");
}

Split chronological_split(const ml::Graph& graph, const std::vector<bool>& labelled,
                          double train_fraction, double validation_fraction, std::size_t embargo) {
  Split s;
  std::vector<std::int64_t> eligible;
  for (std::size_t i = 0; i < graph.num_nodes(); ++i) {
    if (i < graph.warmup_nodes) {
      ++s.excluded_warmup;
    } else if (!labelled[i]) {
      ++s.excluded_unlabelled;
    } else {
      eligible.push_back(static_cast<std::int64_t>(i));
    }
  }
  auto time = [&](std::int64_t i) { return graph.node_time[static_cast<std::size_t>(i)]; };
  std::stable_sort(eligible.begin(), eligible.end(),
                   [&](std::int64_t a, std::int64_t b) { return time(a) < time(b); });
  const std::size_t n = eligible.size();
  // Moves pos forward past nodes sharing the time of node pos - 1.
  auto past_ties = [&](std::size_t pos) {
    while (pos > 0 && pos < n && time(eligible[pos]) == time(eligible[pos - 1])) ++pos;
    return pos;
  };
  const auto n_train =
      static_cast<std::size_t>(std::floor(static_cast<double>(n) * train_fraction));
  const auto n_val =
      static_cast<std::size_t>(std::floor(static_cast<double>(n) * validation_fraction));
  std::size_t train_end = past_ties(std::min(n_train, n));
  std::size_t val_begin = past_ties(std::min(train_end + embargo, n));
  std::size_t val_end = past_ties(std::min(val_begin + n_val, n));
  std::size_t test_begin = past_ties(std::min(val_end + embargo, n));
  s.train.assign(eligible.begin(), eligible.begin() + static_cast<std::ptrdiff_t>(train_end));
  s.validation.assign(eligible.begin() + static_cast<std::ptrdiff_t>(val_begin),
                      eligible.begin() + static_cast<std::ptrdiff_t>(val_end));
  s.test.assign(eligible.begin() + static_cast<std::ptrdiff_t>(test_begin), eligible.end());
  s.embargoed = (val_begin - train_end) + (test_begin - val_end);
  return s;
}

}  // namespace sf::ml::train
