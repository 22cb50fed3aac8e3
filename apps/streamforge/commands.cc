#include "apps/streamforge/commands.h"

#include "services/arango_connector/arango_connector.h"
#include "services/dummy/dummy_service.h"
#include "services/exchange_sim/exchange_sim.h"
#include "services/graph_builder/graph_builder.h"
#include "services/indicator_calculator/indicator_calculator.h"
#include "services/loader_producer/loader_producer.h"
#include "services/loader_ws/loader_ws.h"
#include "services/platform/platform.h"
#include "services/queue_manager/registry.h"
#include "services/visualizer/visualizer_main.h"
#include "tools/candles.h"
#include "tools/ctl.h"
#include "tools/indicators.h"
#include "tools/normalize.h"
#include "tools/workflow_cli.h"

namespace sf::app {

std::span<const Command> commands() {
  static const Command kCommands[] = {
      {"run", "the whole platform in one process (in-process bus, SQLite store, HTTP API)",
       &services::run_main},
      {"normalize", "Binance payloads (WS, REST, CSV; plain/.gz/.zip) -> normalised JSON lines",
       &tools::normalize_main},
      {"candles", "kline CSV or trade records -> candles of any interval (Binance 12-column CSV)",
       &tools::candles_main},
      {"indicators", "kline CSV -> indicator columns (SMA EMA RSI MACD BBANDS ATR VWAP OBV RV)",
       &tools::indicators_main},
      {"visualizer", "the live dashboard on its own (candles, book, tape, workflows, topics)",
       &services::visualizer_main},
      {"queue-manager", "the workflow orchestrator on its own: local processes or Kubernetes Jobs",
       &services::queue_manager_main},
      {"workflow", "start/list/show/stop workflows and follow their events (queue-manager API)",
       &tools::workflow_main},
      {"ctl", "send ping/stop to a queue's workers; print ping round trips", &tools::ctl_main},
      {"loader-producer", "historical data (REST or data.binance.vision) onto the bus, resumable",
       &services::loader_producer_main},
      {"loader-ws",
       "live WebSocket trades (deduplicated, gaps repaired) or synced depth onto the bus",
       &services::loader_ws_main},
      {"arango-connector", "bus -> store (SQLite, PostgreSQL, ArangoDB): batched, idempotent, DLQ",
       &services::arango_connector_main},
      {"indicator-calculator",
       "trades or candles -> candles + indicators on the bus (INDICATORS_CONFIG)",
       &services::indicator_calculator_main},
      {"graph-builder", "stored candles -> a market graph (nodes, edges, labels) for gnn-trainer",
       &services::graph_builder_main},
#ifdef SF_HAVE_TRAIN
      {"gnn-trainer",
       "a graph (graph-builder) -> a GNN (GCN, GraphSAGE, GAT, GATv2) vs baselines, metrics.json",
       +[](int argc, char** argv) {
         return services::qm::run_hosted_service("gnn-trainer", argc, argv);
       }},
      {"gnn-infer",
       "a stored model scores the newest graph nodes -> predictions on the bus and in the store",
       +[](int argc, char** argv) {
         return services::qm::run_hosted_service("gnn-infer", argc, argv);
       }},
#endif
      {"dummy-service", "test worker following the worker contract (telemetry, stop, ping)",
       &services::dummy_main},
      {"exchange-sim", "local Binance spot REST server over recorded data, with fault injection",
       &services::exchange_sim::exchange_sim_main},
  };
  return kCommands;
}

}  // namespace sf::app
