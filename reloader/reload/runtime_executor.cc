#include "reloader/reload/runtime_executor.h"

#include "common/strings.h"
#include "reloader/haproxy/runtime_cli.h"

namespace mlb::reloader {

namespace {

// The replies of a batch of `show` commands as one text, a line break after each.
std::string joinReplies(const std::vector<std::string>& replies) {
  std::string all;
  for (const auto& r : replies) {
    all += r + "\n";
  }
  return all;
}

}  // namespace

RuntimeExecutor::RuntimeExecutor(RuntimeExecutorOptions options, HaproxySockets& sockets,
                                 common::Clock& clock)
    : options_(std::move(options)), sockets_(sockets), clock_(clock) {}

common::Status RuntimeExecutor::sendChecked(const std::vector<std::string>& commands,
                                            const std::vector<RuntimePlan::Expect>& expect) {
  auto replies = sockets_.batch(options_.stats_socket, commands, 5000);
  if (!replies) {
    return common::Error::io("stats socket: " + replies.error().message);
  }
  return checkReplies(commands, expect, *replies);
}

// A server removed a moment ago and back now (its task restarted on the same port, a
// health flip) is still in HAProxy, retiring: `add server` would be refused (its name
// and id are taken) and the batch would end in a reload. When it comes back as it was
// (the same `add server` command), it is revived instead: put in MAINT, where a fresh
// add starts, and the plan's other commands for it (health enabled, held DOWN or
// ready, agent) take it from there as they take a new server; it is no longer
// deleted. Changed, the add stays and is refused: a reload.
void RuntimeExecutor::reviveRetiring(std::vector<std::string>& commands,
                                     std::vector<RuntimePlan::Expect>& expect) {
  static constexpr std::string_view kAdd = "add server ";
  for (size_t i = 0; i < commands.size(); ++i) {
    const std::string& cmd = commands[i];
    const size_t slash = cmd.find('/', kAdd.size());
    const size_t end = cmd.find(' ', kAdd.size());
    if (cmd.rfind(kAdd, 0) != 0 || slash == std::string::npos || slash > end) {
      continue;
    }
    const std::pair<std::string, std::string> key{cmd.substr(kAdd.size(), slash - kAdd.size()),
                                                  cmd.substr(slash + 1, end - slash - 1)};
    auto it = draining_.find(key);
    if (it == draining_.end() || it->second.add_command != cmd) {
      continue;
    }
    draining_.erase(it);
    commands[i] = "set server " + key.first + "/" + key.second + " state maint";
    expect[i] = RuntimePlan::Expect::Empty;
  }
}

common::Status RuntimeExecutor::apply(const RuntimePlan& plan) {
  if (!plan.commands.empty()) {
    std::vector<std::string> commands = plan.commands;
    std::vector<RuntimePlan::Expect> expect = plan.expect;
    reviveRetiring(commands, expect);
    if (auto st = sendChecked(commands, expect); !st) {
      return st;
    }
  }
  const auto now = clock_.now();
  for (size_t i = 0; i < plan.removals.size(); ++i) {
    draining_.emplace(plan.removals[i],
                      Drain{now, std::nullopt,
                            i < plan.removed_adds.size() ? plan.removed_adds[i] : std::string()});
  }
  drift_backends_.insert(plan.backends.begin(), plan.backends.end());
  for (const auto& map : plan.maps) {
    if (auto st = applyMap(map); !st) {
      return st;
    }
  }
  return {};
}

common::Status RuntimeExecutor::applyMap(const RuntimePlan::MapUpdate& map) {
  // A new version of the map, filled, then made current in one step: a request sees
  // the old entries or the new ones, never a half.
  auto prepared = sockets_.command(options_.stats_socket, "prepare map " + map.path, 5000);
  if (!prepared) {
    return common::Error::io("stats socket: " + prepared.error().message);
  }
  const std::string kCreated = "New version created: ";
  const std::string reply = common::trim(*prepared);
  if (reply.rfind(kCreated, 0) != 0) {
    return common::Error::invalidData("'prepare map " + map.path + "': " + reply);
  }
  const std::string at = "@" + reply.substr(kCreated.size()) + " " + map.path;
  std::vector<std::string> batch;
  size_t bytes = 0;
  auto flush = [&]() -> common::Status {
    if (batch.empty()) {
      return {};
    }
    auto st = sendChecked(batch, std::vector<RuntimePlan::Expect>(batch.size()));
    batch.clear();
    bytes = 0;
    return st;
  };
  for (const auto& [key, value] : map.entries) {
    batch.push_back("add map " + at + " " + key + " " + value);
    bytes += batch.back().size() + 2;
    if (bytes >= options_.max_line) {
      if (auto st = flush(); !st) {
        return st;
      }
    }
  }
  if (auto st = flush(); !st) {
    return st;  // never committed: the map keeps serving its current version
  }
  // Alone: in a `;` line HAProxy would run it after a refused add as well.
  return sendChecked({"commit map " + at}, {RuntimePlan::Expect::Empty});
}

void RuntimeExecutor::reloaded() {
  draining_.clear();
  force_reload_ = false;
  drift_backends_.clear();
  next_drift_check_ = clock_.now();
}

bool RuntimeExecutor::due() const {
  return !draining_.empty() || !drift_backends_.empty() || clock_.now() >= next_drift_check_;
}

void RuntimeExecutor::govern(const std::string& config, GovernResult& g) {
  deleteDrained(g);
  checkDrift(config, g);
}

// `show servers state` of every backend (`backends` empty), or of the named ones (one
// batch).
common::Result<std::string> RuntimeExecutor::serversState(const std::set<std::string>& backends) {
  if (backends.empty()) {
    return sockets_.command(options_.stats_socket, "show servers state", 5000);
  }
  std::vector<std::string> cmds;
  for (const auto& be : backends) {
    cmds.push_back("show servers state " + be);
  }
  auto replies = sockets_.batch(options_.stats_socket, cmds, 5000);
  if (!replies) {
    return replies.error();
  }
  return joinReplies(*replies);
}

// Sessions + queue per server of these backends. By numeric id: a backend's name is
// its frontend's too, and `show stat <name>` finds the frontend.
common::Result<std::map<std::pair<std::string, std::string>, long>> RuntimeExecutor::serverLoad(
    const std::set<int>& backend_ids) {
  std::vector<std::string> queries;
  for (int id : backend_ids) {
    queries.push_back("show stat " + std::to_string(id) + " 4 -1");
  }
  auto csv = sockets_.batch(options_.stats_socket, queries, 3000);
  if (!csv) {
    return csv.error();
  }
  return parseServerLoad(joinReplies(*csv));
}

void RuntimeExecutor::deleteDrained(GovernResult& g) {
  if (draining_.empty()) {
    return;
  }
  // The draining servers' backends only: `show stat` of 5000 servers costs more than
  // the batch that drained them.
  std::set<std::string> backends;
  for (const auto& [key, drain] : draining_) {
    backends.insert(key.first);
  }
  auto state = serversState(backends);
  if (!state) {
    return;
  }
  const auto present = parseServersState(*state);
  std::set<int> ids;
  for (const auto& [key, srv] : present) {
    ids.insert(srv.backend_id);
  }
  auto load = serverLoad(ids);
  if (!load) {
    return;
  }
  const auto now = clock_.now();
  for (auto it = draining_.begin(); it != draining_.end();) {
    if (!present.count(it->first)) {
      it = draining_.erase(it);  // gone (a reload, or deleted behind our back)
      continue;
    }
    // Sessions + queue; unknown (not in `show stat`) counts as busy until overdue.
    auto l = load->find(it->first);
    const bool busy = l == load->end() || l->second > 0;
    Drain& d = it->second;
    if (busy && !d.maint_at && now - d.since <= options_.drain_timeout) {
      ++it;
      continue;
    }
    const int before = g.deleted_servers;
    retire(it->first, busy, d, g);
    it = g.deleted_servers > before ? draining_.erase(it) : std::next(it);
  }
}

// Idle (or overdue): into MAINT, with whatever still points to it shut, then deleted
// after delete_grace (2 s) in MAINT. A stream HAProxy 2.6.12 does not count (one retrying its
// connection) could otherwise still use the freed server. Sessions seen again in MAINT
// are shut at each tick until --drain-timeout; past it the delete is sent whatever the
// count says (HAProxy refuses it while connections hold the server: retried, reported).
void RuntimeExecutor::retire(const std::pair<std::string, std::string>& key, bool busy, Drain& d,
                             GovernResult& g) {
  const std::string id = key.first + "/" + key.second;
  const auto now = clock_.now();
  std::vector<std::string> cmds;
  if (!d.maint_at) {
    cmds = {"set server " + id + " state maint", "shutdown sessions server " + id};
  } else if (now - *d.maint_at < options_.delete_grace) {
    return;
  } else if (busy && now - d.since <= options_.drain_timeout) {
    cmds = {"shutdown sessions server " + id};
  } else {
    deleteOne(key, g);
    return;
  }
  if (auto replies = sockets_.batch(options_.stats_socket, cmds, 5000); !replies) {
    g.runtime_errors.push_back(cmds.front() + ": " + replies.error().message);
    return;
  }
  if (!d.maint_at) {
    d.maint_at = now;
  }
}

void RuntimeExecutor::deleteOne(const std::pair<std::string, std::string>& key, GovernResult& g) {
  const std::string id = key.first + "/" + key.second;
  const std::vector<std::string> cmds = {"del server " + id};
  auto replies = sockets_.batch(options_.stats_socket, cmds, 5000);
  const std::string last = replies && replies->size() == cmds.size() ? replies->back() : "";
  if (last == "Server deleted." || last == "No such server.") {
    ++g.deleted_servers;
    return;
  }
  // "Server still has connections attached": the next tick retries.
  if (last.find("still has connections") == std::string::npos) {
    g.runtime_errors.push_back("del server " + id + ": " +
                               (replies ? last : replies.error().message));
  }
}

namespace {

void pushEmpty(RuntimePlan& fix, std::string command) {
  fix.commands.push_back(std::move(command));
  fix.expect.push_back(RuntimePlan::Expect::Empty);
}

// The commands that give a present server the admin state and weight its line asks
// (a runtime command or a state file may have left it otherwise); 1 when any.
size_t appendStateRepairs(const ServerLine& want, const RuntimeServer& is, RuntimePlan& fix) {
  const std::string id = want.backend + "/" + want.name;
  size_t n = 0;
  if (want.disabled != is.maint() || (!want.disabled && is.drain())) {
    pushEmpty(fix, "set server " + id + (want.disabled ? " state maint" : " state ready"));
    n = 1;
  }
  if (configWeight(want) != is.weight) {
    pushEmpty(fix, "set server " + id + " weight " + std::to_string(configWeight(want)));
    n = 1;
  }
  return n;
}

}  // namespace

void RuntimeExecutor::checkDrift(const std::string& config, GovernResult& g) {
  const auto now = clock_.now();
  const bool full = now >= next_drift_check_;
  if (!full && drift_backends_.empty()) {
    return;
  }
  // After a batch, only the backends it changed: the others did not move.
  const std::set<std::string> scope = full ? std::set<std::string>{} : drift_backends_;
  drift_backends_.clear();
  if (full) {
    next_drift_check_ = now + options_.drift_check_interval;
  }
  auto text = serversState(scope);
  if (!text) {
    drift_backends_.insert(scope.begin(), scope.end());  // asked again at the next tick
    return;
  }
  const auto runtime = parseServersState(*text);
  RuntimePlan fix;
  std::set<std::pair<std::string, std::string>> wanted;
  std::set<std::string> backends = scope;
  for (const auto& s : serverLines(config, scope)) {
    backends.insert(s.backend);
    wanted.insert({s.backend, s.name});
    auto it = runtime.find({s.backend, s.name});
    if (it == runtime.end()) {
      appendAddCommands(s, fix);  // deleted behind mlb's back: add it again
      ++fix.added;
    } else if (it->second.address != s.address) {
      force_reload_ = true;  // moved behind mlb's back: only a reload is safe
    } else if (!draining_.count({s.backend, s.name}) && !s.agent) {
      // (An agent check may set drain, maint or a weight itself: those are its own.)
      fix.changed += appendStateRepairs(s, it->second, fix);
    }
  }
  for (const auto& [key, srv] : runtime) {
    if (backends.count(key.first) && !wanted.count(key) && !draining_.count(key)) {
      if (!srv.maint()) {  // drain takes a server out of MAINT
        pushEmpty(fix, "set server " + key.first + "/" + key.second + " state drain");
      }
      draining_.emplace(key, Drain{now, std::nullopt, std::string()});  // unknown: never revived
      ++fix.removed;
    }
  }
  if (force_reload_) {
    ++g.drift_reloads;
  }
  if (fix.commands.empty()) {
    g.drift_repairs += static_cast<int>(fix.removed);  // in MAINT: only to delete
    return;
  }
  if (auto ok = sendChecked(fix.commands, fix.expect); !ok) {
    g.runtime_errors.push_back("drift repair: " + ok.error().message);
    force_reload_ = true;
    ++g.drift_reloads;
    return;
  }
  g.drift_repairs += static_cast<int>(fix.added + fix.removed + fix.changed);
  g.drift_commands.insert(g.drift_commands.end(), fix.commands.begin(), fix.commands.end());
}

}  // namespace mlb::reloader
