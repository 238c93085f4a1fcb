#include "cli/lint_command.h"

#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "cli/lint_collisions.h"
#include "cli/plain_http_get.h"
#include "common/flags.h"
#include "common/strings.h"
#include "controller/marathon/app_json.h"
#include "controller/model/labels.h"
#include "controller/render/config_renderer.h"
#include "controller/render/render_flags.h"
#include "controller/render/template_set.h"

namespace mlb::cli {
namespace {

using controller::MarathonApp;
using Level = LintFinding::Level;

const char* const kUsage =
    "usage: mlb lint [--group G]... [--strict-mode] [--marathon URL] [--templates-dir DIR]\n"
    "                [--state-dir DIR] [other mlb-controller rendering flags] FILE...\n"
    "  FILE: a Marathon app definition (JSON), a list of them, a group (its apps and\n"
    "  nested groups) or a /v2/apps answer; '-' reads stdin. Prints what each service\n"
    "  port becomes, errors (the labels mlb would quarantine; across all the apps\n"
    "  given: a service port, backend name, or vhost and path claimed twice) and\n"
    "  warnings (values read differently from how they look). --marathon URL (plain\n"
    "  http): the running apps are read too and the files' apps checked against them\n"
    "  (a file's definition replaces the running app of its id). --templates-dir DIR:\n"
    "  the controller's templates (HAPROXY_<NAME>[.mustache]) rendered with the apps: a\n"
    "  template that does not compile, or a HAPROXY_HEAD that conflicts with mlb's\n"
    "  stats socket (at --state-dir, default /run/mlb), is an error; give the flags the\n"
    "  controller runs with (--haproxy-map, --ssl-certs, ...). HAPROXY_<NAME>\n"
    "  environment templates are not read.\n"
    "  Exit status: 1 if an app has an error, 0 otherwise.\n";

// App-level labels mlb (and marathon-lb, or its deploy tool) reads.
const std::set<std::string> kAppLabels = {
    "HAPROXY_GROUP",
    "HAPROXY_DEPLOYMENT_GROUP",
    "HAPROXY_DEPLOYMENT_ALT_PORT",
    "HAPROXY_DEPLOYMENT_COLOUR",
    "HAPROXY_DEPLOYMENT_STARTED_AT",
    "HAPROXY_DEPLOYMENT_TARGET_INSTANCES",
    "HAPROXY_DEPLOYMENT_NEW_INSTANCES",
    "HAPROXY_APP_ID",
};

size_t servicePortCount(const MarathonApp& app) {
  return std::max({app.port_definitions.size(), app.port_mappings.size(),
                   app.docker_port_mappings.size(), app.legacy_ports.size(),
                   app.discovery_ports.size()});
}

// HAPROXY_{n}_<NAME> -> (n, NAME); nullopt for other keys.
std::optional<std::pair<int, std::string>> portLabel(const std::string& key) {
  constexpr std::string_view kPrefix = "HAPROXY_";
  if (key.rfind(kPrefix, 0) != 0) {
    return std::nullopt;
  }
  size_t i = kPrefix.size();
  size_t j = i;
  while (j < key.size() && j - i < 4 && std::isdigit(static_cast<unsigned char>(key[j]))) {
    ++j;
  }
  if (j == i || j >= key.size() || key[j] != '_') {
    return std::nullopt;
  }
  return std::make_pair(std::stoi(key.substr(i, j - i)), key.substr(j + 1));
}

bool plainBoolWord(const std::string& v) {
  static const std::set<std::string> kWords = {"true", "t", "yes", "y", "false", "f", "no", "n"};
  return kWords.count(common::toLower(v)) > 0;
}

void warnPortLabel(const MarathonApp& app, const std::string& key, int n, const std::string& name,
                   const std::string& value, std::vector<LintFinding>& out) {
  auto warn = [&](std::string text) { out.push_back({Level::Warning, app.id, std::move(text)}); };
  if (!controller::isKnownPortLabel(name)) {
    warn("label " + key + " is not one mlb or marathon-lb reads: ignored");
    return;
  }
  const size_t ports = servicePortCount(app);
  if (ports > 0 && static_cast<size_t>(n) >= ports) {
    warn("label " + key + ": the app has no service port " + std::to_string(n) + ": ignored");
  }
  if (controller::isBooleanPortLabel(name) && !plainBoolWord(value)) {
    warn("label " + key + "='" + value +
         "' is read as false (only true/t/yes/y mean true, as in marathon-lb)");
  }
  if (name == "VHOST" && !value.empty() &&
      (value.find_first_of(" \t") != std::string::npos || value.find(",,") != std::string::npos ||
       value.back() == ',' || value.front() == ',')) {
    warn("label " + key + ": blanks and empty entries around its names are dropped");
  }
}

// marathon-lb splits HAPROXY_GROUP on commas and keeps the blanks: "a, b" is the
// groups "a" and " b", and " b" matches no --group b. mlb does the same.
void warnGroups(const MarathonApp& app, const std::string& value, std::vector<LintFinding>& out) {
  for (const std::string& g : common::splitExact(value, ',')) {
    if (!g.empty() && (g.front() == ' ' || g.back() == ' ')) {
      out.push_back({Level::Warning, app.id,
                     "label HAPROXY_GROUP: the group '" + g +
                         "' keeps its blanks (as in marathon-lb) and matches no --group "
                         "without them"});
    }
  }
}

std::vector<LintFinding> labelWarnings(const MarathonApp& app) {
  std::vector<LintFinding> out;
  for (const auto& [key, value] : app.labels) {
    if (auto pl = portLabel(key)) {
      warnPortLabel(app, key, pl->first, pl->second, value, out);
    } else if (key.rfind("HAPROXY_", 0) == 0 && !kAppLabels.count(key)) {
      out.push_back({Level::Warning, app.id,
                     "label " + key + " is not one mlb or marathon-lb reads: ignored"});
    } else if (key == "HAPROXY_GROUP") {
      warnGroups(app, value, out);
    }
  }
  return out;
}

// A task to build the app's services with, when the definition has none.
// A definition as users write it: port 0 (portDefinitions[].port, servicePort) asks
// Marathon to assign a service port at deploy (10000 and up). Linted with stand-ins
// from the top of that range, and said so.
// Port 0 ("Marathon assigns one") becomes a stand-in from 19999 down, distinct across
// the apps linted together; each is recorded in `assigned`.
MarathonApp withStandInServicePorts(MarathonApp app, int& next,
                                    std::set<std::pair<std::string, int>>& assigned,
                                    std::vector<LintFinding>& out) {
  auto assign = [&](std::optional<int>& port, const std::string& where) {
    if (port && *port == 0) {
      port = next--;
      assigned.insert({app.id, *port});
      out.push_back({Level::Info, app.id,
                     where + ": service port 0: Marathon assigns one at deploy (linted as " +
                         std::to_string(*port) + ")"});
    }
  };
  for (size_t i = 0; i < app.port_definitions.size(); ++i) {
    assign(app.port_definitions[i], "portDefinitions[" + std::to_string(i) + "]");
  }
  for (auto* list : {&app.port_mappings, &app.docker_port_mappings}) {
    for (size_t i = 0; i < list->size(); ++i) {
      assign((*list)[i].service_port, "portMappings[" + std::to_string(i) + "]");
    }
  }
  return app;
}

MarathonApp withStandInTask(MarathonApp app) {
  if (!app.tasks.empty()) {
    return app;
  }
  controller::MarathonTask t;
  t.id = "lint";
  t.host = "127.0.0.1";
  t.ip_address = "127.0.0.1";
  t.state = "TASK_RUNNING";
  for (size_t i = 0; i < std::max<size_t>(1, servicePortCount(app)); ++i) {
    t.ports.push_back(31000 + static_cast<int>(i));
  }
  app.tasks.push_back(t);
  return app;
}

void describeServices(const MarathonApp& app, const controller::ServiceModel& m,
                      std::vector<LintFinding>& out) {
  std::set<int> seen;
  for (const auto& q : m.quarantined) {
    seen.insert(q.port_index);
    out.push_back(
        {Level::Error, app.id,
         (q.port_index < 0 ? std::string("app") : "port " + std::to_string(q.port_index)) +
             ": quarantined: " + q.reason});
  }
  for (const auto& w : m.warnings) {
    out.push_back({Level::Warning, app.id, "port " + std::to_string(w.port_index) + ": " + w.text});
  }
  for (const controller::Service& s : m.services) {
    seen.insert(s.port_index);
    std::string text = "port " + std::to_string(s.port_index) + ": backend " + s.backend +
                       ", mode " + s.mode + ", service port " + std::to_string(s.service_port);
    if (!s.vhosts.empty()) {
      text += ", vhosts";
      for (const auto& v : s.vhosts) {
        text += " " + v;
      }
    }
    out.push_back({Level::Info, app.id, text});
  }
  if (seen.count(-1)) {
    return;  // the whole app is quarantined: said above
  }
  for (size_t i = 0; i < servicePortCount(app); ++i) {
    if (!seen.count(static_cast<int>(i))) {
      out.push_back({Level::Info, app.id,
                     "port " + std::to_string(i) +
                         ": not exposed (its groups do not match --group, or it is disabled)"});
    }
  }
}

// The apps of a Marathon group and its nested groups, with ids made absolute (an app
// or group id without a leading '/' is relative to its group's).
void groupApps(const nlohmann::json& group, const std::string& parent, nlohmann::json& out) {
  auto absolute = [](const std::string& base, const nlohmann::json& id) {
    const std::string text = id.is_string() ? id.get<std::string>() : "";
    return text.rfind('/', 0) == 0 ? text : base + "/" + text;
  };
  const std::string gid = group.contains("id") ? absolute(parent, group["id"]) : parent;
  const std::string base = gid == "/" ? "" : gid;
  if (group.contains("apps") && group["apps"].is_array()) {
    for (auto app : group["apps"]) {
      if (app.is_object() && app.contains("id")) {
        app["id"] = absolute(base, app["id"]);
      }
      out.push_back(std::move(app));
    }
  }
  if (group.contains("groups") && group["groups"].is_array()) {
    for (const auto& g : group["groups"]) {
      groupApps(g, base, out);
    }
  }
}

// The apps of one file, as the controller would parse them; errors for the rest.
std::vector<MarathonApp> readApps(const std::string& name, const std::string& text,
                                  std::vector<LintFinding>& findings) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  std::string body;
  // A group: nested groups, or an id beside its apps (a /v2/apps answer has no id).
  if (j.is_object() &&
      (j.contains("groups") || (j.contains("id") && j.contains("apps") && j["apps"].is_array()))) {
    nlohmann::json apps = nlohmann::json::array();
    groupApps(j, "", apps);
    body = "{\"apps\":" + apps.dump() + "}";
  } else if (j.is_object() && j.contains("apps")) {
    body = text;
  } else if (j.is_object() && j.contains("app")) {
    body = "{\"apps\":[" + j["app"].dump() + "]}";
  } else if (j.is_object()) {
    body = "{\"apps\":[" + text + "]}";
  } else if (j.is_array()) {
    body = "{\"apps\":" + text + "}";
  } else {
    findings.push_back({Level::Error, name, "not a JSON app definition, list or /v2/apps answer"});
    return {};
  }
  body.reserve(body.size() + controller::kJsonPadding);
  auto parsed = controller::parseApps(body);
  if (!parsed) {
    findings.push_back({Level::Error, name, parsed.error().message});
    return {};
  }
  for (const auto& s : parsed->skipped) {
    findings.push_back(
        {Level::Error, s.app_id.empty() ? name : s.app_id, "cannot be read: " + s.reason});
  }
  return parsed->apps;
}

// Whether a collision names one of `ids` (as the app, or as the one claiming first).
bool involves(const LintFinding& f, const std::set<std::string>& ids) {
  if (ids.count(f.app_id)) {
    return true;
  }
  for (const auto& id : ids) {
    if (f.text.find(" by " + id + " port ") != std::string::npos) {
      return true;
    }
  }
  return false;
}

const char* levelName(Level l) {
  return l == Level::Error ? "error" : l == Level::Warning ? "warning" : "ok";
}

// What `mlb lint` reads: the controller's rendering flags (--group and --strict-mode
// for the apps; the others, with --state-dir, for --templates-dir's rendering).
struct LintArgs {
  controller::BuildOptions build;
  controller::RenderOptions render;
  std::string marathon;       // --marathon URL: the running apps, to collide with
  std::string templates_dir;  // --templates-dir DIR: the controller's templates
};

common::Result<common::CommandLine> readLintArgs(const std::vector<std::string>& args,
                                                 LintArgs& lint) {
  static const common::FlagTable<LintArgs> kFlags = [] {
    common::FlagTable<LintArgs> table;
    for (auto& flag : common::projectFlags<LintArgs, controller::RenderSettings>(
             controller::renderFlags(), [](LintArgs& l) {
               return controller::RenderSettings{l.build, l.render};
             })) {
      table.push_back(std::move(flag));
    }
    table.push_back(common::textFlag<LintArgs>(
        "--state-dir", [](LintArgs& l) -> std::string& { return l.render.state_dir; }, false));
    // From the command line only: an MLB_MARATHON left in the environment (the
    // controller's) must not make every lint fetch.
    table.push_back(common::textFlag<LintArgs>(
        "--marathon", [](LintArgs& l) -> std::string& { return l.marathon; }, false));
    table.push_back(common::textFlag<LintArgs>(
        "--templates-dir", [](LintArgs& l) -> std::string& { return l.templates_dir; }, false));
    return table;
  }();
  common::CommandLineRules rules;
  rules.positionals = true;  // the files
  auto line = common::readFlags(kFlags, args, rules);
  if (line && !line->help) {
    if (common::Status s = common::applyUses(kFlags, line->uses, lint); !s) {
      return s.error();
    }
  }
  return line;
}

}  // namespace

std::vector<LintFinding> lintApps(const std::vector<MarathonApp>& apps,
                                  const controller::BuildOptions& options, size_t context,
                                  std::vector<MarathonApp>* built_apps) {
  std::vector<LintFinding> out;
  std::vector<MarathonApp> all;
  std::set<std::pair<std::string, int>> assigned;
  std::set<std::string> linted_ids;
  int next = 19999;
  // A later definition of an id replaces the earlier one (`mlb lint running.json
  // new.json`: the new definition among the running apps).
  std::map<std::string, size_t> last;
  for (size_t i = 0; i < apps.size(); ++i) {
    last[apps[i].id] = i;
  }
  for (size_t i = 0; i < apps.size(); ++i) {
    const MarathonApp& app = apps[i];
    if (last[app.id] != i) {
      if (i >= context) {
        out.push_back({Level::Info, app.id, "replaced by a later definition"});
      }
      continue;
    }
    std::vector<LintFinding> own = labelWarnings(app);
    const MarathonApp linted = withStandInServicePorts(app, next, assigned, own);
    MarathonApp built = withStandInTask(linted);
    describeServices(linted, controller::buildServices({built}, options), own);
    if (i >= context) {  // the context (running apps) is only there to collide with
      out.insert(out.end(), own.begin(), own.end());
      linted_ids.insert(app.id);
    }
    all.push_back(std::move(built));
  }
  if (all.size() > 1) {
    for (auto& f : collisionFindings(controller::buildServices(all, options), assigned)) {
      if (involves(f, linted_ids)) {
        out.push_back(std::move(f));
      }
    }
  }
  if (built_apps != nullptr) {
    *built_apps = std::move(all);
  }
  return out;
}

std::vector<LintFinding> templateFindings(const std::string& dir,
                                          const std::vector<MarathonApp>& built,
                                          const controller::BuildOptions& options,
                                          const controller::RenderOptions& render,
                                          const std::set<std::string>& linted,
                                          common::FileSystem& fs) {
  auto templates = controller::TemplateSet::load(dir, {}, fs);
  if (!templates) {
    return {{Level::Error, dir, templates.error().message}};
  }
  const controller::ServiceModel model = controller::buildServices(built, options);
  auto rendered = controller::renderConfig(model, *templates, render);
  if (!rendered) {
    return {{Level::Error, dir, rendered.error().message}};
  }
  std::vector<LintFinding> out;
  for (const auto& q : rendered->quarantined) {
    if (linted.count(q.app_id)) {  // not the running apps' (--marathon)
      out.push_back({Level::Error, q.app_id, "the templates of " + dir + ": " + q.reason});
    }
  }
  return out;
}

// The running apps of `--marathon URL` (its /v2/apps answer), or an error finding.
std::vector<MarathonApp> runningApps(const std::string& marathon, const HttpGetFn& get,
                                     std::vector<LintFinding>& findings) {
  std::string url = marathon;
  while (!url.empty() && url.back() == '/') {
    url.pop_back();
  }
  url += "/v2/apps";
  auto reply = get(url);
  if (!reply || reply->status != 200) {
    findings.push_back(
        {Level::Error, url,
         "cannot read the running apps: " +
             (reply ? "HTTP " + std::to_string(reply->status) : reply.error().message)});
    return {};
  }
  // Other people's apps: what cannot be read of them is said, not an error of the lint.
  std::vector<LintFinding> theirs;
  auto apps = readApps(url, reply->body, theirs);
  for (auto& f : theirs) {
    f.level = Level::Info;
    f.text = "running app not linted: " + f.text;
    findings.push_back(std::move(f));
  }
  return apps;
}

// The apps of the files, in order; errors for the files that cannot be read.
std::vector<MarathonApp> fileApps(const std::vector<std::string>& files, std::istream& in,
                                  std::vector<LintFinding>& findings) {
  std::vector<MarathonApp> all;
  for (const auto& f : files) {
    std::stringstream text;
    if (f == "-") {
      text << in.rdbuf();
    } else if (std::ifstream file(f); file) {
      text << file.rdbuf();
    } else {
      findings.push_back({Level::Error, f, "cannot be read"});
      continue;
    }
    auto apps = readApps(f, text.str(), findings);
    all.insert(all.end(), std::make_move_iterator(apps.begin()),
               std::make_move_iterator(apps.end()));
  }
  return all;
}

int runLint(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
            std::ostream& err, const HttpGetFn& get, common::FileSystem& fs) {
  LintArgs lint;
  auto line = readLintArgs(args, lint);
  if (!line) {
    err << "mlb lint: " << line.error().message << "\n" << kUsage;
    return 2;
  }
  if (line->help) {
    out << kUsage;
    return 0;
  }
  controller::BuildOptions& options = lint.build;
  const std::vector<std::string>& files = line->positionals;
  if (files.empty()) {
    err << kUsage;
    return 2;
  }
  if (options.groups.empty()) {
    options.groups = {"external"};  // mlb-controller's default
  }
  std::vector<LintFinding> findings;
  std::vector<MarathonApp> all;
  if (!lint.marathon.empty()) {
    all = runningApps(
        lint.marathon, get ? get : [](const std::string& url) { return plainHttpGet(url, 10000); },
        findings);
  }
  const size_t context = all.size();
  auto given = fileApps(files, in, findings);
  std::set<std::string> linted;
  for (const auto& a : given) {
    linted.insert(a.id);
  }
  all.insert(all.end(), std::make_move_iterator(given.begin()),
             std::make_move_iterator(given.end()));
  // Together: collisions across files, and with the running apps.
  std::vector<MarathonApp> built;
  auto more = lintApps(all, options, context, &built);
  findings.insert(findings.end(), more.begin(), more.end());
  if (!lint.templates_dir.empty()) {
    auto t = templateFindings(lint.templates_dir, built, options, lint.render, linted, fs);
    findings.insert(findings.end(), t.begin(), t.end());
  }
  bool failed = false;
  for (const auto& x : findings) {
    failed = failed || x.level == Level::Error;
    out << x.app_id << ": " << levelName(x.level) << ": " << x.text << "\n";
  }
  return failed ? 1 : 0;
}

}  // namespace mlb::cli
