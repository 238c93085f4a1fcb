#pragma once
// An exclusive advisory lock on a file (flock(2)), held while the object lives. Used
// to keep the reloader's watcher and the HAProxy entrypoint from reloading and
// handing over at the same moment. The descriptor is close-on-exec: an exec releases
// the lock. Not thread-safe; movable, not copyable.
#include <chrono>
#include <string>

#include "common/result.h"

namespace mlb::common {

class FileLock {
 public:
  // Takes the lock on `path` (created if missing) without waiting. NotFound-free:
  // Unavailable when another process holds it, Io on any other failure.
  static Result<FileLock> tryAcquire(const std::string& path);
  // Retries tryAcquire every 50 ms until `timeout`; Unavailable when it never came.
  static Result<FileLock> acquire(const std::string& path, std::chrono::milliseconds timeout);

  FileLock(FileLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock();

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace mlb::common
