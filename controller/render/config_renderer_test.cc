#include "controller/render/config_renderer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>

#include "controller/render/config_shape.h"
#include "controller/render/golden.h"

namespace mlb::controller {
namespace {

using testing::goldenCases;
using testing::readFile;
using testing::renderCase;
using testing::testdata;

// Golden tests: testdata/marathon/X.json -> testdata/golden/X.cfg. Regenerate with
// UPDATE_GOLDEN=1 and review the diff.
TEST(ConfigRendererTest, MatchesGoldenFiles) {
  auto templates = TemplateSet::load("", {});
  ASSERT_TRUE(templates.has_value());
  const bool update = std::getenv("UPDATE_GOLDEN") != nullptr;
  for (const auto& g : goldenCases()) {
    const RenderedConfig r = renderCase(g, *templates);
    const std::string path = testdata("golden/" + g.name + ".cfg");
    std::string expected = r.config;
    if (g.render.haproxy_map) {
      expected += "# domain2backend.map\n" + r.domain_map + "# app2backend.map\n" + r.app_map;
    }
    if (update) {
      std::ofstream(path, std::ios::binary) << expected;
      continue;
    }
    EXPECT_EQ(readFile(path), expected) << "golden " << path << " differs (UPDATE_GOLDEN=1)";
  }
}

// marathon-lb, with -H and --group-https-by-vhost, routed TLS for the first vhost of
// an app only; mlb routes every one (kept on purpose: README, "What behaves differently").
TEST(ConfigRendererTest, GroupedHttpsWithMapsRoutesEveryVhostOfAnApp) {
  auto templates = TemplateSet::load("", {});
  ASSERT_TRUE(templates.has_value());
  for (const auto& g : goldenCases()) {
    if (g.name != "multi-vhost-map-https-by-vhost") {
      continue;
    }
    const std::string cfg = renderCase(g, *templates).config;
    for (const char* vhost :
         {"portal.example.com", "www.portal.example.com", "portal.example.org"}) {
      EXPECT_NE(cfg.find(std::string("if { req_ssl_sni -i ") + vhost + " }"), std::string::npos)
          << vhost;
    }
    return;
  }
  FAIL() << "the golden case is gone";
}

TEST(ConfigRendererTest, ByteDeterministicAcrossRuns) {
  auto templates = TemplateSet::load("", {});
  ASSERT_TRUE(templates.has_value());
  for (const auto& g : goldenCases()) {
    EXPECT_EQ(renderCase(g, *templates).config, renderCase(g, *templates).config) << g.name;
  }
}

ServiceModel modelFrom(const std::string& json, std::vector<std::string> groups = {"*"}) {
  std::string body = json;
  auto parsed = parseApps(body);
  EXPECT_TRUE(parsed.has_value());
  BuildOptions o;
  o.groups = std::move(groups);
  return buildServices(parsed->apps, o);
}

TEST(ConfigRendererTest, BadLabelTemplateQuarantinesOnlyThatApp) {
  auto model = modelFrom(R"({"apps":[
    {"id":"/bad","labels":{"HAPROXY_0_VHOST":"bad.example.com","HAPROXY_0_BACKEND_HEAD":"\nbackend {oops}\n"},
     "portDefinitions":[{"port":10001}],"tasks":[{"id":"b","host":"10.0.0.1","state":"TASK_RUNNING","ports":[1]}]},
    {"id":"/good","labels":{"HAPROXY_0_VHOST":"good.example.com"},
     "portDefinitions":[{"port":10002}],"tasks":[{"id":"g","host":"10.0.0.2","state":"TASK_RUNNING","ports":[2]}]}]})");
  auto templates = TemplateSet::load("", {});
  ASSERT_TRUE(templates.has_value());
  auto r = renderConfig(model, *templates, RenderOptions{});
  ASSERT_TRUE(r.has_value()) << r.error().message;
  ASSERT_EQ(r->quarantined.size(), 1u);
  EXPECT_EQ(r->quarantined[0].app_id, "/bad");
  EXPECT_NE(r->quarantined[0].reason.find("{oops}"), std::string::npos);
  EXPECT_NE(r->quarantined[0].reason.find("HAPROXY_0_BACKEND_HEAD"), std::string::npos);
  EXPECT_EQ(r->config.find("bad"), std::string::npos)
      << "nothing of the bad app may reach the config";
  EXPECT_NE(r->config.find("backend good_10002"), std::string::npos);
  EXPECT_NE(r->config.find("hdr(host) -i good.example.com"), std::string::npos);
}

// The shape decides whether `haproxy -c` runs: combined from each piece's shape, it
// must still see a label template whose last line has no line break (that line then
// runs into the next piece's first line), as the shape of the whole text did.
TEST(ConfigRendererTest, AShapeSeesAPieceWithoutItsFinalLineBreak) {
  auto withGlue = [](const std::string& glue) {
    return modelFrom(R"({"apps":[
      {"id":"/a","labels":{"HAPROXY_0_FRONTEND_BACKEND_GLUE":")" +
                     glue + R"("},
       "portDefinitions":[{"port":10001}],"tasks":[{"id":"a","host":"10.0.0.1","state":"TASK_RUNNING","ports":[1]}]},
      {"id":"/b","portDefinitions":[{"port":10002}],
       "tasks":[{"id":"b","host":"10.0.0.2","state":"TASK_RUNNING","ports":[2]}]}]})");
  };
  auto templates = TemplateSet::load("", {});
  ASSERT_TRUE(templates.has_value());
  auto ended = renderConfig(withGlue("  use_backend {backend}\\n"), *templates, RenderOptions{});
  auto joined = renderConfig(withGlue("  use_backend {backend}"), *templates, RenderOptions{});
  ASSERT_TRUE(ended && joined);
  ASSERT_NE(ended->config, joined->config);
  EXPECT_NE(shapeHash(ended->config), shapeHash(joined->config));
  EXPECT_NE(ended->shape, joined->shape);
}

// A service that fails late (its backend template) after its frontend and vhost
// rules were rendered leaves no trace: the config is byte for byte the config of
// the same apps without it, and the spans of the apps around it still match.
TEST(ConfigRendererTest, ServiceFailingMidwayLeavesNoTrace) {
  const std::string a =
      R"({"id":"/a","labels":{"HAPROXY_0_VHOST":"a.example.com","HAPROXY_GROUP":"external"},"portDefinitions":[{"port":10001}],"tasks":[{"id":"a","host":"10.0.0.1","state":"TASK_RUNNING","ports":[1]}]})";
  const std::string b =
      R"({"id":"/b","labels":{"HAPROXY_0_VHOST":"b.example.com,b2.example.com","HAPROXY_0_PATH":"/x","HAPROXY_0_BACKEND_HEAD":"\nbackend {oops}\n"},"portDefinitions":[{"port":10002}],"tasks":[{"id":"b","host":"10.0.0.2","state":"TASK_RUNNING","ports":[2]}]})";
  const std::string c =
      R"({"id":"/c","labels":{"HAPROXY_0_VHOST":"c.example.com"},"portDefinitions":[{"port":10003}],"tasks":[{"id":"c","host":"10.0.0.3","state":"TASK_RUNNING","ports":[3]}]})";
  auto templates = TemplateSet::load("", {});
  ASSERT_TRUE(templates.has_value());
  for (bool group_https : {false, true}) {
    RenderOptions opts;
    opts.group_https_by_vhost = group_https;
    const ServiceModel bad_model = modelFrom(R"({"apps":[)" + a + "," + b + "," + c + "]}");
    const ServiceModel good_model = modelFrom(R"({"apps":[)" + a + "," + c + "]}");
    auto with_bad = renderConfig(bad_model, *templates, opts);  // (spans view the models)
    auto without = renderConfig(good_model, *templates, opts);
    ASSERT_TRUE(with_bad && without);
    ASSERT_EQ(with_bad->quarantined.size(), 1u);
    EXPECT_EQ(with_bad->quarantined[0].app_id, "/b");
    EXPECT_EQ(with_bad->config, without->config);
    ASSERT_EQ(with_bad->spans.size(), without->spans.size());
    for (size_t i = 0; i < without->spans.size(); ++i) {
      EXPECT_EQ(with_bad->spans[i].app_id(), without->spans[i].app_id());
      EXPECT_EQ(with_bad->spans[i].begin, without->spans[i].begin);
      EXPECT_EQ(with_bad->spans[i].end, without->spans[i].end);
    }
  }
}

TEST(ConfigRendererTest, SpansMapLinesBackToServices) {
  auto model = modelFrom(R"({"apps":[
    {"id":"/a","portDefinitions":[{"port":10001}],"tasks":[{"id":"a","host":"10.0.0.1","state":"TASK_RUNNING","ports":[1]}]}]})");
  auto templates = TemplateSet::load("", {});
  auto r = renderConfig(model, *templates, RenderOptions{});
  ASSERT_TRUE(r.has_value());
  ASSERT_FALSE(r->spans.empty());
  // Find the line of the server and check that a span owned by /a covers it.
  int line = 1;
  int server_line = 0;
  for (size_t i = 0; i < r->config.size(); ++i) {
    if (r->config.compare(i, 9, "  server ") == 0 && (i == 0 || r->config[i - 1] == '\n')) {
      server_line = line;
    }
    if (r->config[i] == '\n') {
      ++line;
    }
  }
  ASSERT_GT(server_line, 0);
  const auto* span = r->spanAtLine(server_line);
  ASSERT_NE(span, nullptr);
  EXPECT_EQ(span->app_id(), "/a");
  EXPECT_LE(span->begin, r->config.find("  server "));
  EXPECT_EQ(r->spanAtLine(1), nullptr);  // the global section belongs to no app
  EXPECT_EQ(r->spanAtLine(0), nullptr);
  EXPECT_EQ(r->spanAtLine(line + 5), nullptr);  // past the end
  // Every line of every span maps back to that span.
  for (const auto& s : r->spans) {
    const int first =
        1 + static_cast<int>(std::count(r->config.begin(),
                                        r->config.begin() + static_cast<long>(s.begin), '\n'));
    EXPECT_EQ(r->spanAtLine(first), &s);
  }
}

TEST(ConfigRendererTest, EmptyModelStillRendersAValidSkeleton) {
  auto templates = TemplateSet::load("", {});
  auto r = renderConfig(ServiceModel{}, *templates, RenderOptions{});
  ASSERT_TRUE(r.has_value());
  EXPECT_NE(r->config.find("frontend marathon_http_in"), std::string::npos);
  EXPECT_NE(r->config.find("option            idle-close-on-response"), std::string::npos);
  EXPECT_NE(r->config.find("expose-fd listeners"), std::string::npos);
}

}  // namespace
}  // namespace mlb::controller
