#pragma once
// `mlb lint` over several apps (files, a group, a /v2/apps answer): what one app's
// labels cannot show. Two apps on one service port (HAProxy binds both with
// SO_REUSEPORT and splits the traffic), two apps on one backend name (the second is
// quarantined), two apps claiming one vhost and path outside one deployment group
// (requests go to whichever rule comes first).
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cli/lint_command.h"
#include "controller/model/service.h"

namespace mlb::cli {

// Errors for the collisions between the services of `model` (every app built
// together). `assigned`: the (app id, service port) pairs that stand in for a port 0
// Marathon assigns at deploy; they never collide. Pure.
std::vector<LintFinding> collisionFindings(const controller::ServiceModel& model,
                                           const std::set<std::pair<std::string, int>>& assigned);

}  // namespace mlb::cli
