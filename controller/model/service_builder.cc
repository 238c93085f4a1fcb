#include "controller/model/service_builder.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "common/hash.h"
#include "common/sort.h"
#include "common/strings.h"
#include "controller/model/labels.h"

namespace mlb::controller {
namespace {

enum class NetMode { Host, Container, Bridge };

// Task states marathon-lb leaves out. Nearly every task is TASK_RUNNING, checked first.
bool droppedState(const std::string& state) {
  if (state == "TASK_RUNNING") {
    return false;
  }
  static const std::unordered_set<std::string> states = {
      "TASK_STAGING", "TASK_STARTING",         "TASK_KILLING", "TASK_FINISHED",
      "TASK_FAILED",  "TASK_KILLED",           "TASK_ERROR",   "TASK_DROPPED",
      "TASK_GONE",    "TASK_GONE_BY_OPERATOR", "TASK_UNKNOWN"};
  return states.count(state) > 0;
}

NetMode networkingMode(const MarathonApp& app) {
  NetMode mode = NetMode::Host;
  if (app.has_ip_address || app.docker_network == "USER") {
    mode = NetMode::Container;
  } else if (app.docker_network == "BRIDGE") {
    mode = NetMode::Bridge;
  }
  if (!app.network_modes.empty()) {
    const std::string& m = app.network_modes.back();
    mode = m == "container"          ? NetMode::Container
           : m == "container/bridge" ? NetMode::Bridge
                                     : NetMode::Host;
  }
  return mode;
}

const std::vector<PortMapping>& portMappings(const MarathonApp& app) {
  return app.docker_port_mappings.empty() ? app.port_mappings : app.docker_port_mappings;
}

// An IPv4 or IPv6 literal and nothing else (inet_pton stops at a NUL, so one is
// refused first).
bool isIpLiteral(const std::string& s) {
  if (s.find('\0') != std::string::npos) {
    return false;
  }
  in_addr a4{};
  in6_addr a6{};
  return inet_pton(AF_INET, s.c_str(), &a4) == 1 || inet_pton(AF_INET6, s.c_str(), &a6) == 1;
}

// An agent as Marathon names it: a DNS name or an address. Templates may print it
// ({host}), so nothing that HAProxy's parser would read as a separator gets through.
bool isHostToken(std::string_view s) {
  return !s.empty() && s.size() <= 255 && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' ||
           c == ':' || c == '%';
  });
}

bool isTaskId(std::string_view s) {
  return std::none_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f;
  });
}

bool isPortNumber(int p) { return p >= 1 && p <= 65535; }

// The ports of an app's tasks when a task does not list its own (as marathon-lb): the
// same for every task of the app, so computed once per app.
struct AppPorts {
  std::vector<int> container;  // IP-per-task: discovery ports, else container ports
  std::vector<int> host;       // host/bridge: port definitions, else (bridge) container ports
};

// Fills `out` (its vectors keep their capacity from app to app).
void appPorts(const MarathonApp& app, NetMode mode, AppPorts& out) {
  out.container.clear();
  out.host.clear();
  if (mode == NetMode::Container && app.has_ip_address && !app.discovery_ports.empty()) {
    out.container = app.discovery_ports;
    return;
  }
  auto mapped = [&](std::vector<int>& into) {
    for (const auto& pm : portMappings(app)) {
      if (pm.container_port) {
        into.push_back(*pm.container_port);
      }
    }
  };
  if (mode == NetMode::Container) {
    mapped(out.container);
    return;
  }
  for (const auto& p : app.port_definitions) {
    if (p) {
      out.host.push_back(*p);
    }
  }
  if (out.host.empty() && mode == NetMode::Bridge) {
    mapped(out.host);
  }
}

// Where HAProxy reaches one task: `ports` points into the task or into AppPorts.
struct TaskAddress {
  std::string ip;
  const std::vector<int>* ports = nullptr;
};

common::Error skip(const char* reason) { return common::Error::invalidData(reason); }

// The address and ports HAProxy uses for one task (as marathon-lb), or why it has none:
// one of the kSkip* reasons as the error message.
common::Result<TaskAddress> taskAddress(const MarathonTask& task, NetMode mode,
                                        const AppPorts& app_ports, const BuildOptions& opts) {
  if (mode == NetMode::Container) {
    if (task.ip_address.empty()) {
      return skip(kSkipNoIpAddress);
    }
    if (!isIpLiteral(task.ip_address)) {
      return skip(kSkipBadIpAddress);
    }
    return TaskAddress{task.ip_address, &app_ports.container};
  }
  TaskAddress out{{}, task.ports.empty() ? &app_ports.host : &task.ports};
  if (isIpLiteral(task.host)) {
    out.ip = task.host;
    return out;
  }
  std::optional<std::string> resolved;
  if (opts.resolve_host) {
    resolved = opts.resolve_host(task.host);
  }
  // The resolver is an edge: its answer is checked like Marathon's.
  if (!resolved || !isIpLiteral(*resolved)) {
    return skip(kSkipUnresolvableHost);
  }
  out.ip = std::move(*resolved);
  return out;
}

// taskAddress() for a task whose id and host are safe to route, and whose first
// `used_ports` ports (those that back a service) are port numbers.
common::Result<TaskAddress> routableAddress(const MarathonTask& task, NetMode mode,
                                            const AppPorts& app_ports, const BuildOptions& opts,
                                            size_t used_ports) {
  if (!isTaskId(task.id)) {
    return skip(kSkipBadTaskId);
  }
  if (!isHostToken(task.host)) {
    return skip(kSkipBadHost);
  }
  auto address = taskAddress(task, mode, app_ports, opts);
  if (!address) {
    return address;
  }
  const std::vector<int>& ports = *address->ports;
  const auto used = ports.begin() + static_cast<std::ptrdiff_t>(std::min(used_ports, ports.size()));
  if (!std::all_of(ports.begin(), used, isPortNumber)) {
    return skip(kSkipBadPort);
  }
  return address;
}

// marathon-lb's deterministic service-port assigner for IP-per-task apps without
// service ports: sha1("<appId>-<taskPort>-<i>") probes, then a linear scan.
class PortAssigner {
 public:
  PortAssigner(int lo, int hi) : lo_(lo), hi_(hi) {}
  bool enabled() const { return lo_ > 0 && hi_ >= lo_; }

  std::optional<int> assign(const std::string& app_id, int task_port) {
    auto key = std::make_pair(app_id, task_port);
    if (auto it = by_app_.find(key); it != by_app_.end()) {
      return it->second;
    }
    const int count = hi_ - lo_ + 1;
    if (static_cast<int>(by_app_.size()) >= count) {
      return std::nullopt;
    }
    std::optional<int> port;
    for (int i = 0; i < 50 && !port; ++i) {
      const std::string h =
          common::sha1Hex(app_id + "-" + std::to_string(task_port) + "-" + std::to_string(i));
      const uint32_t v = static_cast<uint32_t>(std::stoul(h.substr(0, 8), nullptr, 16));
      const int trial = lo_ + static_cast<int>(v % static_cast<uint32_t>(count));
      if (!used_.count(trial)) {
        port = trial;
      }
    }
    for (int p = lo_; !port && p <= hi_; ++p) {
      if (!used_.count(p)) {
        port = p;
      }
    }
    by_app_[key] = *port;
    used_.insert(*port);
    return port;
  }

 private:
  int lo_, hi_;
  std::map<std::pair<std::string, int>, int> by_app_;
  std::set<int> used_;
};

std::vector<std::optional<int>> servicePorts(const MarathonApp& app, NetMode mode,
                                             PortAssigner& assigner, const BuildOptions& opts) {
  std::vector<std::optional<int>> ports;
  if (mode == NetMode::Container || mode == NetMode::Bridge) {
    for (const auto& pm : portMappings(app)) {
      if (pm.service_port && *pm.service_port > 0) {
        ports.push_back(pm.service_port);
      }
    }
  }
  if (ports.empty()) {
    if (app.has_port_definitions) {
      for (const auto& p : app.port_definitions) {
        if (p) {
          ports.push_back(p);
        }
      }
    } else {
      for (int p : app.legacy_ports) {
        ports.push_back(p);
      }
    }
  }
  if (ports.empty() && mode == NetMode::Container && assigner.enabled() && !app.tasks.empty()) {
    AppPorts app_ports;
    appPorts(app, mode, app_ports);
    // The first usable task: a task skipped for a bad value must not hide its app.
    for (const auto& task : app.tasks) {
      if (auto address = routableAddress(task, mode, app_ports, opts, 0)) {
        for (int task_port : *address->ports) {
          ports.push_back(assigner.assign(app.id, task_port));
        }
        break;
      }
    }
  }
  return ports;
}

// The health check that configures HAProxy for port index n: the first check with
// an explicit port, or whose portIndex is n.
std::optional<HealthCheck> healthCheckFor(const MarathonApp& app, int n) {
  for (const auto& hc : app.health_checks) {
    if (hc.port && *hc.port != 0) {
      return hc;
    }
    if (hc.port_index && *hc.port_index == n) {
      return hc;
    }
  }
  return std::nullopt;
}

// Why the service's own ports cannot be written (HAProxy would refuse the whole
// config), or empty.
std::string portProblem(const Service& s) {
  if (!isPortNumber(s.service_port)) {
    return "service port " + std::to_string(s.service_port) + " is not a port number (1-65535)";
  }
  const auto& hc = s.health_check;
  if (hc && hc->port && *hc->port != 0 && !isPortNumber(*hc->port)) {
    return "health check port " + std::to_string(*hc->port) + " is not a port number (1-65535)";
  }
  // The path is written into `option httpchk`: a line break would add directives.
  if (hc && !isSafeValue(hc->path)) {
    return "health check path has a control character";
  }
  return {};
}

bool hasGroup(const std::vector<std::string>& wanted, const std::vector<std::string>& have) {
  for (const auto& w : wanted) {
    if (w == "*") {
      return true;
    }
  }
  for (const auto& h : have) {
    if (std::find(wanted.begin(), wanted.end(), h) != wanted.end()) {
      return true;
    }
  }
  return false;
}

// An app as the builder sees it: the parsed app itself, or the merged app of a
// blue/green deployment group (owned here). Avoids copying every app.
struct PreparedApp {
  const MarathonApp* original = nullptr;
  std::shared_ptr<MarathonApp> merged;
  std::set<std::string> draining_tasks;
  const MarathonApp& app() const { return merged ? *merged : *original; }
};

// The group name of an app's HAPROXY_DEPLOYMENT_GROUP ("" when it has none), or
// nullopt when the label is not a group name. marathon-lb adds a '/' to a group
// without one: "/app" and "app" are one group.
std::optional<std::string> deploymentGroup(const MarathonApp& app) {
  auto g = app.labels.find("HAPROXY_DEPLOYMENT_GROUP");
  if (g == app.labels.end() || g->second.empty()) {
    return std::string();
  }
  std::string group = g->second;
  if (group.front() == '/') {
    group.erase(0, 1);
  }
  if (group.empty() || !isSafeValue(group) || group.find_first_of(" /#") != std::string::npos) {
    return std::nullopt;
  }
  return group;
}

// Merges `cur`, the next app of `group`, into `prev` (the group so far).
void mergeInto(PreparedApp& prev, const MarathonApp& cur, const std::string& group,
               std::vector<Quarantined>& quarantined) {
  auto startedAt = [](const MarathonApp& a) {
    auto l = a.labels.find("HAPROXY_DEPLOYMENT_STARTED_AT");
    return l == a.labels.end() ? std::string() : l->second;
  };
  const MarathonApp* old_app = &prev.app();
  const MarathonApp* new_app = &cur;
  if (!(startedAt(prev.app()) < startedAt(cur))) {
    std::swap(old_app, new_app);
  }
  if (new_app->labels.count("HAPROXY_DEPLOYMENT_NEW_INSTANCES") &&
      old_app->last_scaling_at > new_app->last_scaling_at) {
    std::swap(old_app, new_app);
  }
  auto target_label = new_app->labels.find("HAPROXY_DEPLOYMENT_TARGET_INSTANCES");
  std::optional<int> target;
  if (target_label != new_app->labels.end()) {
    target = parseInt(target_label->second, 0, 1000000);
  }
  MarathonApp merged = *old_app;
  const MarathonApp newer = *new_app;
  merged.id = "/" + group;
  std::set<std::string> draining = prev.draining_tasks;
  if (!target) {
    quarantined.push_back({"/" + group, -1,
                           "label HAPROXY_DEPLOYMENT_TARGET_INSTANCES: missing or not an "
                           "integer on the new app of the deployment group"});
  } else {
    std::vector<const MarathonTask*> old_tasks;
    for (const auto& t : merged.tasks) {
      old_tasks.push_back(&t);
    }
    std::sort(old_tasks.begin(), old_tasks.end(),
              [](const MarathonTask* a, const MarathonTask* b) { return a->id < b->id; });
    int healthy_new = 0;
    if (!cur.health_checks.empty()) {
      for (const auto& t : newer.tasks) {
        if (t.health_results > 0 && t.any_alive) {
          ++healthy_new;
        }
      }
    } else {
      healthy_new = newer.instances;
    }
    // In 64 bits: Marathon's instance counts go up to 2^31 - 1 each, and their
    // sum overflows int.
    const int64_t drainable =
        std::max<int64_t>(0, int64_t{healthy_new} + int64_t{merged.instances} - int64_t{*target});
    const int64_t n = std::min<int64_t>(
        {static_cast<int64_t>(old_tasks.size()), int64_t{healthy_new}, drainable});
    for (int64_t i = 0; i < n; ++i) {
      draining.insert(old_tasks[static_cast<size_t>(i)]->id);
    }
  }
  merged.tasks.insert(merged.tasks.end(), newer.tasks.begin(), newer.tasks.end());
  prev.merged = std::make_shared<MarathonApp>(std::move(merged));
  prev.draining_tasks = std::move(draining);
}

// One deployment group, merged from its apps (in the answer's order).
BuildMemo::MergedGroup mergeGroup(const std::string& group,
                                  const std::vector<const MarathonApp*>& members) {
  BuildMemo::MergedGroup out;
  PreparedApp p{members.front(), std::make_shared<MarathonApp>(*members.front()), {}};
  p.merged->id = "/" + group;
  for (size_t i = 1; i < members.size(); ++i) {
    mergeInto(p, *members[i], group, out.quarantined);
  }
  out.merged = std::move(p.merged);
  out.draining_tasks = std::move(p.draining_tasks);
  return out;
}

// Blue/green (HAPROXY_DEPLOYMENT_GROUP): apps of one group merge into one app named
// /<group> with the older app's definition and both task sets; some old tasks drain.
// With a memo, a group whose apps have the same revisions as at the last build is
// not merged again (the same merged app, so its build is reused too).
std::vector<PreparedApp> mergeDeploymentGroups(const std::vector<MarathonApp>& apps,
                                               std::vector<Quarantined>& quarantined,
                                               BuildMemo* memo) {
  std::vector<PreparedApp> out;
  std::map<std::string, size_t> by_group;  // group -> index in `groups`
  std::vector<std::pair<size_t, std::vector<const MarathonApp*>>> groups;  // out index, apps
  for (const auto& app : apps) {
    const std::optional<std::string> group = deploymentGroup(app);
    if (!group) {
      quarantined.push_back({app.id, -1, "label HAPROXY_DEPLOYMENT_GROUP: not a group name"});
      continue;
    }
    if (group->empty()) {
      out.push_back({&app, nullptr, {}});
      continue;
    }
    auto [it, added] = by_group.try_emplace(*group, groups.size());
    if (added) {
      groups.push_back({out.size(), {}});
      out.push_back({&app, nullptr, {}});
    }
    groups[it->second].second.push_back(&app);
  }
  for (const auto& [group, index] : by_group) {
    const auto& [at, members] = groups[index];
    std::string signature;
    for (const MarathonApp* m : members) {
      signature.append(m->id).append(1, '\0').append(std::to_string(m->revision)).append(1, ' ');
    }
    const bool memoizable =
        memo != nullptr && std::all_of(members.begin(), members.end(),
                                       [](const MarathonApp* m) { return m->revision != 0; });
    const BuildMemo::MergedGroup* merged = memoizable ? memo->findGroup(group, signature) : nullptr;
    BuildMemo::MergedGroup fresh;
    if (merged == nullptr) {
      fresh = mergeGroup(group, members);
      // A merged app is a new app: a revision of its own when memoized, none otherwise.
      fresh.merged->revision = memoizable ? memo->freshRevision() : 0;
      merged = memoizable ? memo->storeGroup(group, signature, std::move(fresh)) : &fresh;
    }
    out[at].merged = merged->merged;
    out[at].draining_tasks = merged->draining_tasks;
    quarantined.insert(quarantined.end(), merged->quarantined.begin(), merged->quarantined.end());
  }
  return out;
}

void assignServerIds(std::vector<Server>& servers) {
  // A backend has a handful of servers: a linear scan is fastest, and up to 32 ids
  // need no allocation.
  std::array<int, 32> small{};
  std::vector<int> large;
  int* used = small.data();
  if (servers.size() > small.size()) {
    large.resize(servers.size());
    used = large.data();
  }
  size_t count = 0;
  std::string key;  // only built on a collision
  for (auto& s : servers) {
    std::string_view current = s.name;
    while (true) {
      const int id = static_cast<int>(common::sha256Modulo(current, 32767));
      if (id != 0 && std::find(used, used + count, id) == used + count) {
        s.id = id;
        used[count++] = id;
        break;
      }
      // marathon-lb's collision rule: retry with "<name> <sha256 of the last key>".
      const std::string hash = common::sha256Hex(current);
      key = std::string(current) + " " + hash;
      current = key;
    }
  }
}

// The options every app's build depends on, as one string (for BuildMemo).
std::string optionsFingerprint(const BuildOptions& o) {
  std::string out = std::to_string(o.health_check) + std::to_string(o.strict_mode) + " " +
                    std::to_string(o.min_serv_port_ip_per_task) + " " +
                    std::to_string(o.max_serv_port_ip_per_task) + " " + o.framework_name;
  for (const auto& g : o.groups) {
    out += '\x1f' + g;
  }
  return out;
}

// Whether an app's build depends on nothing but the app: no host name to resolve.
bool memoizable(const MarathonApp& app) {
  return std::all_of(app.tasks.begin(), app.tasks.end(),
                     [](const MarathonTask& t) { return t.host.empty() || isIpLiteral(t.host); });
}

// The answers of options.unknown_health for the app's tasks that have no health
// results (they decide whether those tasks are routed).
std::string unknownHealthKey(const MarathonApp& app, const BuildOptions& options) {
  std::string key;
  if (!options.health_check || app.health_checks.empty() || !options.unknown_health) {
    return key;
  }
  for (const auto& t : app.tasks) {
    if (t.health_results == 0) {
      const std::optional<bool> known = options.unknown_health(t.id);
      key.push_back(!known ? 'u' : *known ? '1' : '0');
    }
  }
  return key;
}

// A task the app's services route to, with its address.
struct SelectedTask {
  const MarathonTask* task;
  std::string ip;
  const std::vector<int>* ports;
  bool unproven = false;
};

// marathon-lb's task selection, shared by every port of the app: running, with a
// host, healthy when --health-check asks, with an address that can be routed.
// `task_port_defaults` (the app's ports, for tasks without their own) must outlive
// the result, which points into it.
std::vector<SelectedTask> selectTasks(const MarathonApp& app, NetMode mode, size_t port_count,
                                      const BuildOptions& options,
                                      const AppPorts& task_port_defaults, AppBuild& out) {
  std::vector<SelectedTask> selected;
  for (const auto& task : app.tasks) {
    if (task.host.empty() || droppedState(task.state)) {
      continue;
    }
    if (options.health_check && !app.health_checks.empty()) {
      bool alive = task.any_alive;
      if (task.health_results == 0) {
        std::optional<bool> known;
        if (options.unknown_health) {
          known = options.unknown_health(task.id);
        }
        alive = known.value_or(false);
      }
      if (!alive) {
        continue;
      }
    }
    auto address = routableAddress(task, mode, task_port_defaults, options, port_count);
    if (!address) {
      out.skipped_tasks.push_back({app.id, task.id, address.error().message});
      continue;
    }
    const bool unproven = !app.health_checks.empty() && !task.any_alive;
    selected.push_back({&task, std::move(address->ip), address->ports, unproven});
  }
  return selected;
}

// The service of port `n` from its labels; "" or the reason it is quarantined.
std::string configureService(const MarathonApp& app, int n,
                             const std::vector<std::string>& app_groups, Service& s) {
  s.health_check = healthCheckFor(app, n);
  if (s.health_check && s.health_check->protocol == "HTTP") {
    s.mode = "http";
  }
  const std::string prefix = "HAPROXY_" + std::to_string(n) + "_";
  for (auto it = app.labels.lower_bound(prefix);
       it != app.labels.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
    common::Status st =
        applyPortLabel(std::string_view(it->first).substr(prefix.size()), it->second, s);
    if (!st) {
      return st.error().message;
    }
  }
  if (s.groups.empty()) {
    s.groups = app_groups;
  }
  if (!s.health_check && s.healthcheck_port_index) {
    s.health_check = healthCheckFor(app, *s.healthcheck_port_index);
    if (s.health_check) {
      const std::string& p = s.health_check->protocol;
      if (p == "HTTP" || p == "HTTPS" || p == "MESOS_HTTP" || p == "MESOS_HTTPS") {
        s.mode = "http";
      }
    }
  }
  if (s.mode.empty()) {
    s.mode = s.hostname.empty() ? "tcp" : "http";
  }
  if (std::string problem = portProblem(s); !problem.empty()) {
    return problem;
  }
  return "";
}

// A proxy-pass path without a vhost: marathon-lb served the port with the path
// rewrite and a Host header of "None"; mlb serves it without the Host rewrite (the
// renderer leaves the empty `set-header Host` out) and says so.
std::optional<AppWarning> proxyPassWarning(const Service& s) {
  if (s.mode != "http" || s.proxypath.empty() || !s.hostname.empty() ||
      s.template_overrides.count("HTTP_BACKEND_PROXYPASS_GLUE")) {
    return std::nullopt;  // (an app's own glue says itself what it does with Host)
  }
  const std::string prefix = "HAPROXY_" + std::to_string(s.port_index) + "_";
  return AppWarning{s.app_id, s.port_index, kWarnProxyPassWithoutVhost,
                    "label " + prefix + "HTTP_BACKEND_PROXYPASS_PATH without " + prefix +
                        "VHOST: the path is rewritten, the Host header is left as the client "
                        "sent it (marathon-lb set it to \"None\")"};
}

// The servers of port `i` of the service: one per selected task with that port,
// sorted, duplicates removed, ids assigned as marathon-lb does.
void addServers(const PreparedApp& prepared, const std::vector<SelectedTask>& selected, size_t i,
                Service& s) {
  s.servers.reserve(selected.size());
  for (const auto& sel : selected) {
    if (i >= sel.ports->size()) {
      continue;
    }
    Server& srv = s.servers.emplace_back();
    srv.host = sel.task->host;
    srv.ip = sel.ip;
    srv.port = (*sel.ports)[i];
    srv.task_id = sel.task->id;
    srv.draining =
        !prepared.draining_tasks.empty() && prepared.draining_tasks.count(sel.task->id) > 0;
    srv.unproven = sel.unproven && s.health_check.has_value();
    if (s.health_check && !s.healthcheck_port_index && s.health_check->port &&
        *s.health_check->port != 0) {
      srv.check_port = s.health_check->port;
    }
    char port_text[16];
    const auto port_end = std::to_chars(port_text, port_text + sizeof port_text, srv.port).ptr;
    const std::string_view port_view(port_text, static_cast<size_t>(port_end - port_text));
    const bool same = srv.host == srv.ip;
    srv.name.reserve((same ? 0 : srv.host.size() + 1) + srv.ip.size() + 1 + port_view.size());
    if (!same) {
      srv.name.append(srv.host).push_back('_');
    }
    srv.name.append(srv.ip).push_back('_');
    srv.name.append(port_view);
    sanitizeNameInPlace(srv.name);
  }
  common::sortByPermutation(s.servers, [](const Server& a, const Server& b) {
    return std::tie(a.host, a.port, a.ip, a.task_id) < std::tie(b.host, b.port, b.ip, b.task_id);
  });
  // Two tasks with the same address would give two identical server lines.
  s.servers.erase(std::unique(s.servers.begin(), s.servers.end(),
                              [](const Server& a, const Server& b) {
                                return a.ip == b.ip && a.port == b.port && a.host == b.host;
                              }),
                  s.servers.end());
  assignServerIds(s.servers);
  if (s.sticky) {
    for (auto& srv : s.servers) {
      srv.cookie = common::sha1Hex(srv.name).substr(0, 10);
    }
  }
}

// HAPROXY_{n}_BACKEND_HEALTHCHECK_PORT_INDEX: the k-th server (in server order) is
// checked on the port of the k-th server of the app's service at that index
// (services in service-port order), as marathon-lb's get_backend_port() does.
void applyHealthcheckPortIndex(std::vector<std::pair<Service, bool>>& built) {
  const bool any_port_index = std::any_of(built.begin(), built.end(), [](const auto& b) {
    return b.first.health_check && b.first.healthcheck_port_index;
  });
  if (!any_port_index) {
    return;
  }
  std::vector<const Service*> by_port;
  for (const auto& [svc, routed] : built) {
    by_port.push_back(&svc);
  }
  std::stable_sort(by_port.begin(), by_port.end(), [](const Service* x, const Service* y) {
    return x->service_port < y->service_port;
  });
  for (auto& [svc, routed] : built) {
    if (!svc.health_check || !svc.healthcheck_port_index) {
      continue;
    }
    const size_t hpi = static_cast<size_t>(*svc.healthcheck_port_index);
    const Service* other = hpi < by_port.size() ? by_port[hpi] : &svc;
    for (size_t k = 0; k < svc.servers.size(); ++k) {
      if (k < other->servers.size()) {
        svc.servers[k].check_port = other->servers[k].port;
      }
    }
  }
}

// Everything one app contributes: its routed services, its quarantined ports, its
// skipped tasks. Depends on nothing but its arguments.
void buildApp(const PreparedApp& prepared, NetMode mode,
              const std::vector<std::optional<int>>& ports, const BuildOptions& options,
              AppBuild& out) {
  const MarathonApp& app = prepared.app();
  if (!options.framework_name.empty() && app.id == "/" + options.framework_name) {
    return;
  }
  std::vector<std::string> app_groups;
  if (auto g = app.labels.find("HAPROXY_GROUP"); g != app.labels.end()) {
    if (!isSafeValue(g->second)) {
      out.quarantined.push_back(
          {app.id, -1, "label HAPROXY_GROUP: value contains a control character"});
      return;
    }
    app_groups = common::splitExact(g->second, ',');
  }
  AppPorts task_port_defaults;
  appPorts(app, mode, task_port_defaults);
  const std::vector<SelectedTask> selected =
      selectTasks(app, mode, ports.size(), options, task_port_defaults, out);
  std::vector<std::pair<Service, bool>> built;  // every port of the app; bool = routed
  for (size_t i = 0; i < ports.size(); ++i) {
    const int n = static_cast<int>(i);
    if (!ports[i]) {
      out.quarantined.push_back({app.id, n, "service ports are exhausted (IP-per-task range)"});
      continue;
    }
    Service s;
    s.app_id = app.id;
    s.port_index = n;
    s.service_port = *ports[i];
    if (std::string error = configureService(app, n, app_groups, s); !error.empty()) {
      out.quarantined.push_back({app.id, n, std::move(error)});
      continue;
    }
    const bool routed =
        hasGroup(options.groups, s.groups) && s.enabled.value_or(!options.strict_mode);
    s.backend.assign(app.id, 1);
    std::replace(s.backend.begin(), s.backend.end(), '/', '_');
    s.backend.push_back('_');
    s.backend.append(std::to_string(s.service_port));
    addServers(prepared, selected, i, s);
    built.emplace_back(std::move(s), routed);
  }
  applyHealthcheckPortIndex(built);
  for (auto& [svc, routed] : built) {
    if (routed && !svc.servers.empty()) {
      if (auto w = proxyPassWarning(svc)) {  // only for what this LB serves
        out.warnings.push_back(std::move(*w));
      }
      out.services.push_back(std::move(svc));
    }
  }
}

// buildApp through options.memo: an app whose input is the same as at the last build
// (same revision of the parsed app, same mode and service ports, same answers for its
// tasks of unknown health) gets a copy of that build.
void buildAppCached(const PreparedApp& prepared, NetMode mode,
                    const std::vector<std::optional<int>>& ports, const BuildOptions& options,
                    ServiceModel& model) {
  auto append = [&model](const AppBuild& b) {
    model.services.insert(model.services.end(), b.services.begin(), b.services.end());
    model.quarantined.insert(model.quarantined.end(), b.quarantined.begin(), b.quarantined.end());
    model.skipped_tasks.insert(model.skipped_tasks.end(), b.skipped_tasks.begin(),
                               b.skipped_tasks.end());
    model.warnings.insert(model.warnings.end(), b.warnings.begin(), b.warnings.end());
  };
  BuildMemo* memo = options.memo;
  const MarathonApp& app = prepared.app();
  if (memo == nullptr || app.revision == 0) {
    AppBuild b;
    buildApp(prepared, mode, ports, options, b);
    append(b);
    return;
  }
  std::string unknown_health = unknownHealthKey(app, options);
  if (const AppBuild* hit =
          memo->find(app.id, app.revision, static_cast<int>(mode), ports, unknown_health)) {
    append(*hit);  // stored: memoizable, and the same revision has the same hosts
    return;
  }
  AppBuild b;
  buildApp(prepared, mode, ports, options, b);
  append(b);
  if (memoizable(app)) {
    memo->store(
        app.id,
        BuildMemo::Key{app.revision, static_cast<int>(mode), ports, std::move(unknown_health)},
        std::move(b));
  }
}
}  // namespace

const AppBuild* BuildMemo::find(const std::string& app_id, uint64_t revision, int mode,
                                const std::vector<std::optional<int>>& ports,
                                const std::string& unknown_health) {
  auto it = entries_.find(app_id);
  if (it == entries_.end()) {
    return nullptr;
  }
  const Key& key = it->second.key;
  if (key.revision != revision || key.mode != mode || key.ports != ports ||
      key.unknown_health != unknown_health) {
    return nullptr;
  }
  it->second.used = true;
  ++hits_;
  return &it->second.build;
}

void BuildMemo::store(const std::string& app_id, Key key, AppBuild build) {
  entries_.insert_or_assign(app_id, Entry{std::move(key), std::move(build), true});
}

bool BuildMemo::useOptions(const std::string& fingerprint) {
  if (fingerprint == options_) {
    return true;
  }
  entries_.clear();
  groups_.clear();
  last_.reset();
  options_ = fingerprint;
  return false;
}

const BuildMemo::MergedGroup* BuildMemo::findGroup(const std::string& group,
                                                   const std::string& signature) {
  auto it = groups_.find(group);
  if (it == groups_.end() || it->second.signature != signature) {
    return nullptr;
  }
  it->second.used = true;
  return &it->second.merged;
}

const BuildMemo::MergedGroup* BuildMemo::storeGroup(const std::string& group, std::string signature,
                                                    MergedGroup merged) {
  auto& e = groups_[group];
  e = GroupEntry{std::move(signature), std::move(merged), true};
  return &e.merged;
}

namespace {

// Erases the entries not used since the last sweep and clears the mark of the others.
template <class Map>
void sweepUnused(Map& entries) {
  for (auto it = entries.begin(); it != entries.end();) {
    if (!it->second.used) {
      it = entries.erase(it);
      continue;
    }
    it->second.used = false;
    ++it;
  }
}

}  // namespace

void BuildMemo::sweep() {
  sweepUnused(entries_);
  sweepUnused(groups_);
}

namespace {

bool quarantinedLess(const Quarantined& a, const Quarantined& b) {
  return std::tie(a.app_id, a.port_index, a.reason) < std::tie(b.app_id, b.port_index, b.reason);
}
bool warningLess(const AppWarning& a, const AppWarning& b) {
  return std::tie(a.app_id, a.port_index, a.kind) < std::tie(b.app_id, b.port_index, b.kind);
}
bool skippedLess(const SkippedTask& a, const SkippedTask& b) {
  return std::tie(a.app_id, a.task_id, a.reason) < std::tie(b.app_id, b.task_id, b.reason);
}
bool serviceLess(const Service& a, const Service& b) {
  return std::tie(a.app_id, a.service_port, a.port_index) <
         std::tie(b.app_id, b.service_port, b.port_index);
}

// The model's lists other than the services, in their order.
void sortEntries(ServiceModel& model) {
  std::sort(model.quarantined.begin(), model.quarantined.end(), quarantinedLess);
  std::sort(model.warnings.begin(), model.warnings.end(), warningLess);
  std::sort(model.skipped_tasks.begin(), model.skipped_tasks.end(), skippedLess);
}

// Two services may not claim the same backend name (two ports of one app, or /a/b
// and /a_b on one service port); the first in id order keeps it, the others are
// quarantined. Returns how many were.
size_t dropDuplicateBackends(ServiceModel& model) {
  size_t kept = 0, dropped = 0;
  std::unordered_map<std::string_view, size_t> owner;  // backend -> index among kept
  owner.reserve(model.services.size());
  for (size_t i = 0; i < model.services.size(); ++i) {
    const Service& s = model.services[i];
    if (auto it = owner.find(s.backend); it != owner.end()) {
      const Service& first = model.services[it->second];
      model.quarantined.push_back({s.app_id, s.port_index,
                                   "backend " + s.backend + " is already defined by " +
                                       first.app_id + " port " + std::to_string(first.port_index)});
      ++dropped;
      continue;
    }
    if (kept != i) {
      model.services[kept] = std::move(model.services[i]);
    }
    owner.emplace(model.services[kept]->backend, kept);
    ++kept;
  }
  model.services.erase(model.services.begin() + static_cast<std::ptrdiff_t>(kept),
                       model.services.end());
  return dropped;
}

// What a whole build tells the next one, besides its model.
struct WholeBuildNotes {
  size_t conflicts = 0;                                    // backend names claimed twice
  std::vector<std::shared_ptr<const MarathonApp>> merged;  // the deployment groups' apps
};

// Every app built (or found in the memo), the services sorted and checked for
// backend names claimed twice.
ServiceModel buildWhole(const std::vector<MarathonApp>& input, const BuildOptions& options,
                        WholeBuildNotes& notes) {
  ServiceModel model;
  std::vector<PreparedApp> apps = mergeDeploymentGroups(input, model.quarantined, options.memo);
  for (const PreparedApp& p : apps) {
    if (p.merged) {
      notes.merged.push_back(p.merged);
    }
  }
  // (Marathon's answer is usually in id order already: one comparison per app then.)
  const auto by_id = [](const PreparedApp& a, const PreparedApp& b) {
    return a.app().id < b.app().id;
  };
  if (!std::is_sorted(apps.begin(), apps.end(), by_id)) {
    std::stable_sort(apps.begin(), apps.end(), by_id);
  }
  PortAssigner assigner(options.min_serv_port_ip_per_task, options.max_serv_port_ip_per_task);
  // Service ports first, in Marathon's answer order (auto-assignment depends on it).
  std::vector<std::vector<std::optional<int>>> app_ports(apps.size());
  std::vector<NetMode> app_modes(apps.size(), NetMode::Host);
  {
    std::vector<size_t> order(apps.size());
    for (size_t i = 0; i < order.size(); ++i) {
      order[i] = i;
    }
    const auto in_answer_order = [&](size_t x, size_t y) {
      return apps[x].app().answer_index < apps[y].app().answer_index;
    };
    if (!std::is_sorted(order.begin(), order.end(), in_answer_order)) {
      std::stable_sort(order.begin(), order.end(), in_answer_order);
    }
    for (size_t i : order) {
      app_modes[i] = networkingMode(apps[i].app());
      app_ports[i] = servicePorts(apps[i].app(), app_modes[i], assigner, options);
    }
  }

  size_t port_count = 0;
  for (const auto& p : app_ports) {
    port_count += p.size();
  }
  model.services.reserve(port_count);
  for (size_t app_i = 0; app_i < apps.size(); ++app_i) {
    buildAppCached(apps[app_i], app_modes[app_i], app_ports[app_i], options, model);
  }
  if (options.memo != nullptr) {
    options.memo->sweep();
  }
  // Apps were visited in id order, so this is nearly sorted already: a Service is
  // large (~800 bytes), so sort positions and move each service once.
  common::sortByPermutation(model.services, serviceLess);
  notes.conflicts = dropDuplicateBackends(model);
  sortEntries(model);
  return model;
}

// An event's build: the last model with the services of the apps that changed since
// built again and put in place of theirs. Only for apps whose services depend on
// nothing but themselves: no deployment group (a merge reads other apps), no service
// port from the IP-per-task assigner (it hands ports out in answer order), no host
// name to resolve, the same backend names as before (nothing else can have claimed
// them: the last model had no conflict). Anything else: the whole build.
constexpr size_t kMaxPatchedApps = 64;

bool assignsPorts(const MarathonApp& app, NetMode mode, const BuildOptions& options) {
  if (mode != NetMode::Container ||
      !PortAssigner(options.min_serv_port_ip_per_task, options.max_serv_port_ip_per_task)
           .enabled()) {
    return false;
  }
  PortAssigner none(0, -1);
  return servicePorts(app, mode, none, options).empty();
}

// In no deployment group (`group`: its deploymentGroup()) and taking no service port
// from the assigner. (Revisions and host names are checked apart.)
bool standsAlone(const MarathonApp& app, const std::optional<std::string>& group,
                 const BuildOptions& options) {
  return group && group->empty() && !assignsPorts(app, networkingMode(app), options);
}

bool patchableApp(const MarathonApp& app, const BuildOptions& options) {
  return app.revision != 0 && memoizable(app) && standsAlone(app, deploymentGroup(app), options);
}

// The run of `app_id`'s elements in [first, last), sorted by app id first (`id_of`).
template <class It, class IdOf>
std::pair<It, It> appRange(It first, It last, const std::string& app_id, IdOf id_of) {
  const It b = std::partition_point(first, last, [&](const auto& x) { return id_of(x) < app_id; });
  const It e = std::partition_point(b, last, [&](const auto& x) { return id_of(x) == app_id; });
  return {b, e};
}

// The entries of `app_id` in `all` (sorted, app id first) replaced by `part` (sorted).
template <class T, class Less>
void replaceEntries(std::vector<T>& all, const std::string& app_id, std::vector<T> part,
                    Less less) {
  std::sort(part.begin(), part.end(), less);
  auto [b, e] = appRange(all.begin(), all.end(), app_id,
                         [](const T& x) -> const std::string& { return x.app_id; });
  const auto at = all.erase(b, e);
  all.insert(at, std::make_move_iterator(part.begin()), std::make_move_iterator(part.end()));
}

// The app's services built again into `model`; false when they would not take the
// places of its old ones (other backend names, another count).
bool replaceApp(const MarathonApp& app, const BuildOptions& options, ServiceModel& model) {
  const NetMode mode = networkingMode(app);
  PortAssigner none(0, -1);
  ServiceModel part;
  buildAppCached(PreparedApp{&app, nullptr, {}}, mode, servicePorts(app, mode, none, options),
                 options, part);
  std::sort(part.services.begin(), part.services.end(),
            [](const ServiceRef& a, const ServiceRef& b) { return serviceLess(*a, *b); });
  auto [b, e] = appRange(model.services.begin(), model.services.end(), app.id,
                         [](const ServiceRef& x) -> const std::string& { return x->app_id; });
  if (static_cast<size_t>(e - b) != part.services.size()) {
    return false;
  }
  for (size_t k = 0; k < part.services.size(); ++k) {
    if (b[static_cast<std::ptrdiff_t>(k)]->backend != part.services[k]->backend) {
      return false;
    }
  }
  std::move(part.services.begin(), part.services.end(), b);
  replaceEntries(model.quarantined, app.id, std::move(part.quarantined), quarantinedLess);
  replaceEntries(model.warnings, app.id, std::move(part.warnings), warningLess);
  replaceEntries(model.skipped_tasks, app.id, std::move(part.skipped_tasks), skippedLess);
  return true;
}

// The inputs whose build may differ from the last one's: a new revision, or new
// answers for their tasks of unknown health. Nullopt: too many, or not the same apps.
std::optional<std::vector<size_t>> changedInputs(const std::vector<MarathonApp>& input,
                                                 const BuildMemo::LastBuild& last,
                                                 const BuildOptions& options) {
  if (input.size() != last.ids.size()) {
    return std::nullopt;
  }
  std::vector<size_t> changed;
  for (size_t i = 0; i < input.size(); ++i) {
    if (input[i].revision != last.revisions[i]) {
      changed.push_back(i);
    }
  }
  for (const auto& [i, key] : last.health_keys) {
    if (input[i].revision == last.revisions[i] && unknownHealthKey(input[i], options) != key) {
      changed.push_back(i);
    }
  }
  for (const auto& [merged, key] : last.merged_health_keys) {
    if (unknownHealthKey(*merged, options) != key) {
      return std::nullopt;  // (a group is never patched in)
    }
  }
  if (changed.size() > kMaxPatchedApps) {
    return std::nullopt;
  }
  for (size_t i : changed) {
    if (!last.patchable[i] || input[i].id != last.ids[i] || !patchableApp(input[i], options)) {
      return std::nullopt;
    }
  }
  return changed;
}

std::optional<ServiceModel> patchBuild(const std::vector<MarathonApp>& input,
                                       const BuildOptions& options) {
  std::optional<BuildMemo::LastBuild>& last = options.memo->lastBuild();
  if (!last) {
    return std::nullopt;
  }
  const std::optional<std::vector<size_t>> changed = changedInputs(input, *last, options);
  if (!changed) {
    return std::nullopt;
  }
  // Patched in place (one copy of the model per build, the one returned); a failure
  // leaves nothing to patch: the whole build that follows remembers afresh.
  for (size_t i : *changed) {
    if (!replaceApp(input[i], options, last->model)) {
      last.reset();
      return std::nullopt;
    }
  }
  for (size_t i : *changed) {
    last->revisions[i] = input[i].revision;
    last->health_keys.erase(i);
    if (std::string key = unknownHealthKey(input[i], options); !key.empty()) {
      last->health_keys.emplace(i, std::move(key));
    }
  }
  options.memo->countPatch();
  return last->model;
}

// What the next build patches, when it can: unset when an app must be built at every
// build (no revision, a host name), when a backend name was claimed twice, or when a
// merged deployment group has the id of another app.
void rememberWhole(const std::vector<MarathonApp>& input, const ServiceModel& model,
                   const WholeBuildNotes& notes, const BuildOptions& options) {
  std::optional<BuildMemo::LastBuild>& last = options.memo->lastBuild();
  last.reset();
  BuildMemo::LastBuild out;
  std::unordered_set<std::string_view> ids;
  std::vector<std::string> merged_ids;  // "/<group>" of each deployment group's app
  for (size_t i = 0; i < input.size(); ++i) {
    const MarathonApp& app = input[i];
    if (app.revision == 0 || !memoizable(app)) {
      return;
    }
    const std::optional<std::string> group = deploymentGroup(app);
    out.ids.push_back(app.id);
    out.revisions.push_back(app.revision);
    out.patchable.push_back(standsAlone(app, group, options));
    if (std::string key = unknownHealthKey(app, options); !key.empty()) {
      out.health_keys.emplace(i, std::move(key));
    }
    if (group && !group->empty()) {
      merged_ids.push_back("/" + *group);
    }
    ids.insert(app.id);
  }
  for (const std::string& id : merged_ids) {
    if (ids.count(id)) {
      return;
    }
  }
  if (notes.conflicts > 0) {
    return;
  }
  // A merged app's tasks come from several apps, under the first one's health checks.
  for (const auto& merged : notes.merged) {
    if (std::string key = unknownHealthKey(*merged, options); !key.empty()) {
      out.merged_health_keys.emplace_back(merged, std::move(key));
    }
  }
  out.model = model;
  last = std::move(out);
}

}  // namespace

ServiceModel buildServices(const std::vector<MarathonApp>& input, const BuildOptions& options) {
  if (options.memo != nullptr && options.memo->useOptions(optionsFingerprint(options))) {
    if (std::optional<ServiceModel> patched = patchBuild(input, options)) {
      return std::move(*patched);
    }
  }
  WholeBuildNotes notes;
  ServiceModel model = buildWhole(input, options, notes);
  if (options.memo != nullptr) {
    rememberWhole(input, model, notes, options);
  }
  return model;
}

}  // namespace mlb::controller
