// BookTickerCheck: cross-checks the local book against Binance's own best bid/ask.
//
// A `@bookTicker` carries the order-book update id `u` it was taken at. When the local book's id
// equals that `u`, both describe the same state of the exchange's book, so the best bid and ask
// (price AND quantity) must be identical; any difference means the local book is wrong.
//
// Tickers are real-time while diffs come in 100 ms batches, so a ticker normally arrives BEFORE
// the diff that brings the book to its `u`. A ticker ahead of the book is therefore held until
// the book reaches or passes its id (on_book_updated after each applied diff): it is compared if
// the book lands exactly on it and is not comparable if a diff jumps over it (its `u` fell inside
// the diff's [U, u]; the intermediate state is never visible). On the 2024-08-08/09 BTCUSDT
// capture 1,072 of 73,174 tickers land on a diff's final id.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>

#include "core/events.h"
#include "exchange/binance/book/order_book.h"

namespace sf::binance {

enum class TickerCheckOutcome : std::uint8_t {
  kMatch,
  kMismatch,
  kPending,        // ahead of the book: held until the book reaches its id
  kNotComparable,  // no synced book, another symbol, or the book is already past its id
};

struct TickerCheckCounters {
  std::uint64_t matches = 0;
  std::uint64_t mismatches = 0;
  std::uint64_t not_comparable = 0;  // includes pending tickers the book jumped over or dropped
};

class BookTickerCheck {
 public:
  // `max_pending` bounds the held tickers while the book is invalid; the oldest go first.
  explicit BookTickerCheck(std::size_t max_pending = 10'000) : max_pending_(max_pending) {}

  // A ticker arrives. `book` is the synced book or null.
  TickerCheckOutcome on_ticker(const OrderBook* book, const BookTicker& ticker);
  // The book changed (a diff applied or a snapshot taken): resolves held tickers up to its id.
  void on_book_updated(const OrderBook& book);
  // Forgets held tickers (e.g. on reconnect).
  void clear_pending();

  const TickerCheckCounters& counters() const { return counters_; }
  std::size_t pending() const { return pending_.size(); }
  // What differed in the most recent mismatch ("" if none yet), for logs.
  const std::string& last_mismatch() const { return last_mismatch_; }

 private:
  struct HeldTicker {
    Symbol symbol;
    std::int64_t update_id;
    Decimal bid_price;
    Decimal bid_quantity;
    Decimal ask_price;
    Decimal ask_quantity;
  };

  TickerCheckOutcome compare(const OrderBook& book, const HeldTicker& ticker);

  std::size_t max_pending_;
  std::deque<HeldTicker> pending_;  // ascending update_id
  TickerCheckCounters counters_;
  std::string last_mismatch_;
};

}  // namespace sf::binance
