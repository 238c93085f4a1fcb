#include "cli/deploy/deploy_flags.h"

#include <gtest/gtest.h>

namespace mlb::cli::deploy {
namespace {

TEST(DeployFlags, BluegreenDeployCommandLineWithShortNames) {
  auto f = parseDeployFlags({"-j",         "app.json",
                             "-m",         "http://marathon:8080",
                             "-l",         "http://mlb:9090",
                             "-f",         "-s",
                             "2",          "-i",
                             "2",          "-w",
                             "60",         "-n",
                             "3",          "--linear-increase",
                             "1",          "--pre-kill-hook",
                             "/bin/true",  "--syslog-socket",
                             "/dev/null",  "--log-format",
                             "%(message)s"},
                            {});
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(f->json, "app.json");
  EXPECT_EQ(f->marathon, std::vector<std::string>{"http://marathon:8080"});
  EXPECT_EQ(f->marathon_lb, "http://mlb:9090");
  EXPECT_TRUE(f->force);
  EXPECT_EQ(f->step_delay, 2);
  EXPECT_EQ(f->initial_instances, 2);
  EXPECT_EQ(f->max_wait, 60);
  EXPECT_EQ(f->new_instances, 3);
  EXPECT_EQ(f->linear_increase, 1);
  EXPECT_EQ(f->pre_kill_hook, "/bin/true");
}

TEST(DeployFlags, MarathonAuthAsTheControllerReadsIt) {
  auto f = parseDeployFlags(
      {"--json=a.json", "--marathon=http://m", "--dry-run", "--auth-credentials", "user:secret"},
      {});
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(f->auth.basic_auth, "user:secret");
  EXPECT_TRUE(f->dry_run);  // -l is not needed for a dry run
  EXPECT_FALSE(parseDeployFlags({"-j", "a", "-m", "m", "-d", "--auth-credentials", "nocolon"}, {}));
  // The environment as mlb-controller reads it, for the auth flags only.
  auto env = parseDeployFlags({"-j", "a", "-m", "http://m", "-d"},
                              {{"DCOS_SERVICE_ACCOUNT_CREDENTIAL",
                                R"({"uid":"u","private_key":"k","login_endpoint":"https://l"})"},
                               {"MLB_JSON", "other.json"}});
  ASSERT_TRUE(env) << env.error().message;
  ASSERT_TRUE(env->auth.dcos.has_value());
  EXPECT_EQ(env->auth.dcos->uid, "u");
  EXPECT_EQ(env->json, "a");
  EXPECT_EQ(env->auth.urls, std::vector<std::string>{"http://m"});
}

TEST(DeployFlags, RefusalsNameTheFlag) {
  auto missing = parseDeployFlags({"-j", "a.json", "-l", "http://lb"}, {});
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("--marathon"), std::string::npos);
  auto bad = parseDeployFlags({"-j", "a", "-m", "m", "-l", "l", "-i", "two"}, {});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("--initial-instances"), std::string::npos);
  EXPECT_FALSE(parseDeployFlags({"-j", "a", "-m", "m", "-l", "l", "--bogus"}, {}));
  EXPECT_FALSE(parseDeployFlags({"-j", "a", "-m", "m", "-l", "l", "-i", "0"}, {}));
  EXPECT_FALSE(parseDeployFlags({"-j", "a", "-m", "m", "-l", "l", "-c", "-p"}, {}));
  EXPECT_FALSE(parseDeployFlags({"-j", "a", "-m", "m", "-l", "l", "-s"}, {}));
}

}  // namespace
}  // namespace mlb::cli::deploy
