#pragma once
// Pure: Marathon apps + marathon-lb's options -> the validated routing model.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "controller/model/marathon_app.h"
#include "controller/model/service.h"

namespace mlb::controller {

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
};

// Builds the services: labels validated (a bad value quarantines that port, or the
// whole app for app-level labels), blue/green deployment groups merged (draining
// servers marked), tasks selected, IP-per-task ports resolved and auto-assigned,
// group / enabled / empty services filtered out. Services are sorted by (app id,
// service port) and servers by (host, port, ip, task id). Deterministic.
ServiceModel buildServices(const std::vector<MarathonApp>& apps, const BuildOptions& options);

}  // namespace mlb::controller
