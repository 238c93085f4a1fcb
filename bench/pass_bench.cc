// One controller pass per task event, in process (prints figures; not a timed test).
//
// A Reconciler as mlb-controller runs it (real renderer, real BundlePublisher into a
// scratch state directory, fsyncs included; no haproxy -c) over a saved /v2/apps answer
// (gen_fixture.py --apps N --seed S --loopback). After one full pass, each pass scales
// the next app by a task (back down on the next round), as a status_update_event naming
// that app does, and fetches only that app. Measured per pass: the calling thread's
// CPU time (the pass runs there) and wall time; medians and p90 over the passes. Free
// of the simulator, HTTP and SSE, so two builds compare within a few percent.
//
//   pass_bench --apps FILE [--passes P] [--map]
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "common/memory.h"
#include "controller/sync/reconciler.h"

using namespace mlb::controller;
using nlohmann::json;

namespace {

double threadCpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

// Marathon as a saved answer: the whole of it, and each app alone.
class SavedApi : public MarathonApi {
 public:
  mlb::common::Result<MarathonBody> fetchApps() override {
    json all = json::array();
    for (const auto& id : order) {
      all.push_back(apps.at(id));
    }
    return MarathonBody{json{{"apps", all}}.dump(), "http://saved"};
  }
  mlb::common::Result<MarathonBody> fetchApp(const std::string& id) override {
    auto it = apps.find(id);
    if (it == apps.end()) {
      return MarathonBody{"", "http://saved", 404};
    }
    return MarathonBody{json{{"app", it->second}}.dump(), "http://saved", 200};
  }
  std::string currentUrl() const override { return "http://saved"; }
  std::string authorizationHeader() override { return ""; }

  std::vector<std::string> order;  // Marathon's answer order
  std::map<std::string, json> apps;
};

// Scales `app` by one task (a copy of its first, on other ports), or back.
void toggleTask(json& app, int n) {
  json& tasks = app["tasks"];
  if (!tasks.empty() && tasks.back().value("id", "").find("-pb") != std::string::npos) {
    tasks.erase(tasks.size() - 1);
    return;
  }
  json t = tasks.at(0);
  t["id"] = t.value("id", "t") + "-pb" + std::to_string(n);
  if (t.contains("ports")) {
    for (auto& p : t["ports"]) {
      p = p.get<int>() + 20000;
    }
  }
  tasks.push_back(t);
}

double pct(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  std::string file;
  int passes = 200;
  bool map = false;
  bool malloc_defaults = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--apps") && i + 1 < argc) {
      file = argv[++i];
    } else if (!std::strcmp(argv[i], "--passes") && i + 1 < argc) {
      passes = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--map")) {
      map = true;
    } else if (!std::strcmp(argv[i], "--malloc-defaults")) {
      malloc_defaults = true;
    }
  }
  if (!malloc_defaults) {
    mlb::common::keepFreedMemory();  // as mlb-controller does (controller/main.cc)
  }
  std::ifstream in(file);
  if (file.empty() || !in) {
    std::fprintf(stderr, "usage: pass_bench --apps FILE [--passes P] [--map]\n");
    return 2;
  }
  SavedApi api;
  std::vector<std::string> scalable;
  json answer = json::parse(in);
  for (auto& app : answer["apps"]) {
    const std::string id = app["id"];
    api.order.push_back(id);
    const bool ip_per_task = app.contains("ipAddress") && !app["ipAddress"].is_null();
    if (!ip_per_task && !app["tasks"].empty() && app["tasks"][0].contains("ports") &&
        !app["tasks"][0]["ports"].empty()) {
      scalable.push_back(id);
    }
    api.apps[id] = std::move(app);
  }
  const auto dir =
      std::filesystem::temp_directory_path() / ("mlb-pass-bench-" + std::to_string(::getpid()));
  BundlePublisher publisher(dir.string(), 3);
  auto templates = TemplateSet::load("", {});
  auto ready = publisher.init();
  if (!ready || !templates || scalable.empty()) {
    std::fprintf(stderr, "pass_bench: cannot start: %s%s\n",
                 ready ? "" : ready.error().message.c_str(),
                 templates ? "" : templates.error().message.c_str());
    return 1;
  }
  ReconcilerOptions options;
  options.build.groups = {"*"};
  options.render.haproxy_map = map;
  options.render.state_dir = dir.string();
  options.render.haproxy_dir = dir.string() + "/live";
  Reconciler reconciler(api, nullptr, publisher, *templates, options);
  double t0 = threadCpuMs();
  const PassReport first = reconciler.reconcileOnce();
  const double full_ms = threadCpuMs() - t0;
  std::vector<double> cpu, wall;
  int published = 0;
  for (int n = 0; n < passes; ++n) {
    // A new state each pass: the next app scaled up (back down on the next round).
    const std::string& id = scalable[static_cast<size_t>(n) % scalable.size()];
    toggleTask(api.apps[id], n);
    const auto w0 = std::chrono::steady_clock::now();
    t0 = threadCpuMs();
    const PassReport r = reconciler.reconcileOnce({id});
    cpu.push_back(threadCpuMs() - t0);
    wall.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - w0).count());
    published += r.outcome == PassReport::Outcome::Published ? 1 : 0;
  }
  std::printf(
      "apps %zu services %zu servers %zu | full pass CPU %.1f ms | per event (%d passes, %d "
      "published): CPU p50 %.2f ms p90 %.2f ms, wall p50 %.2f ms p90 %.2f ms\n",
      api.order.size(), first.services, first.servers, full_ms, passes, published, pct(cpu, 50),
      pct(cpu, 90), pct(wall, 50), pct(wall, 90));
  std::filesystem::remove_all(dir);
  return 0;
}
