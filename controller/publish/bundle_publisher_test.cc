#include "controller/publish/bundle_publisher.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>

#include "common/fs/config_edits.h"
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
    Bundle b{text, "", "", "", {}, {}};
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

// A configuration of three pieces: a 100 kB head of `fill`, one backend with
// `servers` servers, a tail.
Bundle threePieces(int servers, char fill = '#') {
  std::string backend = "backend a\n";
  for (int i = 0; i < servers; ++i) {
    backend += "  server a" + std::to_string(i) + " 127.0.0.1:" + std::to_string(i + 1) + "\n";
  }
  Bundle b{"global\n" + std::string(100000, fill) + "\n" + backend + "backend z\n",
           "a.example.com backend_a\n",
           "/a backend_a\n",
           "",
           {},
           {}};
  const size_t head = b.config.find("backend a");
  const size_t tail = b.config.find("backend z");
  for (auto [begin, end] :
       {std::pair<size_t, size_t>{0, head}, {head, tail}, {tail, b.config.size()}}) {
    b.pieces.push_back(
        {begin, end, common::sha256(std::string_view(b.config).substr(begin, end - begin))});
  }
  return b;
}

TEST_F(BundlePublisherTest, AServerChangeIsWrittenAsEditsOfTheLastWholeBundle) {
  std::vector<std::string> versions;
  auto publishRead = [&](const Bundle& b) {
    versions.push_back(bundleVersion(b));
    ASSERT_TRUE(publisher_->publish(versions.back(), b, "{}\n"));
    auto read = common::readBundleConfig((dir_ / "current").string());
    ASSERT_TRUE(read) << read.error().message;
    EXPECT_EQ(*read, b.config);
    EXPECT_EQ(*common::readFile((dir_ / "current" / "domain2backend.map").string()), b.domain_map);
  };
  for (int servers = 1; servers <= 4; ++servers) {
    publishRead(threePieces(servers));
    // The edits carry the changed backend, not the 100 kB that did not change.
    EXPECT_EQ(fs::exists(dir_ / "current" / "haproxy.cfg"), servers == 1);
    if (servers > 1) {
      EXPECT_LT(fs::file_size(dir_ / "current" / common::kConfigEditsFile), 1000u);
    }
  }
  EXPECT_TRUE(exists(versions[0]));  // the base, beyond --keep-bundles 2: kept for its edits
  // The same maps: second names of the first bundle's files (no data written again).
  EXPECT_EQ(fs::hard_link_count(dir_ / "current" / "app2backend.map"), 3u);
  EXPECT_FALSE(fs::exists(dir_ / "bundles" / versions[1]));
  // 100 kB changed, past the edits' budget: whole, the next base; the old one goes.
  publishRead(threePieces(1, '='));
  EXPECT_TRUE(fs::exists(dir_ / "current" / "haproxy.cfg"));
  publishRead(threePieces(2, '='));
  publishRead(threePieces(3, '='));
  EXPECT_TRUE(fs::exists(dir_ / "current" / common::kConfigEditsFile));
  EXPECT_TRUE(exists(versions[4]));
  EXPECT_FALSE(fs::exists(dir_ / "bundles" / versions[0]));
}

TEST_F(BundlePublisherTest, ABundleLeftInPiecesIsWrittenWholeOrAsEditsFromThem) {
  // As the reconciler hands them over: no joined text, views of the pieces.
  auto inPieces = [](const Bundle& b) {
    Bundle p = b;
    p.piece_text = common::pieceTexts(b.config, b.pieces);
    p.config.clear();
    return p;
  };
  const Bundle first = threePieces(1), second = threePieces(2);
  ASSERT_TRUE(publisher_->publish(bundleVersion(first), inPieces(first), "{}\n"));
  EXPECT_EQ(*common::readFile((dir_ / "current" / "haproxy.cfg").string()), first.config);
  ASSERT_TRUE(publisher_->publish(bundleVersion(second), inPieces(second), "{}\n"));
  EXPECT_TRUE(fs::exists(dir_ / "current" / common::kConfigEditsFile));
  EXPECT_EQ(*common::readBundleConfig((dir_ / "current").string()), second.config);
}

TEST_F(BundlePublisherTest, ABundleOnDiskWithoutItsBaseIsWrittenAgainWhenItComesBack) {
  const Bundle base = threePieces(1), edits = threePieces(2), other = threePieces(3);
  ASSERT_TRUE(publisher_->publish(bundleVersion(base), base, "{}\n"));
  ASSERT_TRUE(publisher_->publish(bundleVersion(edits), edits, "{}\n"));
  ASSERT_TRUE(publisher_->publish(bundleVersion(other), other, "{}\n"));
  // An interrupted prune (before this fix, bases could go first) left it without base.
  fs::remove_all(dir_ / "bundles" / bundleVersion(base));
  BundlePublisher restarted(dir_.string(), 2);
  ASSERT_TRUE(restarted.publish(bundleVersion(edits), edits, "{}\n"));
  auto read = common::readBundleConfig((dir_ / "current").string());
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_EQ(*read, edits.config);
}

// The real file system, but the Nth call of one operation fails (as ENOSPC would).
class FaultyFileSystem : public common::FileSystem {
 public:
  FaultyFileSystem(std::string op, int nth) : op_(std::move(op)), nth_(nth) {}
  bool fired() const { return fired_; }

  common::Status makeDirs(const std::string& d) override {
    return fault("makeDirs") ? injected() : real().makeDirs(d);
  }
  common::Status makeDir(const std::string& d) override {
    return fault("makeDir") ? injected() : real().makeDir(d);
  }
  common::Result<std::vector<std::string>> listDir(const std::string& d) override {
    if (fault("listDir")) {
      return injected().error();
    }
    return real().listDir(d);
  }
  common::Status removeTree(const std::string& p) override { return real().removeTree(p); }
  common::Status unlink(const std::string& p) override { return real().unlink(p); }
  std::string readLink(const std::string& l) override { return real().readLink(l); }
  common::Result<std::string> readFile(const std::string& p) override { return real().readFile(p); }
  common::Status writeNewFile(const std::string& p, const std::string& d) override {
    if (fault("writeNewFile")) {
      // A short write: part of the file is there, then the error.
      (void)real().writeNewFile(p, d.substr(0, d.size() / 2));
      return injected();
    }
    return real().writeNewFile(p, d);
  }
  common::Status fsyncDir(const std::string& d) override {
    return fault("fsyncDir") ? injected() : real().fsyncDir(d);
  }
  common::Status rename(const std::string& a, const std::string& b) override {
    return fault("rename") ? injected() : real().rename(a, b);
  }
  common::Status hardLink(const std::string& a, const std::string& b) override {
    return fault("hardLink") ? injected() : real().hardLink(a, b);
  }
  common::Status replaceSymlink(const std::string& t, const std::string& l) override {
    return fault("replaceSymlink") ? injected() : real().replaceSymlink(t, l);
  }
  std::optional<timespec> modified(const std::string& p) override { return real().modified(p); }
  void touch(const std::string& p) override { real().touch(p); }

 private:
  static common::FileSystem& real() { return common::realFileSystem(); }
  static common::Status injected() {
    return common::Error::io("injected: No space left on device");
  }
  bool fault(const std::string& op) {
    if (op != op_ || ++calls_ != nth_) {
      return false;
    }
    fired_ = true;
    return true;
  }
  std::string op_;
  int nth_;
  int calls_ = 0;
  bool fired_ = false;
};

TEST_F(BundlePublisherTest, EveryFaultLeavesTheOldOrTheNewBundleWholeAndCurrent) {
  const std::string old_text = "global # old\n" + std::string(10000, 'o');
  const std::string new_text = "global # new\n" + std::string(10000, 'n');
  const std::string old_version = publish(old_text);
  const Bundle next{new_text, "a.example.com backend_a\n", "/a backend_a\n", "", {}, {}};
  const std::string new_version = bundleVersion(next);
  const std::vector<std::pair<std::string, int>> faults = {
      {"makeDir", 1},  {"writeNewFile", 1}, {"writeNewFile", 3}, {"writeNewFile", 5},
      {"fsyncDir", 1}, {"rename", 1},       {"fsyncDir", 2},     {"replaceSymlink", 1},
      {"listDir", 1}};  // the last one: pruning after the switch
  for (const auto& [op, nth] : faults) {
    SCOPED_TRACE(op + " #" + std::to_string(nth));
    FaultyFileSystem faulty(op, nth);
    BundlePublisher pub(dir_.string(), 2, faulty);
    auto r = pub.publish(new_version, next, "{\"v\":1}\n");
    EXPECT_TRUE(faulty.fired());
    // `current` names a bundle whose every file is whole: the old one or the new one.
    const std::string current = publisher_->currentVersion();
    ASSERT_TRUE(current == old_version || current == new_version) << current;
    const fs::path b = dir_ / "bundles" / current;
    auto cfg = common::readFile((b / "haproxy.cfg").string());
    ASSERT_TRUE(cfg);
    EXPECT_EQ(*cfg, current == old_version ? old_text : new_text);
    for (const char* f : {"domain2backend.map", "app2backend.map", "mlb.lua", "manifest.json"}) {
      EXPECT_TRUE(fs::exists(b / f)) << f;
    }
    EXPECT_EQ(r.has_value(), current == new_version);
    // A restart cleans what the fault left, and publishing the new version again gives
    // the whole new bundle (nothing partial was left under its real name).
    BundlePublisher restarted(dir_.string(), 2);
    ASSERT_TRUE(restarted.init());
    for (const auto& e : fs::directory_iterator(dir_ / "bundles")) {
      EXPECT_NE(e.path().filename().string().rfind(".tmp-", 0), 0u) << e.path();
    }
    ASSERT_TRUE(restarted.publish(new_version, next, "{\"v\":1}\n"));
    EXPECT_EQ(restarted.currentVersion(), new_version);
    const fs::path nb = dir_ / "bundles" / new_version;
    EXPECT_EQ(*common::readFile((nb / "haproxy.cfg").string()), new_text);
    EXPECT_EQ(*common::readFile((nb / "domain2backend.map").string()), next.domain_map);
    EXPECT_EQ(*common::readFile((nb / "app2backend.map").string()), next.app_map);
    EXPECT_EQ(*common::readFile((nb / "manifest.json").string()), "{\"v\":1}\n");
    ASSERT_TRUE(common::replaceSymlink("bundles/" + old_version, (dir_ / "current").string()));
    fs::remove_all(dir_ / "bundles" / new_version);
  }
}

}  // namespace
}  // namespace mlb::controller
