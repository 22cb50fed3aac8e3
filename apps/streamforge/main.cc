// streamforge: one binary, one subcommand per service and tool.
#include <cstdio>
#include <cstring>
#include <string_view>

#include "apps/streamforge/commands.h"
#include "core/version.h"

namespace {

void print_usage(std::FILE* out) {
  std::fprintf(out,
               "usage: streamforge <command> [options]\n\n"
               "StreamForge %s: Binance market data through Kafka into storage, aggregates and "
               "models.\n\ncommands:\n",
               sf::kVersion);
  for (const auto& c : sf::app::commands()) std::fprintf(out, "  %-16s %s\n", c.name, c.summary);
  std::fprintf(out,
               "\n'streamforge <command> --help' describes a command.\n"
               "  --version        print the version\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    print_usage(stderr);
    return 2;
  }
  std::string_view cmd = argv[1];
  if (cmd == "--version" || cmd == "version") {
    std::printf("streamforge %s\n", sf::kVersion);
    return 0;
  }
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    print_usage(stdout);
    return 0;
  }
  for (const auto& c : sf::app::commands())
    if (cmd == c.name) return c.main(argc - 1, argv + 1);
  std::fprintf(stderr, "streamforge: unknown command '%s'\n\n", argv[1]);
  print_usage(stderr);
  return 2;
}
