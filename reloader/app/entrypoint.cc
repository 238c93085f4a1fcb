// `mlb-reloader haproxy`: prepare `live`, find a running master of this instance,
// and exec HAProxy in master-worker mode so that it takes the listening sockets over
// from that master (-x) and soft-stops it (-sf).
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "common/fs/file_lock.h"
#include "common/fs/files.h"
#include "common/log.h"
#include "common/process/process_runner.h"
#include "reloader/app/first_bundle.h"
#include "reloader/app/reloader_app.h"
#include "reloader/app/reloader_flags.h"
#include "reloader/haproxy/fd_budget.h"
#include "reloader/haproxy/master_cli.h"
#include "reloader/haproxy/pending_master.h"
#include "reloader/haproxy/process_table.h"
#include "reloader/haproxy/runtime_cli.h"
#include "reloader/haproxy/stderr_log.h"
#include "reloader/reload/reload_controller.h"

namespace mlb::reloader {

using common::logError;
using common::logInfo;
using common::logWarn;

namespace {

constexpr size_t kStderrLogMax = 1024 * 1024;

// Waits (bounded) until the recorded master answers its master CLI with its own pid
// and a current worker: a master that is itself still taking over is not ready to
// hand over.
void waitUntilRecordedMasterServes(const ProcessTable& table, const std::string& state,
                                   std::chrono::milliseconds timeout) {
  auto master = findVerifiedMaster(table, state);
  if (!master) {
    return;  // nothing to take over from (or only a stale pid file)
  }
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (auto text = masterCommand(state + "/master.sock", "show proc", 1000)) {
      if (auto sp = parseShowProc(*text); sp && sp->master_pid == *master && !sp->workers.empty()) {
        return;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  logWarn("the recorded HAProxy master does not serve yet; taking over anyway",
          {{"master", std::to_string(*master)}});
}

// Raises the soft open-files limit to what the config needs (HAProxy inherits it), or
// refuses with the numbers and the fix when even the hard limit is too low: HAProxy
// would exit at start, leaving only "no pid file" to see.
common::Status fitFdLimit(const std::string& config_path) {
  auto cfg = common::readFile(config_path);
  if (!cfg) {
    return {};  // HAProxy reports the unreadable file itself
  }
  FdBudget budget = planFdBudget(*cfg);
  rlimit rl{};
  if (budget.needed == 0 || ::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
      static_cast<long>(rl.rlim_cur) >= budget.needed) {
    return {};
  }
  const long hard = rl.rlim_max == RLIM_INFINITY ? -1 : static_cast<long>(rl.rlim_max);
  if (std::string problem = fdBudgetProblem(budget, hard); !problem.empty()) {
    return common::Error::invalidArgument(problem);
  }
  rl.rlim_cur = static_cast<rlim_t>(budget.needed);
  if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) {
    logWarn("cannot raise the open-files limit", {{"error", std::strerror(errno)}});
  }
  return {};
}

// The server-state file the new master loads (the HEAD's `server-state-file`): taking
// over, what the old master holds now, rewritten for the live bundle as a reload does;
// starting cold, none (written at some reload long ago, it would start servers in
// states they left since).
void prepareServerState(const std::string& state, bool taking_over) {
  const std::string path = state + "/server-state";
  if (!taking_over) {
    ::unlink(path.c_str());
    return;
  }
  auto text = unixSockets().command(state + "/stats.sock", "show servers state", 5000);
  auto cfg = common::readFile(state + "/live/haproxy.cfg");
  if (!text || text->empty() || !cfg) {
    ::unlink(path.c_str());
    return;
  }
  auto manifest = common::readFile(state + "/live/manifest.json");
  const auto unproven = manifest ? unprovenOf(*manifest) : std::set<std::string>{};
  if (auto st = common::writeFileAtomic(path, filterServersState(*text, *cfg, unproven)); !st) {
    logWarn("cannot write the server state for the new master", {{"error", st.error().message}});
  }
}

}  // namespace

int runHaproxyEntrypoint(const std::vector<std::string>& args,
                         const std::map<std::string, std::string>& env) {
  auto parsed = parseReloaderFlags(args, env);
  if (!parsed) {
    logError("bad flags", {{"error", parsed.error().message}});
    return 2;
  }
  const ReloaderFlags& flags = *parsed;
  const std::string& state = flags.reload.state_dir;
  if (auto st = common::makeDirs(state + "/bundles"); !st) {
    logError("cannot create the state directory", {{"error", st.error().message}});
    return 1;
  }
  auto runner = common::makeBoostProcessRunner();
  ProcessTable table;
  ReloadController rc(flags.reload, *runner, table, [](pid_t, int) { return -1; });

  // `live` must name a valid bundle. Keep it when it exists (a handover: it is what
  // the running generation serves); otherwise wait for the controller's first bundle.
  std::string live = rc.liveVersion();
  struct stat st {};
  if (live.empty() || ::stat((state + "/live/haproxy.cfg").c_str(), &st) != 0) {
    const FirstBundleSource source{
        [&rc] { return rc.currentVersion(); },
        [&rc](const std::string& version) { return rc.validate(version); }};
    std::string chosen = waitForFirstBundle(
        source, common::systemClock(),
        std::chrono::milliseconds(static_cast<int64_t>(flags.wait_bundle_s * 1000)));
    if (chosen.empty()) {
      logWarn("no valid bundle yet; starting from the bootstrap configuration",
              {{"waited_s", std::to_string(flags.wait_bundle_s)}});
      if (auto s = common::makeDirs(state + "/bundles/bootstrap"); !s) {
        return 1;
      }
      if (auto s = common::writeFileAtomic(state + "/bundles/bootstrap/haproxy.cfg",
                                           bootstrapConfig(state));
          !s) {
        logError("cannot write the bootstrap config", {{"error", s.error().message}});
        return 1;
      }
      chosen = "bootstrap";
    }
    if (auto s = rc.setLive(chosen); !s) {
      logError("cannot point live at the bundle", {{"error", s.error().message}});
      return 1;
    }
    live = chosen;
  }

  if (auto fits = fitFdLimit(state + "/live/haproxy.cfg"); !fits) {
    logError("refusing to start HAProxy", {{"reason", fits.error().message}});
    return 1;
  }
  // One handover at a time, never during the watcher's reload: hold the lock from
  // choosing the master to take over from until HAProxy is exec'd (close-on-exec
  // releases it), and take over only from a master that serves (an earlier handover
  // still starting would otherwise be soft-stopped before it stopped its own old one).
  auto lock = common::FileLock::acquire(handoverLockPath(state), std::chrono::seconds(60));
  if (!lock) {
    logWarn("handing over without the handover lock", {{"error", lock.error().message}});
  }
  // An earlier handover's master that serves by now becomes the recorded one first
  // (again once the wait is over: the master it waited for may be that one).
  settlePendingMaster(table, unixSockets(), state);
  waitUntilRecordedMasterServes(table, state, std::chrono::seconds(30));
  settlePendingMaster(table, unixSockets(), state);
  std::vector<std::string> argv = masterArgv(flags.reload.haproxy_bin, state);
  auto old = findVerifiedMaster(table, state);
  struct stat sock {};
  if (old) {
    if (::stat((state + "/stats.sock").c_str(), &sock) == 0) {
      argv.insert(argv.end(), {"-x", state + "/stats.sock"});
    } else {
      logWarn("old master has no stats socket; taking over without socket transfer");
    }
    argv.insert(argv.end(), {"-sf", std::to_string(*old)});
    logInfo("taking over from the running HAProxy master", {{"old_master", std::to_string(*old)}});
  } else if (old.error().code != common::ErrorCode::NotFound) {
    logInfo("no HAProxy master to take over from", {{"reason", old.error().message}});
  }
  prepareServerState(state, old.has_value());
  // Record who the master will be (this pid survives execv) and its start time, so
  // that a reused pid is never mistaken for it. Taking over, as pending: the old master
  // stays the recorded one until this one serves (a start that fails freezes nothing).
  auto self = table.read(::getpid());
  const MasterRecord rec{::getpid(), self ? self->start_time : 0, live};
  auto recorded = !self ? common::Status(common::Error::io("cannot read /proc/self"))
                  : old ? writePendingMaster(state, rec)
                        : writeMasterRecord(state, rec);
  if (!recorded) {
    logError("cannot record the master identity",
             {{"state_dir", state}, {"error", recorded.error().message}});
    return 1;
  }
  std::string cmd;
  for (const auto& a : argv) {
    cmd += (cmd.empty() ? "" : " ") + a;
  }
  logInfo("exec haproxy", {{"live", live}, {"cmd", cmd}});
  // HAProxy's own lines still reach this stderr, and a copy where the watcher reads a
  // failed reload's alerts.
  if (auto kept = keepStderr(stderrLogPath(state), kStderrLogMax); !kept) {
    logWarn("HAProxy's stderr is not kept for the watcher", {{"error", kept.error().message}});
  }
  std::vector<char*> cargv;
  for (auto& a : argv) {
    cargv.push_back(a.data());
  }
  cargv.push_back(nullptr);
  ::execv(cargv[0], cargv.data());
  logError("execv failed", {{"bin", argv[0]}, {"error", std::strerror(errno)}});
  return 127;
}

}  // namespace mlb::reloader
