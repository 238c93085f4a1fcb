// mlb: the command-line tool. Wiring only.
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "cli/render_command.h"

extern char** environ;

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos) {
      env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
  }
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    std::cout << "usage: mlb render --apps FILE --out DIR [flags]   (mlb render --help)\n";
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "render") {
    return mlb::cli::runRender({args.begin() + 1, args.end()}, env, std::cout, std::cerr);
  }
  std::cerr << "mlb: unknown command '" << args[0] << "'\n";
  return 2;
}
