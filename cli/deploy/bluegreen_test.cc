#include "cli/deploy/bluegreen.h"

#include <gtest/gtest.h>

namespace mlb::cli::deploy {
namespace {

Json definition() {
  return Json::parse(R"({"id": "/web", "instances": 3, "cmd": "serve",
    "portDefinitions": [{"port": 10001, "protocol": "tcp"}],
    "labels": {"HAPROXY_GROUP": "external", "HAPROXY_DEPLOYMENT_GROUP": "web",
               "HAPROXY_DEPLOYMENT_ALT_PORT": "10002"}})");
}

PlanOptions options() { return {1, 0, "2026-11-30T10:00:00.000001"}; }

TEST(PlanNewColour, TheFirstDeployIsBlueOnTheAppsOwnPortAtItsOwnSize) {
  auto plan = planNewColour(definition(), std::nullopt, options());
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ((*plan)["id"], "/web-blue");
  EXPECT_EQ(servicePort(*plan), 10001);
  EXPECT_EQ(instances(*plan), 3);
  EXPECT_EQ(label(*plan, "HAPROXY_DEPLOYMENT_COLOUR"), "blue");
  EXPECT_EQ(label(*plan, "HAPROXY_DEPLOYMENT_TARGET_INSTANCES"), "3");
  EXPECT_EQ(label(*plan, "HAPROXY_0_PORT"), "10001");
  EXPECT_EQ(label(*plan, "HAPROXY_APP_ID"), "/web");
  EXPECT_EQ(label(*plan, "HAPROXY_DEPLOYMENT_STARTED_AT"), "2026-11-30T10:00:00.000001");
  EXPECT_EQ(label(*plan, "HAPROXY_DEPLOYMENT_NEW_INSTANCES"), "0");  // as zdd.py writes it
}

TEST(PlanNewColour, AfterBlueComesGreenOnTheAltPortStartingSmall) {
  auto blue = planNewColour(definition(), std::nullopt, options());
  ASSERT_TRUE(blue);
  auto green = planNewColour(definition(), *blue, options());
  ASSERT_TRUE(green);
  EXPECT_EQ((*green)["id"], "/web-green");
  EXPECT_EQ(servicePort(*green), 10002);
  EXPECT_EQ(instances(*green), 1);
  EXPECT_EQ(label(*green, "HAPROXY_DEPLOYMENT_TARGET_INSTANCES"), "3");
  EXPECT_EQ(label(*green, "HAPROXY_0_PORT"), "10001");  // both colours serve the home port
  // ... and after green, blue again on the home port.
  auto blue2 = planNewColour(definition(), *green, options());
  ASSERT_TRUE(blue2);
  EXPECT_EQ((*blue2)["id"], "/web-blue");
  EXPECT_EQ(servicePort(*blue2), 10001);
}

TEST(PlanNewColour, HybridDeploysMarkTheSplitAndStartNoBiggerThanIt) {
  auto blue = planNewColour(definition(), std::nullopt, options());
  PlanOptions o = options();
  o.initial_instances = 5;
  o.new_instances = 2;
  auto green = planNewColour(definition(), *blue, o);
  ASSERT_TRUE(green);
  EXPECT_EQ(instances(*green), 2);
  EXPECT_EQ(label(*green, "HAPROXY_DEPLOYMENT_NEW_INSTANCES"), "2");
}

TEST(PlanNewColour, DockerPortMappingsAndMarathon14PortsCarryTheServicePort) {
  Json docker = definition();
  docker.erase("portDefinitions");
  docker["container"] = Json::parse(
      R"({"type": "DOCKER", "docker": {"image": "x", "portMappings": [{"containerPort": 80, "servicePort": 10001}]}})");
  auto blue = planNewColour(docker, std::nullopt, options());
  auto green = planNewColour(docker, *blue, options());
  ASSERT_TRUE(green);
  EXPECT_EQ((*green)["container"]["docker"]["portMappings"][0]["servicePort"], 10002);
  Json legacy = definition();
  legacy.erase("portDefinitions");
  legacy["ports"] = {10001};
  EXPECT_EQ(servicePort(legacy), 10001);  // bluegreen_deploy.py's only source (absent >= 1.5)
}

TEST(PlanNewColour, MissingLabelsOrPortAreNamed) {
  Json no_alt = definition();
  no_alt["labels"].erase("HAPROXY_DEPLOYMENT_ALT_PORT");
  auto r = planNewColour(no_alt, std::nullopt, options());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("HAPROXY_DEPLOYMENT_ALT_PORT"), std::string::npos);
  Json no_port = definition();
  no_port["portDefinitions"][0]["port"] = 0;
  EXPECT_FALSE(planNewColour(no_port, std::nullopt, options()));
  Json no_group = definition();
  no_group["labels"].erase("HAPROXY_DEPLOYMENT_GROUP");
  EXPECT_FALSE(planNewColour(no_group, std::nullopt, options()));
}

TEST(GroupApps, OnlyColouredAppsOfTheGroupOldestFirst) {
  Json apps = Json::parse(R"({"apps": [
    {"id": "/web-green", "labels": {"HAPROXY_DEPLOYMENT_GROUP": "/web", "HAPROXY_DEPLOYMENT_COLOUR": "green", "HAPROXY_DEPLOYMENT_STARTED_AT": "2026-11-30T10:00:00"}},
    {"id": "/web-blue", "labels": {"HAPROXY_DEPLOYMENT_GROUP": "web", "HAPROXY_DEPLOYMENT_COLOUR": "blue", "HAPROXY_DEPLOYMENT_STARTED_AT": "2026-11-29T10:00:00"}},
    {"id": "/web-plain", "labels": {"HAPROXY_DEPLOYMENT_GROUP": "web"}},
    {"id": "/other", "labels": {"HAPROXY_DEPLOYMENT_GROUP": "other", "HAPROXY_DEPLOYMENT_COLOUR": "blue"}}]})");
  auto g = groupApps(apps, "web");
  ASSERT_EQ(g.size(), 2U);
  EXPECT_EQ(g[0]["id"], "/web-blue");
  EXPECT_EQ(g[1]["id"], "/web-green");
}

const char* kCsv =
    "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,"
    "wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,"
    "lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,"
    "hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,"
    "cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,"
    "ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,"
    "check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,\n";

std::string row(const std::string& px, const std::string& sv, const std::string& status, int scur,
                const std::string& addr) {
  std::string r =
      px + "," + sv + ",0,0," + std::to_string(scur) + ",0,,0,0,0,,0,,0,0,0,0," + status;
  for (int i = 18; i < 73; ++i) {
    r += ",";
  }
  return r + "," + addr + ",,http,,\n";
}

Json task(const std::string& id, int port) {
  return {{"id", id},
          {"host", "127.0.0.1"},
          {"ports", {port}},
          {"ipAddresses", {{{"ipAddress", "127.0.0.1"}}}}};
}

TEST(StatsCsv, TheBackendsServersWithStatusSessionsAndAddress) {
  std::string csv = std::string(kCsv) + row("web_10001", "FRONTEND", "OPEN", 0, "") +
                    row("web_10001", "127_0_0_1_31001", "UP", 2, "127.0.0.1:31001") +
                    row("web_10001", "127_0_0_1_31002", "MAINT", 0, "127.0.0.1:31002") +
                    row("web_10001", "BACKEND", "UP", 2, "") +
                    row("other_10005", "127_0_0_1_31009", "UP", 0, "127.0.0.1:31009");
  auto s = parseStatsCsv(csv, "web_10001");
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_EQ(s->size(), 2U);
  EXPECT_EQ((*s)[0].status, "UP");
  EXPECT_EQ((*s)[0].scur, 2);
  EXPECT_EQ((*s)[1].addr, "127.0.0.1:31002");
  EXPECT_TRUE(serverIsTask((*s)[1], task("a.2", 31002)));
  EXPECT_FALSE(serverIsTask((*s)[1], task("a.1", 31001)));
  EXPECT_FALSE(parseStatsCsv("<html>503</html>", "web_10001"));
}

TEST(ReadDrain, OnlyOldTasksInMaintAndIdleOnEveryLbAreDrained) {
  Json old_app = {
      {"id", "/web-blue"}, {"instances", 2}, {"tasks", {task("b.1", 31001), task("b.2", 31002)}}};
  Json new_app = {{"id", "/web-green"}, {"instances", 1}, {"tasks", {task("g.1", 31003)}}};
  std::vector<ServerStat> lb1 = {{"127_0_0_1_31001", "", "MAINT", 0, 0},
                                 {"127_0_0_1_31002", "", "MAINT", 0, 0},
                                 {"127_0_0_1_31003", "", "UP", 0, 0}};
  std::vector<ServerStat> lb2 = lb1;
  lb2[1].scur = 1;  // still serving a session on the second LB
  auto v = readDrain({lb1, lb2}, old_app, new_app);
  EXPECT_TRUE(v.caught_up);
  EXPECT_EQ(v.up, 1);
  EXPECT_EQ(v.maint, 2);
  EXPECT_EQ(v.busy, 1);
  EXPECT_EQ(v.drained, std::vector<std::string>{"b.1"});
  EXPECT_EQ(v.maint_everywhere, (std::vector<std::string>{"b.1", "b.2"}));
  lb2.pop_back();  // an LB that has not seen the new task yet
  EXPECT_FALSE(readDrain({lb1, lb2}, old_app, new_app).caught_up);
}

TEST(NextInstances, FiftyPercentOrLinearThenTheTargetNeverAboveTheCap) {
  EXPECT_EQ(nextInstances(1, 10, 10, 0, 0), 2);
  EXPECT_EQ(nextInstances(2, 10, 10, 0, 0), 3);
  EXPECT_EQ(nextInstances(4, 10, 10, 0, 0), 6);
  EXPECT_EQ(nextInstances(6, 8, 10, 0, 0), 10);  // reaches the old size: the target
  EXPECT_EQ(nextInstances(1, 10, 10, 3, 0), 4);
  EXPECT_EQ(nextInstances(4, 10, 10, 0, 5), 5);
  EXPECT_EQ(nextInstances(5, 10, 10, 0, 5), 5);
}

}  // namespace
}  // namespace mlb::cli::deploy
