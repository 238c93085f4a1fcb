#include "cli/run/image_plan.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>

namespace mlb::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

ImageInput input(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  ImageInput in;
  in.args = std::move(args);
  in.env = std::move(env);
  in.cert_dir = "/etc/mlb";
  in.is_directory = [](const std::string&) { return false; };
  return in;
}

TEST(ImagePlanTest, SseRunsTheControllerWithTheArgumentsBesideTheReloaderAndHaproxy) {
  auto plan =
      planImageRun(input({"sse", "-m", "http://marathon.mesos:8080", "--group", "external"}));
  ASSERT_TRUE(plan);
  ASSERT_EQ(plan->children.size(), 3u);
  EXPECT_EQ(plan->children[0].name, "controller");
  EXPECT_THAT(plan->children[0].argv,
              ElementsAre("mlb-controller", "--sse", "-m", "http://marathon.mesos:8080", "--group",
                          "external"));
  EXPECT_EQ(plan->children[0].stop_signal, SIGTERM);
  EXPECT_THAT(plan->children[1].argv, ElementsAre("mlb-reloader", "watch"));
  EXPECT_THAT(plan->children[2].argv, ElementsAre("mlb-reloader", "haproxy"));
  // HAProxy's master is soft-stopped: its open connections finish.
  EXPECT_EQ(plan->children[2].stop_signal, SIGUSR1);
  EXPECT_TRUE(plan->files.empty());
}

TEST(ImagePlanTest, PollFetchesEveryPollIntervalSecondsSixtyByDefault) {
  auto plan = planImageRun(input({"poll", "--group", "external"}));
  ASSERT_TRUE(plan);
  EXPECT_THAT(plan->children[0].argv,
              ElementsAre("mlb-controller", "--poll-interval", "60", "--group", "external"));
  plan = planImageRun(input({"poll"}, {{"POLL_INTERVAL", "15"}}));
  ASSERT_TRUE(plan);
  EXPECT_THAT(plan->children[0].argv, ElementsAre("mlb-controller", "--poll-interval", "15"));
}

TEST(ImagePlanTest, AnUnknownModeIsRefusedWithMarathonLbsSynopsis) {
  for (auto args : {std::vector<std::string>{}, std::vector<std::string>{"mlb-controller"},
                    std::vector<std::string>{"SSE"}}) {
    auto plan = planImageRun(input(args));
    ASSERT_FALSE(plan);
    EXPECT_THAT(plan.error().message, HasSubstr("Unknown mode"));
    EXPECT_THAT(plan.error().message, HasSubstr("poll|sse"));
  }
}

TEST(ImagePlanTest, CertificatesFromTheEnvironmentAreWrittenAndAppendedToTheGivenList) {
  auto plan =
      planImageRun(input({"sse", "--ssl-certs", "/mnt/a.pem,/mnt/b.pem", "--group", "external"},
                         {{"HAPROXY_SSL_CERT", "-----BEGIN\\nabc\\n-----END"},
                          {"HAPROXY_SSL_CERT0", "zero"},
                          {"HAPROXY_SSL_CERT7", "seven"},
                          {"HAPROXY_SSL_CERT101", "ignored: marathon-lb read 0..100"}}));
  ASSERT_TRUE(plan);
  ASSERT_EQ(plan->files.size(), 3u);
  EXPECT_EQ(plan->files[0].path, "/etc/mlb/cert.pem");
  EXPECT_EQ(plan->files[0].content, "-----BEGIN\nabc\n-----END\n");  // echo -e, as run did
  EXPECT_EQ(plan->files[1].path, "/etc/mlb/cert0.pem");
  EXPECT_EQ(plan->files[2].path, "/etc/mlb/cert7.pem");
  EXPECT_THAT(plan->children[0].argv,
              ElementsAre("mlb-controller", "--sse", "--group", "external", "--ssl-certs",
                          "/mnt/a.pem,/mnt/b.pem,/etc/mlb/cert.pem,/etc/mlb/cert0.pem,"
                          "/etc/mlb/cert7.pem"));
}

TEST(ImagePlanTest, NumberedCertificatesAreReadOnlyWithTheMainOne) {
  auto plan = planImageRun(input({"sse", "--ssl-certs=/mnt/a.pem"}, {{"HAPROXY_SSL_CERT0", "x"}}));
  ASSERT_TRUE(plan);
  EXPECT_TRUE(plan->files.empty());
  EXPECT_THAT(plan->children[0].argv,
              ElementsAre("mlb-controller", "--sse", "--ssl-certs", "/mnt/a.pem"));
  // Neither: the image's default (self-signed) certificate, no flag.
  plan = planImageRun(input({"sse"}));
  ASSERT_TRUE(plan);
  EXPECT_THAT(plan->children[0].argv, ElementsAre("mlb-controller", "--sse"));
}

TEST(ImagePlanTest, SandboxTemplatesAreUsedWhenTheDirectoryExists) {
  auto in = input({"sse"}, {{"MESOS_SANDBOX", "/mnt/mesos/sandbox"}});
  in.is_directory = [](const std::string& p) { return p == "/mnt/mesos/sandbox/templates"; };
  auto plan = planImageRun(in);
  ASSERT_TRUE(plan);
  EXPECT_THAT(plan->children[0].argv, ElementsAre("mlb-controller", "--sse", "--templates-dir",
                                                  "/mnt/mesos/sandbox/templates"));
  in.is_directory = [](const std::string&) { return false; };
  plan = planImageRun(in);
  ASSERT_TRUE(plan);
  EXPECT_THAT(plan->children[0].argv, ElementsAre("mlb-controller", "--sse"));
}

TEST(ImagePlanTest, MarathonCredentialsReachTheControllerEnvironmentNotItsCommandLine) {
  auto plan =
      planImageRun(input({"sse"}, {{"MARATHON_USER", "lb"}, {"MARATHON_PASSWORD", "s3cret"}}));
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->children[0].env.at("MLB_AUTH_CREDENTIALS"), "lb:s3cret");
  for (const auto& child : plan->children) {
    for (const auto& a : child.argv) {
      EXPECT_THAT(a, ::testing::Not(HasSubstr("s3cret")));
    }
  }
  // Half a pair is nothing.
  plan = planImageRun(input({"sse"}, {{"MARATHON_USER", "lb"}}));
  ASSERT_TRUE(plan);
  EXPECT_TRUE(plan->children[0].env.empty());
}

TEST(ImagePlanTest, SecretsReachOnlyTheChildThatNeedsThem) {
  auto plan = planImageRun(input({"sse"}, {{"MARATHON_USER", "lb"}, {"MARATHON_PASSWORD", "pw"}}));
  ASSERT_TRUE(plan);
  const auto& ctl = plan->children[0];
  for (const char* secret : {"MARATHON_PASSWORD", "MARATHON_USER", "HAPROXY_SSL_CERT",
                             "HAPROXY_SSL_CERT7", "VAULT_TOKEN"}) {
    for (const auto& child : plan->children) {
      EXPECT_TRUE(dropsVariable(child, secret)) << child.name << " gets " << secret;
    }
  }
  // Marathon credentials: the controller only (HAProxy expands "${NAME}" in its config).
  for (const char* cred :
       {"DCOS_SERVICE_ACCOUNT_CREDENTIAL", "MLB_AUTH_CREDENTIALS", "MLB_DCOS_AUTH_CREDENTIALS"}) {
    EXPECT_FALSE(dropsVariable(ctl, cred)) << cred;
    EXPECT_TRUE(dropsVariable(plan->children[1], cred)) << cred;
    EXPECT_TRUE(dropsVariable(plan->children[2], cred)) << cred;
  }
  EXPECT_FALSE(dropsVariable(plan->children[2], "MLB_STATE_DIR"));
  EXPECT_FALSE(dropsVariable(plan->children[2], "HAPROXY_SSL"));
}

TEST(ImagePlanTest, EachChildGetsOnlyTheVariablesMeantForIt) {
  // MLB_LISTEN reached the controller and the watcher: one never bound and restarted
  // forever, nothing was published.
  auto plan = planImageRun(input({"sse"}, {{"MLB_LISTEN", "0.0.0.0:9200"},
                                           {"MLB_RUN_WATCH_LISTEN", "127.0.0.1:9203"},
                                           {"MLB_RUN_CONTROLLER_MIN_INTERVAL", "0.5"},
                                           {"MLB_STATE_DIR", "/state"}}));
  ASSERT_TRUE(plan);
  const auto& ctl = plan->children[0];
  const auto& watch = plan->children[1];
  const auto& entry = plan->children[2];
  EXPECT_FALSE(dropsVariable(ctl, "MLB_LISTEN"));
  EXPECT_TRUE(dropsVariable(watch, "MLB_LISTEN"));
  EXPECT_TRUE(dropsVariable(entry, "MLB_LISTEN"));
  EXPECT_EQ(watch.env.at("MLB_LISTEN"), "127.0.0.1:9203");  // its own, set after the drop
  // HAProxy's Lua finds both where they were moved (the signal and stats endpoints).
  EXPECT_EQ(entry.env.at("MLB_CONTROLLER_URL"), "http://127.0.0.1:9200");
  EXPECT_EQ(entry.env.at("MLB_RELOADER_URL"), "http://127.0.0.1:9203");
  EXPECT_EQ(ctl.env.count("MLB_CONTROLLER_URL"), 0u);
  // The controller's own listen address wins; a specific address is kept.
  auto moved = planImageRun(input(
      {"sse"}, {{"MLB_LISTEN", "0.0.0.0:9200"}, {"MLB_RUN_CONTROLLER_LISTEN", "10.0.0.5:9300"}}));
  ASSERT_TRUE(moved);
  EXPECT_EQ(moved->children[2].env.at("MLB_CONTROLLER_URL"), "http://10.0.0.5:9300");
  EXPECT_EQ(entry.env.count("MLB_LISTEN"), 0u);
  EXPECT_EQ(ctl.env.at("MLB_MIN_INTERVAL"), "0.5");
  EXPECT_EQ(watch.env.count("MLB_MIN_INTERVAL"), 0u);
  for (const auto& child : plan->children) {
    EXPECT_FALSE(dropsVariable(child, "MLB_STATE_DIR")) << child.name;  // shared
    EXPECT_TRUE(dropsVariable(child, "MLB_RUN_WATCH_LISTEN")) << child.name;
  }
}

TEST(ImagePlanTest, AMarathonUrlWithCredentialsReachesTheControllerThroughItsEnvironment) {
  auto plan = planImageRun(input(
      {"sse", "--marathon", "http://u:pw@m1:8080", "http://m2:8080", "--group", "external"}, {}));
  ASSERT_TRUE(plan);
  EXPECT_THAT(plan->children[0].argv,
              ElementsAre("mlb-controller", "--sse", "--group", "external"));
  EXPECT_EQ(plan->children[0].env.at("MLB_MARATHON"), "http://u:pw@m1:8080,http://m2:8080");
  auto plain = planImageRun(input({"sse", "--marathon", "http://m1:8080"}, {}));
  ASSERT_TRUE(plain);
  EXPECT_THAT(plain->children[0].argv,
              ElementsAre("mlb-controller", "--sse", "--marathon", "http://m1:8080"));
}

TEST(ImagePlanTest, SecretsAreMaskedInTheSupervisorsOwnCommandLine) {
  // They stayed on mlb-run's command line, readable by every process of the host.
  std::vector<std::string> args = {"mlb-run",
                                   "sse",
                                   "--auth-credentials",
                                   "a:b",
                                   "--dcos-auth-credentials={\"k\":1}",
                                   "--marathon",
                                   "http://u:pw@m1:8080,http://m2:8080",
                                   "--group",
                                   "x"};
  std::vector<std::vector<char>> mem;
  std::vector<char*> argv;
  for (const auto& a : args) {
    mem.emplace_back(a.begin(), a.end());
    mem.back().push_back('\0');
  }
  for (auto& m : mem) {
    argv.push_back(m.data());
  }
  scrubSecretArguments(static_cast<int>(argv.size()), argv.data());
  EXPECT_STREQ(argv[3], "***");
  EXPECT_STREQ(argv[4], "--dcos-auth-credentials=*******");
  EXPECT_STREQ(argv[6], "http://****@m1:8080,http://m2:8080");
  EXPECT_STREQ(argv[8], "x");
}

TEST(ImagePlanTest, CredentialArgumentsMoveToTheControllerEnvironment) {
  auto plan = planImageRun(input({"sse", "--auth-credentials", "a:b", "--group", "external",
                                  "--dcos-auth-credentials={\"uid\":\"x\"}"},
                                 {{"MARATHON_USER", "lb"}, {"MARATHON_PASSWORD", "pw"}}));
  ASSERT_TRUE(plan);
  EXPECT_THAT(plan->children[0].argv,
              ElementsAre("mlb-controller", "--sse", "--group", "external"));
  EXPECT_EQ(plan->children[0].env.at("MLB_AUTH_CREDENTIALS"), "a:b");  // the flag wins
  EXPECT_EQ(plan->children[0].env.at("MLB_DCOS_AUTH_CREDENTIALS"), "{\"uid\":\"x\"}");
}

TEST(ImagePlanTest, CredentialsGivenInMlbVariablesAreNotReplacedByMarathonUser) {
  for (const char* var : {"MLB_AUTH_CREDENTIALS", "MLB_MARATHON_AUTH_CREDENTIAL_FILE",
                          "DCOS_SERVICE_ACCOUNT_CREDENTIAL", "MLB_MARATHON_AUTH_TOKEN_FILE"}) {
    auto plan = planImageRun(
        input({"sse"}, {{"MARATHON_USER", "lb"}, {"MARATHON_PASSWORD", "pw"}, {var, "given"}}));
    ASSERT_TRUE(plan);
    EXPECT_EQ(plan->children[0].env.count("MLB_AUTH_CREDENTIALS"), 0u) << var;
  }
}

TEST(ImagePlanTest, AnEmptySslCertsIsLeftForTheControllerToRefuse) {
  auto plan = planImageRun(input({"sse", "--ssl-certs", ""}, {{"HAPROXY_SSL_CERT", "x"}}));
  ASSERT_TRUE(plan);
  EXPECT_THAT(plan->children[0].argv, ElementsAre("mlb-controller", "--sse", "--ssl-certs", "",
                                                  "--ssl-certs", "/etc/mlb/cert.pem"));
}

TEST(ImagePlanTest, PollIntervalTakesSleepsSuffixes) {
  for (const auto& [given, seconds] :
       std::vector<std::pair<std::string, std::string>>{{"30", "30"},
                                                        {"30s", "30"},
                                                        {"2m", "120"},
                                                        {"1h", "3600"},
                                                        {"0.5", "0.5"},
                                                        {"soon", "soon"},
                                                        {"-5", "-5"}}) {
    auto plan = planImageRun(input({"poll"}, {{"POLL_INTERVAL", given}}));
    ASSERT_TRUE(plan);
    EXPECT_EQ(plan->children[0].argv[2], seconds) << given;
  }
}

TEST(ImagePlanTest, AnMlbTemplatesDirWinsOverTheSandbox) {
  auto in = input({"sse"}, {{"MESOS_SANDBOX", "/sb"}, {"MLB_TEMPLATES_DIR", "/mine"}});
  in.is_directory = [](const std::string&) { return true; };
  auto plan = planImageRun(in);
  ASSERT_TRUE(plan);
  EXPECT_THAT(plan->children[0].argv, ElementsAre("mlb-controller", "--sse"));
}

TEST(ImagePlanTest, EnvironmentMlbDoesOtherwiseIsNoticed) {
  auto plan = planImageRun(input({"sse"}, {{"PORTS", "80,443,9090"},
                                           {"HAPROXY_SYSCTL_PARAMS", "net.core.somaxconn=10000"},
                                           {"SYSLOG_SOCKET", "/dev/null"}}));
  ASSERT_TRUE(plan);
  ASSERT_EQ(plan->notices.size(), 2u);
  EXPECT_THAT(plan->notices[0], HasSubstr("PORTS=80,443,9090"));
  EXPECT_THAT(plan->notices[1], HasSubstr("HAPROXY_SYSCTL_PARAMS"));
}

// marathon-lb's logging variables are honoured: SYSLOG_SOCKET is the controller's
// --syslog-socket; HAPROXY_SYSLOGD puts HAProxy's lines on the container's output.
TEST(ImagePlanTest, SyslogVariablesReachTheController) {
  auto plan = planImageRun(input({"sse"}, {{"SYSLOG_SOCKET", "/dev/log"},
                                           {"HAPROXY_SYSLOGD", "1"},
                                           {"MLB_HAPROXY_LOG", "/run/other.sock"}}));
  ASSERT_TRUE(plan);
  const ChildSpec& ctl = plan->children[0];
  EXPECT_EQ(ctl.env.at("MLB_SYSLOG_SOCKET"), "/dev/log");
  EXPECT_EQ(ctl.env.at("MLB_HAPROXY_LOG"), "stdout");
  EXPECT_EQ(plan->children[1].env.count("MLB_SYSLOG_SOCKET"), 0u);
}

TEST(ImagePlanTest, EchoEscapesAreExpandedAndOtherBackslashesKept) {
  EXPECT_EQ(expandEchoEscapes("a\\nb\\tc\\\\d\\qe\\"), "a\nb\tc\\d\\qe\\");
  EXPECT_EQ(expandEchoEscapes("plain\nnewline"), "plain\nnewline");
}

}  // namespace
}  // namespace mlb::cli
