#include "reloader/haproxy/bind_check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <set>
#include <sstream>

#include "common/strings.h"

namespace mlb::reloader {
namespace {

bool isSection(const std::string& line) {
  return !line.empty() && line[0] != ' ' && line[0] != '\t' && line[0] != '#';
}

// "*:80", "0.0.0.0:80", ":::443", "[::]:443", "ipv4@1.2.3.4:80" -> host, port; false
// for what is not a single TCP port.
bool parseAddress(std::string a, std::string& host, int& port) {
  for (const char* prefix : {"ipv4@", "ipv6@", "tcp@", "tcp4@", "tcp6@"}) {
    if (a.rfind(prefix, 0) == 0) {
      a = a.substr(std::strlen(prefix));
    }
  }
  if (a.find('@') != std::string::npos || a.find('/') != std::string::npos) {
    return false;  // unix@, abns@, fd@, sockpair@, a path
  }
  const size_t colon = a.rfind(':');
  if (colon == std::string::npos) {
    return false;
  }
  const std::string p = a.substr(colon + 1);
  if (p.empty() || p.find_first_not_of("0123456789") != std::string::npos || p.size() > 5) {
    return false;  // a range, or no port
  }
  port = std::stoi(p);
  host = a.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty() || host == "*") {
    host = "0.0.0.0";
  }
  return port > 0 && port < 65536;
}

std::string key(const BindAddress& b) { return b.host + " " + std::to_string(b.port); }

}  // namespace

std::vector<BindAddress> bindAddresses(const std::string& config) {
  std::vector<BindAddress> out;
  std::istringstream in(config);
  std::string section;
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    ++n;
    if (isSection(line)) {
      auto w = common::splitWords(line);
      section = w.size() > 1 ? w[1] : (w.empty() ? "" : w[0]);
      continue;
    }
    auto w = common::splitWords(line);
    if (w.size() < 2 || w[0] != "bind") {
      continue;
    }
    for (const auto& a : common::splitList(w[1])) {
      BindAddress b{section, n, "", 0};
      if (parseAddress(a, b.host, b.port)) {
        out.push_back(b);
      }
    }
  }
  return out;
}

std::string newBindConflicts(const std::string& live, const std::string& next,
                             const std::string& path, PortProbe& probe) {
  std::set<std::string> bound;
  for (const auto& b : bindAddresses(live)) {
    bound.insert(key(b));
  }
  std::string alerts;
  for (const auto& b : bindAddresses(next)) {
    if (bound.count(key(b)) || probe.canBind(b.host, b.port)) {
      continue;
    }
    alerts += "[ALERT]    (mlb) : config : parsing [" + path + ":" + std::to_string(b.line) +
              "] : cannot bind socket (Address already in use) [" + b.host + ":" +
              std::to_string(b.port) + "] for proxy '" + b.frontend + "'\n";
  }
  return alerts;
}

namespace {

class TcpPortProbe final : public PortProbe {
 public:
  bool canBind(const std::string& host, int port) override {
    sockaddr_storage ss{};
    socklen_t len = 0;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
      v4->sin_family = AF_INET;
      v4->sin_port = htons(static_cast<uint16_t>(port));
      len = sizeof *v4;
    } else if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
      v6->sin6_family = AF_INET6;
      v6->sin6_port = htons(static_cast<uint16_t>(port));
      len = sizeof *v6;
    } else {
      return true;  // a name: HAProxy resolves it, the probe does not guess
    }
    const int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      return true;  // cannot tell: the reload decides
    }
    const int one = 1;
    (void)::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // TIME_WAIT is free
    // As HAProxy's listeners: our own HAProxy's (same user, SO_REUSEPORT) never counts
    // as taken; another program's listener does.
    (void)::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0 || errno != EADDRINUSE;
    ::close(fd);
    return ok;
  }
};

}  // namespace

PortProbe& tcpPortProbe() {
  static TcpPortProbe probe;
  return probe;
}

}  // namespace mlb::reloader
