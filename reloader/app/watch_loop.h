#pragma once
// The watch loop of `mlb-reloader watch`: waits for a new bundle (or the recheck tick),
// applies it at least --min-reload-interval after the last reload, runs the governor on
// its own tick, and counts and logs every outcome. Its edges are the reload pass, the
// file watcher and the clock, so that its pacing is tested with fakes.
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <chrono>
#include <string>

#include "common/clock.h"
#include "reloader/app/reloader_flags.h"
#include "reloader/reload/reload_controller.h"
#include "reloader/watch/file_watcher.h"

namespace mlb::reloader {

// mlb-reloader's metrics (mlb_reloader_*), registered in `r`.
struct WatchMetrics {
  explicit WatchMetrics(prometheus::Registry& r)
      : reloads(prometheus::BuildCounter()
                    .Name("mlb_reloader_reloads_total")
                    .Help("Reloads by kind and result (success, failure).")
                    .Register(r)),
        validations(prometheus::BuildCounter()
                        .Name("mlb_reloader_validations_total")
                        .Help("Bundles checked with haproxy -c, by result (valid, invalid).")
                        .Register(r)),
        duration(prometheus::BuildHistogram()
                     .Name("mlb_reloader_reload_duration_seconds")
                     .Help("From a new bundle seen to the reload verified by show proc.")
                     .Register(r)
                     .Add({}, prometheus::Histogram::BucketBoundaries{0.05, 0.1, 0.25, 0.5, 1, 2.5,
                                                                      5, 10, 30})),
        processes(prometheus::BuildGauge()
                      .Name("mlb_reloader_haproxy_processes")
                      .Help("Live HAProxy processes of this instance, by role.")
                      .Register(r)),
        old_generations(prometheus::BuildGauge()
                            .Name("mlb_reloader_old_generations")
                            .Help("Old worker generations still draining.")
                            .Register(r)
                            .Add({})),
        governor(prometheus::BuildCounter()
                     .Name("mlb_reloader_governor_signals_total")
                     .Help("Signals sent to old workers by the governor, by signal.")
                     .Register(r)),
        refused(prometheus::BuildCounter()
                    .Name("mlb_reloader_refused_signals_total")
                    .Help("Signals not sent because the pid failed verification.")
                    .Register(r)
                    .Add({})),
        version(prometheus::BuildGauge()
                    .Name("mlb_reloader_version_info")
                    .Help("1 for the applied bundle version (state=applied) and the last "
                          "rejected one (state=rejected).")
                    .Register(r)),
        rejected(prometheus::BuildGauge()
                     .Name("mlb_reloader_rejected_versions")
                     .Help("Bundle versions rejected and remembered in status.json.")
                     .Register(r)
                     .Add({})),
        last_reload(prometheus::BuildGauge()
                        .Name("mlb_reloader_last_reload_timestamp_seconds")
                        .Help("Unix time of the last successful reload.")
                        .Register(r)
                        .Add({})),
        path_errors(prometheus::BuildCounter()
                        .Name("mlb_reloader_path_errors_total")
                        .Help("Failed rollbacks of live and status.json writes (each retried).")
                        .Register(r)
                        .Add({})),
        runtime_commands(prometheus::BuildCounter()
                             .Name("mlb_reloader_runtime_commands_total")
                             .Help("Runtime API commands sent in batches, by result (ok: the "
                                   "batch got the expected replies, failed: it did not).")
                             .Register(r)),
        runtime_fallbacks(prometheus::BuildCounter()
                              .Name("mlb_reloader_runtime_fallbacks_total")
                              .Help("Versions applied by a reload although the runtime path "
                                    "is on, by reason.")
                              .Register(r)),
        drift(prometheus::BuildCounter()
                  .Name("mlb_reloader_drift_repairs_total")
                  .Help("Differences between HAProxy's servers and live, by how they were "
                        "repaired (command, reload).")
                  .Register(r)),
        deleted(prometheus::BuildCounter()
                    .Name("mlb_reloader_runtime_deleted_servers_total")
                    .Help("Removed servers deleted through the Runtime API once drained.")
                    .Register(r)
                    .Add({})) {}
  prometheus::Family<prometheus::Counter>& reloads;
  prometheus::Family<prometheus::Counter>& validations;
  prometheus::Histogram& duration;
  prometheus::Family<prometheus::Gauge>& processes;
  prometheus::Gauge& old_generations;
  prometheus::Family<prometheus::Counter>& governor;
  prometheus::Counter& refused;
  prometheus::Family<prometheus::Gauge>& version;
  prometheus::Gauge& rejected;
  prometheus::Gauge& last_reload;
  prometheus::Counter& path_errors;
  prometheus::Family<prometheus::Counter>& runtime_commands;
  prometheus::Family<prometheus::Counter>& runtime_fallbacks;
  prometheus::Family<prometheus::Counter>& drift;
  prometheus::Counter& deleted;
};

// Every outcome series exists from the start (at 0), so that dashboards and alerts see
// it before the first reload.
void createSeries(WatchMetrics& m);

class WatchLoop {
 public:
  WatchLoop(const ReloaderFlags& flags, ReloadPass& pass, WatchMetrics& m, FileWatcher& watcher,
            common::Clock& clock = common::systemClock());

  // Until stopRequested(): step() after step().
  void run();
  // One wait for a change or the recheck tick, then what is due: an apply, the
  // governor's tick, or the runtime path's share of it after a runtime apply.
  void step();

 private:
  bool report(const ApplyResult& r);
  bool reportApplied(const ApplyResult& r);

  ReloadPass& pass_;
  WatchMetrics& m_;
  FileWatcher& watcher_;
  common::Clock& clock_;
  const std::chrono::milliseconds min_interval_;
  const int recheck_ms_;
  common::Clock::TimePoint last_reload_;
  common::Clock::TimePoint next_govern_;
  bool dirty_ = true;
  std::string last_waiting_;
  prometheus::Gauge* applied_gauge_ = nullptr;
  prometheus::Gauge* last_rejected_gauge_ = nullptr;
};

}  // namespace mlb::reloader
