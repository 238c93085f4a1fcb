#include "controller/model/service_builder.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "controller/marathon/app_json.h"

namespace mlb::controller {
namespace {

std::vector<MarathonApp> apps(const std::string& json) {
  std::string body = json;
  body.reserve(body.size() + kJsonPadding);
  auto parsed = parseApps(body);
  EXPECT_TRUE(parsed.has_value()) << parsed.error().message;
  EXPECT_TRUE(parsed->skipped.empty());
  return parsed->apps;
}

BuildOptions opts(std::vector<std::string> groups = {"*"}) {
  BuildOptions o;
  o.groups = std::move(groups);
  return o;
}

std::string hostApp(const std::string& id, const std::string& labels, int port,
                    const std::string& tasks) {
  return R"({"id":")" + id + R"(","instances":1,"labels":{)" + labels +
         R"(},"portDefinitions":[{"port":)" + std::to_string(port) + R"(}],"tasks":[)" + tasks +
         "]}";
}

std::string task(const std::string& id, const std::string& host, int port,
                 const std::string& extra = "") {
  return R"({"id":")" + id + R"(","host":")" + host + R"(","state":"TASK_RUNNING","ports":[)" +
         std::to_string(port) + "]" + extra + "}";
}

const Service* find(const ServiceModel& m, const std::string& backend) {
  for (const auto& s : m.services) {
    if (s.backend == backend) {
      return &s;
    }
  }
  return nullptr;
}

TEST(ServiceBuilderTest, BuildsNamesModesAndSortedServers) {
  auto m = buildServices(
      apps("{\"apps\":[" +
           hostApp("/shop/web", R"("HAPROXY_0_VHOST":"Shop.example.com")", 10001,
                   task("b", "10.0.0.2", 31000) + "," + task("a", "10.0.0.11", 31000) + "," +
                       task("c", "10.0.0.11", 30000)) +
           "]}"),
      opts());
  ASSERT_EQ(m.services.size(), 1u);
  const Service& s = m.services[0];
  EXPECT_EQ(s.backend, "shop_web_10001");
  EXPECT_EQ(s.mode, "http");
  EXPECT_EQ(s.hostname, "shop.example.com");
  ASSERT_EQ(s.servers.size(), 3u);
  // (host, port) as strings: "10.0.0.11" < "10.0.0.2".
  EXPECT_EQ(s.servers[0].name, "10_0_0_11_30000");
  EXPECT_EQ(s.servers[1].name, "10_0_0_11_31000");
  EXPECT_EQ(s.servers[2].name, "10_0_0_2_31000");
  EXPECT_GT(s.servers[0].id, 0);
  EXPECT_NE(s.servers[0].id, s.servers[1].id);
}

TEST(ServiceBuilderTest, BadLabelQuarantinesOnlyThatPort) {
  auto m = buildServices(
      apps(
          R"({"apps":[{"id":"/two","labels":{"HAPROXY_0_PORT":"http","HAPROXY_1_VHOST":"ok.example.com"},
        "portDefinitions":[{"port":10010},{"port":10011}],
        "tasks":[{"id":"t","host":"10.0.0.1","state":"TASK_RUNNING","ports":[1,2]}]},)" +
          hostApp("/other", R"("HAPROXY_0_VHOST":"bad\nhost")", 10020, task("o", "10.0.0.3", 5)) +
          "," + hostApp("/fine", "", 10030, task("f", "10.0.0.4", 6)) + "]}"),
      opts());
  ASSERT_EQ(m.quarantined.size(), 2u);
  EXPECT_EQ(m.quarantined[0].app_id, "/other");
  EXPECT_NE(m.quarantined[0].reason.find("HAPROXY_0_VHOST"), std::string::npos);
  EXPECT_EQ(m.quarantined[1].app_id, "/two");
  EXPECT_EQ(m.quarantined[1].port_index, 0);
  EXPECT_NE(m.quarantined[1].reason.find("HAPROXY_0_PORT"), std::string::npos);
  EXPECT_NE(find(m, "two_10011"), nullptr);  // the app's other port still goes out
  EXPECT_NE(find(m, "fine_10030"), nullptr);
  EXPECT_EQ(find(m, "other_10020"), nullptr);
}

// HAProxy refuses the default proxy-pass glue without a vhost (its Host header would
// be empty): that port is quarantined with the reason; with a vhost, in tcp mode, or
// with its own glue template, the label is fine.
TEST(ServiceBuilderTest, ProxyPassWithoutVhostQuarantinesThatPort) {
  const std::string pp = R"("HAPROXY_0_HTTP_BACKEND_PROXYPASS_PATH":"/api")";
  auto m = buildServices(
      apps(
          R"({"apps":[)" +
          hostApp("/novhost", pp + R"(,"HAPROXY_0_MODE":"http")", 10040, task("a", "10.0.0.1", 1)) +
          "," + hostApp("/tcp", pp, 10041, task("b", "10.0.0.2", 2)) + "," +
          hostApp("/vhost", pp + R"(,"HAPROXY_0_VHOST":"api.example.com")", 10042,
                  task("c", "10.0.0.3", 3)) +
          "," +
          hostApp(
              "/ownglue",
              pp +
                  R"(,"HAPROXY_0_MODE":"http","HAPROXY_0_HTTP_BACKEND_PROXYPASS_GLUE":"  http-request replace-path ^{proxypath}/?(.*)$ /\\1\n")",
              10043, task("d", "10.0.0.4", 4)) +
          "]}"),
      opts());
  ASSERT_EQ(m.quarantined.size(), 1u);
  EXPECT_EQ(m.quarantined[0].app_id, "/novhost");
  EXPECT_NE(m.quarantined[0].reason.find("HAPROXY_0_HTTP_BACKEND_PROXYPASS_PATH"),
            std::string::npos);
  EXPECT_NE(m.quarantined[0].reason.find("HAPROXY_0_VHOST"), std::string::npos);
  EXPECT_EQ(find(m, "novhost_10040"), nullptr);
  EXPECT_NE(find(m, "tcp_10041"), nullptr);
  EXPECT_NE(find(m, "vhost_10042"), nullptr);
  EXPECT_NE(find(m, "ownglue_10043"), nullptr);
}

TEST(ServiceBuilderTest, GroupsStrictModeAndPerPortGroups) {
  const std::string json =
      "{\"apps\":[" +
      hostApp("/ext", R"("HAPROXY_GROUP":"external")", 1, task("a", "10.0.0.1", 5)) + "," +
      hostApp("/int", R"("HAPROXY_GROUP":"internal","HAPROXY_0_GROUP":"external")", 2,
              task("b", "10.0.0.1", 6)) +
      "," + hostApp("/none", "", 3, task("c", "10.0.0.1", 7)) + "," +
      hostApp("/on", R"("HAPROXY_GROUP":"external","HAPROXY_0_ENABLED":"true")", 4,
              task("d", "10.0.0.1", 8)) +
      "]}";
  auto ext = buildServices(apps(json), opts({"external"}));
  EXPECT_EQ(ext.services.size(), 3u);
  EXPECT_EQ(find(ext, "none_3"), nullptr);
  EXPECT_EQ(buildServices(apps(json), opts({"*"})).services.size(), 4u);
  auto strict_opts = opts({"external"});
  strict_opts.strict_mode = true;
  auto strict = buildServices(apps(json), strict_opts);
  ASSERT_EQ(strict.services.size(), 1u);
  EXPECT_EQ(strict.services[0].backend, "on_4");
}

TEST(ServiceBuilderTest, HealthCheckFilterAndUnknownHealth) {
  const std::string json =
      R"({"apps":[{"id":"/h","portDefinitions":[{"port":10}],
      "healthChecks":[{"protocol":"HTTP","portIndex":0,"path":"/ok"}],
      "tasks":[
        {"id":"alive","host":"10.0.0.1","state":"TASK_RUNNING","ports":[1],"healthCheckResults":[{"alive":true}]},
        {"id":"dead","host":"10.0.0.2","state":"TASK_RUNNING","ports":[2],"healthCheckResults":[{"alive":false}]},
        {"id":"unknown","host":"10.0.0.3","state":"TASK_RUNNING","ports":[3]},
        {"id":"lost","host":"10.0.0.4","state":"TASK_UNREACHABLE","ports":[4],"healthCheckResults":[{"alive":true}]},
        {"id":"staging","host":"10.0.0.5","state":"TASK_STAGING","ports":[5],"healthCheckResults":[{"alive":true}]}]}]})";
  auto all = buildServices(apps(json), opts());
  ASSERT_EQ(all.services.size(), 1u);
  EXPECT_EQ(all.services[0].servers.size(), 4u);  // health ignored, staging dropped
  EXPECT_EQ(all.services[0].mode, "http");        // HTTP health check pre-sets http
  auto o = opts();
  o.health_check = true;
  auto checked = buildServices(apps(json), o);
  ASSERT_EQ(checked.services.size(), 1u);
  EXPECT_EQ(checked.services[0].servers.size(), 2u);  // alive + unreachable-but-alive
  o.unknown_health = [](const std::string& id) -> std::optional<bool> {
    return id == "unknown" ? std::optional<bool>(true) : std::nullopt;
  };
  EXPECT_EQ(buildServices(apps(json), o).services[0].servers.size(), 3u);
}

TEST(ServiceBuilderTest, AutoAssignsIpPerTaskPortsDeterministically) {
  const std::string a =
      R"({"id":"/ippt/a","container":{"type":"DOCKER","portMappings":[{"containerPort":80}]},
      "networks":[{"mode":"container","name":"dcos"}],
      "tasks":[{"id":"t1","host":"10.0.0.1","state":"TASK_RUNNING","ipAddresses":[{"ipAddress":"9.0.0.1"}]}]})";
  const std::string json = std::string(R"({"apps":[)") + a + "]}";
  auto m1 = buildServices(apps(json), opts());
  auto m2 = buildServices(apps(json), opts());
  ASSERT_EQ(m1.services.size(), 1u);
  const int port = m1.services[0].service_port;
  EXPECT_GE(port, 10050);
  EXPECT_LE(port, 10100);
  EXPECT_EQ(port, m2.services[0].service_port);
  EXPECT_EQ(m1.services[0].servers[0].ip, "9.0.0.1");
  EXPECT_EQ(m1.services[0].servers[0].port, 80);
  auto off = opts();
  off.min_serv_port_ip_per_task = 0;
  off.max_serv_port_ip_per_task = 0;
  EXPECT_TRUE(buildServices(apps(json), off).services.empty());
}

TEST(ServiceBuilderTest, BlueGreenMergeDrainsOldTasks) {
  const std::string json = R"({"apps":[
    {"id":"/app-blue","instances":3,"labels":{"HAPROXY_DEPLOYMENT_GROUP":"app",
      "HAPROXY_DEPLOYMENT_STARTED_AT":"2020-01-01T00:00:00Z","HAPROXY_0_PORT":"10500"},
      "portDefinitions":[{"port":10500}],
      "tasks":[{"id":"b1","host":"10.0.0.1","state":"TASK_RUNNING","ports":[1]},
               {"id":"b2","host":"10.0.0.2","state":"TASK_RUNNING","ports":[2]},
               {"id":"b3","host":"10.0.0.3","state":"TASK_RUNNING","ports":[3]}]},
    {"id":"/app-green","instances":2,"labels":{"HAPROXY_DEPLOYMENT_GROUP":"app",
      "HAPROXY_DEPLOYMENT_STARTED_AT":"2020-02-01T00:00:00Z","HAPROXY_DEPLOYMENT_TARGET_INSTANCES":"3",
      "HAPROXY_0_PORT":"10500"},
      "portDefinitions":[{"port":10501}],
      "tasks":[{"id":"g1","host":"10.0.0.4","state":"TASK_RUNNING","ports":[4]},
               {"id":"g2","host":"10.0.0.5","state":"TASK_RUNNING","ports":[5]}]}]})";
  auto m = buildServices(apps(json), opts());
  ASSERT_EQ(m.services.size(), 1u);
  const Service& s = m.services[0];
  EXPECT_EQ(s.backend, "app_10500");
  ASSERT_EQ(s.servers.size(), 5u);
  // healthy new = 2 (no health checks: instances), drainable = 2 + 3 - 3 = 2.
  int draining = static_cast<int>(std::count_if(s.servers.begin(), s.servers.end(),
                                                [](const Server& x) { return x.draining; }));
  EXPECT_EQ(draining, 2);
  for (const auto& srv : s.servers) {
    EXPECT_EQ(srv.draining, srv.task_id == "b1" || srv.task_id == "b2") << srv.task_id;
  }
}

TEST(ServiceBuilderTest, TotalOrderWhenTasksShareHostAndPort) {
  // Two IP-per-task tasks on one agent with the same container port: the order
  // must not depend on the input order.
  auto make = [](bool reversed) {
    std::string t1 =
        R"({"id":"x1","host":"10.0.0.1","state":"TASK_RUNNING","ipAddresses":[{"ipAddress":"9.0.0.2"}]})";
    std::string t2 =
        R"({"id":"x2","host":"10.0.0.1","state":"TASK_RUNNING","ipAddresses":[{"ipAddress":"9.0.0.1"}]})";
    return std::string(
               R"({"apps":[{"id":"/s","container":{"portMappings":[{"containerPort":80,"servicePort":10600}]},
      "networks":[{"mode":"container"}],"tasks":[)") +
           (reversed ? t2 + "," + t1 : t1 + "," + t2) + "]}]}";
  };
  auto a = buildServices(apps(make(false)), opts());
  auto b = buildServices(apps(make(true)), opts());
  ASSERT_EQ(a.services.at(0).servers.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(a.services[0].servers[i].ip, b.services[0].servers[i].ip);
    EXPECT_EQ(a.services[0].servers[i].id, b.services[0].servers[i].id);
  }
}

}  // namespace
}  // namespace mlb::controller
