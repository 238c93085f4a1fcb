// mlb: the command-line tool. Wiring only.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "cli/lint_command.h"
#include "cli/render_command.h"
#include "common/env.h"
#include "common/memory.h"

extern char** environ;

// `mlb deploy ARGS` is `mlb-deploy ARGS`, the binary next to this one.
int runDeployBinary(char** argv) {
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  std::string dir = n > 0 ? std::string(self, static_cast<size_t>(n)) : std::string(argv[0]);
  dir = dir.substr(0, dir.rfind('/') + 1);
  const std::string path = dir + "mlb-deploy";
  argv[1] = const_cast<char*>("mlb-deploy");
  ::execv(path.c_str(), argv + 1);
  std::cerr << "mlb deploy: cannot run " << path << ": " << std::strerror(errno) << "\n";
  return 2;
}

// An --apps answer large enough for the huge-page heap to pay for a second start
// (~5 ms): from about 1000 apps.
bool largeInput(const std::vector<std::string>& args) {
  constexpr off_t kLarge = 4 << 20;
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    struct stat st {};
    if (args[i] == "--apps" && ::stat(args[i + 1].c_str(), &st) == 0) {
      return st.st_size >= kLarge;
    }
  }
  return false;
}

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
    if (largeInput(args)) {
      mlb::common::reexecWithHugePageHeap(argv, environ);
    }
    return mlb::cli::runRender({args.begin() + 1, args.end()}, env, std::cout, std::cerr);
  }
  if (args[0] == "lint") {
    return mlb::cli::runLint({args.begin() + 1, args.end()}, std::cin, std::cout, std::cerr);
  }
  if (args[0] == "deploy") {
    return runDeployBinary(argv);
  }
  std::cerr << "mlb: unknown command '" << args[0] << "'\n";
  return 2;
}
