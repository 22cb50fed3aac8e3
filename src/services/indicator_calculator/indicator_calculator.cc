#include "services/indicator_calculator/indicator_calculator.h"

#include <cmath>
#include <iostream>
#include <map>
#include <memory>

#include "analytics/indicators.h"
#include "core/wire.h"
#include "core/wire_decode.h"
#include "runtime/dead_letter.h"
#include "runtime/log.h"
#include "runtime/metrics.h"
#include "runtime/service.h"
#include "runtime/signals.h"
#include "services/queue_manager/registry.h"

namespace sf::services {
namespace {

using namespace std::chrono_literals;
constexpr std::string_view kService = "indicator-calculator";

class Calculator {
 public:
  Calculator(runtime::WorkerContext& ctx, const CalculatorOptions& o, CalculatorStats& stats,
             std::vector<analytics::IndicatorSpec> specs)
      : ctx_(ctx), o_(o), stats_(stats), specs_(std::move(specs)) {}

  runtime::WorkResult run() {
    auto consumer = ctx_.bus().subscribe({.topics = o_.topics,
                                          .group = o_.group,
                                          .start = bus::StartFrom::kEarliest,
                                          .offsets = {}});
    if (!consumer) return fail("subscribe: " + consumer.error().message);
    auto& c = **consumer;
    while (!ctx_.stop_requested()) {
      auto msgs = c.poll(200ms, 2000);
      if (!msgs) return fail("poll: " + msgs.error().message);
      for (const auto& m : *msgs) {
        ++stats_.consumed;
        handle(m);
        if (!publish_error_.empty()) return fail(publish_error_);
      }
      if (!msgs->empty()) {
        if (auto r = commit(c); !r.empty()) return fail(r);
      } else if (o_.finish_at_end_of_topic && c.assigned() && c.lag() == 0) {
        for (auto& [sym, st] : symbols_) {
          if (st->agg) st->agg->flush();
          if (st->rollup) st->rollup->flush();
        }
        if (!publish_error_.empty()) return fail(publish_error_);
        if (auto r = commit(c); !r.empty()) return fail(r);
        c.close();
        return {runtime::Outcome::kFinished, "end of topic", extra()};
      }
    }
    if (auto r = commit(c); !r.empty()) return fail(r);
    c.close();
    return {runtime::Outcome::kInterrupted, "", extra()};
  }

 private:
  struct SymbolState {
    std::string candles_topic, indicators_topic;
    std::unique_ptr<analytics::TradeCandleAggregator> agg;
    std::unique_ptr<analytics::CandleRollup> rollup;
    std::unique_ptr<analytics::IndicatorSet> set;
  };

  runtime::WorkResult fail(const std::string& message) {
    log::error(kService, "stopping on error", {{"error", message}});
    return {runtime::Outcome::kError, message, extra()};
  }

  std::string extra() const {
    return "{\"candles\":" + std::to_string(stats_.candles.load()) +
           ",\"indicators\":" + std::to_string(stats_.indicators.load()) +
           ",\"bad_records\":" + std::to_string(stats_.bad_records.load()) + "}";
  }

  std::string commit(bus::Consumer& c) {
    if (auto r = ctx_.bus().flush(30s); !r) return "flush: " + r.error().message;
    if (auto r = c.commit(); !r) return "commit: " + r.error().message;
    return {};
  }

  // A record it cannot use goes to `<topic>.dlq` (delivered before the offsets are committed:
  // commit() flushes the bus first) and is counted; the stream goes on.
  void bad(const bus::Message& m, const std::string& reason) {
    ++stats_.bad_records;
    metrics::default_registry()
        .counter("sf_indicator_calculator_dead_letters_total",
                 "records sent to the dead-letter topic")
        .inc();
    log::warn(kService, "record sent to dead-letter topic",
              {{"reason", reason}, {"topic", m.topic}, {"offset", m.offset}});
    const std::string topic = m.topic + std::string(runtime::kDeadLetterSuffix);
    if (auto r = ctx_.bus().publish(
            topic, m.key, runtime::dead_letter_record(m, reason, ctx_.settings().producer));
        !r && publish_error_.empty())
      publish_error_ = "publish to " + topic + ": " + r.error().message;
  }

  SymbolState& state(const Symbol& s) {
    auto it = symbols_.find(s);
    if (it != symbols_.end()) return *it->second;
    auto st = std::make_unique<SymbolState>();
    const std::string iv(interval_name(o_.interval));
    st->candles_topic = o_.candles_topic.empty() ? s.lower() + "-candles-" + iv : o_.candles_topic;
    st->indicators_topic =
        o_.indicators_topic.empty() ? s.lower() + "-indicators-" + iv : o_.indicators_topic;
    for (const auto* t : {&st->candles_topic, &st->indicators_topic})
      if (auto r = ctx_.bus().create_topic(*t, 1); !r && publish_error_.empty())
        publish_error_ = "create topic " + *t + ": " + r.error().message;
    auto set = analytics::IndicatorSet::create(specs_);  // validated before the run
    st->set = std::make_unique<analytics::IndicatorSet>(std::move(set).value());
    SymbolState* raw = st.get();
    auto sink = [this, raw](const Candle& c) { on_candle(*raw, c); };
    st->agg = std::make_unique<analytics::TradeCandleAggregator>(
        analytics::AggregatorOptions{
            .symbol = s, .interval = o_.interval, .empty_buckets = o_.empty_candles},
        sink);
    st->rollup = std::make_unique<analytics::CandleRollup>(o_.interval, sink);
    return *symbols_.emplace(s, std::move(st)).first->second;
  }

  void publish(const std::string& topic, const Symbol& key) {
    if (!publish_error_.empty()) return;
    if (auto r = ctx_.bus().publish(topic, key.view(), buf_); !r)
      publish_error_ = "publish to " + topic + ": " + r.error().message;
    else
      ctx_.add_records(1);
  }

  void on_candle(SymbolState& st, const Candle& c) {
    buf_.clear();
    wire::encode(c, buf_);
    publish(st.candles_topic, c.symbol);
    ++stats_.candles;
    if (!c.is_closed) return;  // only closed candles move the indicators
    auto values = st.set->update(c);
    const auto& names = st.set->columns();
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (std::isnan(values[i])) continue;
      IndicatorValue v{.symbol = c.symbol,
                       .interval = c.interval,
                       .name = names[i],
                       .open_time = c.open_time,
                       .value = values[i]};
      buf_.clear();
      wire::encode(v, buf_);
      publish(st.indicators_topic, c.symbol);
      ++stats_.indicators;
    }
  }

  void handle(const bus::Message& m) {
    auto rec = decoder_.decode(m.value);
    if (!rec) return bad(m, rec.error().message());
    if (!rec->event) {
      ++stats_.skipped;
      return;
    }
    const MarketEvent& ev = *rec->event;
    if (const auto* t = std::get_if<Trade>(&ev)) {
      if (auto r = state(t->symbol).agg->add(*t); !r) bad(m, analytics::to_string(r.error()));
    } else if (const auto* a = std::get_if<AggTrade>(&ev)) {
      if (auto r = state(a->symbol).agg->add(*a); !r) bad(m, analytics::to_string(r.error()));
    } else if (const auto* c = std::get_if<Candle>(&ev)) {
      if (!c->is_closed) {
        ++stats_.skipped;  // a still-updating WS kline: its closed version follows
        return;
      }
      auto& st = state(c->symbol);
      if (c->interval == o_.interval) {
        on_candle(st, *c);
      } else if (auto r = st.rollup->add(*c); !r) {
        bad(m, analytics::to_string(r.error()));
      }
    } else if (const auto* d = std::get_if<DepthSnapshot>(&ev)) {
      state(d->symbol).set->on_book(*d);
    } else {
      ++stats_.skipped;
    }
  }

  runtime::WorkerContext& ctx_;
  const CalculatorOptions& o_;
  CalculatorStats& stats_;
  std::vector<analytics::IndicatorSpec> specs_;
  wire::Decoder decoder_;
  std::map<Symbol, std::unique_ptr<SymbolState>> symbols_;
  std::string buf_;
  std::string publish_error_;
};

}  // namespace

std::function<runtime::WorkResult(runtime::WorkerContext&)> calculator_body(
    CalculatorOptions options, CalculatorStats* stats) {
  return [options = std::move(options), stats](runtime::WorkerContext& ctx) {
    auto specs = analytics::parse_indicators_config(options.indicators_config);
    if (!specs) return runtime::WorkResult{runtime::Outcome::kError, specs.error(), "{}"};
    if (auto check = analytics::IndicatorSet::create(*specs); !check)
      return runtime::WorkResult{runtime::Outcome::kError, check.error(), "{}"};
    CalculatorStats local;
    Calculator calc(ctx, options, stats ? *stats : local, std::move(specs).value());
    return calc.run();
  };
}

void add_calculator_options(runtime::ConfigParser& parser) {
  parser.add({.name = "INDICATORS_CONFIG",
              .default_value = "",
              .help = "JSON list of {name, params} (docs/analytics.md); empty: all defaults"});
  parser.add({.name = "CANDLES_TOPIC",
              .default_value = "",
              .help = "output topic for candles (default <symbol>-candles-<interval>)"});
  parser.add({.name = "INDICATORS_TOPIC",
              .default_value = "",
              .help = "output topic for indicators (default <symbol>-indicators-<interval>)"});
  parser.add({.name = "CONSUMER_GROUP",
              .default_value = "",
              .help = "consumer group (default indicator-calculator-<QUEUE_ID>)"});
  parser.add({.name = "EMPTY_CANDLES",
              .default_value = "flat",
              .help = "intervals without trades: flat (as Binance in normal trading) or skip"});
  parser.add({.name = "FINISH_WHEN",
              .default_value = "never",
              .help = "never (run until stopped) or end-of-topic"});
}

Result<CalculatorOptions, std::string> calculator_options_from(const runtime::Config& config) {
  CalculatorOptions o;
  o.topics = runtime::split_list(config.get_string("KAFKA_TOPIC"));
  if (o.topics.empty()) {
    return unexpected(std::string("KAFKA_TOPIC is required"));
  }
  const auto iv = config.get_string("INTERVAL");
  auto interval = parse_interval(iv.empty() ? "1m" : iv);
  if (!interval) {
    return unexpected("invalid INTERVAL '" + iv + "'");
  }
  o.interval = *interval;
  o.indicators_config = config.get_string("INDICATORS_CONFIG");
  if (auto check = analytics::IndicatorSet::from_json(o.indicators_config); !check) {
    return unexpected(check.error());
  }
  o.candles_topic = config.get_string("CANDLES_TOPIC");
  o.indicators_topic = config.get_string("INDICATORS_TOPIC");
  const auto queue_id = config.get_string("QUEUE_ID");
  o.group = config.get_string("CONSUMER_GROUP");
  if (o.group.empty())
    o.group = "indicator-calculator-" + (queue_id.empty() ? "default" : queue_id);
  const auto empty = config.get_string("EMPTY_CANDLES");
  if (empty != "flat" && empty != "skip") {
    return unexpected(std::string("EMPTY_CANDLES must be flat or skip"));
  }
  o.empty_candles =
      empty == "flat" ? analytics::EmptyBuckets::kFlat : analytics::EmptyBuckets::kSkip;
  const auto finish = config.get_string("FINISH_WHEN");
  if (finish != "never" && finish != "end-of-topic") {
    return unexpected(std::string("FINISH_WHEN must be never or end-of-topic"));
  }
  o.finish_at_end_of_topic = finish == "end-of-topic";

  return o;
}

int indicator_calculator_main(int argc, char** argv) {
  return qm::run_hosted_service("indicator-calculator", argc, argv);
}

}  // namespace sf::services
