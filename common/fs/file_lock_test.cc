#include "common/fs/file_lock.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

namespace mlb::common {
namespace {

std::string lockPath() {
  return (std::filesystem::temp_directory_path() /
          ("mlb-lock-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name()))
      .string();
}

// Whether another process could take the lock right now (flock locks are per open
// file description, so a second open in this process would conflict too; a child
// shows what the other container sees).
bool freeForAnotherProcess(const std::string& path) {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::_exit(FileLock::tryAcquire(path) ? 0 : 1);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

TEST(FileLock, ExclusiveWhileHeldReleasedWhenDestroyed) {
  const std::string path = lockPath();
  {
    auto lock = FileLock::tryAcquire(path);
    ASSERT_TRUE(lock) << lock.error().message;
    EXPECT_FALSE(freeForAnotherProcess(path));
    auto second = FileLock::tryAcquire(path);
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().code, ErrorCode::Unavailable);
    FileLock moved = std::move(*lock);
    EXPECT_FALSE(freeForAnotherProcess(path));
  }
  EXPECT_TRUE(freeForAnotherProcess(path));
  std::filesystem::remove(path);
}

TEST(FileLock, AcquireGivesUpAfterTheTimeout) {
  const std::string path = lockPath();
  auto held = FileLock::tryAcquire(path);
  ASSERT_TRUE(held);
  auto again = FileLock::acquire(path, std::chrono::milliseconds(0));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::Unavailable);
  EXPECT_FALSE(FileLock::tryAcquire("/nonexistent-dir/x.lock"));
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace mlb::common
