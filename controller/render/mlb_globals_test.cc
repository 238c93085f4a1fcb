#include "controller/render/mlb_globals.h"

#include <gtest/gtest.h>

namespace mlb::controller {
namespace {

TEST(MlbGlobals, MarathonLbsOwnHeadGetsMlbsSocketAndStateFile) {
  // marathon-lb's default head: its own stats socket, none of mlb's. The Runtime API,
  // the -x socket transfer and the stats endpoints broke silently.
  const std::string head =
      "global\n  daemon\n  stats socket /var/run/haproxy/socket expose-fd listeners\n"
      "defaults\n  mode http\n";
  auto out = withMlbGlobals(head, "/run/mlb");
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(*out,
            "global\n  stats socket /run/mlb/stats.sock mode 600 level admin expose-fd listeners\n"
            "  server-state-file /run/mlb/server-state\n"
            "  daemon\n  stats socket /var/run/haproxy/socket expose-fd listeners\n"
            "defaults\n  mode http\n");
}

TEST(MlbGlobals, AHeadThatHasThemIsLeftByteForByte) {
  const std::string head =
      "global\n  stats socket /s/stats.sock mode 600 level admin expose-fd listeners\n"
      "  server-state-file /elsewhere/state\ndefaults\n";
  auto out = withMlbGlobals(head, "/s");
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, head);
}

TEST(MlbGlobals, AConflictingSocketOrNoGlobalSectionIsRefusedWithTheReason) {
  auto weak = withMlbGlobals("global\n  stats socket /s/stats.sock level user\n", "/s");
  ASSERT_FALSE(weak);
  EXPECT_NE(weak.error().message.find("line 2"), std::string::npos);
  EXPECT_NE(weak.error().message.find("level admin expose-fd listeners"), std::string::npos);
  auto none = withMlbGlobals("defaults\n  mode http\n", "/s");
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("no 'global' section"), std::string::npos);
}

// --haproxy-log: HAProxy's own lines to the container's output (or a syslog socket),
// whatever target the head names; the rest of the head untouched.
TEST(MlbGlobalsTest, LogTargetReplacesEveryGlobalLogLine) {
  const std::string head =
      "global\n  log /dev/log local0\n  log /dev/log local1 notice\n  maxconn 10\n"
      "defaults\n  log global\n";
  EXPECT_EQ(withLogTarget(head, "stdout"),
            "global\n  log stdout format raw local0\n  maxconn 10\ndefaults\n  log global\n");
  EXPECT_EQ(withLogTarget(head, "/run/syslog.sock"),
            "global\n  log /run/syslog.sock local0\n  log /run/syslog.sock local1 notice\n"
            "  maxconn 10\ndefaults\n  log global\n");
  EXPECT_EQ(withLogTarget("global\n  log 127.0.0.1:514 format rfc5424 local0", "stderr"),
            "global\n  log stderr format rfc5424 local0");
}

}  // namespace
}  // namespace mlb::controller
