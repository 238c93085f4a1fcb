#pragma once
// The flags that shape the rendered configuration (marathon-lb's names), in one
// table shared by mlb-controller and `mlb render`, so both read them alike.
#include <map>
#include <string>

#include "common/flags.h"
#include "controller/model/service_builder.h"
#include "controller/render/config_renderer.h"

namespace mlb::controller {

// What the rendering flags set.
struct RenderSettings {
  BuildOptions& build;
  RenderOptions& render;
};

// --group, --health-check (-H), --strict-mode, --haproxy-map, --group-https-by-vhost,
// --dont-bind-http-https, --ssl-certs, --min/--max-serv-port-ip-per-task, --maxconn.
// --group appends (a comma-separated list or one name per use).
const common::FlagTable<RenderSettings>& renderFlags();

// marathon-lb's environment variables that change rendering: HAPROXY_GLOBAL_DEFAULT_OPTIONS
// (a comma list of `option` names for the defaults section, each trimmed) and
// FRAMEWORK_NAME.
void applyRenderEnvironment(const std::map<std::string, std::string>& env, RenderSettings settings);

// The checks across rendering flags: the ip-per-task port range.
common::Status checkRenderFlags(const BuildOptions& build);

}  // namespace mlb::controller
