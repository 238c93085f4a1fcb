#pragma once
// ChildProcesses over posix_spawn, waitpid and sigtimedwait. Construct it before any
// thread starts: it blocks SIGCHLD, SIGTERM and SIGINT in this process (they are read
// with sigtimedwait) and unblocks them in every child.
#include <signal.h>

#include "cli/run/supervisor.h"

namespace mlb::cli {

class PosixChildren final : public ChildProcesses {
 public:
  PosixChildren();
  common::Result<pid_t> start(const ChildSpec& spec) override;
  void signal(pid_t pid, int sig) override;
  ChildEvent wait(Millis timeout) override;
  Clock::time_point now() const override { return Clock::now(); }

 private:
  sigset_t handled_{};
};

}  // namespace mlb::cli
