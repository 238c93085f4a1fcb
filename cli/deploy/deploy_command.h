#pragma once
// `mlb deploy`: wiring of the deployer to the real edges (HTTP, clock, processes).
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

namespace mlb::cli {

// args without "mlb deploy". The exit code of bluegreen_deploy.py (see deploy/bluegreen.h).
int runDeploy(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
              std::istream& in, std::ostream& out, std::ostream& err);

}  // namespace mlb::cli
