#pragma once
// marathon-lb's blue/green deployment (bluegreen_deploy.py, formerly zdd.py) as pure
// steps: which colour, id, service port and labels the new app gets, what the load
// balancers' stats say about the old colour's draining, and how far the next step
// scales. No I/O: the Deployer (deployer.h) drives them. docs/deploy.md tells the story.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace mlb::cli::deploy {

using Json = nlohmann::json;

// bluegreen_deploy.py's exit codes.
enum class Exit : int {
  kOk = 0,
  kDeclined = 1,  // "no" at a prompt
  kUnknown = 2,   // anything else (a deploy in progress, a timeout, a failed hook)
  kInvalidArgs = 3,
  kMissingField = 4,  // the app definition lacks a label or field the deploy needs
  kLbError = 5,       // no load balancer answered its stats
  kMarathonError = 6,
  kCreate = 7,
  kDelete = 8,
  kScale = 9,
};

// Type-safe reads of Marathon's JSON (a field of another type reads as absent).
std::string text(const Json& object, const char* key);
const Json& arrayAt(const Json& object, const char* key);  // [] when absent
// Marathon's state is TASK_RUNNING (or not given).
bool isRunning(const Json& task);
// Running tasks whose Marathon health checks all pass (every running task when the
// app has no health check).
int healthyTasks(const Json& app);

// The value of label `key` of `app`, "" when absent or not a string.
std::string label(const Json& app, const std::string& key);
// app.instances, 0 when absent.
int instances(const Json& app);
// The first service port (portDefinitions, container.portMappings,
// container.docker.portMappings, or Marathon < 1.5's `ports`), -1 when none.
int servicePort(const Json& app);
// Sets the first service port wherever the definition declares it.
void setServicePort(Json& app, int port);
// The deployment group, without the leading '/' marathon-lb adds.
std::string groupOf(const Json& app);

// The apps of `group` in a /v2/apps answer that carry a colour (deployed by this tool
// or by marathon-lb's), oldest HAPROXY_DEPLOYMENT_STARTED_AT first.
std::vector<Json> groupApps(const Json& apps_answer, const std::string& group);

struct PlanOptions {
  int initial_instances = 1;
  int new_instances = 0;   // hybrid deploy: keep this many new, the rest old
  std::string started_at;  // HAPROXY_DEPLOYMENT_STARTED_AT (local ISO time, as Python's)
};

// The new colour's definition as it is POSTed: id "<id>-<colour>", the other service
// port of HAPROXY_0_PORT / HAPROXY_DEPLOYMENT_ALT_PORT, the deployment labels
// (HAPROXY_DEPLOYMENT_NEW_INSTANCES always, "0" unless hybrid, as zdd.py). With no
// previous colour the app deploys as blue on its own port at its own instance count.
// Error InvalidData (exit 4) for a missing id, label or service port.
common::Result<Json> planNewColour(Json definition, const std::optional<Json>& previous,
                                   const PlanOptions& options);

// One server of the app's backend in one load balancer's `/haproxy?stats;csv`.
struct ServerStat {
  std::string name;
  std::string addr;    // "ip:port" (HAProxy >= 1.9), "" when absent
  std::string status;  // UP, DOWN, MAINT, DRAIN, no check, ...
  long scur = 0;       // sessions now
  long qcur = 0;       // queued requests now
};

// The backend both colours share: "<group>_<HAPROXY_0_PORT>" (mlb names it from the
// old colour's labels).
std::string backendName(const Json& app);
// The servers of `backend` in one stats CSV (FRONTEND and BACKEND rows skipped).
// Error when the text is not HAProxy's CSV.
common::Result<std::vector<ServerStat>> parseStatsCsv(std::string_view csv,
                                                      const std::string& backend);

// What every load balancer says about the deployment group's servers.
struct DrainView {
  int expected = 0;                           // old + new instances
  int listed = 0;                             // fewest servers any LB lists
  int up = 0;                                 // fewest UP servers on any LB
  int maint = 0;                              // most MAINT servers on any LB
  int busy = 0;                               // MAINT servers with sessions or a queue, on any LB
  int old_listed = 0;                         // old tasks some LB lists
  bool caught_up = false;                     // every LB lists `expected` servers
  std::vector<std::string> drained;           // old task ids: MAINT and idle on every LB
  std::vector<std::string> maint_everywhere;  // old task ids: MAINT on every LB
};
DrainView readDrain(const std::vector<std::vector<ServerStat>>& lbs, const Json& old_app,
                    const Json& new_app);

// The new colour's next size: +50 % (marathon-lb's floor(n + (n + 1) / 2)) or
// +`linear`, the target once it reaches the old colour's size, never above `cap`.
int nextInstances(int current, int old_instances, int target, int linear, int cap);

// Whether `server` is `task` (by HAProxy's name for it, or by address).
bool serverIsTask(const ServerStat& server, const Json& task);

}  // namespace mlb::cli::deploy
