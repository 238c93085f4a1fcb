#pragma once
#include <map>
#include <string>
#include <vector>

namespace mlb::reloader {

// `mlb-reloader haproxy ...`: the haproxy container's entrypoint. Execs HAProxy;
// returns only on error (the exit code).
int runHaproxyEntrypoint(const std::vector<std::string>& args,
                         const std::map<std::string, std::string>& env);
// `mlb-reloader watch ...`: the sidecar loop. Returns the exit code.
int runWatch(const std::vector<std::string>& args, const std::map<std::string, std::string>& env);

}  // namespace mlb::reloader
