#pragma once
// The one-container mode's supervisor: starts its children, restarts one that dies
// (with a growing delay), and on a stop request asks each to stop gracefully, then
// kills what is left after a grace period. It only ever signals its own children,
// and only between their start and the exit it has reaped (so never a reused pid).
#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "cli/run/image_plan.h"
#include "common/result.h"

namespace mlb::cli {

using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;

struct ChildEvent {
  // kOperatorSignal: marathon-lb's SIGHUP or SIGUSR1 reached the supervisor (`status`
  // holds the signal): passed on to the child that acts on it, never a stop.
  enum class Kind { kTimeout, kExited, kStopRequested, kOperatorSignal };
  Kind kind = Kind::kTimeout;
  pid_t pid = 0;
  int status = 0;  // as waitpid reports it
};

// The edge: this process's children, its stop signals and its clock.
class ChildProcesses {
 public:
  virtual ~ChildProcesses() = default;
  virtual common::Result<pid_t> start(const ChildSpec& spec) = 0;
  virtual void signal(pid_t pid, int sig) = 0;
  // To a child's whole process group (each child leads its own: HAProxy's workers are
  // in its master's), for the SIGKILL after the grace.
  virtual void signalGroup(pid_t child, int sig) = 0;
  // Whether a newer HAProxy of this instance serves now, one other than `exited` (the
  // master that left cleanly: replaced, or stopped by someone else).
  virtual bool newerHaproxyServes(pid_t exited) = 0;
  // The next child exit or stop request, or kTimeout after `timeout`.
  virtual ChildEvent wait(Millis timeout) = 0;
  virtual Clock::time_point now() const = 0;
};

struct SupervisorOptions {
  Millis restart_first{1000};  // delay before the first restart of a child
  Millis restart_max{30000};   // the delay doubles up to this
  Millis steady_after{60000};  // a child that ran this long restarts after restart_first again
  Millis stop_grace{30000};    // then SIGKILL
};

// "exit 0", "exit 2", "signal 9" for a waitpid status.
std::string describeStatus(int status);

class Supervisor {
 public:
  Supervisor(std::vector<ChildSpec> specs, ChildProcesses& procs, SupervisorOptions opts = {});
  // Runs until every child has stopped; returns the exit status: 0 when all stopped
  // cleanly, 2 when a child refused its arguments (restarting cannot help), 1 otherwise.
  int run();

 private:
  struct Child {
    ChildSpec spec;
    pid_t pid = 0;  // 0: not running
    Clock::time_point started{};
    Clock::time_point restart_at{};
    Millis delay{0};
    bool pending = false;  // a restart is scheduled at restart_at
  };
  void start(Child& c);
  void onExit(pid_t pid, int status);
  void afterUnaskedExit(Child& c, int status, pid_t exited_pid);
  void passOn(int sig);
  void beginStop(const std::string& why, int exit_code);
  void onTimers();
  Millis nextWake() const;
  bool anyRunning() const;

  std::vector<Child> children_;
  ChildProcesses& procs_;
  SupervisorOptions opts_;
  bool stopping_ = false;
  Clock::time_point kill_at_{};
  int exit_code_ = 0;
};

}  // namespace mlb::cli
