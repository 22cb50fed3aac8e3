#include "exchange/binance/book/book_ticker_check.h"

#include <algorithm>
#include <optional>

namespace sf::binance {
namespace {

// Compares one side; appends a description of any difference to *why.
bool same_level(const char* side, const std::optional<PriceLevel>& book_level, const Decimal& price,
                const Decimal& quantity, std::string* why) {
  if (book_level && book_level->price == price && book_level->quantity == quantity) return true;
  *why += side;
  *why += ": ticker " + price.to_string() + " x " + quantity.to_string() + ", book ";
  *why += book_level ? book_level->price.to_string() + " x " + book_level->quantity.to_string()
                     : std::string("empty");
  *why += "; ";
  return false;
}

}  // namespace

TickerCheckOutcome BookTickerCheck::compare(const OrderBook& book, const HeldTicker& ticker) {
  std::string why;
  const bool bid_ok =
      same_level("bid", book.best_bid(), ticker.bid_price, ticker.bid_quantity, &why);
  const bool ask_ok =
      same_level("ask", book.best_ask(), ticker.ask_price, ticker.ask_quantity, &why);
  if (bid_ok && ask_ok) {
    ++counters_.matches;
    return TickerCheckOutcome::kMatch;
  }
  ++counters_.mismatches;
  last_mismatch_ = "u=" + std::to_string(ticker.update_id) + " " + why;
  return TickerCheckOutcome::kMismatch;
}

TickerCheckOutcome BookTickerCheck::on_ticker(const OrderBook* book, const BookTicker& ticker) {
  const HeldTicker held{ticker.symbol,       ticker.update_id, ticker.bid_price,
                        ticker.bid_quantity, ticker.ask_price, ticker.ask_quantity};
  if (book != nullptr) {
    if (ticker.symbol != book->symbol() || ticker.update_id < book->last_update_id()) {
      ++counters_.not_comparable;
      return TickerCheckOutcome::kNotComparable;
    }
    if (ticker.update_id == book->last_update_id()) return compare(*book, held);
  }
  // Ahead of the book, or no book yet: a later book state may land on this id.
  if (pending_.size() >= max_pending_) {
    pending_.pop_front();
    ++counters_.not_comparable;
  }
  const auto pos = std::upper_bound(
      pending_.begin(), pending_.end(), held.update_id,
      [](std::int64_t id, const HeldTicker& other) { return id < other.update_id; });
  pending_.insert(pos, held);
  return TickerCheckOutcome::kPending;
}

void BookTickerCheck::on_book_updated(const OrderBook& book) {
  const std::int64_t book_id = book.last_update_id();
  while (!pending_.empty() && pending_.front().update_id <= book_id) {
    const HeldTicker& ticker = pending_.front();
    if (ticker.update_id == book_id && ticker.symbol == book.symbol()) {
      (void)compare(book, ticker);
    } else {
      ++counters_.not_comparable;
    }
    pending_.pop_front();
  }
}

void BookTickerCheck::clear_pending() {
  counters_.not_comparable += pending_.size();
  pending_.clear();
}

}  // namespace sf::binance
