// The deployer against a fake cluster: Marathon's write API and an LB whose stats
// follow mlb's deployment-group rule (healthy new + old - target old tasks drain).
#include "cli/deploy/deployer.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <sstream>

namespace mlb::cli::deploy {
namespace {

class FakeClock : public Clock {
 public:
  double now() override { return t; }
  void sleep(double s) override {
    t += s;
    ++sleeps;
    if (on_sleep) {
      on_sleep(sleeps);
    }
  }
  double t = 1000;
  int sleeps = 0;
  std::function<void(int sleeps)> on_sleep;  // a test changes the world as time passes
};

// Marathon + one LB, in memory. Tasks are healthy at once unless `never_healthy`.
class FakeCluster : public HttpClient {
 public:
  std::map<std::string, Json> apps;
  std::vector<std::string> calls;  // "METHOD path"
  bool never_healthy = false;
  int failures_left = 0;  // answer 503 to this many Marathon calls
  bool lb_down = false;
  bool drains_new = false;     // an LB that takes the new colour for the old one
  std::set<std::string> busy;  // task ids with a session open on the LB
  int seq = 0;
  int scalings = 0;                     // versionInfo.lastScalingAt, as a counter
  std::vector<std::string> violations;  // tasks killed while UP or busy on the LB
  bool reloading = false;               // /_haproxy_getpids lists an old worker

  common::Result<HttpReply> request(const std::string& method, const std::string& url,
                                    const std::string& body, const std::string&) override {
    if (url.rfind("http://lb", 0) == 0) {
      if (lb_down) {
        return common::Error{common::ErrorCode::Unavailable, "connection refused"};
      }
      if (url.find("/_haproxy_getpids") != std::string::npos) {
        return HttpReply{200, reloading ? "10 11 12\n" : "10 11\n"};
      }
      return HttpReply{200, csv()};
    }
    const std::string path = url.substr(std::string("http://marathon").size());
    calls.push_back(method + " " + path.substr(0, path.find('?')));
    if (failures_left > 0) {
      --failures_left;
      return HttpReply{503, "busy"};
    }
    return marathon(method, path, body.empty() ? Json() : Json::parse(body));
  }

  Json task(const Json& app) {
    ++seq;
    return {{"id", app["id"].get<std::string>().substr(1) + "." + std::to_string(seq)},
            {"host", "127.0.0.1"},
            {"ports", {30000 + seq}},
            {"state", "TASK_RUNNING"},
            {"healthCheckResults", {{{"alive", !never_healthy}}}}};
  }

  void scaled(Json& app) { app["versionInfo"]["lastScalingAt"] = ++scalings; }

  void resize(Json& app) {
    while (app["tasks"].size() < static_cast<size_t>(instances(app))) {
      app["tasks"].push_back(task(app));
    }
    while (app["tasks"].size() > static_cast<size_t>(instances(app))) {
      app["tasks"].erase(app["tasks"].size() - 1);
    }
  }

  HttpReply marathon(const std::string& method, const std::string& path, const Json& body) {
    const std::string p = path.substr(0, path.find('?'));
    if (method == "GET" && p == "/v2/apps") {
      Json all = Json::array();
      for (auto& [id, app] : apps) {
        all.push_back(app);
      }
      return {200, Json{{"apps", all}}.dump()};
    }
    if (method == "POST" && p == "/v2/apps") {
      Json app = body;
      app["tasks"] = Json::array();
      resize(app);
      scaled(app);
      apps[app["id"]] = app;
      return {201, app.dump()};
    }
    if (method == "POST" && p == "/v2/tasks/delete") {
      const std::string now = csv();
      for (const auto& id : body["ids"]) {
        // Only a task the LB shows in MAINT with no session may be killed.
        const Json* task = nullptr;
        for (auto& [app_id, app] : apps) {
          for (auto& t : app["tasks"]) {
            if (t["id"] == id) {
              task = &t;
            }
          }
        }
        const std::string row =
            task ? "_" + std::to_string((*task)["ports"][0].get<int>()) + ",0,0,0,MAINT," : "?";
        if (now.find(row) == std::string::npos) {
          violations.push_back(id.get<std::string>());
        }
      }
      for (auto& [id, app] : apps) {
        Json keep = Json::array();
        for (auto& t : app["tasks"]) {
          bool kill =
              std::find(body["ids"].begin(), body["ids"].end(), t["id"]) != body["ids"].end();
          if (!kill) {
            keep.push_back(t);
          }
        }
        if (keep.size() != app["tasks"].size()) {
          app["instances"] = instances(app) - static_cast<int>(app["tasks"].size() - keep.size());
          app["tasks"] = keep;
          scaled(app);
        }
      }
      return {200, "{}"};
    }
    const std::string id = p.substr(std::string("/v2/apps").size());
    auto it = apps.find(id);
    if (it == apps.end()) {
      return {404, R"({"message": "App does not exist"})"};
    }
    if (method == "GET") {
      return {200, Json{{"app", it->second}}.dump()};
    }
    if (method == "PUT") {
      it->second["instances"] = body["instances"];
      resize(it->second);
      scaled(it->second);
      return {200, "{}"};
    }
    const std::string now = csv();  // DELETE: none of its tasks may still be UP
    for (const auto& t : it->second["tasks"]) {
      if (now.find("_" + std::to_string(t["ports"][0].get<int>()) + ",0,0,0,UP,") !=
          std::string::npos) {
        violations.push_back(t["id"].get<std::string>());
      }
    }
    apps.erase(it);
    return {200, "{}"};
  }

  // mlb's view: the older colour's first (healthy new + old - target) tasks in MAINT.
  std::string csv() {
    std::string out = "# pxname,svname,qcur,qmax,scur,status,addr,\n";
    std::vector<Json*> colours;
    for (auto& [id, app] : apps) {
      colours.push_back(&app);
    }
    std::sort(colours.begin(), colours.end(), [](Json* a, Json* b) {
      return label(*a, "HAPROXY_DEPLOYMENT_STARTED_AT") <
             label(*b, "HAPROXY_DEPLOYMENT_STARTED_AT");
    });
    if (colours.empty()) {
      return out;
    }
    // mlb's order (service_builder.cc): by STARTED_AT, then by the last scaling when
    // the newer app has HAPROXY_DEPLOYMENT_NEW_INSTANCES.
    if (colours.size() == 2 &&
        colours[1]->at("labels").contains("HAPROXY_DEPLOYMENT_NEW_INSTANCES") &&
        (*colours[0])["versionInfo"]["lastScalingAt"].get<int>() >
            (*colours[1])["versionInfo"]["lastScalingAt"].get<int>()) {
      std::swap(colours[0], colours[1]);
    }
    if (drains_new) {
      std::reverse(colours.begin(), colours.end());
    }
    int drain = 0;
    if (colours.size() == 2) {
      int healthy_new = healthyTasks(*colours[1]);
      int target = std::stoi(label(*colours[1], "HAPROXY_DEPLOYMENT_TARGET_INSTANCES"));
      drain = std::max(0, healthy_new + instances(*colours[0]) - target);
    }
    for (Json* app : colours) {
      for (auto& t : (*app)["tasks"]) {
        if (!t["healthCheckResults"][0]["alive"].get<bool>()) {
          continue;
        }
        std::string id = t["id"];
        int port = t["ports"][0];
        bool maint = app == colours[0] && colours.size() == 2 && drain-- > 0;
        out += "web_10001,127_0_0_1_" + std::to_string(port) + ",0,0," +
               (busy.count(id) ? "1" : "0") + "," + (maint ? "MAINT" : "UP") +
               ",127.0.0.1:" + std::to_string(port) + ",\n";
      }
    }
    return out;
  }
};

Json blueApp(int n) {
  Json app = Json::parse(R"({"id": "/web-blue", "cmd": "serve", "versionInfo": {"lastScalingAt": 0},
    "portDefinitions": [{"port": 10001}], "healthChecks": [{"protocol": "HTTP"}],
    "labels": {"HAPROXY_DEPLOYMENT_GROUP": "web", "HAPROXY_DEPLOYMENT_ALT_PORT": "10002",
      "HAPROXY_0_PORT": "10001", "HAPROXY_DEPLOYMENT_COLOUR": "blue",
      "HAPROXY_DEPLOYMENT_STARTED_AT": "2026-11-30T09:00:00.000000",
      "HAPROXY_DEPLOYMENT_TARGET_INSTANCES": "3", "HAPROXY_DEPLOYMENT_NEW_INSTANCES": "0"}})");
  app["instances"] = n;
  app["tasks"] = Json::array();
  return app;
}

const char* kDefinition = R"({"id": "/web", "cmd": "serve v2", "instances": 3,
  "portDefinitions": [{"port": 10001}], "healthChecks": [{"protocol": "HTTP"}],
  "labels": {"HAPROXY_DEPLOYMENT_GROUP": "web", "HAPROXY_DEPLOYMENT_ALT_PORT": "10002"}})";

struct Harness {
  FakeCluster cluster;
  FakeClock clock;
  std::istringstream in;
  std::ostringstream out, log;
  DeployFlags flags;

  Harness() {
    flags.marathon = {"http://marathon"};
    flags.marathon_lb = "http://lb:9090";
    flags.force = true;
    flags.step_delay = 1;
    flags.max_wait = 30;
    Json blue = blueApp(3);
    cluster.resize(blue);
    cluster.apps["/web-blue"] = blue;
  }

  DeployDeps deps(common::ProcessRunner* hooks = nullptr) {
    return {cluster,
            clock,
            hooks,
            [] { return std::string(); },
            [] { return std::vector<std::string>{"http://lb:9090"}; },
            [this] { return "2026-11-30T10:00:" + std::to_string(10 + ++runs) + ".000000"; },
            in,
            out,
            log};
  }
  int runs = 0;

  int run(const std::string& definition = kDefinition) {
    Deployer d(flags, deps());
    return d.run(definition);
  }
};

TEST(Deployer, BlueToGreenDrainsKillsGrowsAndDeletesTheOldColour) {
  Harness h;
  EXPECT_EQ(h.run(), 0) << h.log.str();
  ASSERT_EQ(h.cluster.apps.count("/web-blue"), 0U) << h.log.str();
  ASSERT_EQ(h.cluster.apps.count("/web-green"), 1U);
  EXPECT_EQ(instances(h.cluster.apps["/web-green"]), 3);
  EXPECT_EQ(label(h.cluster.apps["/web-green"], "HAPROXY_0_PORT"), "10001");
  EXPECT_EQ(servicePort(h.cluster.apps["/web-green"]), 10002);
  EXPECT_NE(h.log.str().find("deploy done"), std::string::npos);
  // Never a task killed while the LB had it UP or busy.
  EXPECT_TRUE(h.cluster.violations.empty()) << h.cluster.violations[0];
  EXPECT_EQ(std::count(h.cluster.calls.begin(), h.cluster.calls.end(), "DELETE /v2/apps/web-blue"),
            1);
}

TEST(Deployer, DryRunPrintsTheGreenAppAndChangesNothing) {
  Harness h;
  h.flags.dry_run = true;
  EXPECT_EQ(h.run(), 0);
  Json printed = Json::parse(h.out.str());
  EXPECT_EQ(printed["id"], "/web-green");
  EXPECT_EQ(printed["instances"], 1);
  EXPECT_EQ(h.cluster.calls, std::vector<std::string>{"GET /v2/apps"});
}

TEST(Deployer, ANewColourThatNeverGetsHealthyIsRolledBack) {
  Harness h;
  h.cluster.never_healthy = true;
  EXPECT_EQ(h.run(), 2) << h.log.str();
  EXPECT_EQ(h.cluster.apps.count("/web-green"), 0U) << h.log.str();
  EXPECT_EQ(instances(h.cluster.apps["/web-blue"]), 3);
  EXPECT_NE(h.log.str().find("rolled back"), std::string::npos);
}

TEST(Deployer, NoRollbackLeavesBothColoursForResume) {
  Harness h;
  h.cluster.never_healthy = true;
  h.flags.no_rollback = true;
  EXPECT_EQ(h.run(), 2);
  EXPECT_EQ(h.cluster.apps.size(), 2U);
  h.cluster.never_healthy = false;
  for (auto& t : h.cluster.apps["/web-green"]["tasks"]) {
    t["healthCheckResults"][0]["alive"] = true;
  }
  h.flags.resume = true;
  EXPECT_EQ(h.run(), 0) << h.log.str();
  EXPECT_EQ(h.cluster.apps.count("/web-blue"), 0U);
  EXPECT_EQ(instances(h.cluster.apps["/web-green"]), 3);
}

TEST(Deployer, ExplicitRollbackScalesTheOldColourBackAndRemovesTheNew) {
  Harness h;
  h.flags.new_instances = 1;  // a hybrid deploy: 1 green, 2 blue
  EXPECT_EQ(h.run(), 0) << h.log.str();
  EXPECT_EQ(instances(h.cluster.apps["/web-green"]), 1);
  EXPECT_EQ(instances(h.cluster.apps["/web-blue"]), 2);
  h.flags.new_instances = 0;
  h.flags.rollback = true;
  EXPECT_EQ(h.run(), 0) << h.log.str();
  EXPECT_EQ(h.cluster.apps.count("/web-green"), 0U);
  EXPECT_EQ(instances(h.cluster.apps["/web-blue"]), 3);
  // The green task was drained (MAINT, idle) before green was deleted.
  EXPECT_TRUE(h.cluster.violations.empty()) << h.cluster.violations[0];
}

TEST(Deployer, CompleteCurFinishesAHybridDeployTowardsTheNewColour) {
  Harness h;
  h.flags.new_instances = 1;
  ASSERT_EQ(h.run(), 0) << h.log.str();
  h.flags.new_instances = 0;
  h.flags.complete_cur = true;
  EXPECT_EQ(h.run(), 0) << h.log.str();
  EXPECT_EQ(h.cluster.apps.count("/web-blue"), 0U);
  EXPECT_EQ(instances(h.cluster.apps["/web-green"]), 3);
}

TEST(Deployer, ADrainWaitsForSessionsOfThisAppsServersOnly) {
  Harness h;
  h.flags.max_wait = 1000;
  // The first old task to drain keeps a session: the deploy waits, then goes on once
  // it is closed (here: the test closes it after the deploy has waited 5 steps).
  const std::string first = h.cluster.apps["/web-blue"]["tasks"][0]["id"];
  h.cluster.busy.insert(first);
  h.clock.on_sleep = [&h](int sleeps) {
    if (sleeps == 5) {
      h.cluster.busy.clear();
    }
  };
  EXPECT_EQ(h.run(), 0) << h.log.str();
  EXPECT_GE(h.clock.sleeps, 5);
  EXPECT_EQ(h.cluster.apps.count("/web-blue"), 0U);
}

class FakeHook : public common::ProcessRunner {
 public:
  common::Result<common::ProcessResult> run(const std::vector<std::string>& argv,
                                            std::chrono::milliseconds) override {
    calls.push_back(argv);
    common::ProcessResult r;
    r.exit_code = exit_code;
    return r;
  }
  std::vector<std::vector<std::string>> calls;
  int exit_code = 0;
};

TEST(Deployer, ThePreKillHookSeesOldAppTasksAndNewAppAndCanRefuse) {
  Harness h;
  FakeHook hook;
  h.flags.pre_kill_hook = "/hooks/check";
  DeployDeps deps = h.deps(&hook);
  {
    Deployer d(h.flags, deps);
    EXPECT_EQ(d.run(kDefinition), 0) << h.log.str();
  }
  ASSERT_FALSE(hook.calls.empty());
  const auto& first = hook.calls[0];
  ASSERT_EQ(first.size(), 4U);
  EXPECT_EQ(first[0], "/hooks/check");
  EXPECT_EQ(Json::parse(first[1])["id"], "/web-blue");
  const Json ids = Json::parse(first[2]);  // the ids of the tasks about to be killed
  ASSERT_EQ(ids.size(), 1U);
  EXPECT_TRUE(ids[0].is_string());
  EXPECT_EQ(Json::parse(first[3])["id"], "/web-green");
  // A refusal stops the deploy before any kill and rolls back.
  hook.exit_code = 1;
  const size_t kills =
      std::count(h.cluster.calls.begin(), h.cluster.calls.end(), "POST /v2/tasks/delete");
  Deployer d(h.flags, deps);
  EXPECT_EQ(d.run(kDefinition), 2) << h.log.str();
  EXPECT_EQ(std::count(h.cluster.calls.begin(), h.cluster.calls.end(), "POST /v2/tasks/delete"),
            static_cast<long>(kills));
  EXPECT_NE(h.log.str().find("refused the kill"), std::string::npos);
  EXPECT_EQ(h.cluster.apps.size(), 2U);  // stopped as it was, for an operator (as zdd.py)
}

TEST(Deployer, AStepWhereNoOldTaskEverDrainsTimesOutInsteadOfLooping) {
  Harness h;
  h.cluster.drains_new = true;
  h.flags.no_rollback = true;
  EXPECT_EQ(h.run(), 2) << h.log.str();
  EXPECT_NE(h.log.str().find("no progress within --max-wait"), std::string::npos);
  EXPECT_LT(h.clock.t, 1000 + 200);
}

TEST(Deployer, RollingBackAFullyScaledNewColourDrainsItFirst) {
  Harness h;
  h.flags.no_rollback = true;
  h.cluster.busy.insert("never");  // (no session anywhere)
  // Stop the deploy just before the old colour would be deleted: declined at the prompt.
  h.flags.force = false;
  h.in.str("y\ny\ny\nn\n");  // create, two steps, then "no" to deleting blue
  EXPECT_EQ(h.run(), 1) << h.log.str();
  ASSERT_EQ(h.cluster.apps.size(), 2U);
  EXPECT_EQ(instances(h.cluster.apps["/web-green"]), 3);
  h.flags.force = true;
  h.flags.rollback = true;
  EXPECT_EQ(h.run(), 0) << h.log.str();
  EXPECT_EQ(h.cluster.apps.count("/web-green"), 0U);
  EXPECT_EQ(instances(h.cluster.apps["/web-blue"]), 3);
  EXPECT_TRUE(h.cluster.violations.empty()) << h.cluster.violations[0];
}

TEST(Deployer, NoKillWhileAnLbHasAnOldWorker) {
  Harness h;
  h.cluster.reloading = true;
  h.flags.max_wait = 1000;
  h.flags.no_rollback = true;
  h.clock.on_sleep = [&h](int sleeps) {
    if (sleeps == 8) {
      EXPECT_EQ(h.cluster.apps["/web-blue"]["tasks"].size(), 3U);  // nothing killed yet
      h.cluster.reloading = false;
    }
  };
  EXPECT_EQ(h.run(), 0) << h.log.str();
  EXPECT_GE(h.clock.sleeps, 8);
  EXPECT_NE(h.log.str().find("a reload is finishing"), std::string::npos);
}

TEST(Deployer, MarathonErrorsAreRetriedWithBackoff) {
  Harness h;
  h.cluster.failures_left = 3;
  EXPECT_EQ(h.run(), 0) << h.log.str();
  EXPECT_EQ(h.cluster.apps.count("/web-blue"), 0U);
}

TEST(Deployer, ExitCodesOfBluegreenDeploy) {
  Harness h;
  EXPECT_EQ(h.run("[1]"), 3);
  Json no_alt = Json::parse(kDefinition);
  no_alt["labels"].erase("HAPROXY_DEPLOYMENT_ALT_PORT");
  EXPECT_EQ(h.run(no_alt.dump()), 4);
  Json no_group = Json::parse(kDefinition);
  no_group["labels"].erase("HAPROXY_DEPLOYMENT_GROUP");
  EXPECT_EQ(h.run(no_group.dump()), 4);
  h.cluster.failures_left = 1000;
  EXPECT_EQ(h.run(), 6);
  h.cluster.failures_left = 0;
  h.flags.force = false;
  h.in.str("n\n");
  EXPECT_EQ(h.run(), 1);
  EXPECT_EQ(h.cluster.apps.size(), 1U);
  h.flags.force = true;
  h.cluster.lb_down = true;
  h.flags.no_rollback = true;
  EXPECT_EQ(h.run(), 5) << h.log.str();
  EXPECT_EQ(h.run(), 2);  // two colours now: a deploy is in progress
}

}  // namespace
}  // namespace mlb::cli::deploy
