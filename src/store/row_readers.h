// Builds each record from a row whose columns come in the store's column order. Shared by the
// SQLite and PostgreSQL stores: `Reader` is each backend's column reader, read left to right.
#pragma once

#include "core/events.h"
#include "store/records.h"

namespace sf::store::rows {

template <class Reader>
Trade read_trade(Reader& r) {
  return Trade{.symbol = r.symbol(),
               .trade_id = r.int64(),
               .price = r.decimal(),
               .quantity = r.decimal(),
               .trade_time = r.int64(),
               .event_time = r.int64(),
               .receive_time = r.int64(),
               .is_buyer_maker = r.boolean(),
               .is_best_match = r.optional_boolean()};
}

template <class Reader>
AggTrade read_agg_trade(Reader& r) {
  return AggTrade{.symbol = r.symbol(),
                  .agg_trade_id = r.int64(),
                  .price = r.decimal(),
                  .quantity = r.decimal(),
                  .first_trade_id = r.int64(),
                  .last_trade_id = r.int64(),
                  .trade_time = r.int64(),
                  .event_time = r.int64(),
                  .receive_time = r.int64(),
                  .is_buyer_maker = r.boolean(),
                  .is_best_match = r.optional_boolean()};
}

template <class Reader>
Candle read_candle(Reader& r) {
  return Candle{.symbol = r.symbol(),
                .interval = r.interval(),
                .open_time = r.int64(),
                .open = r.decimal(),
                .high = r.decimal(),
                .low = r.decimal(),
                .close = r.decimal(),
                .volume = r.decimal(),
                .close_time = r.int64(),
                .quote_asset_volume = r.decimal(),
                .number_of_trades = r.int64(),
                .taker_buy_base_asset_volume = r.decimal(),
                .taker_buy_quote_asset_volume = r.decimal(),
                .ignore = r.decimal(),
                .first_trade_id = r.int64(),
                .last_trade_id = r.int64(),
                .is_closed = r.boolean(),
                .event_time = r.int64(),
                .receive_time = r.int64()};
}

template <class Reader>
DepthSnapshot read_depth_snapshot(Reader& r) {
  return DepthSnapshot{.symbol = r.symbol(),
                       .last_update_id = r.int64(),
                       .bids = r.levels(),
                       .asks = r.levels(),
                       .is_partial = r.boolean(),
                       .event_time = r.int64(),
                       .receive_time = r.int64()};
}

template <class Reader>
IndicatorValue read_indicator(Reader& r) {
  return IndicatorValue{.symbol = r.symbol(),
                        .interval = r.interval(),
                        .name = r.string(),
                        .open_time = r.int64(),
                        .value = r.real()};
}

template <class Reader>
TelemetryEvent read_telemetry(Reader& r) {
  return TelemetryEvent{.queue_id = r.string(),
                        .producer = r.string(),
                        .symbol = r.string(),
                        .type = r.string(),
                        .status = r.string(),
                        .message = r.string(),
                        .records_written = r.int64(),
                        .finished = r.boolean(),
                        .timestamp = r.real(),
                        .extra = r.string()};
}

template <class Reader>
WorkflowState read_workflow(Reader& r) {
  return WorkflowState{.queue_id = r.string(),
                       .status = r.string(),
                       .definition = r.string(),
                       .created_at = r.real(),
                       .updated_at = r.real()};
}

}  // namespace sf::store::rows
