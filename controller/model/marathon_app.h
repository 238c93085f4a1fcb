#pragma once
// Plain types for what Marathon says about apps and tasks (GET /v2/apps?embed=apps.tasks),
// in both the Marathon <= 1.4 and >= 1.5 shapes. No logic here.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mlb::controller {

struct HealthCheck {
  std::string protocol;  // HTTP, HTTPS, TCP, COMMAND, MESOS_HTTP, MESOS_HTTPS, MESOS_TCP
  std::string path;      // empty = not given ("/" is used)
  std::optional<int> port_index;
  std::optional<int> port;
  int timeout_seconds = 20;
  int interval_seconds = 60;
  int grace_period_seconds = 300;
  int max_consecutive_failures = 3;

  bool operator==(const HealthCheck&) const = default;
};

struct MarathonTask {
  std::string id;
  std::string host;
  std::string state;       // TASK_RUNNING, ...
  std::vector<int> ports;  // host ports
  std::string ip_address;  // tasks[].ipAddresses[0].ipAddress, the one marathon-lb uses
  int health_results = 0;  // number of healthCheckResults entries
  bool any_alive = false;  // some healthCheckResults[].alive is true
  bool health_results_present = false;  // the key was present in the answer
};

struct PortMapping {
  std::optional<int> container_port;
  std::optional<int> host_port;
  std::optional<int> service_port;
};

struct MarathonApp {
  std::string id;
  int instances = 0;
  std::map<std::string, std::string, std::less<>> labels;
  std::vector<HealthCheck> health_checks;

  // Networking inputs (as marathon-lb).
  bool has_ip_address = false;                    // "ipAddress" present and not null
  std::vector<int> discovery_ports;               // ipAddress.discovery.ports[].number
  std::string docker_network;                     // container.docker.network (USER, BRIDGE, HOST)
  std::vector<PortMapping> docker_port_mappings;  // container.docker.portMappings
  std::vector<PortMapping> port_mappings;         // container.portMappings (>= 1.5)
  std::vector<std::string> network_modes;         // networks[].mode (>= 1.5)
  bool has_port_definitions = false;
  std::vector<std::optional<int>> port_definitions;  // portDefinitions[].port
  std::vector<int> legacy_ports;                     // "ports" (<= 1.4)

  std::string last_scaling_at;  // versionInfo.lastScalingAt
  // Position in Marathon's answer. IP-per-task service ports are auto-assigned in
  // this order, as marathon-lb does, so that both give the same ports.
  size_t answer_index = 0;
  // Set by the holder of a cache of parsed apps: a new value each time this app's
  // content may have changed (0: unknown, never memoized). See BuildMemo.
  uint64_t revision = 0;
  std::vector<MarathonTask> tasks;
};

// The result of parsing one /v2/apps answer. One bad app never hides the others:
// apps that could not be read are listed in `skipped` with the reason.
struct SkippedApp {
  std::string app_id;  // may be empty when the id itself is unreadable
  std::string reason;
};

struct ParsedApps {
  std::vector<MarathonApp> apps;  // sorted by id
  std::vector<SkippedApp> skipped;
};

}  // namespace mlb::controller
