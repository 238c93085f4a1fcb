#include "cli/run/supervisor.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <csignal>
#include <map>
#include <set>

namespace mlb::cli {
namespace {

int exited(int code) { return code << 8; }  // a waitpid status (W_EXITCODE)
int killedBy(int sig) { return sig; }

// A fake process table with a fake clock. Children exit when the test says so, or
// (when `answers_stop`) shortly after their stop signal. It fails the test on any
// signal to a pid that is not a running child of the supervisor.
class FakeChildren : public ChildProcesses {
 public:
  struct Scheduled {
    Clock::time_point at;
    ChildEvent ev;
  };

  common::Result<pid_t> start(const ChildSpec& spec) override {
    if (fail_starts[spec.name] > 0) {
      --fail_starts[spec.name];
      return common::Error::io(spec.argv[0] + ": No such file or directory");
    }
    const pid_t pid = next_pid++;
    running[pid] = spec.name;
    started.insert(pid);
    starts.push_back({spec.name, t});
    return pid;
  }
  void signal(pid_t pid, int sig) override {
    EXPECT_TRUE(running.count(pid))
        << "signal " << sig << " to pid " << pid << ", not a running child";
    signals.push_back({running.count(pid) ? running[pid] : "?", sig});
    // Its stop signal (SIGUSR1 for HAProxy, SIGTERM for mlb's binaries) ends a child;
    // marathon-lb's operator signals do not.
    const bool stop =
        sig == SIGKILL || sig == SIGTERM || (sig == SIGUSR1 && running[pid] == "haproxy");
    if (running.count(pid) && stop && (sig == SIGKILL || !ignores_stop.count(running[pid]))) {
      exitAt(pid, t + Millis(100), sig == SIGUSR1 ? exited(0) : killedBy(sig));
    }
  }
  void signalGroup(pid_t pid, int sig) override {
    groups.push_back(pid);
    signal(pid, sig);
  }
  bool newerHaproxyServes(pid_t) override { return newer_haproxy; }
  ChildEvent wait(Millis timeout) override {
    if (++waits > 1000) {
      ADD_FAILURE() << "the supervisor does not finish";
      return {ChildEvent::Kind::kStopRequested, 0, 0};
    }
    auto until = t + timeout;
    auto next = queue.begin();
    for (auto it = queue.begin(); it != queue.end(); ++it) {
      if (it->at < next->at) {
        next = it;
      }
    }
    if (next == queue.end() || next->at > until) {
      t = until;
      return {};
    }
    t = std::max(t, next->at);
    ChildEvent ev = next->ev;
    queue.erase(next);
    if (ev.kind == ChildEvent::Kind::kExited && running.erase(ev.pid) == 0 &&
        started.count(ev.pid) != 0) {
      return wait(std::chrono::duration_cast<Millis>(
          until - t));  // already reaped (signalled twice): nothing to report
    }
    return ev;
  }
  Clock::time_point now() const override { return t; }

  bool newer_haproxy = true;  // a newer HAProxy of this instance serves
  std::vector<pid_t> groups;  // signalGroup() targets

  pid_t pidOf(const std::string& name) const {
    for (const auto& [pid, n] : running) {
      if (n == name) {
        return pid;
      }
    }
    return 0;
  }
  void exitAt(pid_t pid, Clock::time_point at, int status) {
    queue.push_back({at, {ChildEvent::Kind::kExited, pid, status}});
  }
  void stopAt(Clock::time_point at) { queue.push_back({at, {ChildEvent::Kind::kStopRequested}}); }

  Clock::time_point t = Clock::time_point{} + std::chrono::hours(1);  // not the clock's zero
  pid_t next_pid = 100;
  std::map<std::string, int> fail_starts;
  std::set<pid_t> started;
  int waits = 0;
  std::map<pid_t, std::string> running;
  std::set<std::string> ignores_stop;
  std::vector<Scheduled> queue;
  std::vector<std::pair<std::string, Clock::time_point>> starts;
  std::vector<std::pair<std::string, int>> signals;
};

std::vector<ChildSpec> specs() {
  return {{"controller", {"mlb-controller", "--sse"}, {}, SIGTERM, {}},
          {"reloader", {"mlb-reloader", "watch"}, {}, SIGTERM, {}},
          {"haproxy", {"mlb-reloader", "haproxy"}, {}, SIGUSR1, {}}};
}

Clock::time_point at(int ms) { return Clock::time_point{} + std::chrono::hours(1) + Millis(ms); }

std::vector<Millis> startTimesOf(const FakeChildren& f, const std::string& name) {
  std::vector<Millis> out;
  for (const auto& [n, when] : f.starts) {
    if (n == name) {
      out.push_back(std::chrono::duration_cast<Millis>(when - at(0)));
    }
  }
  return out;
}

TEST(SupervisorTest, AStopSignalStopsEachChildItsGracefulWayAndExitsZero) {
  FakeChildren f;
  f.stopAt(at(5000));
  Supervisor s(specs(), f);
  EXPECT_EQ(s.run(), 0);
  ASSERT_EQ(f.starts.size(), 3u);
  EXPECT_EQ(f.signals, (std::vector<std::pair<std::string, int>>{
                           {"controller", SIGTERM}, {"reloader", SIGTERM}, {"haproxy", SIGUSR1}}));
  EXPECT_TRUE(f.running.empty());
}

TEST(SupervisorTest, ADeadChildIsRestartedAfterADelayThatDoublesUpToTheCap) {
  FakeChildren f;
  SupervisorOptions o;
  o.restart_max = Millis(4000);
  // The controller dies 10 ms after each start, seven times; then a stop.
  Supervisor s(specs(), f, o);
  f.exitAt(100, at(10), exited(1));
  // Each restarted controller dies 10 ms after its start (pids 100..102 are the first
  // three children); the deaths are scheduled at the times the delays predict.
  int t = 10;
  pid_t pid = 103;
  for (int delay : {1000, 2000, 4000, 4000, 4000}) {
    t += delay + 10;
    f.exitAt(pid++, at(t), exited(1));
  }
  f.stopAt(at(t + 100));
  EXPECT_EQ(s.run(), 0);
  EXPECT_EQ(startTimesOf(f, "controller"),
            (std::vector<Millis>{Millis(0), Millis(1010), Millis(3020), Millis(7030), Millis(11040),
                                 Millis(15050)}));
  EXPECT_EQ(startTimesOf(f, "reloader").size(), 1u);
}

TEST(SupervisorTest, AChildThatRanLongRestartsAfterTheFirstDelayAgain) {
  FakeChildren f;
  Supervisor s(specs(), f);
  f.exitAt(101, at(10), killedBy(SIGSEGV));     // reloader: restarted at 1010 as 103
  f.exitAt(103, at(1020), exited(1));           // at once again: 2 s
  f.exitAt(104, at(3020 + 120000), exited(1));  // after two minutes: 1 s again
  f.stopAt(at(3020 + 120000 + 5000));
  EXPECT_EQ(s.run(), 0);
  EXPECT_EQ(startTimesOf(f, "reloader"),
            (std::vector<Millis>{Millis(0), Millis(1010), Millis(3020), Millis(124020)}));
}

TEST(SupervisorTest, AChildIgnoringItsStopSignalIsKilledAfterTheGraceAndTheExitIsOne) {
  FakeChildren f;
  f.ignores_stop = {"reloader"};
  f.stopAt(at(1000));
  SupervisorOptions o;
  o.stop_grace = Millis(5000);
  Supervisor s(specs(), f, o);
  EXPECT_EQ(s.run(), 1);
  EXPECT_EQ(f.signals.back(), (std::pair<std::string, int>{"reloader", SIGKILL}));
  EXPECT_EQ(f.groups.size(), 1u);  // the kill goes to its process group (workers too)
  EXPECT_EQ(f.t, at(6100));
  EXPECT_TRUE(f.running.empty());
}

TEST(SupervisorTest, RefusedArgumentsStopTheGroupWithExitTwoAndNoRestart) {
  FakeChildren f;
  f.exitAt(100, at(50), exited(2));  // mlb-controller: bad flags
  Supervisor s(specs(), f);
  EXPECT_EQ(s.run(), 2);
  EXPECT_EQ(startTimesOf(f, "controller").size(), 1u);
  EXPECT_EQ(f.signals, (std::vector<std::pair<std::string, int>>{{"reloader", SIGTERM},
                                                                 {"haproxy", SIGUSR1}}));
}

TEST(SupervisorTest, HaproxyLeavingCleanlyMeansANewerOneTookOverAndTheGroupStops) {
  FakeChildren f;
  f.exitAt(102, at(20000), exited(0));  // soft-stopped by a newer container's HAProxy
  Supervisor s(specs(), f);
  EXPECT_EQ(s.run(), 0);
  EXPECT_EQ(startTimesOf(f, "haproxy").size(), 1u);
  EXPECT_EQ(f.signals, (std::vector<std::pair<std::string, int>>{{"controller", SIGTERM},
                                                                 {"reloader", SIGTERM}}));
}

TEST(SupervisorTest, HaproxyStoppedBySomeoneElseIsRestartedNotTakenForReplaced) {
  // A clean exit with no newer HAProxy of this instance serving: stopped, not replaced.
  FakeChildren f;
  f.newer_haproxy = false;
  f.exitAt(102, at(20000), exited(0));
  f.stopAt(at(30000));
  Supervisor s(specs(), f);
  EXPECT_EQ(s.run(), 0);
  EXPECT_EQ(startTimesOf(f, "haproxy").size(), 2u);
}

TEST(SupervisorTest, MarathonLbsSignalsArePassedOnNotAStop) {
  // SIGHUP stopped mlb-run's whole group; in marathon-lb it means "fetch from Marathon
  // and regenerate" (the controller), SIGUSR1 "reload HAProxy" (the reloader).
  FakeChildren f;
  f.queue.push_back({at(1000), {ChildEvent::Kind::kOperatorSignal, 0, SIGHUP}});
  f.queue.push_back({at(2000), {ChildEvent::Kind::kOperatorSignal, 0, SIGUSR1}});
  f.stopAt(at(5000));
  Supervisor s(specs(), f);
  EXPECT_EQ(s.run(), 0);
  ASSERT_GE(f.signals.size(), 2u);
  EXPECT_EQ(f.signals[0], (std::pair<std::string, int>{"controller", SIGHUP}));
  EXPECT_EQ(f.signals[1], (std::pair<std::string, int>{"reloader", SIGUSR1}));
  for (const auto& name : {"controller", "reloader", "haproxy"}) {
    EXPECT_EQ(startTimesOf(f, name).size(), 1u) << name;  // nothing stopped or restarted
  }
}

TEST(SupervisorTest, HaproxyCrashingIsRestarted) {
  FakeChildren f;
  f.exitAt(102, at(20000), killedBy(SIGSEGV));
  f.stopAt(at(30000));
  Supervisor s(specs(), f);
  EXPECT_EQ(s.run(), 0);
  EXPECT_EQ(startTimesOf(f, "haproxy"), (std::vector<Millis>{Millis(0), Millis(21000)}));
}

TEST(SupervisorTest, AChildAwaitingItsRestartIsNotSignalledAtStop) {
  FakeChildren f;
  f.exitAt(100, at(10), exited(1));  // controller down, restart due at 1010
  f.stopAt(at(500));
  Supervisor s(specs(), f);
  EXPECT_EQ(s.run(), 0);  // and the fake checks no signal went to pid 100
  EXPECT_EQ(startTimesOf(f, "controller").size(), 1u);
  EXPECT_EQ(f.signals.size(), 2u);
}

TEST(SupervisorTest, AnOrphanReapedByTheSupervisorIsIgnored) {
  FakeChildren f;
  f.exitAt(4242, at(10), exited(0));  // not a child it started (it may be pid 1)
  f.stopAt(at(2000));
  Supervisor s(specs(), f);
  EXPECT_EQ(s.run(), 0);
  EXPECT_EQ(f.starts.size(), 3u);
}

TEST(SupervisorTest, AFailedStartIsRetriedWithTheSameDelays) {
  FakeChildren f;
  f.fail_starts["controller"] = 2;  // the controller's binary is missing twice
  f.stopAt(at(10000));
  Supervisor s(specs(), f);
  EXPECT_EQ(s.run(), 0);
  EXPECT_EQ(startTimesOf(f, "controller"), (std::vector<Millis>{Millis(3000)}));
}

TEST(SupervisorTest, DescribesWaitStatuses) {
  EXPECT_EQ(describeStatus(exited(0)), "exit 0");
  EXPECT_EQ(describeStatus(exited(2)), "exit 2");
  EXPECT_EQ(describeStatus(killedBy(SIGKILL)), "signal 9");
}

}  // namespace
}  // namespace mlb::cli
