#include "cli/render_command.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <sstream>

#include "common/flags.h"
#include "common/fs/files.h"
#include "common/net_resolver.h"
#include "common/strings.h"
#include "controller/marathon/app_json.h"
#include "controller/model/labels.h"
#include "controller/model/service_builder.h"
#include "controller/publish/endpoints_lua.h"
#include "controller/render/config_renderer.h"
#include "controller/render/render_flags.h"

namespace mlb::cli {
namespace {

using controller::BuildOptions;
using controller::RenderOptions;

constexpr const char* kUsage =
    "usage: mlb render --apps FILE --out DIR [--group NAME]... [--health-check] [--strict-mode]\n"
    "                  [--haproxy-map] [--group-https-by-vhost] [--dont-bind-http-https]\n"
    "                  [--ssl-certs A,B] [--min-serv-port-ip-per-task P]\n"
    "                  [--max-serv-port-ip-per-task P] [--templates-dir DIR]\n"
    "                  [--haproxy-dir DIR] [--state-dir DIR] [--maxconn N]\n";

struct RenderArgs {
  std::string apps_path, out_dir, templates_dir, haproxy_dir;
  BuildOptions build;
  RenderOptions render;
};

using common::FlagArity;
using common::Status;
using V = const std::vector<std::string>&;

// `mlb render`'s own flags and the rendering flags mlb-controller reads alike.
const common::FlagTable<RenderArgs>& renderArgsFlags() {
  static const common::FlagTable<RenderArgs> kFlags = [] {
    common::FlagTable<RenderArgs> table = {
        common::textFlag<RenderArgs>("--apps",
                                     [](RenderArgs& r) -> std::string& { return r.apps_path; }),
        common::textFlag<RenderArgs>("--out",
                                     [](RenderArgs& r) -> std::string& { return r.out_dir; }),
        common::textFlag<RenderArgs>("--templates-dir",
                                     [](RenderArgs& r) -> std::string& { return r.templates_dir; }),
        common::textFlag<RenderArgs>("--haproxy-dir",
                                     [](RenderArgs& r) -> std::string& { return r.haproxy_dir; }),
        common::textFlag<RenderArgs>(
            "--state-dir", [](RenderArgs& r) -> std::string& { return r.render.state_dir; }),
    };
    for (auto& flag : common::projectFlags<RenderArgs, controller::RenderSettings>(
             controller::renderFlags(), [](RenderArgs& r) {
               return controller::RenderSettings{r.build, r.render};
             })) {
      table.push_back(std::move(flag));
    }
    return table;
  }();
  return kFlags;
}

// The command line, applied; the error when it cannot be.
common::Result<bool> applyArgs(const std::vector<std::string>& args, RenderArgs& r) {
  common::CommandLineRules rules;
  rules.aliases = {{"-H", "--health-check"}};
  auto line = common::readFlags(renderArgsFlags(), args, rules);
  if (!line) {
    return line.error();
  }
  if (line->help) {
    return true;
  }
  Status s = common::applyUses(renderArgsFlags(), line->uses, r);
  if (!s) {
    return s.error();
  }
  return false;
}

// The flags, checked as a whole; an exit code when the command ends here (help: 0,
// bad flags: 2).
std::optional<int> parseArgs(const std::vector<std::string>& args, RenderArgs& r, std::ostream& out,
                             std::ostream& err) {
  auto help = applyArgs(args, r);
  if (!help) {
    err << "mlb render: " << help.error().message << "\n" << kUsage;
    return 2;
  }
  if (*help) {
    out << kUsage;
    return 0;
  }
  if (r.apps_path.empty() || r.out_dir.empty()) {
    err << "mlb render: --apps and --out are required\n" << kUsage;
    return 2;
  }
  if (r.build.groups.empty()) {
    err << "mlb render: at least one --group is required (use --group '*' for every app)\n";
    return 2;
  }
  if (Status range = controller::checkRenderFlags(r.build); !range) {
    err << "mlb render: " << range.error().message << "\n";
    return 2;
  }
  return std::nullopt;
}

void reportQuarantined(const controller::ServiceModel& model,
                       const controller::RenderedConfig& rendered, std::ostream& err) {
  auto report = [&](const controller::Quarantined& q) {
    err << "quarantined: app " << q.app_id;
    if (q.port_index >= 0) {
      err << " port index " << q.port_index;
    }
    err << ": " << q.reason << "\n";
  };
  for (const auto& q : model.quarantined) {
    report(q);
  }
  for (const auto& q : rendered.quarantined) {
    report(q);
  }
}

int writeOutputs(const std::string& out_dir, const controller::RenderedConfig& rendered,
                 std::ostream& err) {
  for (const auto& [name, data] :
       {std::pair<const char*, const std::string*>{"haproxy.cfg", &rendered.config},
        {"domain2backend.map", &rendered.domain_map},
        {"app2backend.map", &rendered.app_map},
        {"mlb.lua", &controller::endpointsLua()}}) {
    if (auto st = common::writeFileReplacing(out_dir + "/" + name, *data); !st) {
      err << "mlb render: " << st.error().message << "\n";
      return 1;
    }
  }
  return 0;
}

// The directory HAProxy reads the maps from: --haproxy-dir, else --out made absolute.
std::string haproxyDir(const RenderArgs& r) {
  std::string dir = r.haproxy_dir.empty()
                        ? std::filesystem::absolute(r.out_dir).lexically_normal().string()
                        : r.haproxy_dir;
  if (dir.size() > 1 && dir.back() == '/') {
    dir.pop_back();
  }
  return dir;
}

}  // namespace

struct RenderMemory {
  std::optional<common::MappedText> body;
  std::optional<controller::ParsedApps> parsed;
  std::optional<controller::ServiceModel> model;
  std::optional<controller::RenderedConfig> rendered;
};

RenderMemory* newRenderMemory() { return new RenderMemory; }

namespace {

// Parse, build, render, write. 1 on unreadable or malformed input or templates. The
// big objects end in `keep` when given (else they are freed here).
int renderFiles(RenderArgs& r, const std::map<std::string, std::string>& env, std::ostream& err,
                RenderMemory* keep) {
  controller::applyRenderEnvironment(env, {r.build, r.render});
  // Agents registered by host name resolve as in the controller (a one-shot run may
  // wait up to 2 s per name).
  common::HostResolver resolver(
      {std::chrono::milliseconds(2000), std::chrono::minutes(5), std::chrono::seconds(30), 10000});
  r.build.resolve_host = [&resolver](const std::string& h) { return resolver.resolve(h); };

  auto body = common::mapFilePadded(r.apps_path, controller::kJsonPadding);
  if (!body) {
    err << "mlb render: cannot read --apps " << r.apps_path << ": " << body.error().message << "\n";
    return 1;
  }
  auto parsed = controller::parseApps(body->view(), body->capacity());
  if (!parsed) {
    err << "mlb render: " << r.apps_path << ": " << parsed.error().message << "\n";
    return 1;
  }
  for (const auto& sk : parsed->skipped) {
    err << "skipped app " << (sk.app_id.empty() ? "(unknown id)" : sk.app_id) << ": " << sk.reason
        << "\n";
  }
  auto templates = controller::TemplateSet::load(r.templates_dir, env);
  if (!templates) {
    err << "mlb render: " << templates.error().message << "\n";
    return 1;
  }
  std::error_code ec;
  std::filesystem::create_directories(r.out_dir, ec);
  if (ec) {
    err << "mlb render: cannot create --out " << r.out_dir << ": " << ec.message() << "\n";
    return 1;
  }
  r.render.haproxy_dir = haproxyDir(r);
  controller::ServiceModel model = controller::buildServices(parsed->apps, r.build);
  auto rendered = controller::renderConfig(model, *templates, r.render);
  if (!rendered) {
    err << "mlb render: " << rendered.error().message << "\n";
    return 1;
  }
  reportQuarantined(model, *rendered, err);
  const int rc = writeOutputs(r.out_dir, *rendered, err);
  if (keep != nullptr) {
    keep->body = std::move(*body);
    keep->parsed = std::move(*parsed);
    keep->model = std::move(model);
    keep->rendered = std::move(*rendered);
  }
  return rc;
}

}  // namespace

int runRender(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
              std::ostream& out, std::ostream& err, RenderMemory* keep) {
  RenderArgs r;
  if (auto done = parseArgs(args, r, out, err)) {
    return *done;
  }
  return renderFiles(r, env, err, keep);
}

}  // namespace mlb::cli
