// Integration: every golden configuration passes the real `haproxy -c`.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <regex>

#include "controller/publish/endpoints_lua.h"
#include "controller/render/golden.h"

namespace mlb::controller {
namespace {

TEST(ConfigRendererHaproxyTest, EveryGoldenConfigPassesHaproxyCheck) {
  const std::string haproxy = MLB_HAPROXY_BIN;
  ASSERT_FALSE(haproxy.empty() || haproxy.find("NOTFOUND") != std::string::npos)
      << "haproxy is required for this test (apt-get install haproxy)";
  const std::string dir = ::testing::TempDir() + "/mlb_haproxy_c_" + std::to_string(::getpid());
  ASSERT_EQ(std::system(("mkdir -p " + dir).c_str()), 0);
  const std::string cert = testing::testdata("tls/test.pem");
  std::ofstream(dir + "/mlb.lua") << endpointsLua();
  for (const auto& g : testing::goldenCases()) {
    std::string cfg = testing::readFile(testing::testdata("golden/" + g.name + ".cfg"));
    ASSERT_FALSE(cfg.empty()) << g.name;
    if (g.render.haproxy_map) {
      cfg = cfg.substr(0, cfg.find("# domain2backend.map\n"));
      std::ofstream(dir + "/domain2backend.map") << "";
      std::ofstream(dir + "/app2backend.map") << "";
    }
    // Certificate paths named by labels do not exist here: point them at a test cert.
    cfg = std::regex_replace(cfg, std::regex("crt [^ \n]+"), "crt " + cert);
    cfg = std::regex_replace(cfg, std::regex("/run/mlb/current"), dir);
    cfg = std::regex_replace(cfg, std::regex("/run/mlb"), dir);
    const std::string path = dir + "/" + g.name + ".cfg";
    std::ofstream(path) << cfg;
    const std::string cmd = haproxy + " -c -q -f " + path + " > " + path + ".out 2>&1";
    const int rc = std::system(cmd.c_str());
    EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 0) << g.name << ": haproxy -c failed:\n"
                                                       << testing::readFile(path + ".out");
  }
  // And a broken one fails, so the check above can fail.
  std::ofstream(dir + "/broken.cfg") << "defaults\n  balancee roundrobin\n";
  const int rc =
      std::system((haproxy + " -c -q -f " + dir + "/broken.cfg >/dev/null 2>&1").c_str());
  EXPECT_NE(WEXITSTATUS(rc), 0);
}

}  // namespace
}  // namespace mlb::controller
