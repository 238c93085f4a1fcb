// The FileSystem contract, run against the POSIX implementation (in a temporary
// directory) and the in-memory fake the tests use, so the fake cannot drift.
#include "common/fs/file_system.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>

#include "common/testing/fake_file_system.h"

namespace mlb::common {
namespace {

class FileSystemContract : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (GetParam()) {
      root_ = (std::filesystem::temp_directory_path() /
               ("mlb-fs-contract-" + std::to_string(::getpid())))
                  .string();
      std::filesystem::remove_all(root_);
      fs_ = &realFileSystem();
    } else {
      root_ = "/contract";
      fake_ = std::make_unique<testing::FakeFileSystem>();
      fs_ = fake_.get();
    }
  }
  void TearDown() override {
    if (GetParam()) {
      std::filesystem::remove_all(root_);
    }
  }
  std::string root_;
  FileSystem* fs_ = nullptr;
  std::unique_ptr<testing::FakeFileSystem> fake_;
};

TEST_P(FileSystemContract, FilesDirectoriesAndLinks) {
  FileSystem& fs = *fs_;
  const std::string dir = root_ + "/a/b";
  ASSERT_TRUE(fs.makeDirs(dir));
  EXPECT_FALSE(fs.makeDir(dir));  // exists
  ASSERT_TRUE(fs.makeDir(dir + "/c"));
  ASSERT_TRUE(fs.writeNewFile(dir + "/f", "one"));
  EXPECT_FALSE(fs.writeNewFile(dir + "/f", "two"));  // a new file only
  ASSERT_TRUE(fs.readFile(dir + "/f"));
  EXPECT_EQ(*fs.readFile(dir + "/f"), "one");
  EXPECT_FALSE(fs.readFile(dir + "/missing"));
  ASSERT_TRUE(fs.replaceSymlink("f", dir + "/link"));
  EXPECT_EQ(fs.readLink(dir + "/link"), "f");
  EXPECT_EQ(fs.readLink(dir + "/f"), "");  // not a link
  ASSERT_TRUE(fs.replaceSymlink("g", dir + "/link"));
  EXPECT_EQ(fs.readLink(dir + "/link"), "g");
  ASSERT_TRUE(fs.rename(dir + "/f", dir + "/h"));
  EXPECT_FALSE(fs.readFile(dir + "/f"));
  EXPECT_EQ(*fs.readFile(dir + "/h"), "one");
  auto names = fs.listDir(dir);
  ASSERT_TRUE(names);
  std::vector<std::string> sorted = *names;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, (std::vector<std::string>{"c", "h", "link"}));
  EXPECT_FALSE(fs.listDir(root_ + "/nowhere"));
  ASSERT_TRUE(fs.unlink(dir + "/link"));
  EXPECT_FALSE(fs.unlink(dir + "/link"));
  EXPECT_TRUE(fs.fsyncDir(dir));
  ASSERT_TRUE(fs.removeTree(root_ + "/a"));
  EXPECT_FALSE(fs.readFile(dir + "/h"));
  EXPECT_FALSE(fs.listDir(dir));
}

TEST_P(FileSystemContract, ModifiedMovesWithTouch) {
  FileSystem& fs = *fs_;
  ASSERT_TRUE(fs.makeDirs(root_));
  const std::string f = root_ + "/stamp";
  EXPECT_FALSE(fs.modified(f).has_value());
  ASSERT_TRUE(fs.writeNewFile(f, ""));
  if (GetParam()) {  // a real file: back-date it, so that touch() must move it forward
    const timespec past[2] = {{1000, 0}, {1000, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, f.c_str(), past, 0), 0);
  }
  const auto before = fs.modified(f);
  ASSERT_TRUE(before.has_value());
  fs.touch(f);
  const auto after = fs.modified(f);
  ASSERT_TRUE(after.has_value());
  EXPECT_TRUE(after->tv_sec > before->tv_sec ||
              (after->tv_sec == before->tv_sec && after->tv_nsec > before->tv_nsec));
  // A rename carries the time over a file it replaces; an unlink ends it.
  ASSERT_TRUE(fs.writeNewFile(root_ + "/other", "x"));
  ASSERT_TRUE(fs.rename(f, root_ + "/other"));
  EXPECT_FALSE(fs.modified(f).has_value());
  ASSERT_TRUE(fs.modified(root_ + "/other").has_value());
  EXPECT_EQ(fs.modified(root_ + "/other")->tv_sec, after->tv_sec);
  EXPECT_EQ(*fs.readFile(root_ + "/other"), "");
  ASSERT_TRUE(fs.unlink(root_ + "/other"));
  EXPECT_FALSE(fs.modified(root_ + "/other").has_value());
}

INSTANTIATE_TEST_SUITE_P(PosixAndFake, FileSystemContract, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "Posix" : "Fake";
                         });

}  // namespace
}  // namespace mlb::common
