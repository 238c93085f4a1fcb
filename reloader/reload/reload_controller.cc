#include "reloader/reload/reload_controller.h"

#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <nlohmann/json.hpp>
#include <set>

#include "common/fs/config_edits.h"
#include "common/fs/file_lock.h"
#include "common/fs/files.h"
#include "common/haproxy/config_check.h"
#include "common/log.h"
#include "common/strings.h"
#include "reloader/haproxy/bind_check.h"
#include "reloader/haproxy/edit_excerpts.h"
#include "reloader/haproxy/pending_master.h"
#include "reloader/haproxy/runtime_cli.h"
#include "reloader/haproxy/stderr_log.h"

namespace mlb::reloader {
const char* methodName(ApplyMethod m) {
  switch (m) {
    case ApplyMethod::Startup:
      return "startup";
    case ApplyMethod::Runtime:
      return "runtime";
    case ApplyMethod::MasterCli:
      return "master-cli";
    case ApplyMethod::Sigusr2:
      return "sigusr2";
    case ApplyMethod::None:
      break;
  }
  return "";
}

std::string handoverLockPath(const std::string& state_dir) { return state_dir + "/handover.lock"; }

std::string linkVersion(const std::string& link) {
  char buf[PATH_MAX];
  ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
  if (n <= 0) {
    return "";
  }
  std::string target(buf, static_cast<size_t>(n));
  auto slash = target.rfind('/');
  return slash == std::string::npos ? target : target.substr(slash + 1);
}

std::string bootstrapConfig(const std::string& state_dir) {
  return "# mlb bootstrap: no bundle published yet\n"
         "global\n"
         "  stats socket " +
         state_dir +
         "/stats.sock mode 600 level admin expose-fd listeners\n"
         "defaults\n"
         "  mode http\n"
         "  timeout connect 5s\n"
         "  timeout client 30s\n"
         "  timeout server 30s\n"
         "listen mlb_bootstrap\n"
         "  bind unix@" +
         state_dir +
         "/bootstrap.sock\n"
         "  http-request return status 503 content-type text/plain string \"no bundle yet\"\n";
}

ReloadController::ReloadController(ReloaderOptions options, common::ProcessRunner& runner,
                                   const ProcessTable& table, SignalFn signal,
                                   HaproxySockets& sockets, common::Clock& clock, PortProbe& ports)
    : options_(std::move(options)),
      runner_(runner),
      table_(table),
      signal_(std::move(signal)),
      sockets_(sockets),
      clock_(clock),
      ports_(ports),
      runtime_({statsSocket(), options_.drain_timeout, options_.drift_check_interval}, sockets,
               clock) {}

std::string ReloadController::liveVersion() const {
  return linkVersion(options_.state_dir + "/live");
}
std::string ReloadController::currentVersion() const {
  return linkVersion(options_.state_dir + "/current");
}

void ReloadController::loadStatus() {
  auto s = common::readFile(options_.state_dir + "/status.json");
  if (!s) {
    return;
  }
  auto j = nlohmann::json::parse(*s, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return;
  }
  // Another writer's file may have other types (null, numbers): those read as absent.
  auto str = [](const nlohmann::json& o, const char* key) {
    auto it = o.find(key);
    return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  // Only trust "applied" when live still points at it.
  std::string applied = str(j, "applied_version");
  if (!applied.empty() && applied == liveVersion()) {
    applied_ = applied;
    applied_at_ = str(j, "applied_at");
  }
  if (auto rej = j.find("rejected"); rej != j.end() && rej->is_object()) {
    for (auto& [v, r] : rej->items()) {
      if (r.is_object()) {
        rejected_[v] = {str(r, "reason"), str(r, "at"), ++seq_};
      }
    }
  }
}

common::Status ReloadController::writeStatus() {
  nlohmann::json j;
  j["applied_version"] = applied_;
  j["applied_at"] = applied_at_;
  const bool reloaded =
      last_method_ == ApplyMethod::MasterCli || last_method_ == ApplyMethod::Sigusr2;
  j["reload_kind"] = reloaded ? "reload" : methodName(last_method_);
  j["runtime_commands"] = last_commands_;
  j["planned_from"] = last_planned_from_;
  j["reload_method"] = methodName(last_method_);
  j["live_version"] = liveVersion();
  nlohmann::json rej = nlohmann::json::object();
  for (const auto& [v, r] : rejected_) {
    rej[v] = {{"reason", r.reason}, {"at", r.at}};
  }
  j["rejected"] = rej;
  if (last_proc_) {
    nlohmann::json hp = {{"master_pid", last_proc_->master_pid},
                         {"reloads", last_proc_->master_reloads},
                         {"failed_reloads", last_proc_->master_failed}};
    nlohmann::json w = nlohmann::json::array(), ow = nlohmann::json::array();
    for (const auto& e : last_proc_->workers) {
      w.push_back(e.pid);
    }
    for (const auto& e : last_proc_->old_workers) {
      ow.push_back(e.pid);
    }
    hp["workers"] = w;
    hp["old_workers"] = ow;
    j["haproxy"] = hp;
  }
  // Reasons are HAProxy output cut to a length: invalid UTF-8 is replaced, never thrown.
  return common::writeFileAtomic(
      options_.state_dir + "/status.json",
      j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

namespace {

// A bundle HAProxy would not load, or that could not be checked: why.
common::Status invalidBundle(std::string why) { return common::Error::invalidData(std::move(why)); }

// A bundle that could not be checked (haproxy -c killed, timed out, not started): no
// verdict, retried with backoff, never remembered as rejected.
common::Status noVerdict(std::string why) {
  return common::Error{common::ErrorCode::Unavailable, std::move(why)};
}

}  // namespace

common::Status ReloadController::validate(const std::string& version) {
  const std::string dir = options_.state_dir + "/bundles/" + version;
  if (auto st = common::materializeBundleConfig(dir); !st) {
    return noVerdict("cannot write out the bundle's configuration: " + st.error().message);
  }
  auto cfg = common::readFile(dir + "/haproxy.cfg");
  if (!cfg) {
    return invalidBundle("cannot read bundle: " + cfg.error().message);
  }
  // The config names its map files under live/ or current/; check it against the
  // bundle's own files (same line numbers).
  std::string text = *cfg;
  for (const std::string& from :
       {options_.state_dir + "/live/", options_.state_dir + "/current/"}) {
    common::replaceAll(text, from, dir + "/");
  }
  std::string path = dir + "/haproxy.cfg";
  if (text != *cfg) {
    path = options_.state_dir + "/.validate-" + std::to_string(::getpid()) + ".cfg";
    if (auto st = common::writeFileAtomic(path, text); !st) {
      return invalidBundle(st.error().message);
    }
  }
  auto r = common::checkConfig(runner_, options_.haproxy_bin, path, options_.validate_timeout);
  if (path != dir + "/haproxy.cfg") {
    ::unlink(path.c_str());
  }
  // Only HAProxy's verdict rejects; anything else is a failure to check, retried.
  if (!r) {
    return noVerdict("haproxy -c could not run: " + r.error().message);
  }
  switch (r->outcome) {
    case common::ConfigCheck::Outcome::kValid:
      return {};
    case common::ConfigCheck::Outcome::kTimedOut:
      return noVerdict("haproxy -c timed out after " +
                       std::to_string(options_.validate_timeout.count()) + " ms");
    case common::ConfigCheck::Outcome::kFailed:
      return noVerdict("haproxy -c gave no verdict (exit " + std::to_string(r->exit_code) +
                       ", signal " + std::to_string(r->term_signal) + ")");
    case common::ConfigCheck::Outcome::kInvalid:
      break;
  }
  return invalidBundle(common::alertSummary(r->output));
}

common::Status ReloadController::setLive(const std::string& version) {
  return common::replaceSymlink("bundles/" + version, options_.state_dir + "/live");
}

void ReloadController::saveStatus(ApplyResult& res) {
  if (auto st = writeStatus(); !st) {
    status_dirty_ = true;  // retried at the start of every pass until it is written
    res.errors.push_back("status.json not written: " + st.error().message);
  } else {
    status_dirty_ = false;
  }
}

void ReloadController::rollBack(const std::string& previous_live, ApplyResult& res) {
  if (previous_live.empty()) {
    return;
  }
  if (auto st = setLive(previous_live); !st) {
    // live names a bundle HAProxy did not load: the next reload (anyone's) loads it.
    // Retried at the start of every pass.
    pending_rollback_ = previous_live;
    res.errors.push_back("rollback of live to " + previous_live + " failed: " + st.error().message);
  } else {
    pending_rollback_.clear();
  }
}

ApplyResult ReloadController::applyOnce() {
  ApplyResult res;
  retryPathErrors(res);
  std::string version = currentVersion();
  if (reload_requested_ && (version.empty() || rejected_.count(version))) {
    version = liveVersion();  // SIGUSR1: reload what serves, not a rejected `current`
  }
  res.version = version;
  if (version.empty() || rejected_.count(version) ||
      (version == applied_ && !runtime_.reloadNeeded() && !reload_requested_)) {
    return res;
  }
  auto t0 = clock_.now();
  settlePending();
  auto master = findVerifiedMaster(table_, options_.state_dir);
  if (!master) {
    res.kind = ApplyResult::Kind::Waiting;
    res.reason = "no verified HAProxy master (" + master.error().message + ")";
    return res;
  }
  if (appliedAtStartup(version, *master, res)) {
    return res;
  }
  // Marks the bundle being applied: the controller's prune never removes it.
  (void)common::replaceSymlink("bundles/" + version, options_.state_dir + "/applying");
  // A bundle written as edits of its base gets its haproxy.cfg first (marked applying:
  // neither it nor its base is pruned meanwhile): every step below reads the file.
  if (auto st = common::materializeBundleConfig(bundleDir(version)); !st) {
    res.kind = ApplyResult::Kind::Failed;
    res.reason = "cannot write out the bundle's configuration: " + st.error().message;
    return res;
  }
  const std::string previous_live = liveVersion();
  RuntimePlan plan = planFor(version, previous_live);
  if ((plan.kind == RuntimePlan::Kind::Reload || plan.needs_validation) && version != applied_ &&
      rejectIfInvalid(version, res)) {
    return res;
  }
  if (plan.kind == RuntimePlan::Kind::Reload && version != applied_ &&
      rejectIfPortsTaken(version, previous_live, res)) {
    return res;
  }
  if (auto wait = unconfirmedBackoff(version); !wait.empty()) {
    res.kind = ApplyResult::Kind::Waiting;
    res.reason = wait;
    return res;
  }
  // Never reload (nor change servers) while an entrypoint hands over: it holds the
  // lock from choosing the master it takes over from until it execs HAProxy.
  auto lock = common::FileLock::tryAcquire(handoverLockPath(options_.state_dir));
  if (!lock) {
    res.kind = ApplyResult::Kind::Waiting;
    res.reason = "a handover is in progress (" + lock.error().message + ")";
    return res;
  }
  std::optional<ShowProc> before;
  const std::optional<pid_t> serving = masterThatServes(before, res);
  if (!serving) {
    return res;
  }
  if (plan.kind != RuntimePlan::Kind::Reload && applyRuntime(version, plan, res)) {
    res.duration = std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now() - t0);
    return res;
  }
  if (options_.runtime) {
    res.fallback = plan.kind == RuntimePlan::Kind::Reload ? plan.reason_class : res.fallback;
  }
  reloadTo(version, previous_live, *serving, before, res);
  res.duration = std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now() - t0);
  return res;
}

void ReloadController::retryPathErrors(ApplyResult& res) {
  if (!pending_rollback_.empty()) {
    rollBack(pending_rollback_, res);
  }
  if (status_dirty_) {
    saveStatus(res);
  }
}

bool ReloadController::appliedAtStartup(const std::string& version, pid_t master,
                                        ApplyResult& res) {
  if (!applied_.empty() || version != liveVersion() || reload_requested_) {
    return false;  // (a signalled reload reloads, even what the master started from)
  }
  // Fresh start: the master was started from this very bundle (the entrypoint
  // validated it and recorded it) and live has not moved since: nothing to reload.
  auto rec = readMasterRecord(options_.state_dir);
  if (!rec || rec->pid != master || rec->live_version != version) {
    return false;
  }
  applied_ = version;
  applied_at_ = common::isoTimeNow();
  last_method_ = ApplyMethod::Startup;
  saveStatus(res);
  res.kind = ApplyResult::Kind::Applied;
  res.method = ApplyMethod::Startup;
  return true;
}

bool ReloadController::rejectIfInvalid(const std::string& version, ApplyResult& res) {
  if (auto wait = retryBackoff(check_retry_, version, "failed check(s)"); !wait.empty()) {
    res.kind = ApplyResult::Kind::Waiting;
    res.reason = wait;
    return true;
  }
  common::Status valid = validate(version);
  if (valid) {
    check_retry_.erase(version);
    return false;
  }
  if (valid.error().code == common::ErrorCode::Unavailable) {
    noteRetry(check_retry_, version, std::chrono::seconds(16));
    res.kind = ApplyResult::Kind::Failed;
    res.check_failed = true;
    res.reason = valid.error().message;
    return true;
  }
  check_retry_.erase(version);
  noteRejected(version, valid.error().message);
  saveStatus(res);
  res.kind = ApplyResult::Kind::Rejected;
  res.reason = valid.error().message;
  return true;
}

bool ReloadController::rejectIfPortsTaken(const std::string& version,
                                          const std::string& previous_live, ApplyResult& res) {
  auto next = common::readFile(bundleDir(version) + "/haproxy.cfg");
  auto live = common::readFile(bundleDir(previous_live) + "/haproxy.cfg");
  if (!next || previous_live.empty()) {
    return false;
  }
  const std::string alerts =
      newBindConflicts(live ? *live : "", *next, bundleDir(version) + "/haproxy.cfg", ports_);
  if (alerts.empty()) {
    return false;
  }
  // HAProxy would refuse the reload for it: a verdict, with a line the controller
  // attributes to the app that asked for the port.
  noteRejected(version, alerts);
  saveStatus(res);
  res.kind = ApplyResult::Kind::Rejected;
  res.reason = alerts;
  return true;
}

std::optional<pid_t> ReloadController::masterThatServes(std::optional<ShowProc>& before,
                                                        ApplyResult& res) {
  // The master may have changed while the bundle was validated: ask again under the
  // lock, and only act on the master that answers master.sock as the recorded one.
  auto master = findVerifiedMaster(table_, options_.state_dir);
  if (!master) {
    res.kind = ApplyResult::Kind::Waiting;
    res.reason = "no verified HAProxy master (" + master.error().message + ")";
    return std::nullopt;
  }
  if (auto text = sockets_.command(options_.state_dir + "/master.sock", "show proc", 3000)) {
    if (auto p = parseShowProc(*text)) {
      before = *p;
    }
  }
  if (before && before->master_pid != *master) {
    res.kind = ApplyResult::Kind::Waiting;
    res.reason = "a handover is in progress (master.sock is answered by pid " +
                 std::to_string(before->master_pid) + ", the recorded master is " +
                 std::to_string(*master) + ")";
    return std::nullopt;
  }
  return *master;
}

RuntimePlan ReloadController::planFor(const std::string& version,
                                      const std::string& previous_live) {
  RuntimePlan p;
  p.kind = RuntimePlan::Kind::Reload;
  last_planned_from_.clear();  // (no plan compared anything)
  if (!options_.runtime) {
    p.reason_class = "runtime off";
    return p;
  }
  if (runtime_.reloadNeeded()) {
    p.reason_class = "drift";
    return p;
  }
  if (reload_requested_) {
    p.reason_class = "signal";
    return p;
  }
  if (applied_.empty() || previous_live != applied_) {
    p.reason_class = "live not applied";  // the runtime state is unknown
    return p;
  }
  // From the edits when the plan needs no other live server's shape (an added server
  // like its siblings), else from the whole texts: the same plan either way.
  std::optional<RuntimePlan> from_edits = planFromEdits(version, previous_live);
  common::Result<std::string> new_cfg = common::Error::notFound("not read");
  RuntimePlan plan;
  last_planned_from_ = from_edits && !from_edits->needs_validation ? "edits" : "whole";
  if (from_edits && !from_edits->needs_validation) {
    plan = std::move(*from_edits);
  } else {
    auto live_cfg = common::readFile(bundleDir(previous_live) + "/haproxy.cfg");
    new_cfg = common::readFile(bundleDir(version) + "/haproxy.cfg");
    if (!live_cfg || !new_cfg) {
      p.reason_class = "unreadable bundle";
      return p;
    }
    plan = planRuntime(*live_cfg, *new_cfg, options_.max_runtime_changes, unprovenServers(version));
  }
  // HAProxy reads maps at load only: a changed map is replaced at runtime (a reload
  // for any other file, the Lua service).
  for (const auto& name : otherFilesChanged(previous_live, version)) {
    if (plan.kind == RuntimePlan::Kind::Reload) {
      break;
    }
    auto text = common::readFile(bundleDir(version) + "/" + name);
    if (!new_cfg) {
      new_cfg = common::readFile(bundleDir(version) + "/haproxy.cfg");
    }
    if (!text || !new_cfg) {
      p.reason_class = "unreadable bundle";
      return p;
    }
    planMapUpdate(*new_cfg, name, *text, plan);
  }
  return plan;
}

namespace {

// A bundle's edits (their views into `file`), or nothing for a whole bundle.
std::optional<common::ConfigEdits> editsOf(const std::string& dir, std::string& file) {
  auto text = common::readFile(dir + "/" + common::kConfigEditsFile);
  if (!text) {
    return std::nullopt;
  }
  file = std::move(*text);
  auto edits = common::parseConfigEdits(file);
  return edits ? std::optional<common::ConfigEdits>(std::move(*edits)) : std::nullopt;
}

// Two names of one file (a map the controller linked from the last bundle).
bool sameFile(const std::string& a, const std::string& b) {
  struct stat x {
  }, y{};
  return ::stat(a.c_str(), &x) == 0 && ::stat(b.c_str(), &y) == 0 && x.st_dev == y.st_dev &&
         x.st_ino == y.st_ino;
}

}  // namespace

std::optional<RuntimePlan> ReloadController::planFromEdits(const std::string& version,
                                                           const std::string& previous_live) {
  std::string live_file, next_file;
  const auto live = editsOf(bundleDir(previous_live), live_file);
  const auto next = editsOf(bundleDir(version), next_file);
  std::string base;
  if (live && next && live->base == next->base) {
    base = live->base;
  } else if (!live && next && next->base == previous_live) {
    base = previous_live;
  } else if (live && !next && live->base == version) {
    base = version;
  } else {
    return std::nullopt;
  }
  auto text = common::readFile(bundleDir(base) + "/haproxy.cfg");
  if (!text) {
    return std::nullopt;
  }
  const common::ConfigEdits none{base, text->size(), {}};
  auto ex = excerptsOf(*text, live ? *live : none, next ? *next : none);
  if (!ex) {
    return std::nullopt;
  }
  return planRuntime(ex->a, ex->b, options_.max_runtime_changes, unprovenServers(version));
}

// The files besides haproxy.cfg and the manifest that differ between two bundles (the
// maps), by name.
std::vector<std::string> ReloadController::otherFilesChanged(const std::string& a,
                                                             const std::string& b) const {
  auto names_a = common::listDir(bundleDir(a));
  auto names_b = common::listDir(bundleDir(b));
  std::set<std::string> names;
  for (const auto* list : {&names_a, &names_b}) {
    if (*list) {
      names.insert((*list)->begin(), (*list)->end());
    }
  }
  std::vector<std::string> out;
  for (const auto& name : names) {
    if (name == "haproxy.cfg" || name == "manifest.json" || name == common::kConfigEditsFile ||
        name.rfind('.', 0) == 0) {
      continue;
    }
    if (sameFile(bundleDir(a) + "/" + name, bundleDir(b) + "/" + name)) {
      continue;
    }
    auto x = common::readFile(bundleDir(a) + "/" + name);
    auto y = common::readFile(bundleDir(b) + "/" + name);
    if (!x || !y || *x != *y) {
      out.push_back(name);
    }
  }
  return out;
}

bool ReloadController::applyRuntime(const std::string& version, const RuntimePlan& plan,
                                    ApplyResult& res) {
  // live first: a reload at any moment from now on loads the new server set.
  if (auto st = setLive(version); !st) {
    res.fallback = "live not moved";
    return false;
  }
  res.runtime_commands = plan.commands.size();
  if (auto ok = runtime_.apply(plan); !ok) {
    // Partly applied or not at all: the reload (live already moved) resyncs.
    res.runtime_failed = true;
    res.fallback = ok.error().code == common::ErrorCode::Io ? "stats socket" : "unexpected reply";
    res.reason = ok.error().message;
    return false;
  }
  applied_ = version;
  applied_at_ = common::isoTimeNow();
  last_method_ = ApplyMethod::Runtime;
  last_commands_ = plan.commands.size();
  saveStatus(res);
  res.kind = ApplyResult::Kind::Applied;
  res.method = ApplyMethod::Runtime;
  return true;
}

void ReloadController::reloadTo(const std::string& version, const std::string& previous_live,
                                pid_t master, const std::optional<ShowProc>& before,
                                ApplyResult& res) {
  if (auto st = setLive(version); !st) {
    res.kind = ApplyResult::Kind::Failed;
    res.reason = st.error().message;
    return;
  }
  saveServerState(version);
  const LogMark stderr_mark = markLog(stderrLogPath(options_.state_dir));
  std::string reply;
  if (!sendReload(master, previous_live, res, reply)) {
    return;
  }
  auto after = verifyReload(before);
  if (auto rr = parseReloadReply(reply); rr.status == ReloadReply::Status::kFailed) {
    // HAProxy >= 2.7 said so itself, with the startup alerts.
    if (after) {
      last_proc_ = after;
    }
    rejectLoad(version, previous_live,
               "HAProxy failed to load the configuration (master CLI reload: Success=0)" +
                   (rr.log.empty() ? "" : ": " + common::alertSummary(rr.log)),
               res);
    return;
  }
  if (!after) {
    res.kind = ApplyResult::Kind::Failed;
    res.reason = "reload not confirmed by show proc within " +
                 std::to_string(options_.verify_timeout.count()) + " ms";
    noteUnconfirmed(version);
    return;  // live stays; the same version is retried with backoff
  }
  unconfirmed_.erase(version);
  last_proc_ = after;
  const int failed_before = before ? before->master_failed : 0;
  if (after->master_failed > failed_before) {
    const std::string alerts = reloadAlerts(master, stderr_mark);
    rejectLoad(version, previous_live,
               "HAProxy failed to load the configuration (show proc: failed " +
                   std::to_string(after->master_failed) + ")" +
                   (alerts.empty() ? "" : ": " + alerts),
               res);
    return;
  }
  // The new worker has only the file's servers: nothing is left to drain there; its
  // whole state is checked at the next tick.
  runtime_.reloaded();
  reload_requested_ = false;
  applied_ = version;
  applied_at_ = common::isoTimeNow();
  last_method_ = res.method;
  last_commands_ = 0;
  saveStatus(res);
  res.kind = ApplyResult::Kind::Applied;
}

// Records a rejected version, keeping at most --keep-rejected of them.
void ReloadController::noteRejected(const std::string& version, const std::string& reason) {
  rejected_[version] = {reason, common::isoTimeNow(), ++seq_};
  while (rejected_.size() > options_.keep_rejected) {
    auto oldest = std::min_element(rejected_.begin(), rejected_.end(),
                                   [](auto& a, auto& b) { return a.second.seq < b.second.seq; });
    rejected_.erase(oldest);
  }
}

// A reload HAProxy refused: `live` goes back, the version is rejected with the reason.
void ReloadController::rejectLoad(const std::string& version, const std::string& previous_live,
                                  const std::string& reason, ApplyResult& res) {
  rollBack(previous_live, res);
  noteRejected(version, reason);
  saveStatus(res);
  res.kind = ApplyResult::Kind::Failed;
  res.reason = reason;
}

bool ReloadController::sendReload(pid_t master, const std::string& previous_live, ApplyResult& res,
                                  std::string& reply) {
  // The master CLI refuses connections while the master re-executes: retry, then
  // fall back to SIGUSR2 to the verified master. A command that reached the master is
  // never sent twice: HAProxy >= 2.7 answers only once the new worker is ready, which
  // may take longer than the wait here — show proc then tells the outcome.
  const std::string sock = options_.state_dir + "/master.sock";
  res.method = ApplyMethod::MasterCli;
  for (int i = 0; i < options_.reload_attempts; ++i) {
    auto r = sockets_.command(sock, "reload", 5000);
    if (r) {
      reply = *r;
      return true;
    }
    if (r.error().code != common::ErrorCode::Unavailable) {
      return true;  // sent, then no answer in time: show proc tells the outcome
    }
    clock_.sleepFor(options_.reload_retry_interval);
  }
  common::Status verified =
      verifyMaster(table_, master, options_.state_dir, readMasterRecord(options_.state_dir));
  if (!verified || signal_(master, SIGUSR2) != 0) {
    rollBack(previous_live, res);
    res.kind = ApplyResult::Kind::Failed;
    res.reason = "cannot reach the master CLI, and SIGUSR2 refused: " +
                 (verified ? std::string() : verified.error().message);
    return false;
  }
  res.method = ApplyMethod::Sigusr2;
  return true;
}

// The [ALERT] lines the master wrote on its stderr while failing to load (2.6 tells
// them nowhere else), read from the log the entrypoint keeps; "" when there is none
// (an HAProxy not started by the entrypoint). Waits briefly for the keeper to write
// the master's closing "Loading failure!" line.
std::string ReloadController::reloadAlerts(pid_t master, const LogMark& mark) {
  const std::string path = stderrLogPath(options_.state_dir);
  if (mark.ino == 0 && markLog(path).ino == 0) {
    return "";  // no log: an HAProxy the entrypoint did not start
  }
  constexpr size_t kMaxRead = 256 * 1024;
  const auto deadline = clock_.now() + std::chrono::seconds(1);
  std::string text = readSince(path, mark, kMaxRead);
  while (!loadFailureOf(text, master) && clock_.now() < deadline) {
    clock_.sleepFor(std::chrono::milliseconds(20));
    text = readSince(path, mark, kMaxRead);
  }
  return alertsOf(text, master);
}

std::optional<ShowProc> ReloadController::verifyReload(const std::optional<ShowProc>& before) {
  // The reload counter moved and a worker runs.
  const int reloads_before = before ? before->master_reloads : -1;
  const std::string sock = options_.state_dir + "/master.sock";
  auto deadline = clock_.now() + options_.verify_timeout;
  while (clock_.now() < deadline) {
    clock_.sleepFor(std::chrono::milliseconds(20));
    auto text = sockets_.command(sock, "show proc", 1000);
    if (!text) {
      continue;
    }
    auto p = parseShowProc(*text);
    if (p && p->master_reloads > reloads_before && !p->workers.empty()) {
      return *p;
    }
  }
  return std::nullopt;
}

void ReloadController::saveServerState(const std::string& version) {
  // Health, drain and maint states survive the reload (the default HEAD loads this
  // file), except for servers whose address changed.
  auto text = sockets_.command(statsSocket(), "show servers state", 5000);
  if (!text || text->empty()) {
    return;
  }
  auto cfg = common::readFile(bundleDir(version) + "/haproxy.cfg");
  (void)common::writeFileAtomic(
      options_.state_dir + "/server-state",
      filterServersState(*text, cfg ? *cfg : "", unprovenServers(version)));
}

// The bundle's servers whose tasks are not known healthy (its manifest's `unproven`).
std::set<std::string> ReloadController::unprovenServers(const std::string& version) const {
  auto text = common::readFile(bundleDir(version) + "/manifest.json");
  return text ? unprovenOf(*text) : std::set<std::string>{};
}

std::string ReloadController::statsSocket() const { return options_.state_dir + "/stats.sock"; }

std::string ReloadController::bundleDir(const std::string& version) const {
  return options_.state_dir + "/bundles/" + version;
}

std::string ReloadController::retryBackoff(const std::map<std::string, Retry>& book,
                                           const std::string& version, const char* what) const {
  auto it = book.find(version);
  if (it == book.end() || clock_.now() >= it->second.retry_at) {
    return "";
  }
  return "backing off after " + std::to_string(it->second.attempts) + " " + what +
         " of this version";
}

void ReloadController::noteRetry(std::map<std::string, Retry>& book, const std::string& version,
                                 std::chrono::seconds cap) {
  if (book.size() > 16 && !book.count(version)) {
    book.clear();  // only the version being applied matters
  }
  Retry& u = book[version];
  ++u.attempts;
  // 1 s, 2 s, 4 s ... the cap.
  auto delay = std::chrono::seconds(1) * (1 << std::min(u.attempts - 1, 6));
  u.retry_at = clock_.now() + std::min<std::chrono::milliseconds>(delay, cap);
}

std::string ReloadController::unconfirmedBackoff(const std::string& version) const {
  return retryBackoff(unconfirmed_, version, "unconfirmed reload(s)");
}

void ReloadController::noteUnconfirmed(const std::string& version) {
  ++unconfirmed_total_;
  noteRetry(unconfirmed_, version, std::chrono::seconds(60));
}

void ReloadController::governStaleMasters(pid_t master, GovernResult& g) {
  // Only once the recorded master serves (it answers master.sock with a worker):
  // during a handover the old master still holds connections the new one has not
  // taken over yet, and -sf stops it anyway.
  auto now = clock_.now();
  std::set<pid_t> alive;
  for (pid_t pid : findStaleMasters(table_, master, options_.state_dir)) {
    alive.insert(pid);
    ++g.stale_masters;
    auto [it, inserted] = stale_first_usr1_.emplace(pid, now);
    auto& last = stale_last_usr1_[pid];
    if (inserted || now - last >= std::chrono::seconds(1)) {
      // Repeated: a master that was re-executing may have missed the first one.
      if (signal_(pid, SIGUSR1) == 0) {
        last = now;
        ++g.stale_sigusr1;
      }
    }
    if (now - it->second > options_.max_drain_time && signal_(pid, SIGTERM) == 0) {
      ++g.sigterm;
    }
  }
  for (auto it = stale_first_usr1_.begin(); it != stale_first_usr1_.end();) {
    if (alive.count(it->first)) {
      ++it;
    } else {
      stale_last_usr1_.erase(it->first);
      it = stale_first_usr1_.erase(it);
    }
  }
}

GovernResult ReloadController::governRuntime() {
  GovernResult g;
  governServers(g);
  return g;
}

void ReloadController::governServers(GovernResult& g) {
  if (!options_.runtime || applied_.empty() || !runtime_.due()) {
    return;
  }
  auto cfg = common::readFile(bundleDir(applied_) + "/haproxy.cfg");
  if (cfg) {
    runtime_.govern(*cfg, g);
  }
}

void ReloadController::settlePending() {
  // Under the handover lock, never while an entrypoint records its own pending master.
  auto lock = common::FileLock::tryAcquire(handoverLockPath(options_.state_dir));
  if (!lock) {
    return;
  }
  settlePendingMaster(table_, sockets_, options_.state_dir);
}

GovernResult ReloadController::govern() {
  GovernResult g;
  settlePending();
  auto master = findVerifiedMaster(table_, options_.state_dir);
  if (!master) {
    return g;
  }
  g.masters = 1;
  auto text = sockets_.command(options_.state_dir + "/master.sock", "show proc", 1000);
  if (!text) {
    return g;
  }
  auto sp = parseShowProc(*text);
  if (!sp) {
    return g;
  }
  last_proc_ = *sp;
  if (sp->master_pid == *master && !sp->workers.empty()) {
    governStaleMasters(*master, g);
    governServers(g);
  }
  g.workers = static_cast<int>(sp->workers.size());
  g.old_workers = static_cast<int>(sp->old_workers.size());
  std::set<int, std::greater<>> generations;  // reloads-ago, oldest first
  for (const auto& w : sp->old_workers) {
    generations.insert(w.reloads);
  }
  g.old_generations = static_cast<int>(generations.size());
  // The generations beyond the newest max_old_workers must go.
  std::set<int> too_old;
  int excess = g.old_generations - options_.max_old_workers;
  for (int gen : generations) {
    if (excess-- <= 0) {
      break;
    }
    too_old.insert(gen);
  }
  auto now = clock_.now();
  std::set<pid_t> alive;
  for (const auto& w : sp->old_workers) {
    alive.insert(w.pid);
    auto [it, inserted] = first_seen_.emplace(w.pid, now);
    bool overdue = now - it->second > options_.max_drain_time;
    if (!too_old.count(w.reloads) && !overdue) {
      continue;
    }
    common::Status verified = verifyWorker(table_, w.pid, *master, options_.state_dir);
    if (!verified) {
      g.refused.push_back(verified.error().message);
      continue;
    }
    auto usr1 = usr1_at_.find(w.pid);
    if (usr1 == usr1_at_.end()) {
      if (signal_(w.pid, SIGUSR1) == 0) {
        usr1_at_[w.pid] = now;
        ++g.sigusr1;
      }
    } else if (now - usr1->second > options_.stop_grace) {
      if (signal_(w.pid, SIGTERM) == 0) {
        ++g.sigterm;
      }
    }
  }
  for (auto it = first_seen_.begin(); it != first_seen_.end();) {
    it = alive.count(it->first) ? std::next(it) : first_seen_.erase(it);
  }
  for (auto it = usr1_at_.begin(); it != usr1_at_.end();) {
    it = alive.count(it->first) ? std::next(it) : usr1_at_.erase(it);
  }
  return g;
}

}  // namespace mlb::reloader
