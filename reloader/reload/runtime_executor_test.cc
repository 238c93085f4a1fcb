// The runtime executor against a stats socket answered by a fake: what it sends for a
// plan, a map update, a drift repair and a delete, and what it does with the replies.
#include "reloader/reload/runtime_executor.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "common/testing/fake_clock.h"

namespace mlb::reloader {
namespace {

const char* const kStateHeader =
    "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight "
    "srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health "
    "srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord "
    "srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n";

// One `show servers state` line of backend `be` (id 3).
std::string stateLine(const std::string& name, int port, int op, int admin, int weight) {
  return "3 be 1 " + name + " 127.0.0.1 " + std::to_string(op) + " " + std::to_string(admin) + " " +
         std::to_string(weight) + " " + std::to_string(weight) + " 1 8 2 0 6 0 0 1 - " +
         std::to_string(port) + " - 0 0 - - 0\n";
}

// The stats socket: records every command; `show servers state` answers `state`,
// `show stat` answers no session, `prepare map` a new version, `del server` deleted,
// anything else the empty reply of success unless it is in `refuse`.
class FakeStatsSocket : public HaproxySockets {
 public:
  std::string state = kStateHeader;
  std::vector<std::string> refuse;  // commands answered with an error text
  long s2_sessions = 0;             // what `show stat` says of be/s2
  std::vector<std::string> sent;
  std::vector<size_t> batch_sizes;

  common::Result<std::string> command(const std::string&, const std::string& cmd, int) override {
    sent.push_back(cmd);
    return reply(cmd);
  }
  common::Result<std::vector<std::string>> batch(const std::string&,
                                                 const std::vector<std::string>& cmds,
                                                 int) override {
    batch_sizes.push_back(cmds.size());
    std::vector<std::string> out;
    for (const auto& c : cmds) {
      sent.push_back(c);
      out.push_back(reply(c));
    }
    return out;
  }

 private:
  std::string reply(const std::string& cmd) {
    if (std::find(refuse.begin(), refuse.end(), cmd) != refuse.end()) {
      return "Refused.";
    }
    if (cmd.rfind("show servers state", 0) == 0) {
      return state;
    }
    if (cmd.rfind("show stat", 0) == 0) {
      return "# pxname,svname,qcur,qmax,scur,smax\nbe,s1,0,0,0,0\nbe,s2,0,0," +
             std::to_string(s2_sessions) + ",0\n";
    }
    if (cmd.rfind("prepare map", 0) == 0) {
      return "New version created: 7\n";
    }
    if (cmd.rfind("add server", 0) == 0) {
      return "New server registered.";
    }
    if (cmd.rfind("del server", 0) == 0) {
      return "Server deleted.";
    }
    return "";
  }
};

class RuntimeExecutorTest : public ::testing::Test {
 protected:
  RuntimeExecutor executor(size_t max_line = 8000) {
    return RuntimeExecutor(
        {"/s/stats.sock", std::chrono::seconds(120), std::chrono::seconds(30), max_line}, socket_,
        clock_);
  }
  // The plan that removes be/s2, a server `add` created.
  static RuntimePlan removalOfS2(const std::string& add) {
    RuntimePlan removal;
    removal.removals = {{"be", "s2"}};
    removal.removed_adds = {add};
    return removal;
  }
  FakeStatsSocket socket_;
  common::testing::FakeClock clock_;
};

TEST_F(RuntimeExecutorTest, AMapIsReplacedAtomicallyInBatchesThatFitTheCliBuffer) {
  RuntimePlan plan;
  plan.kind = RuntimePlan::Kind::Runtime;
  RuntimePlan::MapUpdate map{"/run/mlb/live/domain2backend.map", {}};
  for (int i = 0; i < 30; ++i) {
    map.entries.emplace_back("host" + std::to_string(i) + ".example", "app_" + std::to_string(i));
  }
  plan.maps.push_back(map);
  auto ex = executor(400);
  ASSERT_TRUE(ex.apply(plan));
  ASSERT_EQ(socket_.sent.size(), 32u);
  EXPECT_EQ(socket_.batch_sizes.back(), 1u);  // the commit alone, once every add answered
  EXPECT_EQ(socket_.sent[0], "prepare map /run/mlb/live/domain2backend.map");
  EXPECT_EQ(socket_.sent[1], "add map @7 /run/mlb/live/domain2backend.map host0.example app_0");
  EXPECT_EQ(socket_.sent[31], "commit map @7 /run/mlb/live/domain2backend.map");
  EXPECT_GT(socket_.batch_sizes.size(), 2u);  // no batch line beyond max_line
}

TEST_F(RuntimeExecutorTest, ARefusedPrepareOrAddIsAnErrorAndNothingIsCommitted) {
  RuntimePlan plan;
  plan.maps.push_back({"/m.map", {{"a", "b"}}});
  socket_.refuse = {"add map @7 /m.map a b"};
  auto ex = executor();
  auto st = ex.apply(plan);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("Refused."), std::string::npos);
  EXPECT_EQ(std::count(socket_.sent.begin(), socket_.sent.end(), "commit map @7 /m.map"), 0);
}

TEST_F(RuntimeExecutorTest, AServerBatchWithAnUnexpectedReplyIsAnError) {
  RuntimePlan plan;
  plan.commands = {"set server be/s1 state ready"};
  plan.expect = {RuntimePlan::Expect::Empty};
  socket_.refuse = plan.commands;
  auto ex = executor();
  EXPECT_FALSE(ex.apply(plan));
}

TEST_F(RuntimeExecutorTest, DriftInAdminStateAndWeightIsRepairedByCommands) {
  // s1 forced into MAINT behind mlb's back, s2 at weight 9 where the line says 4.
  socket_.state += stateLine("s1", 1001, 0, 1, 1) + stateLine("s2", 1002, 2, 0, 9);
  const std::string config =
      "backend be\n  server s1 127.0.0.1:1001 id 1 check\n"
      "  server s2 127.0.0.1:1002 id 2 check weight 4\n";
  auto ex = executor();
  GovernResult g;
  ex.govern(config, g);
  const std::vector<std::string> want = {"set server be/s1 state ready",
                                         "set server be/s2 weight 4"};
  EXPECT_EQ(g.drift_commands, want);
  EXPECT_EQ(g.drift_repairs, 2);
  EXPECT_FALSE(ex.reloadNeeded());
}

TEST_F(RuntimeExecutorTest, AnUnknownServerInMaintIsDeletedWithoutADrain) {
  socket_.state += stateLine("s1", 1001, 2, 0, 1) + stateLine("s2", 1002, 0, 5, 1);
  auto ex = executor();
  GovernResult g;
  ex.govern("backend be\n  server s1 127.0.0.1:1001 id 1 check\n", g);
  EXPECT_TRUE(g.drift_commands.empty());  // no `state drain`: it would leave MAINT
  EXPECT_EQ(g.drift_repairs, 1);
  GovernResult next;
  ex.govern("backend be\n  server s1 127.0.0.1:1001 id 1 check\n", next);
  clock_.advance(std::chrono::seconds(2));
  ex.govern("backend be\n  server s1 127.0.0.1:1001 id 1 check\n", next);
  EXPECT_EQ(next.deleted_servers, 1);
  EXPECT_NE(std::find(socket_.sent.begin(), socket_.sent.end(), "del server be/s2"),
            socket_.sent.end());
  EXPECT_EQ(std::count(socket_.sent.begin(), socket_.sent.end(), "set server be/s2 state drain"),
            0);
}

// HAProxy 2.6.12 let `del server` free a server that a stream retrying its connection
// still pointed to (haproxy#2298; the differential run's worker segfault right after
// `del server`): a removed server goes to MAINT with its stray streams shut, and is
// deleted only after the grace in MAINT, still idle.
TEST_F(RuntimeExecutorTest, AnIdleServerIsDeletedOnlyAfterItsGraceInMaint) {
  socket_.state += stateLine("s1", 1001, 2, 0, 1) + stateLine("s2", 1002, 2, 0, 1);
  const std::string config = "backend be\n  server s1 127.0.0.1:1001 id 1 check\n";
  RuntimePlan plan;
  plan.removals = {{"be", "s2"}};
  auto ex = executor();
  ASSERT_TRUE(ex.apply(plan));
  GovernResult g;
  ex.govern(config, g);  // idle: into MAINT, its strays shut, not deleted yet
  const std::vector<std::string> retire = {"set server be/s2 state maint",
                                           "shutdown sessions server be/s2"};
  EXPECT_TRUE(std::search(socket_.sent.begin(), socket_.sent.end(), retire.begin(), retire.end()) !=
              socket_.sent.end());
  EXPECT_EQ(std::count(socket_.sent.begin(), socket_.sent.end(), "del server be/s2"), 0);
  clock_.advance(std::chrono::milliseconds(1900));
  ex.govern(config, g);
  EXPECT_EQ(std::count(socket_.sent.begin(), socket_.sent.end(), "del server be/s2"), 0);
  EXPECT_EQ(g.deleted_servers, 0);
  clock_.advance(std::chrono::milliseconds(100));
  ex.govern(config, g);
  EXPECT_EQ(std::count(socket_.sent.begin(), socket_.sent.end(), "del server be/s2"), 1);
  EXPECT_EQ(g.deleted_servers, 1);
  // Maint and shutdown once only: the grace ran in MAINT.
  EXPECT_EQ(std::count(socket_.sent.begin(), socket_.sent.end(), "set server be/s2 state maint"),
            1);
}

TEST_F(RuntimeExecutorTest, AServerBackBeforeItsDeleteIsRevivedNotAddedAgain) {
  // Health down then up, or a task restarted on its port, within the grace: HAProxy
  // still holds the server (in MAINT), and `add server` would be refused (name and id
  // taken; the churn bench's runtime phase reloaded ~7 times per 100 events).
  socket_.state += stateLine("s1", 1001, 2, 0, 1) + stateLine("s2", 1002, 2, 0, 1);
  auto ex = executor();
  ASSERT_TRUE(ex.apply(removalOfS2("add server be/s2 127.0.0.1:1002 id 2 check")));
  GovernResult g;
  ex.govern("backend be\n  server s1 127.0.0.1:1001 id 1 check\n", g);  // into MAINT
  RuntimePlan back;
  back.commands = {"add server be/s2 127.0.0.1:1002 id 2 check", "enable health be/s2",
                   "set server be/s2 state ready"};
  back.expect = {RuntimePlan::Expect::Registered, RuntimePlan::Expect::Empty,
                 RuntimePlan::Expect::Empty};
  socket_.refuse = {back.commands[0]};  // as HAProxy answers: the name is taken
  ASSERT_TRUE(ex.apply(back));
  EXPECT_EQ(std::count(socket_.sent.begin(), socket_.sent.end(), back.commands[0]), 0);
  // Where a fresh add starts (MAINT), then the add's own sequence.
  const std::vector<std::string> revive = {"set server be/s2 state maint", "enable health be/s2",
                                           "set server be/s2 state ready"};
  EXPECT_TRUE(std::search(socket_.sent.begin(), socket_.sent.end(), revive.begin(), revive.end()) !=
              socket_.sent.end());
  clock_.advance(std::chrono::seconds(5));  // past the grace: it is served, not deleted
  const std::string config =
      "backend be\n  server s1 127.0.0.1:1001 id 1 check\n"
      "  server s2 127.0.0.1:1002 id 2 check\n";
  ex.govern(config, g);
  EXPECT_EQ(std::count(socket_.sent.begin(), socket_.sent.end(), "del server be/s2"), 0);
  EXPECT_EQ(g.deleted_servers, 0);
}

TEST_F(RuntimeExecutorTest, AServerBackWithAnotherLineIsNotRevived) {
  // Its keywords changed (a check interval): a revived server would keep the old ones.
  socket_.state += stateLine("s1", 1001, 2, 0, 1) + stateLine("s2", 1002, 2, 0, 1);
  auto ex = executor();
  ASSERT_TRUE(ex.apply(removalOfS2("add server be/s2 127.0.0.1:1002 id 2 check inter 10s")));
  RuntimePlan back;
  back.commands = {"add server be/s2 127.0.0.1:1002 id 2 check inter 60s"};
  back.expect = {RuntimePlan::Expect::Registered};
  socket_.refuse = {back.commands[0]};
  EXPECT_FALSE(ex.apply(back));  // refused as HAProxy refuses it: the pass reloads
}

TEST_F(RuntimeExecutorTest, SessionsThatNeverEndDelayTheDeleteNoLongerThanTheDrainTimeout) {
  // 2.6.12's session count may never come back to 0: shut again at each tick, then
  // deleted once --drain-timeout is over (it was never deleted: maint every tick).
  socket_.state += stateLine("s1", 1001, 2, 0, 1) + stateLine("s2", 1002, 2, 0, 1);
  socket_.s2_sessions = 3;
  const std::string config = "backend be\n  server s1 127.0.0.1:1001 id 1 check\n";
  RuntimePlan plan;
  plan.removals = {{"be", "s2"}};
  auto ex = executor();
  ASSERT_TRUE(ex.apply(plan));
  GovernResult g;
  clock_.advance(std::chrono::seconds(121));  // overdue: into MAINT, shut
  ex.govern(config, g);
  for (int i = 0; i < 3; ++i) {
    clock_.advance(std::chrono::seconds(1));
    ex.govern(config, g);
  }
  EXPECT_EQ(std::count(socket_.sent.begin(), socket_.sent.end(), "set server be/s2 state maint"),
            1);
  EXPECT_EQ(g.deleted_servers, 1);
  EXPECT_EQ(std::count(socket_.sent.begin(), socket_.sent.end(), "del server be/s2"), 1);
}

TEST_F(RuntimeExecutorTest, AServerMovedBehindMlbsBackNeedsAReload) {
  socket_.state += stateLine("s1", 1009, 2, 0, 1);
  auto ex = executor();
  GovernResult g;
  ex.govern("backend be\n  server s1 127.0.0.1:1001 id 1 check\n", g);
  EXPECT_TRUE(ex.reloadNeeded());
  EXPECT_EQ(g.drift_reloads, 1);
  ex.reloaded();
  EXPECT_FALSE(ex.reloadNeeded());
}

}  // namespace
}  // namespace mlb::reloader
