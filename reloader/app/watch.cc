// `mlb-reloader watch`: inotify on the state dir + a recheck tick; apply new bundles
// (coalesced, at least --min-reload-interval apart), govern old workers, serve
// metrics and marathon-lb's /_haproxy_* endpoints.
#include <prometheus/counter.h>
#include <prometheus/registry.h>
#include <signal.h>

#include <algorithm>

#include "common/env.h"
#include "common/fs/files.h"
#include "common/http/signal_endpoint.h"
#include "common/http/status_server.h"
#include "common/log.h"
#include "common/process/process_runner.h"
#include "reloader/app/reloader_app.h"
#include "reloader/app/reloader_flags.h"
#include "reloader/app/watch_loop.h"
#include "reloader/haproxy/master_cli.h"
#include "reloader/haproxy/stats_csv.h"
#include "reloader/watch/inotify_file_watcher.h"

namespace mlb::reloader {
namespace {

using common::logError;
using common::logInfo;

common::HttpHandler fileHandler(std::string path) {
  return [path](const common::HttpRequest&) {
    auto r = common::readFile(path);
    if (!r) {
      return common::HttpResponse{404, "text/plain; charset=utf-8", r.error().message + "\n"};
    }
    return common::HttpResponse{200, "text/plain; charset=utf-8", *r};
  };
}

// HAProxy's stats CSV in the shape marathon-lb's clients parse (stats_csv.h), from the
// stats socket: HAProxy's :9090 answers /haproxy?stats;csv with it (mlb.lua).
common::HttpResponse statsCsv(const std::string& state) {
  auto r = masterCommand(state + "/stats.sock", "show stat", 2000);
  if (!r) {
    return common::HttpResponse{503, "text/plain; charset=utf-8",
                                "HAProxy's stats socket: " + r.error().message + "\n"};
  }
  return common::HttpResponse{200, "text/plain; charset=utf-8", haproxy20StatsCsv(*r)};
}

// marathon-lb's /_mlb_signal/usr1 (reload HAProxy with the live bundle) and
// /_mlb_signal/hup (read `current` again), as SIGUSR1 and SIGHUP do; one gate each. A
// reload is refused while an earlier one's old workers still drain: the endpoint is
// open, and reloads in a row would make the governor cut long-lived connections.
struct SignalGates {
  common::SignalGate hup, usr1;
};

void addSignalHandlers(std::map<std::string, common::HttpHandler>& handlers,
                       prometheus::Registry& registry, const WatchMetrics& m, SignalGates& gates) {
  auto& requests = prometheus::BuildCounter()
                       .Name("mlb_reloader_signal_requests_total")
                       .Help(
                           "Requests to marathon-lb's /_mlb_signal/usr1 (reload the live "
                           "bundle) and /hup, by result (accepted, refused, rate_limited).")
                       .Register(registry);
  auto count = [&requests](std::string path) {
    return [&requests, path = std::move(path)](const std::string& result) {
      requests.Add({{"endpoint", path}, {"result", result}}).Increment();
    };
  };
  handlers["/_mlb_signal/hup"] =
      common::signalEndpoint(common::OperatorSignal::Hup, gates.hup, count("/_mlb_signal/hup"));
  handlers["/_mlb_signal/usr1"] = common::signalEndpoint(
      common::OperatorSignal::Usr1, gates.usr1, count("/_mlb_signal/usr1"), [&m] {
        return m.old_generations.Value() > 0 ? std::string(
                                                   "an earlier reload's old workers still drain "
                                                   "(mlb_reloader_old_generations > 0)")
                                             : std::string();
      });
}

// /metrics, /healthz and marathon-lb's /_haproxy_* and /_mlb_signal/* endpoints.
std::map<std::string, common::HttpHandler> watchHandlers(prometheus::Registry& registry,
                                                         const WatchMetrics& m,
                                                         const ProcessTable& table,
                                                         const std::string& state,
                                                         SignalGates& gates) {
  std::map<std::string, common::HttpHandler> handlers;
  addSignalHandlers(handlers, registry, m, gates);
  handlers["/_haproxy_stats_csv"] = [state](const common::HttpRequest&) { return statsCsv(state); };
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

}  // namespace

int runWatch(const std::vector<std::string>& args, const std::map<std::string, std::string>& env) {
  common::installStopSignals();  // first: a SIGUSR1 from mlb-run must never kill it
  auto parsed = parseReloaderFlags(args, env);
  if (!parsed) {
    logError("bad flags", {{"error", parsed.error().message}});
    return 2;
  }
  const ReloaderFlags& flags = *parsed;
  const std::string state = flags.reload.state_dir;
  if (auto st = common::makeDirs(state); !st) {
    logError("cannot create the state directory", {{"error", st.error().message}});
    return 1;
  }
  prometheus::Registry registry;
  WatchMetrics m(registry);
  auto runner = common::makeBoostProcessRunner();
  ProcessTable table;
  SignalFn sig = [](pid_t pid, int s) { return pid > 1 ? ::kill(pid, s) : -1; };
  ReloadController rc(flags.reload, *runner, table, sig);
  rc.loadStatus();
  createSeries(m);
  const auto gap = std::max<common::Clock::Duration>(
      std::chrono::seconds(1),
      std::chrono::milliseconds(static_cast<int64_t>(flags.min_reload_interval_s * 1000)));
  SignalGates gates{{common::systemClock(), gap}, {common::systemClock(), gap}};
  auto server =
      common::startStatusServer(flags.listen, watchHandlers(registry, m, table, state, gates));
  if (!server) {
    logError("cannot start the status server",
             {{"listen", flags.listen}, {"error", server.error().message}});
    return 1;
  }
  auto watcher = watchNameInotify(state, "current");
  if (!watcher) {
    logError("inotify", {{"state_dir", state}, {"error", watcher.error().message}});
    return 1;
  }
  logInfo("mlb-reloader watch started",
          {{"state_dir", state}, {"listen", flags.listen}, {"haproxy", flags.reload.haproxy_bin}});
  WatchLoop(flags, rc, m, **watcher).run();
  logInfo("mlb-reloader watch stopping");
  return 0;
}

}  // namespace mlb::reloader
