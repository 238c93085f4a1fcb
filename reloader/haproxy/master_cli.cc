#include "reloader/haproxy/master_cli.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <sstream>
#include <string_view>
#include <utility>

namespace mlb::reloader {

using common::Error;

common::Result<std::string> masterCommand(const std::string& socket_path,
                                          const std::string& command, int timeout_ms) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) {
    return Error{common::ErrorCode::Unavailable, "socket path too long: " + socket_path};
  }
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return Error{common::ErrorCode::Unavailable, std::string("socket: ") + std::strerror(errno)};
  }
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    Error e = {common::ErrorCode::Unavailable,
               "connect " + socket_path + ": " + std::strerror(errno)};
    ::close(fd);
    return e;
  }
  std::string line = command + "\n";
  if (::send(fd, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size())) {
    Error e = {common::ErrorCode::Unavailable,
               "send to " + socket_path + ": " + std::strerror(errno)};
    ::close(fd);
    return e;
  }
  // The master answers once it sees the end of the request.
  ::shutdown(fd, SHUT_WR);
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  char buf[8192];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) {
      ::close(fd);
      return Error::io("timeout reading " + socket_path + " after '" + command + "'");
    }
    pollfd p{fd, POLLIN, 0};
    int pr = ::poll(&p, 1, static_cast<int>(left));
    if (pr < 0 && errno == EINTR) {
      continue;
    }
    if (pr <= 0) {
      continue;
    }
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

ReloadReply parseReloadReply(const std::string& text) {
  ReloadReply r;
  const std::string_view t(text);
  for (const auto& [marker, status] : {std::pair{"Success=1", ReloadReply::Status::kSucceeded},
                                       std::pair{"Success=0", ReloadReply::Status::kFailed}}) {
    if (t.rfind(marker, 0) == 0) {
      r.status = status;
    }
  }
  if (auto sep = t.find("\n--\n");
      r.status != ReloadReply::Status::kUnknown && sep != std::string_view::npos) {
    r.log = std::string(t.substr(sep + 4));
  }
  return r;
}

namespace {

long parseUptime(const std::string& s) {
  // "0d00h01m02s"
  long d = 0, h = 0, m = 0, sec = 0;
  if (std::sscanf(s.c_str(), "%ldd%ldh%ldm%lds", &d, &h, &m, &sec) == 4) {
    return ((d * 24 + h) * 60 + m) * 60 + sec;
  }
  return 0;
}

}  // namespace

common::Result<ShowProc> parseShowProc(const std::string& text) {
  ShowProc sp;
  std::istringstream in(text);
  std::string line;
  enum { None, Workers, OldWorkers, Programs } section = None;
  bool have_master = false;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    if (line.empty()) {
      continue;
    }
    if (line[0] == '#') {
      if (line.find("old workers") != std::string::npos) {
        section = OldWorkers;
      } else if (line.find("workers") != std::string::npos) {
        section = Workers;
      } else if (line.find("programs") != std::string::npos) {
        section = Programs;
      }
      continue;
    }
    std::istringstream ls(line);
    ProcEntry e;
    std::string type;
    if (!(ls >> e.pid >> type >> e.reloads)) {
      continue;
    }
    std::string tok;
    std::vector<std::string> rest;
    while (ls >> tok) {
      rest.push_back(tok);
    }
    if (type == "master") {
      sp.master_pid = e.pid;
      sp.master_reloads = e.reloads;
      have_master = true;
      for (size_t i = 0; i + 1 < rest.size(); ++i) {
        if (rest[i] == "[failed:") {
          sp.master_failed = std::atoi(rest[i + 1].c_str());
        }
      }
      continue;
    }
    // Worker columns after reloads: uptime version (a "[failed: N]" only on the master).
    size_t k = 0;
    if (k < rest.size()) {
      e.uptime = rest[k++];
      e.uptime_seconds = parseUptime(e.uptime);
    }
    if (k < rest.size()) {
      e.version = rest[k++];
    }
    if (type != "worker") {
      continue;
    }
    if (section == OldWorkers) {
      sp.old_workers.push_back(e);
    } else if (section == Workers) {
      sp.workers.push_back(e);
    }
  }
  if (!have_master) {
    return Error::invalidData("no master line in show proc output: " + text.substr(0, 200));
  }
  return sp;
}

}  // namespace mlb::reloader
