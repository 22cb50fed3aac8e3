#include "services/exchange_sim/loop_shift.h"

#include <algorithm>
#include <charconv>
#include <limits>

#include "core/interval.h"
#include "services/exchange_sim/ws_replay.h"

namespace sf::services::exchange_sim {
namespace {

enum class Field : std::uint8_t { kNone, kTime, kTradeId, kAggTradeId, kUpdateId };

// Which shifted quantity the integer at `key` holds; `depth` 1 is the payload object, 2 an object
// inside it (the kline's "k").
Field field_of(StreamKind kind, std::string_view key, int depth) {
  if (depth == 1 && (key == "E" || key == "T")) return Field::kTime;
  switch (kind) {
    case StreamKind::kTrade:
      if (depth == 1 && key == "t") return Field::kTradeId;
      break;
    case StreamKind::kAggTrade:
      if (depth == 1 && key == "a") return Field::kAggTradeId;
      if (depth == 1 && (key == "f" || key == "l")) return Field::kTradeId;
      break;
    case StreamKind::kDepth:
      if (depth == 1 && (key == "U" || key == "u" || key == "pu")) return Field::kUpdateId;
      break;
    case StreamKind::kBookTicker:
      if (depth == 1 && key == "u") return Field::kUpdateId;
      break;
    case StreamKind::kKline:
      if (depth == 2 && (key == "t" || key == "T")) return Field::kTime;
      if (depth == 2 && (key == "f" || key == "L")) return Field::kTradeId;
      break;
    case StreamKind::kOther:
      break;
  }
  return Field::kNone;
}

// Calls on_number(field, value, begin, end) for every integer value of a shifted field, in text
// order; [begin, end) is where its digits are in `json`. Strings are skipped whole, so a price
// string never reads as a number.
template <class OnNumber>
void for_each_shifted_number(std::string_view json, StreamKind kind, OnNumber&& on_number) {
  int depth = 0;
  std::size_t i = 0;
  const std::size_t n = json.size();
  while (i < n) {
    const char c = json[i];
    if (c == '{') {
      ++depth;
      ++i;
    } else if (c == '}') {
      --depth;
      ++i;
    } else if (c == '"') {
      const std::size_t start = ++i;
      while (i < n && json[i] != '"') i += json[i] == '\\' ? 2 : 1;
      const std::string_view text = json.substr(start, std::min(i, n) - start);
      ++i;
      if (i >= n || json[i] != ':') continue;  // a value, not a key
      std::size_t value = i + 1;
      while (value < n && json[value] == ' ') ++value;
      const Field field = field_of(kind, text, depth);
      if (field == Field::kNone || value >= n) continue;
      std::size_t end = value;
      if (end < n && json[end] == '-') ++end;
      while (end < n && json[end] >= '0' && json[end] <= '9') ++end;
      // Integers only: a decimal or exponent is not an id or a millisecond time.
      if (end < n && (json[end] == '.' || json[end] == 'e' || json[end] == 'E')) continue;
      std::int64_t number = 0;
      const auto parsed = std::from_chars(json.data() + value, json.data() + end, number);
      if (parsed.ec != std::errc() || parsed.ptr != json.data() + end) continue;
      on_number(field, number, value, end);
      i = end;
    } else {
      ++i;
    }
  }
}

std::string_view symbol_of(std::string_view stream) {
  return stream.substr(0, stream.find('@'));
}

struct Range {
  std::int64_t min = std::numeric_limits<std::int64_t>::max();
  std::int64_t max = std::numeric_limits<std::int64_t>::min();
  void add(std::int64_t v) {
    min = std::min(min, v);
    max = std::max(max, v);
  }
  std::int64_t span() const { return max >= min ? max - min + 1 : 0; }
};

}  // namespace

StreamKind stream_kind(std::string_view stream) {
  const auto at = stream.find('@');
  if (at == std::string_view::npos) return StreamKind::kOther;
  const std::string_view what = stream.substr(at + 1);
  if (what == "trade") return StreamKind::kTrade;
  if (what == "aggTrade") return StreamKind::kAggTrade;
  if (what == "bookTicker") return StreamKind::kBookTicker;
  if (what.starts_with("depth")) return StreamKind::kDepth;
  if (what.starts_with("kline_")) return StreamKind::kKline;
  return StreamKind::kOther;
}

const IdSpans& LoopSpans::of(std::string_view symbol) const {
  static const IdSpans kNone{};
  const auto it = by_symbol.find(symbol);
  return it == by_symbol.end() ? kNone : it->second;
}

LoopSpans measure_loop_spans(const Capture& capture) {
  struct Ranges {
    Range trade, agg_trade, update;
  };
  std::map<std::string, Ranges, std::less<>> ranges;
  Range time;
  std::int64_t unit_ms = 60'000;
  for (const std::string& stream : capture.streams) {
    if (stream_kind(stream) != StreamKind::kKline) continue;
    if (const auto interval = parse_interval(stream.substr(stream.find('_') + 1))) {
      // A month has no fixed length: a 31-day unit keeps such candles whole.
      const std::int64_t us = interval_micros(*interval);
      unit_ms = std::max(unit_ms, us > 0 ? us / 1000 : std::int64_t{31} * 86'400'000);
    }
  }
  for (const CaptureFrame& frame : capture.frames) {
    const std::string_view stream = capture.streams[frame.stream];
    const StreamKind kind = stream_kind(stream);
    auto found = ranges.find(symbol_of(stream));
    if (found == ranges.end())
      found = ranges.emplace(std::string(symbol_of(stream)), Ranges{}).first;
    Ranges& r = found->second;
    for_each_shifted_number(frame.payload, kind,
                            [&](Field field, std::int64_t v, std::size_t, std::size_t) {
                              switch (field) {
                                case Field::kTime:
                                  time.add(v);
                                  break;
                                case Field::kTradeId:
                                  if (v >= 0) r.trade.add(v);  // a kline without trades has -1
                                  break;
                                case Field::kAggTradeId:
                                  r.agg_trade.add(v);
                                  break;
                                case Field::kUpdateId:
                                  r.update.add(v);
                                  break;
                                case Field::kNone:
                                  break;
                              }
                            });
  }
  LoopSpans spans;
  const std::int64_t time_span = std::max<std::int64_t>(time.span(), 1);
  spans.time_ms = (time_span + unit_ms - 1) / unit_ms * unit_ms;
  for (auto& [symbol, r] : ranges) {
    spans.by_symbol.emplace(symbol, IdSpans{.trade = r.trade.span(),
                                            .agg_trade = r.agg_trade.span(),
                                            .update = r.update.span() + 1});
  }
  return spans;
}

void append_shifted_payload(std::string_view payload, StreamKind kind, const IdSpans& ids,
                            std::int64_t time_span_ms, std::int64_t pass, std::string& out) {
  std::size_t copied = 0;
  char digits[24];
  for_each_shifted_number(
      payload, kind, [&](Field field, std::int64_t v, std::size_t begin, std::size_t end) {
        std::int64_t span = 0;
        switch (field) {
          case Field::kTime:
            span = time_span_ms;
            break;
          case Field::kTradeId:
            span = v >= 0 ? ids.trade : 0;
            break;
          case Field::kAggTradeId:
            span = ids.agg_trade;
            break;
          case Field::kUpdateId:
            span = ids.update;
            break;
          case Field::kNone:
            break;
        }
        if (span == 0) return;
        out.append(payload.substr(copied, begin - copied));
        const auto written = std::to_chars(digits, digits + sizeof digits, v + pass * span);
        out.append(digits, written.ptr);
        copied = end;
      });
  out.append(payload.substr(copied));
}

}  // namespace sf::services::exchange_sim
