// The CLI's command table. A command appears here only once it works.
#pragma once

#include <span>

namespace sf::app {

struct Command {
  const char* name;
  const char* summary;
  int (*main)(int argc, char** argv);  // argv[0] is the command name
};

std::span<const Command> commands();

}  // namespace sf::app
