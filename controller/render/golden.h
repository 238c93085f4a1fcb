#pragma once
// Shared by the golden and the haproxy -c tests: which inputs render with which flags.
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "controller/marathon/app_json.h"
#include "controller/model/service_builder.h"
#include "controller/render/config_renderer.h"

namespace mlb::controller::testing {

struct GoldenCase {
  std::string name;   // testdata/golden/<name>.cfg
  std::string input;  // testdata/marathon/<input>.json
  BuildOptions build;
  RenderOptions render;
};

inline std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string testdata(const std::string& rel) {
  return std::string(MLB_SOURCE_DIR) + "/controller/testdata/" + rel;
}

inline std::vector<GoldenCase> goldenCases() {
  auto c = [](std::string name, std::string input, std::vector<std::string> groups, bool health) {
    GoldenCase g;
    g.name = std::move(name);
    g.input = std::move(input);
    g.build.groups = std::move(groups);
    g.build.health_check = health;
    return g;
  };
  std::vector<GoldenCase> cases;
  for (const char* n :
       {"vhost-path", "multi-vhost", "sticky", "bluegreen", "ip-per-task", "template-override",
        "redirect-https", "hsts", "tcp-http-mode", "ssl-cert", "proxypass"}) {
    cases.push_back(c(n, n, {"external"}, true));
  }
  GoldenCase map = c("haproxy-map", "haproxy-map", {"external"}, false);
  map.render.haproxy_map = true;
  cases.push_back(map);
  // -H with --group-https-by-vhost: every vhost of a multi-vhost app is routed on :443
  // (marathon-lb routed only the first; README, "What behaves differently").
  GoldenCase grouped_map = c("multi-vhost-map-https-by-vhost", "multi-vhost", {"external"}, false);
  grouped_map.render.haproxy_map = true;
  grouped_map.render.group_https_by_vhost = true;
  cases.push_back(grouped_map);
  // The image's default: HAProxy's log lines on stdout (--haproxy-log stdout).
  GoldenCase log_stdout = c("hsts-log-stdout", "hsts", {"external"}, true);
  log_stdout.render.haproxy_log = "stdout";
  cases.push_back(log_stdout);
  cases.push_back(c("fixture100", "fixture100", {"*"}, true));
  GoldenCase grouped = c("fixture100-https-by-vhost", "fixture100", {"*"}, true);
  grouped.render.group_https_by_vhost = true;
  cases.push_back(grouped);
  GoldenCase dont = c("fixture100-dont-bind-strict", "fixture100", {"external"}, false);
  dont.render.bind_http_https = false;
  dont.build.strict_mode = true;
  cases.push_back(dont);
  return cases;
}

inline RenderedConfig renderCase(const GoldenCase& g, const TemplateSet& templates) {
  std::string body = readFile(testdata("marathon/" + g.input + ".json"));
  auto parsed = parseApps(body);
  if (!parsed) {
    throw std::runtime_error(parsed.error().message);
  }
  auto model = buildServices(parsed->apps, g.build);
  auto rendered = renderConfig(model, templates, g.render);
  if (!rendered) {
    throw std::runtime_error(rendered.error().message);
  }
  return *rendered;
}

}  // namespace mlb::controller::testing
