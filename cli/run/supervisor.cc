#include "cli/run/supervisor.h"

#include <sys/wait.h>

#include <algorithm>
#include <csignal>
#include <cstdio>

#include "common/log.h"

namespace mlb::cli {

using common::logError;
using common::logInfo;
using common::logWarn;

namespace {
// mlb's binaries exit 2 on arguments they refuse: restarting cannot fix that.
constexpr int kBadArguments = 2;
}  // namespace

std::string describeStatus(int status) {
  if (WIFEXITED(status)) {
    return "exit " + std::to_string(WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) {
    return "signal " + std::to_string(WTERMSIG(status));
  }
  return "status " + std::to_string(status);
}

Supervisor::Supervisor(std::vector<ChildSpec> specs, ChildProcesses& procs, SupervisorOptions opts)
    : procs_(procs), opts_(opts) {
  for (auto& s : specs) {
    children_.push_back({std::move(s)});
  }
}

int Supervisor::run() {
  for (auto& c : children_) {
    start(c);
  }
  while (!stopping_ || anyRunning()) {
    const ChildEvent ev = procs_.wait(nextWake());
    if (ev.kind == ChildEvent::Kind::kStopRequested) {
      beginStop("stop signal received", 0);
    } else if (ev.kind == ChildEvent::Kind::kExited) {
      onExit(ev.pid, ev.status);
    } else if (ev.kind == ChildEvent::Kind::kOperatorSignal) {
      passOn(ev.status);
    }
    onTimers();
  }
  logInfo("all stopped", {{"exit", std::to_string(exit_code_)}});
  return exit_code_;
}

void Supervisor::start(Child& c) {
  c.pending = false;
  auto pid = procs_.start(c.spec);
  if (!pid) {
    logError("cannot start", {{"child", c.spec.name}, {"error", pid.error().message}});
    c.started = procs_.now();  // a failed start is a short run: the delay grows
    afterUnaskedExit(c, -1, 0);
    return;
  }
  c.pid = *pid;
  c.started = procs_.now();
  logInfo("started", {{"child", c.spec.name}, {"pid", std::to_string(c.pid)}});
}

void Supervisor::onExit(pid_t pid, int status) {
  auto it = std::find_if(children_.begin(), children_.end(),
                         [pid](const Child& c) { return c.pid == pid; });
  if (it == children_.end()) {
    return;  // an orphan this process reaped (it may be a container's pid 1)
  }
  it->pid = 0;
  const std::string how = describeStatus(status);
  if (stopping_) {
    const bool clean = (WIFEXITED(status) && WEXITSTATUS(status) == 0) ||
                       (WIFSIGNALED(status) && WTERMSIG(status) == it->spec.stop_signal);
    (clean ? logInfo : logWarn)("stopped", {{"child", it->spec.name}, {"status", how}});
    if (!clean && exit_code_ == 0) {
      exit_code_ = 1;
    }
    return;
  }
  logWarn("exited", {{"child", it->spec.name}, {"status", how}});
  afterUnaskedExit(*it, status, pid);
}

// A child that exits on its own: restarted after a growing delay. Two exits end the
// group instead: arguments the child refused, and HAProxy's master leaving cleanly
// while a newer HAProxy of this instance serves (a new container took its sockets over
// and soft-stopped it — this container has been replaced). A master that left cleanly
// with no newer one serving was stopped by someone else: restarted like any exit.
void Supervisor::afterUnaskedExit(Child& c, int status, pid_t exited_pid) {
  if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == kBadArguments) {
    beginStop(c.spec.name + " refused its arguments", kBadArguments);
    return;
  }
  if (c.spec.stop_signal == SIGUSR1 && status != -1 && WIFEXITED(status) &&
      WEXITSTATUS(status) == 0) {
    if (procs_.newerHaproxyServes(exited_pid)) {
      beginStop("HAProxy was soft-stopped by a newer HAProxy", 0);
      return;
    }
    logWarn("HAProxy was stopped, and no newer HAProxy of this instance serves: restarting");
  }
  const auto now = procs_.now();
  if (c.delay.count() == 0 || now - c.started >= opts_.steady_after) {
    c.delay = opts_.restart_first;
  } else {
    c.delay = std::min(c.delay * 2, opts_.restart_max);
  }
  c.restart_at = now + c.delay;
  c.pending = true;
  char in_s[32];
  std::snprintf(in_s, sizeof in_s, "%.1f", static_cast<double>(c.delay.count()) / 1000);
  logInfo("restarting", {{"child", c.spec.name}, {"in_s", in_s}});
}

// marathon-lb's SIGHUP (fetch from Marathon and regenerate) goes to the controller,
// its SIGUSR1 (reload HAProxy) to the reloader; the group goes on.
void Supervisor::passOn(int sig) {
  const std::string to = sig == SIGHUP ? "controller" : "reloader";
  for (const auto& c : children_) {
    if (c.spec.name == to && c.pid != 0 && !stopping_) {
      logInfo("passing a signal on", {{"signal", std::to_string(sig)}, {"child", to}});
      procs_.signal(c.pid, sig);
    }
  }
}

void Supervisor::beginStop(const std::string& why, int exit_code) {
  if (stopping_) {
    return;
  }
  stopping_ = true;
  exit_code_ = exit_code;
  kill_at_ = procs_.now() + opts_.stop_grace;
  logInfo("stopping", {{"reason", why}});
  for (auto& c : children_) {
    c.pending = false;
    if (c.pid != 0) {
      procs_.signal(c.pid, c.spec.stop_signal);
    }
  }
}

void Supervisor::onTimers() {
  const auto now = procs_.now();
  if (stopping_) {
    if (now < kill_at_) {
      return;
    }
    for (auto& c : children_) {
      if (c.pid != 0) {
        logWarn("killing after the grace period", {{"child", c.spec.name}});
        procs_.signalGroup(c.pid, SIGKILL);  // HAProxy's workers too
      }
    }
    kill_at_ = now + opts_.stop_grace;
    return;
  }
  for (auto& c : children_) {
    if (c.pending && now >= c.restart_at) {
      start(c);
    }
  }
}

Millis Supervisor::nextWake() const {
  const auto now = procs_.now();
  Clock::time_point wake = now + std::chrono::hours(1);
  if (stopping_) {
    wake = kill_at_;
  }
  for (const auto& c : children_) {
    if (c.pending) {
      wake = std::min(wake, c.restart_at);
    }
  }
  return std::max(Millis(0), std::chrono::ceil<Millis>(wake - now));
}

bool Supervisor::anyRunning() const {
  return std::any_of(children_.begin(), children_.end(), [](const Child& c) { return c.pid != 0; });
}

}  // namespace mlb::cli
