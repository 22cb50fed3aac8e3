#include "core/wire.h"

#include <charconv>

namespace sf::wire {
namespace {

// Appenders: keys are compile-time literals that need no escaping; symbols are [A-Z0-9_-].
class Out {
 public:
  explicit Out(std::string& s) : s_(s) {}

  void open(const char* type) {
    s_ += "{\"v\":";
    integer(kSchemaVersion);
    s_ += ",\"type\":\"";
    s_ += type;
    s_ += '"';
  }
  void close() { s_ += '}'; }

  void key(const char* k) {
    s_ += ",\"";
    s_ += k;
    s_ += "\":";
  }
  void integer(std::int64_t v) {
    char buf[24];
    auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
    s_.append(buf, p);
  }
  void decimal(const Decimal& d) {
    char buf[Decimal::kMaxTextLength + 2];
    buf[0] = '"';
    std::size_t n = d.format_to(buf + 1);
    buf[n + 1] = '"';
    s_.append(buf, n + 2);
  }
  void symbol(const Symbol& sym) {
    s_ += '"';
    s_ += sym.view();
    s_ += '"';
  }
  void boolean(bool b) { s_ += b ? "true" : "false"; }
  void levels(const std::vector<PriceLevel>& levels) {
    s_ += '[';
    bool first = true;
    for (const auto& l : levels) {
      if (!first) s_ += ',';
      first = false;
      s_ += '[';
      decimal(l.price);
      s_ += ',';
      decimal(l.quantity);
      s_ += ']';
    }
    s_ += ']';
  }

  void field(const char* k, std::int64_t v) { key(k), integer(v); }
  void field(const char* k, const Decimal& v) { key(k), decimal(v); }
  void field(const char* k, const Symbol& v) { key(k), symbol(v); }
  void field_bool(const char* k, bool v) { key(k), boolean(v); }

  // Times, receive time and sequence id close every record the same way.
  void footer(TimestampUs event_time, TimestampUs receive_time, std::int64_t seq) {
    field("event_time", event_time);
    field("receive_time", receive_time);
    field("seq", seq);
  }

 private:
  std::string& s_;
};

}  // namespace

void encode(const Trade& e, std::string& s) {
  Out o(s);
  o.open("trade");
  o.field("symbol", e.symbol);
  o.field("trade_id", e.trade_id);
  o.field("price", e.price);
  o.field("quantity", e.quantity);
  o.field("timestamp", e.trade_time);
  o.field_bool("is_buyer_maker", e.is_buyer_maker);
  if (e.is_best_match) o.field_bool("is_best_match", *e.is_best_match);
  o.footer(e.event_time, e.receive_time, e.sequence_id());
  o.close();
}

void encode(const AggTrade& e, std::string& s) {
  Out o(s);
  o.open("agg_trade");
  o.field("symbol", e.symbol);
  o.field("trade_id", e.agg_trade_id);
  o.field("price", e.price);
  o.field("quantity", e.quantity);
  o.field("first_trade_id", e.first_trade_id);
  o.field("last_trade_id", e.last_trade_id);
  o.field("timestamp", e.trade_time);
  o.field_bool("is_buyer_maker", e.is_buyer_maker);
  if (e.is_best_match) o.field_bool("is_best_match", *e.is_best_match);
  o.footer(e.event_time, e.receive_time, e.sequence_id());
  o.close();
}

void encode(const Candle& e, std::string& s) {
  Out o(s);
  o.open("candle");
  o.field("symbol", e.symbol);
  o.key("interval");
  s += '"';
  s += interval_name(e.interval);
  s += '"';
  o.field("open_time", e.open_time);
  o.field("open", e.open);
  o.field("high", e.high);
  o.field("low", e.low);
  o.field("close", e.close);
  o.field("volume", e.volume);
  o.field("close_time", e.close_time);
  o.field("quote_asset_volume", e.quote_asset_volume);
  o.field("number_of_trades", e.number_of_trades);
  o.field("taker_buy_base_asset_volume", e.taker_buy_base_asset_volume);
  o.field("taker_buy_quote_asset_volume", e.taker_buy_quote_asset_volume);
  o.field("ignore", e.ignore);
  if (e.first_trade_id >= 0) o.field("first_trade_id", e.first_trade_id);
  if (e.last_trade_id >= 0) o.field("last_trade_id", e.last_trade_id);
  o.field_bool("is_closed", e.is_closed);
  o.footer(e.event_time, e.receive_time, e.sequence_id());
  o.close();
}

void encode(const DepthUpdate& e, std::string& s) {
  Out o(s);
  o.open("depth_update");
  o.field("symbol", e.symbol);
  o.field("first_update_id", e.first_update_id);
  o.field("final_update_id", e.final_update_id);
  if (e.prev_final_update_id) o.field("prev_final_update_id", *e.prev_final_update_id);
  o.key("bids");
  o.levels(e.bids);
  o.key("asks");
  o.levels(e.asks);
  o.footer(e.event_time, e.receive_time, e.sequence_id());
  o.close();
}

void encode(const DepthSnapshot& e, std::string& s) {
  Out o(s);
  o.open("depth_snapshot");
  o.field("symbol", e.symbol);
  o.field("last_update_id", e.last_update_id);
  o.key("bids");
  o.levels(e.bids);
  o.key("asks");
  o.levels(e.asks);
  o.field_bool("is_partial", e.is_partial);
  o.footer(e.event_time, e.receive_time, e.sequence_id());
  o.close();
}

void encode(const BookTicker& e, std::string& s) {
  Out o(s);
  o.open("book_ticker");
  o.field("symbol", e.symbol);
  o.field("update_id", e.update_id);
  o.field("bid_price", e.bid_price);
  o.field("bid_quantity", e.bid_quantity);
  o.field("ask_price", e.ask_price);
  o.field("ask_quantity", e.ask_quantity);
  o.footer(e.event_time, e.receive_time, e.sequence_id());
  o.close();
}

void encode(const IndicatorValue& e, std::string& s) {
  Out o(s);
  o.open("indicator");
  o.field("symbol", e.symbol);
  o.key("interval");
  s += '"';
  s += interval_name(e.interval);
  s += "\",\"name\":\"";
  s += e.name;  // indicator names are [a-z0-9_]
  s += '"';
  o.field("open_time", e.open_time);
  o.key("value");
  char buf[32];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, e.value);
  s.append(buf, p);
  o.field("seq", micros_to_millis(e.open_time));
  o.close();
}

void encode(const MarketEvent& event, std::string& out) {
  std::visit([&](const auto& e) { encode(e, out); }, event);
}

}  // namespace sf::wire
