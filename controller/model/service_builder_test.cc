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
  for (const Service& s : m.services) {
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

// A proxy-pass path without a vhost is served, as marathon-lb served it (without the
// Host rewrite), with a warning naming the labels; with a vhost, in tcp mode, with its
// own glue template, or on a port this LB does not serve, no warning.
TEST(ServiceBuilderTest, ProxyPassWithoutVhostIsServedWithAWarning) {
  const std::string pp =
      R"("HAPROXY_GROUP":"external","HAPROXY_0_HTTP_BACKEND_PROXYPASS_PATH":"/api")";
  const std::string own_glue =
      R"(,"HAPROXY_0_HTTP_BACKEND_PROXYPASS_GLUE":"  http-request replace-path ^{proxypath}/?(.*)$ /\\1\n")";
  auto m = buildServices(
      apps(
          R"({"apps":[)" +
          hostApp("/novhost", pp + R"(,"HAPROXY_0_MODE":"http")", 10040, task("a", "10.0.0.1", 1)) +
          "," + hostApp("/tcp", pp, 10041, task("b", "10.0.0.2", 2)) + "," +
          hostApp("/vhost", pp + R"(,"HAPROXY_0_VHOST":"api.example.com")", 10042,
                  task("c", "10.0.0.3", 3)) +
          "," +
          hostApp("/ownglue", pp + R"(,"HAPROXY_0_MODE":"http")" + own_glue, 10043,
                  task("d", "10.0.0.4", 4)) +
          "," +
          hostApp("/internal", pp + R"(,"HAPROXY_0_MODE":"http","HAPROXY_0_GROUP":"internal")",
                  10044, task("e", "10.0.0.5", 5)) +
          "]}"),
      opts({"external"}));
  EXPECT_TRUE(m.quarantined.empty());
  ASSERT_EQ(m.warnings.size(), 1u);
  EXPECT_EQ(m.warnings[0].app_id, "/novhost");
  EXPECT_EQ(m.warnings[0].port_index, 0);
  EXPECT_EQ(m.warnings[0].kind, kWarnProxyPassWithoutVhost);
  EXPECT_NE(m.warnings[0].text.find("HAPROXY_0_HTTP_BACKEND_PROXYPASS_PATH"), std::string::npos);
  EXPECT_NE(m.warnings[0].text.find("HAPROXY_0_VHOST"), std::string::npos);
  EXPECT_NE(find(m, "novhost_10040"), nullptr);
  EXPECT_NE(find(m, "tcp_10041"), nullptr);
  EXPECT_NE(find(m, "vhost_10042"), nullptr);
  EXPECT_NE(find(m, "ownglue_10043"), nullptr);   // served; its own glue: no warning
  EXPECT_EQ(find(m, "internal_10044"), nullptr);  // another LB's: no warning here either
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
  EXPECT_EQ(strict.services[0]->backend, "on_4");
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
  EXPECT_EQ(all.services[0]->servers.size(), 4u);  // health ignored, staging dropped
  EXPECT_EQ(all.services[0]->mode, "http");        // HTTP health check pre-sets http
  auto o = opts();
  o.health_check = true;
  auto checked = buildServices(apps(json), o);
  ASSERT_EQ(checked.services.size(), 1u);
  EXPECT_EQ(checked.services[0]->servers.size(), 2u);  // alive + unreachable-but-alive
  o.unknown_health = [](const std::string& id) -> std::optional<bool> {
    return id == "unknown" ? std::optional<bool>(true) : std::nullopt;
  };
  EXPECT_EQ(buildServices(apps(json), o).services[0]->servers.size(), 3u);
}

TEST(ServiceBuilderTest, TasksNoMarathonCheckSaysAliveAreUnproven) {
  // Served without --health-check: HAProxy holds them DOWN until its own checks pass.
  const std::string json =
      R"({"apps":[{"id":"/h","portDefinitions":[{"port":10}],
      "healthChecks":[{"protocol":"HTTP","portIndex":0,"path":"/ok"}],
      "tasks":[
        {"id":"alive","host":"10.0.0.1","state":"TASK_RUNNING","ports":[1],"healthCheckResults":[{"alive":true}]},
        {"id":"dead","host":"10.0.0.2","state":"TASK_RUNNING","ports":[2],"healthCheckResults":[{"alive":false}]},
        {"id":"unknown","host":"10.0.0.3","state":"TASK_RUNNING","ports":[3]}]},
      {"id":"/n","portDefinitions":[{"port":11}],
      "tasks":[{"id":"n1","host":"10.0.0.4","state":"TASK_RUNNING","ports":[4]}]}]})";
  auto m = buildServices(apps(json), opts());
  std::map<std::string, bool> unproven;
  for (const Service& s : m.services) {
    for (const auto& srv : s.servers) {
      unproven[srv.task_id] = srv.unproven;
    }
  }
  const std::map<std::string, bool> want = {
      {"alive", false}, {"dead", true}, {"unknown", true}, {"n1", false}};  // n1: no checks
  EXPECT_EQ(unproven, want);
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
  const int port = m1.services[0]->service_port;
  EXPECT_GE(port, 10050);
  EXPECT_LE(port, 10100);
  EXPECT_EQ(port, m2.services[0]->service_port);
  EXPECT_EQ(m1.services[0]->servers[0].ip, "9.0.0.1");
  EXPECT_EQ(m1.services[0]->servers[0].port, 80);
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
  // marathon-lb merges by the label's value: "/app" (an app id as the group) on one
  // colour names the same group as "app" on the other.
  std::string slashed = json;
  slashed.replace(slashed.find("\"HAPROXY_DEPLOYMENT_GROUP\":\"app\""),
                  std::string("\"HAPROXY_DEPLOYMENT_GROUP\":\"app\"").size(),
                  "\"HAPROXY_DEPLOYMENT_GROUP\":\"/app\"");
  auto m2 = buildServices(apps(slashed), opts());
  ASSERT_EQ(m2.services.size(), 1u);
  EXPECT_EQ(m2.services[0]->servers.size(), 5u);
  EXPECT_TRUE(m2.quarantined.empty());
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
  ASSERT_EQ(a.services.at(0)->servers.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(a.services[0]->servers[i].ip, b.services[0]->servers[i].ip);
    EXPECT_EQ(a.services[0]->servers[i].id, b.services[0]->servers[i].id);
  }
}

// An IP-per-task app whose tasks carry the given JSON fields (one task per entry).
std::string ipPerTaskApp(const std::vector<std::string>& tasks) {
  std::string json =
      R"({"apps":[{"id":"/ippt","container":{"portMappings":[{"containerPort":8080,"servicePort":10700}]},
      "networks":[{"mode":"container"}],"tasks":[)";
  for (size_t i = 0; i < tasks.size(); ++i) {
    json += (i ? "," : "") + std::string(R"({"state":"TASK_RUNNING",)") + tasks[i] + "}";
  }
  return json + "]}]}";
}

// The reproduction of issue #11: a task address that carries a newline rendered a
// second, attacker-chosen server line. The task is skipped, its app still routes.
TEST(ServiceBuilderTest, TaskAddressCannotInjectAServer) {
  auto m = buildServices(
      apps(ipPerTaskApp(
          {R"("id":"evil","host":"10.0.0.1","ipAddresses":[{"ipAddress":"9.0.0.1:1 check\n  server evil 6.6.6.6"}])",
           R"("id":"good","host":"10.0.0.2","ipAddresses":[{"ipAddress":"9.0.0.2"}])"})),
      opts());
  ASSERT_EQ(m.services.size(), 1u);
  ASSERT_EQ(m.services[0]->servers.size(), 1u);
  EXPECT_EQ(m.services[0]->servers[0].ip, "9.0.0.2");
  ASSERT_EQ(m.skipped_tasks.size(), 1u);
  EXPECT_EQ(m.skipped_tasks[0].app_id, "/ippt");
  EXPECT_EQ(m.skipped_tasks[0].task_id, "evil");
  EXPECT_EQ(m.skipped_tasks[0].reason, kSkipBadIpAddress);
}

// Every value of a task that reaches the config is checked; a bad one costs that
// task only, with a fixed reason.
TEST(ServiceBuilderTest, TasksWithUnsafeValuesAreSkippedWithTheReason) {
  struct Case {
    std::string name;
    std::string task;    // JSON fields of the task, beside its id and state
    std::string reason;  // empty: the task is routed
  };
  const std::vector<Case> cases = {
      {"ipv4", R"("host":"10.0.0.1","ipAddresses":[{"ipAddress":"9.0.0.1"}])", ""},
      {"ipv6", R"("host":"10.0.0.1","ipAddresses":[{"ipAddress":"fd00::1"}])", ""},
      {"agent host name", R"("host":"agent-1.example.com","ipAddresses":[{"ipAddress":"9.0.0.1"}])",
       ""},
      {"name not an ip", R"("host":"10.0.0.1","ipAddresses":[{"ipAddress":"web.local"}])",
       kSkipBadIpAddress},
      {"ip with port", R"("host":"10.0.0.1","ipAddresses":[{"ipAddress":"9.0.0.1:80"}])",
       kSkipBadIpAddress},
      {"ip with blank", R"("host":"10.0.0.1","ipAddresses":[{"ipAddress":"9.0.0.1 "}])",
       kSkipBadIpAddress},
      {"ip with NUL", R"("host":"10.0.0.1","ipAddresses":[{"ipAddress":"9.0.0.1\u0000x"}])",
       kSkipBadIpAddress},
      {"no ip", R"("host":"10.0.0.1")", kSkipNoIpAddress},
      {"host with newline",
       R"("host":"a\n  server evil 6.6.6.6:80","ipAddresses":[{"ipAddress":"9.0.0.1"}])",
       kSkipBadHost},
      {"host with blank", R"("host":"a b","ipAddresses":[{"ipAddress":"9.0.0.1"}])", kSkipBadHost},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto m = buildServices(apps(ipPerTaskApp({R"("id":"t",)" + c.task})), opts());
    if (c.reason.empty()) {
      EXPECT_TRUE(m.skipped_tasks.empty());
      ASSERT_EQ(m.services.size(), 1u);
      EXPECT_EQ(m.services[0]->servers.size(), 1u);
      continue;
    }
    EXPECT_TRUE(m.services.empty());
    ASSERT_EQ(m.skipped_tasks.size(), 1u);
    EXPECT_EQ(m.skipped_tasks[0].task_id, "t");
    EXPECT_EQ(m.skipped_tasks[0].reason, c.reason);
  }
}

TEST(ServiceBuilderTest, TaskIdWithControlCharacterIsSkipped) {
  auto m = buildServices(
      apps(ipPerTaskApp({R"("id":"t\nx","host":"10.0.0.1","ipAddresses":[{"ipAddress":"9.0.0.1"}])",
                         R"("id":"u","host":"10.0.0.1","ipAddresses":[{"ipAddress":"9.0.0.2"}])"})),
      opts());
  ASSERT_EQ(m.services.size(), 1u);
  EXPECT_EQ(m.services[0]->servers.size(), 1u);
  ASSERT_EQ(m.skipped_tasks.size(), 1u);
  EXPECT_EQ(m.skipped_tasks[0].task_id, "t\nx");
  EXPECT_EQ(m.skipped_tasks[0].reason, kSkipBadTaskId);
}

TEST(ServiceBuilderTest, TaskPortsOutsideTheRangeAreSkipped) {
  for (int port : {0, -1, 65536, 2147483647}) {
    SCOPED_TRACE(port);
    auto m = buildServices(
        apps("{\"apps\":[" +
             hostApp("/p", "", 10800,
                     task("bad", "10.0.0.1", port) + "," + task("good", "10.0.0.2", 31000)) +
             "]}"),
        opts());
    ASSERT_EQ(m.services.size(), 1u);
    ASSERT_EQ(m.services[0]->servers.size(), 1u);
    EXPECT_EQ(m.services[0]->servers[0].task_id, "good");
    ASSERT_EQ(m.skipped_tasks.size(), 1u);
    EXPECT_EQ(m.skipped_tasks[0].task_id, "bad");
    EXPECT_EQ(m.skipped_tasks[0].reason, kSkipBadPort);
  }
}

// An agent known by name needs a resolver; without one, or when it fails, the task
// is no longer dropped silently.
TEST(ServiceBuilderTest, UnresolvableAgentHostIsSkippedVisibly) {
  const std::string json =
      "{\"apps\":[" +
      hostApp("/h", "", 10900,
              task("named", "agent-1.example.com", 31000) + "," + task("ip", "10.0.0.2", 31001)) +
      "]}";
  auto none = buildServices(apps(json), opts());
  ASSERT_EQ(none.services.size(), 1u);
  EXPECT_EQ(none.services[0]->servers.size(), 1u);
  ASSERT_EQ(none.skipped_tasks.size(), 1u);
  EXPECT_EQ(none.skipped_tasks[0].app_id, "/h");
  EXPECT_EQ(none.skipped_tasks[0].task_id, "named");
  EXPECT_EQ(none.skipped_tasks[0].reason, kSkipUnresolvableHost);

  auto o = opts();
  o.resolve_host = [](const std::string& host) -> std::optional<std::string> {
    if (host == "agent-1.example.com") {
      return "10.0.0.1";
    }
    return std::nullopt;
  };
  auto resolved = buildServices(apps(json), o);
  EXPECT_TRUE(resolved.skipped_tasks.empty());
  EXPECT_EQ(resolved.services.at(0)->servers.size(), 2u);

  // A resolver's answer is checked like any other address.
  o.resolve_host = [](const std::string&) -> std::optional<std::string> {
    return "10.0.0.1 backup";
  };
  auto garbage = buildServices(apps(json), o);
  ASSERT_EQ(garbage.skipped_tasks.size(), 1u);
  EXPECT_EQ(garbage.skipped_tasks[0].reason, kSkipUnresolvableHost);
}

// The auto-assigned service ports of an IP-per-task app come from its first usable
// task: a bad first task does not take the whole app down.
TEST(ServiceBuilderTest, BadFirstTaskDoesNotHideAnIpPerTaskApp) {
  const std::string json =
      R"({"apps":[{"id":"/auto","container":{"portMappings":[{"containerPort":80}]},
      "networks":[{"mode":"container"}],"tasks":[
        {"id":"a","host":"10.0.0.1","state":"TASK_RUNNING","ipAddresses":[{"ipAddress":"x y"}]},
        {"id":"b","host":"10.0.0.1","state":"TASK_RUNNING","ipAddresses":[{"ipAddress":"9.0.0.2"}]}]}]})";
  auto m = buildServices(apps(json), opts());
  ASSERT_EQ(m.services.size(), 1u);
  EXPECT_EQ(m.services[0]->servers.size(), 1u);
  EXPECT_EQ(m.skipped_tasks.size(), 1u);
}

// A service port or health-check port outside 1-65535 would make `haproxy -c` refuse
// the whole config: that port is quarantined instead.
TEST(ServiceBuilderTest, ServiceAndCheckPortsOutsideTheRangeQuarantineThatPort) {
  auto m =
      buildServices(apps(R"({"apps":[{"id":"/big","portDefinitions":[{"port":70000},{"port":10950}],
        "tasks":[{"id":"t","host":"10.0.0.1","state":"TASK_RUNNING","ports":[1,2]}]},
        {"id":"/hc","portDefinitions":[{"port":10960}],
        "healthChecks":[{"protocol":"TCP","port":65536}],
        "tasks":[{"id":"u","host":"10.0.0.1","state":"TASK_RUNNING","ports":[3]}]}]})"),
                    opts());
  ASSERT_EQ(m.services.size(), 1u);
  EXPECT_EQ(m.services[0]->backend, "big_10950");
  ASSERT_EQ(m.quarantined.size(), 2u);
  EXPECT_EQ(m.quarantined[0].app_id, "/big");
  EXPECT_EQ(m.quarantined[0].port_index, 0);
  EXPECT_NE(m.quarantined[0].reason.find("70000"), std::string::npos);
  EXPECT_EQ(m.quarantined[1].app_id, "/hc");
  EXPECT_NE(m.quarantined[1].reason.find("65536"), std::string::npos);
}

// instances: 2147483647 on both apps made healthy + instances - target overflow int
// (issue #11): it wrapped negative and nothing drained.
TEST(ServiceBuilderTest, BlueGreenDrainCountDoesNotOverflow) {
  const std::string json = R"({"apps":[
    {"id":"/app-blue","instances":2147483647,"labels":{"HAPROXY_DEPLOYMENT_GROUP":"app",
      "HAPROXY_DEPLOYMENT_STARTED_AT":"2020-01-01T00:00:00Z","HAPROXY_0_PORT":"10500"},
      "portDefinitions":[{"port":10500}],
      "tasks":[{"id":"b1","host":"10.0.0.1","state":"TASK_RUNNING","ports":[1]},
               {"id":"b2","host":"10.0.0.2","state":"TASK_RUNNING","ports":[2]}]},
    {"id":"/app-green","instances":2147483647,"labels":{"HAPROXY_DEPLOYMENT_GROUP":"app",
      "HAPROXY_DEPLOYMENT_STARTED_AT":"2020-02-01T00:00:00Z","HAPROXY_DEPLOYMENT_TARGET_INSTANCES":"1",
      "HAPROXY_0_PORT":"10500"},
      "portDefinitions":[{"port":10501}],
      "tasks":[{"id":"g1","host":"10.0.0.4","state":"TASK_RUNNING","ports":[4]}]}]})";
  auto m = buildServices(apps(json), opts());
  ASSERT_EQ(m.services.size(), 1u);
  ASSERT_EQ(m.services[0]->servers.size(), 3u);
  // healthy new = 2^31 - 1 (no health checks: instances), drainable = 2^32 - 3: both
  // old tasks drain.
  for (const auto& srv : m.services[0]->servers) {
    EXPECT_EQ(srv.draining, srv.task_id != "g1") << srv.task_id;
  }
}

}  // namespace
}  // namespace mlb::controller

namespace mlb::controller {
namespace {

TEST(ServiceBuilder, CollidingBackendNamesOfTwoAppsQuarantineTheSecond) {
  // /a/b and /a_b on one service port both name their backend a_b_10000; another
  // app sorts between them, so the two are not neighbours.
  auto m =
      buildServices(apps("{\"apps\":[" + hostApp("/a/b", "", 10000, task("t1", "10.0.0.1", 31000)) +
                         "," + hostApp("/a/c", "", 10001, task("t2", "10.0.0.2", 31001)) + "," +
                         hostApp("/a_b", "", 10000, task("t3", "10.0.0.3", 31002)) + "]}"),
                    opts());
  ASSERT_EQ(m.services.size(), 2u);
  EXPECT_EQ(m.services[0]->app_id, "/a/b");
  EXPECT_EQ(m.services[1]->app_id, "/a/c");
  ASSERT_EQ(m.quarantined.size(), 1u);
  EXPECT_EQ(m.quarantined[0].app_id, "/a_b");
  EXPECT_NE(m.quarantined[0].reason.find("already defined by /a/b"), std::string::npos)
      << m.quarantined[0].reason;
}

}  // namespace
}  // namespace mlb::controller
