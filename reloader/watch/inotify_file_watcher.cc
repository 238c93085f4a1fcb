#include "reloader/watch/inotify_file_watcher.h"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace mlb::reloader {
namespace {

class InotifyFileWatcher : public FileWatcher {
 public:
  InotifyFileWatcher(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
  ~InotifyFileWatcher() override { ::close(fd_); }
  InotifyFileWatcher(const InotifyFileWatcher&) = delete;
  InotifyFileWatcher& operator=(const InotifyFileWatcher&) = delete;

  Wake wait(std::chrono::milliseconds timeout) override {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) {
      return Wake::TimedOut;
    }
    bool changed = false;
    alignas(inotify_event) char buf[4096];
    ssize_t n;
    while ((n = ::read(fd_, buf, sizeof buf)) > 0) {
      for (char* ptr = buf; ptr < buf + n;) {
        auto* ev = reinterpret_cast<inotify_event*>(ptr);
        changed = changed || (ev->len > 0 && name_ == ev->name);
        ptr += sizeof(inotify_event) + ev->len;
      }
    }
    return changed ? Wake::Changed : Wake::Other;
  }

 private:
  int fd_;
  std::string name_;
};

}  // namespace

common::Result<FileWatcherPtr> watchNameInotify(const std::string& dir, const std::string& name) {
  const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    return common::Error::io(std::string("inotify: ") + std::strerror(errno));
  }
  if (::inotify_add_watch(fd, dir.c_str(), IN_MOVED_TO | IN_CREATE) < 0) {
    const int err = errno;
    ::close(fd);
    return common::Error::io("inotify " + dir + ": " + std::strerror(err));
  }
  return FileWatcherPtr(std::make_unique<InotifyFileWatcher>(fd, name));
}

}  // namespace mlb::reloader
