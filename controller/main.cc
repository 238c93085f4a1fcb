// mlb-controller: flags -> wiring (controller/app). No logic here.
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "controller/app/controller_app.h"

extern char** environ;

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv = *e;
    if (auto eq = kv.find('='); eq != std::string::npos) {
      env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
  }
  mlb::controller::ControllerFlags flags;
  std::string error;
  bool help = false;
  if (!mlb::controller::parseControllerFlags(args, env, flags, error, help)) {
    std::cerr << "mlb-controller: " << error << "\n" << mlb::controller::kControllerUsage;
    return 2;
  }
  if (help) {
    std::cout << mlb::controller::kControllerUsage;
    return 0;
  }
  return mlb::controller::runController(flags, env);
}
