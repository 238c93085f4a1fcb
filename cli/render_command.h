#pragma once
// `mlb render`: render haproxy.cfg from a saved /v2/apps answer, offline.
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

namespace mlb::cli {

// Runs `mlb render` with argv-style arguments (without "mlb render"). Writes
// DIR/haproxy.cfg, DIR/domain2backend.map and DIR/app2backend.map. Quarantined
// apps are reported on `err` and do not fail the command. Returns the exit code:
// 0 success, 2 bad flags, 1 unreadable or malformed input / templates.
int runRender(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
              std::ostream& out, std::ostream& err);

}  // namespace mlb::cli
