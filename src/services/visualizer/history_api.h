// The dashboard's history over HTTP, read from the store (docs/visualizer.md):
//   GET /api/v1/history/candles?symbol=S&interval=I[&from=F][&to=T][&limit=N]
//   GET /api/v1/history/trades?symbol=S[&from=F][&to=T][&limit=N]
//   GET /api/v1/history/agg-trades?symbol=S[&from=F][&to=T][&limit=N]
//   GET /api/v1/history/indicators?symbol=S&interval=I&name=X[&from=F][&to=T][&limit=N]
// F and T: unix milliseconds or YYYY-MM-DD (UTC), the half-open range [F, T); T defaults to now and
// F to 24 h before T. limit (1..5000, default 500): the newest N records of the range. The body is
// {"symbol":S,"count":N,"records":[...]}, records as the bus carries them (docs/schemas.md), in
// time order. A bad parameter is a 400 naming it; a store failure a 500.
//   GET /api/v1/history/book?symbol=S[&from_id=A][&to_id=B][&limit=N]
// stored order-book snapshots whose last_update_id is in [A, B], the newest N (default 10).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "runtime/http_server.h"
#include "store/store.h"

namespace sf::services::visualizer {

void install_history_routes(runtime::HttpServer& server, store::Store& store);

// The integer query parameter `key` in [lo, hi]; `fallback` when absent, nullopt when bad (for
// every dashboard route that takes one).
std::optional<std::int64_t> int_param(const runtime::HttpRequest& r, std::string_view key,
                                      std::int64_t fallback, std::int64_t lo, std::int64_t hi);

}  // namespace sf::services::visualizer
