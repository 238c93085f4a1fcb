// mlb-reloader: `haproxy` (the haproxy container's entrypoint) and `watch` (the sidecar).
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "common/env.h"
#include "common/memory.h"
#include "reloader/app/reloader_app.h"

extern char** environ;

int main(int argc, char** argv) {
  mlb::common::keepFreedMemory();
  const char* usage =
      "usage: mlb-reloader haproxy|watch [--state-dir DIR] [--haproxy-bin PATH]\n"
      "  [--listen ADDR:PORT] [--max-old-workers N] [--max-drain-time S] [--stop-grace S]\n"
      "  [--min-reload-interval S] [--recheck-interval S] [--wait-bundle S]\n"
      "  [--no-runtime] [--drain-timeout S] [--drift-check-interval S]\n"
      "Every flag can also be set as MLB_<FLAG> in the environment.\n";
  if (argc < 2) {
    std::cerr << usage;
    return 2;
  }
  std::string cmd = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  const std::map<std::string, std::string> env = mlb::common::environmentMap(environ);
  if (cmd == "haproxy") {
    return mlb::reloader::runHaproxyEntrypoint(args, env);
  }
  if (cmd == "watch") {
    return mlb::reloader::runWatch(args, env);
  }
  if (cmd == "-h" || cmd == "--help") {
    std::cout << usage;
    return 0;
  }
  std::cerr << "mlb-reloader: unknown command '" << cmd << "'\n" << usage;
  return 2;
}
