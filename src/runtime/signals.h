// SIGINT/SIGTERM handling for service processes: the signals are blocked in every thread and
// received by one watcher thread, which calls the stop callback (no async-signal-safety traps).
#pragma once

#include <functional>

namespace sf::runtime {

// Call at the start of main(), before any thread exists. `on_stop(signal)` runs on the watcher
// thread for each SIGINT/SIGTERM.
void install_stop_signals(std::function<void(int)> on_stop);

}  // namespace sf::runtime
