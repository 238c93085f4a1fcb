#include "common/fs/files.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace mlb::common {
namespace {

class FilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("mlb-files-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(FilesTest, WriteAtomicReplacesContentAndLeavesNoTemporaries) {
  const std::string p = dir_ / "a.txt";
  ASSERT_TRUE(writeFileAtomic(p, "one"));
  ASSERT_TRUE(writeFileAtomic(p, "two"));
  auto r = readFile(p);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, "two");
  auto names = listDir(dir_);
  ASSERT_TRUE(names);
  EXPECT_EQ(*names, std::vector<std::string>{"a.txt"});
}

TEST_F(FilesTest, ReadMissingIsNotFoundWithPath) {
  auto r = readFile(dir_ / "nope");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::NotFound);
  EXPECT_NE(r.error().message.find("nope"), std::string::npos);
}

TEST_F(FilesTest, ReplaceSymlinkSwapsTarget) {
  const std::string link = dir_ / "current";
  ASSERT_TRUE(replaceSymlink("bundles/a", link));
  ASSERT_TRUE(replaceSymlink("bundles/b", link));
  EXPECT_EQ(std::filesystem::read_symlink(link).string(), "bundles/b");
}

TEST_F(FilesTest, WriteIntoMissingDirectoryFails) {
  EXPECT_FALSE(writeFileAtomic(dir_ / "no" / "x", "data"));
}

}  // namespace
}  // namespace mlb::common

namespace mlb::common {
namespace {

TEST_F(FilesTest, ReadPaddedGivesTheBytesThenZeroPadding) {
  const std::string p = dir_ / "apps.json";
  std::string data(100000, 'x');
  data[99999] = '}';
  ASSERT_TRUE(writeFileAtomic(p, data));
  auto r = readFilePadded(p, 64);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->view(), data);
  EXPECT_EQ(r->capacity, data.size() + 64);
  for (size_t i = r->size; i < r->capacity; ++i) {
    ASSERT_EQ(r->bytes[i], 0) << i;
  }
  EXPECT_FALSE(readFilePadded(dir_ / "missing", 64));
}

TEST_F(FilesTest, ReadPaddedReadsFilesWhoseSizeStatDoesNotKnow) {
  // /proc files report size 0: the buffer grows until EOF.
  auto r = readFilePadded("/proc/self/maps", 64);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_GT(r->size, 0U);
  EXPECT_NE(r->view().find("/"), std::string::npos);
  EXPECT_GE(r->capacity - r->size, 64U);
  for (size_t i = r->size; i < r->capacity; ++i) {
    ASSERT_EQ(r->bytes[i], 0) << i;
  }
}

TEST_F(FilesTest, WriteReplacingReplacesTheWholeFileAndLeavesNoTemporary) {
  const std::string p = dir_ / "haproxy.cfg";
  ASSERT_TRUE(writeFileReplacing(p, "old\n"));
  ASSERT_TRUE(writeFileReplacing(p, "new\n", 0600));
  auto r = readFile(p);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, "new\n");
  size_t files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir_)) {
    ++files;
  }
  EXPECT_EQ(files, 1u);
  EXPECT_FALSE(writeFileReplacing((dir_ / "missing" / "x").string(), "x"));
}

TEST_F(FilesTest, MapPaddedMapsLargeFilesWithZeroPaddingEvenAtAPageEdge) {
  // Sizes whose padding ends exactly on, just after and well inside a page boundary.
  for (size_t size : {size_t{4} << 20, (size_t{4} << 20) - 10, (size_t{2} << 20) + 123}) {
    const std::string p = dir_ / ("big-" + std::to_string(size) + ".json");
    std::string data(size, 'y');
    data.back() = '}';
    ASSERT_TRUE(writeFileAtomic(p, data));
    auto m = mapFilePadded(p, 64);
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_EQ(m->view(), data);
    EXPECT_EQ(m->capacity(), size + 64);
    for (size_t i = size; i < m->capacity(); ++i) {
      ASSERT_EQ(m->view().data()[i], 0) << size << " " << i;
    }
    MappedText moved = std::move(*m);  // the mapping moves with it, unmapped once
    EXPECT_EQ(moved.view().size(), size);
  }
}

TEST_F(FilesTest, MapPaddedReadsSmallAndSpecialFiles) {
  const std::string p = dir_ / "small.json";
  ASSERT_TRUE(writeFileAtomic(p, "{}"));
  auto m = mapFilePadded(p, 64);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->view(), "{}");
  EXPECT_EQ(m->capacity(), 66u);
  auto proc = mapFilePadded("/proc/self/maps", 64);
  ASSERT_TRUE(proc);
  EXPECT_GT(proc->view().size(), 0u);
  EXPECT_FALSE(mapFilePadded(dir_ / "missing", 64));
}

TEST(AbsolutePath, RelativePathsAreResolvedAgainstTheWorkingDirectory) {
  char buf[4096];
  ASSERT_NE(::getcwd(buf, sizeof buf), nullptr);
  const std::string cwd(buf);
  EXPECT_EQ(absolutePath("/run/mlb"), "/run/mlb");
  EXPECT_EQ(absolutePath("state"), cwd + "/state");
  EXPECT_EQ(absolutePath("./state/x"), cwd + "/state/x");
  EXPECT_EQ(absolutePath("."), cwd);
  EXPECT_EQ(absolutePath(""), "");
}

}  // namespace
}  // namespace mlb::common
