#include "controller/render/render_flags.h"

#include "common/strings.h"

namespace mlb::controller {
namespace {

using common::FlagArity;
using common::Status;
using V = const std::vector<std::string>&;

Status groups(V v, RenderSettings& s) {
  for (auto& g : common::splitList(v[0])) {
    s.build.groups.push_back(std::move(g));
  }
  return {};
}

Status sslCerts(V v, RenderSettings& s) {
  s.render.ssl_certs = common::splitList(v[0]);
  if (s.render.ssl_certs.empty()) {
    return common::Error::invalidArgument("--ssl-certs needs at least one path");
  }
  return {};
}

Status haproxyLog(V v, RenderSettings& s) {
  const std::string& t = v[0];
  if (!t.empty() && t != "stdout" && t != "stderr" && t[0] != '/') {
    return common::Error::invalidArgument("--haproxy-log " + t +
                                          ": expected stdout, stderr or a socket path");
  }
  if (t.find_first_of(" \t\r\n") != std::string::npos) {
    return common::Error::invalidArgument("--haproxy-log: no blanks in the target");
  }
  s.render.haproxy_log = t;
  return {};
}

}  // namespace

const common::FlagTable<RenderSettings>& renderFlags() {
  static const common::FlagTable<RenderSettings> kFlags = {
      {"--group", FlagArity::One, groups},
      common::switchFlag<RenderSettings>(
          "--health-check", [](RenderSettings& s) -> bool& { return s.build.health_check; }, true),
      common::switchFlag<RenderSettings>(
          "--strict-mode", [](RenderSettings& s) -> bool& { return s.build.strict_mode; }, true),
      common::switchFlag<RenderSettings>(
          "--haproxy-map", [](RenderSettings& s) -> bool& { return s.render.haproxy_map; }, true),
      common::switchFlag<RenderSettings>(
          "--group-https-by-vhost",
          [](RenderSettings& s) -> bool& { return s.render.group_https_by_vhost; }, true),
      common::switchFlag<RenderSettings>(
          "--dont-bind-http-https",
          [](RenderSettings& s) -> bool& { return s.render.bind_http_https; }, false),
      {"--ssl-certs", FlagArity::One, sslCerts},
      {"--haproxy-log", FlagArity::One, haproxyLog},
      common::intFlag<RenderSettings>(
          "--min-serv-port-ip-per-task",
          [](RenderSettings& s) -> int& { return s.build.min_serv_port_ip_per_task; }, 0, 65535),
      common::intFlag<RenderSettings>(
          "--max-serv-port-ip-per-task",
          [](RenderSettings& s) -> int& { return s.build.max_serv_port_ip_per_task; }, 0, 65535),
      common::intFlag<RenderSettings>(
          "--maxconn", [](RenderSettings& s) -> int& { return s.render.maxconn; }, 1, 10000000),
  };
  return kFlags;
}

void applyRenderEnvironment(const std::map<std::string, std::string>& env,
                            RenderSettings settings) {
  if (auto it = env.find("HAPROXY_GLOBAL_DEFAULT_OPTIONS"); it != env.end()) {
    settings.render.default_options.clear();
    for (const auto& option : common::splitExact(it->second, ',')) {
      if (std::string o = common::trim(option, " "); !o.empty()) {
        settings.render.default_options.push_back(std::move(o));
      }
    }
  }
  if (auto it = env.find("FRAMEWORK_NAME"); it != env.end()) {
    settings.build.framework_name = it->second;
  }
}

common::Status checkRenderFlags(const BuildOptions& build) {
  const int lo = build.min_serv_port_ip_per_task;
  const int hi = build.max_serv_port_ip_per_task;
  if ((lo == 0) != (hi == 0) || lo > hi) {
    return common::Error::invalidArgument(
        "--min-serv-port-ip-per-task and --max-serv-port-ip-per-task must both be 0 or form a "
        "range (min <= max)");
  }
  return {};
}

}  // namespace mlb::controller
