// mlb-deploy: `mlb deploy` (mlb runs this binary). Wiring only.
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "cli/deploy/deploy_command.h"
#include "common/env.h"

extern char** environ;

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  const std::map<std::string, std::string> env = mlb::common::environmentMap(environ);
  return mlb::cli::runDeploy(args, env, std::cin, std::cout, std::cerr);
}
