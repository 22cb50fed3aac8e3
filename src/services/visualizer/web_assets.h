// The dashboard's page (web/src and the charting library from npm), embedded in the binary at build
// time by cmake/embed_files.cmake, so `streamforge run` serves it with nothing installed beside.
#pragma once

#include <span>
#include <string_view>

namespace sf::services::visualizer {

struct WebAsset {
  std::string_view path;  // "/index.html", "/app.js", "/vendor/lightweight-charts.js"
  std::string_view body;
};

std::span<const WebAsset> web_assets();

}  // namespace sf::services::visualizer
