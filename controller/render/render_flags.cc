#include "controller/render/render_flags.h"

#include "common/strings.h"

namespace mlb::controller {
namespace {

using common::FlagArity;
using common::Status;
using V = const std::vector<std::string>&;

// A switch that sets `field` of the settings to `value` (its opposite when given false).
template <typename Field>
common::Flag<RenderSettings> setter(const char* name, Field field, bool value) {
  return {name, FlagArity::Switch, [field, value](V v, RenderSettings& s) -> Status {
            field(s) = common::switchSet(v) ? value : !value;
            return {};
          }};
}

// An integer flag in [lo, hi] stored at `field`.
template <typename Field>
common::Flag<RenderSettings> integer(const char* name, Field field, int lo, int hi) {
  return {name, FlagArity::One, [name, field, lo, hi](V v, RenderSettings& s) -> Status {
            auto n = common::parseIntFlag(name, v[0], lo, hi);
            if (!n) {
              return n.error();
            }
            field(s) = *n;
            return {};
          }};
}

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

}  // namespace

const common::FlagTable<RenderSettings>& renderFlags() {
  static const common::FlagTable<RenderSettings> kFlags = {
      {"--group", FlagArity::One, groups},
      setter(
          "--health-check", [](RenderSettings& s) -> bool& { return s.build.health_check; }, true),
      setter(
          "--strict-mode", [](RenderSettings& s) -> bool& { return s.build.strict_mode; }, true),
      setter(
          "--haproxy-map", [](RenderSettings& s) -> bool& { return s.render.haproxy_map; }, true),
      setter(
          "--group-https-by-vhost",
          [](RenderSettings& s) -> bool& { return s.render.group_https_by_vhost; }, true),
      setter(
          "--dont-bind-http-https",
          [](RenderSettings& s) -> bool& { return s.render.bind_http_https; }, false),
      {"--ssl-certs", FlagArity::One, sslCerts},
      integer(
          "--min-serv-port-ip-per-task",
          [](RenderSettings& s) -> int& { return s.build.min_serv_port_ip_per_task; }, 0, 65535),
      integer(
          "--max-serv-port-ip-per-task",
          [](RenderSettings& s) -> int& { return s.build.max_serv_port_ip_per_task; }, 0, 65535),
      integer(
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
