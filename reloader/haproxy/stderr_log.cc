#include "reloader/haproxy/stderr_log.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

namespace mlb::reloader {
namespace {

constexpr size_t kLongestLine = 64 * 1024;

void writeAll(int fd, const char* data, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, data, n);
    if (w < 0 && errno == EINTR) {
      continue;
    }
    if (w <= 0) {
      return;  // the reader is gone: keep copying to the other side
    }
    data += w;
    n -= static_cast<size_t>(w);
  }
}

int openLog(const std::string& path) {
  return ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

// The log fd to append to: reopened when another keeper moved the file aside, moved
// aside here when it outgrew `max_bytes`.
int currentLog(int fd, const std::string& path, size_t max_bytes) {
  struct stat mine {};
  struct stat named {};
  const bool same = fd >= 0 && ::fstat(fd, &mine) == 0 && ::stat(path.c_str(), &named) == 0 &&
                    mine.st_ino == named.st_ino && mine.st_dev == named.st_dev;
  if (same && static_cast<size_t>(mine.st_size) <= max_bytes) {
    return fd;
  }
  if (same) {
    ::rename(path.c_str(), (path + ".1").c_str());
  }
  if (fd >= 0) {
    ::close(fd);
  }
  return openLog(path);
}

// The keeper: fd 0 is the pipe, fd 2 the former stderr. Never returns.
[[noreturn]] void keeperLoop(const std::string& path, size_t max_bytes) {
  int log = openLog(path);
  std::string partial;
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(0, buf, sizeof buf);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    writeAll(2, buf, static_cast<size_t>(n));
    partial.append(buf, static_cast<size_t>(n));
    // Whole lines only (two keepers may share the file), each where the bound allows.
    size_t begin = 0;
    for (size_t end; (end = partial.find('\n', begin)) != std::string::npos; begin = end + 1) {
      if (partial[begin] == '[') {  // [ALERT], [WARNING], [NOTICE]: not request logs
        log = currentLog(log, path, max_bytes);
        writeAll(log, partial.data() + begin, end + 1 - begin);
      }
    }
    partial.erase(0, begin);
    if (partial.size() > kLongestLine) {
      partial.clear();  // a line this long is no message of HAProxy's own
    }
  }
  if (!partial.empty() && partial[0] == '[') {
    log = currentLog(log, path, max_bytes);
    writeAll(log, partial.data(), partial.size());
  }
  ::_exit(0);
}

// In the grandchild: the pipe as fd 0, nothing else but stderr, its own session.
[[noreturn]] void becomeKeeper(int read_end, const std::string& path, size_t max_bytes) {
  ::setsid();
  ::prctl(PR_SET_NAME, "mlb-stderr", 0, 0, 0);
  std::signal(SIGPIPE, SIG_IGN);
  ::dup2(read_end, 0);
  const int null = ::open("/dev/null", O_WRONLY);
  if (null >= 0) {
    ::dup2(null, 1);
  }
  // The handover lock and every other fd of the entrypoint: a keeper holding the lock
  // would stop every reload for as long as HAProxy runs.
  if (::close_range(3, ~0U, 0) != 0) {
    for (long fd = 3, top = ::sysconf(_SC_OPEN_MAX); fd < top; ++fd) {
      ::close(static_cast<int>(fd));
    }
  }
  keeperLoop(path, max_bytes);
}

bool lineOfPid(std::string_view line, std::string_view tag, const std::string& pid_mark) {
  if (line.find(tag) != 0) {
    return false;
  }
  const size_t at = line.find(pid_mark);
  return at != std::string_view::npos && at < line.find(" : ");
}

template <typename Fn>
void forEachLine(std::string_view text, Fn fn) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    end = end == std::string_view::npos ? text.size() : end;
    fn(text.substr(pos, end - pos));
    pos = end + 1;
  }
}

}  // namespace

std::string stderrLogPath(const std::string& state_dir) { return state_dir + "/haproxy.stderr"; }

common::Status keepStderr(const std::string& path, size_t max_bytes) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return common::Error::io(std::string("pipe: ") + std::strerror(errno));
  }
  const pid_t child = ::fork();
  if (child < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return common::Error::io(std::string("fork: ") + std::strerror(errno));
  }
  if (child == 0) {  // forks the keeper and leaves at once: the keeper is adopted
    const pid_t keeper = ::fork();
    if (keeper == 0) {
      becomeKeeper(fds[0], path, max_bytes);
    }
    ::_exit(keeper > 0 ? 0 : 1);
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  ::close(fds[0]);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    // No reader: HAProxy would write into a pipe nobody reads (SIGPIPE before it
    // ignores it). Stderr stays as it was.
    ::close(fds[1]);
    return common::Error::io("cannot start the stderr keeper");
  }
  // dup2 clears close-on-exec on fd 2: HAProxy writes into the pipe.
  const int rc = ::dup2(fds[1], 2);
  ::close(fds[1]);
  if (rc < 0) {
    return common::Error::io(std::string("dup2: ") + std::strerror(errno));
  }
  return {};
}

LogMark markLog(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return {};
  }
  return {st.st_dev, st.st_ino, st.st_size};
}

namespace {

// The bytes of `path` from `from` (0: all), at most the last `max_bytes`; `ino`, when
// not 0, must be the file's inode (else nothing).
std::string readFrom(const std::string& path, off_t from, ino_t ino, size_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return "";
  }
  struct stat st {};
  std::string out;
  if (::fstat(fd, &st) == 0 && (ino == 0 || st.st_ino == ino) && st.st_size >= from) {
    if (st.st_size - from > static_cast<off_t>(max_bytes)) {
      from = st.st_size - static_cast<off_t>(max_bytes);
    }
    out.resize(static_cast<size_t>(st.st_size - from));
    const ssize_t n = ::pread(fd, out.data(), out.size(), from);
    out.resize(n > 0 ? static_cast<size_t>(n) : 0);
  }
  ::close(fd);
  return out;
}

}  // namespace

std::string readSince(const std::string& path, const LogMark& mark, size_t max_bytes) {
  const LogMark now = markLog(path);
  if (now.ino != 0 && now.ino == mark.ino && now.dev == mark.dev && now.size >= mark.size) {
    return readFrom(path, mark.size, mark.ino, max_bytes);
  }
  // Moved aside since the mark: the rest of the old file (now `.1`), then the new one.
  std::string out = mark.ino == 0 ? "" : readFrom(path + ".1", mark.size, mark.ino, max_bytes);
  out += readFrom(path, 0, 0, max_bytes);
  return out.size() > max_bytes ? out.substr(out.size() - max_bytes) : out;
}

std::string alertsOf(std::string_view text, pid_t pid) {
  const std::string mark = "(" + std::to_string(pid) + ")";
  std::string out;
  forEachLine(text, [&](std::string_view line) {
    if (lineOfPid(line, "[ALERT]", mark)) {
      out.append(out.empty() ? "" : "\n").append(line);
    }
  });
  return out;
}

bool loadFailureOf(std::string_view text, pid_t pid) {
  const std::string mark = "(" + std::to_string(pid) + ")";
  bool found = false;
  forEachLine(text, [&](std::string_view line) {
    found = found || (lineOfPid(line, "[WARNING]", mark) &&
                      line.find("Loading failure") != std::string_view::npos);
  });
  return found;
}

}  // namespace mlb::reloader
