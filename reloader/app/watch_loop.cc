#include "reloader/app/watch_loop.h"

#include "common/env.h"
#include "common/log.h"

namespace mlb::reloader {
namespace {

using common::logInfo;
using common::logWarn;

// "a; b; c" (at most 10 commands, then "…").
std::string joinCommands(const std::vector<std::string>& cmds) {
  std::string out;
  for (size_t i = 0; i < cmds.size() && i < 10; ++i) {
    out += (i ? "; " : "") + cmds[i];
  }
  return cmds.size() > 10 ? out + "; …" : out;
}

// Metrics and log lines for one govern pass (`processes`: it counted them).
void reportGovern(WatchMetrics& m, const GovernResult& g, bool processes) {
  if (processes) {
    m.processes.Add({{"role", "master"}}).Set(g.masters);
    m.processes.Add({{"role", "worker"}}).Set(g.workers);
    m.processes.Add({{"role", "old_worker"}}).Set(g.old_workers);
    m.old_generations.Set(g.old_generations);
    m.processes.Add({{"role", "stale_master"}}).Set(g.stale_masters);
  }
  if (g.deleted_servers > 0) {
    m.deleted.Increment(g.deleted_servers);
  }
  if (g.drift_repairs > 0) {
    m.drift.Add({{"how", "command"}}).Increment(g.drift_repairs);
    logWarn("runtime servers differed from live; repaired",
            {{"servers", std::to_string(g.drift_repairs)},
             {"commands", joinCommands(g.drift_commands)}});
  }
  if (g.drift_reloads > 0) {
    m.drift.Add({{"how", "reload"}}).Increment(g.drift_reloads);
    logWarn("runtime servers differ from live; reloading");
  }
  for (const auto& e : g.runtime_errors) {
    logWarn("runtime command refused", {{"error", e}});
  }
  if (g.stale_sigusr1 > 0) {
    m.governor.Add({{"signal", "SIGUSR1"}}).Increment(g.stale_sigusr1);
    logWarn(
        "governor: soft-stopping HAProxy masters of this state dir older than the "
        "current one (a handover that missed its -sf)",
        {{"count", std::to_string(g.stale_masters)}});
  }
  if (g.sigusr1 > 0) {
    m.governor.Add({{"signal", "SIGUSR1"}}).Increment(g.sigusr1);
    logInfo("governor: soft-stopping old workers", {{"count", std::to_string(g.sigusr1)}});
  }
  if (g.sigterm > 0) {
    m.governor.Add({{"signal", "SIGTERM"}}).Increment(g.sigterm);
    logWarn("governor: terminating old workers past their drain limit",
            {{"count", std::to_string(g.sigterm)}});
  }
  for (const auto& why : g.refused) {
    m.refused.Increment();
    logWarn("governor: not signalling", {{"reason", why}});
  }
}

// Keeps exactly one series per state: the previous version's series is removed.
void setVersion(WatchMetrics& m, prometheus::Gauge*& slot, const std::string& state,
                const std::string& version) {
  if (slot != nullptr) {
    m.version.Remove(slot);
  }
  slot = &m.version.Add({{"state", state}, {"version", version}});
  slot->Set(1);
}

}  // namespace

void createSeries(WatchMetrics& m) {
  for (const char* result : {"success", "failure"}) {
    m.reloads.Add({{"kind", "reload"}, {"result", result}});
  }
  m.reloads.Add({{"kind", "runtime"}, {"result", "success"}});
  for (const char* result : {"ok", "failed"}) {
    m.runtime_commands.Add({{"result", result}});
  }
  for (const char* result : {"valid", "invalid"}) {
    m.validations.Add({{"result", result}});
  }
  for (const char* sig : {"SIGUSR1", "SIGTERM"}) {
    m.governor.Add({{"signal", sig}});
  }
}

WatchLoop::WatchLoop(const ReloaderFlags& flags, ReloadPass& pass, WatchMetrics& m,
                     FileWatcher& watcher, common::Clock& clock)
    : pass_(pass),
      m_(m),
      watcher_(watcher),
      clock_(clock),
      min_interval_(static_cast<int64_t>(flags.min_reload_interval_s * 1000)),
      recheck_ms_(static_cast<int>(flags.recheck_interval_s * 1000)),
      last_reload_(clock.now() - min_interval_),
      next_govern_(clock.now()) {
  if (!pass_.appliedVersion().empty()) {
    setVersion(m_, applied_gauge_, "applied", pass_.appliedVersion());
  }
}

void WatchLoop::run() {
  while (!common::stopRequested()) {
    step();
  }
}

void WatchLoop::step() {
  const auto wake = watcher_.wait(std::chrono::milliseconds(dirty_ ? 10 : recheck_ms_));
  dirty_ = wake != FileWatcher::Wake::Other || dirty_;
  // marathon-lb's signals: SIGUSR1 reloads HAProxy with the live bundle, SIGHUP reads
  // `current` again.
  if (common::takeOperatorSignal(common::OperatorSignal::Usr1)) {
    logInfo("signal: reloading HAProxy with the live bundle", {{"signal", "SIGUSR1"}});
    pass_.requestReload();
    dirty_ = true;
  }
  if (common::takeOperatorSignal(common::OperatorSignal::Hup)) {
    logInfo("signal: checking the current bundle again", {{"signal", "SIGHUP"}});
    dirty_ = true;
  }
  bool runtime_applied = false;
  if (dirty_ && clock_.now() - last_reload_ >= min_interval_) {
    dirty_ = false;
    runtime_applied = report(pass_.applyOnce());
    m_.rejected.Set(static_cast<double>(pass_.rejectedCount()));
  }
  if (clock_.now() >= next_govern_) {
    next_govern_ = clock_.now() + std::chrono::milliseconds(std::max(recheck_ms_, 200));
    reportGovern(m_, pass_.govern(), true);
  } else if (runtime_applied) {
    reportGovern(m_, pass_.governRuntime(), false);
  }
}

// Counts and logs one apply; true when it went live through the Runtime API.
bool WatchLoop::report(const ApplyResult& r) {
  if (r.runtime_failed) {
    m_.runtime_commands.Add({{"result", "failed"}})
        .Increment(static_cast<double>(r.runtime_commands));
    logWarn("runtime batch refused; reloading instead",
            {{"version", r.version}, {"reply", r.reason}});
  }
  if (!r.fallback.empty() && r.kind == ApplyResult::Kind::Applied) {
    m_.runtime_fallbacks.Add({{"reason", r.fallback}}).Increment();
  }
  for (const auto& e : r.errors) {
    m_.path_errors.Increment();
    logWarn("reload path error; retried at the next pass", {{"error", e}});
  }
  switch (r.kind) {
    case ApplyResult::Kind::Nothing:
      return false;
    case ApplyResult::Kind::Waiting:
      if (r.reason != last_waiting_) {
        logWarn("bundle waiting for HAProxy", {{"version", r.version}, {"reason", r.reason}});
        last_waiting_ = r.reason;
      }
      return false;
    case ApplyResult::Kind::Rejected:
      m_.validations.Add({{"result", "invalid"}}).Increment();
      setVersion(m_, last_rejected_gauge_, "rejected", r.version);
      logWarn("bundle rejected; HAProxy keeps serving the last good config",
              {{"version", r.version}, {"reason", r.reason}});
      return false;
    case ApplyResult::Kind::Failed:
      if (r.check_failed) {
        m_.validations.Add({{"result", "no_verdict"}}).Increment();
        logWarn("haproxy -c gave no verdict; retried with backoff, not rejected",
                {{"version", r.version}, {"reason", r.reason}});
        return false;
      }
      m_.validations.Add({{"result", "valid"}}).Increment();
      m_.reloads.Add({{"kind", "reload"}, {"result", "failure"}}).Increment();
      logWarn("reload failed", {{"version", r.version}, {"reason", r.reason}});
      last_reload_ = clock_.now();
      return false;
    case ApplyResult::Kind::Applied:
      return reportApplied(r);
  }
  return false;
}

bool WatchLoop::reportApplied(const ApplyResult& r) {
  setVersion(m_, applied_gauge_, "applied", r.version);
  if (r.method == ApplyMethod::Startup) {
    // HAProxy was started from this bundle: nothing was reloaded.
    logInfo("bundle already loaded by the master at startup", {{"version", r.version}});
    return false;
  }
  last_waiting_.clear();
  if (r.method == ApplyMethod::Runtime) {
    m_.reloads.Add({{"kind", "runtime"}, {"result", "success"}}).Increment();
    m_.runtime_commands.Add({{"result", "ok"}}).Increment(static_cast<double>(r.runtime_commands));
    logInfo("bundle applied without a reload", {{"version", r.version},
                                                {"commands", std::to_string(r.runtime_commands)},
                                                {"ms", std::to_string(r.duration.count())}});
    return true;
  }
  m_.validations.Add({{"result", "valid"}}).Increment();
  m_.reloads.Add({{"kind", "reload"}, {"result", "success"}}).Increment();
  m_.duration.Observe(std::chrono::duration<double>(r.duration).count());
  m_.last_reload.Set(
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
  logInfo("bundle applied", {{"version", r.version},
                             {"method", methodName(r.method)},
                             {"ms", std::to_string(r.duration.count())}});
  last_reload_ = clock_.now();
  next_govern_ = clock_.now();
  return false;
}

}  // namespace mlb::reloader
