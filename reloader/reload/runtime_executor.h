#pragma once
// The Runtime API side of the reload pass (docs/reload-protocol.md, "Server changes
// without a reload"): sends a plan's batch and its map updates over the stats socket,
// keeps the removed servers until they are idle and deletes them, and checks what
// HAProxy holds against the applied configuration (drift): a missing server added
// again, an unknown one drained, admin state and weight put back, a moved one left to
// a reload. Single-threaded: only the reload pass calls it.
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "reloader/haproxy/master_cli.h"
#include "reloader/haproxy/runtime_plan.h"

namespace mlb::reloader {

// What the governor's tick did (the process governor and the runtime executor fill it).
struct GovernResult {
  int masters = 0, workers = 0, old_workers = 0, old_generations = 0;
  int sigusr1 = 0, sigterm = 0;
  int stale_masters = 0;                    // older masters of this state dir still running
  int stale_sigusr1 = 0;                    // soft stops sent to them
  int deleted_servers = 0;                  // drained servers deleted through the Runtime API
  int drift_repairs = 0;                    // runtime differences from live fixed by a command
  std::vector<std::string> drift_commands;  // the commands of those repairs
  int drift_reloads = 0;                    // ... or left to a reload
  std::vector<std::string> runtime_errors;  // replies that were not the expected ones
  std::vector<std::string> refused;         // pids not signalled, with the reason
};

struct RuntimeExecutorOptions {
  std::string stats_socket;
  std::chrono::seconds drain_timeout{120};        // a removed server's sessions, at most
  std::chrono::seconds drift_check_interval{30};  // a full check, besides after changes
  size_t max_line = 8000;                         // bytes of one `;` batch (tune.bufsize 16k)
  // In MAINT this long before `del server`: HAProxy before 2.6.16 deletes a server that
  // streams still point to (a retry in flight; haproxy#2298) and the worker crashes.
  std::chrono::milliseconds delete_grace{2000};
};

class RuntimeExecutor {
 public:
  RuntimeExecutor(RuntimeExecutorOptions options, HaproxySockets& sockets, common::Clock& clock);

  // Sends the plan: its server batch, then each map update (prepare, add in batches,
  // commit: atomic per map). Ok, or what failed (then only a reload resyncs).
  common::Status apply(const RuntimePlan& plan);
  // A reload replaced the worker: nothing is left to drain, its whole state is checked
  // at the next tick, a forced reload is done.
  void reloaded();
  // The drift check found what only a reload repairs.
  bool reloadNeeded() const { return force_reload_; }
  // Deletes the drained servers that are idle (or past the drain timeout), then checks
  // drift against `config` (the applied bundle's): of the backends the last batch
  // changed, or of every backend when the full check is due.
  void govern(const std::string& config, GovernResult& g);
  // Whether govern() has work: servers draining or a drift check due.
  bool due() const;

 private:
  RuntimeExecutorOptions options_;
  HaproxySockets& sockets_;
  common::Clock& clock_;
  // Servers drained and deleted once idle: when each was drained, and put in MAINT.
  struct Drain {
    common::Clock::TimePoint since;
    std::optional<common::Clock::TimePoint> maint_at;
    std::string add_command;  // what created it: it is revived only if it comes back so
  };
  std::map<std::pair<std::string, std::string>, Drain> draining_;
  // Backends to check after a batch; a full check is due at next_drift_check_.
  std::set<std::string> drift_backends_;
  bool force_reload_ = false;
  common::Clock::TimePoint next_drift_check_{};

  common::Status applyMap(const RuntimePlan::MapUpdate& map);
  void reviveRetiring(std::vector<std::string>& commands, std::vector<RuntimePlan::Expect>& expect);
  common::Status sendChecked(const std::vector<std::string>& commands,
                             const std::vector<RuntimePlan::Expect>& expect);
  void deleteDrained(GovernResult& g);
  void retire(const std::pair<std::string, std::string>& key, bool busy, Drain& d, GovernResult& g);
  void deleteOne(const std::pair<std::string, std::string>& key, GovernResult& g);
  void checkDrift(const std::string& config, GovernResult& g);
  common::Result<std::string> serversState(const std::set<std::string>& backends);
  common::Result<std::map<std::pair<std::string, std::string>, long>> serverLoad(
      const std::set<int>& backend_ids);
};

}  // namespace mlb::reloader
