// BuildMemo: a build through the memo equals a build from scratch, whatever changes
// between builds (a property over random task churn on a 100-app fixture).
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
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

// Gives each app a revision of its own, as a full answer does; returns the next one.
uint64_t numberRevisions(std::vector<MarathonApp>& apps) {
  uint64_t revision = 1;
  for (auto& a : apps) {
    a.revision = revision++;
  }
  return revision;
}

// --health-check with `groups`, the answers for tasks of unknown health read from
// `remembered` (which the test varies between builds).
BuildOptions checkedOptions(std::vector<std::string> groups,
                            const std::map<std::string, bool>& remembered) {
  BuildOptions o;
  o.groups = std::move(groups);
  o.health_check = true;
  o.unknown_health = [&remembered](const std::string& id) -> std::optional<bool> {
    auto it = remembered.find(id);
    return it == remembered.end() ? std::nullopt : std::optional<bool>(it->second);
  };
  return o;
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
  for (const auto& w : m.warnings) {
    o << "W " << w.app_id << " " << w.port_index << " " << w.kind << " " << w.text << "\n";
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
  uint64_t revision = numberRevisions(apps);
  std::mt19937 rng(7);
  std::map<std::string, bool> remembered;  // unknown health, varied between builds
  BuildOptions o = checkedOptions({"external"}, remembered);
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
  // Most apps were reused at most builds (one app changes per step): found in the
  // memo, or left in place by a patched build.
  EXPECT_GT(memo.hits() + memo.patches() * apps.size(), 300 * apps.size() / 2);
  EXPECT_GT(memo.size(), apps.size() / 2);
}

TEST(BuildMemo, ABlueGreenGroupIsMergedAgainOnlyWhenOneOfItsAppsChanged) {
  std::vector<MarathonApp> apps = fixture("bluegreen.json");
  std::vector<MarathonApp> more = fixture("fixture100.json");
  apps.insert(apps.end(), more.begin(), more.end());
  uint64_t revision = numberRevisions(apps);
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
  const size_t patches = memo.patches();
  buildServices(apps, with_memo);
  EXPECT_EQ(memo.patches(), patches + 1);  // nothing changed: the last model stands
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

// Changes that take an app off the patched path (or back onto it): a backend name
// changed, a deployment group joined or left, a second port claiming the first one's
// backend, a host name to resolve.
void mutateShape(MarathonApp& app, std::mt19937& rng, int step) {
  switch (rng() % 5) {
    case 0:
      app.labels["HAPROXY_0_PORT"] = std::to_string(12000 + rng() % 50);
      break;
    case 1:
      if (app.labels.erase("HAPROXY_DEPLOYMENT_GROUP") == 0) {
        app.labels["HAPROXY_DEPLOYMENT_GROUP"] = "grp" + std::to_string(rng() % 3);
        app.labels["HAPROXY_DEPLOYMENT_ALT_PORT"] = "10999";
        app.labels["HAPROXY_DEPLOYMENT_STARTED_AT"] =
            "2026-12-07T10:0" + std::to_string(step % 10) + ":00Z";
      }
      break;
    case 2:
      if (app.labels.erase("HAPROXY_1_PORT") == 0 && !app.port_definitions.empty() &&
          app.port_definitions[0]) {
        app.port_definitions.resize(2);
        app.port_definitions[1] = 20000 + step;
        app.labels["HAPROXY_1_PORT"] = std::to_string(*app.port_definitions[0]);
      }
      break;
    case 3:  // (for one build: the test puts an address back)
      if (!app.tasks.empty()) {
        app.tasks[0].host = "agent-1.example.com";
      }
      break;
    default:
      app.labels.erase("HAPROXY_0_PORT");
      break;
  }
}

TEST(BuildMemo, APatchedBuildEqualsAFreshOne) {
  std::vector<MarathonApp> apps = fixture("fixture100.json");
  std::vector<MarathonApp> more = fixture("ip-per-task.json");
  apps.insert(apps.end(), more.begin(), more.end());
  std::sort(apps.begin(), apps.end(),
            [](const MarathonApp& a, const MarathonApp& b) { return a.id < b.id; });
  uint64_t revision = numberRevisions(apps);
  std::mt19937 rng(5);
  std::map<std::string, bool> remembered;  // unknown health, for any app's tasks
  BuildOptions o = checkedOptions({"*"}, remembered);
  o.resolve_host = [](const std::string&) -> std::optional<std::string> { return "10.9.9.9"; };
  BuildMemo memo;
  BuildOptions with_memo = o;
  with_memo.memo = &memo;
  for (int step = 0; step < 400; ++step) {
    for (auto& app : apps) {
      for (auto& t : app.tasks) {
        if (t.host == "agent-1.example.com") {
          t.host = "10.1.1.1";
          app.revision = revision++;
        }
      }
    }
    for (int n = 1 + static_cast<int>(rng() % 3); n > 0; --n) {
      MarathonApp& app = apps[rng() % apps.size()];
      if (rng() % 5 == 0) {
        mutateShape(app, rng, step);
      } else {
        mutate(app, rng, step);
      }
      app.revision = revision++;
    }
    if (step % 5 == 0) {  // a new answer for a task of an app that did not change
      const MarathonApp& other = apps[rng() % apps.size()];
      if (!other.tasks.empty()) {
        remembered[other.tasks[rng() % other.tasks.size()].id] = rng() % 2;
      }
    }
    const std::string fresh = describe(buildServices(apps, o));
    ASSERT_EQ(describe(buildServices(apps, with_memo)), fresh) << "step " << step;
  }
  EXPECT_GT(memo.patches(), 60u);   // the patched path was the one exercised
  EXPECT_LT(memo.patches(), 390u);  // and so was the whole build
}

TEST(BuildMemo, APatchedBuildRereadsNothingButTheChangedApps) {
  std::vector<MarathonApp> apps = fixture("fixture100.json");
  uint64_t revision = numberRevisions(apps);
  BuildMemo memo;
  BuildOptions o;
  o.groups = {"*"};
  o.memo = &memo;
  buildServices(apps, o);
  const size_t hits = memo.hits();
  MarathonApp& app = apps[3];
  ASSERT_FALSE(app.tasks.empty());
  app.tasks.push_back(app.tasks[0]);
  app.tasks.back().id += ".copy";
  app.tasks.back().ports = {31999};
  app.revision = revision++;
  const ServiceModel patched = buildServices(apps, o);
  EXPECT_EQ(memo.patches(), 1u);
  EXPECT_EQ(memo.hits(), hits);  // no other app looked up
  BuildOptions fresh = o;
  fresh.memo = nullptr;
  EXPECT_EQ(describe(patched), describe(buildServices(apps, fresh)));
}

}  // namespace
}  // namespace mlb::controller
