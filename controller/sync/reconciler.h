#pragma once
// One reconcile pass: fetch /v2/apps → parse → guards → build → quarantine → render →
// validate (haproxy -c) → publish. The reloader's answers (status.json) feed back into
// the next pass: an app whose fragment the reloader rejected is quarantined like one
// the controller's own `haproxy -c` rejected. Single-threaded: only the sync loop
// calls it. It never logs or counts; it returns a report.
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/process/process_runner.h"
#include "controller/marathon/app_json.h"
#include "controller/marathon/marathon_api.h"
#include "controller/model/service_builder.h"
#include "controller/publish/bundle_publisher.h"
#include "controller/render/config_renderer.h"
#include "controller/render/config_shape.h"
#include "controller/render/template_set.h"
#include "controller/sync/alert_attribution.h"
#include "controller/sync/answer_guards.h"
#include "controller/sync/health_book.h"
#include "controller/sync/label_book.h"
#include "controller/sync/last_good_book.h"
#include "controller/sync/reloader_status.h"
#include "controller/sync/unproven_book.h"

namespace mlb::controller {

struct ReconcilerOptions {
  BuildOptions build;
  RenderOptions render;
  std::string haproxy_bin;  // "" = no validation before publishing
  std::chrono::milliseconds validate_timeout{60000};
  // Guards: an answer that removes more than this fraction of the servers, is empty,
  // or flips most health results to unknown is held until it has been seen in this
  // many consecutive full fetches.
  double max_shrink = 0.5;
  int confirm_resyncs = 3;
  // After a reloader rejection no app can be blamed for, publishing is held for
  // hold_base * 2^(n-1) (n: such rejections in a row, capped at hold_max).
  std::chrono::milliseconds reloader_hold_base{1000};
  std::chrono::milliseconds reloader_hold_max{60000};
  // The time source of the hold and of the pass's timings (tests pass a FakeClock).
  common::Clock* clock = &common::systemClock();
};

struct QuarantineEntry {
  std::string app_id;
  int port_index = -1;
  // Who refused the app: its labels, its template labels, `haproxy -c`, the
  // reloader's HAProxy, or Marathon's answer (the app could not be read).
  enum class Source { Label, Template, Haproxy, Reloader, Marathon };
  Source source = Source::Label;
  std::string reason;
  bool kept_last_good = false;  // its last good fragment is still served
};

// A rejection by the reloader of a version this controller published, as this pass
// attributed it.
struct ReloaderRejection {
  std::string version;
  std::vector<std::string> apps;  // the apps quarantined for it; empty: none could be blamed
  std::string reason;             // the first [ALERT] line (of an app, or unattributed)
};

struct PassReport {
  enum class Outcome { Published, Unchanged, Held, Failed };
  // Why a pass failed.
  enum class Fault {
    None,
    MarathonUnavailable,
    InvalidAnswer,
    Render,
    Validate,
    ValidateUnavailable,  // haproxy -c timed out or could not run
    ReloaderRejected,     // publishing held after an unattributable rejection
    Publish,
  };
  // Which guard held the answer back.
  using Guard = mlb::controller::Guard;
  Outcome outcome = Outcome::Failed;
  Fault fault = Fault::None;
  Guard guard = Guard::None;
  std::string detail;  // human-readable reason / summary
  std::string marathon_url;
  std::string version;  // the version now current (Published/Unchanged)
  size_t apps = 0, services = 0, servers = 0;
  size_t answer_bytes = 0;
  std::vector<QuarantineEntry> quarantined;
  std::vector<SkippedTask> skipped_tasks;  // from the model of this pass
  std::vector<AppWarning> warnings;        // from the model of this pass
  std::vector<std::string> added_apps, removed_apps;
  size_t changed_apps = 0;
  std::chrono::milliseconds fetch_time{0}, build_time{0}, validate_time{0};
  bool validation_skipped = false;  // only server lines changed since the last validation
  bool fast_path = false;           // only the apps named by events were fetched
  // Fast path: the apps the events named answered byte for byte as at their last
  // fetch, nothing else changed: the last pass's result stands, nothing was rebuilt.
  bool answer_unchanged = false;
  // Rejections by the reloader that this pass acted on (each is reported once).
  std::vector<ReloaderRejection> reloader_rejections;
};

const char* outcomeName(PassReport::Outcome o);
// The names in logs, metrics and /v1/status ("" for None): "marathon_unavailable",
// "invalid_answer", "render", "validate", "validate_unavailable", "reloader_rejected",
// "publish". Guards: guardName (answer_guards.h).
const char* faultName(PassReport::Fault f);
// "label", "template", "haproxy", "reloader", "marathon".
const char* sourceName(QuarantineEntry::Source s);
inline constexpr QuarantineEntry::Source kQuarantineSources[] = {
    QuarantineEntry::Source::Label, QuarantineEntry::Source::Template,
    QuarantineEntry::Source::Haproxy, QuarantineEntry::Source::Reloader,
    QuarantineEntry::Source::Marathon};

class Reconciler {
 public:
  // `runner` may be null (no validation). All references must outlive this object.
  Reconciler(MarathonApi& api, common::ProcessRunner* runner, BundlePublisher& publisher,
             const TemplateSet& templates, ReconcilerOptions options);

  // Reads the current bundle's manifest so that the guards compare against what is
  // being served after a restart.
  void loadPrevious();
  // One pass. With `hints` (app ids named by events; at most kMaxHints) and a cached
  // answer from an earlier full fetch, only those apps are fetched (GET
  // /v2/apps/<id>) and patched into the cache; otherwise, or on any error, the whole
  // answer is fetched. Guards and rendering always run on the whole model.
  PassReport reconcileOnce(const std::set<std::string>& hints = {});
  static constexpr size_t kMaxHints = 16;
  // The reloader's latest answers (from status.json), acted on in the next pass.
  void noteReloaderStatus(ReloaderStatus status);

 private:
  struct ValidationResult {
    bool ok = true;
    bool not_checked = false;  // haproxy -c did not answer (timeout, could not run)
    std::string global_error;  // an error no app owns
    std::map<std::string, std::string> offending_apps;  // app id -> [ALERT] line
  };
  ValidationResult validate(const RenderedConfig& rendered, Bundle& bundle);

  PassReport reconcile(const std::set<std::string>& hints);
  bool applyHints(const std::set<std::string>& hints, PassReport& report);
  // The unchanged-answer short cut (see PassReport::answer_unchanged).
  bool lastResultStands() const;
  void keepResult(const PassReport& report);
  // Builds of unchanged apps are reused (MarathonApp::revision: a new value for
  // every app of a full answer and for every app patched in by an event).
  BuildMemo memo_;
  // Fragments of unchanged services are not rendered again.
  RenderCache render_cache_;
  uint64_t next_revision_ = 1;
  // The SHA-256 of the last body of each app fetched alone since the last full fetch.
  std::unordered_map<std::string, std::string> hinted_bodies_;
  bool hints_unchanged_ = false;  // this pass's hinted apps all answered as before
  // The last pass's report when it published or found nothing to publish, and the
  // rejections it saw; empty after any other outcome.
  std::optional<PassReport> last_clean_;
  std::map<std::string, std::string> last_clean_rejected_;
  struct Pass;
  bool fetch(const std::set<std::string>& hints, PassReport& report);
  bool evaluateGuards(const ParsedApps& parsed, const ServiceModel& model, PassReport& report);
  void planQuarantine(const ParsedApps& parsed, Pass& pass);
  bool renderValid(Pass& pass);
  bool checkReloaderVerdict(Pass& pass, const std::string& version);
  void substituteLastGood(Pass& pass, const std::pair<std::string, int>& key);
  void quarantineForReloader(Pass& pass, const std::string& app_id, const std::string& reason);
  void diffApps(const ServiceModel& model, PassReport& report) const;
  bool publishBundle(Pass& pass);
  void remember(Pass& pass);
  void rebasePublished();
  bool rebase_pending_ = false;  // a full fetch since the last rebasePublished
  void absorbReloaderVerdicts(PassReport& report);
  void forgetAppliedChanges();
  void recordLabelChanges(const ParsedApps& parsed);
  bool holdingForReloader(PassReport& report, const std::string& version) const;

  MarathonApi& api_;
  // The last full answer, patched by the per-app fast path; reset on doubt.
  std::optional<ParsedApps> cache_;
  size_t next_answer_index_ = 0;
  common::ProcessRunner* runner_;
  BundlePublisher& publisher_;
  const TemplateSet& templates_;
  ReconcilerOptions options_;

  // What the published bundle was built from.
  AnswerGuards guards_;
  // The published model's services, sorted by app id (shared with published_).
  std::shared_ptr<const std::vector<ServiceRef>> prev_services_ =
      std::make_shared<const std::vector<ServiceRef>>();
  // Last good services per (app id, port index): served while that port is quarantined.
  LastGoodBook last_good_;
  UnprovenBook unproven_;  // the manifest's unproven list
  static bool isQuarantinedNow(const Pass& pass,
                               const std::set<std::pair<std::string, int>>& quarantined,
                               const Service& s);
  // Last known health of each task (for "unknown health is not unhealthy"): the
  // value seen in the last answer that carried one.
  HealthBook health_;
  // Guard confirmation.
  // Shape (configShape) of the last configuration haproxy -c accepted.
  std::string last_valid_shape_;
  // Candidates HAProxy rejected, by shape, with the apps that owned the errors (one
  // pass may need several rounds, each finding other offenders).
  std::map<std::string, std::map<std::string, std::string>> failed_shapes_;
  // Apps HAProxy rejected in the last pass: their labels' digest and the [ALERT].
  struct Offender {
    std::string labels_digest;
    std::string reason;
  };
  std::map<std::string, Offender> haproxy_offenders_;
  static constexpr uint64_t kOffenderRecheckPasses = 30;
  uint64_t passes_ = 0;

  // The NACK loop. The reloader's latest answers, and the rejections already acted on.
  ReloaderStatus reloader_status_;
  std::set<std::string> handled_rejections_;
  // The last few published versions, newest last: their spans and the labels digest
  // of each app, to attribute a rejection (the config is read back from the bundle).
  // A rejection of a superseded version counts too: its offenders may still be in
  // the newer bundles.
  struct PublishedVersion {
    std::string version;
    std::vector<RenderedConfig::Span> spans;
    std::shared_ptr<const std::map<std::string, uint64_t>> labels;  // shared: rarely changes
    std::shared_ptr<const std::vector<ServiceRef>> services;        // the spans' owners
    std::vector<ServiceRef> gone;  // owners no longer in `services` (rebasePublished)
  };
  std::vector<PublishedVersion> published_;
  static constexpr size_t kPublishedKept = 3;
  void attributeRejection(const PublishedVersion& pv, const std::string& alerts,
                          PassReport& report);
  // Publish sequence numbers of recent versions, to tell which changes an applied
  // version confirms.
  uint64_t publish_seq_ = 0, applied_seq_ = 0;
  std::map<std::string, uint64_t> version_seq_;
  // Apps the reloader rejected, retried only when their labels change.
  struct ReloaderOffender {
    uint64_t labels_digest = 0;
    std::string reason;
  };
  std::map<std::string, ReloaderOffender> reloader_offenders_;
  // Each app's labels digest (LabelBook), and, for apps whose labels changed after the
  // last version the reloader applied, their services from before the change: the
  // last good fragment if the reloader rejects the new one.
  LabelBook labels_;
  struct BeforeChange {
    uint64_t seq = 0;  // the publish that carried the change
    std::vector<ServiceRef> services;
  };
  std::map<std::string, BeforeChange> before_change_;
  // Unattributable rejections in a row, and the hold they impose.
  int unattributed_streak_ = 0;
  std::optional<common::Clock::TimePoint> hold_until_;
  std::string hold_reason_;
};

}  // namespace mlb::controller
