#pragma once
// FileWatcher on inotify: watches the directory (IN_MOVED_TO, IN_CREATE) and filters
// the events by name, so a symlink replaced by rename is seen.
#include <string>

#include "common/result.h"
#include "reloader/watch/file_watcher.h"

namespace mlb::reloader {

common::Result<FileWatcherPtr> watchNameInotify(const std::string& dir, const std::string& name);

}  // namespace mlb::reloader
