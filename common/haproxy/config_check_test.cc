#include "common/haproxy/config_check.h"

#include <gtest/gtest.h>

#include <map>

namespace mlb::common {
namespace {

// A runner that answers with a recorded result and remembers the command.
class RecordedRunner : public ProcessRunner {
 public:
  explicit RecordedRunner(ProcessResult r) : result_(std::move(r)) {}
  Result<ProcessResult> run(const std::vector<std::string>& argv,
                            std::chrono::milliseconds) override {
    argv_ = argv;
    return result_;
  }
  std::vector<std::string> argv_;

 private:
  ProcessResult result_;
};

constexpr const char* kTwoAlerts =
    "[NOTICE]   (1) : haproxy version is 2.6.12\n"
    "[ALERT]    (1) : config : parsing [/run/mlb/current/haproxy.cfg:42] : unknown keyword "
    "'balancee' in 'backend' section\n"
    "[WARNING]  (1) : config : something\n"
    "[ALERT]    (1) : config : Fatal errors found in configuration.\n";

TEST(HaproxyAlerts, EachAlertWithTheLineItNames) {
  auto alerts = parseAlerts(kTwoAlerts);
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[0].line, 42);
  EXPECT_NE(alerts[0].text.find("balancee"), std::string::npos);
  EXPECT_EQ(alerts[1].line, 0);
  EXPECT_TRUE(parseAlerts("[WARNING] only\n").empty());
  // A number too long for a line number is no line number.
  EXPECT_EQ(parseAlerts("[ALERT] parsing [f:12345678901] x").at(0).line, 0);
}

TEST(HaproxyAlerts, SummaryIsTheAlertsOrTheStartOfTheOutput) {
  EXPECT_EQ(alertSummary(kTwoAlerts).find("[NOTICE]"), std::string::npos);
  EXPECT_NE(alertSummary(kTwoAlerts).find("Fatal errors"), std::string::npos);
  EXPECT_EQ(alertSummary("segfault"), "segfault");
  EXPECT_EQ(alertSummary(std::string(800, 'x')).size(), 500u);
}

TEST(CheckConfig, RunsHaproxyDashCAndClassifiesTheResult) {
  ProcessResult ok;
  ok.exit_code = 0;
  RecordedRunner valid(ok);
  auto c = checkConfig(valid, "/usr/sbin/haproxy", "/tmp/x.cfg", std::chrono::seconds(5));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->outcome, ConfigCheck::Outcome::kValid);
  EXPECT_EQ(valid.argv_, (std::vector<std::string>{"/usr/sbin/haproxy", "-c", "-f", "/tmp/x.cfg"}));

  ProcessResult bad;
  bad.exit_code = 1;
  bad.err = kTwoAlerts;
  RecordedRunner invalid(bad);
  c = checkConfig(invalid, "haproxy", "x.cfg", std::chrono::seconds(5));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->outcome, ConfigCheck::Outcome::kInvalid);
  EXPECT_EQ(c->exit_code, 1);
  EXPECT_EQ(parseAlerts(c->output).size(), 2u);

  ProcessResult slow;
  slow.timed_out = true;
  RecordedRunner timed_out(slow);
  c = checkConfig(timed_out, "haproxy", "x.cfg", std::chrono::seconds(5));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->outcome, ConfigCheck::Outcome::kTimedOut);
}

TEST(CheckConfig, OnlyAnExitWithAlertsIsAVerdict) {
  ProcessResult killed;  // the OOM killer, mid-check
  killed.exit_code = -1;
  killed.term_signal = 9;
  RecordedRunner oom(killed);
  auto c = checkConfig(oom, "haproxy", "x.cfg", std::chrono::seconds(5));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->outcome, ConfigCheck::Outcome::kFailed);
  ProcessResult silent;  // an exit without a word
  silent.exit_code = 1;
  silent.err = "haproxy: error while loading shared libraries\n";
  RecordedRunner broken(silent);
  c = checkConfig(broken, "haproxy", "x.cfg", std::chrono::seconds(5));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->outcome, ConfigCheck::Outcome::kFailed);
}

}  // namespace
}  // namespace mlb::common
