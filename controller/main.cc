// mlb-controller: flags -> wiring (controller/app). No logic here.
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "common/env.h"
#include "common/memory.h"
#include "controller/app/controller_app.h"

extern char** environ;

namespace mlb::controller {
extern const char* const kLongHelp;  // docs/labels.md, embedded at build time
}

int main(int argc, char** argv) {
  mlb::common::keepFreedMemory();
  std::vector<std::string> args(argv + 1, argv + argc);
  const std::map<std::string, std::string> env = mlb::common::environmentMap(environ);
  auto parsed = mlb::controller::parseControllerFlags(args, env);
  if (!parsed) {
    std::cerr << "mlb-controller: " << parsed.error().message << "\n"
              << mlb::controller::kControllerUsage;
    return 2;
  }
  const mlb::controller::ControllerFlags& flags = *parsed;
  if (flags.help) {
    std::cout << mlb::controller::kControllerUsage;
    return 0;
  }
  if (flags.longhelp) {
    std::cout << mlb::controller::kControllerUsage << "\n" << mlb::controller::kLongHelp;
    return 0;
  }
  for (const auto& notice : flags.notices) {
    std::cerr << "mlb-controller: " << notice << "\n";
  }
  return mlb::controller::runController(flags, env);
}
