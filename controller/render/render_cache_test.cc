// A render with a RenderCache (fragments kept, the last assembly patched in place
// when services are replaced by ones of the same shape) gives, at every step of a
// random sequence of changes, what a fresh render of the same model gives: the same
// pieces (offsets and digests), views, spans, digest, shape, maps and quarantine.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "controller/marathon/app_json.h"
#include "controller/model/service_builder.h"
#include "controller/render/config_renderer.h"

namespace mlb::controller {
namespace {

using nlohmann::json;

class RandomApps {
 public:
  explicit RandomApps(uint32_t seed) : rng_(seed) {
    for (int i = 0; i < 30; ++i) {
      add();
    }
  }

  // One change of the kinds a cluster sees: most keep the app's shape (a task event).
  void change() {
    auto it = std::next(apps_.begin(), static_cast<long>(pick(apps_.size())));
    json& app = it->second;
    switch (pick(12)) {
      case 0:
        add();
        return;
      case 1:
        apps_.erase(it);
        return;
      case 2:
        app["labels"]["HAPROXY_0_VHOST"] = vhosts();
        return;
      case 3:
        app["labels"]["HAPROXY_0_BACKEND_WEIGHT"] = std::to_string(pick(3));
        return;
      case 4:
        app["labels"]["HAPROXY_0_BACKEND_HEAD"] =
            pick(2) == 0 ? "\nbackend {backend}\n  balance {balance}\n  mode {mode}\n"
                         : "\nbackend {oops}\n";  // left out: a placeholder it does not know
        return;
      case 5:
        app["labels"]["HAPROXY_0_MODE"] = pick(2) == 0 ? "http" : "tcp";
        return;
      default:
        scale(app);
    }
  }

  std::string body() const {
    json all = json::array();
    for (const auto& [id, app] : apps_) {
      all.push_back(app);
    }
    return json{{"apps", all}}.dump();
  }
  const std::map<std::string, json>& apps() const { return apps_; }

 private:
  size_t pick(size_t n) { return rng_() % n; }
  std::string vhosts() {
    const size_t n = pick(3);
    std::string v;
    for (size_t k = 0; k < n; ++k) {
      v += (k ? "," : "") + std::string("h") + std::to_string(pick(20)) + ".example.com";
    }
    return v;
  }
  void add() {
    const std::string id = "/app" + std::to_string(next_++);
    json app = {{"id", id},
                {"labels", {{"HAPROXY_GROUP", "external"}, {"HAPROXY_0_VHOST", vhosts()}}},
                {"portDefinitions", json::array({{{"port", 10000 + next_}}})},
                {"tasks", json::array()}};
    if (pick(3) == 0) {
      app["labels"]["HAPROXY_0_MODE"] = "http";
    }
    if (pick(4) == 0) {
      app["portDefinitions"].push_back({{"port", 20000 + next_}});
    }
    for (size_t t = pick(3); t > 0; --t) {
      scale(app);
    }
    apps_[id] = app;
  }
  void scale(json& app) {
    json& tasks = app["tasks"];
    if (!tasks.empty() && pick(3) == 0) {
      tasks.erase(tasks.begin() + static_cast<long>(pick(tasks.size())));
      return;
    }
    const int n = task_++;
    tasks.push_back({{"id", "t" + std::to_string(n)},
                     {"host", "10.0." + std::to_string(n / 200) + "." + std::to_string(n % 200)},
                     {"state", "TASK_RUNNING"},
                     {"ports", json::array({31000 + n % 1000, 32000 + n % 1000})}});
  }

  std::mt19937 rng_;
  std::map<std::string, json> apps_;
  int next_ = 0;
  int task_ = 0;
};

std::vector<std::string> spanOwners(const RenderedConfig& r) {
  std::vector<std::string> out;
  for (const auto& s : r.spans) {
    out.push_back(s.app_id() + ":" + std::to_string(s.port_index()) + "@" +
                  std::to_string(s.begin) + "-" + std::to_string(s.end));
  }
  return out;
}

class RenderCacheTest : public ::testing::TestWithParam<bool> {};

TEST_P(RenderCacheTest, EveryRenderEqualsAFreshOne) {
  auto templates = TemplateSet::load("", {});
  ASSERT_TRUE(templates);
  RenderOptions opts;
  opts.haproxy_map = GetParam();
  BuildMemo memo;
  BuildOptions build;
  build.groups = {"external"};
  build.memo = &memo;
  RandomApps cluster(GetParam() ? 11 : 12);
  std::map<std::string, uint64_t> revisions;  // kept while an app's answer is the same
  std::map<std::string, std::string> answers;
  uint64_t next_revision = 1;
  RenderCache cache;
  std::mt19937 rng(5);
  for (int step = 0; step < 300; ++step) {
    for (int c = static_cast<int>(rng() % 3); c > 0; --c) {
      cluster.change();
    }
    auto parsed = parseApps(cluster.body());
    ASSERT_TRUE(parsed);
    for (auto& app : parsed->apps) {  // a new revision only for an app that changed
      const std::string answer = cluster.apps().at(app.id).dump();
      if (answers[app.id] != answer) {
        answers[app.id] = answer;
        revisions[app.id] = next_revision++;
      }
      app.revision = revisions[app.id];
    }
    const ServiceModel model = buildServices(parsed->apps, build);
    auto kept = renderConfig(model, *templates, opts, cache);
    auto fresh = renderConfig(model, *templates, opts);
    ASSERT_TRUE(kept && fresh);
    joinConfig(*kept);
    ASSERT_EQ(kept->config, fresh->config) << "step " << step;
    ASSERT_EQ(kept->pieces.size(), fresh->pieces.size()) << "step " << step;
    for (size_t i = 0; i < fresh->pieces.size(); ++i) {
      ASSERT_EQ(kept->pieces[i].begin, fresh->pieces[i].begin) << "step " << step << " piece " << i;
      ASSERT_EQ(kept->pieces[i].end, fresh->pieces[i].end) << "step " << step << " piece " << i;
      ASSERT_EQ(kept->pieces[i].sha, fresh->pieces[i].sha) << "step " << step << " piece " << i;
    }
    ASSERT_EQ(spanOwners(*kept), spanOwners(*fresh)) << "step " << step;
    ASSERT_EQ(kept->config_digest, fresh->config_digest) << "step " << step;
    ASSERT_EQ(kept->shape, fresh->shape) << "step " << step;
    ASSERT_EQ(kept->domain_map, fresh->domain_map) << "step " << step;
    ASSERT_EQ(kept->app_map, fresh->app_map) << "step " << step;
    ASSERT_EQ(kept->quarantined.size(), fresh->quarantined.size()) << "step " << step;
    for (size_t i = 0; i < fresh->quarantined.size(); ++i) {
      ASSERT_EQ(kept->quarantined[i].app_id, fresh->quarantined[i].app_id) << "step " << step;
    }
  }
  EXPECT_GT(memo.patches(), 100u);  // the patched paths were the ones exercised
  EXPECT_GT(cache.patched(), 100u);
  EXPECT_LT(cache.patched(), 290u);  // and the whole assembly too
}

// An empty model (every app gone, or left out) and back: the global text alone.
TEST(RenderCache, AnEmptyModelAndBack) {
  auto templates = TemplateSet::load("", {});
  ASSERT_TRUE(templates);
  RandomApps cluster(3);
  auto parsed = parseApps(cluster.body());
  ASSERT_TRUE(parsed);
  BuildOptions build;
  build.groups = {"external"};
  const ServiceModel some = buildServices(parsed->apps, build);
  const ServiceModel none;
  RenderCache cache;
  for (const ServiceModel* model : {&none, &some, &none, &none, &some}) {
    auto kept = renderConfig(*model, *templates, RenderOptions{}, cache);
    auto fresh = renderConfig(*model, *templates, RenderOptions{});
    ASSERT_TRUE(kept && fresh);
    joinConfig(*kept);
    EXPECT_EQ(kept->config, fresh->config);
    EXPECT_EQ(kept->config_digest, fresh->config_digest);
  }
}

// A whole assembly that fails (a global template only some service makes it render)
// after the cache dropped fragments: the assembly before it is not patched from.
TEST(RenderCache, AFailedRenderIsNotPatchedFrom) {
  auto templates =
      TemplateSet::load("", {{"HAPROXY_MAP_HTTP_FRONTEND_ACL", "  use_backend {backend}\n"}});
  ASSERT_TRUE(templates) << templates.error().message;
  RenderOptions opts;
  opts.haproxy_map = true;
  auto model = [](const std::string& apps) {
    auto parsed = parseApps(R"({"apps":[)" + apps + "]}");
    EXPECT_TRUE(parsed);
    BuildOptions build;
    build.groups = {"*"};
    return buildServices(parsed->apps, build);
  };
  const std::string x =
      R"({"id":"/x","portDefinitions":[{"port":10001}],"tasks":[{"id":"x1","host":"10.0.0.1","state":"TASK_RUNNING","ports":[1]}]})";
  const std::string x2 =
      R"({"id":"/x","portDefinitions":[{"port":10001}],"tasks":[{"id":"x2","host":"10.0.0.2","state":"TASK_RUNNING","ports":[2]}]})";
  const std::string y =
      R"({"id":"/y","labels":{"HAPROXY_0_VHOST":"y.example.com"},"portDefinitions":[{"port":10002}],"tasks":[{"id":"y1","host":"10.0.0.3","state":"TASK_RUNNING","ports":[3]}]})";
  const ServiceModel first = model(x);
  RenderCache cache;
  ASSERT_TRUE(renderConfig(first, *templates, opts, cache));
  EXPECT_FALSE(renderConfig(model(x2 + "," + y), *templates, opts, cache));  // /x's entry goes
  auto again = renderConfig(first, *templates, opts, cache);  // the same services as `first`
  auto fresh = renderConfig(first, *templates, opts);
  ASSERT_TRUE(again && fresh);
  joinConfig(*again);
  EXPECT_EQ(again->config, fresh->config);
  EXPECT_EQ(again->config_digest, fresh->config_digest);
}

INSTANTIATE_TEST_SUITE_P(Maps, RenderCacheTest, ::testing::Bool());

}  // namespace
}  // namespace mlb::controller
