#pragma once
// The controller's loop (Kubernetes' sample-controller shape): triggers only mark
// work dirty; one pass at a time recomputes everything from a fresh fetch. Any number
// of triggers coalesce into one pass; passes are at least `min_interval` apart;
// failures retry with jittered backoff; a held answer is re-fetched after
// `confirm_interval`; a full resync runs every `resync_interval` regardless.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "controller/sync/reconciler.h"

namespace mlb::controller {

struct SyncLoopOptions {
  std::chrono::milliseconds min_interval{500};
  std::chrono::milliseconds resync_interval{60000};
  std::chrono::milliseconds confirm_interval{2000};
  std::chrono::milliseconds backoff_base{500};
  std::chrono::milliseconds backoff_max{30000};
};

class SyncLoop {
 public:
  // `on_report(report, trigger_latency)` runs on the loop thread after every pass;
  // trigger_latency is the time since the oldest trigger the pass answered.
  using ReportFn = std::function<void(const PassReport&, std::chrono::nanoseconds)>;
  // `pass(hints)`: hints are the app ids named by the triggers since the last pass;
  // empty means a full resync is due.
  using PassFn = std::function<PassReport(const std::set<std::string>& hints)>;
  SyncLoop(PassFn pass, SyncLoopOptions options, ReportFn on_report);
  ~SyncLoop();

  void start();
  void stop();
  // Marks work to do. Thread-safe, cheap, never blocks on a pass. With an app id,
  // the next pass may fetch only the named apps; without, a full resync is due.
  void trigger(const std::string& app_id = "");

 private:
  void run();

  PassFn pass_;
  std::set<std::string> hints_;
  bool full_ = true;
  SyncLoopOptions options_;
  ReportFn on_report_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool dirty_ = true;  // the first pass runs at once
  bool stopping_ = false;
  std::optional<std::chrono::steady_clock::time_point> first_trigger_;
  std::thread thread_;
};

}  // namespace mlb::controller
