// mlb-reloader: `haproxy` (the haproxy container's entrypoint) and `watch` (the sidecar).
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "reloader/app/reloader_app.h"

extern char** environ;

int main(int argc, char** argv) {
  const char* usage =
      "usage: mlb-reloader haproxy|watch [--state-dir DIR] [--haproxy-bin PATH]\n"
      "  [--listen ADDR:PORT] [--max-old-workers N] [--max-drain-time S] [--stop-grace S]\n"
      "  [--min-reload-interval S] [--recheck-interval S] [--wait-bundle S]\n"
      "Every flag can also be set as MLB_<FLAG> in the environment.\n";
  if (argc < 2) {
    std::cerr << usage;
    return 2;
  }
  std::string cmd = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv = *e;
    if (auto eq = kv.find('='); eq != std::string::npos) {
      env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
  }
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
