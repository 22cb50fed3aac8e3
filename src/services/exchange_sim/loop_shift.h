// Where a looped replay puts a recorded frame on its N-th pass: every id and exchange time moved on
// by N "spans" of the capture, so that a client sees a market that goes on rather than one that
// jumps back in time (pass 0 is the recording, byte for byte).
//
//   trade ids (@trade `t`, @aggTrade `f`/`l`, @kline `k.f`/`k.L`)   + N x the symbol's trade-id
//   span aggregate trade ids (@aggTrade `a`)                              + N x its aggregate-id
//   span depth update ids (@depth `U`/`u`/`pu`, @bookTicker `u`)          + N x (its update-id span
//   + 1) exchange times in ms (`E`, `T`, @kline `k.t`/`k.T`)              + N x the capture's time
//   span
//
// Trade ids continue without a gap from one pass to the next (the tape goes on); depth update ids
// skip one id at every pass boundary, so that a client that keeps a book sees a gap and resyncs
// from REST /depth (its answer carries the same shift) instead of applying the next pass's diffs to
// the last pass's book. The time span is the capture's exchange-time span rounded up to the longest
// kline interval among its streams (at least one minute), so candles stay on their boundaries.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace sf::services::exchange_sim {

struct Capture;

enum class StreamKind : std::uint8_t { kTrade, kAggTrade, kDepth, kBookTicker, kKline, kOther };

// By the stream name's suffix: "btcusdt@trade", "@aggTrade", "@depth[@100ms]", "@bookTicker",
// "@kline_1m".
StreamKind stream_kind(std::string_view stream);

struct IdSpans {
  std::int64_t trade = 0;
  std::int64_t agg_trade = 0;
  std::int64_t update = 0;
};

struct LoopSpans {
  std::int64_t time_ms = 0;
  std::map<std::string, IdSpans, std::less<>> by_symbol;  // lower-case, as in stream names

  const IdSpans& of(std::string_view symbol) const;
};

// Measures the spans of a loaded capture.
LoopSpans measure_loop_spans(const Capture& capture);

// Appends `payload` (the `data` object of a frame of `kind`) to `out` with its ids and times moved
// on by `pass` spans; everything else is copied byte for byte.
void append_shifted_payload(std::string_view payload, StreamKind kind, const IdSpans& ids,
                            std::int64_t time_span_ms, std::int64_t pass, std::string& out);

}  // namespace sf::services::exchange_sim
