// streamforge: one binary, one subcommand per service and tool.
#include <cstdio>
#include <cstring>
#include <string>

#include "core/version.h"

int main(int argc, char** argv) {
  if (argc >= 2 && (std::strcmp(argv[1], "--version") == 0)) {
    std::printf("streamforge %s\n", sf::kVersion);
    return 0;
  }
  std::printf("usage: streamforge <command> [options]\n");
  return argc >= 2 && std::strcmp(argv[1], "--help") == 0 ? 0 : 2;
}
