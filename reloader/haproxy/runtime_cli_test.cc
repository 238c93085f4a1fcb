#include "reloader/haproxy/runtime_cli.h"

#include <gtest/gtest.h>

namespace mlb::reloader {
namespace {

using E = RuntimePlan::Expect;

TEST(RuntimeCli, RepliesAreSplitOnePerCommandAsHaproxyPrintsThem) {
  // Recorded from HAProxy 2.6.12: add; enable health; state ready; health down;
  // a missing server; a refused delete (the last reply ends at the close).
  auto r = splitBatchReplies(
      "New server registered.\n\n\n\n\nNo such server.\n\n"
      "Only servers in maintenance mode can be deleted.\n");
  ASSERT_EQ(r.size(), 6u);
  EXPECT_EQ(r[0], "New server registered.");
  EXPECT_EQ(r[1], "");
  EXPECT_EQ(r[3], "");
  EXPECT_EQ(r[4], "No such server.");
  EXPECT_EQ(r[5], "Only servers in maintenance mode can be deleted.");
  EXPECT_EQ(splitBatchReplies("\n\n").size(), 2u);                          // set; set
  EXPECT_EQ(splitBatchReplies("New server registered.\n\n\n").size(), 2u);  // add; set
}

TEST(RuntimeCli, EveryReplyMustBeTheExpectedOne) {
  const std::vector<std::string> cmds = {"add server b/s 1.1.1.1:1 id 5",
                                         "set server b/s state ready"};
  const std::vector<E> expect = {E::Registered, E::Empty};
  EXPECT_TRUE(checkReplies(cmds, expect, {"New server registered.", ""}));
  EXPECT_TRUE(checkReplies(cmds, expect, {"New server registered."}));  // last empty, no line
  EXPECT_FALSE(checkReplies(cmds, expect, {"'id' : custom id 5 already used", ""}));
  EXPECT_FALSE(checkReplies(cmds, expect, {"New server registered.", "No such server."}));
  EXPECT_FALSE(checkReplies(cmds, expect, {}));
  EXPECT_FALSE(checkReplies(cmds, expect, {"New server registered.", "", "extra?"}));
}

TEST(RuntimeCli, ServersStateAndLoadAreParsed) {
  const std::string state =
      "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight "
      "srv_iweight srv_time_since_last_change srv_check_status srv_check_result "
      "srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id "
      "srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr "
      "srv_agent_port\n"
      "2 be 1 s1 127.0.0.1 2 0 1 1 1 8 2 0 6 0 0 1 - 18991 - 0 0 - - 0\n"
      "2 be 2 s2 127.0.0.1 0 8 1 1 0 1 0 0 6 0 0 1 - 18992 - 0 0 - - 0\n";
  auto s = parseServersState(state);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ((s[{"be", "s1"}].address), "127.0.0.1:18991");
  EXPECT_EQ((s[{"be", "s1"}].op_state), 2);
  EXPECT_EQ((s[{"be", "s2"}].admin_state), 8);
  EXPECT_EQ((s[{"be", "s2"}].backend_id), 2);  // for `show stat <id>`
  const std::string filtered = filterServersState(
      state, "backend be\n  server s1 127.0.0.1:18991 id 1\n  server s2 127.0.0.9:18992 id 2\n");
  EXPECT_NE(filtered.find(" s1 "), std::string::npos);
  EXPECT_EQ(filtered.find(" s2 "), std::string::npos);  // its address changed: dropped
  EXPECT_NE(filtered.find("# be_id"), std::string::npos);
  auto load = parseServerLoad(
      "# pxname,svname,qcur,qmax,scur,smax\nbe,s1,1,0,3,9\nbe,BACKEND,0,0,3,9\nbe,s2,0,0,0,0\n");
  EXPECT_EQ((load[{"be", "s1"}]), 4);
  EXPECT_EQ((load[{"be", "s2"}]), 0);
  EXPECT_EQ(load.count({"be", "BACKEND"}), 0u);
}

TEST(RuntimeCli, TheStateFileIsRewrittenFromTheNewConfiguration) {
  // s1: forced MAINT at runtime, enabled by the config; s2: enabled at runtime (admin
  // 4: the config mark alone), disabled by the config; s3: no checks, stopped by MAINT,
  // enabled; s4: checked and DOWN, health survives; s5: weight set at runtime.
  const std::string state =
      "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state ...\n"
      "2 be 1 s1 127.0.0.1 0 1 1 1 1 8 2 0 14 0 0 1 - 1001 - 0 0 - - 0\n"
      "2 be 2 s2 127.0.0.1 2 4 1 1 1 8 2 0 6 0 0 1 - 1002 - 0 0 - - 0\n"
      "2 be 3 s3 127.0.0.1 0 1 1 1 1 1 0 0 8 0 0 1 - 1003 - 0 0 - - 0\n"
      "2 be 4 s4 127.0.0.1 0 0 1 1 1 8 2 0 6 0 0 1 - 1004 - 0 0 - - 0\n"
      "2 be 5 s5 127.0.0.1 2 0 9 1 1 8 2 0 6 0 0 1 - 1005 - 0 0 - - 0\n";
  const std::string config =
      "backend be\n  server s1 127.0.0.1:1001 id 1 check\n"
      "  server s2 127.0.0.1:1002 id 2 check disabled\n  server s3 127.0.0.1:1003 id 3\n"
      "  server s4 127.0.0.1:1004 id 4 check\n  server s5 127.0.0.1:1005 id 5 check\n";
  const auto rewritten = parseServersState(filterServersState(state, config));
  ASSERT_EQ(rewritten.size(), 5u);
  EXPECT_EQ((rewritten.at({"be", "s1"}).admin_state), 0);
  EXPECT_EQ((rewritten.at({"be", "s1"}).op_state), 2);     // as a fresh load brings it in
  EXPECT_EQ((rewritten.at({"be", "s2"}).admin_state), 5);  // what `disabled` loads as
  EXPECT_EQ((rewritten.at({"be", "s3"}).op_state), 2);
  EXPECT_EQ((rewritten.at({"be", "s3"}).admin_state), 0);
  EXPECT_EQ((rewritten.at({"be", "s4"}).op_state), 0);  // its checks said DOWN: kept
  EXPECT_EQ((rewritten.at({"be", "s5"}).weight), 1);
}

TEST(RuntimeCli, ANewServerNotKnownHealthyStartsStoppedAtAReload) {
  // s2 is new and held down: a line starting it stopped (health 0, check status
  // "initialising"), with its id, weight, port and ssl; s1 (already running) and s3 (not
  // marked) keep what HAProxy holds or get no line.
  const std::string state =
      "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state ...\n"
      "7 be 1 s1 127.0.0.1 2 0 1 1 1 8 2 4 6 0 0 1 - 1001 - 0 0 - - 0\n";
  const std::string config =
      "backend be\n  default-server ssl weight 5\n  server s1 127.0.0.1:1001 id 1 check\n"
      "  server s2 127.0.0.2:1002 id 2 check inter 60s\n  server s3 127.0.0.3:1003 id 3 check\n";
  const std::string out = filterServersState(state, config, {"be/s1", "be/s2"});
  EXPECT_NE(out.find("\n7 be 2 s2 127.0.0.2 0 0 5 5 0 1 0 0 6 0 0 1 - 1002 - 1 0 - - 0\n"),
            std::string::npos)
      << out;
  const auto parsed = parseServersState(out);
  ASSERT_EQ(parsed.size(), 2u) << out;
  EXPECT_EQ((parsed.at({"be", "s1"}).op_state), 2);
  EXPECT_EQ(filterServersState(state, config).find(" s2 "), std::string::npos);
}

TEST(RuntimeCli, AHeldDownAddCutShortIsStartedHeldAtTheReloadThatFollows) {
  // The batch failed after `add server` (MAINT) or `state drain`: the reload's state file
  // must not bring it in running, before any check.
  const std::string state =
      "1\n# be_id be_name srv_id srv_name ...\n"
      "7 be 2 s2 127.0.0.2 2 8 1 1 0 1 0 3 6 0 0 1 - 1002 - 0 0 - - 0\n";
  const std::string config = "backend be\n  server s2 127.0.0.2:1002 id 2 check\n";
  const auto held = parseServersState(filterServersState(state, config, {"be/s2"}));
  EXPECT_EQ((held.at({"be", "s2"}).op_state), 0);
  EXPECT_EQ((held.at({"be", "s2"}).admin_state), 0);
  const auto unheld = parseServersState(filterServersState(state, config));
  EXPECT_EQ((unheld.at({"be", "s2"}).op_state), 2);
}

}  // namespace
}  // namespace mlb::reloader
