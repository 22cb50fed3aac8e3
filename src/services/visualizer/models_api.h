// The dashboard's Models view over HTTP (docs/visualizer.md "Models"), read scope:
//   GET /api/v1/models                    every trained model version under the model directory
//                                         (gnn-trainer's MODEL_DIR/<name>/v<N>/metrics.json):
//                                         {"models":[{"name","version","metrics":{...}}]}, names
//                                         in order, newest version first; a version whose
//                                         metrics.json is missing or not JSON is listed with
//                                         "error" instead of "metrics"
//   GET /api/v1/graphs                    the stored graphs' metadata
//   GET /api/v1/graphs/{name}/snapshot[?time=US]
//                                         one time slice of a graph: its nodes at the newest node
//                                         time (or the newest at or before US) and the edges
//                                         among them; 404 for an unknown graph
#pragma once

#include <string>

#include "runtime/http_server.h"
#include "store/store.h"

namespace sf::services::visualizer {

void install_models_routes(runtime::HttpServer& server, store::Store& store, std::string model_dir);

}  // namespace sf::services::visualizer
