#include "common/fs/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace mlb::common {

Result<FileLock> FileLock::tryAcquire(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Error::io(path + ": " + std::strerror(errno));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return Error{ErrorCode::Unavailable, path + ": held by another process"};
    }
    return Error::io(path + ": flock: " + std::strerror(err));
  }
  return FileLock(fd);
}

Result<FileLock> FileLock::acquire(const std::string& path, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto lock = tryAcquire(path);
    if (lock || lock.error().code != ErrorCode::Unavailable ||
        std::chrono::steady_clock::now() >= until) {
      return lock;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

FileLock::~FileLock() {
  if (fd_ >= 0) {
    ::close(fd_);  // closing the only descriptor releases the flock
  }
}

}  // namespace mlb::common
