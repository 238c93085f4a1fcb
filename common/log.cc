#include "common/log.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>

namespace mlb::common {
namespace {

std::atomic<LogLevel> g_level{LogLevel::Info};
std::mutex g_mu;

void appendValue(std::string& out, std::string_view v) {
  bool quote = v.empty() || v.find_first_of(" \"=\t\n") != std::string_view::npos;
  if (!quote) {
    out.append(v);
    return;
  }
  out.push_back('"');
  for (char c : v) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out.append("\\n");
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

const char* levelName(LogLevel l) {
  switch (l) {
    case LogLevel::Debug:
      return "debug";
    case LogLevel::Info:
      return "info";
    case LogLevel::Warn:
      return "warn";
    case LogLevel::Error:
      return "error";
  }
  return "info";
}

}  // namespace

void setLogLevel(LogLevel level) { g_level = level; }

std::string isoTimeNow() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

namespace {

int g_syslog_fd = -1;  // guarded by g_mu
std::string g_syslog_tag;
std::string g_syslog_path;
std::chrono::steady_clock::time_point g_syslog_retry{};

// A datagram socket connected to `path`, or -1 (errno set).
int connectSyslog(const std::string& path) {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) {
    errno = ENAMETOOLONG;
    return -1;
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const int err = errno;
    ::close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

// Sends one message; a syslog daemon that restarted (its socket re-created) is
// connected to again, at most once a second. Called with g_mu held.
void sendSyslog(const std::string& message) {
  if (::send(g_syslog_fd, message.data(), message.size(), MSG_DONTWAIT | MSG_NOSIGNAL) >= 0 ||
      errno == EAGAIN) {
    return;  // sent, or the receiver is full: dropped, never blocking
  }
  const auto now = std::chrono::steady_clock::now();
  if (now < g_syslog_retry) {
    return;
  }
  g_syslog_retry = now + std::chrono::seconds(1);
  if (const int fd = connectSyslog(g_syslog_path); fd >= 0) {
    ::close(g_syslog_fd);
    g_syslog_fd = fd;
    (void)::send(g_syslog_fd, message.data(), message.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  }
}

int syslogSeverity(LogLevel level) {
  switch (level) {
    case LogLevel::Debug:
      return 7;
    case LogLevel::Info:
      return 6;
    case LogLevel::Warn:
      return 4;
    case LogLevel::Error:
      return 3;
  }
  return 6;
}

}  // namespace

bool logToSyslogSocket(const std::string& path, const std::string& tag, std::string& error) {
  if (path.empty() || path == "/dev/null") {
    std::lock_guard<std::mutex> lock(g_mu);
    if (g_syslog_fd >= 0) {
      ::close(g_syslog_fd);
      g_syslog_fd = -1;
    }
    return true;
  }
  const int fd = connectSyslog(path);
  if (fd < 0) {
    error = path + ": " + std::strerror(errno);
    return false;
  }
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_syslog_fd >= 0) {
    ::close(g_syslog_fd);
  }
  g_syslog_fd = fd;
  g_syslog_tag = tag;
  g_syslog_path = path;
  return true;
}

void log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields) {
  if (level < g_level.load()) {
    return;
  }
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char ts[96];
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms.count()));
  std::string line = "ts=";
  line += ts;
  line += " level=";
  line += levelName(level);
  line += " msg=";
  appendValue(line, msg);
  for (const auto& [k, v] : fields) {
    line.push_back(' ');
    line.append(k);
    line.push_back('=');
    appendValue(line, v);
  }
  line.push_back('\n');
  std::lock_guard<std::mutex> lock(g_mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
  if (g_syslog_fd >= 0) {
    // <PRI>TAG: message (RFC 3164 without a timestamp: the receiver adds its own).
    const std::string message = "<" + std::to_string(8 + syslogSeverity(level)) + ">" +
                                g_syslog_tag + ": " + line.substr(0, line.size() - 1);
    sendSyslog(message);
  }
}

}  // namespace mlb::common
