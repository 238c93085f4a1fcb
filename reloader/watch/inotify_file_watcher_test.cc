// The real watcher on a temporary directory: `current` replaced by rename is a change,
// another name is not, and a quiet directory times out.
#include "reloader/watch/inotify_file_watcher.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/fs/files.h"

namespace mlb::reloader {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

TEST(InotifyFileWatcher, SeesTheWatchedNameReplacedByRenameOnly) {
  const fs::path dir = fs::temp_directory_path() / ("mlb-watch-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto watcher = watchNameInotify(dir.string(), "current");
  ASSERT_TRUE(watcher) << watcher.error().message;
  EXPECT_EQ((*watcher)->wait(10ms), FileWatcher::Wake::TimedOut);
  std::ofstream(dir / "other") << "x";
  EXPECT_EQ((*watcher)->wait(1000ms), FileWatcher::Wake::Other);
  ASSERT_TRUE(common::replaceSymlink("bundles/v1", (dir / "current").string()));
  EXPECT_EQ((*watcher)->wait(1000ms), FileWatcher::Wake::Changed);
  EXPECT_EQ((*watcher)->wait(10ms), FileWatcher::Wake::TimedOut);
  fs::remove_all(dir);
  EXPECT_FALSE(watchNameInotify((dir / "missing").string(), "current"));
}

}  // namespace
}  // namespace mlb::reloader
