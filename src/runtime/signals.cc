#include "runtime/signals.h"

#include <pthread.h>
#include <signal.h>

#include <thread>

namespace sf::runtime {

void install_stop_signals(std::function<void(int)> on_stop) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([set, on_stop = std::move(on_stop)] {
    for (;;) {
      int sig = 0;
      if (sigwait(&set, &sig) == 0) on_stop(sig);
    }
  }).detach();
}

}  // namespace sf::runtime
