#include "cli/run/posix_children.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "common/env.h"
#include "reloader/haproxy/process_table.h"

extern char** environ;

namespace mlb::cli {

PosixChildren::PosixChildren(std::string state_dir) : state_dir_(std::move(state_dir)) {
  sigemptyset(&handled_);
  for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1}) {
    sigaddset(&handled_, sig);
  }
  ::sigprocmask(SIG_BLOCK, &handled_, nullptr);
}

// Each child gets its own process group, so a terminal's Ctrl-C reaches only the
// supervisor, which stops each child its own graceful way.
common::Result<pid_t> PosixChildren::start(const ChildSpec& spec) {
  std::map<std::string, std::string> env = common::environmentMap(environ);
  for (auto it = env.begin(); it != env.end();) {
    it = dropsVariable(spec, it->first) ? env.erase(it) : std::next(it);
  }
  for (const auto& [k, v] : spec.env) {
    env[k] = v;
  }
  std::vector<std::string> env_lines;
  for (const auto& [k, v] : env) {
    env_lines.push_back(k + "=" + v);
  }
  std::vector<char*> envp;
  for (auto& line : env_lines) {
    envp.push_back(line.data());
  }
  envp.push_back(nullptr);
  std::vector<std::string> args = spec.argv;
  std::vector<char*> argv;
  for (auto& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &handled_);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(
      &attr,
      static_cast<short>(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP));
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, argv[0], nullptr, &attr, argv.data(), envp.data());
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    return common::Error::io(spec.argv[0] + ": " + std::strerror(rc));
  }
  return pid;
}

void PosixChildren::signal(pid_t pid, int sig) {
  if (pid > 1) {  // kill(0 or -1, ...) would reach a process group or everything
    ::kill(pid, sig);
  }
}

void PosixChildren::signalGroup(pid_t child, int sig) {
  if (child > 1) {  // its own group, made at its start (POSIX_SPAWN_SETPGROUP)
    ::killpg(child, sig);
  }
}

bool PosixChildren::newerHaproxyServes(pid_t exited) {
  reloader::ProcessTable table;
  auto master = reloader::findVerifiedMaster(table, state_dir_);
  return master && *master != exited;
}

ChildEvent PosixChildren::wait(Millis timeout) {
  const auto until = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      return {ChildEvent::Kind::kExited, pid, status};
    }
    const auto left = std::max(Millis(0), std::chrono::duration_cast<Millis>(until - Clock::now()));
    timespec ts{static_cast<time_t>(left.count() / 1000),
                static_cast<long>((left.count() % 1000) * 1000000)};
    const int sig = ::sigtimedwait(&handled_, nullptr, &ts);
    if (sig == SIGTERM || sig == SIGINT || sig == SIGQUIT) {
      return {ChildEvent::Kind::kStopRequested, 0, 0};
    }
    if (sig == SIGHUP || sig == SIGUSR1) {
      return {ChildEvent::Kind::kOperatorSignal, 0, sig};
    }
    if (sig < 0 && errno == EAGAIN) {
      return {};
    }
    // SIGCHLD (or EINTR): reap on the next round.
  }
}

}  // namespace mlb::cli
