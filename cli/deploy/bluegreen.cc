#include "cli/deploy/bluegreen.h"

#include <algorithm>
#include <charconv>
#include <climits>

#include "controller/model/labels.h"

namespace mlb::cli::deploy {
namespace {

using common::Error;

std::optional<int> toPort(const std::string& text) {
  int v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < 1 || v > 65535) {
    return std::nullopt;
  }
  return v;
}

// The array holding the first service port, and the key it is under.
std::pair<Json*, const char*> portSlot(Json& app) {
  auto has = [](Json& j, const char* k) {
    return j.is_object() && j.contains(k) && j[k].is_array();
  };
  if (has(app, "portDefinitions") && !app["portDefinitions"].empty()) {
    return {&app["portDefinitions"], "port"};
  }
  if (app.contains("container") && app["container"].is_object()) {
    Json& c = app["container"];
    if (has(c, "portMappings") && !c["portMappings"].empty()) {
      return {&c["portMappings"], "servicePort"};
    }
    if (c.contains("docker") && has(c["docker"], "portMappings") &&
        !c["docker"]["portMappings"].empty()) {
      return {&c["docker"]["portMappings"], "servicePort"};
    }
  }
  if (has(app, "ports") && !app["ports"].empty()) {
    return {&app["ports"], nullptr};
  }
  return {nullptr, nullptr};
}

// Fields of one CSV line, empty ones kept (HAProxy's stats CSV quotes nothing).
std::vector<std::string> fields(std::string_view line) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t comma; (comma = line.find(',', start)) != std::string_view::npos; start = comma + 1) {
    out.emplace_back(line.substr(start, comma - start));
  }
  out.emplace_back(line.substr(start));
  return out;
}

std::string sanitized(std::string s) {
  controller::sanitizeNameInPlace(s);
  return s;
}

std::string firstIp(const Json& task) {
  if (task.contains("ipAddresses") && task["ipAddresses"].is_array()) {
    for (const auto& a : task["ipAddresses"]) {
      if (a.is_object() && a.contains("ipAddress") && a["ipAddress"].is_string()) {
        return a["ipAddress"].get<std::string>();
      }
    }
  }
  return "";
}

}  // namespace

std::string text(const Json& object, const char* key) {
  if (!object.is_object()) {
    return "";
  }
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

const Json& arrayAt(const Json& object, const char* key) {
  static const Json empty = Json::array();
  if (!object.is_object()) {
    return empty;
  }
  auto it = object.find(key);
  return it != object.end() && it->is_array() ? *it : empty;
}

bool isRunning(const Json& task) {
  return task.is_object() && (!task.contains("state") || text(task, "state") == "TASK_RUNNING");
}

int healthyTasks(const Json& app) {
  const bool checked = !arrayAt(app, "healthChecks").empty();
  int n = 0;
  for (const auto& t : arrayAt(app, "tasks")) {
    const Json& results = arrayAt(t, "healthCheckResults");
    const bool alive =
        !results.empty() && std::all_of(results.begin(), results.end(), [](const Json& r) {
          return r.is_object() && r.contains("alive") && r["alive"].is_boolean() &&
                 r["alive"].get<bool>();
        });
    n += isRunning(t) && (!checked || alive);
  }
  return n;
}

std::string label(const Json& app, const std::string& key) {
  if (!app.is_object() || !app.contains("labels") || !app["labels"].is_object()) {
    return "";
  }
  const Json& labels = app["labels"];
  auto it = labels.find(key);
  return it != labels.end() && it->is_string() ? it->get<std::string>() : "";
}

int instances(const Json& app) {
  if (app.is_object() && app.contains("instances") && app["instances"].is_number_integer()) {
    return static_cast<int>(std::clamp<int64_t>(app["instances"].get<int64_t>(), 0, INT_MAX));
  }
  return 0;
}

int servicePort(const Json& app) {
  Json copy = app;
  auto [slot, key] = portSlot(copy);
  if (slot == nullptr) {
    return -1;
  }
  const Json& first = (*slot)[0];
  const Json* v =
      key == nullptr ? &first : (first.is_object() && first.contains(key) ? &first[key] : nullptr);
  return v != nullptr && v->is_number_integer() ? v->get<int>() : -1;
}

void setServicePort(Json& app, int port) {
  auto [slot, key] = portSlot(app);
  if (slot == nullptr) {
    app["portDefinitions"] = Json::array({Json{{"port", port}}});
  } else if (key == nullptr) {
    (*slot)[0] = port;
  } else {
    (*slot)[0][key] = port;
  }
}

std::string groupOf(const Json& app) {
  std::string g = label(app, "HAPROXY_DEPLOYMENT_GROUP");
  if (!g.empty() && g.front() == '/') {
    g.erase(0, 1);
  }
  return g;
}

std::vector<Json> groupApps(const Json& apps_answer, const std::string& group) {
  std::vector<Json> out;
  if (!apps_answer.is_object() || !apps_answer.contains("apps") ||
      !apps_answer["apps"].is_array()) {
    return out;
  }
  for (const auto& app : apps_answer["apps"]) {
    if (groupOf(app) == group && !label(app, "HAPROXY_DEPLOYMENT_COLOUR").empty()) {
      out.push_back(app);
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const Json& a, const Json& b) {
    return label(a, "HAPROXY_DEPLOYMENT_STARTED_AT") < label(b, "HAPROXY_DEPLOYMENT_STARTED_AT");
  });
  return out;
}

common::Result<Json> planNewColour(Json app, const std::optional<Json>& previous,
                                   const PlanOptions& options) {
  if (!app.is_object() || !app.contains("id") || !app["id"].is_string() ||
      app["id"].get<std::string>().empty()) {
    return Error::invalidData("the app definition has no \"id\"");
  }
  if (!app.contains("labels") || !app["labels"].is_object()) {
    app["labels"] = Json::object();
  }
  if (groupOf(app).empty()) {
    return Error::invalidData("label HAPROXY_DEPLOYMENT_GROUP is missing");
  }
  const auto alt = toPort(label(app, "HAPROXY_DEPLOYMENT_ALT_PORT"));
  if (!alt) {
    return Error::invalidData("label HAPROXY_DEPLOYMENT_ALT_PORT is missing or not a port");
  }
  const int own = servicePort(app);
  if (own < 1 || own > 65535) {
    return Error::invalidData(
        "the app needs a fixed service port (portDefinitions[0].port or "
        "portMappings[0].servicePort): both colours are served on it");
  }
  std::string id = app["id"].get<std::string>();
  while (id.size() > 1 && id.back() == '/') {
    id.pop_back();
  }
  std::string colour = "blue";
  int port = own;
  int target = app.contains("instances") ? instances(app) : 1;
  Json& labels = app["labels"];
  if (previous) {
    colour = label(*previous, "HAPROXY_DEPLOYMENT_COLOUR") == "blue" ? "green" : "blue";
    const auto prev_home = toPort(label(*previous, "HAPROXY_0_PORT"));
    port = servicePort(*previous) == *alt ? prev_home.value_or(own) : *alt;
    target = instances(*previous);
    int first = std::min(options.initial_instances, target);
    if (options.new_instances > 0) {
      first = std::min(first, options.new_instances);
    }
    app["instances"] = std::max(first, 1);
  }
  labels["HAPROXY_DEPLOYMENT_NEW_INSTANCES"] = std::to_string(previous ? options.new_instances : 0);
  labels["HAPROXY_APP_ID"] = id;
  labels["HAPROXY_0_PORT"] = std::to_string(own);
  labels["HAPROXY_DEPLOYMENT_COLOUR"] = colour;
  labels["HAPROXY_DEPLOYMENT_STARTED_AT"] = options.started_at;
  labels["HAPROXY_DEPLOYMENT_TARGET_INSTANCES"] = std::to_string(target);
  setServicePort(app, port);
  app["id"] = (id.front() == '/' ? "" : "/") + id + "-" + colour;
  return app;
}

std::string backendName(const Json& app) {
  std::string name = groupOf(app);
  std::replace(name.begin(), name.end(), '/', '_');
  return name + "_" + label(app, "HAPROXY_0_PORT");
}

common::Result<std::vector<ServerStat>> parseStatsCsv(std::string_view csv,
                                                      const std::string& backend) {
  std::vector<ServerStat> out;
  std::vector<std::string> header;
  auto column = [&header](const char* name) {
    auto it = std::find(header.begin(), header.end(), name);
    return it == header.end() ? -1 : static_cast<int>(it - header.begin());
  };
  int status = -1, scur = -1, qcur = -1, addr = -1;
  for (size_t pos = 0; pos < csv.size();) {
    size_t eol = csv.find('\n', pos);
    eol = eol == std::string_view::npos ? csv.size() : eol;
    std::string_view line = csv.substr(pos, eol - pos);
    pos = eol + 1;
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    if (line.rfind("# ", 0) == 0) {
      header = fields(line.substr(2));
      status = column("status"), scur = column("scur"), qcur = column("qcur"),
      addr = column("addr");
      continue;
    }
    if (line.empty() || status < 0 || scur < 0 || qcur < 0) {
      continue;
    }
    auto f = fields(line);
    if (f.size() < header.size() || f[0] != backend || f[1] == "FRONTEND" || f[1] == "BACKEND") {
      continue;
    }
    ServerStat s{f[1], addr >= 0 ? f[static_cast<size_t>(addr)] : "",
                 f[static_cast<size_t>(status)], std::atol(f[static_cast<size_t>(scur)].c_str()),
                 std::atol(f[static_cast<size_t>(qcur)].c_str())};
    out.push_back(std::move(s));
  }
  if (status < 0) {
    return Error::invalidData("not HAProxy's stats CSV (no '# pxname,...' header)");
  }
  return out;
}

bool serverIsTask(const ServerStat& server, const Json& task) {
  const Json& ports = arrayAt(task, "ports");
  if (ports.empty() || !ports[0].is_number_integer()) {
    return false;
  }
  const std::string port = std::to_string(ports[0].get<int64_t>());
  const std::string host = text(task, "host");
  const std::string ip = firstIp(task);
  for (const std::string& name :
       {sanitized(host) + "_" + port, sanitized(host) + "_" + sanitized(ip) + "_" + port,
        sanitized(ip) + "_" + port}) {
    if (server.name == name) {
      return true;
    }
  }
  return !server.addr.empty() &&
         (server.addr == ip + ":" + port || server.addr == host + ":" + port);
}

namespace {

bool isMaint(const ServerStat& s) { return s.status.rfind("MAINT", 0) == 0; }
bool isUp(const ServerStat& s) { return s.status.rfind("UP", 0) == 0 || s.status == "no check"; }

}  // namespace

DrainView readDrain(const std::vector<std::vector<ServerStat>>& lbs, const Json& old_app,
                    const Json& new_app) {
  DrainView v;
  v.expected = instances(old_app) + instances(new_app);
  v.listed = lbs.empty() ? 0 : INT_MAX;
  v.up = v.listed;
  for (const auto& servers : lbs) {
    const int listed = static_cast<int>(servers.size());
    const int up = static_cast<int>(std::count_if(servers.begin(), servers.end(), isUp));
    const int maint = static_cast<int>(std::count_if(servers.begin(), servers.end(), isMaint));
    v.listed = std::min(v.listed, listed);
    v.up = std::min(v.up, up);
    v.maint = std::max(v.maint, maint);
    v.busy += static_cast<int>(std::count_if(servers.begin(), servers.end(), [](const auto& s) {
      return isMaint(s) && (s.scur > 0 || s.qcur > 0);
    }));
  }
  v.caught_up = !lbs.empty() && v.listed == v.expected;
  const Json no_tasks = Json::array();
  const Json& tasks =
      old_app.contains("tasks") && old_app["tasks"].is_array() ? old_app["tasks"] : no_tasks;
  for (const auto& task : tasks) {
    bool maint_all = !lbs.empty(), idle_all = !lbs.empty(), listed_any = false;
    for (const auto& servers : lbs) {
      auto it = std::find_if(servers.begin(), servers.end(),
                             [&](const ServerStat& s) { return serverIsTask(s, task); });
      listed_any = listed_any || it != servers.end();
      maint_all = maint_all && it != servers.end() && isMaint(*it);
      idle_all = idle_all && it != servers.end() && it->scur == 0 && it->qcur == 0;
    }
    v.old_listed += listed_any;
    if (maint_all) {
      v.maint_everywhere.push_back(text(task, "id"));
      if (idle_all) {
        v.drained.push_back(text(task, "id"));
      }
    }
  }
  return v;
}

int nextInstances(int current, int old_instances, int target, int linear, int cap) {
  int next = linear > 0 ? current + linear : current + (current + 1) / 2;
  if (next >= old_instances) {
    next = target;
  }
  next = std::min(next, target);
  if (cap > 0) {
    next = std::min(next, cap);
  }
  return std::max(next, current);
}

}  // namespace mlb::cli::deploy
