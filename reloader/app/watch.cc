// `mlb-reloader watch`: inotify on the state dir + a recheck tick; apply new bundles
// (coalesced, at least --min-reload-interval apart), govern old workers, serve
// metrics and marathon-lb's /_haproxy_* endpoints.
#include <poll.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <signal.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>

#include "common/env.h"
#include "common/fs/files.h"
#include "common/http/status_server.h"
#include "common/log.h"
#include "common/process/process_runner.h"
#include "reloader/app/reloader_app.h"
#include "reloader/app/reloader_flags.h"

namespace mlb::reloader {
namespace {

// "a; b; c" (at most 10 commands, then "…").
std::string joinCommands(const std::vector<std::string>& cmds) {
  std::string out;
  for (size_t i = 0; i < cmds.size() && i < 10; ++i) {
    out += (i ? "; " : "") + cmds[i];
  }
  return cmds.size() > 10 ? out + "; …" : out;
}

using common::logError;
using common::logInfo;
using common::logWarn;
using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

struct Metrics {
  explicit Metrics(prometheus::Registry& r)
      : reloads(BuildCounter()
                    .Name("mlb_reloader_reloads_total")
                    .Help("Reloads by kind and result (success, failure).")
                    .Register(r)),
        validations(BuildCounter()
                        .Name("mlb_reloader_validations_total")
                        .Help("Bundles checked with haproxy -c, by result (valid, invalid).")
                        .Register(r)),
        duration(BuildHistogram()
                     .Name("mlb_reloader_reload_duration_seconds")
                     .Help("From a new bundle seen to the reload verified by show proc.")
                     .Register(r)
                     .Add({}, prometheus::Histogram::BucketBoundaries{0.05, 0.1, 0.25, 0.5, 1, 2.5,
                                                                      5, 10, 30})),
        processes(BuildGauge()
                      .Name("mlb_reloader_haproxy_processes")
                      .Help("Live HAProxy processes of this instance, by role.")
                      .Register(r)),
        old_generations(BuildGauge()
                            .Name("mlb_reloader_old_generations")
                            .Help("Old worker generations still draining.")
                            .Register(r)
                            .Add({})),
        governor(BuildCounter()
                     .Name("mlb_reloader_governor_signals_total")
                     .Help("Signals sent to old workers by the governor, by signal.")
                     .Register(r)),
        refused(BuildCounter()
                    .Name("mlb_reloader_refused_signals_total")
                    .Help("Signals not sent because the pid failed verification.")
                    .Register(r)
                    .Add({})),
        version(BuildGauge()
                    .Name("mlb_reloader_version_info")
                    .Help("1 for the applied bundle version (state=applied) and the last "
                          "rejected one (state=rejected).")
                    .Register(r)),
        rejected(BuildGauge()
                     .Name("mlb_reloader_rejected_versions")
                     .Help("Bundle versions rejected and remembered in status.json.")
                     .Register(r)
                     .Add({})),
        last_reload(BuildGauge()
                        .Name("mlb_reloader_last_reload_timestamp_seconds")
                        .Help("Unix time of the last successful reload.")
                        .Register(r)
                        .Add({})),
        path_errors(BuildCounter()
                        .Name("mlb_reloader_path_errors_total")
                        .Help("Failed rollbacks of live and status.json writes (each retried).")
                        .Register(r)
                        .Add({})),
        runtime_commands(BuildCounter()
                             .Name("mlb_reloader_runtime_commands_total")
                             .Help("Runtime API commands sent in batches, by result (ok: the "
                                   "batch got the expected replies, failed: it did not).")
                             .Register(r)),
        runtime_fallbacks(BuildCounter()
                              .Name("mlb_reloader_runtime_fallbacks_total")
                              .Help("Versions applied by a reload although the runtime path "
                                    "is on, by reason.")
                              .Register(r)),
        drift(BuildCounter()
                  .Name("mlb_reloader_drift_repairs_total")
                  .Help("Differences between HAProxy's servers and live, by how they were "
                        "repaired (command, reload).")
                  .Register(r)),
        deleted(BuildCounter()
                    .Name("mlb_reloader_runtime_deleted_servers_total")
                    .Help("Removed servers deleted through the Runtime API once drained.")
                    .Register(r)
                    .Add({})) {}
  prometheus::Family<prometheus::Counter>& reloads;
  prometheus::Family<prometheus::Counter>& validations;
  prometheus::Histogram& duration;
  prometheus::Family<prometheus::Gauge>& processes;
  prometheus::Gauge& old_generations;
  prometheus::Family<prometheus::Counter>& governor;
  prometheus::Counter& refused;
  prometheus::Family<prometheus::Gauge>& version;
  prometheus::Gauge& rejected;
  prometheus::Gauge& last_reload;
  prometheus::Counter& path_errors;
  prometheus::Family<prometheus::Counter>& runtime_commands;
  prometheus::Family<prometheus::Counter>& runtime_fallbacks;
  prometheus::Family<prometheus::Counter>& drift;
  prometheus::Counter& deleted;
};

// Keeps exactly one series per state: the previous version's series is removed.
// Metrics and log lines for one govern pass (`processes`: it counted them).
void reportGovern(Metrics& m, const GovernResult& g, bool processes) {
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

void setVersion(Metrics& m, prometheus::Gauge*& slot, const std::string& state,
                const std::string& version) {
  if (slot != nullptr) {
    m.version.Remove(slot);
  }
  slot = &m.version.Add({{"state", state}, {"version", version}});
  slot->Set(1);
}

common::HttpHandler fileHandler(std::string path) {
  return [path](const common::HttpRequest&) {
    auto r = common::readFile(path);
    if (!r) {
      return common::HttpResponse{404, "text/plain; charset=utf-8", r.error().message + "\n"};
    }
    return common::HttpResponse{200, "text/plain; charset=utf-8", *r};
  };
}

// Every outcome series exists from the start (at 0), so that dashboards and alerts see
// it before the first reload.
void createSeries(Metrics& m) {
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

// /metrics, /healthz and marathon-lb's /_haproxy_* endpoints.
std::map<std::string, common::HttpHandler> watchHandlers(prometheus::Registry& registry,
                                                         const ProcessTable& table,
                                                         const std::string& state) {
  std::map<std::string, common::HttpHandler> handlers;
  handlers["/metrics"] = common::metricsHandler(registry);
  handlers["/healthz"] = [](const common::HttpRequest&) {
    return common::HttpResponse{200, "text/plain; charset=utf-8", "ok\n"};
  };
  handlers["/_haproxy_getconfig"] = fileHandler(state + "/live/haproxy.cfg");
  handlers["/_haproxy_getvhostmap"] = fileHandler(state + "/live/domain2backend.map");
  handlers["/_haproxy_getappmap"] = fileHandler(state + "/live/app2backend.map");
  // Like marathon-lb's (pidof haproxy), but only the verified master of this state
  // dir and its children. Computed per request from /proc (ProcessTable is stateless).
  handlers["/_haproxy_getpids"] = [&table, state](const common::HttpRequest&) {
    std::string pids;
    if (auto master = findVerifiedMaster(table, state)) {
      pids = std::to_string(*master);
      for (const auto& p : table.list()) {
        if (p.ppid == *master && isInstanceHaproxy(p, state)) {
          pids += " " + std::to_string(p.pid);
        }
      }
    }
    return common::HttpResponse{200, "text/plain; charset=utf-8", pids + "\n"};
  };
  return handlers;
}

// inotify on the state directory: wakes when `current` is renamed into place.
class CurrentWatch {
 public:
  ~CurrentWatch() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  common::Status open(const std::string& dir) {
    fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd_ < 0 || ::inotify_add_watch(fd_, dir.c_str(), IN_MOVED_TO | IN_CREATE) < 0) {
      return common::Error::io(std::string("inotify: ") + std::strerror(errno));
    }
    return common::Status::ok();
  }
  // Waits up to `timeout_ms`: true when `current` changed or the wait timed out (the
  // recheck tick, which also retries a version that is waiting), false for events on
  // other names.
  bool wait(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) {
      return true;
    }
    bool current = false;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd_, buf, sizeof buf)) > 0) {
      for (char* ptr = buf; ptr < buf + n;) {
        auto* ev = reinterpret_cast<inotify_event*>(ptr);
        current = current || (ev->len > 0 && std::strcmp(ev->name, "current") == 0);
        ptr += sizeof(inotify_event) + ev->len;
      }
    }
    return current;
  }

 private:
  int fd_ = -1;
};

// The watch loop's state between passes: one apply at least --min-reload-interval after
// the last reload, the governor on its own tick, and what each outcome logs and counts.
class WatchLoop {
 public:
  using Clock = std::chrono::steady_clock;
  WatchLoop(const ReloaderFlags& flags, ReloadController& rc, Metrics& m)
      : rc_(rc),
        m_(m),
        min_interval_(static_cast<int64_t>(flags.min_reload_interval_s * 1000)),
        recheck_ms_(static_cast<int>(flags.recheck_interval_s * 1000)),
        last_reload_(Clock::now() - min_interval_),
        next_govern_(Clock::now()) {
    if (!rc_.appliedVersion().empty()) {
      setVersion(m_, applied_gauge_, "applied", rc_.appliedVersion());
    }
  }

  void run(CurrentWatch& watch) {
    while (!common::stopRequested()) {
      dirty_ = watch.wait(dirty_ ? 10 : recheck_ms_) || dirty_;
      bool runtime_applied = false;
      if (dirty_ && Clock::now() - last_reload_ >= min_interval_) {
        dirty_ = false;
        runtime_applied = report(rc_.applyOnce());
        m_.rejected.Set(static_cast<double>(rc_.rejectedCount()));
      }
      if (Clock::now() >= next_govern_) {
        next_govern_ = Clock::now() + std::chrono::milliseconds(std::max(recheck_ms_, 200));
        reportGovern(m_, rc_.govern(), true);
      } else if (runtime_applied) {
        reportGovern(m_, rc_.governRuntime(), false);
      }
    }
  }

 private:
  // Counts and logs one apply; true when it went live through the Runtime API.
  bool report(const ApplyResult& r) {
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
        m_.validations.Add({{"result", "valid"}}).Increment();
        m_.reloads.Add({{"kind", "reload"}, {"result", "failure"}}).Increment();
        logWarn("reload failed", {{"version", r.version}, {"reason", r.reason}});
        last_reload_ = Clock::now();
        return false;
      case ApplyResult::Kind::Applied:
        return reportApplied(r);
    }
    return false;
  }

  bool reportApplied(const ApplyResult& r) {
    setVersion(m_, applied_gauge_, "applied", r.version);
    if (r.method == ApplyMethod::Startup) {
      // HAProxy was started from this bundle: nothing was reloaded.
      logInfo("bundle already loaded by the master at startup", {{"version", r.version}});
      return false;
    }
    last_waiting_.clear();
    if (r.method == ApplyMethod::Runtime) {
      m_.reloads.Add({{"kind", "runtime"}, {"result", "success"}}).Increment();
      m_.runtime_commands.Add({{"result", "ok"}})
          .Increment(static_cast<double>(r.runtime_commands));
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
    last_reload_ = Clock::now();
    next_govern_ = Clock::now();
    return false;
  }

  ReloadController& rc_;
  Metrics& m_;
  const std::chrono::milliseconds min_interval_;
  const int recheck_ms_;
  Clock::time_point last_reload_;
  Clock::time_point next_govern_;
  bool dirty_ = true;
  std::string last_waiting_;
  prometheus::Gauge* applied_gauge_ = nullptr;
  prometheus::Gauge* last_rejected_gauge_ = nullptr;
};

}  // namespace

int runWatch(const std::vector<std::string>& args, const std::map<std::string, std::string>& env) {
  ReloaderFlags flags;
  std::string error;
  if (!parseReloaderFlags(args, env, flags, error)) {
    logError("bad flags", {{"error", error}});
    return 2;
  }
  const std::string state = flags.reload.state_dir;
  if (auto st = common::makeDirs(state); !st) {
    logError("cannot create the state directory", {{"error", st.error().message}});
    return 1;
  }
  prometheus::Registry registry;
  Metrics m(registry);
  auto runner = common::makeBoostProcessRunner();
  ProcessTable table;
  SignalFn sig = [](pid_t pid, int s) { return pid > 1 ? ::kill(pid, s) : -1; };
  ReloadController rc(flags.reload, *runner, table, sig);
  rc.loadStatus();
  createSeries(m);
  auto server = common::startStatusServer(flags.listen, watchHandlers(registry, table, state));
  if (!server) {
    logError("cannot start the status server",
             {{"listen", flags.listen}, {"error", server.error().message}});
    return 1;
  }
  CurrentWatch watch;
  if (auto st = watch.open(state); !st) {
    logError("inotify", {{"state_dir", state}, {"error", st.error().message}});
    return 1;
  }
  common::installStopSignals();
  logInfo("mlb-reloader watch started",
          {{"state_dir", state}, {"listen", flags.listen}, {"haproxy", flags.reload.haproxy_bin}});
  WatchLoop(flags, rc, m).run(watch);
  logInfo("mlb-reloader watch stopping");
  return 0;
}

}  // namespace mlb::reloader
