#include "cli/lint_command.h"

#include <gtest/gtest.h>

#include <sstream>

#include "common/testing/fake_file_system.h"
#include "controller/marathon/app_json.h"

namespace mlb::cli {
namespace {

struct Run {
  int code;
  std::string out;
};

Run lint(const std::string& json, std::vector<std::string> flags = {}) {
  flags.push_back("-");
  std::istringstream in(json);
  std::ostringstream out, err;
  int code = runLint(flags, in, out, err);
  return {code, out.str() + err.str()};
}

std::string app(const std::string& labels) {
  return R"({"id":"/web","instances":2,"portDefinitions":[{"port":10001}],"labels":{)" + labels +
         "}}";
}

bool has(const Run& r, const std::string& text) { return r.out.find(text) != std::string::npos; }

TEST(Lint, AGoodAppSaysWhatEachPortBecomes) {
  auto r = lint(app(R"("HAPROXY_GROUP":"external","HAPROXY_0_VHOST":"web.example.com")"));
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(has(r,
                  "/web: ok: port 0: backend web_10001, mode http, service port 10001, "
                  "vhosts web.example.com"))
      << r.out;
  EXPECT_FALSE(has(r, "warning")) << r.out;
}

TEST(Lint, PortZeroIsAServicePortMarathonAssignsAtDeploy) {
  // The most common definition was an error ("service port 0 is not a port number").
  auto r = lint(R"({"id":"/web","instances":1,"portDefinitions":[{"port":0}],)"
                R"("labels":{"HAPROXY_GROUP":"external"}})");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(has(r, "portDefinitions[0]: service port 0: Marathon assigns one at deploy"))
      << r.out;
  EXPECT_FALSE(has(r, "error")) << r.out;
  auto m =
      lint(R"({"id":"/db","instances":1,"container":{"type":"DOCKER","portMappings":)"
           R"([{"containerPort":5432,"servicePort":0}]},"networks":[{"mode":"container/bridge"}],)"
           R"("labels":{"HAPROXY_GROUP":"external"}})");
  EXPECT_EQ(m.code, 0) << m.out;
  EXPECT_TRUE(has(m, "portMappings[0]: service port 0")) << m.out;
}

TEST(Lint, AQuarantinedLabelIsAnError) {
  auto r = lint(app(R"("HAPROXY_GROUP":"external","HAPROXY_0_PORT":"http")"));
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(has(r, "/web: error: port 0: quarantined: label HAPROXY_0_PORT: 'http'")) << r.out;
}

TEST(Lint, ValuesReadDifferentlyFromHowTheyLookAreWarnings) {
  auto r = lint(app(R"("HAPROXY_GROUP":"external, internal","HAPROXY_0_ENABLED":"1",)"
                    R"("HAPROXY_0_VHOSTS":"typo.example.com","HAPROXY_1_MODE":"http",)"
                    R"("HAPROXY_0_VHOST":"a.example.com, b.example.com","HAPROXY_COLOR":"x")"),
                {"--strict-mode"});
  EXPECT_EQ(r.code, 0) << r.out;  // warnings only
  EXPECT_TRUE(has(r, "warning: label HAPROXY_0_ENABLED='1' is read as false")) << r.out;
  EXPECT_TRUE(has(r, "warning: label HAPROXY_0_VHOSTS is not one mlb or marathon-lb reads"))
      << r.out;
  EXPECT_TRUE(has(r, "warning: label HAPROXY_COLOR is not one")) << r.out;
  EXPECT_TRUE(has(r, "warning: label HAPROXY_1_MODE: the app has no service port 1")) << r.out;
  EXPECT_TRUE(has(r, "warning: label HAPROXY_0_VHOST: blanks")) << r.out;
  EXPECT_TRUE(has(r, "the group ' internal' keeps its blanks")) << r.out;
  // --strict-mode and ENABLED=1 (false): the port is not exposed, as in marathon-lb.
  EXPECT_TRUE(has(r, "ok: port 0: not exposed")) << r.out;
}

TEST(Lint, ProxyPassWithoutVhostIsServedWithAWarning) {
  auto r = lint(app(R"("HAPROXY_GROUP":"external","HAPROXY_0_MODE":"http",)"
                    R"("HAPROXY_0_HTTP_BACKEND_PROXYPASS_PATH":"/api")"));
  EXPECT_EQ(r.code, 0) << r.out;  // served, as marathon-lb served it
  EXPECT_TRUE(has(r,
                  "/web: warning: port 0: label HAPROXY_0_HTTP_BACKEND_PROXYPASS_PATH without "
                  "HAPROXY_0_VHOST"))
      << r.out;
  EXPECT_TRUE(has(r, "ok: port 0: backend web_10001, mode http")) << r.out;
}

// Several apps together (a group here): what no single app's labels show.
TEST(Lint, CollisionsAcrossAppsAreErrors) {
  auto r = lint(R"({"id":"/shop","apps":[
      {"id":"web","portDefinitions":[{"port":10001}],
       "labels":{"HAPROXY_GROUP":"external","HAPROXY_0_VHOST":"shop.example.com"}},
      {"id":"/shop/api","portDefinitions":[{"port":10001}],"labels":{"HAPROXY_GROUP":"external"}},
      {"id":"a","portDefinitions":[{"port":0}],"labels":{"HAPROXY_GROUP":"external"}}],
    "groups":[{"id":"old","apps":[
      {"id":"web","portDefinitions":[{"port":10003}],
       "labels":{"HAPROXY_GROUP":"external","HAPROXY_0_VHOST":"shop.example.com"}},
      {"id":"b","portDefinitions":[{"port":0}],"labels":{"HAPROXY_GROUP":"external"}},
      {"id":"paths","portDefinitions":[{"port":10004}],
       "labels":{"HAPROXY_GROUP":"external","HAPROXY_0_VHOST":"shop.example.com",
                 "HAPROXY_0_PATH":"/api"}}]}]})");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(has(r, "/shop/web: error: port 0: service port 10001 is also claimed by /shop/api"))
      << r.out;
  EXPECT_TRUE(has(r,
                  "/shop/web: error: port 0: vhost shop.example.com is also claimed by "
                  "/shop/old/web port 0"))
      << r.out;
  // Two port-0 apps are assigned different ports by Marathon: no collision; a path
  // rule on the same vhost is a different claim.
  EXPECT_FALSE(has(r, "/shop/b: error")) << r.out;
  EXPECT_FALSE(has(r, "/shop/old/paths: error")) << r.out;
  EXPECT_FALSE(has(r, "/shop/a: error")) << r.out;
}

// The most common group definition has no nested groups: its relative ids are still
// the group's.
TEST(Lint, AGroupWithoutNestedGroupsIsAGroup) {
  auto r = lint(R"({"id":"/shop","apps":[{"id":"web","portDefinitions":[{"port":10001}],)"
                R"("labels":{"HAPROXY_GROUP":"external"}}]})");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(has(r, "/shop/web: ok: port 0: backend shop_web_10001")) << r.out;
}

TEST(Lint, BackendNameCollisionsAreErrors) {
  auto r = lint(R"([
      {"id":"/a/b","portDefinitions":[{"port":10001}],"labels":{"HAPROXY_GROUP":"external"}},
      {"id":"/a_b","portDefinitions":[{"port":10001}],"labels":{"HAPROXY_GROUP":"external"}}])");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(has(r, "/a_b: error: port 0: backend a_b_10001 is already defined by /a/b")) << r.out;
}

// `mlb lint running.json new.json`: the new definition takes the running one's place.
TEST(Lint, ALaterDefinitionReplacesTheRunningApp) {
  const std::string running =
      R"([{"id":"/web","portDefinitions":[{"port":10001}],"labels":{"HAPROXY_GROUP":"external"}},)"
      R"({"id":"/db","portDefinitions":[{"port":10002}],"labels":{"HAPROXY_GROUP":"external"}}])";
  std::vector<controller::MarathonApp> apps;
  for (const std::string& json :
       {running, std::string(R"({"id":"/web","portDefinitions":[{"port":10002}],)"
                             R"("labels":{"HAPROXY_GROUP":"external"}})")}) {
    std::string body =
        json.front() == '[' ? R"({"apps":)" + json + "}" : R"({"apps":[)" + json + "]}";
    body.reserve(body.size() + controller::kJsonPadding);
    auto parsed = controller::parseApps(body);
    ASSERT_TRUE(parsed) << parsed.error().message;
    apps.insert(apps.end(), parsed->apps.begin(), parsed->apps.end());
  }
  controller::BuildOptions options;
  options.groups = {"external"};
  std::string text;
  for (const auto& f : lintApps(apps, options)) {
    text += f.app_id + ": " + f.text + "\n";
  }
  EXPECT_NE(text.find("/web: replaced by a later definition"), std::string::npos) << text;
  EXPECT_NE(text.find("/web: port 0: service port 10002 is also claimed by /db"), std::string::npos)
      << text;
}

TEST(Lint, BlueAndGreenOfOneDeploymentGroupShareTheirPortAndVhost) {
  const std::string colour = R"({"id":"/web-%s","portDefinitions":[{"port":%d}],"labels":{
      "HAPROXY_GROUP":"external","HAPROXY_0_VHOST":"web.example.com","HAPROXY_0_PORT":"10001",
      "HAPROXY_DEPLOYMENT_GROUP":"web","HAPROXY_DEPLOYMENT_ALT_PORT":"10002",
      "HAPROXY_DEPLOYMENT_COLOUR":"%s","HAPROXY_DEPLOYMENT_STARTED_AT":"%s"}})";
  char blue[1024], green[1024];
  std::snprintf(blue, sizeof blue, colour.c_str(), "blue", 10001, "blue", "2020-01-01T00:00:00Z");
  std::snprintf(green, sizeof green, colour.c_str(), "green", 10002, "green",
                "2020-01-02T00:00:00Z");
  auto r = lint(std::string("[") + blue + "," + green + "]");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_FALSE(has(r, "also claimed")) << r.out;
}

// --marathon URL: a new definition checked against the running apps; the running
// apps' own findings and their collisions among themselves are not reported.
TEST(Lint, TheRunningAppsOfMarathonAreCollidedWith) {
  const std::string running = R"({"apps":[
      {"id":"/broken","portDefinitions":"not a list"},
      {"id":"/web","portDefinitions":[{"port":10001}],"labels":{"HAPROXY_GROUP":"external"}},
      {"id":"/db","portDefinitions":[{"port":10002}],"labels":{"HAPROXY_GROUP":"external"}},
      {"id":"/x","portDefinitions":[{"port":10003}],"labels":{"HAPROXY_GROUP":"external"}},
      {"id":"/y","portDefinitions":[{"port":10003}],"labels":{"HAPROXY_GROUP":"external"}}]})";
  std::vector<std::string> urls;
  HttpGetFn get = [&](const std::string& url) -> common::Result<HttpGetReply> {
    urls.push_back(url);
    return HttpGetReply{200, running};
  };
  std::istringstream in(R"({"id":"/web","portDefinitions":[{"port":10002}],)"
                        R"("labels":{"HAPROXY_GROUP":"external"}})");
  std::ostringstream out, err;
  int code = runLint({"--marathon", "http://m:8080/", "-"}, in, out, err, get);
  EXPECT_EQ(code, 1) << out.str();
  EXPECT_EQ(urls, (std::vector<std::string>{"http://m:8080/v2/apps"}));
  EXPECT_NE(out.str().find("/web: error: port 0: service port 10002 is also claimed by /db"),
            std::string::npos)
      << out.str();
  EXPECT_EQ(out.str().find("/y:"), std::string::npos) << out.str();  // theirs, not ours
  EXPECT_EQ(out.str().find("/db: ok"), std::string::npos) << out.str();
  // A running app that cannot be read is said, and fails nothing by itself.
  EXPECT_NE(out.str().find("ok: running app not linted"), std::string::npos) << out.str();
  EXPECT_EQ(out.str().find("error: cannot be read"), std::string::npos) << out.str();
  std::istringstream in2("{}");
  std::ostringstream out2, err2;
  HttpGetFn down = [](const std::string&) -> common::Result<HttpGetReply> {
    return common::Error{common::ErrorCode::Unavailable, "m:8080: Connection refused"};
  };
  EXPECT_EQ(runLint({"--marathon", "http://m:8080", "-"}, in2, out2, err2, down), 1);
  EXPECT_NE(out2.str().find("cannot read the running apps: m:8080: Connection refused"),
            std::string::npos)
      << out2.str();
}

// --templates-dir: the controller's templates, rendered with the apps as the controller
// would (issue 23: a head that conflicts with mlb's stats socket is refused by the
// controller; lint says so before the deploy).
Run lintWithTemplates(const std::map<std::string, std::string>& files) {
  common::testing::FakeFileSystem fs(files);
  std::istringstream in(app(R"("HAPROXY_GROUP":"external")"));
  std::ostringstream out, err;
  int code = runLint({"--templates-dir", "/t", "-"}, in, out, err, {}, fs);
  return {code, out.str() + err.str()};
}

TEST(Lint, TemplatesThatConflictWithMlbsStatsSocketAreErrors) {
  const std::string head =
      "global\n  daemon\n  stats socket /var/run/haproxy/socket\n"
      "defaults\n  mode http\n";
  // marathon-lb's own kind of head: mlb's socket is added, nothing to say.
  auto theirs = lintWithTemplates({{"/t/HAPROXY_HEAD", head}});
  EXPECT_EQ(theirs.code, 0) << theirs.out;
  EXPECT_FALSE(has(theirs, "error")) << theirs.out;
  // mlb's socket without what the reloader needs.
  auto weak = lintWithTemplates(
      {{"/t/HAPROXY_HEAD", "global\n  stats socket /run/mlb/stats.sock level user\n"}});
  EXPECT_EQ(weak.code, 1) << weak.out;
  EXPECT_TRUE(has(weak, "/t: error:") && has(weak, "level admin")) << weak.out;
  auto no_global = lintWithTemplates({{"/t/HAPROXY_HEAD", "defaults\n  mode http\n"}});
  EXPECT_EQ(no_global.code, 1) << no_global.out;
  EXPECT_TRUE(has(no_global, "global")) << no_global.out;
  auto broken = lintWithTemplates({{"/t/HAPROXY_BACKEND_HEAD.mustache", "{{#backend}}\n"}});
  EXPECT_EQ(broken.code, 1) << broken.out;
  EXPECT_TRUE(has(broken, "HAPROXY_BACKEND_HEAD")) << broken.out;
  auto missing = lintWithTemplates({});
  EXPECT_EQ(missing.code, 1) << missing.out;
}

TEST(Lint, TemplatesAreCheckedUnderTheControllersStateDir) {
  common::testing::FakeFileSystem fs(std::map<std::string, std::string>{
      {"/t/HAPROXY_HEAD", "global\n  stats socket /var/lib/mlb/stats.sock level user\n"}});
  auto run = [&](std::vector<std::string> flags) {
    flags.insert(flags.begin(), {"--templates-dir", "/t"});
    flags.push_back("-");
    std::istringstream in(app(R"("HAPROXY_GROUP":"external")"));
    std::ostringstream out, err;
    return runLint(flags, in, out, err, {}, fs);
  };
  EXPECT_EQ(run({}), 0);  // another socket than mlb's at /run/mlb
  EXPECT_EQ(run({"--state-dir", "/var/lib/mlb"}), 1);
}

TEST(Lint, ListsAnswersAndGarbage) {
  auto list = lint(
      "[" + app(R"("HAPROXY_GROUP":"external")") + "," +
      R"({"id":"/db","portDefinitions":[{"port":10002}],"labels":{"HAPROXY_GROUP":"external"}}])");
  EXPECT_EQ(list.code, 0) << list.out;
  EXPECT_TRUE(has(list, "/web: ok: port 0") && has(list, "/db: ok: port 0")) << list.out;
  auto answer = lint(R"({"apps":[)" + app(R"("HAPROXY_GROUP":"external")") + "]}");
  EXPECT_TRUE(has(answer, "/web: ok: port 0")) << answer.out;
  auto garbage = lint("not json");
  EXPECT_EQ(garbage.code, 1);
  EXPECT_TRUE(has(garbage, "error")) << garbage.out;
  auto bad_flag = lint("{}", {"--bogus"});
  EXPECT_EQ(bad_flag.code, 2);
}

}  // namespace
}  // namespace mlb::cli
