#pragma once
#include "controller/app/controller_flags.h"

namespace mlb::controller {

// Runs mlb-controller until SIGTERM/SIGINT. Returns the process exit code.
int runController(const ControllerFlags& flags);

}  // namespace mlb::controller
