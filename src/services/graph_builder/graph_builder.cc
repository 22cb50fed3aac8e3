#include "services/graph_builder/graph_builder.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <unordered_map>

#include "ml/graph/graph_store.h"
#include "runtime/json_writer.h"
#include "runtime/log.h"
#include "runtime/service.h"
#include "runtime/store_options.h"
#include "services/queue_manager/registry.h"

namespace sf::services {
namespace {

constexpr const char* kService = "graph-builder";

std::string day(TimestampUs t) {
  return format_iso8601(t).substr(0, 10);
}

// Price-level indicators are turned into distances from the close (see indicator_columns).
double relative_to_close(const std::string& name, double value, double close) {
  auto starts = [&name](std::string_view p) { return name.rfind(p, 0) == 0; };
  if (starts("sma_") || starts("ema_") || starts("vwap") || starts("bb_upper") ||
      starts("bb_middle") || starts("bb_lower"))
    return close > 0 ? value / close - 1 : std::nan("");
  if (starts("atr_")) return close > 0 ? value / close : std::nan("");
  return value;
}

}  // namespace

Result<std::vector<ml::ExtraColumn>, std::string> indicator_columns(
    store::Store& store, const std::vector<Candle>& candles,
    const std::vector<std::string>& names) {
  std::vector<ml::ExtraColumn> out;
  if (candles.empty()) return out;
  std::unordered_map<TimestampUs, std::size_t> row;
  for (std::size_t i = 0; i < candles.size(); ++i) row[candles[i].open_time] = i;
  const store::TimeRange range{candles.front().open_time, candles.back().open_time + 1};
  for (const auto& name : names) {
    auto values = store.indicators(candles.front().symbol, candles.front().interval, name, range);
    if (!values) return unexpected("indicator " + name + ": " + values.error().message);
    if (values->empty())
      return unexpected("INDICATOR_FEATURES: no stored values of '" + name + "' for " +
                        std::string(candles.front().symbol.view()) + " " +
                        std::string(interval_name(candles.front().interval)) +
                        " in the range (run indicator-calculator and persist its output first)");
    ml::ExtraColumn col{"ind_" + name, std::vector<double>(candles.size(), std::nan(""))};
    for (const auto& v : *values)
      if (auto it = row.find(v.open_time); it != row.end())
        col.values[it->second] =
            relative_to_close(name, v.value, candles[it->second].close.to_double());
    out.push_back(std::move(col));
  }
  return out;
}

Result<std::vector<ml::ExtraColumn>, std::string> trade_columns(store::Store& store,
                                                                const std::vector<Candle>& candles,
                                                                std::int64_t* trades_seen) {
  *trades_seen = 0;
  std::vector<ml::ExtraColumn> out;
  if (candles.empty()) return out;
  const std::int64_t step = interval_micros(candles.front().interval);
  if (step <= 0 || step > 86'400'000'000LL)
    return unexpected(std::string("TRADE_FEATURES needs an interval of at most 1d"));
  std::unordered_map<TimestampUs, std::size_t> row;
  for (std::size_t i = 0; i < candles.size(); ++i) row[candles[i].open_time] = i;
  const std::size_t n = candles.size();
  std::vector<std::int64_t> count(n, 0);
  std::vector<double> qty(n, 0), taker_buy(n, 0), largest(n, 0);
  constexpr std::int64_t kDay = 86'400'000'000LL;
  const TimestampUs end = candles.back().open_time + step;
  // A day at a time: a month of BTCUSDT aggregate trades would not fit in memory comfortably.
  for (TimestampUs day = candles.front().open_time; day < end; day += kDay) {
    auto trades = store.agg_trades(candles.front().symbol, {day, std::min(day + kDay, end)});
    if (!trades) return unexpected("aggregate trades: " + trades.error().message);
    for (const AggTrade& t : *trades) {
      auto it = row.find(t.trade_time - ((t.trade_time % step) + step) % step);
      if (it == row.end()) continue;
      const std::size_t i = it->second;
      const double q = t.quantity.to_double();
      ++count[i];
      qty[i] += q;
      if (!t.is_buyer_maker) taker_buy[i] += q;
      largest[i] = std::max(largest[i], q);
      ++*trades_seen;
    }
  }
  if (*trades_seen == 0) return out;
  ml::ExtraColumn log_count{"at_log_count", std::vector<double>(n, std::nan(""))};
  ml::ExtraColumn buy_ratio{"at_taker_buy_ratio", log_count.values};
  ml::ExtraColumn max_share{"at_max_share", log_count.values};
  ml::ExtraColumn mean_qty{"at_log_mean_qty", log_count.values};
  for (std::size_t i = 0; i < n; ++i) {
    if (count[i] == 0 || !(qty[i] > 0)) continue;
    log_count.values[i] = std::log1p(static_cast<double>(count[i]));
    buy_ratio.values[i] = taker_buy[i] / qty[i];
    max_share.values[i] = largest[i] / qty[i];
    mean_qty.values[i] = std::log(qty[i] / static_cast<double>(count[i]));
  }
  out = {std::move(log_count), std::move(buy_ratio), std::move(max_share), std::move(mean_qty)};
  return out;
}

void add_graph_builder_options(runtime::ConfigParser& parser) {
  parser.add({.name = "GRAPH_KIND", .default_value = "candles", .help = "candles or assets"});
  parser.add({.name = "GRAPH_NAME",
              .default_value = "",
              .help = "graph name (directory under GRAPH_DIR)"});
  parser.add({.name = "GRAPH_COLLECTION_NAME",
              .default_value = "",
              .help = "the original's name for GRAPH_NAME"});
  parser.add(
      {.name = "COLLECTION_INPUTS",
       .default_value = "",
       .help = "the original's input collections (informative: candles come from the store)"});
  parser.add({.name = "GRAPH_DIR",
              .default_value = "./data/graphs",
              .help = "graphs are also exported here as CSV + JSON (empty: store only)",
              .scope = runtime::OptionScope::kPlatform});
  parser.add({.name = "LAGS",
              .type = runtime::OptionType::kInt,
              .default_value = "3",
              .help = "candles: temporal edges t-1..t-LAGS -> t"});
  parser.add({.name = "SIMILARITY_TOP_M",
              .type = runtime::OptionType::kInt,
              .default_value = "3",
              .help = "candles: similarity edges from the most similar past nodes"});
  parser.add({.name = "TRAIN_FRACTION",
              .type = runtime::OptionType::kDouble,
              .default_value = "0.7",
              .help = "normalisation is fitted on this leading fraction of nodes"});
  parser.add({.name = "FLAT_BAND",
              .type = runtime::OptionType::kDouble,
              .default_value = "0.0005",
              .help = "direction labels: |log return| below this is FLAT"});
  parser.add({.name = "VOL_HORIZON",
              .type = runtime::OptionType::kInt,
              .default_value = "12",
              .help = "volatility labels: realized volatility of the next N candles"});
  parser.add({.name = "CORRELATION_THRESHOLD",
              .type = runtime::OptionType::kDouble,
              .default_value = "0.5",
              .help = "assets: keep |correlation| >= this"});
  parser.add({.name = "INDICATOR_FEATURES",
              .default_value = "",
              .help = "candles: stored indicator columns added as features (e.g. atr_14,sma_20)"});
  parser.add(
      {.name = "TRADE_FEATURES",
       .default_value = "auto",
       .help = "candles: features from stored aggregate trades: auto (when stored), on, off"});
  runtime::add_store_options(parser);
}

Result<GraphBuilderOptions, std::string> graph_builder_options_from(const runtime::Config& config) {
  GraphBuilderOptions o;
  o.kind = config.get_string("GRAPH_KIND");
  if (o.kind != "candles" && o.kind != "assets")
    return unexpected(std::string("GRAPH_KIND must be candles or assets"));
  for (const auto& s : runtime::split_list(config.get_string("SYMBOL"))) {
    auto sym = Symbol::parse(s);
    if (!sym) return unexpected("SYMBOL: '" + s + "' is not a symbol");
    o.symbols.push_back(*sym);
  }
  if (o.symbols.empty()) return unexpected(std::string("SYMBOL is required"));
  if (o.kind == "candles" && o.symbols.size() != 1)
    return unexpected(std::string("GRAPH_KIND candles takes one SYMBOL"));
  if (o.kind == "assets" && o.symbols.size() < 2)
    return unexpected(std::string("GRAPH_KIND assets takes at least two symbols"));
  const auto iv = config.get_string("INTERVAL");
  auto interval = parse_interval(iv.empty() ? "5m" : iv);
  if (!interval) return unexpected("INTERVAL: '" + iv + "' is not a Binance interval");
  o.interval = *interval;
  const auto range = config.get_string("TIME_RANGE");
  const auto colon = range.find(':');
  if (colon == std::string::npos || !parse_date(range.substr(0, colon), &o.from) ||
      !parse_date(range.substr(colon + 1), &o.to) || o.to <= o.from)
    return unexpected("TIME_RANGE: '" + range + "' is not YYYY-MM-DD:YYYY-MM-DD (end after start)");
  o.graph_dir = config.get_string("GRAPH_DIR");
  o.graph_name = config.get_string("GRAPH_NAME");
  if (o.graph_name.empty()) o.graph_name = config.get_string("GRAPH_COLLECTION_NAME");
  o.candles.lags = static_cast<int>(config.get_int("LAGS"));
  o.candles.similarity_top_m = static_cast<int>(config.get_int("SIMILARITY_TOP_M"));
  o.candles.train_fraction = o.assets.train_fraction = config.get_double("TRAIN_FRACTION");
  o.assets.threshold = config.get_double("CORRELATION_THRESHOLD");
  o.flat_band = config.get_double("FLAT_BAND");
  o.vol_horizon = static_cast<int>(config.get_int("VOL_HORIZON"));
  o.indicator_features = runtime::split_list(config.get_string("INDICATOR_FEATURES"));
  o.trade_features = config.get_string("TRADE_FEATURES");
  if (o.trade_features != "auto" && o.trade_features != "on" && o.trade_features != "off")
    return unexpected(std::string("TRADE_FEATURES must be auto, on or off"));
  if (o.kind == "assets" && (!o.indicator_features.empty() || o.trade_features == "on"))
    return unexpected(
        std::string("INDICATOR_FEATURES and TRADE_FEATURES apply to GRAPH_KIND candles only"));
  if (o.candles.lags < 1 || o.candles.similarity_top_m < 0 || o.vol_horizon < 2 ||
      o.candles.train_fraction <= 0 || o.candles.train_fraction >= 1)
    return unexpected(
        std::string("LAGS >= 1, SIMILARITY_TOP_M >= 0, VOL_HORIZON >= 2, 0 < TRAIN_FRACTION < 1"));
  return o;
}

std::function<runtime::WorkResult(runtime::WorkerContext&)> graph_builder_body(
    GraphBuilderOptions o, store::Store& store) {
  return [o = std::move(o), &store](runtime::WorkerContext& ctx) -> runtime::WorkResult {
    std::vector<std::vector<Candle>> series;
    for (const auto& sym : o.symbols) {
      auto c = store.candles(sym, o.interval, {o.from, o.to});
      if (!c) return {runtime::Outcome::kError, "cannot read candles: " + c.error().message, "{}"};
      std::vector<Candle> closed;
      for (auto& candle : *c)
        if (candle.is_closed) closed.push_back(candle);
      log::info(kService, "candles read", {{"symbol", sym.view()}, {"candles", closed.size()}});
      series.push_back(std::move(closed));
      if (ctx.stop_requested()) return {runtime::Outcome::kInterrupted, "stopped", "{}"};
    }
    Result<ml::Graph, std::string> graph = unexpected(std::string());
    if (o.kind == "candles") {
      if (series[0].size() < 64)
        return {runtime::Outcome::kError,
                "too few candles for a graph: " + std::to_string(series[0].size()) + " of " +
                    std::string(o.symbols[0].view()) + " " +
                    std::string(interval_name(o.interval)) + " in the range (need 64)",
                "{}"};
      auto extra = indicator_columns(store, series[0], o.indicator_features);
      if (!extra) return {runtime::Outcome::kError, extra.error(), "{}"};
      if (o.trade_features != "off") {
        std::int64_t trades = 0;
        auto cols = trade_columns(store, series[0], &trades);
        if (!cols) return {runtime::Outcome::kError, cols.error(), "{}"};
        if (trades == 0 && o.trade_features == "on")
          return {runtime::Outcome::kError,
                  "TRADE_FEATURES=on but the store holds no aggregate trades of " +
                      std::string(o.symbols[0].view()) + " in the range",
                  "{}"};
        log::info(kService, "trade features", {{"agg_trades", trades}, {"columns", cols->size()}});
        extra->insert(extra->end(), cols->begin(), cols->end());
      }
      if (ctx.stop_requested()) return {runtime::Outcome::kInterrupted, "stopped", "{}"};
      graph = ml::build_candle_graph(series[0], o.candles, *extra);
    } else {
      graph = ml::build_asset_graph(series, o.assets);
    }
    if (!graph) return {runtime::Outcome::kError, "graph: " + graph.error(), "{}"};
    ml::LabelledGraph labelled;
    labelled.graph = std::move(*graph);
    labelled.vol_horizon = o.vol_horizon;
    labelled.graph.params.emplace_back("flat_band", o.flat_band);
    if (o.kind == "candles") {
      const auto direction = ml::direction_labels(series[0], o.flat_band);
      labelled.direction.assign(direction.begin(), direction.end());
      labelled.volatility = ml::volatility_labels(series[0], o.vol_horizon);
    } else {
      ml::asset_labels(series, o.assets, labelled.graph.num_nodes(), o.flat_band, o.vol_horizon,
                       &labelled.direction, &labelled.volatility);
    }
    const ml::Graph& g = labelled.graph;
    std::string name = o.graph_name;
    if (name.empty()) {
      name = o.symbols[0].lower() + "_" + o.kind + "_" + std::string(interval_name(o.interval)) +
             "_" + day(o.from);
      // Names start with a letter (ArangoDB's rule); symbols such as 1INCHUSDT do not.
      if (name[0] >= '0' && name[0] <= '9') name = "g_" + name;
    }
    if (!valid_graph_name(name))
      return {runtime::Outcome::kError,
              "GRAPH_NAME '" + name + "': 1-200 of [A-Za-z0-9_-], starting with a letter", "{}"};
    // The store is the system of record; the directory is the export for pandas / PyG and the
    // trainer's local copy.
    auto record = ml::to_graph_record(labelled, name, static_cast<double>(now_micros()) / 1e6);
    if (auto r = store.replace_graph(record); !r)
      return {runtime::Outcome::kError, "cannot store graph " + name + ": " + r.error().message,
              "{}"};
    log::info(kService, "graph stored",
              {{"graph", name},
               {"store", std::string(store.kind())},
               {"nodes", g.num_nodes()},
               {"edges", g.edges.size()}});
    std::string dir;
    if (!o.graph_dir.empty()) {
      dir = (std::filesystem::path(o.graph_dir) / name).string();
      if (auto r = ml::export_labelled_graph(labelled, dir); !r)
        return {runtime::Outcome::kError, r.error(), "{}"};
    }
    ctx.add_records(static_cast<std::int64_t>(g.num_nodes() + g.edges.size()));
    std::string extra;
    runtime::JsonWriter w(extra);
    w.begin_object()
        .field("graph", name)
        .field("store", std::string(store.kind()))
        .field("graph_dir", dir)
        .field("kind", o.kind)
        .field("nodes", static_cast<std::int64_t>(g.num_nodes()))
        .field("edges", static_cast<std::int64_t>(g.edges.size()))
        .field("features", static_cast<std::int64_t>(g.num_features()))
        .field("train_nodes", static_cast<std::int64_t>(g.train_nodes))
        .end_object();
    return {runtime::Outcome::kFinished,
            "graph " + name + ": " + std::to_string(g.num_nodes()) + " nodes, " +
                std::to_string(g.edges.size()) + " edges, in the " + std::string(store.kind()) +
                " store" + (dir.empty() ? std::string() : " and " + dir),
            extra};
  };
}

int graph_builder_main(int argc, char** argv) {
  return qm::run_hosted_service("graph-builder", argc, argv);
}

}  // namespace sf::services
