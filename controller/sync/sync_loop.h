#pragma once
// The controller's loop (Kubernetes' sample-controller shape): triggers only mark
// work dirty; one pass at a time recomputes everything from a fresh fetch. Any number
// of triggers coalesce into one pass; passes are at least `min_interval` apart;
// failures retry with jittered backoff; a held answer is re-fetched after
// `confirm_interval`; a full resync runs every `resync_interval` regardless.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "common/backoff.h"
#include "common/clock.h"
#include "controller/sync/reconciler.h"

namespace mlb::controller {

struct SyncLoopOptions {
  std::chrono::milliseconds min_interval{500};
  std::chrono::milliseconds resync_interval{60000};
  std::chrono::milliseconds confirm_interval{2000};
  std::chrono::milliseconds backoff_base{500};
  std::chrono::milliseconds backoff_max{30000};
  uint64_t backoff_seed = 0;  // 0: a random seed
};

class SyncLoop {
 public:
  using TimePoint = common::Clock::TimePoint;
  // `on_report(report, trigger_latency)` runs on the loop thread after every pass;
  // trigger_latency is the time since the oldest trigger the pass answered.
  using ReportFn = std::function<void(const PassReport&, std::chrono::nanoseconds)>;
  // `pass(hints)`: hints are the app ids named by the triggers since the last pass;
  // empty means a full resync is due.
  using PassFn = std::function<PassReport(const std::set<std::string>& hints)>;
  SyncLoop(PassFn pass, SyncLoopOptions options, ReportFn on_report,
           common::Clock& clock = common::systemClock());
  ~SyncLoop();

  // The loop's thread: poll(), and between passes a wait for a trigger or the time
  // poll() names. Only with the system clock (the wait is on the steady clock).
  void start();
  void stop();
  // Marks work to do. Thread-safe, cheap, never blocks on a pass. With an app id,
  // the next pass may fetch only the named apps; without, a full resync is due.
  void trigger(const std::string& app_id = "");

  // One step of the loop at the clock's now: runs the pass when one is due, else
  // says when one will be (unless a trigger comes first). Tests call it directly
  // with a FakeClock instead of start().
  struct Step {
    bool ran = false;
    TimePoint wake{};  // not ran: the next pass is due then
  };
  Step poll();

 private:
  void anchor();  // under mu_ once the thread runs
  // Under mu_: whether a pass may run now, else when one will be due.
  std::optional<TimePoint> notYet(TimePoint now) const;
  std::set<std::string> takeHints(TimePoint now);
  void schedule(const PassReport& report);
  void run();

  PassFn pass_;
  SyncLoopOptions options_;
  ReportFn on_report_;
  common::Clock& clock_;
  common::Backoff backoff_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> hints_;
  bool full_ = true;
  bool dirty_ = true;  // the first pass runs at once
  bool stopping_ = false;
  uint64_t triggers_ = 0;  // wakes the thread's wait
  std::optional<TimePoint> first_trigger_;
  TimePoint last_pass_, next_resync_;
  TimePoint retry_at_ = TimePoint::max();  // max: no retry scheduled
  std::thread thread_;
};

}  // namespace mlb::controller
