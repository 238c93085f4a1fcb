#pragma once
#include <map>
#include <string>

#include "controller/app/controller_flags.h"
#include "controller/marathon/sse_parser.h"

namespace mlb::controller {

// Runs mlb-controller until SIGTERM/SIGINT. `env` is the process environment
// (HAPROXY_<NAME> templates, HAPROXY_GLOBAL_DEFAULT_OPTIONS, FRAMEWORK_NAME).
// Returns the process exit code.
int runController(const ControllerFlags& flags, const std::map<std::string, std::string>& env);

// The app an event from Marathon's stream names (appId, or appDefinition.id), so that
// the pass it triggers fetches only that app; "" for a full resync (deployments,
// several data lines, anything else).
std::string eventAppId(const SseEvent& e);

}  // namespace mlb::controller
