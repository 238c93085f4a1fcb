#include "cli/lint_collisions.h"

#include <map>

namespace mlb::cli {
namespace {

using controller::Service;
using Level = LintFinding::Level;

// The first service of each key, and an error for every later one of another app.
template <typename Key>
class ClaimBook {
 public:
  explicit ClaimBook(std::vector<LintFinding>& out) : out_(out) {}
  void claim(const Key& key, const Service& s, const std::string& what) {
    auto [it, first] = owner_.emplace(key, &s);
    if (!first && it->second->app_id != s.app_id) {
      out_.push_back({Level::Error, s.app_id,
                      "port " + std::to_string(s.port_index) + ": " + what +
                          " is also claimed by " + it->second->app_id + " port " +
                          std::to_string(it->second->port_index)});
    }
  }

 private:
  std::vector<LintFinding>& out_;
  std::map<Key, const Service*> owner_;
};

// The paths of a service's vhost rule (HAPROXY_{n}_PATH may list several, blank
// separated); "" (every path) when it has none.
std::vector<std::string> paths(const Service& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < s.path.size()) {
    size_t end = s.path.find(' ', start);
    end = end == std::string::npos ? s.path.size() : end;
    if (end > start) {
      out.push_back(s.path.substr(start, end - start));
    }
    start = end + 1;
  }
  if (out.empty()) {
    out.emplace_back();
  }
  return out;
}

// "*" and "0.0.0.0" bind the same sockets.
std::string bindKey(const std::string& addr) { return addr == "0.0.0.0" ? "*" : addr; }

}  // namespace

std::vector<LintFinding> collisionFindings(const controller::ServiceModel& model,
                                           const std::set<std::pair<std::string, int>>& assigned) {
  std::vector<LintFinding> out;
  for (const auto& q : model.quarantined) {
    if (q.reason.find(" is already defined by ") != std::string::npos) {
      out.push_back(
          {Level::Error, q.app_id, "port " + std::to_string(q.port_index) + ": " + q.reason});
    }
  }
  ClaimBook<std::pair<std::string, int>> ports(out);
  ClaimBook<std::pair<std::string, std::string>> vhosts(out);
  for (const Service& s : model.services) {
    if (!assigned.count({s.app_id, s.service_port})) {
      ports.claim({bindKey(s.bind_addr), s.service_port}, s,
                  "service port " + std::to_string(s.service_port));
    }
    for (const auto& v : s.vhosts) {
      for (const auto& p : paths(s)) {
        vhosts.claim({v, p}, s, "vhost " + v + (p.empty() ? "" : " path " + p));
      }
    }
  }
  return out;
}

}  // namespace mlb::cli
