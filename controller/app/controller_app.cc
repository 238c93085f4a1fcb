#include "controller/app/controller_app.h"

#include <malloc.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "common/env.h"
#include "common/fs/config_edits.h"
#include "common/fs/files.h"
#include "common/http/signal_endpoint.h"
#include "common/http/status_server.h"
#include "common/log.h"
#include "common/memory.h"
#include "common/net_resolver.h"
#include "controller/marathon/sse_event_stream.h"
#include "controller/render/render_flags.h"
#include "controller/render/template_set.h"

namespace mlb::controller {
namespace {

// The answers for named agents, kept in the state directory across restarts: a
// restarted controller serves them at once (refreshing in the background) instead of
// leaving those tasks out of its first bundles while a slow DNS answers.
class HostsFile {
 public:
  HostsFile(std::string path, common::HostResolver& resolver)
      : path_(std::move(path)), resolver_(resolver) {
    if (auto text = common::readFile(path_)) {
      auto j = nlohmann::json::parse(*text, nullptr, false);
      std::map<std::string, std::string> kept;
      for (auto it = j.is_object() ? j.begin() : j.end(); it != j.end(); ++it) {
        if (it.value().is_string()) {
          kept.emplace(it.key(), it.value().get<std::string>());
        }
      }
      resolver_.seed(kept);
    }
    saved_ = resolver_.changes();
  }
  // Written when an answer is new or changed since the last write.
  void save() {
    const uint64_t now = resolver_.changes();
    if (now == saved_) {
      return;
    }
    if (auto st = common::writeFileAtomic(path_, nlohmann::json(resolver_.answers()).dump()); !st) {
      common::logWarn("cannot keep the named agents' addresses", {{"error", st.error().message}});
      return;
    }
    saved_ = now;
  }

 private:
  std::string path_;
  common::HostResolver& resolver_;
  uint64_t saved_ = 0;
};

using common::logError;
using common::logInfo;
using common::logWarn;
using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

double nowSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Every metric of the controller (README, "Endpoints and metrics"), on one registry.
struct Metrics {
  explicit Metrics(prometheus::Registry& r)
      : syncs(BuildCounter()
                  .Name("mlb_controller_syncs_total")
                  .Help("Reconcile passes by result (published, unchanged, held, failed).")
                  .Register(r)),
        sync_seconds(
            BuildHistogram()
                .Name("mlb_controller_sync_duration_seconds")
                .Help("Duration of one reconcile pass (fetch to publish).")
                .Register(r)
                .Add({}, prometheus::Histogram::BucketBoundaries{0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                                 1, 2.5, 5, 10, 30})),
        signals(BuildCounter()
                    .Name("mlb_controller_signals_total")
                    .Help("marathon-lb's operator signals received (SIGHUP, SIGUSR1): a full "
                          "resync from Marathon each.")
                    .Register(r)),
        signal_requests(BuildCounter()
                            .Name("mlb_controller_signal_requests_total")
                            .Help("Requests to marathon-lb's /_mlb_signal/hup and /usr1 (a full "
                                  "resync each), by result (accepted, rate_limited).")
                            .Register(r)),
        marathon_requests(BuildCounter()
                              .Name("mlb_controller_marathon_requests_total")
                              .Help("Requests to Marathon by URL and result.")
                              .Register(r)),
        faults(BuildCounter()
                   .Name("mlb_controller_marathon_faults_total")
                   .Help("Passes that published nothing because of Marathon, by kind.")
                   .Register(r)),
        guard_holds(BuildCounter()
                        .Name("mlb_controller_guard_holds_total")
                        .Help("Answers held back by a guard (empty, shrink, health_unknown).")
                        .Register(r)),
        sse_connects(BuildCounter()
                         .Name("mlb_controller_sse_connects_total")
                         .Help("Event stream connections opened.")
                         .Register(r)
                         .Add({})),
        sse_disconnects(BuildCounter()
                            .Name("mlb_controller_sse_disconnects_total")
                            .Help("Event stream connections lost or refused.")
                            .Register(r)
                            .Add({})),
        sse_events(BuildCounter()
                       .Name("mlb_controller_sse_events_total")
                       .Help("Events received on the stream, by type.")
                       .Register(r)),
        sse_silence(BuildGauge()
                        .Name("mlb_controller_sse_seconds_since_last_byte")
                        .Help("Seconds since the event stream last sent a byte.")
                        .Register(r)
                        .Add({})),
        sse_connected(BuildGauge()
                          .Name("mlb_controller_sse_connected")
                          .Help("1 while the event stream is open.")
                          .Register(r)
                          .Add({})),
        counts(BuildGauge()
                   .Name("mlb_controller_model")
                   .Help("Size of the last published model (kind: apps, services, servers).")
                   .Register(r)),
        quarantined(BuildGauge()
                        .Name("mlb_controller_quarantined_apps")
                        .Help("Apps or ports in quarantine in the last pass, by source.")
                        .Register(r)),
        app_warnings(BuildCounter()
                         .Name("mlb_controller_app_warnings_total")
                         .Help("Ports served differently from how their labels read (as "
                               "marathon-lb served them), counted when each first appears, by "
                               "kind.")
                         .Register(r)),
        skipped_tasks(BuildCounter()
                          .Name("mlb_controller_skipped_tasks_total")
                          .Help("Tasks left out of a pass because of a bad value or an "
                                "unresolvable host, by reason (counted in every pass).")
                          .Register(r)),
        publishes(BuildCounter()
                      .Name("mlb_controller_publishes_total")
                      .Help("Bundles published (current swapped).")
                      .Register(r)
                      .Add({})),
        validations(BuildCounter()
                        .Name("mlb_controller_validations_total")
                        .Help("Bundles published, by whether haproxy -c checked them "
                              "(result=run) or their shape was one HAProxy had accepted "
                              "(result=skipped: only servers changed).")
                        .Register(r)),
        event_to_publish(
            BuildHistogram()
                .Name("mlb_controller_event_to_publish_seconds")
                .Help("From the first trigger of a pass to its bundle published.")
                .Register(r)
                .Add({}, prometheus::Histogram::BucketBoundaries{0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                                 1, 2.5, 5, 10})),
        last_publish(BuildGauge()
                         .Name("mlb_controller_last_publish_timestamp_seconds")
                         .Help("Unix time of the last publish.")
                         .Register(r)
                         .Add({})),
        last_success(BuildGauge()
                         .Name("mlb_controller_last_successful_sync_timestamp_seconds")
                         .Help("Unix time of the last pass that read Marathon successfully.")
                         .Register(r)
                         .Add({})),
        ready(BuildGauge()
                  .Name("mlb_controller_ready")
                  .Help("1 once a bundle is published.")
                  .Register(r)
                  .Add({})),
        bundle_state(BuildGauge()
                         .Name("mlb_controller_bundle_state")
                         .Help("1 for the current bundle version, by reloader state "
                               "(applied, rejected, pending).")
                         .Register(r)),
        reloader_rejected(BuildGauge()
                              .Name("mlb_controller_reloader_rejected_versions")
                              .Help("Versions the reloader has rejected (from status.json).")
                              .Register(r)
                              .Add({})),
        reloader_rejections(
            BuildCounter()
                .Name("mlb_controller_reloader_rejections_total")
                .Help("Rejections by the reloader of a published version that the controller "
                      "acted on, by whether apps could be blamed (attributed: true) or "
                      "publishing was held (false).")
                .Register(r)),
        status_errors(BuildCounter()
                          .Name("mlb_controller_status_file_errors_total")
                          .Help("Reads of the reloader's status.json that were not a status.")
                          .Register(r)
                          .Add({})) {}

  prometheus::Family<prometheus::Counter>& syncs;
  prometheus::Histogram& sync_seconds;
  prometheus::Family<prometheus::Counter>& signals;
  prometheus::Family<prometheus::Counter>& signal_requests;
  prometheus::Family<prometheus::Counter>& marathon_requests;
  prometheus::Family<prometheus::Counter>& faults;
  prometheus::Family<prometheus::Counter>& guard_holds;
  prometheus::Counter& sse_connects;
  prometheus::Counter& sse_disconnects;
  prometheus::Family<prometheus::Counter>& sse_events;
  prometheus::Gauge& sse_silence;
  prometheus::Gauge& sse_connected;
  prometheus::Family<prometheus::Gauge>& counts;
  prometheus::Family<prometheus::Gauge>& quarantined;
  prometheus::Family<prometheus::Counter>& app_warnings;
  prometheus::Family<prometheus::Counter>& skipped_tasks;
  prometheus::Counter& publishes;
  prometheus::Family<prometheus::Counter>& validations;
  prometheus::Histogram& event_to_publish;
  prometheus::Gauge& last_publish;
  prometheus::Gauge& last_success;
  prometheus::Gauge& ready;
  prometheus::Family<prometheus::Gauge>& bundle_state;
  prometheus::Gauge& reloader_rejected;
  prometheus::Family<prometheus::Counter>& reloader_rejections;
  prometheus::Counter& status_errors;
};

// What /v1/status shows; written by the loop thread, read by HTTP threads.
struct StatusBoard {
  std::mutex mu;
  nlohmann::json last_pass = nullptr;
  nlohmann::json quarantined = nlohmann::json::array();
  nlohmann::json skipped_tasks = nlohmann::json::array();
  nlohmann::json warnings = nlohmann::json::array();
  std::string marathon_url;
  std::string version;
  std::string reloader_state = "unknown";
  nlohmann::json reloader_apply = nullptr;  // how the applied version went live
  bool sse_connected = false;
  size_t apps = 0, services = 0, servers = 0;
  std::atomic<bool> ready{false};
};

std::string joinIds(const std::vector<std::string>& ids, size_t max = 5) {
  std::string s;
  for (size_t i = 0; i < ids.size() && i < max; ++i) {
    s += (i ? "," : "") + ids[i];
  }
  if (ids.size() > max) {
    s += ",+" + std::to_string(ids.size() - max);
  }
  return s;
}

// Reads the reloader's status.json: the state of the current version for /metrics and
// /v1/status. A rejection of the version being served triggers a pass (which reads
// the file again and acts on it), once per (version, status) pair.
struct StatusWatch {
  std::string path;
  Metrics& m;
  StatusBoard& board;
  SyncLoop& loop;
  std::string last_text;
  std::optional<ReloaderStatus> status;
  std::string last_trigger;

  void tick() {
    if (auto text = common::readFile(path); text && *text != last_text) {
      last_text = *text;
      auto parsed = parseReloaderStatus(*text);
      if (!parsed) {
        m.status_errors.Increment();
        logWarn("cannot read the reloader's status.json",
                {{"path", path}, {"error", parsed.error().message}});
        return;
      }
      status = std::move(*parsed);
      m.reloader_rejected.Set(static_cast<double>(status->rejected.size()));
    }
    if (!status) {
      return;
    }
    std::string state = "pending", version;
    {
      std::lock_guard<std::mutex> lock(board.mu);
      version = board.version;
      if (status->applied_version == version) {
        state = "applied";
      } else if (status->rejected.count(version)) {
        state = "rejected";
      }
      board.reloader_state = state;
      board.reloader_apply = {{"version", status->applied_version},
                              {"kind", status->kind},
                              {"runtime_commands", status->runtime_commands}};
    }
    for (const char* s : {"applied", "rejected", "pending"}) {
      m.bundle_state.Add({{"state", s}}).Set(state == s ? 1 : 0);
    }
    // The next pass quarantines the apps the rejection names (or holds publishing).
    if (state == "rejected" && last_trigger != version + last_text) {
      last_trigger = version + last_text;
      loop.trigger();
    }
  }
};

// A certificate every bundle names (`crt` on the :443 bind) that does not exist: with
// validation on, haproxy -c rejects every bundle and nothing is ever published.
std::string missingCertificate(const ControllerFlags& flags) {
  if (!flags.reconcile.render.bind_http_https) {
    return "";
  }
  for (const auto& cert : flags.reconcile.render.ssl_certs) {
    if (::access(cert.c_str(), R_OK) != 0) {
      return "--ssl-certs " + cert + ": " + std::strerror(errno) +
             "; every bundle binds :443 with it. Mount a certificate there (the image "
             "creates /etc/mlb/default.pem), set --ssl-certs, or pass --dont-bind-http-https";
    }
  }
  return "";
}

}  // namespace

// --haproxy-config: marathon-lb's one-shot users read the config at a fixed path.
// Written whole (a temporary file renamed over it) after each publish.
void copyConfig(const std::string& path, const std::string& state_dir) {
  auto text = common::readBundleConfig(state_dir + "/current");
  common::Status st = text ? common::writeFileAtomic(path, *text) : common::Status(text.error());
  if (!st) {
    logWarn("cannot write --haproxy-config", {{"path", path}, {"error", st.error().message}});
  }
}

// --dry (marathon-lb's): one pass against Marathon, the configuration on stdout, no
// state written (the bundle goes to a scratch directory, removed after). Non-zero
// with the reason when nothing could be rendered.
int runDry(const ControllerFlags& flags, const TemplateSet& templates, ReconcilerOptions ropts) {
  char dir[] = "/tmp/mlb-dry-XXXXXX";
  if (::mkdtemp(dir) == nullptr) {
    logError("--dry: cannot make a scratch directory", {{"error", std::strerror(errno)}});
    return 1;
  }
  int rc = 1;
  {
    BundlePublisher publisher(dir, 1);
    auto api = makeRestMarathonApi(flags.marathon, nullptr);
    common::ProcessRunnerPtr runner;
    if (!ropts.haproxy_bin.empty()) {
      runner = common::makeBoostProcessRunner();
    }
    common::HostResolver resolver(common::HostResolver::Options{});
    ropts.build.resolve_host = [&resolver](const std::string& h) { return resolver.resolve(h); };
    Reconciler reconciler(*api, runner.get(), publisher, templates, ropts);
    const bool ready = static_cast<bool>(publisher.init());
    PassReport r = ready ? reconciler.reconcileOnce() : PassReport{};
    auto cfg = common::readBundleConfig(std::string(dir) + "/current");
    if (ready &&
        (r.outcome == PassReport::Outcome::Published ||
         r.outcome == PassReport::Outcome::Unchanged) &&
        cfg) {
      std::cout << *cfg << std::flush;
      rc = 0;
    } else {
      logError("--dry: no configuration", {{"result", outcomeName(r.outcome)},
                                           {"fault", faultName(r.fault)},
                                           {"guard", guardName(r.guard)},
                                           {"detail", r.detail}});
    }
  }
  (void)common::removeTree(dir);
  return rc;
}

namespace {

// What one pass did, turned into metrics, log lines and /v1/status: the SyncLoop's
// report callback.
class PassReporter {
 public:
  PassReporter(const ControllerFlags& flags, Metrics& m, StatusBoard& board)
      : flags_(flags), m_(m), board_(board) {}

  void operator()(const PassReport& r, std::chrono::nanoseconds latency) {
    // A full fetch allocates and frees the whole answer and model (tens of MB at 5000
    // apps): give the freed pages back so RSS stays flat under event storms. Not after
    // a fast-path pass (the apps named by events): the next one reuses those pages,
    // and trimming them cost more CPU than the pass itself (page faults, TLB flushes).
    if (!r.fast_path) {
      malloc_trim(0);
    }
    const char* fetch = !r.fast_path ? "full" : r.answer_unchanged ? "apps_unchanged" : "apps";
    m_.syncs.Add({{"result", outcomeName(r.outcome)}, {"fetch", fetch}}).Increment();
    countRejections(r);
    const double secs =
        std::chrono::duration<double>(r.fetch_time + r.build_time + r.validate_time).count();
    m_.sync_seconds.Observe(secs);
    if (r.outcome == PassReport::Outcome::Failed) {
      m_.faults.Add({{"kind", faultName(r.fault)}}).Increment();
      logWarn("sync failed; the last published bundle keeps serving",
              {{"fault", faultName(r.fault)}, {"detail", r.detail}});
    } else if (r.outcome == PassReport::Outcome::Held) {
      m_.guard_holds.Add({{"guard", guardName(r.guard)}}).Increment();
      logWarn("Marathon answer held back by a guard",
              {{"guard", guardName(r.guard)}, {"detail", r.detail}});
    } else {
      recordSuccess(r);
      followHaproxyConfig(r);
      if (r.outcome == PassReport::Outcome::Published) {
        recordPublished(r, latency, secs);
      }
    }
    updateBoard(r);
  }

 private:
  void countRejections(const PassReport& r) {
    for (const auto& rej : r.reloader_rejections) {
      const bool attributed = !rej.apps.empty();
      m_.reloader_rejections.Add({{"attributed", attributed ? "true" : "false"}}).Increment();
      logWarn(attributed ? "the reloader rejected a bundle; quarantining the apps it names"
                         : "the reloader rejected a bundle and no app owns the error; "
                           "publishing held with backoff",
              {{"version", rej.version}, {"apps", joinIds(rej.apps)}, {"alert", rej.reason}});
    }
  }

  void recordSuccess(const PassReport& r) {
    m_.last_success.Set(nowSeconds());
    m_.counts.Add({{"kind", "apps"}}).Set(static_cast<double>(r.apps));
    m_.counts.Add({{"kind", "services"}}).Set(static_cast<double>(r.services));
    m_.counts.Add({{"kind", "servers"}}).Set(static_cast<double>(r.servers));
    logQuarantineChanges(r);
    logNewWarnings(r);
    for (const auto& t : r.skipped_tasks) {
      m_.skipped_tasks.Add({{"reason", t.reason}}).Increment();
    }
  }

  // One log line and one count when a warning first appears (not on every pass).
  void logNewWarnings(const PassReport& r) {
    std::set<std::string> now;
    for (const auto& w : r.warnings) {
      std::string key = w.app_id + "#" + std::to_string(w.port_index) + "#" + w.kind;
      if (last_warnings_.count(key) == 0) {
        m_.app_warnings.Add({{"kind", w.kind}}).Increment();
        logWarn("app served with a warning", {{"app", w.app_id},
                                              {"port_index", std::to_string(w.port_index)},
                                              {"kind", w.kind},
                                              {"warning", w.text}});
      }
      now.insert(std::move(key));
    }
    last_warnings_ = std::move(now);
  }

  // One log line when an app enters or leaves quarantine; the gauge by source.
  void logQuarantineChanges(const PassReport& r) {
    std::map<std::string, double> by_source;
    for (auto source : kQuarantineSources) {
      by_source[sourceName(source)] = 0;
    }
    std::map<std::string, std::string> now_quarantine;
    for (const auto& q : r.quarantined) {
      by_source[sourceName(q.source)] += 1;
      std::string key = q.app_id + (q.port_index >= 0 ? "#" + std::to_string(q.port_index) : "");
      now_quarantine[key] = q.reason;
      if (last_quarantine_.find(key) == last_quarantine_.end()) {
        logWarn("app quarantined",
                {{"app", q.app_id},
                 {"port_index", std::to_string(q.port_index)},
                 {"source", sourceName(q.source)},
                 {"reason", q.reason},
                 {"serving", q.kept_last_good ? "last good config" : "nothing"}});
      }
    }
    for (const auto& [key, reason] : last_quarantine_) {
      if (!now_quarantine.count(key)) {
        logInfo("app left quarantine", {{"app", key}});
      }
    }
    last_quarantine_ = std::move(now_quarantine);
    for (const auto& [src, n] : by_source) {
      m_.quarantined.Add({{"source", src}}).Set(n);
    }
  }

  // --haproxy-config follows the current version, also after a restart that publishes
  // nothing new, and is written again if it disappears.
  void followHaproxyConfig(const PassReport& r) {
    if (flags_.haproxy_config.empty() || (r.outcome != PassReport::Outcome::Published &&
                                          r.outcome != PassReport::Outcome::Unchanged)) {
      return;
    }
    if (r.version != copied_version_ || ::access(flags_.haproxy_config.c_str(), F_OK) != 0) {
      copyConfig(flags_.haproxy_config, flags_.state_dir);
      copied_version_ = r.version;
    }
  }

  void recordPublished(const PassReport& r, std::chrono::nanoseconds latency, double secs) {
    m_.publishes.Increment();
    if (r.validation_skipped || r.validate_time.count() > 0) {
      m_.validations.Add({{"result", r.validation_skipped ? "skipped" : "run"}}).Increment();
    }
    m_.last_publish.Set(nowSeconds());
    m_.event_to_publish.Observe(std::chrono::duration<double>(latency).count());
    m_.ready.Set(1);
    board_.ready = true;
    logInfo("published bundle", {{"version", r.version},
                                 {"apps", std::to_string(r.apps)},
                                 {"servers", std::to_string(r.servers)},
                                 {"added", joinIds(r.added_apps)},
                                 {"removed", joinIds(r.removed_apps)},
                                 {"changed_apps", std::to_string(r.changed_apps)},
                                 {"quarantined", std::to_string(r.quarantined.size())},
                                 {"ms", std::to_string(static_cast<int>(secs * 1000))}});
  }

  void updateBoard(const PassReport& r) {
    std::lock_guard<std::mutex> lock(board_.mu);
    board_.last_pass = {{"at", common::isoTimeNow()},
                        {"result", outcomeName(r.outcome)},
                        {"fault", faultName(r.fault)},
                        {"guard", guardName(r.guard)},
                        {"detail", r.detail},
                        {"fetch_ms", r.fetch_time.count()},
                        {"build_ms", r.build_time.count()},
                        {"validate_ms", r.validate_time.count()},
                        {"validation_skipped", r.validation_skipped},
                        {"fast_path", r.fast_path},
                        {"answer_unchanged", r.answer_unchanged}};
    if (!r.marathon_url.empty()) {
      board_.marathon_url = r.marathon_url;
    }
    if (r.outcome != PassReport::Outcome::Published &&
        r.outcome != PassReport::Outcome::Unchanged) {
      return;
    }
    board_.version = r.version;
    board_.apps = r.apps;
    board_.services = r.services;
    board_.servers = r.servers;
    board_.skipped_tasks = nlohmann::json::array();
    for (size_t i = 0; i < r.skipped_tasks.size() && i < 100; ++i) {
      const auto& t = r.skipped_tasks[i];
      // Ids as Marathon sent them: JSON escapes what they may carry; invalid UTF-8
      // is replaced when the status is written.
      board_.skipped_tasks.push_back(
          {{"app_id", t.app_id}, {"task_id", t.task_id}, {"reason", t.reason}});
    }
    board_.quarantined = nlohmann::json::array();
    for (const auto& q : r.quarantined) {
      board_.quarantined.push_back({{"app_id", q.app_id},
                                    {"port_index", q.port_index},
                                    {"source", sourceName(q.source)},
                                    {"reason", q.reason},
                                    {"kept_last_good", q.kept_last_good}});
    }
    board_.warnings = nlohmann::json::array();
    for (const auto& w : r.warnings) {
      board_.warnings.push_back({{"app_id", w.app_id},
                                 {"port_index", w.port_index},
                                 {"kind", w.kind},
                                 {"warning", w.text}});
    }
  }

  const ControllerFlags& flags_;
  Metrics& m_;
  StatusBoard& board_;
  std::map<std::string, std::string> last_quarantine_;  // key -> reason, for change logs
  std::set<std::string> last_warnings_;                 // app#port#kind seen last pass
  std::string copied_version_;                          // in --haproxy-config
};

int64_t steadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Marathon's event stream: every event triggers a pass (for the app it names, if any),
// every (re)connect a full resync. Its state goes to /metrics and /v1/status.
SseEventStreamPtr startEventStream(const ControllerFlags& flags, MarathonApi& api, Metrics& m,
                                   StatusBoard& board, SyncLoop& loop,
                                   std::atomic<int64_t>& last_byte_ms) {
  SseStreamConfig scfg;
  scfg.base_url = [&api] { return api.currentUrl(); };
  scfg.authorization = [&api] { return api.authorizationHeader(); };
  scfg.event_types = {"api_post_event", "status_update_event", "health_status_changed_event",
                      "app_terminated_event", "deployment_success"};
  scfg.silence_timeout = flags.silence_timeout;
  scfg.backoff_max = flags.sse_backoff_max;
  scfg.ca_cert = flags.marathon.ca_cert;
  scfg.insecure_tls = flags.marathon.insecure_tls;
  scfg.marathon_urls = flags.marathon.urls;
  auto setStreamUp = [&m, &board](bool up) {
    m.sse_connected.Set(up ? 1 : 0);
    std::lock_guard<std::mutex> lock(board.mu);
    board.sse_connected = up;
  };
  SseCallbacks cbs;
  cbs.on_connected = [&m, &loop, setStreamUp](const std::string& url) {
    m.sse_connects.Increment();
    setStreamUp(true);
    logInfo("event stream open; full resync", {{"url", url}});
    loop.trigger();  // Marathon replays nothing: resync after every (re)connect
  };
  cbs.on_event = [&m, &loop](const SseEvent& e) {
    m.sse_events.Add({{"type", e.type}}).Increment();
    loop.trigger(eventAppId(e));
  };
  cbs.on_disconnected = [&m, setStreamUp](const std::string& reason) {
    m.sse_disconnects.Increment();
    setStreamUp(false);
    logWarn("event stream down; reconnecting with backoff", {{"reason", reason}});
  };
  cbs.on_bytes = [&last_byte_ms] { last_byte_ms = steadyMs(); };
  auto stream = makeAsioSseEventStream(scfg, cbs);
  stream->start();
  return stream;
}

nlohmann::json statusJson(StatusBoard& board) {
  std::lock_guard<std::mutex> lock(board.mu);
  return {
      {"ready", board.ready.load()},
      {"marathon_url", board.marathon_url},
      {"version", board.version},
      {"reloader", board.reloader_state},
      {"reloader_last_apply", board.reloader_apply},
      {"sse_connected", board.sse_connected},
      {"counts", {{"apps", board.apps}, {"services", board.services}, {"servers", board.servers}}},
      {"quarantined", board.quarantined},
      {"warnings", board.warnings},
      {"skipped_tasks", board.skipped_tasks},
      {"last_sync", board.last_pass}};
}

// /metrics, /healthz, /readyz, /v1/status, and marathon-lb's /_mlb_signal/hup and
// /_mlb_signal/usr1 (a full resync each, as the signals; HAProxy's :9090 passes them on).
std::map<std::string, common::HttpHandler> statusHandlers(prometheus::Registry& registry,
                                                          StatusBoard& board, Metrics& m,
                                                          common::SignalGate& gate) {
  std::map<std::string, common::HttpHandler> handlers;
  for (auto [path, sig] : {std::pair{"/_mlb_signal/hup", common::OperatorSignal::Hup},
                           std::pair{"/_mlb_signal/usr1", common::OperatorSignal::Usr1}}) {
    handlers[path] = common::signalEndpoint(
        sig, gate, [&m, path = std::string(path)](const std::string& result) {
          m.signal_requests.Add({{"endpoint", path}, {"result", result}}).Increment();
        });
  }
  handlers["/metrics"] = common::metricsHandler(registry);
  handlers["/healthz"] = [](const common::HttpRequest&) {
    return common::HttpResponse{200, "text/plain; charset=utf-8", "ok\n"};
  };
  handlers["/readyz"] = [&board](const common::HttpRequest&) {
    return board.ready ? common::HttpResponse{200, "text/plain; charset=utf-8", "ready\n"}
                       : common::HttpResponse{503, "text/plain; charset=utf-8",
                                              "no bundle published yet\n"};
  };
  handlers["/v1/status"] = [&board](const common::HttpRequest&) {
    return common::HttpResponse{
        200, "application/json",
        statusJson(board).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"};
  };
  return handlers;
}

// Until SIGTERM/SIGINT: the silence gauge and the reloader's status.json.
void houseKeep(const std::string& status_path, Metrics& m, StatusBoard& board, SyncLoop& loop,
               const std::atomic<int64_t>& last_byte_ms) {
  StatusWatch status_watch{status_path, m, board, loop, {}, {}, {}};
  while (!common::stopRequested()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    // marathon-lb's SIGHUP (fetch and regenerate) and SIGUSR1 (reload): a full pass.
    for (auto [sig, name] : {std::pair{common::OperatorSignal::Hup, "SIGHUP"},
                             std::pair{common::OperatorSignal::Usr1, "SIGUSR1"}}) {
      if (common::takeOperatorSignal(sig)) {
        logInfo("signal: a full resync from Marathon", {{"signal", name}});
        m.signals.Add({{"signal", name}}).Increment();
        loop.trigger();
      }
    }
    if (int64_t lb = last_byte_ms.load(); lb > 0) {
      m.sse_silence.Set(static_cast<double>(steadyMs() - lb) / 1000.0);
    }
    status_watch.tick();
  }
}

// A missing certificate refuses the start when bundles are validated; else a warning.
bool certificatesUsable(const ControllerFlags& flags) {
  const std::string missing = missingCertificate(flags);
  if (missing.empty()) {
    return true;
  }
  if (!flags.reconcile.haproxy_bin.empty()) {
    logError("refusing to start", {{"reason", missing}});
    return false;
  }
  logWarn("the reloader's HAProxy will reject every bundle", {{"reason", missing}});
  return true;
}

// A full fetch held a whole Marathon answer and built a new model: the memory it freed
// goes back to the kernel, at most every 30 s (an event storm falls back to full
// fetches; each trim costs the next pass its page faults).
void releaseAfterFullFetch(const PassReport& r) {
  static std::optional<common::Clock::TimePoint> last;
  const auto now = common::systemClock().now();
  if (r.fast_path || (last && now - *last < std::chrono::seconds(30))) {
    return;
  }
  last = now;
  common::releaseFreedMemory();
}

// The daemon: the pieces wired, then housekeeping until a stop signal.
int runDaemon(const ControllerFlags& flags, const TemplateSet& templates, ReconcilerOptions ropts) {
  prometheus::Registry registry;
  Metrics m(registry);
  StatusBoard board;
  BundlePublisher publisher(flags.state_dir, flags.keep_bundles);
  if (auto st = publisher.init(); !st) {
    logError("cannot prepare the state directory",
             {{"state_dir", flags.state_dir}, {"error", st.error().message}});
    return 1;
  }
  auto api =
      makeRestMarathonApi(flags.marathon, [&m](const std::string& url, const std::string& result) {
        m.marathon_requests.Add({{"url", url}, {"result", result}}).Increment();
      });
  common::ProcessRunnerPtr runner;
  if (!ropts.haproxy_bin.empty()) {
    runner = common::makeBoostProcessRunner();
  } else {
    logWarn("no HAProxy binary: bundles are published without haproxy -c validation");
  }
  // Agents registered by host name: resolved at the edge, cached, bounded per pass.
  common::HostResolver resolver(common::HostResolver::Options{});
  ropts.build.resolve_host = [&resolver](const std::string& h) { return resolver.resolve(h); };
  HostsFile hosts_file(flags.state_dir + "/resolved-hosts.json", resolver);
  Reconciler reconciler(*api, runner.get(), publisher, templates, ropts);
  reconciler.loadPrevious();
  if (!publisher.currentVersion().empty()) {
    board.version = publisher.currentVersion();
    board.ready = true;
    m.ready.Set(1);
  }
  // Every pass starts from the reloader's latest answers, read then: a rejection is
  // acted on before anything else is published.
  const std::string status_path = flags.state_dir + "/status.json";
  SyncLoop loop(
      [&](const std::set<std::string>& hints) {
        if (auto text = common::readFile(status_path)) {
          if (auto status = parseReloaderStatus(*text)) {
            reconciler.noteReloaderStatus(std::move(*status));
          }
        }
        PassReport report = reconciler.reconcileOnce(hints);
        hosts_file.save();
        releaseAfterFullFetch(report);
        return report;
      },
      flags.loop, PassReporter(flags, m, board));
  // A task left out because its agent's name answered after the bound comes in at once.
  resolver.onLateAnswer([&loop] { loop.trigger(); });
  common::SignalGate signal_gate(common::systemClock(), std::chrono::seconds(1));
  auto server =
      common::startStatusServer(flags.listen, statusHandlers(registry, board, m, signal_gate));
  if (!server) {
    logError("cannot start the status server",
             {{"listen", flags.listen}, {"error", server.error().message}});
    return 1;
  }
  common::installStopSignals();
  logInfo("mlb-controller started",
          {{"marathon", joinIds(flags.marathon.urls)},
           {"state_dir", flags.state_dir},
           {"listen", flags.listen},
           {"mode", flags.sse ? "sse" : "poll"},
           {"validate", ropts.haproxy_bin.empty() ? "off" : ropts.haproxy_bin}});
  loop.start();
  std::atomic<int64_t> last_byte_ms{0};
  SseEventStreamPtr stream =
      flags.sse ? startEventStream(flags, *api, m, board, loop, last_byte_ms) : nullptr;
  houseKeep(status_path, m, board, loop, last_byte_ms);
  logInfo("mlb-controller stopping");
  if (stream) {
    stream->stop();
  }
  resolver.onLateAnswer({});
  loop.stop();
  return 0;
}

}  // namespace

std::string eventAppId(const SseEvent& e) {
  // Events are triggers, never deltas; the app they name lets the next pass fetch only
  // that app. Anything else (deployments, unknown shapes) asks for a resync ("").
  if (e.type == "deployment_success" || e.data.size() != 1 || e.data[0].size() >= 65536) {
    return "";
  }
  auto j = nlohmann::json::parse(e.data[0], nullptr, false);
  if (!j.is_object()) {
    return "";
  }
  if (j.contains("appId") && j["appId"].is_string()) {
    return j["appId"].get<std::string>();
  }
  if (j.contains("appDefinition") && j["appDefinition"].is_object() &&
      j["appDefinition"].contains("id") && j["appDefinition"]["id"].is_string()) {
    return j["appDefinition"]["id"].get<std::string>();
  }
  return "";
}

int runController(const ControllerFlags& flags, const std::map<std::string, std::string>& env) {
  // cpprestsdk's thread pool would otherwise spread allocations over many malloc
  // arenas, each keeping its own free memory.
  mallopt(M_ARENA_MAX, 2);
  if (flags.log_level) {
    common::setLogLevel(*flags.log_level);
  }
  if (std::string error; !common::logToSyslogSocket(flags.syslog_socket, "mlb-controller", error)) {
    logWarn("--syslog-socket: logging to stderr only", {{"error", error}});
  }
  if (!certificatesUsable(flags)) {
    return 2;
  }
  auto templates = TemplateSet::load(flags.templates_dir, env);
  if (!templates) {
    logError("cannot load templates", {{"error", templates.error().message}});
    return 1;
  }
  ReconcilerOptions ropts = flags.reconcile;
  applyRenderEnvironment(env, {ropts.build, ropts.render});
  return flags.dry ? runDry(flags, *templates, ropts) : runDaemon(flags, *templates, ropts);
}

}  // namespace mlb::controller
