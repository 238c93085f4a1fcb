// mlb: the command-line tool. Wiring only.
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "cli/deploy/deploy_command.h"
#include "cli/lint_command.h"
#include "cli/render_command.h"
#include "common/env.h"
#include "common/memory.h"

extern char** environ;

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  const std::map<std::string, std::string> env = mlb::common::environmentMap(environ);
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    std::cout
        << "usage: mlb render --apps FILE --out DIR [flags]   (mlb render --help)\n"
           "       mlb lint [--group G]... [--strict-mode] FILE...  (mlb lint --help)\n"
           "       mlb deploy -j APP.json -m MARATHON -l LB_URL [flags]  (mlb deploy --help)\n";
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "render") {
    mlb::common::reexecWithHugePageHeap(argv, environ);
    return mlb::cli::runRender({args.begin() + 1, args.end()}, env, std::cout, std::cerr);
  }
  if (args[0] == "lint") {
    return mlb::cli::runLint({args.begin() + 1, args.end()}, std::cin, std::cout, std::cerr);
  }
  if (args[0] == "deploy") {
    return mlb::cli::runDeploy({args.begin() + 1, args.end()}, env, std::cin, std::cout, std::cerr);
  }
  std::cerr << "mlb: unknown command '" << args[0] << "'\n";
  return 2;
}
