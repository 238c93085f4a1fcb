#pragma once
// One reload pass (docs/reload-protocol.md): read `current`; skip what was already answered;
// validate with `haproxy -c`; point `live` at it; reload the verified master through
// the master CLI (SIGUSR2 as a fallback); verify with `show proc`; answer in
// status.json. And the old-worker governor. Single-threaded: only the watch loop
// calls it.
//
// <state>/live -> bundles/<version> is owned by the reloader: HAProxy is always
// started and reloaded with -f <state>/live/haproxy.cfg, so a bundle the reloader
// rejected can never be loaded, even by a reload someone else triggers.
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/process/process_runner.h"
#include "reloader/haproxy/bind_check.h"
#include "reloader/haproxy/master_cli.h"
#include "reloader/haproxy/pending_master.h"
#include "reloader/haproxy/process_table.h"
#include "reloader/haproxy/runtime_plan.h"
#include "reloader/haproxy/stderr_log.h"
#include "reloader/reload/runtime_executor.h"

namespace mlb::reloader {

struct ReloaderOptions {
  std::string state_dir = "/run/mlb";
  std::string haproxy_bin = "/usr/sbin/haproxy";
  std::chrono::milliseconds validate_timeout{60000};
  std::chrono::milliseconds verify_timeout{10000};
  int max_old_workers = 3;                   // old generations allowed to drain at once
  std::chrono::seconds max_drain_time{600};  // per old generation
  std::chrono::seconds stop_grace{10};       // SIGUSR1 -> SIGTERM
  size_t keep_rejected = 50;
  // Attempts to reach the master CLI for a reload (it refuses connections while the
  // master re-executes), then SIGUSR2.
  int reload_attempts = 30;
  std::chrono::milliseconds reload_retry_interval{100};
  // Server changes through the Runtime API (docs/reload-protocol.md); off: every
  // new bundle reloads (--no-runtime).
  bool runtime = true;
  size_t max_runtime_changes = 200;               // more changed servers: reload
  std::chrono::seconds drain_timeout{120};        // a removed server's sessions, at most
  std::chrono::seconds drift_check_interval{30};  // runtime vs live, besides after changes
};

// Sends a signal to a pid. Tests replace it; the real one is kill(2).
using SignalFn = std::function<int(pid_t, int)>;

// How a version was applied.
enum class ApplyMethod {
  None,       // not applied
  Startup,    // HAProxy was started from it: nothing to do
  Runtime,    // server changes through the Runtime API, no reload
  MasterCli,  // `reload` on the master CLI
  Sigusr2,    // SIGUSR2 to the verified master (the master CLI unreachable)
};
// "", "startup", "runtime", "master-cli", "sigusr2" (logs and status.json).
const char* methodName(ApplyMethod m);

struct ApplyResult {
  enum class Kind { Nothing, Applied, Rejected, Failed, Waiting };
  Kind kind = Kind::Nothing;
  std::string version;
  std::string reason;
  std::chrono::milliseconds duration{0};
  ApplyMethod method = ApplyMethod::None;
  size_t runtime_commands = 0;  // commands of the runtime batch sent
  bool runtime_failed = false;  // the batch got a reply it must not (then a reload)
  bool check_failed = false;    // haproxy -c gave no verdict (killed, timed out): retried
  std::string fallback;         // runtime on, applied by reload: why (a fixed text)
  // Failures on the way that did not decide the outcome (a rollback of live or a
  // status.json write that failed): each is retried at the next pass.
  std::vector<std::string> errors;
};

// What the watch loop asks of the reload pass (ReloadController; tests: a mock).
class ReloadPass {
 public:
  virtual ~ReloadPass() = default;
  virtual ApplyResult applyOnce() = 0;
  virtual GovernResult govern() = 0;
  virtual GovernResult governRuntime() = 0;
  virtual size_t rejectedCount() const = 0;
  virtual std::string appliedVersion() const = 0;
  // marathon-lb's SIGUSR1: the next pass reloads HAProxy with the live bundle.
  virtual void requestReload() = 0;
};

class ReloadController : public ReloadPass {
 public:
  ReloadController(ReloaderOptions options, common::ProcessRunner& runner,
                   const ProcessTable& table, SignalFn signal,
                   HaproxySockets& sockets = unixSockets(),
                   common::Clock& clock = common::systemClock(), PortProbe& ports = tcpPortProbe());

  // Loads status.json from a previous run (applied and rejected versions).
  void loadStatus();
  ApplyResult applyOnce() override;
  GovernResult govern() override;
  // The runtime path's share of govern(), right after a runtime batch: drained servers
  // deleted once idle, the drift of the backends the batch changed. No process scan.
  GovernResult governRuntime() override;
  // Validates the bundle `version` (haproxy -c): ok when valid; InvalidData with the
  // [ALERT] lines when HAProxy says it is not; Unavailable when there is no verdict
  // (killed by a signal, timed out, not started, no alert).
  common::Status validate(const std::string& version);
  // Points live at bundles/<version>.
  common::Status setLive(const std::string& version);
  std::string liveVersion() const;
  std::string currentVersion() const;
  std::string appliedVersion() const override { return applied_; }
  void requestReload() override { reload_requested_ = true; }
  size_t rejectedCount() const override { return rejected_.size(); }
  // Reloads show proc did not confirm, since the start.
  uint64_t unconfirmedReloads() const { return unconfirmed_total_; }
  common::Status writeStatus();

 private:
  ReloaderOptions options_;
  common::ProcessRunner& runner_;
  const ProcessTable& table_;
  SignalFn signal_;
  HaproxySockets& sockets_;
  common::Clock& clock_;
  PortProbe& ports_;
  std::string applied_;
  std::string applied_at_;
  ApplyMethod last_method_ = ApplyMethod::None;
  // What the last runtime plan compared: "edits" (the excerpts the bundles' edits
  // touch), "whole" (the two texts); status.json's planned_from.
  std::string last_planned_from_;
  struct Rejection {
    std::string reason;
    std::string at;
    uint64_t seq = 0;
  };
  std::map<std::string, Rejection> rejected_;
  uint64_t seq_ = 0;
  std::optional<ShowProc> last_proc_;
  // The steps of applyOnce().
  void retryPathErrors(ApplyResult& res);
  bool appliedAtStartup(const std::string& version, pid_t master, ApplyResult& res);
  bool rejectIfInvalid(const std::string& version, ApplyResult& res);
  bool rejectIfPortsTaken(const std::string& version, const std::string& previous_live,
                          ApplyResult& res);
  std::optional<pid_t> masterThatServes(std::optional<ShowProc>& before, ApplyResult& res);
  RuntimePlan planFor(const std::string& version, const std::string& previous_live);
  // planRuntime from the excerpts the edits touch when both bundles are edits of one
  // base (or one of them is that base), nothing otherwise (edit_excerpts.h).
  std::optional<RuntimePlan> planFromEdits(const std::string& version,
                                           const std::string& previous_live);
  std::vector<std::string> otherFilesChanged(const std::string& a, const std::string& b) const;
  bool applyRuntime(const std::string& version, const RuntimePlan& plan, ApplyResult& res);
  void reloadTo(const std::string& version, const std::string& previous_live, pid_t master,
                const std::optional<ShowProc>& before, ApplyResult& res);
  bool sendReload(pid_t master, const std::string& previous_live, ApplyResult& res,
                  std::string& reply);
  void noteRejected(const std::string& version, const std::string& reason);
  void rejectLoad(const std::string& version, const std::string& previous_live,
                  const std::string& reason, ApplyResult& res);
  std::string reloadAlerts(pid_t master, const LogMark& mark);
  std::set<std::string> unprovenServers(const std::string& version) const;
  std::optional<ShowProc> verifyReload(const std::optional<ShowProc>& before);
  void saveServerState(const std::string& version);
  std::string statsSocket() const;
  std::string bundleDir(const std::string& version) const;
  size_t last_commands_ = 0;
  bool reload_requested_ = false;  // SIGUSR1: reload even the applied version
  // A handover's pending master: promoted once it serves, dropped once it is gone.
  void settlePending();
  RuntimeExecutor runtime_;  // after options_, sockets_, clock_: built from them
  void governServers(GovernResult& g);
  bool status_dirty_ = false;     // status.json is behind: write it at the next pass
  std::string pending_rollback_;  // live must go back to this version
  void saveStatus(ApplyResult& res);
  void rollBack(const std::string& previous_live, ApplyResult& res);
  // Versions retried with backoff: reloads that show proc did not confirm, checks that
  // gave no verdict (never rejections).
  struct Retry {
    int attempts = 0;
    common::Clock::TimePoint retry_at;
  };
  std::map<std::string, Retry> unconfirmed_;
  std::map<std::string, Retry> check_retry_;
  uint64_t unconfirmed_total_ = 0;
  std::string retryBackoff(const std::map<std::string, Retry>& book, const std::string& version,
                           const char* what) const;
  void noteRetry(std::map<std::string, Retry>& book, const std::string& version,
                 std::chrono::seconds cap);
  std::string unconfirmedBackoff(const std::string& version) const;
  void noteUnconfirmed(const std::string& version);
  // Stale masters: when each got its first and its last SIGUSR1.
  std::map<pid_t, common::Clock::TimePoint> stale_first_usr1_, stale_last_usr1_;
  void governStaleMasters(pid_t master, GovernResult& g);
  // Governor state: when each old worker was first seen, when it got SIGUSR1.
  std::map<pid_t, common::Clock::TimePoint> first_seen_, usr1_at_;
};

// The lock file the watcher holds while it reloads and the entrypoint holds while it
// chooses the master to take over from: never both at once.
std::string handoverLockPath(const std::string& state_dir);

// Reads the version a symlink like <state>/current points at ("" if none).
std::string linkVersion(const std::string& link);

// The minimal configuration HAProxy starts with before the first bundle: no
// traffic, but the stats socket with expose-fd so the next generation can take over.
std::string bootstrapConfig(const std::string& state_dir);

}  // namespace mlb::reloader
