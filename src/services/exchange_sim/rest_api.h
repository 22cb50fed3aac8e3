// Binance spot REST market-data endpoints over a DataIndex: an HttpRequest in, the response
// Binance would give out (body, status and error codes; see docs in exchange_sim.h). Pure request
// handling: rate limits, weight headers and fault injection are ExchangeSim's job.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "runtime/http_types.h"
#include "services/exchange_sim/data_index.h"

namespace sf::services::exchange_sim {

// Binance's content type for REST bodies.
inline constexpr std::string_view kBinanceJsonContentType = "application/json;charset=UTF-8";

// {"code":code,"msg":msg} with the given HTTP status.
runtime::HttpResponse binance_error(int http_status, int code, std::string_view msg);

class RestApi {
 public:
  // A live depth book (the WebSocket replay's true book): the full /api/v3/depth body for a symbol
  // and limit, or nullopt when it has none for the symbol. It takes precedence over the data
  // index's recorded snapshot, so that REST depth agrees with the replayed streams.
  using DepthSource =
      std::function<std::optional<std::string>(std::string_view symbol, std::size_t limit)>;

  // Live trades (the WebSocket replay's recorded trades played so far): the rows of a symbol's
  // trades (agg false) or aggregate trades (agg true), ids ascending, or nullopt when it has none
  // for the symbol. They take precedence over the data index's files, so that trades and
  // aggTrades agree with the replayed streams.
  using TradeSource =
      std::function<std::optional<std::span<const SeriesRow>>(std::string_view symbol, bool agg)>;

  explicit RestApi(const DataIndex& data, DepthSource depth_source = {},
                   TradeSource trade_source = {})
      : data_(data),
        depth_source_(std::move(depth_source)),
        trade_source_(std::move(trade_source)) {}

  // The paths served ("/api/v3/klines", ...).
  static std::span<const std::string_view> paths();

  // Request weight as Binance counts it (depth: by its limit), charged even when the request is
  // then rejected for bad parameters.
  static int weight(std::string_view path, const runtime::HttpRequest& request);

  // `weight_limit` is what exchangeInfo reports as the REQUEST_WEIGHT limit.
  runtime::HttpResponse handle(std::string_view path, const runtime::HttpRequest& request,
                               std::int64_t weight_limit) const;

 private:
  runtime::HttpResponse ping(const runtime::HttpRequest& request) const;
  runtime::HttpResponse time(const runtime::HttpRequest& request) const;
  runtime::HttpResponse exchange_info(const runtime::HttpRequest& request,
                                      std::int64_t weight_limit) const;
  runtime::HttpResponse klines(const runtime::HttpRequest& request) const;
  runtime::HttpResponse agg_trades(const runtime::HttpRequest& request) const;
  runtime::HttpResponse trades(const runtime::HttpRequest& request, bool historical) const;
  runtime::HttpResponse depth(const runtime::HttpRequest& request) const;

  const DataIndex& data_;
  DepthSource depth_source_;
  TradeSource trade_source_;
};

}  // namespace sf::services::exchange_sim
