#pragma once
// The validated, filtered, sorted routing model built from Marathon apps: one
// Service per (app, service port). Plain types only; templates see nothing else.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "controller/model/marathon_app.h"

namespace mlb::controller {

struct Server {
  std::string host;  // the agent host as Marathon reports it
  std::string ip;    // the address HAProxy connects to
  int port = 0;
  std::optional<int>
      check_port;         // from HAPROXY_{n}_BACKEND_HEALTHCHECK_PORT_INDEX or the check's port
  bool draining = false;  // blue/green: written as `disabled`
  // The app has Marathon health checks and none says this task is alive yet (served
  // without --health-check): HAProxy holds it DOWN until its own checks pass.
  bool unproven = false;
  std::string task_id;
  std::string name;    // marathon-lb's server name: sanitized host_ip_port, or ip_port
  int id = 0;          // stable HAProxy server id, unique within the backend
  std::string cookie;  // sha1(name)[:10], for sticky backends

  bool operator==(const Server&) const = default;
};

struct Service {
  std::string app_id;
  int port_index = 0;
  int service_port = 0;
  std::string backend;  // appId[1:] with / -> _, then _<servicePort>
  std::vector<std::string> groups;
  std::string hostname;             // HAPROXY_{n}_VHOST, lower-cased, may be a comma list
  std::vector<std::string> vhosts;  // hostname split on ','
  std::string path;
  int backend_weight = 0;
  std::string mode;  // "http" or "tcp"
  std::string balance = "roundrobin";
  bool sticky = false;
  bool redirect_to_https = false;
  bool use_hsts = false;
  std::string auth_realm, auth_user, auth_passwd;
  std::string ssl_cert;
  std::string bind_options;
  std::string bind_addr = "*";
  std::string network_allowed;
  std::optional<bool> enabled;  // HAPROXY_{n}_ENABLED; unset: on, unless --strict-mode
  std::optional<int> healthcheck_port_index;
  std::optional<HealthCheck> health_check;
  std::string proxypath, revproxypath, redirpath;
  // Per-port template overrides (HAPROXY_{n}_<TEMPLATE>): template name (without the
  // HAPROXY_ prefix) -> text in marathon-lb's {placeholder} syntax, CRLF normalised.
  std::map<std::string, std::string, std::less<>> template_overrides;
  std::vector<Server> servers;  // sorted by (host, port, ip, task id): a total order

  bool operator==(const Service&) const = default;
};

// A built Service, immutable and shared: the memo of builds, a pass's model and the
// last good fragments hold the same Service instead of copies of it and of its
// servers, and a renderer can tell an unchanged service by its address.
class ServiceRef {
 public:
  ServiceRef(Service s)  // NOLINT(google-explicit-constructor): a model is built from values
      : p_(std::make_shared<const Service>(std::move(s))) {}
  const Service& operator*() const { return *p_; }
  const Service* operator->() const { return p_.get(); }
  operator const Service&() const { return *p_; }  // NOLINT(google-explicit-constructor)
  const Service* get() const { return p_.get(); }

 private:
  std::shared_ptr<const Service> p_;
};

// A service (or a whole app when port_index is -1) left out of the configuration,
// with the reason. Nothing of it reaches the config.
struct Quarantined {
  std::string app_id;
  int port_index = -1;
  std::string reason;
};

// A task left out of every service of its app because a value Marathon gave for it
// cannot safely reach the configuration (an address that is not an IP literal, a
// port outside 1-65535, a host name or task id with blanks or control characters)
// or because its host name did not resolve. `reason` is one of the fixed texts
// below, never the offending value, so that it can label a metric.
struct SkippedTask {
  std::string app_id;
  std::string task_id;  // as Marathon gave it: escape it before logging
  std::string reason;
};

inline constexpr const char* kSkipBadIpAddress = "ip address is not an IPv4 or IPv6 literal";
inline constexpr const char* kSkipNoIpAddress = "no ip address";
inline constexpr const char* kSkipBadPort = "port out of range";
inline constexpr const char* kSkipBadHost = "host is not a host name";
inline constexpr const char* kSkipBadTaskId = "task id has blanks or control characters";
inline constexpr const char* kSkipUnresolvableHost = "unresolvable host";

// A port served differently from how its labels read, as marathon-lb served it: the
// service is routed; the warning says how. `kind` is one of the fixed texts below (a
// metric label), `text` the explanation naming the labels.
struct AppWarning {
  std::string app_id;
  int port_index = -1;
  std::string kind;
  std::string text;
};

inline constexpr const char* kWarnProxyPassWithoutVhost = "proxypass_without_vhost";

struct ServiceModel {
  std::vector<ServiceRef> services;  // sorted by (app id, service port), groups/enabled filtered
  std::vector<Quarantined> quarantined;
  std::vector<AppWarning> warnings;        // sorted by (app id, port index, kind)
  std::vector<SkippedTask> skipped_tasks;  // sorted by (app id, task id, reason)
};

}  // namespace mlb::controller
