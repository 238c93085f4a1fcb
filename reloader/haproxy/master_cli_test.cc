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

}  // namespace
}  // namespace mlb::reloader
