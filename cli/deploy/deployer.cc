#include "cli/deploy/deployer.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <istream>
#include <ostream>

namespace mlb::cli::deploy {
namespace {

using common::Error;

std::optional<int> toCount(const std::string& text) {
  int v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < 0) {
    return std::nullopt;
  }
  return v;
}

std::string snippet(const std::string& text) {
  return text.size() > 200 ? text.substr(0, 200) + "..." : text;
}

std::string seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", s);
  return buf;
}

}  // namespace

Deployer::Deployer(DeployFlags flags, DeployDeps deps)
    : flags_(std::move(flags)), deps_(std::move(deps)) {}

int Deployer::run(const std::string& definition_text) {
  started_ = deps_.clock.now();
  const Json definition = Json::parse(definition_text, nullptr, false);
  if (definition.is_discarded() || !definition.is_object()) {
    return fail({Exit::kInvalidArgs, flags_.json + ": not a JSON object"});
  }
  const std::string group = groupOf(definition);
  if (group.empty()) {
    return fail({Exit::kMissingField, "label HAPROXY_DEPLOYMENT_GROUP is missing"});
  }
  auto apps = marathon("GET", "/v2/apps");
  if (!apps) {
    return fail({Exit::kMarathonError, apps.error().message});
  }
  lbs_ = deps_.lb_urls();
  if (lbs_.empty() && !flags_.dry_run) {
    return fail({Exit::kLbError,
                 "--marathon-lb " + flags_.marathon_lb + ": the name resolves to no address"});
  }
  const std::vector<Json> colours = groupApps(*apps, group);
  if (flags_.resume || flags_.complete_cur || flags_.complete_prev || flags_.rollback) {
    return continueExisting(colours);
  }
  if (colours.size() > 1) {
    return fail({Exit::kUnknown, "a deployment of group '" + group + "' is in progress (" +
                                     text(colours[0], "id") + ", " + text(colours[1], "id") +
                                     "): use --resume, --complete-cur, --complete-prev or "
                                     "--rollback"});
  }
  if (colours.empty()) {
    return start(definition, std::nullopt);
  }
  return start(definition, colours[0]);
}

int Deployer::start(const Json& definition, const std::optional<Json>& previous) {
  PlanOptions options{flags_.initial_instances, flags_.new_instances, deps_.started_at()};
  auto plan = planNewColour(definition, previous, options);
  if (!plan) {
    return fail({Exit::kMissingField, plan.error().message});
  }
  deps_.out << plan->dump(2) << "\n";
  if (flags_.dry_run) {
    return 0;
  }
  if (!confirm("Continue with deployment?")) {
    return static_cast<int>(Exit::kDeclined);
  }
  auto created = marathon("POST", "/v2/apps", &*plan);
  if (!created) {
    return fail({Exit::kCreate, created.error().message});
  }
  const std::string id = text(*plan, "id");
  deps_.log << "created " << id << " (" << label(*plan, "HAPROXY_DEPLOYMENT_COLOUR")
            << ", service port " << servicePort(*plan) << ", " << instances(*plan)
            << " instances, target " << label(*plan, "HAPROXY_DEPLOYMENT_TARGET_INSTANCES")
            << ")\n";
  if (!previous) {
    return finishFirst(id);
  }
  return drive(text(*previous, "id"), id, flags_.new_instances);
}

int Deployer::continueExisting(const std::vector<Json>& colours) {
  if (colours.size() != 2) {
    return fail({Exit::kUnknown,
                 "--resume, --complete-cur, --complete-prev and --rollback need "
                 "two colours of the group in Marathon; found " +
                     std::to_string(colours.size())});
  }
  const std::string old_id = text(colours[0], "id"), new_id = text(colours[1], "id");
  deps_.log << "found " << old_id << " (old) and " << new_id << " (new)\n";
  if (flags_.rollback || flags_.complete_prev) {
    return rollBack(old_id, new_id, "requested", 0);
  }
  const int cap = flags_.complete_cur
                      ? 0
                      : toCount(label(colours[1], "HAPROXY_DEPLOYMENT_NEW_INSTANCES")).value_or(0);
  return drive(old_id, new_id, cap);
}

// One step per --step-delay until the old colour is gone (or a hybrid deploy's split
// is reached); each step waits at most --max-wait.
int Deployer::drive(const std::string& old_id, const std::string& new_id, int cap) {
  double deadline = deps_.clock.now() + flags_.max_wait;
  while (true) {
    deps_.clock.sleep(flags_.step_delay);
    Colours c;
    if (auto f = fetchColours(old_id, new_id, c)) {
      return fail(*f);
    }
    const auto target = toCount(label(c.new_app, "HAPROXY_DEPLOYMENT_TARGET_INSTANCES"));
    if (!target) {
      return fail({Exit::kMissingField, new_id + ": label HAPROXY_DEPLOYMENT_TARGET_INSTANCES "
                                                 "is missing or not a count"});
    }
    auto stats = lbStats(backendName(c.old_app));
    const bool late = deps_.clock.now() > deadline;
    if (!stats) {
      deps_.log << "  " << stats.error().message << "\n";
      if (late) {
        return failed(old_id, new_id, {Exit::kLbError, stats.error().message});
      }
      continue;
    }
    const DrainView view = readDrain(*stats, c.old_app, c.new_app);
    progress(c, view, *target);
    if (cap > 0 && instances(c.new_app) >= cap && healthyTasks(c.new_app) >= cap &&
        instances(c.old_app) + cap <= *target) {
      deps_.log << "hybrid deploy in place after " << seconds(deps_.clock.now() - started_) << ": "
                << new_id << " " << instances(c.new_app) << ", " << old_id << " "
                << instances(c.old_app) << " (finish with --complete-cur or --complete-prev)\n";
      return 0;
    }
    const bool settled = view.caught_up && view.up >= *target && view.maint > 0;
    const int limit = cap > 0 ? cap : *target;
    if (view.caught_up && view.up >= *target && view.maint == 0 && instances(c.new_app) < limit &&
        healthyTasks(c.new_app) >= instances(c.new_app)) {
      // Nothing may drain until the new colour grows (e.g. --complete-cur after a
      // hybrid deploy): grow it first.
      if (auto f = killAndGrow(c, {},
                               nextInstances(instances(c.new_app), instances(c.old_app), *target,
                                             flags_.linear_increase, cap))) {
        return failed(old_id, new_id, *f);
      }
      ++steps_;
      deadline = deps_.clock.now() + flags_.max_wait;
      continue;
    }
    std::vector<std::string> kill;
    if (settled && !late && lbReloading()) {
      continue;  // an old worker may still hold sessions the stats do not show
    }
    if (settled && view.busy == 0 && !view.drained.empty()) {
      kill = view.drained;
    } else if (late && settled && !view.maint_everywhere.empty()) {
      deps_.log << "  draining took longer than --max-wait: the tasks in MAINT go now\n";
      kill = view.maint_everywhere;
    } else if (late) {
      return failed(
          old_id, new_id,
          {Exit::kUnknown, "no progress within --max-wait " + seconds(flags_.max_wait) + ": " +
                               new_id + " has " + std::to_string(healthyTasks(c.new_app)) + " of " +
                               std::to_string(instances(c.new_app)) +
                               " instances healthy; the LBs list " + std::to_string(view.listed) +
                               " of " + std::to_string(view.expected) + " servers, " +
                               std::to_string(view.up) + " up"});
    }
    if (kill.empty()) {
      continue;
    }
    if (instances(c.new_app) >= *target && static_cast<int>(kill.size()) >= instances(c.old_app)) {
      if (!confirm("Delete " + old_id + "?")) {
        return static_cast<int>(Exit::kDeclined);
      }
      if (auto gone = marathon("DELETE", "/v2/apps" + old_id + "?force=true"); !gone) {
        return fail({Exit::kDelete, gone.error().message});
      }
      killed_ += static_cast<int>(kill.size());
      deps_.log << "deploy done in " << seconds(deps_.clock.now() - started_) << ": " << new_id
                << " serves " << instances(c.new_app) << " instances, " << old_id << " deleted ("
                << killed_ << " old tasks drained, " << steps_ + 1 << " steps)\n";
      return 0;
    }
    if (!confirm("Continue?")) {
      return static_cast<int>(Exit::kDeclined);
    }
    const int next = nextInstances(instances(c.new_app), instances(c.old_app), *target,
                                   flags_.linear_increase, cap);
    if (auto f = runHook(c, kill)) {
      return fail(*f);  // as zdd.py: an operator decides (--resume or --rollback)
    }
    if (auto f = killAndGrow(c, kill, next)) {
      return failed(old_id, new_id, *f);
    }
    ++steps_;
    deadline = deps_.clock.now() + flags_.max_wait;
  }
}

// The first deploy of a group: wait until the LBs serve every instance.
int Deployer::finishFirst(const std::string& id) {
  const double deadline = deps_.clock.now() + flags_.max_wait;
  while (true) {
    deps_.clock.sleep(flags_.step_delay);
    auto app = fetchApp(id);
    if (!app) {
      return fail({Exit::kMarathonError, app.error().message});
    }
    auto stats = lbStats(backendName(*app));
    const DrainView view = stats ? readDrain(*stats, Json::object(), *app) : DrainView{};
    deps_.log << "  " << id << ": " << healthyTasks(*app) << " of " << instances(*app)
              << " healthy; LBs: " << view.up << " up\n";
    if (stats && view.caught_up && view.up >= instances(*app)) {
      deps_.log << "deploy done in " << seconds(deps_.clock.now() - started_) << ": " << id
                << " serves " << instances(*app) << " instances\n";
      return 0;
    }
    if (deps_.clock.now() > deadline) {
      return fail({Exit::kUnknown, id + " is not served by every LB within --max-wait"});
    }
  }
}

// The drain run backwards: the old colour is scaled back to the target last, so mlb
// (like marathon-lb, which orders the colours of a group by their last scaling when
// HAPROXY_DEPLOYMENT_NEW_INSTANCES is set) now drains the new colour's tasks. Once every
// LB serves the target from the old colour and lists no new task that is not drained,
// the new colour is deleted.
int Deployer::rollBack(const std::string& old_id, const std::string& new_id, const std::string& why,
                       int exit_code) {
  deps_.log << "rolling back to " << old_id << ": " << why << "\n";
  Colours c;
  if (auto f = fetchColours(old_id, new_id, c)) {
    return fail(*f);
  }
  const int target = toCount(label(c.new_app, "HAPROXY_DEPLOYMENT_TARGET_INSTANCES"))
                         .value_or(instances(c.old_app) + instances(c.new_app));
  Json body = {{"instances", target}};
  if (auto r = marathon("PUT", "/v2/apps" + old_id + "?force=true", &body); !r) {
    return fail({Exit::kScale, r.error().message});
  }
  const double deadline = deps_.clock.now() + flags_.max_wait;
  while (true) {
    deps_.clock.sleep(flags_.step_delay);
    if (auto f = fetchColours(old_id, new_id, c)) {
      return fail(*f);
    }
    auto stats = lbStats(backendName(c.old_app));
    // Roles swapped: the new colour is the one draining.
    const DrainView v = stats ? readDrain(*stats, c.new_app, c.old_app) : DrainView{};
    const int back = std::min(healthyTasks(c.old_app), v.up);
    deps_.log << "  " << old_id << ": " << back << " of " << target << " instances serving; "
              << new_id << ": " << v.drained.size() << " of " << v.old_listed
              << " listed tasks drained\n";
    if (stats && back >= target && static_cast<int>(v.drained.size()) >= v.old_listed &&
        (v.old_listed == 0 || !lbReloading())) {
      break;
    }
    if (deps_.clock.now() > deadline) {
      return fail({Exit::kUnknown, "rollback: " + old_id + " is not serving " +
                                       std::to_string(target) + " instances, or " + new_id +
                                       " not drained, within --max-wait; both colours left "
                                       "running"});
    }
  }
  if (auto gone = marathon("DELETE", "/v2/apps" + new_id + "?force=true"); !gone) {
    return fail({Exit::kDelete, gone.error().message});
  }
  deps_.log << "rolled back in " << seconds(deps_.clock.now() - started_) << ": " << old_id
            << " serves " << target << " instances, " << new_id << " deleted\n";
  return exit_code;
}

// Any LB with more than one HAProxy worker (mlb's /_haproxy_getpids lists the master
// and its workers) has a reload in progress: an old worker may hold sessions to a
// server that its successor's stats show idle. No answer counts as reloading.
bool Deployer::lbReloading() {
  for (const auto& url : lbs_) {
    auto r = deps_.http.request("GET", url + "/_haproxy_getpids", "", "");
    if (!r || r->status != 200) {
      deps_.log << "  " << url << "/_haproxy_getpids: "
                << (r ? "HTTP " + std::to_string(r->status) : r.error().message)
                << ": counted as a reload in progress\n";
      return true;
    }
    size_t pids = 0;
    bool in_word = false;
    for (char ch : r->body) {
      const bool space = ch == ' ' || ch == '\n' || ch == '\t' || ch == '\r';
      pids += !space && !in_word;
      in_word = !space;
    }
    if (pids > 2) {
      deps_.log << "  " << url << ": " << pids - 1
                << " HAProxy workers (a reload is finishing): no kill yet\n";
      return true;
    }
  }
  return false;
}

int Deployer::fail(const Failure& f) {
  deps_.log << "mlb deploy: " << f.message << "\n";
  return static_cast<int>(f.exit);
}

int Deployer::failed(const std::string& old_id, const std::string& new_id, Failure f) {
  deps_.log << "mlb deploy: " << f.message << "\n";
  if (flags_.no_rollback) {
    deps_.log << "both colours left running (--no-rollback): continue with --resume, undo "
                 "with --rollback\n";
    return static_cast<int>(f.exit);
  }
  return rollBack(old_id, new_id, f.message, static_cast<int>(f.exit));
}

// Every Marathon call: each URL in turn; transport errors, 5xx and 409 (a deployment
// holds the app) retried with backoff within --max-wait; other 4xx answered at once.
common::Result<Json> Deployer::marathon(const std::string& method, const std::string& path,
                                        const Json* body) {
  const double deadline = deps_.clock.now() + flags_.max_wait;
  double backoff = 0.5;
  bool lost_answer = false;  // a request may have been applied without its answer
  while (true) {
    std::string last;
    for (const auto& base : flags_.marathon) {
      auto r =
          deps_.http.request(method, base + path, body ? body->dump() : "", deps_.authorization());
      if (!r) {
        last = r.error().message;
        lost_answer = true;
        continue;
      }
      last = method + " " + base + path + ": HTTP " + std::to_string(r->status) + ": " +
             snippet(r->body);
      if (r->status >= 200 && r->status < 300) {
        Json j = Json::parse(r->body.empty() ? "null" : r->body, nullptr, false);
        if (j.is_discarded()) {
          return Error::invalidData(method + " " + base + path + ": not JSON: " + snippet(r->body));
        }
        return j;
      }
      if (method == "DELETE" && r->status == 404) {
        return Json(nullptr);  // gone (perhaps by an attempt whose answer was lost)
      }
      if (method == "POST" && r->status == 409 && lost_answer) {
        return Json(nullptr);  // created by the attempt whose answer was lost
      }
      if (r->status >= 400 && r->status < 500 && (r->status != 409 || method == "POST")) {
        return Error::invalidData(last);
      }
    }
    if (deps_.clock.now() + backoff > deadline) {
      return Error{common::ErrorCode::Unavailable, last};
    }
    deps_.clock.sleep(backoff);
    backoff = std::min(backoff * 2, 5.0);
  }
}

common::Result<Json> Deployer::fetchApp(const std::string& id) {
  auto r = marathon("GET", "/v2/apps" + id + "?embed=app.tasks");
  if (!r) {
    return r.error();
  }
  if (!r->is_object() || !r->contains("app") || !(*r)["app"].is_object()) {
    return Error::invalidData("GET /v2/apps" + id + ": no \"app\" in the answer");
  }
  return (*r)["app"];
}

std::optional<Deployer::Failure> Deployer::fetchColours(const std::string& old_id,
                                                        const std::string& new_id, Colours& out) {
  auto old_app = fetchApp(old_id);
  auto new_app = fetchApp(new_id);
  if (!old_app || !new_app) {
    return Failure{Exit::kMarathonError, (!old_app ? old_app : new_app).error().message};
  }
  out.old_app = std::move(*old_app);
  out.new_app = std::move(*new_app);
  return std::nullopt;
}

common::Result<std::vector<std::vector<ServerStat>>> Deployer::lbStats(const std::string& backend) {
  std::vector<std::vector<ServerStat>> out;
  for (const auto& url : lbs_) {
    auto r = deps_.http.request("GET", url + "/haproxy?stats;csv", "", "");
    if (!r || r->status != 200) {
      return Error{
          common::ErrorCode::Unavailable,
          "LB " + url + ": " + (r ? "HTTP " + std::to_string(r->status) : r.error().message)};
    }
    auto servers = parseStatsCsv(r->body, backend);
    if (!servers) {
      return Error::invalidData("LB " + url + ": " + servers.error().message);
    }
    out.push_back(std::move(*servers));
  }
  if (out.empty()) {
    return Error{common::ErrorCode::Unavailable, "no load balancer address"};
  }
  return out;
}

std::optional<Deployer::Failure> Deployer::killAndGrow(const Colours& c,
                                                       const std::vector<std::string>& kill,
                                                       int next) {
  if (!kill.empty()) {
    Json ids = {{"ids", kill}};
    if (auto r = marathon("POST", "/v2/tasks/delete?scale=true&force=true", &ids); !r) {
      return Failure{Exit::kScale, r.error().message};
    }
    killed_ += static_cast<int>(kill.size());
  }
  // Scaled after the kill, even to the same size: the new colour must stay the one
  // scaled last (mlb, like marathon-lb, orders a hybrid deploy's colours by it).
  Json size = {{"instances", next}};
  if (auto r = marathon("PUT", "/v2/apps" + text(c.new_app, "id") + "?force=true", &size); !r) {
    return Failure{Exit::kScale, r.error().message};
  }
  deps_.log << "  killed " << kill.size() << " drained task(s) of " << text(c.old_app, "id") << ", "
            << text(c.new_app, "id") << " -> " << next << " instances\n";
  return std::nullopt;
}

std::optional<Deployer::Failure> Deployer::runHook(const Colours& c,
                                                   const std::vector<std::string>& kill) {
  if (flags_.pre_kill_hook.empty()) {
    return std::nullopt;
  }
  if (deps_.hooks == nullptr) {
    return Failure{Exit::kUnknown, "--pre-kill-hook: no process runner"};
  }
  const Json tasks = kill;  // the ids, as zdd.py passes them
  const auto timeout = std::chrono::milliseconds(static_cast<long>(flags_.max_wait * 1000));
  auto r = deps_.hooks->run(
      {flags_.pre_kill_hook, c.old_app.dump(), tasks.dump(), c.new_app.dump()}, timeout);
  if (!r || !r->ok()) {
    return Failure{Exit::kUnknown,
                   "--pre-kill-hook " + flags_.pre_kill_hook + " refused the kill (" +
                       (r ? "exit " + std::to_string(r->exit_code) : r.error().message) +
                       "): stopped; continue with --resume or undo with --rollback"};
  }
  return std::nullopt;
}

bool Deployer::confirm(const std::string& question) {
  if (flags_.force) {
    return true;
  }
  deps_.log << question << " [Y/n] " << std::flush;
  std::string answer;
  if (!std::getline(deps_.in, answer)) {
    return false;
  }
  return answer.empty() || answer == "y" || answer == "Y" || answer == "yes";
}

void Deployer::progress(const Colours& c, const DrainView& v, int target) {
  deps_.log << "step " << steps_ + 1 << " (" << seconds(deps_.clock.now() - started_)
            << "): " << text(c.old_app, "id") << " " << instances(c.old_app) << ", "
            << text(c.new_app, "id") << " " << instances(c.new_app) << " ("
            << healthyTasks(c.new_app) << " healthy), target " << target << " | LBs: " << v.listed
            << " of " << v.expected << " servers, " << v.up << " up, " << v.maint << " draining ("
            << v.drained.size() << " drained)\n";
}

}  // namespace mlb::cli::deploy
