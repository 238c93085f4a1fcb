// The incremental pass agrees with a full one: a Reconciler that lives through a random
// sequence of Marathon changes (fetching only the apps the events name, reusing the
// builds, fragments, digests and health it kept) publishes, after every step, the same
// bytes as a fresh Reconciler that reads the whole state once.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "common/fs/config_edits.h"
#include "common/fs/files.h"
#include "controller/sync/reconciler.h"

namespace mlb::controller {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Marathon as the reconcilers see it: the whole answer and each app alone.
class ClusterApi : public MarathonApi {
 public:
  common::Result<MarathonBody> fetchApps() override {
    json all = json::array();
    for (const auto& [id, app] : apps) {
      all.push_back(app);
    }
    return MarathonBody{json{{"apps", all}}.dump(), "http://cluster"};
  }
  common::Result<MarathonBody> fetchApp(const std::string& id) override {
    auto it = apps.find(id);
    if (it == apps.end()) {
      return MarathonBody{"", "http://cluster", 404};
    }
    return MarathonBody{json{{"app", it->second}}.dump(), "http://cluster", 200};
  }
  std::string currentUrl() const override { return "http://cluster"; }
  std::string authorizationHeader() override { return ""; }
  std::map<std::string, json> apps;
};

// Random changes of the kinds Marathon's events announce.
class Cluster {
 public:
  explicit Cluster(uint32_t seed) : rng_(seed) {}

  ClusterApi api;

  std::string addApp() {
    const std::string id = "/g" + std::to_string(pick(3)) + "/app" + std::to_string(next_id_++);
    json app = {{"id", id},
                {"labels", {{"HAPROXY_GROUP", "external"}}},
                {"portDefinitions", json::array({{{"port", 10000 + next_id_}}})},
                {"tasks", json::array()}};
    if (pick(3) == 0) {
      app["healthChecks"] = json::array({{{"protocol", "HTTP"}, {"portIndex", 0}}});
    }
    api.apps[id] = app;
    touched.insert(id);
    for (int i = pick(4); i > 0; --i) {
      addTask(id);
    }
    return id;
  }

  // The apps changed since this was last cleared (what Marathon's events name).
  std::set<std::string> touched;

  // One random change; returns the app it touched.
  std::string step() {
    repairSome();
    if (api.apps.size() < 4 || pick(12) == 0) {
      return pick(4) == 0 ? addBlueGreenPair() : addApp();
    }
    const std::string id = anyApp();
    json& app = api.apps[id];
    touched.insert(id);
    switch (pick(9)) {
      case 0:
        addTask(id);
        break;
      case 1:
        removeTask(app);
        break;
      case 2:  // a task replaced
        removeTask(app);
        addTask(id);
        break;
      case 3:
        flipHealth(app);
        break;
      case 4:
        changeLabel(app);
        break;
      case 5:
        changeTemplateLabel(app);
        break;
      case 6:
        app["labels"]["HAPROXY_GROUP"] = pick(4) == 0 ? "internal" : "external";
        break;
      case 7:
        if (api.apps.size() > 6) {
          api.apps.erase(id);
        }
        break;
      default:
        addTask(id);
        removeTask(app);
        break;
    }
    return id;
  }

 private:
  size_t pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }

  // Bad labels are fixed soon, as an operator does (each step: half of them).
  void repairSome() {
    for (auto& [id, app] : api.apps) {
      json& labels = app["labels"];
      const bool bad_port = labels.value("HAPROXY_0_PORT", "") == "bad port";
      const bool bad_head =
          labels.value("HAPROXY_0_BACKEND_HEAD", "").find("nosuchkey") != std::string::npos;
      if ((bad_port || bad_head) && pick(2) == 0) {
        labels.erase(bad_port ? "HAPROXY_0_PORT" : "HAPROXY_0_BACKEND_HEAD");
        touched.insert(id);
      }
    }
  }

  std::string anyApp() {
    auto it = api.apps.begin();
    std::advance(it, static_cast<long>(pick(api.apps.size())));
    return it->first;
  }

  void addTask(const std::string& id) {
    json& app = api.apps[id];
    const int n = next_task_++;
    json task = {{"id", id.substr(1) + ".t" + std::to_string(n)},
                 {"host", "10.0." + std::to_string(n % 7) + "." + std::to_string(1 + n % 200)},
                 {"state", "TASK_RUNNING"},
                 {"ports", json::array({31000 + n})}};
    if (app.contains("healthChecks") && pick(3) != 0) {
      task["healthCheckResults"] = json::array({{{"alive", pick(4) != 0}}});
    }
    app["tasks"].push_back(task);
  }

  void removeTask(json& app) {
    if (!app["tasks"].empty()) {
      app["tasks"].erase(static_cast<size_t>(pick(app["tasks"].size())));
    }
  }

  void flipHealth(json& app) {
    if (app["tasks"].empty() || !app.contains("healthChecks")) {
      return;
    }
    json& t = app["tasks"][pick(app["tasks"].size())];
    if (pick(3) == 0) {
      t.erase("healthCheckResults");
    } else {
      t["healthCheckResults"] = json::array({{{"alive", pick(2) == 0}}});
    }
  }

  void changeLabel(json& app) {
    json& labels = app["labels"];
    switch (pick(5)) {
      case 0:
        labels["HAPROXY_0_VHOST"] = "h" + std::to_string(pick(5)) + ".example.com";
        break;
      case 1:
        labels["HAPROXY_0_MODE"] = pick(2) ? "http" : "tcp";
        break;
      case 2:
        labels["HAPROXY_0_BALANCE"] = pick(2) ? "leastconn" : "roundrobin";
        break;
      case 3:
        labels["HAPROXY_0_PATH"] = "/p" + std::to_string(pick(3));
        break;
      default:
        labels["HAPROXY_0_PORT"] = pick(6) == 0 ? "bad port" : std::to_string(11000 + pick(500));
        break;
    }
  }

  void changeTemplateLabel(json& app) {
    json& labels = app["labels"];
    if (pick(3) == 0) {
      labels.erase("HAPROXY_0_BACKEND_HEAD");
    } else if (pick(6) == 0) {
      labels["HAPROXY_0_BACKEND_HEAD"] = "\nbackend {backend}\n  balance {nosuchkey}\n";
    } else {
      labels["HAPROXY_0_BACKEND_HEAD"] =
          "\nbackend {backend}\n  balance {balance}\n  mode {mode}\n  timeout server " +
          std::to_string(10 + pick(5)) + "s\n";
    }
  }

  // Two apps of one blue/green deployment group.
  std::string addBlueGreenPair() {
    const std::string group = "bg" + std::to_string(next_id_);
    std::string last;
    for (const char* color : {"blue", "green"}) {
      last = addApp();
      json& labels = api.apps[last]["labels"];
      labels["HAPROXY_DEPLOYMENT_GROUP"] = group;
      labels["HAPROXY_DEPLOYMENT_ALT_PORT"] = "10999";
      labels["HAPROXY_DEPLOYMENT_STARTED_AT"] =
          std::string("2026-12-07T10:0") + (color[0] == 'b' ? "1" : "2") + ":00Z";
      labels["HAPROXY_0_PORT"] = "10998";
    }
    return last;
  }

  std::mt19937 rng_;
  int next_id_ = 0;
  int next_task_ = 0;
};

struct Published {
  std::string config, domain_map, app_map;
  std::string version;  // the bundle's name: a digest of the pieces of its configuration
};

class IncrementalPassTest : public ::testing::TestWithParam<std::tuple<uint32_t, bool>> {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() /
            ("mlb-incr-" + std::to_string(::getpid()) + "-" +
             std::to_string(std::get<0>(GetParam())) + (std::get<1>(GetParam()) ? "-map" : ""));
    fs::remove_all(base_);
    auto t = TemplateSet::load("", {});
    ASSERT_TRUE(t);
    templates_ = std::make_unique<TemplateSet>(std::move(*t));
    options_.build.groups = {"external"};
    options_.render.state_dir = "/run/mlb-test";
    options_.render.haproxy_dir = "/run/mlb-test/live";
    options_.render.haproxy_map = std::get<1>(GetParam());
    options_.max_shrink = 1.0;  // no guard holds an answer: both sides publish every step
  }
  void TearDown() override { fs::remove_all(base_); }

  Published read(const fs::path& dir) {
    auto file = [&](const char* name) {
      auto text = common::readFile((dir / "current" / name).string());
      return text ? *text : std::string("<missing>");
    };
    // As a reader of the bundle gets it: whole, or its base with its edits.
    auto config = common::readBundleConfig((dir / "current").string());
    return {config ? *config : "<unreadable: " + config.error().message + ">",
            file("domain2backend.map"), file("app2backend.map"),
            fs::read_symlink(dir / "current").filename().string()};
  }

  // A fresh reconciler's first pass over the whole state.
  Published fullRender(ClusterApi& api, int step) {
    const fs::path dir = base_ / ("full-" + std::to_string(step));
    BundlePublisher publisher(dir.string(), 1);
    EXPECT_TRUE(publisher.init());
    Reconciler fresh(api, nullptr, publisher, *templates_, options_);
    auto report = fresh.reconcileOnce();
    EXPECT_EQ(report.outcome, PassReport::Outcome::Published) << report.detail;
    Published out = read(dir);
    fs::remove_all(dir);
    return out;
  }

  fs::path base_;
  std::unique_ptr<TemplateSet> templates_;
  ReconcilerOptions options_;
};

TEST_P(IncrementalPassTest, EveryStepPublishesWhatAFullRenderPublishes) {
  Cluster cluster(std::get<0>(GetParam()));
  for (int i = 0; i < 12; ++i) {
    cluster.addApp();
  }
  const fs::path dir = base_ / "incremental";
  BundlePublisher publisher(dir.string(), 2);
  ASSERT_TRUE(publisher.init());
  Reconciler live(cluster.api, nullptr, publisher, *templates_, options_);
  ASSERT_EQ(live.reconcileOnce().outcome, PassReport::Outcome::Published);
  std::mt19937 rng(std::get<0>(GetParam()) + 1000);
  int fast_passes = 0, with_history = 0, as_edits = 0;
  for (int step = 0; step < 150; ++step) {
    cluster.touched.clear();
    const int changes = 1 + static_cast<int>(rng() % 3);
    for (int c = 0; c < changes; ++c) {
      cluster.step();
    }
    const std::set<std::string> hints = cluster.touched;
    // Now and then a pass without hints (a resync, an event naming no app).
    auto report = live.reconcileOnce(rng() % 10 == 0 ? std::set<std::string>{} : hints);
    ASSERT_TRUE(report.outcome == PassReport::Outcome::Published ||
                report.outcome == PassReport::Outcome::Unchanged)
        << "step " << step << ": " << report.detail;
    fast_passes += report.fast_path ? 1 : 0;
    as_edits += fs::exists(dir / "current" / common::kConfigEditsFile) ? 1 : 0;
    // An app refused now and served from its last good fragment: a fresh reconciler
    // has no such fragment (history, not an incremental difference).
    if (std::any_of(report.quarantined.begin(), report.quarantined.end(),
                    [](const QuarantineEntry& q) { return q.kept_last_good; })) {
      ++with_history;
      continue;
    }
    const Published got = read(dir);
    const Published want = fullRender(cluster.api, step);
    ASSERT_EQ(got.config, want.config) << "step " << step;
    ASSERT_EQ(got.domain_map, want.domain_map) << "step " << step;
    ASSERT_EQ(got.app_map, want.app_map) << "step " << step;
    ASSERT_EQ(got.version, want.version) << "step " << step;
  }
  EXPECT_GT(fast_passes, 50);  // the incremental path was the one exercised
  EXPECT_GT(as_edits, 20);     // and bundles written as edits of their base
  EXPECT_LT(with_history, 60);
}

INSTANTIATE_TEST_SUITE_P(Seeds, IncrementalPassTest,
                         ::testing::Combine(::testing::Values(1u, 2u, 3u), ::testing::Bool()));

}  // namespace
}  // namespace mlb::controller
