#include "controller/sync/reconciler.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <unordered_map>

#include "common/fs/files.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/strings.h"
#include "controller/marathon/app_json.h"
#include "controller/model/marathon_app.h"

namespace mlb::controller {
namespace {

using Clock = std::chrono::steady_clock;

std::chrono::milliseconds since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t);
}

size_t countServers(const ServiceModel& m) {
  size_t n = 0;
  for (const auto& s : m.services) {
    n += s.servers.size();
  }
  return n;
}

void sortServices(std::vector<Service>& services) {
  std::sort(services.begin(), services.end(), [](const Service& a, const Service& b) {
    if (a.app_id != b.app_id) {
      return a.app_id < b.app_id;
    }
    if (a.service_port != b.service_port) {
      return a.service_port < b.service_port;
    }
    return a.port_index < b.port_index;
  });
}

}  // namespace

std::string configShape(const std::string& config) {
  std::string out;
  out.reserve(config.size() / 2);
  // The distinct masked server lines of the current block: server order and count
  // do not change whether HAProxy accepts a backend.
  std::set<std::string> block;
  auto flush = [&] {
    for (const auto& l : block) {
      out.append(l);
      out.push_back('\n');
    }
    block.clear();
  };
  size_t pos = 0;
  while (pos < config.size()) {
    size_t end = config.find('\n', pos);
    if (end == std::string::npos) {
      end = config.size();
    }
    std::string_view line(config.data() + pos, end - pos);
    pos = end + 1;
    size_t first = line.find_first_not_of(' ');
    if (first == std::string_view::npos || line.substr(first, 7) != "server ") {
      flush();
      out.append(line);
      out.push_back('\n');
      continue;
    }
    // server <name> <addr:port> ... id <n> ... cookie <c>: mask the per-server values.
    std::string masked(line.substr(0, first));
    size_t i = first;
    int token = 0;
    bool mask_next = false;
    while (i < line.size()) {
      size_t j = line.find(' ', i);
      if (j == std::string_view::npos) {
        j = line.size();
      }
      std::string_view tok = line.substr(i, j - i);
      bool mask = token == 1 || token == 2 || mask_next;
      mask_next = tok == "id" || tok == "cookie";
      masked.append(mask ? std::string_view("*") : tok);
      masked.push_back(' ');
      ++token;
      i = j + 1;
    }
    block.insert(std::move(masked));
  }
  flush();
  // Compared in memory only, never stored: a fast hash is enough.
  return std::to_string(std::hash<std::string_view>{}(out)) + ":" + std::to_string(out.size());
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

std::vector<std::pair<int, std::string>> parseAlerts(const std::string& output) {
  std::vector<std::pair<int, std::string>> out;
  static const std::regex kLine(R"(\[[^\]\s]+:(\d+)\])");
  size_t pos = 0;
  while (pos < output.size()) {
    size_t end = output.find('\n', pos);
    std::string line = output.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    pos = end == std::string::npos ? output.size() : end + 1;
    if (line.find("[ALERT]") == std::string::npos) {
      continue;
    }
    int n = 0;
    std::smatch m;
    if (std::regex_search(line, m, kLine)) {
      n = std::atoi(m[1].str().c_str());
    }
    out.emplace_back(n, line);
  }
  return out;
}

Reconciler::Reconciler(MarathonApi& api, common::ProcessRunner* runner, BundlePublisher& publisher,
                       const TemplateSet& templates, ReconcilerOptions options)
    : api_(api),
      runner_(runner),
      publisher_(publisher),
      templates_(templates),
      options_(std::move(options)) {}

void Reconciler::loadPrevious() {
  std::string manifest = publisher_.currentManifest();
  if (manifest.empty()) {
    return;
  }
  auto j = nlohmann::json::parse(manifest, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return;
  }
  prev_apps_ = j.value("apps", size_t{0});
  prev_servers_ = j.value("servers", size_t{0});
  have_prev_ = true;
}

Reconciler::ValidationResult Reconciler::validate(const RenderedConfig& rendered,
                                                  const ServiceModel& model, const Bundle& bundle) {
  ValidationResult v;
  if (runner_ == nullptr || options_.haproxy_bin.empty()) {
    return v;
  }
  auto scratch = publisher_.writeScratch(bundle);
  if (!scratch) {
    v.ok = false;
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
        v.global_error = st.error().message;
        return v;
      }
    }
  }
  auto r = runner_->run({options_.haproxy_bin, "-c", "-f", *scratch + "/haproxy.cfg"},
                        options_.validate_timeout);
  publisher_.removeScratch(*scratch);
  if (!r) {
    v.ok = false;
    v.global_error = r.error().message;
    return v;
  }
  if (r->ok()) {
    return v;
  }
  v.ok = false;
  if (r->timed_out) {
    v.global_error = "haproxy -c timed out";
    return v;
  }
  for (const auto& [line, text] : parseAlerts(r->err + r->out)) {
    std::string owner;
    if (const auto* span = rendered.spanAtLine(line)) {
      owner = span->app_id;
    }
    if (owner.empty()) {
      // Alerts about a proxy without a line ("Proxy 'x': ...") name the backend.
      for (const auto& s : model.services) {
        if (text.find("'" + s.backend + "'") != std::string::npos) {
          owner = s.app_id;
          break;
        }
      }
    }
    if (owner.empty()) {
      if (v.global_error.empty() && text.find("Fatal errors found") == std::string::npos &&
          text.find("Error(s) found") == std::string::npos) {
        v.global_error = text;
      }
    } else if (!v.offending_apps.count(owner)) {
      v.offending_apps[owner] = text;
    }
  }
  if (v.offending_apps.empty() && v.global_error.empty()) {
    v.global_error = "haproxy -c failed: " + r->err.substr(0, 300);
  }
  return v;
}

bool Reconciler::applyHints(const std::set<std::string>& hints, PassReport& report) {
  // Fetch only the apps the events named and patch the cached answer. Any doubt
  // (an error, an unreadable app) falls back to the full fetch.
  for (const auto& id : hints) {
    auto r = api_.fetchApp(id);
    if (!r) {
      return false;
    }
    report.marathon_url = r->url;
    report.answer_bytes += r->body.size();
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

PassReport Reconciler::reconcileOnce(const std::set<std::string>& hints) {
  PassReport report;
  auto t0 = Clock::now();
  bool patched = false;
  if (cache_ && !hints.empty() && hints.size() <= kMaxHints) {
    patched = applyHints(hints, report);
    if (!patched) {
      cache_.reset();  // partially patched: only a full fetch is trustworthy now
      report.answer_bytes = 0;
    }
  }
  report.fast_path = patched;
  if (!patched) {
    auto fetched = api_.fetchApps();
    report.fetch_time = since(t0);
    if (!fetched) {
      report.fault = "marathon_unavailable";
      report.detail = fetched.error().message;
      return report;
    }
    report.marathon_url = fetched->url;
    report.answer_bytes = fetched->body.size();
    // The new answer replaces the old one whatever happens: free the old model
    // before the new one is parsed (at 5000 apps it is ~15 MB).
    cache_.reset();
    auto parsed_now = parseApps(fetched->body);
    if (!parsed_now) {
      report.fault = "invalid_answer";
      report.detail = parsed_now.error().message;
      return report;
    }
    fetched->body = std::string();  // free the answer before building
    next_answer_index_ = parsed_now->apps.size();
    for (const auto& a : parsed_now->apps) {
      next_answer_index_ = std::max(next_answer_index_, a.answer_index + 1);
    }
    cache_ = std::move(*parsed_now);
  } else {
    report.fetch_time = since(t0);
  }
  auto t1 = Clock::now();
  const ParsedApps* parsed = &*cache_;

  // Health bookkeeping: unknown health keeps the last known value.
  size_t checked_tasks = 0, lost_tasks = 0;
  std::unordered_map<std::string, bool> health_now;
  for (const auto& app : parsed->apps) {
    if (app.health_checks.empty()) {
      continue;
    }
    for (const auto& t : app.tasks) {
      ++checked_tasks;
      if (t.health_results == 0) {
        if (auto it = last_health_.find(t.id); it != last_health_.end()) {
          health_now[t.id] = it->second;
          ++lost_tasks;  // had results in the previous pass, has none now
        }
      } else {
        health_now[t.id] = t.any_alive;
      }
    }
  }
  BuildOptions build = options_.build;
  build.unknown_health = [&health_now](const std::string& id) -> std::optional<bool> {
    auto it = health_now.find(id);
    if (it == health_now.end()) {
      return std::nullopt;
    }
    return it->second;
  };

  ServiceModel model = buildServices(parsed->apps, build);
  report.apps = parsed->apps.size();

  // Guards against a Marathon that answers wrongly (empty list after a failover,
  // a partial answer, lost health results).
  std::string guard;
  const size_t servers_now = countServers(model);
  if (have_prev_ && prev_apps_ > 0 && parsed->apps.empty()) {
    guard = "empty";
  } else if (have_prev_ && prev_servers_ >= 4 &&
             static_cast<double>(servers_now) <
                 static_cast<double>(prev_servers_) * (1.0 - options_.max_shrink)) {
    guard = "shrink";
  } else if (checked_tasks >= 4 && lost_tasks * 2 > checked_tasks) {
    guard = "health_unknown";
  }
  if (!guard.empty()) {
    if (guard == held_guard_) {
      ++held_count_;
    } else {
      held_guard_ = guard;
      held_count_ = 1;
    }
    if (held_count_ < options_.confirm_resyncs) {
      report.outcome = PassReport::Outcome::Held;
      report.guard = guard;
      report.detail = "answer held (" + guard + ": " + std::to_string(parsed->apps.size()) +
                      " apps, " + std::to_string(servers_now) + " servers, previously " +
                      std::to_string(prev_apps_) + " apps, " + std::to_string(prev_servers_) +
                      " servers); confirmation " + std::to_string(held_count_) + "/" +
                      std::to_string(options_.confirm_resyncs);
      report.servers = servers_now;
      return report;
    }
  }
  held_guard_.clear();
  held_count_ = 0;

  // Quarantine: label errors from the model; template and haproxy errors found below.
  std::map<std::pair<std::string, int>, QuarantineEntry> quarantine;
  for (const auto& s : parsed->skipped) {
    quarantine[{s.app_id, -1}] = {s.app_id, -1, "marathon", s.reason, false};
  }
  for (const auto& q : model.quarantined) {
    quarantine[{q.app_id, q.port_index}] = {q.app_id, q.port_index, "label", q.reason, false};
  }
  std::set<std::pair<std::string, int>> substituted;
  auto substitute = [&](const std::string& app_id, int port_index) {
    for (const auto& [key, svc] : last_good_) {
      if (key.first != app_id || (port_index >= 0 && key.second != port_index)) {
        continue;
      }
      if (substituted.count(key)) {
        continue;
      }
      bool present = std::any_of(
          model.services.begin(), model.services.end(),
          [&](const Service& s) { return s.app_id == key.first && s.port_index == key.second; });
      if (!present) {
        model.services.push_back(svc);
        substituted.insert(key);
        quarantine[{app_id, port_index}].kept_last_good = true;
      }
    }
  };
  auto removeApp = [&](const std::string& app_id) {
    model.services.erase(std::remove_if(model.services.begin(), model.services.end(),
                                        [&](const Service& s) { return s.app_id == app_id; }),
                         model.services.end());
  };
  // Apps HAProxy rejected in an earlier pass whose labels have not changed since are
  // quarantined up front: one render and no haproxy -c for a known offender. The
  // memory is dropped every kOffenderRecheckPasses passes so that an outside fix (a
  // certificate file that appears) is noticed.
  std::map<std::string, std::string> label_digests;
  for (const auto& a : parsed->apps) {
    if (!haproxy_offenders_.count(a.id)) {
      continue;
    }
    std::string d;
    for (const auto& [k, val] : a.labels) {
      d += k + "=" + val + "\n";
    }
    label_digests[a.id] = common::sha1Hex(d);
  }
  if (++passes_ % kOffenderRecheckPasses == 0) {
    haproxy_offenders_.clear();
  }
  for (const auto& [app_id, off] : haproxy_offenders_) {
    auto it = label_digests.find(app_id);
    if (it != label_digests.end() && it->second == off.labels_digest) {
      quarantine[{app_id, -1}] = {app_id, -1, "haproxy", off.reason, false};
      removeApp(app_id);
    }
  }
  for (const auto& [key, q] : quarantine) {
    substitute(key.first, key.second);
  }
  sortServices(model.services);

  RenderedConfig rendered;
  Bundle bundle;
  bool validated = false;
  for (int round = 0; round < 8 && !validated; ++round) {
    auto r = renderConfig(model, templates_, options_.render);
    if (!r) {
      report.fault = "render";
      report.detail = r.error().message;
      return report;
    }
    rendered = std::move(*r);
    bool requeue = false;
    for (const auto& q : rendered.quarantined) {
      auto key = std::make_pair(q.app_id, q.port_index);
      bool was_substitute = substituted.count({q.app_id, q.port_index}) > 0;
      quarantine[key] = {q.app_id, q.port_index, "template", q.reason, false};
      if (!was_substitute) {
        substitute(q.app_id, q.port_index);
        requeue = true;
      }
    }
    if (requeue) {
      sortServices(model.services);
      continue;
    }
    bundle = Bundle{rendered.config, rendered.domain_map, rendered.app_map};
    // Fast path: when only server lines differ from the last configuration HAProxy
    // accepted (a scale, a task replaced, a health flip), the new one is valid too.
    const std::string shape = configShape(bundle.config);
    if (!last_valid_shape_.empty() && shape == last_valid_shape_) {
      report.validation_skipped = true;
      validated = true;
      break;
    }
    ValidationResult v;
    if (auto it = failed_shapes_.find(shape); it != failed_shapes_.end()) {
      // Same shape as a candidate HAProxy rejected before: the same apps offend.
      v.ok = false;
      v.offending_apps = it->second;
    } else {
      auto tv = Clock::now();
      v = validate(rendered, model, bundle);
      report.validate_time += since(tv);
      if (!v.ok && !v.offending_apps.empty()) {
        if (failed_shapes_.size() >= 32) {
          failed_shapes_.clear();  // bounded memory; only a cache
        }
        failed_shapes_[shape] = v.offending_apps;
      }
    }
    if (v.ok) {
      validated = true;
      if (runner_ != nullptr && !options_.haproxy_bin.empty()) {
        last_valid_shape_ = shape;
      }
      break;
    }
    if (v.offending_apps.empty()) {
      report.fault = "validate";
      report.detail = "haproxy rejected the configuration outside any app: " + v.global_error;
      return report;
    }
    for (const auto& [app_id, line] : v.offending_apps) {
      quarantine[{app_id, -1}] = {app_id, -1, "haproxy", line, false};
      removeApp(app_id);
      // A substitute that HAProxy rejects is dropped for good in this pass.
      bool had_substitute = false;
      for (const auto& key : substituted) {
        if (key.first == app_id) {
          had_substitute = true;
        }
      }
      if (!had_substitute) {
        substitute(app_id, -1);
      }
    }
    sortServices(model.services);
  }
  if (!validated) {
    report.fault = "validate";
    report.detail = "configuration still invalid after quarantining offenders";
    return report;
  }
  report.build_time = since(t1) - report.validate_time;

  for (auto& [key, q] : quarantine) {
    report.quarantined.push_back(q);
  }
  report.services = model.services.size();
  report.servers = countServers(model);

  // What changed, per app, for the log line.
  std::map<std::string, std::string> digest;
  for (const auto& s : model.services) {
    std::string& d = digest[s.app_id];
    d += s.backend;
    for (const auto& srv : s.servers) {
      d += "|" + srv.ip + ":" + std::to_string(srv.port) + (srv.draining ? "d" : "");
    }
  }
  for (const auto& [app, d] : digest) {
    auto it = prev_app_digest_.find(app);
    if (it == prev_app_digest_.end()) {
      report.added_apps.push_back(app);
    } else if (it->second != d) {
      ++report.changed_apps;
    }
  }
  for (const auto& [app, d] : prev_app_digest_) {
    if (!digest.count(app)) {
      report.removed_apps.push_back(app);
    }
  }

  const std::string version = bundleVersion(bundle);
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
                  {"source", q.source},
                  {"reason", q.reason},
                  {"kept_last_good", q.kept_last_good}});
  }
  manifest["quarantined"] = qj;
  auto published = publisher_.publish(version, bundle, manifest.dump(2) + "\n");
  if (!published) {
    report.fault = "publish";
    report.detail = published.error().message;
    return report;
  }
  report.version = version;
  report.outcome = *published ? PassReport::Outcome::Published : PassReport::Outcome::Unchanged;

  // Remember what is now served.
  have_prev_ = true;
  prev_apps_ = report.apps;
  prev_servers_ = report.servers;
  prev_app_digest_ = std::move(digest);
  std::set<std::pair<std::string, int>> quarantined_keys;
  for (const auto& q : report.quarantined) {
    quarantined_keys.insert({q.app_id, q.port_index});
  }
  std::map<std::pair<std::string, int>, Service> good;
  for (auto& s : model.services) {  // the model is not used after this: move from it
    auto key = std::make_pair(s.app_id, s.port_index);
    if (substituted.count(key) || quarantined_keys.count({s.app_id, -1}) ||
        quarantined_keys.count(key)) {
      if (auto it = last_good_.find(key); it != last_good_.end()) {
        good.emplace(key, std::move(it->second));
      }
      continue;
    }
    good.emplace(key, std::move(s));
  }
  last_good_ = std::move(good);
  // Remember the apps HAProxy rejected, with their labels, for the next pass.
  std::map<std::string, Offender> offenders;
  for (const auto& q : report.quarantined) {
    if (q.source != "haproxy") {
      continue;
    }
    for (const auto& a : parsed->apps) {
      if (a.id != q.app_id) {
        continue;
      }
      std::string d;
      for (const auto& [k, val] : a.labels) {
        d += k + "=" + val + "\n";
      }
      offenders[q.app_id] = {common::sha1Hex(d), q.reason};
      break;
    }
  }
  haproxy_offenders_ = std::move(offenders);
  last_health_ = std::move(health_now);
  return report;
}

}  // namespace mlb::controller
