#include "cli/render_command.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace mlb::cli {
namespace {

struct Run {
  int rc;
  std::string out, err;
};

Run run(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  int rc = runRender(args, {}, out, err);
  return {rc, out.str(), err.str()};
}

std::string tmp(const std::string& name) {
  return ::testing::TempDir() + "/mlb_cli_" + std::to_string(::getpid()) + "_" + name;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(RenderCommandTest, BadFlagsExit2WithAMessage) {
  auto r = run({"--apps", "x.json", "--out", "o", "--group", "a", "--bogus"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("unknown flag '--bogus'"), std::string::npos);
  r = run({"--apps", "x.json", "--out", "o"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("--group"), std::string::npos);
  r = run({"--apps", "x.json", "--out", "o", "--group", "a", "--min-serv-port-ip-per-task", "x"});
  EXPECT_EQ(r.rc, 2);
  r = run({"--apps", "x.json", "--out", "o", "--group", "a", "--min-serv-port-ip-per-task", "0"});
  EXPECT_EQ(r.rc, 2);  // min and max must both be 0
  r = run({"--apps"});
  EXPECT_EQ(r.rc, 2);
}

TEST(RenderCommandTest, MissingOrMalformedInputExit1) {
  auto r = run({"--apps", tmp("missing.json"), "--out", tmp("o1"), "--group", "*"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("cannot read --apps"), std::string::npos);
  const std::string bad = tmp("bad.json");
  std::ofstream(bad) << "<html>503</html>";
  r = run({"--apps", bad, "--out", tmp("o2"), "--group", "*"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("marathon /v2/apps: body is not"), std::string::npos) << r.err;
}

TEST(RenderCommandTest, WritesConfigAndMapsAndListsQuarantine) {
  const std::string apps = tmp("apps.json");
  std::ofstream(apps) << R"({"apps":[
    {"id":"/ok","labels":{"HAPROXY_GROUP":"external","HAPROXY_0_VHOST":"ok.example.com"},
     "portDefinitions":[{"port":10001}],"tasks":[{"id":"t","host":"10.0.0.1","state":"TASK_RUNNING","ports":[31000]}]},
    {"id":"/bad","labels":{"HAPROXY_GROUP":"external","HAPROXY_0_PORT":"http"},
     "portDefinitions":[{"port":10002}],"tasks":[{"id":"u","host":"10.0.0.2","state":"TASK_RUNNING","ports":[31001]}]}]})";
  const std::string out = tmp("out");
  auto r = run({"--apps", apps, "--out", out, "--group", "external", "--haproxy-map"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.err.find("quarantined: app /bad port index 0: label HAPROXY_0_PORT"),
            std::string::npos)
      << r.err;
  const std::string cfg = slurp(out + "/haproxy.cfg");
  EXPECT_NE(cfg.find("backend ok_10001"), std::string::npos);
  EXPECT_NE(cfg.find("/domain2backend.map)]"), std::string::npos);
  EXPECT_EQ(slurp(out + "/domain2backend.map"), "ok.example.com ok_10001\n");
  EXPECT_EQ(slurp(out + "/app2backend.map"), "/ok ok_10001\n");
}

}  // namespace
}  // namespace mlb::cli
