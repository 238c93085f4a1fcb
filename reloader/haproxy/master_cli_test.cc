#include "reloader/haproxy/master_cli.h"

#include <gtest/gtest.h>

namespace mlb::reloader {
namespace {

// Captured from HAProxy 2.6.12 (`show proc` on the master CLI).
constexpr const char* kTwoGenerations =
    "#<PID>          <type>          <reloads>       <uptime>        <version>      \n"
    "30150           master          2 [failed: 1]   0d00h10m03s     2.6.12-1+deb12u4\n"
    "# workers\n"
    "30190           worker          0               0d00h00m03s     2.6.12-1+deb12u4\n"
    "# old workers\n"
    "30170           worker          1               0d00h01m03s     2.6.12-1+deb12u4\n"
    "30153           worker          2               1d02h10m03s     2.6.12-1+deb12u4\n"
    "# programs\n"
    "\n";

TEST(ParseShowProc, MasterWorkersAndOldWorkers) {
  auto sp = parseShowProc(kTwoGenerations);
  ASSERT_TRUE(sp);
  EXPECT_EQ(sp->master_pid, 30150);
  EXPECT_EQ(sp->master_reloads, 2);
  EXPECT_EQ(sp->master_failed, 1);
  ASSERT_EQ(sp->workers.size(), 1u);
  EXPECT_EQ(sp->workers[0].pid, 30190);
  ASSERT_EQ(sp->old_workers.size(), 2u);
  EXPECT_EQ(sp->old_workers[0].reloads, 1);
  EXPECT_EQ(sp->old_workers[1].pid, 30153);
  EXPECT_EQ(sp->old_workers[1].uptime_seconds, ((24 + 2) * 60 + 10) * 60 + 3);
}

TEST(ParseShowProc, NoMasterIsAnError) {
  EXPECT_FALSE(parseShowProc(""));
  EXPECT_FALSE(parseShowProc("Unknown command.\n"));
}

// HAProxy 3.0.11 (Debian 13), recorded: the master answers `reload` once it is done.
constexpr const char* kReload30Ok =
    "Success=1\n--\n[NOTICE]   (171) : New worker (181) forked\n"
    "[NOTICE]   (171) : Loading success.\n"
    "[WARNING]  (171) : Former worker (172) exited with code 0 (Exit)\n";
constexpr const char* kReload30Failed =
    "Success=0\n--\n[NOTICE]   (171) : haproxy version is 3.0.11-1+deb13u4\n"
    "[ALERT]    (171) : config : parsing [/tmp/h30/live.cfg:12] : unknown keyword 'balancee' "
    "in 'defaults' section; did you mean 'balance' maybe ?\n"
    "[WARNING]  (171) : Loading failure!\n";
constexpr const char* kShowProc30 =
    "#<PID>          <type>          <reloads>       <uptime>        <version>      \n"
    "171             master          2 [failed: 1]   0d00h00m03s     3.0.11-1+deb13u4\n"
    "# workers\n"
    "181             worker          1               0d00h00m02s     3.0.11-1+deb13u4\n"
    "# programs\n\n";

TEST(ParseReloadReply, HaproxyThreeSaysWhetherTheReloadLoaded) {
  auto ok = parseReloadReply(kReload30Ok);
  EXPECT_EQ(ok.status, ReloadReply::Status::kSucceeded);
  EXPECT_NE(ok.log.find("Loading success."), std::string::npos);
  auto bad = parseReloadReply(kReload30Failed);
  EXPECT_EQ(bad.status, ReloadReply::Status::kFailed);
  EXPECT_EQ(bad.log.rfind("[NOTICE]", 0), 0u);
  EXPECT_NE(bad.log.find("[ALERT]"), std::string::npos);
}

TEST(ParseReloadReply, HaproxyTwoSixAnswersNothingAndTheOutcomeIsUnknown) {
  EXPECT_EQ(parseReloadReply("").status, ReloadReply::Status::kUnknown);
  EXPECT_EQ(parseReloadReply("Unknown command.\n").status, ReloadReply::Status::kUnknown);
  EXPECT_EQ(parseReloadReply("x Success=0\n").status, ReloadReply::Status::kUnknown);
}

TEST(ParseShowProc, HaproxyThreeHasTheSameColumns) {
  auto sp = parseShowProc(kShowProc30);
  ASSERT_TRUE(sp);
  EXPECT_EQ(sp->master_pid, 171);
  EXPECT_EQ(sp->master_reloads, 2);
  EXPECT_EQ(sp->master_failed, 1);
  ASSERT_EQ(sp->workers.size(), 1u);
  EXPECT_EQ(sp->workers[0].pid, 181);
  EXPECT_EQ(sp->workers[0].version, "3.0.11-1+deb13u4");
}

}  // namespace
}  // namespace mlb::reloader
