#include "reloader/haproxy/runtime_plan.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace mlb::reloader {
namespace {

using Kind = RuntimePlan::Kind;

const std::string kHead =
    "global\n  stats socket /run/mlb/stats.sock level admin\ndefaults\n  mode http\n"
    "frontend app_10000\n  bind *:10000\n  use_backend app_10000\n";

std::string backend(const std::string& body, const std::vector<std::string>& servers,
                    const std::string& name = "app_10000") {
  std::string s = "backend " + name + "\n" + body;
  for (const auto& srv : servers) {
    s += "  server " + srv + "\n";
  }
  return s;
}

const std::string kA = "10_0_0_1_31000 10.0.0.1:31000 id 11 check inter 2s fall 3";
const std::string kB = "10_0_0_2_31001 10.0.0.2:31001 id 12 check inter 2s fall 3";
const std::string kC = "10_0_0_3_31002 10.0.0.3:31002 id 13 check inter 2s fall 3";
const std::string kNoCheck = "10_0_0_4_31003 10.0.0.4:31003 id 14";
const std::string kRR = "  balance roundrobin\n";

RuntimePlan plan(const std::string& body_old, const std::vector<std::string>& old_servers,
                 const std::string& body_new, const std::vector<std::string>& new_servers) {
  return planRuntime(kHead + backend(body_old, old_servers),
                     kHead + backend(body_new, new_servers));
}

TEST(RuntimePlan, IdenticalConfigsNeedNothing) {
  EXPECT_EQ(plan(kRR, {kA}, kRR, {kA}).kind, Kind::Nothing);
}

TEST(RuntimePlan, AddedServerIsAddedCheckedAndReadyAtOnceAsAReloadBringsItIn) {
  // Held down until `rise` checks pass (the old `health down`), a replaced task left
  // its app without a server for rise x inter while a reload serves it at once.
  auto p = plan(kRR, {kA}, kRR, {kA, kB});
  ASSERT_EQ(p.kind, Kind::Runtime) << p.reason;
  const std::vector<std::string> want = {
      "add server app_10000/10_0_0_2_31001 10.0.0.2:31001 id 12 check inter 2s fall 3",
      "enable health app_10000/10_0_0_2_31001", "set server app_10000/10_0_0_2_31001 state ready"};
  EXPECT_EQ(p.commands, want);
  EXPECT_EQ(p.expect[0], RuntimePlan::Expect::Registered);
  EXPECT_EQ(p.expect[1], RuntimePlan::Expect::Empty);
  EXPECT_EQ(p.added, 1u);
  EXPECT_FALSE(p.needs_validation);
}

TEST(RuntimePlan, ATaskNotKnownHealthyIsAddedDownWithNoWindowInTraffic) {
  // Its app has Marathon health checks and no result says the task is alive: `state
  // ready` then `health down` left it UP for a moment; leaving MAINT puts health at
  // rise. Through DRAIN (no traffic) to DOWN, then ready: in once its checks pass.
  const std::string live = kHead + backend(kRR, {kA});
  const std::string next = kHead + backend(kRR, {kA, kB, kNoCheck});
  auto p = planRuntime(live, next, 200, {"app_10000/10_0_0_2_31001", "app_10000/10_0_0_4_31003"});
  ASSERT_EQ(p.kind, Kind::Runtime) << p.reason;
  const std::string id = "app_10000/10_0_0_2_31001";
  const std::vector<std::string> want = {
      "add server " + id + " 10.0.0.2:31001 id 12 check inter 2s fall 3", "enable health " + id,
      "set server " + id + " state drain", "set server " + id + " health down",
      "set server " + id + " state ready"};
  EXPECT_EQ(std::vector<std::string>(p.commands.begin(), p.commands.begin() + 5), want);
  // Without checks nothing would ever bring it up: not held.
  EXPECT_EQ(std::count(p.commands.begin(), p.commands.end(),
                       "set server app_10000/10_0_0_4_31003 health down"),
            0);
  EXPECT_EQ(std::count(p.commands.begin(), p.commands.end(),
                       "set server app_10000/10_0_0_4_31003 state ready"),
            1);
}

TEST(RuntimePlan, DefaultServerOfTheDefaultsAndTheBackendIsExpandedIntoTheAdd) {
  // `add server` on 2.6 ignores default-server: a reload would give maxconn 7 weight 33.
  const std::string head =
      "global\n  stats socket /s level admin\ndefaults\n  mode http\n"
      "  default-server inter 3s\n";
  const std::string body = kRR + "  default-server maxconn 7 weight 33\n";
  auto p = planRuntime(head + backend(body, {kA}), head + backend(body, {kA, kNoCheck}));
  ASSERT_EQ(p.kind, Kind::Runtime) << p.reason;
  EXPECT_EQ(
      p.commands[0],
      "add server app_10000/10_0_0_4_31003 10.0.0.4:31003 inter 3s maxconn 7 weight 33 id 14");
  const auto lines = serverLines(head + backend(body, {kA, kNoCheck}));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(configWeight(lines[1]), 33);
  // `check` or `disabled` given by default-server count as the line's own.
  const std::string checked = kRR + "  default-server check\n";
  auto q = planRuntime(kHead + backend(checked, {kNoCheck}),
                       kHead + backend(checked, {kNoCheck, "n 10.0.0.8:1 id 9"}));
  ASSERT_EQ(q.kind, Kind::Runtime) << q.reason;
  EXPECT_EQ(q.commands[1], "enable health app_10000/n");
  // A keyword dynamic servers refuse, given by default-server: a reload.
  const std::string resolvers = kRR + "  default-server resolvers dns\n";
  auto r = planRuntime(kHead + backend(resolvers, {kA}), kHead + backend(resolvers, {kA, kB}));
  EXPECT_EQ(r.kind, Kind::Reload);
  EXPECT_EQ(r.reason_class, "unsafe server");
}

TEST(RuntimePlan, AgentChecksAreEnabledOnAddAndDisabledBeforeTheDrain) {
  const std::string agent = "10_0_0_5_31004 10.0.0.5:31004 id 15 check agent-check agent-port 9";
  auto add = plan(kRR, {kA}, kRR, {kA, agent});
  ASSERT_EQ(add.kind, Kind::Runtime) << add.reason;
  EXPECT_NE(
      std::find(add.commands.begin(), add.commands.end(), "enable agent app_10000/10_0_0_5_31004"),
      add.commands.end());
  auto del = plan(kRR, {kA, agent}, kRR, {kA});
  ASSERT_EQ(del.kind, Kind::Runtime) << del.reason;
  const std::vector<std::string> want = {"disable agent app_10000/10_0_0_5_31004",
                                         "set server app_10000/10_0_0_5_31004 state drain"};
  EXPECT_EQ(del.commands, want);
}

TEST(RuntimePlan, ARemovedServerInMaintIsNeverDrained) {
  // `state drain` takes a server out of MAINT: the disabled old colour would get
  // traffic and checks again before its delete.
  auto p = plan(kRR, {kA, kB + " disabled"}, kRR, {kA});
  ASSERT_EQ(p.kind, Kind::Runtime) << p.reason;
  EXPECT_TRUE(p.commands.empty());
  ASSERT_EQ(p.removals.size(), 1u);
  EXPECT_EQ(p.removals[0].second, "10_0_0_2_31001");
  // The add that would bring it back as it was (a return within its grace revives it).
  ASSERT_EQ(p.removed_adds.size(), 1u);
  EXPECT_EQ(p.removed_adds[0], "add server app_10000/" + kB);
}

TEST(RuntimePlan, ServerWithoutChecksIsReadyAtOnce) {
  auto p = plan(kRR, {kA}, kRR, {kA, kNoCheck});
  ASSERT_EQ(p.kind, Kind::Runtime);
  const std::vector<std::string> want = {"add server app_10000/10_0_0_4_31003 10.0.0.4:31003 id 14",
                                         "set server app_10000/10_0_0_4_31003 state ready"};
  EXPECT_EQ(p.commands, want);
  EXPECT_TRUE(p.needs_validation);  // a server line of a shape the live config lacks
}

TEST(RuntimePlan, RemovedServerIsDrainedThenDeletedLater) {
  auto p = plan(kRR, {kA, kB}, kRR, {kA});
  ASSERT_EQ(p.kind, Kind::Runtime);
  EXPECT_EQ(p.commands,
            std::vector<std::string>{"set server app_10000/10_0_0_2_31001 state drain"});
  ASSERT_EQ(p.removals.size(), 1u);
  EXPECT_EQ(p.removals[0], std::make_pair(std::string("app_10000"), std::string("10_0_0_2_31001")));
}

TEST(RuntimePlan, DisabledTogglesMaintAndReadyAtOnce) {
  auto off = plan(kRR, {kA, kB}, kRR, {kA, kB + " disabled"});
  ASSERT_EQ(off.kind, Kind::Runtime);
  EXPECT_EQ(off.commands,
            std::vector<std::string>{"set server app_10000/10_0_0_2_31001 state maint"});
  auto on = plan(kRR, {kA, kB + " disabled"}, kRR, {kA, kB});
  ASSERT_EQ(on.kind, Kind::Runtime);
  EXPECT_EQ(on.commands,
            std::vector<std::string>{"set server app_10000/10_0_0_2_31001 state ready"});
}

// Every case HAProxy 2.6 cannot change at runtime reloads, with the reason.
TEST(RuntimePlan, UnsafeCasesReload) {
  struct Case {
    std::string name, body;
    std::vector<std::string> before, after;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {"static-rr", "  balance static-rr\n", {kA}, {kA, kB}, "static-rr balancing"},
      {"map-based source", "  balance source\n", {kA}, {kA, kB}, "map-based hashing"},
      {"map-based uri", "  balance uri\n", {kA}, {kA, kB}, "map-based hashing"},
      {"map-based hdr", "  balance hdr(host)\n", {kA}, {kA, kB}, "map-based hashing"},
      {"cookie",
       kRR + "  cookie mesosphere_server_id insert indirect nocache\n",
       {kA},
       {kA, kB},
       "cookie persistence"},
      {"use-server",
       kRR + "  use-server 10_0_0_1_31000 if TRUE\n",
       {kA},
       {kA, kB},
       "use-server rule"},
      {"track", kRR, {kA}, {kA, kB + " track app_10000/10_0_0_1_31000"}, "unsafe server"},
      {"server cookie", kRR, {kA}, {kA, kB + " cookie abc"}, "unsafe server"},
      {"no id", kRR, {kA}, {kA, "x 10.0.0.9:1 check"}, "unsafe server"},
      {"moved in place",
       kRR,
       {kA},
       {"10_0_0_1_31000 10.0.0.9:31000 id 11 check inter 2s fall 3"},
       "server changed in place"},
      {"options changed",
       kRR,
       {kA},
       {"10_0_0_1_31000 10.0.0.1:31000 id 11 check inter 5s fall 3"},
       "server changed in place"},
  };
  for (const auto& c : cases) {
    auto p = plan(c.body, c.before, c.body, c.after);
    EXPECT_EQ(p.kind, Kind::Reload) << c.name;
    EXPECT_EQ(p.reason_class, c.reason) << c.name << ": " << p.reason;
    EXPECT_TRUE(p.commands.empty()) << c.name;
  }
}

TEST(RuntimePlan, ConsistentHashingAndRandomAreDynamic) {
  const std::string consistent = "  balance source\n  hash-type consistent\n";
  EXPECT_EQ(plan(consistent, {kA}, consistent, {kA, kB}).kind, Kind::Runtime);
  EXPECT_EQ(plan("  balance random\n", {kA}, "  balance random\n", {kA, kB}).kind, Kind::Runtime);
  EXPECT_EQ(plan("  balance leastconn\n", {kA}, "  balance leastconn\n", {kB}).kind, Kind::Runtime);
}

TEST(RuntimePlan, AnythingButServerLinesReloads) {
  auto balance = plan(kRR, {kA}, "  balance leastconn\n", {kA, kB});
  EXPECT_EQ(balance.kind, Kind::Reload);
  EXPECT_EQ(balance.reason_class, "configuration changed");
  auto added_backend =
      planRuntime(kHead + backend(kRR, {kA}), kHead + backend(kRR, {kA}) + backend(kRR, {kB}, "x"));
  EXPECT_EQ(added_backend.kind, Kind::Reload);
  EXPECT_EQ(added_backend.reason_class, "sections changed");
  auto global = planRuntime(kHead + backend(kRR, {kA}),
                            "global\n  maxconn 10\n" + kHead.substr(7) + backend(kRR, {kA, kB}));
  EXPECT_EQ(global.kind, Kind::Reload);
}

TEST(RuntimePlan, AnUnsafeBackendThatDoesNotChangeDoesNotMatter) {
  const std::string cookie = kRR + "  cookie c insert\n";
  auto p = planRuntime(kHead + backend(cookie, {kA}, "sticky") + backend(kRR, {kB}),
                       kHead + backend(cookie, {kA}, "sticky") + backend(kRR, {kB, kC}));
  EXPECT_EQ(p.kind, Kind::Runtime) << p.reason;
  EXPECT_EQ(p.added, 1u);
}

TEST(RuntimePlan, TooManyChangesReload) {
  std::vector<std::string> many;
  for (int i = 0; i < 5; ++i) {
    many.push_back("s" + std::to_string(i) + " 10.0.1." + std::to_string(i) + ":1 id " +
                   std::to_string(100 + i) + " check inter 2s fall 3");
  }
  auto p = planRuntime(kHead + backend(kRR, {kA}), kHead + backend(kRR, many), 3);
  EXPECT_EQ(p.kind, Kind::Reload);
  EXPECT_EQ(p.reason_class, "too many server changes for one batch");
}

TEST(RuntimePlan, ServerLinesAreReadPerBackend) {
  auto lines = serverLines(kHead + backend(kRR, {kA, kB + " disabled"}));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].backend, "app_10000");
  EXPECT_EQ(lines[1].address, "10.0.0.2:31001");
  EXPECT_TRUE(lines[1].disabled);
  EXPECT_TRUE(lines[1].check);
}

TEST(RuntimePlan, ServerLinesOfNamedBackendsOnly) {
  const std::string cfg = kHead + backend(kRR, {kA}) + backend(kRR, {kB, kC}, "other");
  auto lines = serverLines(cfg, {"other"});
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].backend, "other");
  EXPECT_EQ(lines[1].name, "10_0_0_3_31002");
  EXPECT_EQ(serverLines(cfg).size(), 3u);
  EXPECT_TRUE(serverLines(cfg, {"missing"}).empty());
}

TEST(RuntimePlan, OnlyTheChangedBackendIsTouched) {
  auto p = planRuntime(kHead + backend(kRR, {kA}) + backend(kRR, {kB}, "other"),
                       kHead + backend(kRR, {kA}) + backend(kRR, {kB, kC}, "other"));
  ASSERT_EQ(p.kind, Kind::Runtime) << p.reason;
  EXPECT_EQ(p.backends, std::set<std::string>{"other"});
  EXPECT_FALSE(p.needs_validation);  // the same shape as its sibling's line
}

TEST(RuntimePlan, ANewShapeIsLookedUpInTheWholeLiveConfig) {
  // The changed backend has no server of that shape, another backend has.
  auto p = planRuntime(kHead + backend(kRR, {kNoCheck}) + backend(kRR, {kA}, "other"),
                       kHead + backend(kRR, {kNoCheck}) + backend(kRR, {kA, kB}, "other"));
  ASSERT_EQ(p.kind, Kind::Runtime) << p.reason;
  EXPECT_FALSE(p.needs_validation);
  auto q = planRuntime(kHead + backend(kRR, {kA}) + backend(kRR, {kA}, "other"),
                       kHead + backend(kRR, {kA}) + backend(kRR, {kA, kNoCheck}, "other"));
  EXPECT_TRUE(q.needs_validation);
}

TEST(RuntimePlan, ANonBackendSectionThatDiffersInBlanksReloadsAndNeverThrows) {
  // A section whose text differs only in a blank line: not a backend, so a reload
  // (the planner once took its header for a backend's and threw).
  const std::string live = "global\n  daemon\n\n" + backend(kRR, {kA});
  const std::string next = "global\n  daemon\n" + backend(kRR, {kA});
  auto p = planRuntime(live, next);
  EXPECT_EQ(p.kind, Kind::Reload);
  EXPECT_EQ(p.reason_class, "configuration changed");
  auto q = planRuntime("  preamble\n" + live, "  other\n" + live);
  EXPECT_EQ(q.kind, Kind::Reload);
  // A backend whose server lines differ only in blanks: nothing to do.
  auto r = planRuntime(kHead + backend(kRR, {kA}),
                       kHead + "backend app_10000\n" + kRR + "  server  " + kA + "\n");
  EXPECT_EQ(r.kind, Kind::Nothing) << r.reason;
}

TEST(RuntimePlan, SectionsAreSplitWithoutATrailingNewline) {
  const std::string live = kHead + backend(kRR, {kA});
  std::string next = kHead + backend(kRR, {kA, kB});
  next.pop_back();  // no final line break
  auto p = planRuntime(live, next);
  ASSERT_EQ(p.kind, Kind::Runtime) << p.reason;
  EXPECT_EQ(p.added, 1u);
  // Any other line that differs reloads, a comment at column 0 too.
  auto q = planRuntime("# generated\n" + live, "# other comment\n" + live);
  EXPECT_EQ(q.kind, Kind::Reload);
}

}  // namespace
}  // namespace mlb::reloader
