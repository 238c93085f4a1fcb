#pragma once
// One reconcile pass (DESIGN §3): fetch /v2/apps → parse → guards → build → render →
// validate (haproxy -c) → quarantine offenders → publish. Single-threaded: only the
// sync loop calls it. It never logs or counts; it returns a report.
#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/process/process_runner.h"
#include "controller/marathon/app_json.h"
#include "controller/marathon/marathon_api.h"
#include "controller/model/service_builder.h"
#include "controller/publish/bundle_publisher.h"
#include "controller/render/config_renderer.h"
#include "controller/render/template_set.h"

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
};

struct QuarantineEntry {
  std::string app_id;
  int port_index = -1;
  std::string source;  // "label", "template", "haproxy", "marathon"
  std::string reason;
  bool kept_last_good = false;  // its last good fragment is still served
};

struct PassReport {
  enum class Outcome { Published, Unchanged, Held, Failed };
  Outcome outcome = Outcome::Failed;
  std::string
      fault;  // Failed: "marathon_unavailable", "invalid_answer", "render", "validate", "publish"
  std::string guard;   // Held: "empty", "shrink", "health_unknown"
  std::string detail;  // human-readable reason / summary
  std::string marathon_url;
  std::string version;  // the version now current (Published/Unchanged)
  size_t apps = 0, services = 0, servers = 0;
  size_t answer_bytes = 0;
  std::vector<QuarantineEntry> quarantined;
  std::vector<std::string> added_apps, removed_apps;
  size_t changed_apps = 0;
  std::chrono::milliseconds fetch_time{0}, build_time{0}, validate_time{0};
  bool validation_skipped = false;  // only server lines changed since the last validation
  bool fast_path = false;           // only the apps named by events were fetched
};

const char* outcomeName(PassReport::Outcome o);

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

 private:
  struct ValidationResult {
    bool ok = true;
    std::string global_error;                           // an error no app owns
    std::map<std::string, std::string> offending_apps;  // app id -> [ALERT] line
  };
  ValidationResult validate(const RenderedConfig& rendered, const ServiceModel& model,
                            const Bundle& bundle);

  bool applyHints(const std::set<std::string>& hints, PassReport& report);

  MarathonApi& api_;
  // The last full answer, patched by the per-app fast path; reset on doubt.
  std::optional<ParsedApps> cache_;
  size_t next_answer_index_ = 0;
  common::ProcessRunner* runner_;
  BundlePublisher& publisher_;
  const TemplateSet& templates_;
  ReconcilerOptions options_;

  // What the published bundle was built from.
  size_t prev_apps_ = 0, prev_servers_ = 0;
  bool have_prev_ = false;
  std::map<std::string, std::string> prev_app_digest_;
  // Last good services per (app id, port index): served while that port is quarantined.
  std::map<std::pair<std::string, int>, Service> last_good_;
  // Last known health of each task (for "unknown health is not unhealthy").
  std::unordered_map<std::string, bool> last_health_;
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
  std::string held_guard_;
  int held_count_ = 0;
};

// A hash of `config` with the per-server values of `server` lines (name, address,
// id, cookie) masked and runs of identical masked lines collapsed: two configs with
// the same shape differ only in which servers exist, so they are equally valid.
std::string configShape(const std::string& config);

// Parses haproxy -c output: for each [ALERT] line, the config line number it names
// (0 when none) and the text.
std::vector<std::pair<int, std::string>> parseAlerts(const std::string& output);

}  // namespace mlb::controller
