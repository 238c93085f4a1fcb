// mlb-run: marathon-lb's image interface (`run sse|poll [marathon_lb.py args]`) in one
// container: plans the three processes from the arguments and environment, writes the
// certificates given in the environment, and supervises. Wiring only.
#include <sys/stat.h>

#include <iostream>
#include <string>
#include <vector>

#include "cli/run/image_plan.h"
#include "cli/run/posix_children.h"
#include "cli/run/supervisor.h"
#include "common/env.h"
#include "common/fs/files.h"
#include "common/log.h"

extern char** environ;

int main(int argc, char** argv) {
  using namespace mlb;
  cli::ImageInput in;
  in.args.assign(argv + 1, argv + argc);
  cli::scrubSecretArguments(argc, argv);  // /proc/<pid>/cmdline shows this memory
  if (!in.args.empty() && (in.args[0] == "-h" || in.args[0] == "--help")) {
    std::cout << cli::kImageRunUsage;
    return 0;
  }
  in.env = common::environmentMap(environ);
  if (auto it = in.env.find("MLB_CERT_DIR"); it != in.env.end() && !it->second.empty()) {
    in.cert_dir = it->second;
  }
  in.is_directory = [](const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  };
  auto plan = cli::planImageRun(in);
  if (!plan) {
    std::cerr << "mlb-run: " << plan.error().message << "\n" << cli::kImageRunUsage;
    return 1;
  }
  for (const auto& notice : plan->notices) {
    common::logWarn(notice);
  }
  for (const auto& f : plan->files) {
    if (auto st = common::writeFileAtomic(f.path, f.content, 0600); !st) {
      common::logError("cannot write a certificate",
                       {{"path", f.path}, {"error", st.error().message}});
      return 1;
    }
  }
  // The state dir as the HAProxy entrypoint child reads it: its own variable first.
  std::string state = "/run/mlb";
  for (const char* var : {"MLB_RUN_ENTRYPOINT_STATE_DIR", "MLB_STATE_DIR"}) {
    if (auto it = in.env.find(var); it != in.env.end() && !it->second.empty()) {
      state = it->second;
      break;
    }
  }
  cli::PosixChildren procs(common::absolutePath(state));
  return cli::Supervisor(plan->children, procs).run();
}
