#include "controller/publish/bundle_publisher.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>

#include "common/fs/files.h"

namespace mlb::controller {
namespace {

namespace fs = std::filesystem;

class BundlePublisherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("mlb-pub-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    publisher_ = std::make_unique<BundlePublisher>(dir_.string(), 2);
    ASSERT_TRUE(publisher_->init());
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string publish(const std::string& text) {
    Bundle b{text, "", ""};
    const std::string v = bundleVersion(b);
    auto r = publisher_->publish(v, b, "{}\n");
    EXPECT_TRUE(r) << r.error().message;
    return v;
  }
  bool exists(const std::string& v) { return fs::exists(dir_ / "bundles" / v / "haproxy.cfg"); }

  fs::path dir_;
  std::unique_ptr<BundlePublisher> publisher_;
};

TEST_F(BundlePublisherTest, PruneKeepsTheNewestAndWhatTheReloaderServesOrApplies) {
  const std::string served = publish("global # 1\n");
  const std::string applying = publish("global # 2\n");
  ASSERT_TRUE(common::replaceSymlink("bundles/" + served, (dir_ / "live").string()));
  ASSERT_TRUE(common::replaceSymlink("bundles/" + applying, (dir_ / "applying").string()));
  std::vector<std::string> later;
  for (int i = 3; i <= 8; ++i) {
    later.push_back(publish("global # " + std::to_string(i) + "\n"));
  }
  EXPECT_TRUE(exists(served));    // live's target: the rollback target
  EXPECT_TRUE(exists(applying));  // being validated by a slow reloader
  EXPECT_TRUE(exists(later.back()));
  EXPECT_TRUE(exists(later[later.size() - 2]));
  EXPECT_FALSE(exists(later[0]));  // beyond --keep-bundles and neither served nor applied
  EXPECT_EQ(publisher_->currentVersion(), later.back());
}

}  // namespace
}  // namespace mlb::controller
