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
#include <sstream>

#include "common/fs/files.h"
#include "common/net_resolver.h"
#include "controller/marathon/app_json.h"
#include "controller/model/labels.h"
#include "controller/model/service_builder.h"
#include "controller/render/config_renderer.h"

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

std::vector<std::string> splitComma(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) {
      out.push_back(item);
    }
  }
  return out;
}

}  // namespace

int runRender(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
              std::ostream& out, std::ostream& err) {
  std::string apps_path, out_dir, templates_dir, haproxy_dir;
  BuildOptions build;
  RenderOptions render;

  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string& dst) -> bool {
      if (i + 1 >= args.size()) {
        err << "mlb render: " << a << " needs a value\n" << kUsage;
        return false;
      }
      dst = args[++i];
      return true;
    };
    auto intValue = [&](int& dst, int lo, int hi) -> bool {
      std::string v;
      if (!value(v)) {
        return false;
      }
      auto n = controller::parseInt(v, lo, hi);
      if (!n) {
        err << "mlb render: " << a << " " << v << ": not an integer in [" << lo << ", " << hi
            << "]\n";
        return false;
      }
      dst = *n;
      return true;
    };
    std::string v;
    if (a == "--apps") {
      if (!value(apps_path)) return 2;
    } else if (a == "--out") {
      if (!value(out_dir)) return 2;
    } else if (a == "--group") {
      if (!value(v)) return 2;
      build.groups.push_back(v);
    } else if (a == "--health-check" || a == "-H") {
      build.health_check = true;
    } else if (a == "--strict-mode") {
      build.strict_mode = true;
    } else if (a == "--haproxy-map") {
      render.haproxy_map = true;
    } else if (a == "--group-https-by-vhost") {
      render.group_https_by_vhost = true;
    } else if (a == "--dont-bind-http-https") {
      render.bind_http_https = false;
    } else if (a == "--ssl-certs") {
      if (!value(v)) return 2;
      render.ssl_certs = splitComma(v);
      if (render.ssl_certs.empty()) {
        err << "mlb render: --ssl-certs needs at least one path\n";
        return 2;
      }
    } else if (a == "--min-serv-port-ip-per-task") {
      if (!intValue(build.min_serv_port_ip_per_task, 0, 65535)) return 2;
    } else if (a == "--max-serv-port-ip-per-task") {
      if (!intValue(build.max_serv_port_ip_per_task, 0, 65535)) return 2;
    } else if (a == "--templates-dir") {
      if (!value(templates_dir)) return 2;
    } else if (a == "--haproxy-dir") {
      if (!value(haproxy_dir)) return 2;
    } else if (a == "--state-dir") {
      if (!value(render.state_dir)) return 2;
    } else if (a == "--maxconn") {
      if (!intValue(render.maxconn, 1, 10000000)) return 2;
    } else if (a == "-h" || a == "--help") {
      out << kUsage;
      return 0;
    } else {
      err << "mlb render: unknown flag '" << a << "'\n" << kUsage;
      return 2;
    }
  }
  if (apps_path.empty() || out_dir.empty()) {
    err << "mlb render: --apps and --out are required\n" << kUsage;
    return 2;
  }
  if (build.groups.empty()) {
    err << "mlb render: at least one --group is required (use --group '*' for every app)\n";
    return 2;
  }
  const int lo = build.min_serv_port_ip_per_task, hi = build.max_serv_port_ip_per_task;
  if ((lo == 0) != (hi == 0) || lo > hi) {
    err << "mlb render: --min-serv-port-ip-per-task and --max-serv-port-ip-per-task must both be "
           "0 or form a range (min <= max)\n";
    return 2;
  }
  controller::applyEnvironment(env, build, render);
  // Agents registered by host name resolve as in the controller (a one-shot run may
  // wait up to 2 s per name).
  common::HostResolver resolver(
      {std::chrono::milliseconds(2000), std::chrono::minutes(5), std::chrono::seconds(30), 10000});
  build.resolve_host = [&resolver](const std::string& h) { return resolver.resolve(h); };

  auto body = common::mapFilePadded(apps_path, controller::kJsonPadding);
  if (!body) {
    err << "mlb render: cannot read --apps " << apps_path << ": " << body.error().message << "\n";
    return 1;
  }
  auto parsed = controller::parseApps(body->view(), body->capacity());
  if (!parsed) {
    err << "mlb render: " << apps_path << ": " << parsed.error().message << "\n";
    return 1;
  }
  for (const auto& s : parsed->skipped) {
    err << "skipped app " << (s.app_id.empty() ? "(unknown id)" : s.app_id) << ": " << s.reason
        << "\n";
  }

  auto templates = controller::TemplateSet::load(templates_dir, env);
  if (!templates) {
    err << "mlb render: " << templates.error().message << "\n";
    return 1;
  }
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) {
    err << "mlb render: cannot create --out " << out_dir << ": " << ec.message() << "\n";
    return 1;
  }
  render.haproxy_dir = haproxy_dir.empty()
                           ? std::filesystem::absolute(out_dir).lexically_normal().string()
                           : haproxy_dir;
  if (!render.haproxy_dir.empty() && render.haproxy_dir.size() > 1 &&
      render.haproxy_dir.back() == '/') {
    render.haproxy_dir.pop_back();
  }

  const controller::ServiceModel model = controller::buildServices(parsed->apps, build);
  auto rendered = controller::renderConfig(model, *templates, render);
  if (!rendered) {
    err << "mlb render: " << rendered.error().message << "\n";
    return 1;
  }
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
  for (const auto& q : rendered->quarantined) {
    report(q);
  }
  for (const auto& [name, data] :
       {std::pair<const char*, const std::string*>{"haproxy.cfg", &rendered->config},
        {"domain2backend.map", &rendered->domain_map},
        {"app2backend.map", &rendered->app_map},
        {"mlb.lua", &controller::endpointsLua()}}) {
    if (auto st = common::writeFileAtomic(out_dir + "/" + name, *data); !st) {
      err << "mlb render: " << st.error().message << "\n";
      return 1;
    }
  }
  return 0;
}

}  // namespace mlb::cli
