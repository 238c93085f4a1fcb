#pragma once
// Pure: Marathon apps + marathon-lb's options -> the validated routing model.
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "controller/model/marathon_app.h"
#include "controller/model/service.h"

namespace mlb::controller {

class BuildMemo;

struct BuildOptions {
  std::vector<std::string> groups;  // --group (repeatable; "*" = every app)
  bool health_check = false;        // --health-check
  bool strict_mode = false;         // --strict-mode
  int min_serv_port_ip_per_task = 10050;
  int max_serv_port_ip_per_task = 10100;
  std::string framework_name;  // FRAMEWORK_NAME: an app with this id is the LB itself
  // Agent host name -> IPv4 address. Hosts that are IP literals never reach it.
  // Unset: only IP literals resolve. Must be deterministic for deterministic output.
  std::function<std::optional<std::string>(const std::string&)> resolve_host;
  // With --health-check, the health of a task that has no health results (Marathon
  // lost them, e.g. after a leader failover). Unset: such tasks are not routed,
  // as marathon-lb does in one-shot mode.
  std::function<std::optional<bool>(const std::string& task_id)> unknown_health;
  // Reuses the build of apps whose input has not changed since the last build with
  // the same memo (and the same other options). Unset: every app is built.
  BuildMemo* memo = nullptr;
};

// What one app contributes to the model.
struct AppBuild {
  std::vector<ServiceRef> services;  // routed, with servers
  std::vector<Quarantined> quarantined;
  std::vector<SkippedTask> skipped_tasks;
  std::vector<AppWarning> warnings;
};

// The builds of the last buildServices() per app, keyed by what they were built
// from: the app's revision (MarathonApp::revision), networking mode, service ports and
// the answers for its tasks of unknown health. Apps whose build depends on anything
// else (a host name to resolve, a blue/green merge) are not memoized. A task change
// costs one app's build instead of every app's. Not thread-safe; one per builder.
class BuildMemo {
 public:
  struct Key {
    uint64_t revision = 0;
    int mode = 0;
    std::vector<std::optional<int>> ports;
    std::string unknown_health;
  };
  // The build stored for `app_id` under `key`, or null.
  const AppBuild* find(const std::string& app_id, uint64_t revision, int mode,
                       const std::vector<std::optional<int>>& ports,
                       const std::string& unknown_health);
  void store(const std::string& app_id, Key key, AppBuild build);
  // Forgets the apps neither found nor stored since the previous sweep.
  void sweep();
  // Called at the start of each build with a fingerprint of the options every app's
  // build depends on (groups, modes, ranges): a change forgets every build. Returns
  // whether the options are those of the last build.
  bool useOptions(const std::string& fingerprint);
  size_t size() const { return entries_.size(); }
  // Builds that patched the last model instead of walking every app.
  size_t patches() const { return patches_; }

  // The last build of all apps, which the next build patches when the apps that
  // changed since are apps whose services depend on nothing but themselves
  // (service_builder.cc: patchBuild). Unset: the next build walks every app.
  struct LastBuild {
    std::vector<std::string> ids;  // the input's apps, in input order
    std::vector<uint64_t> revisions;
    std::vector<bool> patchable;                // its build may be patched in alone
    std::map<size_t, std::string> health_keys;  // input index -> its unknown-health answers
    // The merged apps of deployment groups whose build read unknown-health answers.
    std::vector<std::pair<std::shared_ptr<const MarathonApp>, std::string>> merged_health_keys;
    ServiceModel model;
  };
  std::optional<LastBuild>& lastBuild() { return last_; }
  void countPatch() { ++patches_; }
  bool contains(const std::string& app_id) const { return entries_.count(app_id) > 0; }
  size_t hits() const { return hits_; }

  // A blue/green deployment group merged into one app (service_builder.cc), stored
  // under the ids and revisions of its apps.
  struct MergedGroup {
    std::shared_ptr<MarathonApp> merged;
    std::set<std::string> draining_tasks;
    std::vector<Quarantined> quarantined;
  };
  const MergedGroup* findGroup(const std::string& group, const std::string& signature);
  const MergedGroup* storeGroup(const std::string& group, std::string signature,
                                MergedGroup merged);
  // A revision no parsed app has, for a merged app.
  uint64_t freshRevision() { return next_revision_++; }

 private:
  struct GroupEntry {
    std::string signature;
    MergedGroup merged;
    bool used = false;
  };
  std::unordered_map<std::string, GroupEntry> groups_;
  std::optional<LastBuild> last_;
  size_t patches_ = 0;
  uint64_t next_revision_ = uint64_t{1} << 62;
  size_t hits_ = 0;
  std::string options_;
  struct Entry {
    Key key;
    AppBuild build;
    bool used = false;
  };
  std::unordered_map<std::string, Entry> entries_;
};

// Builds the services: labels validated (a bad value quarantines that port, or the
// whole app for app-level labels), blue/green deployment groups merged (draining
// servers marked), tasks selected, IP-per-task ports resolved and auto-assigned,
// group / enabled / empty services filtered out. Services are sorted by (app id,
// service port) and servers by (host, port, ip, task id). Deterministic.
ServiceModel buildServices(const std::vector<MarathonApp>& apps, const BuildOptions& options);

}  // namespace mlb::controller
