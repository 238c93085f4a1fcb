#include "controller/sync/reconciler.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <unordered_map>

#include "common/fs/config_edits.h"
#include "common/fs/files.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/strings.h"
#include "controller/marathon/app_json.h"
#include "controller/model/marathon_app.h"

namespace mlb::controller {
namespace {

std::chrono::milliseconds since(const common::Clock& clock, common::Clock::TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock.now() - t);
}

size_t countServers(const ServiceModel& m) {
  size_t n = 0;
  for (const Service& s : m.services) {
    n += s.servers.size();
  }
  return n;
}

void sortServices(std::vector<ServiceRef>& services) {
  auto less = [](const Service& a, const Service& b) {
    if (a.app_id != b.app_id) {
      return a.app_id < b.app_id;
    }
    if (a.service_port != b.service_port) {
      return a.service_port < b.service_port;
    }
    return a.port_index < b.port_index;
  };
  if (!std::is_sorted(services.begin(), services.end(), less)) {  // the usual case: sorted
    std::sort(services.begin(), services.end(), less);
  }
}

}  // namespace

const char* faultName(PassReport::Fault f) {
  using F = PassReport::Fault;
  switch (f) {
    case F::MarathonUnavailable:
      return "marathon_unavailable";
    case F::InvalidAnswer:
      return "invalid_answer";
    case F::Render:
      return "render";
    case F::Validate:
      return "validate";
    case F::ValidateUnavailable:
      return "validate_unavailable";
    case F::ReloaderRejected:
      return "reloader_rejected";
    case F::Publish:
      return "publish";
    case F::None:
      break;
  }
  return "";
}

const char* sourceName(QuarantineEntry::Source s) {
  switch (s) {
    case QuarantineEntry::Source::Label:
      return "label";
    case QuarantineEntry::Source::Template:
      return "template";
    case QuarantineEntry::Source::Haproxy:
      return "haproxy";
    case QuarantineEntry::Source::Reloader:
      return "reloader";
    case QuarantineEntry::Source::Marathon:
      return "marathon";
  }
  return "";
}

const char* outcomeName(PassReport::Outcome o) {
  switch (o) {
    case PassReport::Outcome::Published:
      return "published";
    case PassReport::Outcome::Unchanged:
      return "unchanged";
    case PassReport::Outcome::Held:
      return "held";
    case PassReport::Outcome::Failed:
      return "failed";
  }
  return "failed";
}

// The state of one pass between its steps.
struct Reconciler::Pass {
  using Key = std::pair<std::string, int>;
  PassReport& report;
  const ParsedApps& parsed;
  ServiceModel model;
  std::map<Key, QuarantineEntry> quarantine;
  std::set<Key> substituted;
  RenderedConfig rendered;
  Bundle bundle;

  // The servers this pass built for the services it took out (the app's current
  // tasks): a last good fragment put back serves them, not the tasks of its day.
  std::map<Key, std::vector<Server>> current_servers;
  bool appended = false;  // services put back out of order since the last restoreOrder()

  // Removes the services `which` selects, keeping the servers this pass built for
  // them (not for a last good fragment put back).
  template <class Which>
  void removeServices(Which which) {
    auto& v = model.services;
    for (const Service& s : v) {
      const Key key{s.app_id, s.port_index};
      if (which(s) && !substituted.count(key)) {
        current_servers[key] = s.servers;
      }
    }
    v.erase(std::remove_if(v.begin(), v.end(), [&](const Service& s) { return which(s); }),
            v.end());
  }
  void removeApp(const std::string& app_id) {
    removeServices([&](const Service& s) { return s.app_id == app_id; });
  }
  // One service: a fragment that failed to render.
  void removeService(const Key& key) {
    removeServices(
        [&](const Service& s) { return s.app_id == key.first && s.port_index == key.second; });
  }
  // Removes the app and any last good fragment put back for it.
  void dropApp(const std::string& app_id) {
    removeApp(app_id);
    for (auto it = substituted.begin(); it != substituted.end();) {
      it = it->first == app_id ? substituted.erase(it) : std::next(it);
    }
  }
  bool present(const Key& key) const {
    return std::any_of(model.services.begin(), model.services.end(), [&](const Service& s) {
      return s.app_id == key.first && s.port_index == key.second;
    });
  }
  // Serves `svc` (a last good fragment) in place of the quarantined entry `entry`.
  void putBack(const ServiceRef& svc, const Key& entry) {
    const Key key{svc->app_id, svc->port_index};
    if (substituted.count(key) || present(key)) {
      return;
    }
    // Its last good definition (labels, templates) with the app's current tasks: a
    // label change is a new app version that replaces every task.
    if (auto cur = current_servers.find(key);
        cur != current_servers.end() && cur->second != svc->servers) {
      Service with_current = *svc;
      with_current.servers = cur->second;
      model.services.emplace_back(std::move(with_current));
    } else {
      model.services.push_back(svc);
    }
    substituted.insert(key);
    quarantine[entry].kept_last_good = true;
    appended = true;
  }
  // The model back in its order after services were put back (removals keep it).
  void restoreOrder() {
    if (appended) {
      sortServices(model.services);
      appended = false;
    }
  }
  bool hasSubstitute(const std::string& app_id) const {
    return std::any_of(substituted.begin(), substituted.end(),
                       [&](const Key& k) { return k.first == app_id; });
  }
};

Reconciler::Reconciler(MarathonApi& api, common::ProcessRunner* runner, BundlePublisher& publisher,
                       const TemplateSet& templates, ReconcilerOptions options)
    : api_(api),
      runner_(runner),
      publisher_(publisher),
      templates_(templates),
      options_(std::move(options)),
      guards_({options_.max_shrink, options_.confirm_resyncs}) {}

void Reconciler::loadPrevious() {
  std::string manifest = publisher_.currentManifest();
  if (manifest.empty()) {
    return;
  }
  auto j = nlohmann::json::parse(manifest, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return;
  }
  // Another writer's manifest may have other types: a wrong type reads as absent.
  auto count = [&j](const char* key) -> size_t {
    auto it = j.find(key);
    return it != j.end() && it->is_number_unsigned() ? it->get<size_t>() : 0;
  };
  guards_.serving(count("apps"), count("servers"));
}

void Reconciler::noteReloaderStatus(ReloaderStatus status) { reloader_status_ = std::move(status); }

Reconciler::ValidationResult Reconciler::validate(const RenderedConfig& rendered, Bundle& bundle) {
  ValidationResult v;
  if (runner_ == nullptr || options_.haproxy_bin.empty()) {
    return v;
  }
  bundle.join();  // haproxy -c reads the whole text
  auto scratch = publisher_.writeScratch(bundle);
  if (!scratch) {
    v.ok = false;
    v.not_checked = true;
    v.global_error = scratch.error().message;
    return v;
  }
  if (!options_.render.haproxy_dir.empty()) {
    // The config names its map files under the published location; point the copy
    // being checked at the scratch files (same line numbers).
    std::string config = bundle.config;
    if (common::replaceAll(config, options_.render.haproxy_dir + "/", *scratch + "/") > 0) {
      if (auto st = common::writeFileAtomic(*scratch + "/haproxy.cfg", config); !st) {
        publisher_.removeScratch(*scratch);
        v.ok = false;
        v.not_checked = true;
        v.global_error = st.error().message;
        return v;
      }
    }
  }
  auto r = common::checkConfig(*runner_, options_.haproxy_bin, *scratch + "/haproxy.cfg",
                               options_.validate_timeout);
  publisher_.removeScratch(*scratch);
  if (!r) {
    v.ok = false;
    v.not_checked = true;
    v.global_error = "haproxy -c could not run: " + r.error().message;
    return v;
  }
  if (r->outcome == common::ConfigCheck::Outcome::kValid) {
    return v;
  }
  v.ok = false;
  if (r->outcome == common::ConfigCheck::Outcome::kTimedOut) {
    v.not_checked = true;
    v.global_error =
        "haproxy -c timed out after " + std::to_string(options_.validate_timeout.count()) + " ms";
    return v;
  }
  if (r->outcome == common::ConfigCheck::Outcome::kFailed) {
    v.not_checked = true;  // no verdict: the pass fails and is retried, nobody quarantined
    v.global_error = "haproxy -c gave no verdict (exit " + std::to_string(r->exit_code) +
                     ", signal " + std::to_string(r->term_signal) + ")";
    return v;
  }
  Attribution a = attributeAlerts(r->output, bundle.config, rendered.spans);
  v.offending_apps = std::move(a.apps);
  v.global_error = std::move(a.unattributed);
  if (v.offending_apps.empty() && v.global_error.empty()) {
    v.global_error = "haproxy -c failed: " + r->output.substr(0, 300);
  }
  return v;
}

bool Reconciler::applyHints(const std::set<std::string>& hints, PassReport& report) {
  // Fetch only the apps the events named and patch the cached answer. Any doubt
  // (an error, an unreadable app) falls back to the full fetch.
  hints_unchanged_ = true;
  for (const auto& id : hints) {
    auto r = api_.fetchApp(id);
    if (!r) {
      return false;
    }
    report.marathon_url = r->url;
    report.answer_bytes += r->body.size();
    // A digest, not the body: memory stays small at thousands of apps; SHA-256, so
    // that no answer Marathon relays can pass for another.
    const std::string digest = r->status == 200 ? common::sha256Hex(r->body) : std::string();
    if (auto b = hinted_bodies_.find(id);
        r->status == 200 && b != hinted_bodies_.end() && b->second == digest) {
      continue;  // the same answer as last time: the cache already holds it
    }
    hints_unchanged_ = false;
    hinted_bodies_.erase(id);
    auto& apps = cache_->apps;
    auto it = std::lower_bound(apps.begin(), apps.end(), id,
                               [](const MarathonApp& a, const std::string& k) { return a.id < k; });
    const bool present = it != apps.end() && it->id == id;
    if (r->status == 404) {
      // A deletion, or a Marathon that lost its state (a failover answering empty):
      // only the full answer, with its guards, may remove an app.
      return false;
    }
    auto app = parseSingleApp(r->body);
    if (!app || app->id != id) {
      return false;
    }
    hinted_bodies_[id] = digest;
    app->revision = next_revision_++;
    if (present) {
      app->answer_index = it->answer_index;  // keep Marathon's answer order
      *it = std::move(*app);
    } else {
      app->answer_index = next_answer_index_++;
      apps.insert(it, std::move(*app));
    }
    cache_->skipped.erase(std::remove_if(cache_->skipped.begin(), cache_->skipped.end(),
                                         [&](const SkippedApp& s) { return s.app_id == id; }),
                          cache_->skipped.end());
  }
  return true;
}

bool Reconciler::fetch(const std::set<std::string>& hints, PassReport& report) {
  auto t0 = options_.clock->now();
  bool patched = false;
  if (cache_ && !hints.empty() && hints.size() <= kMaxHints) {
    patched = applyHints(hints, report);
    if (!patched) {
      cache_.reset();  // partially patched: only a full fetch is trustworthy now
      report.answer_bytes = 0;
    }
  }
  report.fast_path = patched;
  if (patched) {
    report.fetch_time = since(*options_.clock, t0);
    return true;
  }
  hinted_bodies_.clear();  // the full answer replaces what they patched
  rebase_pending_ = true;  // every service is built anew: rebasePublished at the next publish
  hints_unchanged_ = false;
  auto fetched = api_.fetchApps();
  report.fetch_time = since(*options_.clock, t0);
  if (!fetched) {
    report.fault = PassReport::Fault::MarathonUnavailable;
    report.detail = fetched.error().message;
    return false;
  }
  report.marathon_url = fetched->url;
  report.answer_bytes = fetched->body.size();
  // The new answer replaces the old one whatever happens: free the old model
  // before the new one is parsed (at 5000 apps it is ~15 MB).
  cache_.reset();
  auto parsed_now = parseApps(fetched->body);
  if (!parsed_now) {
    report.fault = PassReport::Fault::InvalidAnswer;
    report.detail = parsed_now.error().message;
    return false;
  }
  fetched->body = std::string();  // free the answer before building
  next_answer_index_ = parsed_now->apps.size();
  for (auto& a : parsed_now->apps) {
    next_answer_index_ = std::max(next_answer_index_, a.answer_index + 1);
    a.revision = next_revision_++;
  }
  cache_ = std::move(*parsed_now);
  return true;
}

bool Reconciler::evaluateGuards(const ParsedApps& parsed, const ServiceModel& model,
                                PassReport& report) {
  const size_t servers_now = countServers(model);
  auto verdict =
      guards_.check({parsed.apps.size(), servers_now, health_.checkedTasks(), health_.lostTasks()});
  if (verdict.guard == Guard::None) {
    return true;
  }
  report.outcome = PassReport::Outcome::Held;
  report.guard = verdict.guard;
  report.detail = std::move(verdict.detail);
  report.servers = servers_now;
  return false;
}

void Reconciler::recordLabelChanges(const ParsedApps& parsed) {
  const LabelBook::Update u = labels_.update(parsed);
  for (size_t i : u.changed) {
    const MarathonApp& a = parsed.apps[i];
    if (auto held = before_change_.find(a.id); held != before_change_.end()) {
      // Already holding an older fragment (the last one a reloader accepted): keep
      // it, but only a version carrying this newer change may release it.
      held->second.seq = publish_seq_ + 1;
      continue;
    }
    BeforeChange& keep = before_change_[a.id];
    keep.seq = publish_seq_ + 1;  // the first publish that can carry the change
    keep.services = last_good_.of(a.id);
  }
  if (!u.any) {
    return;  // the usual task event: the same labels for the same apps
  }
  const std::map<std::string, uint64_t>& now = *labels_.digests();
  for (auto it = before_change_.begin(); it != before_change_.end();) {
    it = now.count(it->first) ? std::next(it) : before_change_.erase(it);
  }
  for (auto it = reloader_offenders_.begin(); it != reloader_offenders_.end();) {
    auto d = now.find(it->first);
    const bool same = d != now.end() && d->second == it->second.labels_digest;
    it = same ? std::next(it) : reloader_offenders_.erase(it);  // changed: retry it
  }
}

void Reconciler::absorbReloaderVerdicts(PassReport& report) {
  bool newer_applied = false;
  if (auto seq = version_seq_.find(reloader_status_.applied_version);
      seq != version_seq_.end() && seq->second > applied_seq_) {
    applied_seq_ = seq->second;
    newer_applied = true;
    if (!published_.empty() && published_.back().version == reloader_status_.applied_version) {
      unattributed_streak_ = 0;
      hold_until_.reset();
    }
  }
  for (auto it = handled_rejections_.begin(); it != handled_rejections_.end();) {
    it = reloader_status_.rejected.count(*it) ? std::next(it) : handled_rejections_.erase(it);
  }
  for (const auto& pv : published_) {
    auto rejected = reloader_status_.rejected.find(pv.version);
    if (rejected != reloader_status_.rejected.end() &&
        handled_rejections_.insert(pv.version).second) {
      attributeRejection(pv, rejected->second, report);
    }
  }
  if (newer_applied) {
    forgetAppliedChanges();
  }
}

// A fragment kept from before a label change is no longer needed once a version that
// carries the change is applied. Not for an app the reloader rejected: every later
// version carries its kept fragment instead of the change, and it serves from that
// fragment until its labels change again (which clears the offender). Runs after this
// pass's rejections are attributed, so that one read in this pass counts.
void Reconciler::forgetAppliedChanges() {
  for (auto it = before_change_.begin(); it != before_change_.end();) {
    const bool applied = it->second.seq <= applied_seq_ && !reloader_offenders_.count(it->first);
    it = applied ? before_change_.erase(it) : std::next(it);
  }
}

void Reconciler::attributeRejection(const PublishedVersion& pv, const std::string& alerts,
                                    PassReport& report) {
  auto config = common::readBundleConfig(publisher_.bundlesDir() + "/" + pv.version);
  Attribution a = attributeAlerts(alerts, config ? *config : "", pv.spans);
  ReloaderRejection rej{pv.version, {}, a.apps.empty() ? a.unattributed : a.apps.begin()->second};
  for (const auto& [app, text] : a.apps) {
    auto d = pv.labels->find(app);
    const uint64_t digest = d == pv.labels->end() ? 0 : d->second;
    auto& off = reloader_offenders_[app];
    if (off.labels_digest == digest && !off.reason.empty()) {
      before_change_.erase(app);  // its last good fragment was rejected too: none is left
    }
    off = {digest, text};
    rej.apps.push_back(app);
  }
  if (rej.apps.empty()) {
    if (rej.reason.empty()) {
      rej.reason = alerts.substr(0, 300);
    }
    ++unattributed_streak_;
    auto delay =
        options_.reloader_hold_base * (int64_t{1} << std::min(unattributed_streak_ - 1, 16));
    hold_until_ = options_.clock->now() + std::min(delay, options_.reloader_hold_max);
    hold_reason_ =
        "the reloader rejected version " + pv.version + " and no app owns the error: " + rej.reason;
  }
  report.reloader_rejections.push_back(std::move(rej));
}

void Reconciler::planQuarantine(const ParsedApps& parsed, Pass& pass) {
  for (const auto& s : parsed.skipped) {
    pass.quarantine[{s.app_id, -1}] = {s.app_id, -1, QuarantineEntry::Source::Marathon, s.reason,
                                       false};
  }
  for (const auto& q : pass.model.quarantined) {
    pass.quarantine[{q.app_id, q.port_index}] = {q.app_id, q.port_index,
                                                 QuarantineEntry::Source::Label, q.reason, false};
  }
  // Apps HAProxy rejected in an earlier pass whose labels have not changed since are
  // quarantined up front: one render and no haproxy -c for a known offender. The
  // memory is dropped every kOffenderRecheckPasses passes so that an outside fix (a
  // certificate file that appears) is noticed.
  if (++passes_ % kOffenderRecheckPasses == 0) {
    haproxy_offenders_.clear();
  }
  for (const auto& [app_id, off] : haproxy_offenders_) {
    const auto& digests = *labels_.digests();
    auto it = digests.find(app_id);
    if (it != digests.end() && std::to_string(it->second) == off.labels_digest) {
      pass.quarantine[{app_id, -1}] = {app_id, -1, QuarantineEntry::Source::Haproxy, off.reason,
                                       false};
      pass.removeApp(app_id);
    }
  }
  for (const auto& [key, q] : pass.quarantine) {
    substituteLastGood(pass, key);
  }
  // Apps the reloader rejected: served with their fragment from before the labels
  // changed, never the last published one (that is what the reloader rejected).
  for (const auto& [app_id, off] : reloader_offenders_) {
    quarantineForReloader(pass, app_id, off.reason);
  }
  pass.restoreOrder();
}

void Reconciler::quarantineForReloader(Pass& pass, const std::string& app_id,
                                       const std::string& reason) {
  pass.dropApp(app_id);
  pass.quarantine[{app_id, -1}] = {app_id, -1, QuarantineEntry::Source::Reloader, reason, false};
  if (auto it = before_change_.find(app_id); it != before_change_.end()) {
    for (const auto& svc : it->second.services) {
      pass.putBack(svc, {app_id, -1});
    }
  }
}

void Reconciler::substituteLastGood(Pass& pass, const std::pair<std::string, int>& key) {
  for (const ServiceRef& good : last_good_.of(key.first, key.second)) {
    pass.putBack(good, key);
  }
}

bool Reconciler::checkReloaderVerdict(Pass& pass, const std::string& version) {
  // A version the reloader already rejected would never be applied: act on its
  // answer now (it comes back when the state that produced it does).
  auto rejected = reloader_status_.rejected.find(version);
  if (rejected == reloader_status_.rejected.end()) {
    return false;
  }
  pass.bundle.join();
  Attribution a = attributeAlerts(rejected->second, pass.bundle.config, pass.rendered.spans);
  if (a.apps.empty()) {
    return false;
  }
  ReloaderRejection rej{version, {}, a.apps.begin()->second};
  for (const auto& [app_id, text] : a.apps) {
    reloader_offenders_[app_id] = {labels_.digestOf(app_id), text};
    if (pass.hasSubstitute(app_id)) {
      before_change_.erase(app_id);  // the last good fragment is what was rejected
    }
    quarantineForReloader(pass, app_id, text);
    rej.apps.push_back(app_id);
  }
  pass.report.reloader_rejections.push_back(std::move(rej));
  pass.restoreOrder();
  return true;
}

bool Reconciler::renderValid(Pass& pass) {
  PassReport& report = pass.report;
  for (int round = 0; round < 8; ++round) {
    auto r = renderConfig(pass.model, templates_, options_.render, render_cache_);
    if (!r) {
      report.fault = PassReport::Fault::Render;
      report.detail = r.error().message;
      return false;
    }
    pass.rendered = std::move(*r);
    bool requeue = false;
    for (const auto& q : pass.rendered.quarantined) {
      // Out of the model (the renderer left it out, the rest of the pass must too),
      // and its last good fragment in its place, unless that is what failed.
      const Pass::Key key{q.app_id, q.port_index};
      const bool was_substitute = pass.substituted.count(key) > 0;
      pass.quarantine[key] = {q.app_id, q.port_index, QuarantineEntry::Source::Template, q.reason,
                              false};
      pass.removeService(key);
      if (!was_substitute) {
        substituteLastGood(pass, key);
      }
      requeue = true;
    }
    if (requeue) {
      pass.restoreOrder();
      continue;
    }
    pass.bundle = Bundle{std::move(pass.rendered.config),  std::move(pass.rendered.domain_map),
                         std::move(pass.rendered.app_map), pass.rendered.config_digest,
                         std::move(pass.rendered.pieces),  std::move(pass.rendered.piece_text)};
    if (!reloader_status_.rejected.empty() &&
        checkReloaderVerdict(pass, bundleVersion(pass.bundle))) {
      continue;
    }
    // Fast path: when only server lines differ from the last configuration HAProxy
    // accepted (a scale, a task replaced, a health flip), the new one is valid too.
    const std::string& shape = pass.rendered.shape;
    if (!last_valid_shape_.empty() && shape == last_valid_shape_) {
      report.validation_skipped = true;
      return true;
    }
    ValidationResult v;
    if (auto it = failed_shapes_.find(shape); it != failed_shapes_.end()) {
      // Same shape as a candidate HAProxy rejected before: the same apps offend.
      v.ok = false;
      v.offending_apps = it->second;
    } else {
      auto tv = options_.clock->now();
      v = validate(pass.rendered, pass.bundle);
      report.validate_time += since(*options_.clock, tv);
      if (!v.ok && !v.offending_apps.empty()) {
        if (failed_shapes_.size() >= 32) {
          failed_shapes_.clear();  // bounded memory; only a cache
        }
        failed_shapes_[shape] = v.offending_apps;
      }
    }
    if (v.ok) {
      if (runner_ != nullptr && !options_.haproxy_bin.empty()) {
        last_valid_shape_ = shape;
      }
      return true;
    }
    if (v.not_checked) {
      // Not a verdict on the configuration: nothing is quarantined, the pass retries.
      report.fault = PassReport::Fault::ValidateUnavailable;
      report.detail = v.global_error;
      return false;
    }
    if (v.offending_apps.empty()) {
      report.fault = PassReport::Fault::Validate;
      report.detail = "haproxy rejected the configuration outside any app: " + v.global_error;
      return false;
    }
    for (const auto& [app_id, line] : v.offending_apps) {
      pass.quarantine[{app_id, -1}] = {app_id, -1, QuarantineEntry::Source::Haproxy, line, false};
      pass.removeApp(app_id);
      // A substitute that HAProxy rejects is dropped for good in this pass.
      if (!pass.hasSubstitute(app_id)) {
        substituteLastGood(pass, {app_id, -1});
      }
    }
    pass.restoreOrder();
  }
  report.fault = PassReport::Fault::Validate;
  report.detail = "configuration still invalid after quarantining offenders";
  return false;
}

namespace {

// Whether a service routes as before: the same backend and servers (addresses and
// draining). A shared Service is the same without looking.
bool routesAsBefore(const Service& a, const Service& b) {
  if (&a == &b) {
    return true;
  }
  if (a.backend != b.backend || a.servers.size() != b.servers.size()) {
    return false;
  }
  for (size_t i = 0; i < a.servers.size(); ++i) {
    const Server& x = a.servers[i];
    const Server& y = b.servers[i];
    if (x.ip != y.ip || x.port != y.port || x.draining != y.draining) {
      return false;
    }
  }
  return true;
}

// The end of the run of `app_id`'s services at `from`.
size_t appEnd(const std::vector<ServiceRef>& v, size_t from, const std::string& app_id) {
  size_t end = from;
  while (end < v.size() && v[end]->app_id == app_id) {
    ++end;
  }
  return end;
}
size_t appEnd(const std::vector<ServiceRef>& v, size_t from) {
  return appEnd(v, from, v[from]->app_id);
}

// Whether the services [i, i_end) of `now` route as [j, j_end) of `before`.
bool sameRoutes(const std::vector<ServiceRef>& now, size_t i, size_t i_end,
                const std::vector<ServiceRef>& before, size_t j, size_t j_end) {
  bool same = i_end - i == j_end - j;
  for (size_t k = 0; same && i + k < i_end; ++k) {
    same = routesAsBefore(*now[i + k], *before[j + k]);
  }
  return same;
}

}  // namespace

// The apps added, removed and changed since the last published model: both are
// sorted by app id, so one walk over the two compares them app by app. A run of the
// same shared services is passed over without reading them (most of the model).
void Reconciler::diffApps(const ServiceModel& model, PassReport& report) const {
  const std::vector<ServiceRef>& now = model.services;
  const std::vector<ServiceRef>& before = *prev_services_;
  size_t i = 0, j = 0;
  while (i < now.size() || j < before.size()) {
    if (i < now.size() && j < before.size() && now[i].get() == before[j].get()) {
      while (i < now.size() && j < before.size() && now[i].get() == before[j].get()) {
        ++i, ++j;
      }
      // The last app of the run may go on with services that are not shared.
      const std::string& app = now[i - 1]->app_id;
      const size_t i_end = appEnd(now, i, app), j_end = appEnd(before, j, app);
      report.changed_apps += sameRoutes(now, i, i_end, before, j, j_end) ? 0 : 1;
      i = i_end;
      j = j_end;
      continue;
    }
    const int order = i == now.size()      ? 1
                      : j == before.size() ? -1
                                           : now[i]->app_id.compare(before[j]->app_id);
    if (order < 0) {
      report.added_apps.push_back(now[i]->app_id);
      i = appEnd(now, i);
      continue;
    }
    if (order > 0) {
      report.removed_apps.push_back(before[j]->app_id);
      j = appEnd(before, j);
      continue;
    }
    const size_t i_end = appEnd(now, i), j_end = appEnd(before, j);
    report.changed_apps += sameRoutes(now, i, i_end, before, j, j_end) ? 0 : 1;
    i = i_end;
    j = j_end;
  }
}

bool Reconciler::holdingForReloader(PassReport& report, const std::string& version) const {
  // A version the reloader rejected (no app to blame: checkReloaderVerdict would
  // have quarantined it) can never be applied: publishing it again is a loop, and
  // serving it as "unchanged" would hide that nothing goes live.
  if (auto it = reloader_status_.rejected.find(version); it != reloader_status_.rejected.end()) {
    report.fault = PassReport::Fault::ReloaderRejected;
    report.detail = "the reloader rejected version " + version +
                    " and no app owns the error: " + it->second.substr(0, 300);
    return true;
  }
  if (version == publisher_.currentVersion()) {
    return false;
  }
  auto now = options_.clock->now();
  if (!hold_until_ || now >= *hold_until_) {
    return false;
  }
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*hold_until_ - now);
  report.fault = PassReport::Fault::ReloaderRejected;
  report.detail =
      hold_reason_ + "; publishing held for another " + std::to_string(left.count()) + " ms";
  return true;
}

bool Reconciler::publishBundle(Pass& pass) {
  PassReport& report = pass.report;
  const std::string version = bundleVersion(pass.bundle);
  if (holdingForReloader(report, version)) {
    return false;
  }
  nlohmann::json manifest = {{"version", version},
                             {"created_at", common::isoTimeNow()},
                             {"marathon", report.marathon_url},
                             {"apps", report.apps},
                             {"services", report.services},
                             {"servers", report.servers}};
  nlohmann::json qj = nlohmann::json::array();
  for (const auto& q : report.quarantined) {
    qj.push_back({{"app_id", q.app_id},
                  {"port_index", q.port_index},
                  {"source", sourceName(q.source)},
                  {"reason", q.reason},
                  {"kept_last_good", q.kept_last_good}});
  }
  manifest["quarantined"] = qj;
  // The unproven list is kept as text (UnprovenBook): it ends the object.
  std::string text = manifest.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
  text.resize(text.size() - 2);  // "\n}"
  text.append(",\n  \"unproven\": ").append(unproven_.json(pass.model.services)).append("\n}\n");
  auto published = publisher_.publish(version, pass.bundle, text);
  if (!published) {
    report.fault = PassReport::Fault::Publish;
    report.detail = published.error().message;
    return false;
  }
  report.version = version;
  report.outcome = *published ? PassReport::Outcome::Published : PassReport::Outcome::Unchanged;
  return true;
}

// Whether the service is quarantined in this pass and not a last good fragment put back.
bool Reconciler::isQuarantinedNow(const Pass& pass,
                                  const std::set<std::pair<std::string, int>>& quarantined,
                                  const Service& s) {
  const std::pair<std::string, int> key{s.app_id, s.port_index};
  return !pass.substituted.count(key) &&
         (quarantined.count({s.app_id, -1}) || quarantined.count(key));
}

void Reconciler::remember(Pass& pass) {
  PassReport& report = pass.report;
  health_.commit();  // what this published answer left out is forgotten
  guards_.serving(report.apps, report.servers);
  if (report.outcome == PassReport::Outcome::Published || !version_seq_.count(report.version)) {
    version_seq_[report.version] = ++publish_seq_;
    if (version_seq_.size() > 64) {
      version_seq_.erase(std::min_element(version_seq_.begin(), version_seq_.end(),
                                          [](auto& a, auto& b) { return a.second < b.second; }));
    }
  }
  std::set<std::pair<std::string, int>> quarantined_keys;
  for (const auto& q : report.quarantined) {
    quarantined_keys.insert({q.app_id, q.port_index});
  }
  std::function<bool(const Service&)> quarantined_now;
  if (!quarantined_keys.empty()) {
    quarantined_now = [&](const Service& s) { return isQuarantinedNow(pass, quarantined_keys, s); };
  }
  last_good_.record(pass.model.services, quarantined_now);
  // Remember the apps HAProxy rejected, with their labels, for the next pass.
  std::map<std::string, Offender> offenders;
  for (const auto& q : report.quarantined) {
    if (q.source == QuarantineEntry::Source::Haproxy) {
      const auto& digests = *labels_.digests();
      if (auto d = digests.find(q.app_id); d != digests.end()) {
        offenders[q.app_id] = {std::to_string(d->second), q.reason};
      }
    }
  }
  haproxy_offenders_ = std::move(offenders);
  // Last: the model's services are kept for the next diff and the spans' owners.
  prev_services_ = std::make_shared<const std::vector<ServiceRef>>(std::move(pass.model.services));
  if (published_.empty() || published_.back().version != report.version) {
    if (published_.size() >= kPublishedKept) {
      published_.erase(published_.begin());
    }
    published_.push_back(
        {report.version, std::move(pass.rendered.spans), labels_.digests(), prev_services_, {}});
  }
  if (rebase_pending_) {
    rebasePublished();
    rebase_pending_ = false;
  }
}

// After a full fetch (every service built anew), the spans of the versions published
// before point at the new model's service of the same app and port, which is all
// that attributing a rejection reads of them; only the services of ports gone are kept
// besides. So an older model is not held in memory next to the new one.
void Reconciler::rebasePublished() {
  std::map<std::pair<std::string_view, int>, const Service*> now;
  for (const ServiceRef& s : *prev_services_) {
    now.emplace(std::pair<std::string_view, int>{s->app_id, s->port_index}, s.get());
  }
  for (PublishedVersion& pv : published_) {
    if (pv.services == prev_services_) {
      continue;
    }
    std::set<const Service*> gone;
    for (auto& span : pv.spans) {
      auto it = now.find({span.owner->app_id, span.owner->port_index});
      if (it != now.end()) {
        span.owner = it->second;
      } else {
        gone.insert(span.owner);
      }
    }
    std::vector<ServiceRef> kept = pv.gone;
    for (const ServiceRef& s : *pv.services) {
      if (gone.count(s.get())) {
        kept.push_back(s);
      }
    }
    pv.gone = std::move(kept);
    pv.services = prev_services_;
  }
}

bool Reconciler::lastResultStands() const {
  // Nothing the pass reads has changed: the cached answer (only apps answering as
  // before were fetched), the reloader's rejections, and no state that a pass moves
  // on by itself (a quarantine by the reloader or HAProxy, fragments kept from before
  // a label change, a hold after an unattributed rejection).
  // (An app HAProxy rejected is re-checked every kOffenderRecheckPasses passes, short
  // cuts counted: that pass runs whole.)
  const bool recheck_due =
      !haproxy_offenders_.empty() && (passes_ + 1) % kOffenderRecheckPasses == 0;
  return hints_unchanged_ && last_clean_ && reloader_status_.rejected == last_clean_rejected_ &&
         reloader_offenders_.empty() && !recheck_due && before_change_.empty() &&
         unattributed_streak_ == 0 && !hold_until_;
}

void Reconciler::keepResult(const PassReport& report) {
  const bool clean = report.outcome == PassReport::Outcome::Published ||
                     report.outcome == PassReport::Outcome::Unchanged;
  if (!clean) {
    last_clean_.reset();
    return;
  }
  last_clean_ = report;
  last_clean_->reloader_rejections.clear();  // reported once
  last_clean_rejected_ = reloader_status_.rejected;
}

PassReport Reconciler::reconcileOnce(const std::set<std::string>& hints) {
  PassReport report = reconcile(hints);
  keepResult(report);
  return report;
}

PassReport Reconciler::reconcile(const std::set<std::string>& hints) {
  PassReport report;
  if (!fetch(hints, report)) {
    return report;
  }
  if (report.fast_path && lastResultStands()) {
    ++passes_;  // counts towards the offenders' re-check, as a whole pass does
    PassReport same = *last_clean_;
    same.outcome = PassReport::Outcome::Unchanged;
    same.answer_unchanged = true;
    same.fast_path = true;
    same.fetch_time = report.fetch_time;
    same.answer_bytes = report.answer_bytes;
    same.build_time = same.validate_time = std::chrono::milliseconds{0};
    same.validation_skipped = false;
    same.added_apps.clear();
    same.removed_apps.clear();
    same.changed_apps = 0;
    return same;
  }
  auto t1 = options_.clock->now();
  const ParsedApps& parsed = *cache_;
  absorbReloaderVerdicts(report);
  health_.update(parsed);
  Pass pass{report, parsed, {}, {}, {}, {}, {}, {}};
  BuildOptions build = options_.build;
  build.memo = &memo_;
  build.unknown_health = [this](const std::string& id) { return health_.known(id); };
  pass.model = buildServices(parsed.apps, build);
  report.apps = parsed.apps.size();
  report.skipped_tasks = pass.model.skipped_tasks;
  report.warnings = pass.model.warnings;
  if (!evaluateGuards(parsed, pass.model, report)) {
    return report;
  }
  recordLabelChanges(parsed);
  planQuarantine(parsed, pass);
  if (!renderValid(pass)) {
    return report;
  }
  report.build_time = since(*options_.clock, t1) - report.validate_time;
  for (auto& [key, q] : pass.quarantine) {
    report.quarantined.push_back(q);
  }
  report.services = pass.model.services.size();
  report.servers = countServers(pass.model);
  diffApps(pass.model, report);
  if (!publishBundle(pass)) {
    return report;
  }
  remember(pass);
  return report;
}

}  // namespace mlb::controller
