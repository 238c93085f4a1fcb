#pragma once
// HAProxy 2.6's `haproxy -c` does not bind: a service port already in use on the host
// passes both validations and only the reload fails, without a line the controller
// can attribute. Before a reload, the ports a new configuration binds that the live one
// does not are tried here; one in use becomes an [ALERT] that names the line and the
// frontend, as HAProxy words it, so the app that asked for the port is quarantined and
// every other change goes live.
#include <string>
#include <vector>

namespace mlb::reloader {

// One TCP address of a `bind` line (unix sockets, abstract sockets, fd@ and port
// ranges are not probed).
struct BindAddress {
  std::string frontend;  // the section that binds it
  int line = 0;          // 1-based line of the bind in the configuration
  std::string host;      // "0.0.0.0", "::" or an address literal
  int port = 0;
};
// Every probe-able address of the configuration's `bind` lines. Pure.
std::vector<BindAddress> bindAddresses(const std::string& config);

// Whether a TCP listener could bind host:port now (the real one tries; tests answer).
class PortProbe {
 public:
  virtual ~PortProbe() = default;
  virtual bool canBind(const std::string& host, int port) = 0;
};
PortProbe& tcpPortProbe();

// The [ALERT] lines for the addresses `next` binds that `live` does not and that cannot
// be bound now; "" when there are none. `path` names the file in the alerts.
std::string newBindConflicts(const std::string& live, const std::string& next,
                             const std::string& path, PortProbe& probe);

}  // namespace mlb::reloader
