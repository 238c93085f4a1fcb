#pragma once
#include <map>
#include <string>

#include "controller/app/controller_flags.h"

namespace mlb::controller {

// Runs mlb-controller until SIGTERM/SIGINT. `env` is the process environment
// (HAPROXY_<NAME> templates, HAPROXY_GLOBAL_DEFAULT_OPTIONS, FRAMEWORK_NAME).
// Returns the process exit code.
int runController(const ControllerFlags& flags, const std::map<std::string, std::string>& env);

}  // namespace mlb::controller
