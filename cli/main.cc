// mlb: the command-line tool. Wiring only.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
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

// The size of the --apps file (0 when absent). From about 1000 apps (4 MB) the
// huge-page heap pays for itself.
constexpr off_t kLargeInput = 4 << 20;
off_t inputSize(const std::vector<std::string>& args) {
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    struct stat st {};
    if (args[i] == "--apps" && ::stat(args[i + 1].c_str(), &st) == 0) {
      return st.st_size;
    }
  }
  return 0;
}

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  const std::map<std::string, std::string> env = mlb::common::environmentMap(environ);
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    std::cout
        << "usage: mlb render --apps FILE --out DIR [flags]   (mlb render --help)\n"
           "       mlb lint [--group G]... [--strict-mode] [--marathon URL] FILE...  (mlb lint "
           "--help)\n"
           "       mlb deploy -j APP.json -m MARATHON -l LB_URL [flags]  (mlb deploy --help)\n";
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "render") {
    if (const off_t size = inputSize(args); size >= kLargeInput) {
      mlb::common::adviseHugePageHeap(std::max<size_t>(size_t{1} << 30, 16 * size));
    }
    // The rendering's memory is left to the kernel at exit (never freed; held by a
    // static, so that a leak checker sees it reachable).
    static mlb::cli::RenderMemory* const keep = mlb::cli::newRenderMemory();
    return mlb::cli::runRender({args.begin() + 1, args.end()}, env, std::cout, std::cerr, keep);
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
