#pragma once
// Flags of both mlb-reloader commands; each also reads MLB_<FLAG> from the environment.
#include <map>
#include <string>
#include <vector>

#include "common/result.h"
#include "reloader/reload/reload_controller.h"

namespace mlb::reloader {

struct ReloaderFlags {
  ReloaderOptions reload;
  std::string listen = "0.0.0.0:9103";
  double min_reload_interval_s = 0.2;
  double recheck_interval_s = 1.0;
  double wait_bundle_s = 30;  // haproxy: wait this long for a first bundle, then bootstrap
};

// The flags over `defaults`: MLB_<FLAG> from `env`, then `args`. The error names the
// flag (or the variable).
common::Result<ReloaderFlags> parseReloaderFlags(const std::vector<std::string>& args,
                                                 const std::map<std::string, std::string>& env,
                                                 ReloaderFlags defaults = {});

}  // namespace mlb::reloader
