// BuildMemo: a build through the memo equals a build from scratch, whatever changes
// between builds (a property over random task churn on a 100-app fixture).
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>

#include "controller/marathon/app_json.h"
#include "controller/model/service_builder.h"

namespace mlb::controller {
namespace {

std::vector<MarathonApp> fixture(const std::string& name) {
  std::ifstream in(std::string(MLB_SOURCE_DIR) + "/controller/testdata/marathon/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string body = ss.str();
  body.reserve(body.size() + kJsonPadding);
  auto parsed = parseApps(body);
  EXPECT_TRUE(parsed.has_value());
  return parsed ? parsed->apps : std::vector<MarathonApp>{};
}

// Every field of the model the renderer reads, as text.
std::string describe(const ServiceModel& m) {
  std::ostringstream o;
  for (const Service& s : m.services) {
    o << s.app_id << " " << s.port_index << " " << s.backend << " " << s.service_port << " "
      << s.mode << " " << s.hostname << " " << s.sticky << "\n";
    for (const auto& v : s.servers) {
      o << "  " << v.name << " " << v.ip << ":" << v.port << " id " << v.id << " d" << v.draining
        << " c" << v.check_port.value_or(0) << " " << v.cookie << " " << v.task_id << "\n";
    }
  }
  for (const auto& q : m.quarantined) {
    o << "Q " << q.app_id << " " << q.port_index << " " << q.reason << "\n";
  }
  for (const auto& t : m.skipped_tasks) {
    o << "S " << t.app_id << " " << t.task_id << " " << t.reason << "\n";
  }
  return o.str();
}

// One random change to one app, as Marathon's events bring them.
void mutate(MarathonApp& app, std::mt19937& rng, int step) {
  switch (rng() % 6) {
    case 0:  // scale down / kill
      if (!app.tasks.empty()) {
        app.tasks.erase(app.tasks.begin() + static_cast<long>(rng() % app.tasks.size()));
      }
      break;
    case 1:  // scale up / replace: a copy of a task on a new port
      if (!app.tasks.empty()) {
        MarathonTask t = app.tasks[rng() % app.tasks.size()];
        t.id += ".new" + std::to_string(step);
        for (auto& p : t.ports) {
          p = 20000 + step;
        }
        app.tasks.push_back(t);
      }
      break;
    case 2:  // health flip
      for (auto& t : app.tasks) {
        if (t.health_results > 0 && rng() % 2 == 0) {
          t.any_alive = !t.any_alive;
        }
      }
      break;
    case 3:  // health results lost
      if (!app.tasks.empty()) {
        app.tasks[rng() % app.tasks.size()].health_results = 0;
      }
      break;
    case 4:  // a label change, sometimes a bad one
      app.labels["HAPROXY_0_BALANCE"] = rng() % 3 == 0 ? "no such\nthing" : "leastconn";
      break;
    default:  // a group change
      app.labels["HAPROXY_GROUP"] = rng() % 2 ? "external" : "internal";
      break;
  }
}

TEST(BuildMemo, AMemoizedBuildEqualsAFreshOneThroughRandomChurn) {
  std::vector<MarathonApp> apps = fixture("fixture100.json");
  ASSERT_GE(apps.size(), 50u);
  uint64_t revision = 1;
  for (auto& a : apps) {
    a.revision = revision++;
  }
  std::mt19937 rng(7);
  std::map<std::string, bool> remembered;  // unknown health, varied between builds
  BuildOptions o;
  o.groups = {"external"};
  o.health_check = true;
  o.unknown_health = [&remembered](const std::string& id) -> std::optional<bool> {
    auto it = remembered.find(id);
    return it == remembered.end() ? std::nullopt : std::optional<bool>(it->second);
  };
  BuildMemo memo;
  BuildOptions with_memo = o;
  with_memo.memo = &memo;
  for (int step = 0; step < 300; ++step) {
    MarathonApp& app = apps[rng() % apps.size()];
    mutate(app, rng, step);
    app.revision = revision++;
    if (step % 7 == 0 && !app.tasks.empty()) {  // an answer for a task of unknown health
      remembered[apps[rng() % apps.size()].tasks.empty() ? "x" : app.tasks[0].id] = rng() % 2;
    }
    const std::string fresh = describe(buildServices(apps, o));
    ASSERT_EQ(describe(buildServices(apps, with_memo)), fresh) << "step " << step;
  }
  // Most apps were reused at most builds (one app changes per step).
  EXPECT_GT(memo.hits(), 300 * apps.size() / 2);
  EXPECT_GT(memo.size(), apps.size() / 2);
}

TEST(BuildMemo, ABlueGreenGroupIsMergedAgainOnlyWhenOneOfItsAppsChanged) {
  std::vector<MarathonApp> apps = fixture("bluegreen.json");
  std::vector<MarathonApp> more = fixture("fixture100.json");
  apps.insert(apps.end(), more.begin(), more.end());
  uint64_t revision = 1;
  for (auto& a : apps) {
    a.revision = revision++;
  }
  BuildOptions o;
  o.groups = {"*"};
  BuildMemo memo;
  BuildOptions with_memo = o;
  with_memo.memo = &memo;
  ASSERT_EQ(describe(buildServices(apps, with_memo)), describe(buildServices(apps, o)));
  std::string group;
  for (const auto& a : apps) {
    if (auto g = a.labels.find("HAPROXY_DEPLOYMENT_GROUP"); g != a.labels.end()) {
      group = "/" + g->second;
    }
  }
  ASSERT_FALSE(group.empty());
  ASSERT_TRUE(memo.contains(group));  // the merged app's build is kept like any app's
  const size_t hits = memo.hits();
  buildServices(apps, with_memo);
  EXPECT_EQ(memo.hits() - hits, memo.size());  // nothing changed: every build reused
  std::mt19937 rng(11);
  for (int step = 0; step < 200; ++step) {
    MarathonApp& app = apps[step % 4 == 0 ? rng() % 2 : rng() % apps.size()];  // often blue/green
    mutate(app, rng, step);
    app.revision = revision++;
    ASSERT_EQ(describe(buildServices(apps, with_memo)), describe(buildServices(apps, o)))
        << "step " << step;
  }
}

TEST(BuildMemo, ChangedOptionsForgetEveryBuild) {
  std::vector<MarathonApp> apps = fixture("fixture100.json");
  for (auto& a : apps) {
    a.revision = 1;
  }
  BuildMemo memo;
  BuildOptions o;
  o.groups = {"external"};
  o.memo = &memo;
  buildServices(apps, o);
  const size_t hits = memo.hits();
  BuildOptions other = o;
  other.groups = {"*"};
  BuildOptions fresh = other;
  fresh.memo = nullptr;
  EXPECT_EQ(describe(buildServices(apps, other)), describe(buildServices(apps, fresh)));
  EXPECT_EQ(memo.hits(), hits);  // nothing reused across the change
}

TEST(BuildMemo, AppsWithoutARevisionOrWithHostNamesAreNotMemoized) {
  std::vector<MarathonApp> apps = fixture("fixture100.json");
  BuildMemo memo;
  BuildOptions o;
  o.groups = {"*"};
  o.memo = &memo;
  buildServices(apps, o);  // revision 0 everywhere
  EXPECT_EQ(memo.size(), 0u);
  for (auto& a : apps) {
    a.revision = 1;
  }
  apps[0].tasks.resize(1);
  apps[0].tasks[0].host = "agent-1.example.com";
  int resolved = 0;
  o.resolve_host = [&resolved](const std::string&) -> std::optional<std::string> {
    ++resolved;
    return "10.9.9.9";
  };
  buildServices(apps, o);
  buildServices(apps, o);
  EXPECT_EQ(resolved, 2);  // asked at every build: a resolver's answer may change
  EXPECT_FALSE(memo.contains(apps[0].id));
  EXPECT_TRUE(memo.contains(apps[1].id));
}

}  // namespace
}  // namespace mlb::controller
