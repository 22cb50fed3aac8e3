// `streamforge visualizer` (visualizer_main.cc).
#pragma once

namespace sf::services {

int visualizer_main(int argc, char** argv);

}  // namespace sf::services
