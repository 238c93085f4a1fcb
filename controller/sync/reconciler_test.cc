#include "controller/sync/reconciler.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <deque>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/fs/config_edits.h"
#include "common/fs/files.h"
#include "common/testing/fake_clock.h"

namespace mlb::controller {
namespace {

namespace fs = std::filesystem;

class FakeMarathonApi : public MarathonApi {
 public:
  common::Result<MarathonBody> fetchApps() override {
    ++calls;
    if (fail) {
      return common::Error{common::ErrorCode::Unavailable, "HTTP 503: <html>"};
    }
    return MarathonBody{body, "http://fake"};
  }
  common::Result<MarathonBody> fetchApp(const std::string& id) override {
    ++app_calls;
    if (fail) {
      return common::Error{common::ErrorCode::Unavailable, "HTTP 503"};
    }
    auto it = single.find(id);
    if (it == single.end()) {
      return MarathonBody{"", "http://fake", 404};
    }
    return MarathonBody{it->second, "http://fake", 200};
  }
  std::string currentUrl() const override { return "http://fake"; }
  std::map<std::string, std::string> single;  // id -> {"app": ...}
  int app_calls = 0;
  std::string authorizationHeader() override { return ""; }
  std::string body;
  bool fail = false;
  int calls = 0;
};

// haproxy -c double: rejects any config that contains `reject_marker`, naming the
// line, as HAProxy does.
class FakeRunner : public common::ProcessRunner {
 public:
  common::Result<common::ProcessResult> run(const std::vector<std::string>& argv,
                                            std::chrono::milliseconds) override {
    ++calls;
    common::ProcessResult r;
    r.exit_code = 0;
    if (time_out) {
      r.exit_code = -1;
      r.timed_out = true;
      return r;
    }
    auto cfg = common::readFile(argv.back());
    if (!cfg) {
      return cfg.error();
    }
    size_t pos = cfg->find(reject_marker);
    if (!reject_marker.empty() && pos != std::string::npos) {
      int line = 1 + static_cast<int>(std::count(cfg->begin(), cfg->begin() + pos, '\n'));
      r.exit_code = 1;
      r.err = "[ALERT]    (1) : config : parsing [" + argv.back() + ":" + std::to_string(line) +
              "] : unknown keyword '" + reject_marker +
              "'.\n[ALERT]    (1) : config : Fatal "
              "errors found in configuration.\n";
    }
    return r;
  }
  std::string reject_marker;
  bool time_out = false;
  int calls = 0;
};

std::string app(const std::string& id, int service_port, const std::vector<int>& ports,
                const std::string& extra_labels = "") {
  std::string tasks;
  for (size_t i = 0; i < ports.size(); ++i) {
    tasks += (i ? "," : "") + std::string("{\"id\":\"") + id.substr(1) + ".t" + std::to_string(i) +
             "\",\"host\":\"10.0.0." + std::to_string(i + 1) +
             "\",\"state\":\"TASK_RUNNING\",\"ports\":[" + std::to_string(ports[i]) + "]}";
  }
  return "{\"id\":\"" + id + "\",\"instances\":" + std::to_string(ports.size()) +
         ",\"labels\":{\"HAPROXY_GROUP\":\"external\"" + extra_labels +
         "},\"portDefinitions\":[{\"port\":" + std::to_string(service_port) + "}],\"tasks\":[" +
         tasks + "]}";
}

std::string apps(const std::vector<std::string>& a) {
  std::string s = "{\"apps\":[";
  for (size_t i = 0; i < a.size(); ++i) {
    s += (i ? "," : "") + a[i];
  }
  return s + "]}";
}

class ReconcilerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("mlb-rec-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    auto t = TemplateSet::load("", {});
    ASSERT_TRUE(t);
    templates_ = std::make_unique<TemplateSet>(std::move(*t));
    publisher_ = std::make_unique<BundlePublisher>(dir_.string(), 3);
    ASSERT_TRUE(publisher_->init());
    options_.build.groups = {"external"};
    options_.render.state_dir = dir_.string();
    options_.render.haproxy_dir = dir_.string() + "/live";
    options_.confirm_resyncs = 3;
  }
  void TearDown() override { fs::remove_all(dir_); }
  Reconciler make(common::ProcessRunner* runner = nullptr) {
    if (runner) {
      options_.haproxy_bin = "/usr/sbin/haproxy";
    }
    return Reconciler(api_, runner, *publisher_, *templates_, options_);
  }
  std::string cfg() { return *common::readBundleConfig((dir_ / "current").string()); }

  fs::path dir_;
  FakeMarathonApi api_;
  std::unique_ptr<TemplateSet> templates_;
  std::unique_ptr<BundlePublisher> publisher_;
  ReconcilerOptions options_;
};

TEST_F(ReconcilerTest, PublishesThenReportsUnchanged) {
  api_.body = apps({app("/a", 10001, {31000, 31001})});
  auto r = make();
  auto first = r.reconcileOnce();
  EXPECT_EQ(first.outcome, PassReport::Outcome::Published) << first.detail;
  EXPECT_EQ(first.servers, 2u);
  EXPECT_EQ(first.added_apps, std::vector<std::string>{"/a"});
  EXPECT_EQ(publisher_->currentVersion(), first.version);
  auto second = r.reconcileOnce();
  EXPECT_EQ(second.outcome, PassReport::Outcome::Unchanged);
  EXPECT_EQ(second.version, first.version);
}

TEST_F(ReconcilerTest, TheManifestNamesTheServersNoMarathonCheckSaysAlive) {
  // The reloader holds them DOWN until HAProxy's checks pass (runtime add and reload).
  api_.body = R"({"apps":[{"id":"/h","portDefinitions":[{"port":10001}],
      "labels":{"HAPROXY_GROUP":"external"},
      "healthChecks":[{"protocol":"HTTP","portIndex":0,"path":"/ok"}],
      "tasks":[
        {"id":"a","host":"10.0.0.1","state":"TASK_RUNNING","ports":[31000],"healthCheckResults":[{"alive":true}]},
        {"id":"n","host":"10.0.0.2","state":"TASK_RUNNING","ports":[31001]}]}]})";
  auto r = make();
  ASSERT_EQ(r.reconcileOnce().outcome, PassReport::Outcome::Published);
  auto manifest =
      nlohmann::json::parse(*common::readFile((dir_ / "current" / "manifest.json").string()));
  EXPECT_EQ(manifest["unproven"], nlohmann::json::array({"h_10001/10_0_0_2_31001"}));
}

TEST_F(ReconcilerTest, ATemplateLabelThatFailsToRenderCostsOnlyItsApp) {
  // Before: the failing service stayed in the model, each round found it again, and
  // the pass failed ("still invalid") for every app, with or without a last good one.
  const std::string bad =
      R"(,"HAPROXY_0_BACKEND_HEAD":"\nbackend {backend}\n  balance {nosuchkey}\n")";
  api_.body = apps({app("/a", 10001, {31000}), app("/b", 10002, {31001}, bad)});
  auto r = make();
  auto first = r.reconcileOnce();
  ASSERT_EQ(first.outcome, PassReport::Outcome::Published) << first.detail;
  ASSERT_EQ(first.quarantined.size(), 1u);
  EXPECT_EQ(first.quarantined[0].source, QuarantineEntry::Source::Template);
  EXPECT_FALSE(first.quarantined[0].kept_last_good);
  EXPECT_NE(cfg().find("backend a_10001"), std::string::npos);
  EXPECT_EQ(cfg().find("backend b_10002"), std::string::npos);
  // Fixed, then broken again with a new task: its last good fragment serves the new task.
  api_.body = apps({app("/a", 10001, {31000}), app("/b", 10002, {31001})});
  ASSERT_EQ(r.reconcileOnce().outcome, PassReport::Outcome::Published);
  api_.body = apps({app("/a", 10001, {31000, 31005}), app("/b", 10002, {31009}, bad)});
  auto third = r.reconcileOnce();
  ASSERT_EQ(third.outcome, PassReport::Outcome::Published) << third.detail;
  ASSERT_EQ(third.quarantined.size(), 1u);
  EXPECT_TRUE(third.quarantined[0].kept_last_good);
  EXPECT_NE(cfg().find("10.0.0.2:31005"), std::string::npos);  // /a's change is live
  EXPECT_NE(cfg().find("10.0.0.1:31009"), std::string::npos);  // /b: last good, current task
}

TEST_F(ReconcilerTest, MarathonErrorAndGarbagePublishNothing) {
  api_.body = apps({app("/a", 10001, {31000})});
  auto r = make();
  auto v = r.reconcileOnce().version;
  api_.fail = true;
  auto failed = r.reconcileOnce();
  EXPECT_EQ(failed.outcome, PassReport::Outcome::Failed);
  EXPECT_EQ(failed.fault, PassReport::Fault::MarathonUnavailable);
  api_.fail = false;
  api_.body = "<html><body>503 Service Unavailable</body></html>";
  auto garbage = r.reconcileOnce();
  EXPECT_EQ(garbage.fault, PassReport::Fault::InvalidAnswer);
  api_.body = apps({app("/a", 10001, {31000})}).substr(0, 40);
  EXPECT_EQ(r.reconcileOnce().fault, PassReport::Fault::InvalidAnswer);
  EXPECT_EQ(publisher_->currentVersion(), v);
}

TEST_F(ReconcilerTest, EmptyAnswerIsHeldUntilConfirmed) {
  api_.body = apps({app("/a", 10001, {31000}), app("/b", 10002, {31001})});
  auto r = make();
  auto v = r.reconcileOnce().version;
  api_.body = apps({});
  auto h1 = r.reconcileOnce();
  EXPECT_EQ(h1.outcome, PassReport::Outcome::Held);
  EXPECT_EQ(h1.guard, PassReport::Guard::Empty);
  EXPECT_EQ(r.reconcileOnce().outcome, PassReport::Outcome::Held);
  EXPECT_EQ(publisher_->currentVersion(), v);
  // The third consecutive empty answer confirms it.
  EXPECT_EQ(r.reconcileOnce().outcome, PassReport::Outcome::Published);
}

TEST_F(ReconcilerTest, HeldCountResetsWhenMarathonRecovers) {
  api_.body = apps({app("/a", 10001, {31000})});
  auto r = make();
  r.reconcileOnce();
  api_.body = apps({});
  EXPECT_EQ(r.reconcileOnce().outcome, PassReport::Outcome::Held);
  EXPECT_EQ(r.reconcileOnce().outcome, PassReport::Outcome::Held);
  api_.body = apps({app("/a", 10001, {31000})});
  EXPECT_EQ(r.reconcileOnce().outcome, PassReport::Outcome::Unchanged);
  api_.body = apps({});
  EXPECT_EQ(r.reconcileOnce().outcome, PassReport::Outcome::Held);
}

TEST_F(ReconcilerTest, SharpShrinkIsHeld) {
  api_.body = apps({app("/a", 10001, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10})});
  auto r = make();
  r.reconcileOnce();
  api_.body = apps({app("/a", 10001, {1, 2})});
  auto h = r.reconcileOnce();
  EXPECT_EQ(h.outcome, PassReport::Outcome::Held);
  EXPECT_EQ(h.guard, PassReport::Guard::Shrink);
  // A moderate scale-down is not held.
  api_.body = apps({app("/a", 10001, {1, 2, 3, 4, 5, 6, 7})});
  EXPECT_EQ(r.reconcileOnce().outcome, PassReport::Outcome::Published);
}

TEST_F(ReconcilerTest, BadLabelKeepsLastGoodFragmentAndOthersStillChange) {
  api_.body = apps({app("/a", 10001, {31000}), app("/b", 10002, {32000})});
  auto r = make();
  r.reconcileOnce();
  // /a gets an injection attempt; /b scales at the same time.
  api_.body = apps({app("/a", 10001, {31000, 31001}, ",\"HAPROXY_0_BALANCE\":\"x\\nbind :1\""),
                    app("/b", 10002, {32000, 32001})});
  auto rep = r.reconcileOnce();
  EXPECT_EQ(rep.outcome, PassReport::Outcome::Published);
  ASSERT_EQ(rep.quarantined.size(), 1u);
  EXPECT_EQ(rep.quarantined[0].app_id, "/a");
  EXPECT_EQ(rep.quarantined[0].source, QuarantineEntry::Source::Label);
  EXPECT_TRUE(rep.quarantined[0].kept_last_good);
  std::string c = cfg();
  EXPECT_NE(c.find("10.0.0.2:32001"), std::string::npos);  // /b's change went out
  EXPECT_NE(c.find("10.0.0.1:31000"), std::string::npos);  // /a's last good server
  EXPECT_EQ(c.find("10.0.0.2:31001"), std::string::npos);  // /a's new state did not
  EXPECT_EQ(c.find("bind :1"), std::string::npos);
}

TEST_F(ReconcilerTest, NewAppWithBadLabelIsLeftOut) {
  api_.body = apps({app("/a", 10001, {31000}, ",\"HAPROXY_0_PORT\":\"x\"")});
  auto r = make();
  auto rep = r.reconcileOnce();
  EXPECT_EQ(rep.outcome, PassReport::Outcome::Published);
  ASSERT_EQ(rep.quarantined.size(), 1u);
  EXPECT_FALSE(rep.quarantined[0].kept_last_good);
  EXPECT_EQ(cfg().find("31000"), std::string::npos);
}

TEST_F(ReconcilerTest, HaproxyAlertIsMappedToTheAppThatOwnsTheLine) {
  FakeRunner runner;
  api_.body = apps({app("/a", 10001, {31000}, ",\"HAPROXY_0_VHOST\":\"a.example.com\""),
                    app("/b", 10002, {32000})});
  auto r = make(&runner);
  ASSERT_EQ(r.reconcileOnce().outcome, PassReport::Outcome::Published);
  runner.reject_marker = "balancee";
  api_.body = apps({app("/a", 10001, {31000, 31001},
                        ",\"HAPROXY_0_VHOST\":\"a.example.com\","
                        "\"HAPROXY_0_BACKEND_HTTP_OPTIONS\":\"  balancee x\\n\""),
                    app("/b", 10002, {32000, 32001})});
  auto rep = r.reconcileOnce();
  ASSERT_EQ(rep.outcome, PassReport::Outcome::Published) << rep.detail;
  ASSERT_EQ(rep.quarantined.size(), 1u);
  EXPECT_EQ(rep.quarantined[0].app_id, "/a");
  EXPECT_EQ(rep.quarantined[0].source, QuarantineEntry::Source::Haproxy);
  EXPECT_NE(rep.quarantined[0].reason.find("balancee"), std::string::npos);
  std::string c = cfg();
  EXPECT_EQ(c.find("balancee"), std::string::npos);
  EXPECT_NE(c.find("10.0.0.2:32001"), std::string::npos);
  EXPECT_NE(c.find("10.0.0.1:31000"), std::string::npos);  // /a's last good fragment
  // The same bad app in the next pass is recognised without running haproxy again.
  const int calls = runner.calls;
  api_.body = apps({app("/a", 10001, {31000, 31001},
                        ",\"HAPROXY_0_VHOST\":\"a.example.com\","
                        "\"HAPROXY_0_BACKEND_HTTP_OPTIONS\":\"  balancee x\\n\""),
                    app("/b", 10002, {32000, 32001, 32002})});
  auto again = r.reconcileOnce();
  EXPECT_EQ(again.outcome, PassReport::Outcome::Published);
  ASSERT_EQ(again.quarantined.size(), 1u);
  EXPECT_EQ(again.quarantined[0].source, QuarantineEntry::Source::Haproxy);
  EXPECT_EQ(runner.calls, calls);
  // Events whose apps answer as before rebuild nothing, but the app HAProxy rejected
  // is still re-checked: every kOffenderRecheckPasses passes (short cuts counted) one
  // runs whole. (The reloader applied the version: no fragment is kept any more.)
  ReloaderStatus applied;
  applied.applied_version = again.version;
  r.noteReloaderStatus(applied);
  api_.single["/b"] = "{\"app\":" + app("/b", 10002, {32000, 32001, 32002}) + "}";
  r.reconcileOnce({"/b"});
  int short_cuts = 0, whole = 0;
  for (int i = 0; i < 31; ++i) {
    auto p = r.reconcileOnce({"/b"});
    (p.answer_unchanged ? short_cuts : whole) += 1;
    ASSERT_EQ(p.quarantined.size(), 1u);
    EXPECT_EQ(p.quarantined[0].app_id, "/a");
  }
  EXPECT_GT(short_cuts, 25);
  EXPECT_GE(whole, 1);  // the re-check
  EXPECT_EQ(cfg().find("balancee"), std::string::npos);
}

TEST_F(ReconcilerTest, AlertOutsideAnyAppPublishesNothing) {
  FakeRunner runner;
  runner.reject_marker = "global";  // the first line of HEAD
  api_.body = apps({app("/a", 10001, {31000})});
  auto r = make(&runner);
  auto rep = r.reconcileOnce();
  EXPECT_EQ(rep.outcome, PassReport::Outcome::Failed);
  EXPECT_EQ(rep.fault, PassReport::Fault::Validate);
  EXPECT_EQ(publisher_->currentVersion(), "");
}

TEST_F(ReconcilerTest, ValidationTimeoutIsNotAVerdict) {
  FakeRunner runner;
  runner.time_out = true;
  api_.body = apps({app("/a", 10001, {31000})});
  auto r = make(&runner);
  auto rep = r.reconcileOnce();
  EXPECT_EQ(rep.outcome, PassReport::Outcome::Failed);
  EXPECT_EQ(rep.fault, PassReport::Fault::ValidateUnavailable);
  EXPECT_NE(rep.detail.find("timed out"), std::string::npos) << rep.detail;
  EXPECT_TRUE(rep.quarantined.empty());
  runner.time_out = false;
  EXPECT_EQ(r.reconcileOnce().outcome, PassReport::Outcome::Published);
}

}  // namespace
}  // namespace mlb::controller

namespace mlb::controller {
namespace {

TEST(ConfigShape, ServerChangesKeepTheShapeOtherChangesDoNot) {
  const std::string a =
      "backend x\n  balance roundrobin\n  server 10_0_0_1_31000 10.0.0.1:31000 id 11 check\n";
  const std::string b =
      "backend x\n  balance roundrobin\n  server 10_0_0_2_31005 10.0.0.2:31005 id 42 check\n"
      "  server 10_0_0_3_31006 10.0.0.3:31006 id 43 check\n";
  EXPECT_EQ(shapeHash(a), shapeHash(b));
  EXPECT_NE(shapeHash(a), shapeHash("backend x\n  balance leastconn\n"
                                    "  server 10_0_0_1_31000 10.0.0.1:31000 id 11 check\n"));
  EXPECT_NE(shapeHash(a), shapeHash("backend x\n  balance roundrobin\n"
                                    "  server 10_0_0_1_31000 10.0.0.1:31000 id 11 chek\n"));
  EXPECT_NE(shapeHash(a), shapeHash("backend x\n  balance roundrobin\n"));
  // Order and mix of enabled and draining servers do not matter, their kinds do.
  const std::string mixed1 =
      "backend x\n  server a 1.1.1.1:1 id 1 check\n  server b 1.1.1.2:1 id 2 check disabled\n";
  const std::string mixed2 =
      "backend x\n  server b 1.1.1.2:1 id 2 check disabled\n  server c 1.1.1.3:1 id 3 check\n"
      "  server a 1.1.1.1:1 id 1 check\n";
  EXPECT_EQ(shapeHash(mixed1), shapeHash(mixed2));
  EXPECT_NE(shapeHash(a), shapeHash(mixed1));
  // A check on another port of the task (HAPROXY_0_BACKEND_HEALTHCHECK_PORT_INDEX):
  // each server's own port, a per-server value like its address.
  EXPECT_EQ(shapeHash("backend x\n  server a 1.1.1.1:1 id 1 check port 31001\n"),
            shapeHash("backend x\n  server b 1.1.1.2:7 id 2 check port 31777\n"
                      "  server a 1.1.1.1:1 id 1 check port 31001\n"));
  EXPECT_NE(shapeHash("backend x\n  server a 1.1.1.1:1 id 1 check port 31001\n"),
            shapeHash("backend x\n  server a 1.1.1.1:1 id 1 check 31001\n"));
}

TEST_F(ReconcilerTest, ScaleSkipsValidationAStructuralChangeDoesNot) {
  FakeRunner runner;
  api_.body = apps({app("/a", 10001, {31000})});
  auto r = make(&runner);
  ASSERT_EQ(r.reconcileOnce().outcome, PassReport::Outcome::Published);
  EXPECT_EQ(runner.calls, 1);
  api_.body = apps({app("/a", 10001, {31000, 31001, 31002})});
  auto scaled = r.reconcileOnce();
  EXPECT_EQ(scaled.outcome, PassReport::Outcome::Published);
  EXPECT_TRUE(scaled.validation_skipped);
  EXPECT_EQ(runner.calls, 1);
  api_.body = apps({app("/a", 10001, {31000}, ",\"HAPROXY_0_BALANCE\":\"leastconn\"")});
  auto changed = r.reconcileOnce();
  EXPECT_FALSE(changed.validation_skipped);
  EXPECT_EQ(runner.calls, 2);
}

}  // namespace
}  // namespace mlb::controller

namespace mlb::controller {
namespace {

TEST_F(ReconcilerTest, EventHintsFetchOnlyTheNamedApps) {
  api_.body = apps({app("/a", 10001, {31000}), app("/b", 10002, {32000})});
  auto r = make();
  ASSERT_EQ(r.reconcileOnce().outcome, PassReport::Outcome::Published);
  ASSERT_EQ(api_.calls, 1);
  // /b scaled: only /b is fetched and patched in.
  api_.single["/b"] = "{\"app\":" + app("/b", 10002, {32000, 32001}) + "}";
  auto fast = r.reconcileOnce({"/b"});
  EXPECT_EQ(fast.outcome, PassReport::Outcome::Published);
  EXPECT_TRUE(fast.fast_path);
  EXPECT_EQ(api_.calls, 1);
  EXPECT_EQ(api_.app_calls, 1);
  EXPECT_NE(cfg().find("10.0.0.2:32001"), std::string::npos);
  EXPECT_NE(cfg().find("10.0.0.1:31000"), std::string::npos);  // /a still there
  // /a answers 404: only the full answer (with its guards) may remove an app.
  api_.body = apps({app("/b", 10002, {32000, 32001})});
  auto gone = r.reconcileOnce({"/a"});
  EXPECT_FALSE(gone.fast_path);
  EXPECT_EQ(api_.calls, 2);
  EXPECT_EQ(cfg().find("10.0.0.1:31000"), std::string::npos);
  // A failing per-app fetch falls back to the full answer, the source of truth.
  api_.fail = true;
  EXPECT_EQ(r.reconcileOnce({"/b"}).outcome, PassReport::Outcome::Failed);
  api_.fail = false;
  api_.body = apps({app("/a", 10001, {31000}), app("/b", 10002, {32000})});
  auto full = r.reconcileOnce({"/b"});  // the cache was dropped: full fetch again
  EXPECT_FALSE(full.fast_path);
  EXPECT_EQ(api_.calls, 4);  // the failed pass fell back to a full fetch too
  EXPECT_NE(cfg().find("10.0.0.1:31000"), std::string::npos);
}

TEST_F(ReconcilerTest, TheReportNamesTheAppsAddedRemovedAndCountsTheChangedOnes) {
  api_.body = apps({app("/a", 10001, {31000}), app("/b", 10002, {32000}), app("/c", 10003, {33000}),
                    app("/d", 10004, {34000})});
  auto r = make();
  ASSERT_EQ(r.reconcileOnce().added_apps.size(), 4u);
  // Events: the other apps' services are the same shared ones as before.
  api_.single["/c"] = "{\"app\":" + app("/c", 10003, {33000, 33001}) + "}";
  auto scaled = r.reconcileOnce({"/c"});
  ASSERT_TRUE(scaled.fast_path);
  EXPECT_TRUE(scaled.added_apps.empty());
  EXPECT_TRUE(scaled.removed_apps.empty());
  EXPECT_EQ(scaled.changed_apps, 1u);
  api_.single["/d"] =
      "{\"app\":" + app("/d", 10004, {34000}, ",\"HAPROXY_0_BALANCE\":\"leastconn\"") + "}";
  auto relabelled = r.reconcileOnce({"/d"});  // its routes stay
  ASSERT_TRUE(relabelled.fast_path);
  EXPECT_EQ(relabelled.changed_apps, 0u);
  // The full answer (every service built again): /a scaled, /c gone, /e new.
  api_.body = apps({app("/a", 10001, {31000, 31001}), app("/b", 10002, {32000}),
                    app("/d", 10004, {34000}), app("/e", 10005, {35000})});
  auto full = r.reconcileOnce();
  EXPECT_FALSE(full.fast_path);
  EXPECT_EQ(full.added_apps, std::vector<std::string>{"/e"});
  EXPECT_EQ(full.removed_apps, std::vector<std::string>{"/c"});
  EXPECT_EQ(full.changed_apps, 1u);
}

TEST_F(ReconcilerTest, AnEventWhoseAppAnswersAsBeforeRebuildsNothing) {
  api_.body = apps({app("/a", 10001, {31000}), app("/b", 10002, {32000})});
  auto r = make();
  ASSERT_EQ(r.reconcileOnce().outcome, PassReport::Outcome::Published);
  api_.single["/b"] = "{\"app\":" + app("/b", 10002, {32000, 32001}) + "}";
  auto scaled = r.reconcileOnce({"/b"});
  ASSERT_EQ(scaled.outcome, PassReport::Outcome::Published);
  EXPECT_FALSE(scaled.answer_unchanged);  // first fetch of /b alone: rebuilt
  // A second event for the same change (Marathon sends several): same answer.
  auto again = r.reconcileOnce({"/b"});
  EXPECT_EQ(again.outcome, PassReport::Outcome::Unchanged);
  EXPECT_TRUE(again.answer_unchanged);
  EXPECT_EQ(again.version, scaled.version);
  EXPECT_EQ(again.servers, scaled.servers);
  EXPECT_TRUE(again.added_apps.empty());
  // The app changes again: rebuilt and published.
  api_.single["/b"] = "{\"app\":" + app("/b", 10002, {32000}) + "}";
  auto down = r.reconcileOnce({"/b"});
  EXPECT_EQ(down.outcome, PassReport::Outcome::Published);
  EXPECT_FALSE(down.answer_unchanged);
  EXPECT_EQ(cfg().find("10.0.0.2:32001"), std::string::npos);
  // A new rejection by the reloader is never skipped, even with the same answer.
  ReloaderStatus st;
  st.rejected[down.version] = "[ALERT] something";
  r.noteReloaderStatus(st);
  EXPECT_FALSE(r.reconcileOnce({"/b"}).answer_unchanged);
  // The reloader applies the version after all (the hold its rejection started ends);
  // after a full fetch, the first event's app is rebuilt once more.
  ReloaderStatus applied;
  applied.applied_version = down.version;
  r.noteReloaderStatus(applied);
  ASSERT_EQ(r.reconcileOnce().outcome, PassReport::Outcome::Unchanged);
  EXPECT_FALSE(r.reconcileOnce({"/b"}).answer_unchanged);
  EXPECT_TRUE(r.reconcileOnce({"/b"}).answer_unchanged);
  // After a failed pass, nothing stands: rebuilt.
  api_.fail = true;
  EXPECT_EQ(r.reconcileOnce({"/b"}).outcome, PassReport::Outcome::Failed);
  api_.fail = false;
  EXPECT_FALSE(r.reconcileOnce({"/b"}).answer_unchanged);
}

}  // namespace
}  // namespace mlb::controller

namespace mlb::controller {
namespace {

// The NACK loop: the reloader's rejections, fed back through noteReloaderStatus().
class ReloaderNackTest : public ReconcilerTest {
 protected:
  static std::string goodA(const std::vector<int>& ports) {
    return app("/a", 10001, ports, ",\"HAPROXY_0_VHOST\":\"a.example.com\"");
  }
  static std::string badA(const std::vector<int>& ports) {
    return app("/a", 10001, ports,
               ",\"HAPROXY_0_VHOST\":\"a.example.com\","
               "\"HAPROXY_0_BACKEND_HTTP_OPTIONS\":\"  bogus-directive on\\n\"");
  }
  // What mlb-reloader writes into status.json for a config HAProxy refuses at the
  // line holding `marker` of the current bundle.
  std::string alertAt(const std::string& marker) {
    std::string c = cfg();
    size_t pos = c.find(marker);
    EXPECT_NE(pos, std::string::npos) << marker;
    int line = 1 + static_cast<int>(std::count(c.begin(), c.begin() + pos, '\n'));
    return "[ALERT]    (7) : config : parsing [" + dir_.string() +
           "/.validate-7.cfg:" + std::to_string(line) + "] : unknown keyword '" + marker +
           "' in 'backend' section\n[ALERT]    (7) : config : Fatal errors found in "
           "configuration.";
  }
  void reject(const std::string& applied, const std::string& version, const std::string& why) {
    rejected_[version] = why;
    r_->noteReloaderStatus({applied, rejected_, "", 0});
  }
  void SetUp() override {
    ReconcilerTest::SetUp();
    options_.clock = &clock_;
    r_ = std::make_unique<Reconciler>(make());
  }
  common::testing::FakeClock clock_;
  std::map<std::string, std::string> rejected_;
  std::unique_ptr<Reconciler> r_;
};

TEST_F(ReloaderNackTest, RejectedAppIsQuarantinedWithItsLastGoodFragmentOthersGoLive) {
  api_.body = apps({goodA({31000}), app("/b", 10002, {32000})});
  const std::string v1 = r_->reconcileOnce().version;
  // Published without validation (--no-validate): the reloader rejects it.
  api_.body = apps({badA({31000, 31001}), app("/b", 10002, {32000})});
  auto bad = r_->reconcileOnce();
  ASSERT_EQ(bad.outcome, PassReport::Outcome::Published);
  reject(v1, bad.version, alertAt("bogus-directive"));
  // The other app scales: its change goes out, without /a's bad fragment.
  api_.body = apps({badA({31000, 31001}), app("/b", 10002, {32000, 32001})});
  auto rep = r_->reconcileOnce();
  ASSERT_EQ(rep.outcome, PassReport::Outcome::Published) << rep.detail;
  ASSERT_EQ(rep.reloader_rejections.size(), 1u);
  EXPECT_EQ(rep.reloader_rejections[0].version, bad.version);
  EXPECT_EQ(rep.reloader_rejections[0].apps, std::vector<std::string>{"/a"});
  EXPECT_NE(rep.reloader_rejections[0].reason.find("bogus-directive"), std::string::npos);
  ASSERT_EQ(rep.quarantined.size(), 1u);
  EXPECT_EQ(rep.quarantined[0].app_id, "/a");
  EXPECT_EQ(rep.quarantined[0].source, QuarantineEntry::Source::Reloader);
  EXPECT_TRUE(rep.quarantined[0].kept_last_good);
  std::string c = cfg();
  EXPECT_EQ(c.find("bogus-directive"), std::string::npos);
  EXPECT_NE(c.find("10.0.0.2:32001"), std::string::npos);  // /b's change
  // /a's last good definition with its current tasks (the new task too: a label change
  // is a new app version whose tasks replace the old ones).
  EXPECT_NE(c.find("10.0.0.1:31000"), std::string::npos);
  EXPECT_NE(c.find("10.0.0.2:31001"), std::string::npos);
  EXPECT_NE(c.find("backend a_10001"), std::string::npos);
}

TEST_F(ReloaderNackTest, ARejectionOfAVersionFromBeforeAFullFetchIsStillAttributed) {
  api_.body = apps({goodA({31000}), app("/b", 10002, {32000})});
  const std::string v1 = r_->reconcileOnce().version;
  api_.body = apps({badA({31000}), app("/b", 10002, {32000}), app("/c", 10003, {33000})});
  auto bad = r_->reconcileOnce();
  ASSERT_EQ(bad.outcome, PassReport::Outcome::Published);
  const std::string alert = alertAt("bogus-directive");
  // Full fetches (every service built anew; /c gone) before the reloader's verdict: the
  // older version's spans now point at the new services, or keep the ones gone.
  api_.body = apps({badA({31000}), app("/b", 10002, {32000, 32001})});
  ASSERT_EQ(r_->reconcileOnce().outcome, PassReport::Outcome::Published);
  ASSERT_EQ(r_->reconcileOnce().outcome, PassReport::Outcome::Unchanged);
  reject(v1, bad.version, alert);
  auto rep = r_->reconcileOnce();
  ASSERT_EQ(rep.reloader_rejections.size(), 1u);
  EXPECT_EQ(rep.reloader_rejections[0].version, bad.version);
  EXPECT_EQ(rep.reloader_rejections[0].apps, std::vector<std::string>{"/a"});
  ASSERT_EQ(rep.quarantined.size(), 1u);
  EXPECT_EQ(rep.quarantined[0].app_id, "/a");
}

TEST_F(ReloaderNackTest, OffenderIsRetriedOnlyWhenItsLabelsChange) {
  api_.body = apps({goodA({31000}), app("/b", 10002, {32000})});
  const std::string v1 = r_->reconcileOnce().version;
  api_.body = apps({badA({31000}), app("/b", 10002, {32000})});
  auto bad = r_->reconcileOnce();
  reject(v1, bad.version, alertAt("bogus-directive"));
  std::set<std::string> published = {v1, bad.version};
  int rejected_bundles = 1;
  // Many passes (scales of /b, resyncs): /a stays out, no bundle carries it again.
  for (int i = 0; i < 10; ++i) {
    api_.body = apps({badA({31000}), app("/b", 10002, {32000, 32001 + i % 3})});
    auto rep = r_->reconcileOnce();
    ASSERT_NE(rep.outcome, PassReport::Outcome::Failed) << rep.detail;
    ASSERT_EQ(rep.quarantined.size(), 1u);
    EXPECT_EQ(rep.quarantined[0].source, QuarantineEntry::Source::Reloader);
    EXPECT_EQ(cfg().find("bogus-directive"), std::string::npos);
    EXPECT_TRUE(rep.reloader_rejections.empty() || i == 0);
    // ... and its last good fragment keeps serving in every one of them.
    EXPECT_TRUE(rep.quarantined[0].kept_last_good) << "pass " << i;
    EXPECT_NE(cfg().find("backend a_10001"), std::string::npos) << "pass " << i;
    r_->noteReloaderStatus({rep.version, rejected_, "", 0});  // the reloader applies each
    if (published.insert(rep.version).second && cfg().find("bogus") != std::string::npos) {
      ++rejected_bundles;
    }
  }
  EXPECT_EQ(rejected_bundles, 1);
  // A label change retries it: fixed labels go out.
  api_.body =
      apps({app("/a", 10001, {31000, 31002},
                ",\"HAPROXY_0_VHOST\":\"a.example.com\",\"HAPROXY_0_BALANCE\":\"leastconn\""),
            app("/b", 10002, {32000})});
  auto fixed = r_->reconcileOnce();
  EXPECT_EQ(fixed.outcome, PassReport::Outcome::Published);
  EXPECT_TRUE(fixed.quarantined.empty());
  EXPECT_NE(cfg().find("10.0.0.2:31002"), std::string::npos);
}

TEST_F(ReloaderNackTest, ASecondBadLabelChangeStillKeepsTheFragmentTheReloaderAccepted) {
  api_.body = apps({goodA({31000}), app("/b", 10002, {32000})});
  const std::string v1 = r_->reconcileOnce().version;
  r_->noteReloaderStatus({v1, rejected_, "", 0});
  api_.body = apps({badA({31000}), app("/b", 10002, {32000})});
  auto bad = r_->reconcileOnce();
  reject(v1, bad.version, alertAt("bogus-directive"));
  api_.body = apps({badA({31000}), app("/b", 10002, {32000, 32003})});
  auto kept = r_->reconcileOnce();  // /a served from its first labels, /b's change out
  ASSERT_EQ(kept.outcome, PassReport::Outcome::Published) << kept.detail;
  ASSERT_EQ(kept.quarantined.size(), 1u);
  ASSERT_TRUE(kept.quarantined[0].kept_last_good);
  // Another bad label before the reloader applied that bundle: it is tried...
  const std::string bad2_labels =
      ",\"HAPROXY_0_VHOST\":\"a.example.com\",\"HAPROXY_0_BACKEND_HTTP_OPTIONS\":\"  other-bogus "
      "on\\n\"";
  api_.body = apps({app("/a", 10001, {31000}, bad2_labels), app("/b", 10002, {32000})});
  auto bad2 = r_->reconcileOnce();
  ASSERT_EQ(bad2.outcome, PassReport::Outcome::Published) << bad2.detail;
  const std::string alert2 = alertAt("other-bogus");
  // ... the reloader applies the bundle before it, another app changes ...
  r_->noteReloaderStatus({kept.version, rejected_, "", 0});
  api_.body = apps({app("/a", 10001, {31000}, bad2_labels), app("/b", 10002, {32000, 32001})});
  ASSERT_NE(r_->reconcileOnce().outcome, PassReport::Outcome::Failed);
  // ... and rejects the second bad label: /a still serves its first, accepted labels.
  reject(kept.version, bad2.version, alert2);
  api_.body = apps({app("/a", 10001, {31000}, bad2_labels), app("/b", 10002, {32000, 32002})});
  auto rep = r_->reconcileOnce();
  ASSERT_EQ(rep.quarantined.size(), 1u) << rep.detail;
  EXPECT_EQ(rep.quarantined[0].source, QuarantineEntry::Source::Reloader);
  EXPECT_TRUE(rep.quarantined[0].kept_last_good);
  EXPECT_NE(cfg().find("backend a_10001"), std::string::npos);
  EXPECT_EQ(cfg().find("bogus"), std::string::npos);
}

TEST_F(ReloaderNackTest, ARejectedStateThatComesBackIsQuarantinedAtOnce) {
  api_.body = apps({goodA({31000}), app("/b", 10002, {32000})});
  const std::string v1 = r_->reconcileOnce().version;
  api_.body = apps({badA({31000}), app("/b", 10002, {32000})});
  auto bad = r_->reconcileOnce();
  reject(v1, bad.version, alertAt("bogus-directive"));
  api_.body = apps({goodA({31000}), app("/b", 10002, {32000})});
  EXPECT_EQ(r_->reconcileOnce().version, v1);  // fixed: back to the first bundle
  r_->noteReloaderStatus({v1, rejected_, "", 0});
  // The same bad labels again render the very bundle the reloader rejected: it is
  // recognised in this pass, without waiting for another answer.
  api_.body = apps({badA({31000}), app("/b", 10002, {32000})});
  auto again = r_->reconcileOnce();
  EXPECT_EQ(again.outcome, PassReport::Outcome::Unchanged) << again.detail;
  EXPECT_EQ(again.version, v1);
  ASSERT_EQ(again.quarantined.size(), 1u);
  EXPECT_EQ(again.quarantined[0].source, QuarantineEntry::Source::Reloader);
  EXPECT_EQ(again.reloader_rejections.size(), 1u);
}

TEST_F(ReloaderNackTest, ProxyLevelAlertIsAttributedByProxyName) {
  api_.body = apps({goodA({31000}), app("/b", 10002, {32000})});
  const std::string v1 = r_->reconcileOnce().version;
  api_.body = apps({badA({31000}), app("/b", 10002, {32000})});
  auto bad = r_->reconcileOnce();
  reject(v1, bad.version,
         "[ALERT]    (7) : config : Proxy 'a_10001': unable to find required something.\n"
         "[ALERT]    (7) : config : Fatal errors found in configuration.");
  auto rep = r_->reconcileOnce();
  ASSERT_EQ(rep.reloader_rejections.size(), 1u);
  EXPECT_EQ(rep.reloader_rejections[0].apps, std::vector<std::string>{"/a"});
  ASSERT_EQ(rep.quarantined.size(), 1u);
  EXPECT_EQ(rep.quarantined[0].app_id, "/a");
  EXPECT_EQ(rep.version, v1);
}

TEST_F(ReloaderNackTest, UnattributableRejectionHoldsPublishingWithBackoff) {
  api_.body = apps({goodA({31000}), app("/b", 10002, {32000})});
  const std::string v1 = r_->reconcileOnce().version;
  api_.body = apps({goodA({31000}), app("/b", 10002, {32000, 32001})});
  auto v2 = r_->reconcileOnce().version;
  reject(v1, v2, alertAt("global"));  // the global section: no app owns it
  api_.body = apps({goodA({31000}), app("/b", 10002, {32000, 32002})});
  auto held = r_->reconcileOnce();
  EXPECT_EQ(held.outcome, PassReport::Outcome::Failed);
  EXPECT_EQ(held.fault, PassReport::Fault::ReloaderRejected);
  EXPECT_NE(held.detail.find("no app owns the error"), std::string::npos) << held.detail;
  ASSERT_EQ(held.reloader_rejections.size(), 1u);
  EXPECT_TRUE(held.reloader_rejections[0].apps.empty());
  EXPECT_EQ(publisher_->currentVersion(), v2);
  // Still held before the backoff (1 s) ends; published after.
  clock_.advance(std::chrono::milliseconds(900));
  EXPECT_EQ(r_->reconcileOnce().fault, PassReport::Fault::ReloaderRejected);
  clock_.advance(std::chrono::milliseconds(200));
  auto v3 = r_->reconcileOnce();
  ASSERT_EQ(v3.outcome, PassReport::Outcome::Published) << v3.detail;
  EXPECT_TRUE(v3.reloader_rejections.empty());
  // Rejected again: the hold doubles (2 s).
  reject(v1, v3.version, alertAt("global"));
  api_.body = apps({goodA({31000}), app("/b", 10002, {32003})});
  EXPECT_EQ(r_->reconcileOnce().fault, PassReport::Fault::ReloaderRejected);
  clock_.advance(std::chrono::milliseconds(1500));
  EXPECT_EQ(r_->reconcileOnce().fault, PassReport::Fault::ReloaderRejected);
  clock_.advance(std::chrono::milliseconds(600));
  EXPECT_EQ(r_->reconcileOnce().outcome, PassReport::Outcome::Published);
  // A rejected version is never published again, held or not.
  api_.body = apps({goodA({31000}), app("/b", 10002, {32000, 32001})});
  clock_.advance(std::chrono::hours(1));
  auto back = r_->reconcileOnce();
  EXPECT_EQ(back.fault, PassReport::Fault::ReloaderRejected);
  EXPECT_NE(publisher_->currentVersion(), v2);
}

TEST(ParseReloaderStatus, ForeignAndMalformedFilesAreValuesNotCrashes) {
  auto ok = parseReloaderStatus(
      R"({"applied_version":"abc","rejected":{"def":{"reason":"[ALERT] x","at":"t"}}})");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->applied_version, "abc");
  EXPECT_EQ(ok->rejected.at("def"), "[ALERT] x");
  auto nulls = parseReloaderStatus(R"({"applied_version":null,"rejected":{"x":null,"y":3}})");
  ASSERT_TRUE(nulls);
  EXPECT_EQ(nulls->applied_version, "");
  EXPECT_EQ(nulls->rejected.size(), 2u);
  auto types = parseReloaderStatus(R"({"applied_version":7,"rejected":[1,2]})");
  ASSERT_TRUE(types);
  EXPECT_TRUE(types->rejected.empty());
  EXPECT_FALSE(parseReloaderStatus("[]"));
  EXPECT_FALSE(parseReloaderStatus("{\"applied_version\": "));
  EXPECT_FALSE(parseReloaderStatus(""));
}

TEST(AttributeAlerts, ByLineByProxyNameAndUnattributed) {
  const std::string config =
      "global\n  daemon\nbackend a_1\n  bogus\nbackend b_2\n  server x 1.1.1.1:1\n";
  std::deque<Service> owners;  // outlive the spans
  auto span = [&owners](const char* app_id, size_t begin, size_t end) {
    Service& s = owners.emplace_back();
    s.app_id = app_id;
    return RenderedConfig::Span{&s, begin, end};
  };
  const std::vector<RenderedConfig::Span> spans = {span("/a", 14, 34),
                                                   span("/b", 34, config.size())};
  auto byline =
      attributeAlerts("[ALERT] (1) : parsing [/x/h.cfg:4] : unknown 'bogus'\n", config, spans);
  EXPECT_EQ(byline.apps.size(), 1u);
  EXPECT_TRUE(byline.apps.count("/a"));
  auto byname = attributeAlerts(
      "[ALERT] (1) : config : Proxy 'b_2': no server.\n[ALERT] (1) : Fatal errors found.\n", config,
      spans);
  EXPECT_TRUE(byname.apps.count("/b"));
  EXPECT_EQ(byname.unattributed, "");
  auto global = attributeAlerts("[ALERT] (1) : parsing [/x/h.cfg:2] : bad\n[ALERT] x 'b_' y\n",
                                config, spans);
  EXPECT_TRUE(global.apps.empty());
  EXPECT_NE(global.unattributed.find("bad"), std::string::npos);
  // A line number past the end, or an absurd one, is no app's.
  EXPECT_TRUE(attributeAlerts("[ALERT] [f:99] x\n[ALERT] [f:99999999999999] y\n", config, spans)
                  .apps.empty());
}

}  // namespace
}  // namespace mlb::controller
