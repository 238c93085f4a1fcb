#pragma once
// What wakes the watch loop: a name in the state directory replaced (the controller
// renames `current` into place). The real one is inotify (inotify_file_watcher.h);
// tests fire a FakeFileWatcher (fake_file_watcher.h).
#include <chrono>
#include <memory>

namespace mlb::reloader {

class FileWatcher {
 public:
  enum class Wake { Changed, TimedOut, Other };
  virtual ~FileWatcher() = default;
  // Waits up to `timeout`: Changed when the watched name changed, TimedOut when
  // nothing happened, Other for events on other names only.
  virtual Wake wait(std::chrono::milliseconds timeout) = 0;
};

using FileWatcherPtr = std::unique_ptr<FileWatcher>;

}  // namespace mlb::reloader
