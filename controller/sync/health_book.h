#pragma once
// The health Marathon last reported for each task, kept across passes: a task whose
// health results are missing from an answer (Marathon lost them, e.g. after a leader
// failover) keeps the last value seen. Only the apps whose revision changed since the
// last update are read again, so an event costs its app, not the cluster.
//
// Values seen are kept whatever becomes of the pass; what an answer leaves out (an app,
// a task) is forgotten only at commit(), once a pass published: an answer a guard holds
// (an empty list after a failover, a partial one) must not wipe the values the next
// answer's missing results fall back on.
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "controller/model/marathon_app.h"

namespace mlb::controller {

class HealthBook {
 public:
  // Brings the book up to `parsed`: apps with a new revision (or none) are read
  // again; apps and tasks it leaves out stop counting, and are forgotten at commit().
  void update(const ParsedApps& parsed);
  // The answer of the last update() was published: what it left out is forgotten.
  void commit();
  // The task's health: its results in the last answer, or the last value seen.
  std::optional<bool> known(const std::string& task_id) const;
  // Tasks of apps with Marathon health checks in the last answer, and those among them
  // that have no results although a value was seen before (for the health guard).
  size_t checkedTasks() const { return checked_; }
  size_t lostTasks() const { return lost_; }
  size_t size() const { return tasks_.size(); }

 private:
  struct AppHealth {
    uint64_t revision = 0;
    uint64_t epoch = 0;              // the last update() that found the app
    std::vector<std::string> tasks;  // the app's checked tasks at `revision`
    std::vector<std::string> left;   // tasks it no longer lists: forgotten at commit()
    size_t checked = 0, lost = 0;
    bool present = false;  // in the last answer (counted)
  };
  void read(const MarathonApp& app, AppHealth& entry);
  void uncount(AppHealth& entry);

  std::unordered_map<std::string, AppHealth> apps_;
  std::vector<AppHealth*> by_place_;  // the last answer's apps' entries, in its order
  std::unordered_map<std::string, bool> tasks_;
  std::unordered_set<std::string> to_commit_;  // apps with something to forget
  size_t checked_ = 0, lost_ = 0;
  uint64_t epoch_ = 0;
};

}  // namespace mlb::controller
