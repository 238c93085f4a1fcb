#include "controller/app/controller_flags.h"

#include <gtest/gtest.h>

namespace mlb::controller {
namespace {

struct Parsed {
  bool ok = false;
  bool help = false;
  std::string error;
  ControllerFlags flags;
};

Parsed parse(const std::vector<std::string>& args,
             const std::map<std::string, std::string>& env = {}) {
  Parsed p;
  auto parsed = parseControllerFlags(args, env);
  p.ok = static_cast<bool>(parsed);
  if (parsed) {
    p.flags = *parsed;
    p.help = parsed->help;
  } else {
    p.error = parsed.error().message;
  }
  return p;
}

TEST(ControllerFlags, MarathonLbsCommandLineIsAccepted) {
  // A marathon-lb command line as DC/OS packages and app definitions carry it.
  auto p = parse({"-m",
                  "http://m1:8080",
                  "http://m2:8080",
                  "--group",
                  "external",
                  "-s",
                  "-H",
                  "--haproxy-config",
                  "/marathon-lb/haproxy.cfg",
                  "--command",
                  "/marathon-lb/reload_haproxy.sh",
                  "--syslog-socket",
                  "/dev/null",
                  "--skip-validation",
                  "--log-level",
                  "info",
                  "--max-backoff",
                  "12",
                  "--archive-versions",
                  "3",
                  "--skip-config-cleanup"});
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.flags.marathon.urls, (std::vector<std::string>{"http://m1:8080", "http://m2:8080"}));
  EXPECT_TRUE(p.flags.sse);
  EXPECT_TRUE(p.flags.reconcile.build.health_check);
  EXPECT_FALSE(p.flags.validate);
  EXPECT_TRUE(p.flags.reconcile.haproxy_bin.empty());
  EXPECT_EQ(p.flags.haproxy_config, "/marathon-lb/haproxy.cfg");
  ASSERT_TRUE(p.flags.log_level.has_value());
  EXPECT_EQ(*p.flags.log_level, common::LogLevel::Info);
  EXPECT_EQ(p.flags.sse_backoff_max, std::chrono::milliseconds(12000));
  EXPECT_EQ(p.flags.syslog_socket, "/dev/null");  // honoured: marathon-lb's "none"
  ASSERT_EQ(p.flags.notices.size(), 3u);          // --command, --archive-versions, cleanup
  EXPECT_NE(p.flags.notices[0].find("--command (marathon-lb) is ignored"), std::string::npos);
}

TEST(ControllerFlags, CredentialsInAMarathonUrlAreReadAsCredentialsAndNeverKeptInTheUrl) {
  // They were parsed as the host "user:pass@host": the password went to DNS, logs,
  // /v1/status and metric labels.
  auto p = parse({"--marathon", "http://ops:s%40cret@m1:8080/,https://m2:8443"});
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.flags.marathon.urls, (std::vector<std::string>{"http://m1:8080", "https://m2:8443"}));
  EXPECT_EQ(p.flags.marathon.basic_auth, "ops:s@cret");
  EXPECT_TRUE(p.flags.url_credentials.empty());
  auto explicit_wins =
      parse({"--marathon", "http://a:b@m1:8080", "--auth-credentials", "ops:other"});
  ASSERT_TRUE(explicit_wins.ok);
  EXPECT_EQ(explicit_wins.flags.marathon.basic_auth, "ops:other");
  EXPECT_EQ(explicit_wins.flags.marathon.urls, std::vector<std::string>{"http://m1:8080"});
  auto no_password = parse({"--marathon", "http://justuser@m1:8080"});
  EXPECT_FALSE(no_password.ok);
  EXPECT_EQ(no_password.error.find("justuser"), std::string::npos);  // never printed
}

TEST(ControllerFlags, ShortOptionsEndAMultiValueFlag) {
  auto p = parse({"-m", "http://a", "-d", "--group", "g"});
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.flags.marathon.urls, std::vector<std::string>{"http://a"});
  EXPECT_TRUE(p.flags.dry);
  // A legacy flag's value is consumed, a following option is not.
  auto q = parse({"--reload-interval", "--dry"});
  ASSERT_TRUE(q.ok) << q.error;
  EXPECT_TRUE(q.flags.dry);
}

TEST(ControllerFlags, BadValuesNameTheFlag) {
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"--log-level", "LOUD"},
                                             {"--max-backoff", "soon"},
                                             {"--min-serv-port-ip-per-task", "0"},
                                             {"--marathon"},
                                             {"--no-such-flag"}}) {
    auto p = parse(args);
    EXPECT_FALSE(p.ok) << args[0];
    EXPECT_NE(p.error.find(args[0].substr(0, 6)), std::string::npos) << p.error;
  }
}

TEST(ControllerFlags, EnvironmentThenFlagsAndMarathonLbsVariables) {
  auto p = parse(
      {"--group", "internal"},
      {{"MLB_GROUP", "external,other"}, {"MLB_HEALTH_CHECK", "1"}, {"MLB_STRICT_MODE", "false"}});
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.flags.reconcile.build.groups, std::vector<std::string>{"internal"});
  EXPECT_TRUE(p.flags.reconcile.build.health_check);
  EXPECT_FALSE(p.flags.reconcile.build.strict_mode);
  // marathon-lb reads the DC/OS service account from DCOS_SERVICE_ACCOUNT_CREDENTIAL.
  auto bad = parse({}, {{"DCOS_SERVICE_ACCOUNT_CREDENTIAL", "not json"}});
  EXPECT_FALSE(bad.ok);
  EXPECT_NE(bad.error.find("DCOS_SERVICE_ACCOUNT_CREDENTIAL"), std::string::npos) << bad.error;
  auto good = parse({}, {{"DCOS_SERVICE_ACCOUNT_CREDENTIAL",
                          R"({"uid":"u","private_key":"k","login_endpoint":"https://l"})"}});
  ASSERT_TRUE(good.ok) << good.error;
  ASSERT_TRUE(good.flags.marathon.dcos.has_value());
  EXPECT_EQ(good.flags.marathon.dcos->uid, "u");
}

TEST(ControllerFlags, DefaultsAndHelp) {
  auto p = parse({});
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.flags.reconcile.build.groups, std::vector<std::string>{"external"});
  EXPECT_EQ(p.flags.marathon.urls, std::vector<std::string>{"http://master.mesos:8080"});
  EXPECT_EQ(p.flags.reconcile.render.haproxy_dir, "/run/mlb/live");
  EXPECT_TRUE(parse({"-h"}).help);
  EXPECT_TRUE(parse({"--longhelp"}).flags.longhelp);
}

}  // namespace
}  // namespace mlb::controller
