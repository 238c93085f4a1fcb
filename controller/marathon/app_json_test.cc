#include "controller/marathon/app_json.h"

#include <gtest/gtest.h>

#include <cctype>
#include <fstream>
#include <sstream>

namespace mlb::controller {
namespace {

std::string padded(std::string_view s) {
  std::string out;
  out.reserve(s.size() + kJsonPadding);
  out.append(s);
  return out;
}

TEST(AppJsonTest, ParsesMarathon15ShapeWithTasksAndHealth) {
  const std::string body = padded(R"({"apps":[{"id":"/web","instances":2,
    "labels":{"HAPROXY_GROUP":"external","HAPROXY_0_VHOST":"web.example.com"},
    "container":{"type":"DOCKER","docker":{"image":"x"},"portMappings":[
      {"containerPort":80,"hostPort":0,"servicePort":10001,"protocol":"tcp"}]},
    "networks":[{"mode":"container/bridge"}],
    "healthChecks":[{"protocol":"MESOS_HTTP","path":"/h","portIndex":0,"timeoutSeconds":5,
      "intervalSeconds":10,"gracePeriodSeconds":30,"maxConsecutiveFailures":2}],
    "versionInfo":{"lastScalingAt":"2020-01-01T00:00:00.000Z"},
    "tasks":[{"id":"web.1","host":"10.0.0.1","state":"TASK_RUNNING","ports":[31000],
      "ipAddresses":[{"ipAddress":"172.17.0.2","protocol":"IPv4"}],
      "healthCheckResults":[{"alive":false},{"alive":true}]}]}]})");
  auto parsed = parseApps(body);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  ASSERT_EQ(parsed->apps.size(), 1u);
  const MarathonApp& app = parsed->apps[0];
  EXPECT_EQ(app.id, "/web");
  EXPECT_EQ(app.instances, 2);
  EXPECT_EQ(app.labels.at("HAPROXY_0_VHOST"), "web.example.com");
  ASSERT_EQ(app.port_mappings.size(), 1u);
  EXPECT_EQ(app.port_mappings[0].service_port, 10001);
  EXPECT_EQ(app.network_modes, std::vector<std::string>{"container/bridge"});
  ASSERT_EQ(app.health_checks.size(), 1u);
  EXPECT_EQ(app.health_checks[0].protocol, "MESOS_HTTP");
  EXPECT_EQ(app.health_checks[0].max_consecutive_failures, 2);
  ASSERT_EQ(app.tasks.size(), 1u);
  EXPECT_EQ(app.tasks[0].ports, std::vector<int>{31000});
  EXPECT_EQ(app.tasks[0].health_results, 2);
  EXPECT_TRUE(app.tasks[0].any_alive);
  EXPECT_EQ(app.tasks[0].ip_address, "172.17.0.2");
}

TEST(AppJsonTest, ParsesMarathon14ShapeWithNulls) {
  const std::string body = padded(R"({"apps":[{"id":"/legacy","cmd":null,"instances":1,
    "ipAddress":{"groups":[],"discovery":{"ports":[{"number":8080,"name":"http"}]}},
    "container":{"type":"DOCKER","docker":{"network":"USER","portMappings":null}},
    "portDefinitions":[],"ports":[10000],"labels":{},
    "tasks":[{"id":"t","host":"a","state":"TASK_RUNNING","ports":[],"ipAddresses":null}]}]})");
  auto parsed = parseApps(body);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  const MarathonApp& app = parsed->apps.at(0);
  EXPECT_TRUE(app.has_ip_address);
  EXPECT_EQ(app.discovery_ports, std::vector<int>{8080});
  EXPECT_EQ(app.docker_network, "USER");
  EXPECT_TRUE(app.has_port_definitions);
  EXPECT_EQ(app.legacy_ports, std::vector<int>{10000});
  EXPECT_TRUE(app.tasks.at(0).ip_address.empty());
}

TEST(AppJsonTest, OneBadAppDoesNotHideTheOthers) {
  const std::string body = padded(R"({"apps":[
    {"id":"/b","instances":1,"labels":{"HAPROXY_GROUP":"x"}},
    {"id":"/bad","instances":"many"},
    {"id":"/badlabel","labels":{"HAPROXY_0_PORT":80}},
    {"id":"/a","instances":1}]})");
  auto parsed = parseApps(body);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  ASSERT_EQ(parsed->apps.size(), 2u);
  EXPECT_EQ(parsed->apps[0].id, "/a");  // sorted by id
  EXPECT_EQ(parsed->apps[1].id, "/b");
  ASSERT_EQ(parsed->skipped.size(), 2u);
  EXPECT_EQ(parsed->skipped[0].app_id, "/bad");
  EXPECT_NE(parsed->skipped[0].reason.find("instances"), std::string::npos);
  EXPECT_NE(parsed->skipped[1].reason.find("HAPROXY_0_PORT"), std::string::npos);
}

TEST(AppJsonTest, GarbageIsAnErrorThatSaysWhat) {
  for (const char* body :
       {"<html><body>503 Service Unavailable</body></html>",
        R"({"message":"An unexpected server error occurred"})",
        R"({"apps":[{"id":"/a","instances":1},{"id":"/b","ins)", "", "[]", R"({"apps":{}})"}) {
    auto parsed = parseApps(padded(body));
    EXPECT_FALSE(parsed.has_value()) << body;
    if (!parsed.has_value()) {
      EXPECT_NE(parsed.error().message.find("marathon /v2/apps"), std::string::npos);
    }
  }
}

// A cut answer is a broken answer, never "some apps with bad values": at every cut
// point of a real answer the parse fails (it used to skip the app the cut fell in and
// keep the rest, e.g. cut after a portDefinitions entry).
TEST(AppJsonTest, ATruncatedAnswerIsRefusedWholeAtEveryCut) {
  std::ifstream in(std::string(MLB_SOURCE_DIR) + "/controller/testdata/marathon/hsts.json");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string full = ss.str();
  ASSERT_GT(full.size(), 1000u);
  size_t trailing = 0;  // the blanks after the last '}' (cutting only those is no cut)
  while (trailing < full.size() &&
         std::isspace(static_cast<unsigned char>(full[full.size() - 1 - trailing]))) {
    ++trailing;
  }
  for (size_t cut = 1; cut < full.size() - trailing; ++cut) {
    const std::string cut_body = full.substr(0, cut);
    auto parsed = parseApps(padded(cut_body));
    EXPECT_FALSE(parsed.has_value())
        << "cut at " << cut << " parsed: ..." << cut_body.substr(cut_body.size() - 40);
  }
}

TEST(AppJsonTest, EmptyListIsValid) {
  auto parsed = parseApps(padded(R"({"apps":[]})"));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_TRUE(parsed->apps.empty());
}

TEST(AppJsonTest, WorksWithoutReservedPadding) {
  std::string body = R"({"apps":[{"id":"/a"}]})";
  body.shrink_to_fit();
  auto parsed = parseApps(body);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->apps.size(), 1u);
}

TEST(AppJsonTest, DuplicateIdsKeepTheFirst) {
  auto parsed =
      parseApps(padded(R"({"apps":[{"id":"/a","instances":1},{"id":"/a","instances":2}]})"));
  ASSERT_TRUE(parsed.has_value());
  ASSERT_EQ(parsed->apps.size(), 1u);
  EXPECT_EQ(parsed->apps[0].instances, 1);
  EXPECT_EQ(parsed->skipped.size(), 1u);
}

TEST(AppJsonTest, SingleApp) {
  auto app = parseSingleApp(padded(R"({"app":{"id":"/x","instances":3,"tasks":[]}})"));
  ASSERT_TRUE(app.has_value()) << app.error().message;
  EXPECT_EQ(app->instances, 3);
  EXPECT_FALSE(parseSingleApp(padded(R"({"message":"App '/x' does not exist"})")).has_value());
}

// Found by fuzz/app_json_fuzz.cc: a huge number where an integer belongs.
TEST(ParseApps, HugeNumberInIntegerFieldSkipsTheAppWithoutUndefinedBehaviour) {
  auto r = parseApps(padded(
      R"({"apps":[{"id":"/a","instances":2.22222e+48,"tasks":[]},{"id":"/b","instances":1}]})"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->apps.size(), 1u);
  EXPECT_EQ(r->apps[0].id, "/b");
  ASSERT_EQ(r->skipped.size(), 1u);
  EXPECT_NE(r->skipped[0].reason.find("out of range"), std::string::npos);
}

// Strings without escapes are read in place; strings and keys with escapes, and
// blanks around tokens, must give the same values as unescaping does.
TEST(ParseApps, EscapedKeysAndValuesAndBlanksReadLikeUnescaped) {
  const std::string body = padded(R"({ "apps" : [ { "id" : "/a\u0062" ,
      "labels" : { "HAPROXY_\u0030_VHOST" : "x.\"quoted\".com" , "HAPROXY_GROUP" : "ext" ,
                   "PLAIN" : "caf\u00e9" , "EMPTY" : "" } ,
      "tasks" : [ { "id" : "t1" , "host" : "10.0.0.1" , "ports" : [ 31000 ] ,
                    "state" : "TASK_RUNNING" } ] } ] })");
  auto r = parseApps(body);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->apps.size(), 1u);
  const MarathonApp& app = r->apps[0];
  EXPECT_EQ(app.id, "/ab");
  EXPECT_EQ(app.labels.at("HAPROXY_0_VHOST"), "x.\"quoted\".com");
  EXPECT_EQ(app.labels.at("HAPROXY_GROUP"), "ext");
  EXPECT_EQ(app.labels.at("PLAIN"), "caf\xc3\xa9");
  EXPECT_EQ(app.labels.at("EMPTY"), "");
  ASSERT_EQ(app.tasks.size(), 1u);
  EXPECT_EQ(app.tasks[0].host, "10.0.0.1");
  EXPECT_EQ(app.tasks[0].state, "TASK_RUNNING");
}

TEST(ParseApps, NonStringWhereAStringBelongsSkipsTheApp) {
  auto r = parseApps(padded(R"({"apps":[{"id":"/a","labels":{"X":1}},{"id":7},{"id":"/b"}]})"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->apps.size(), 1u);
  EXPECT_EQ(r->apps[0].id, "/b");
  EXPECT_EQ(r->skipped.size(), 2u);
}

TEST(ParseApps, UnsortedAnswerComesOutSortedById) {
  auto r = parseApps(padded(R"({"apps":[{"id":"/c"},{"id":"/a"},{"id":"/b"},{"id":"/a"}]})"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->apps.size(), 3u);
  EXPECT_EQ(r->apps[0].id, "/a");
  EXPECT_EQ(r->apps[0].answer_index, 1u);  // the first /a in the answer is kept
  EXPECT_EQ(r->apps[1].id, "/b");
  EXPECT_EQ(r->apps[2].id, "/c");
}

}  // namespace
}  // namespace mlb::controller
