#include "controller/render/render_flags.h"

#include <gtest/gtest.h>

namespace mlb::controller {
namespace {

struct Rendering {
  BuildOptions build;
  RenderOptions render;
};

common::Result<Rendering> parse(const std::vector<std::string>& args) {
  Rendering r;
  const auto table =
      common::projectFlags<Rendering, RenderSettings>(renderFlags(), [](Rendering& x) {
        return RenderSettings{x.build, x.render};
      });
  auto line = common::readFlags(table, args);
  if (!line) {
    return line.error();
  }
  if (common::Status s = common::applyUses(table, line->uses, r); !s) {
    return s.error();
  }
  return r;
}

TEST(RenderFlags, MarathonLbsRenderingFlags) {
  auto r = parse({"--group", "external,internal", "--group=web", "--health-check", "--strict-mode",
                  "--haproxy-map", "--group-https-by-vhost", "--dont-bind-http-https",
                  "--ssl-certs", "/a.pem, /b.pem", "--maxconn", "4000",
                  "--min-serv-port-ip-per-task", "20000", "--max-serv-port-ip-per-task", "21000"});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->build.groups, (std::vector<std::string>{"external", "internal", "web"}));
  EXPECT_TRUE(r->build.health_check);
  EXPECT_TRUE(r->build.strict_mode);
  EXPECT_TRUE(r->render.haproxy_map);
  EXPECT_TRUE(r->render.group_https_by_vhost);
  EXPECT_FALSE(r->render.bind_http_https);
  EXPECT_EQ(r->render.ssl_certs, (std::vector<std::string>{"/a.pem", "/b.pem"}));
  EXPECT_EQ(r->render.maxconn, 4000);
  EXPECT_EQ(r->build.min_serv_port_ip_per_task, 20000);
  EXPECT_TRUE(checkRenderFlags(r->build));
  // A switch given false undoes itself.
  auto off = parse({"--dont-bind-http-https=false", "--health-check=0"});
  ASSERT_TRUE(off);
  EXPECT_TRUE(off->render.bind_http_https);
  EXPECT_FALSE(off->build.health_check);
}

TEST(RenderFlags, BadValuesNameTheFlag) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--maxconn", "0"}, {"--ssl-certs", ","}, {"--min-serv-port-ip-per-task", "70000"}}) {
    auto r = parse(args);
    ASSERT_FALSE(r) << args[0];
    EXPECT_NE(r.error().message.find(args[0]), std::string::npos) << r.error().message;
  }
  BuildOptions b;
  b.min_serv_port_ip_per_task = 0;  // one end of the range only
  EXPECT_FALSE(checkRenderFlags(b));
  b.max_serv_port_ip_per_task = 0;
  EXPECT_TRUE(checkRenderFlags(b));
}

TEST(RenderFlags, MarathonLbsRenderingEnvironment) {
  BuildOptions build;
  RenderOptions render;
  applyRenderEnvironment(
      {{"HAPROXY_GLOBAL_DEFAULT_OPTIONS", " redispatch,,forwardfor except 127.0.0.1 "},
       {"FRAMEWORK_NAME", "marathon-user"}},
      {build, render});
  EXPECT_EQ(render.default_options,
            (std::vector<std::string>{"redispatch", "forwardfor except 127.0.0.1"}));
  EXPECT_EQ(build.framework_name, "marathon-user");
  RenderOptions untouched;
  applyRenderEnvironment({}, {build, untouched});
  EXPECT_EQ(untouched.default_options, RenderOptions().default_options);
}

}  // namespace
}  // namespace mlb::controller
