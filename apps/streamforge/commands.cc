#include "apps/streamforge/commands.h"

#include "services/dummy/dummy_service.h"
#include "tools/normalize.h"

namespace sf::app {

std::span<const Command> commands() {
  static const Command kCommands[] = {
      {"normalize", "Binance payloads (WS, REST, CSV; plain/.gz/.zip) -> normalised JSON lines",
       &tools::normalize_main},
      {"dummy-service", "test worker following the worker contract (telemetry, stop, ping)",
       &services::dummy_main},
  };
  return kCommands;
}

}  // namespace sf::app
