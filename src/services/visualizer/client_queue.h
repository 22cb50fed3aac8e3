// What one dashboard client (a browser's WebSocket) has yet to be sent, bounded so that a slow or
// stuck browser never slows the bus consumer or the other clients (issue 14, docs/queue-manager.md
// "Live updates" for the same idea on workflow notes):
//   - state updates (a symbol's book, the open candle of a symbol and interval, a workflow): one
//     slot per key; a newer update replaces the one still queued (latest wins), so a client that
//     falls behind skips intermediate states instead of piling them up;
//   - stream items (trades, telemetry events, topic records): first in, first out, at most
//     `max_items`; when full the oldest is dropped and counted, and the next take() reports how
//     many were dropped, so the page can show "dropped N" instead of a silent gap.
// The producer side never blocks and never allocates more than the bounds allow.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace sf::services::visualizer {

class ClientQueue {
 public:
  // `max_items`: stream items held at most; `max_keys`: distinct state keys held at most (a
  // client subscribed to more keys than that loses the oldest-queued state, counted as dropped).
  ClientQueue(std::size_t max_items, std::size_t max_keys);

  // Producer side (the hub's thread). Never blocks.
  void put_latest(std::string key, std::string message);
  void put_stream(std::string message);
  // Wakes the consumer; later puts are ignored and take() reports closed once drained.
  void close();

  struct Batch {
    // State updates first, in the order their keys were first queued, then stream items in
    // arrival order.
    std::vector<std::string> messages;
    std::uint64_t dropped = 0;  // stream items (and states) dropped since the last take()
    bool closed = false;        // closed and nothing left
  };
  // Consumer side (the client's thread): waits up to `timeout` for something, then takes all of
  // it.
  Batch take(std::chrono::milliseconds timeout);

  std::uint64_t dropped_total() const;
  std::size_t queued() const;  // messages waiting (states + stream items)

 private:
  const std::size_t max_items_;
  const std::size_t max_keys_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<std::string, std::string> latest_;  // key -> newest message
  std::deque<std::string> latest_order_;                 // keys, first-queued first
  std::deque<std::string> stream_;
  std::uint64_t dropped_since_take_ = 0;
  std::uint64_t dropped_total_ = 0;
  bool closed_ = false;
  bool waiting_ = false;  // a consumer is blocked in take()
};

}  // namespace sf::services::visualizer
