#pragma once
// mlb-controller's flags, with marathon-lb's names and meanings where they apply.
// Every flag can also come from an environment variable MLB_<FLAG> (upper case,
// '-' -> '_'); a flag on the command line wins.
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "controller/marathon/marathon_api.h"
#include "controller/sync/reconciler.h"
#include "controller/sync/sync_loop.h"

namespace mlb::controller {

struct ControllerFlags {
  MarathonConfig marathon;
  ReconcilerOptions reconcile;
  SyncLoopOptions loop;
  std::string state_dir = "/run/mlb";
  std::string templates_dir;
  std::string listen = "0.0.0.0:9102";
  int keep_bundles = 5;
  bool sse = true;  // false: poll every loop.resync_interval (--poll-interval)
  std::chrono::milliseconds silence_timeout{30000};
  bool validate = true;
};

// Parses argv (without the program name) over env. On error returns false with a
// message naming the flag; `help` is set for -h/--help.
bool parseControllerFlags(const std::vector<std::string>& args,
                          const std::map<std::string, std::string>& env, ControllerFlags& out,
                          std::string& error, bool& help);

extern const char* const kControllerUsage;

}  // namespace mlb::controller
