#pragma once
// ChildProcesses over posix_spawn, waitpid and sigtimedwait. Construct it before any
// thread starts: it blocks SIGCHLD, the stop signals (SIGTERM, SIGINT, SIGQUIT) and
// marathon-lb's operator signals (SIGHUP, SIGUSR1, passed on) in this process (they are read with
// sigtimedwait) and unblocks them in every child. A child's environment is this process's, less
// spec.drop_env, plus spec.env.
#include <signal.h>

#include <string>

#include "cli/run/supervisor.h"

namespace mlb::cli {

class PosixChildren final : public ChildProcesses {
 public:
  // `state_dir`: the instance's, where haproxy.master names its HAProxy master.
  explicit PosixChildren(std::string state_dir = "/run/mlb");
  common::Result<pid_t> start(const ChildSpec& spec) override;
  void signal(pid_t pid, int sig) override;
  void signalGroup(pid_t child, int sig) override;
  bool newerHaproxyServes(pid_t exited) override;
  ChildEvent wait(Millis timeout) override;
  Clock::time_point now() const override { return Clock::now(); }

 private:
  sigset_t handled_{};
  std::string state_dir_;
};

}  // namespace mlb::cli
