#include "reloader/haproxy/process_table.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace mlb::reloader {
namespace {

namespace fs = std::filesystem;

// Plants a fake /proc tree: each process gets stat, cmdline and an exe symlink.
class PlantedProc : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("mlb-proc-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
    state_ = (root_ / "state").string();
    fs::create_directories(state_);
  }
  void TearDown() override { fs::remove_all(root_); }

  void plant(pid_t pid, pid_t ppid, unsigned long long start, const std::string& exe,
             const std::vector<std::string>& argv, char state = 'S') {
    fs::path d = root_ / std::to_string(pid);
    fs::create_directories(d);
    std::ofstream(d / "stat") << pid << " (" << fs::path(exe).filename().string() << ") " << state
                              << " " << ppid << " 1 1 0 -1 4194560 100 0 0 0 1 1 0 0 20 0 1 0 "
                              << start << " 1000 100\n";
    std::ofstream cmd(d / "cmdline", std::ios::binary);
    for (const auto& a : argv) {
      cmd << a << '\0';
    }
    fs::create_symlink(exe, d / "exe");
    fs::create_symlink("/", d / "root");  // its mount namespace: this one
  }

  // What the entrypoint execs, so that the planted masters are what it starts.
  std::vector<std::string> haproxyArgv(const std::string& state) {
    return masterArgv("/usr/sbin/haproxy", state);
  }

  fs::path root_;
  std::string state_;  // a real directory: a process is ours when it sees this one
};

TEST_F(PlantedProc, ReadsStatCmdlineAndExe) {
  plant(4242, 1, 777, "/usr/sbin/haproxy", haproxyArgv(state_));
  ProcessTable t(root_.string());
  auto p = t.read(4242);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->ppid, 1);
  EXPECT_EQ(p->start_time, 777u);
  EXPECT_EQ(p->exe, "/usr/sbin/haproxy");
  EXPECT_EQ(p->cmdline.size(), 8u);
  EXPECT_TRUE(isInstanceHaproxy(*p, state_));
  EXPECT_FALSE(isInstanceHaproxy(*p, "/run/other"));
}

TEST_F(PlantedProc, VerifiedMasterNeedsMatchingRecord) {
  plant(4242, 1, 777, "/usr/sbin/haproxy", haproxyArgv(state_));
  ProcessTable t(root_.string());
  EXPECT_TRUE(verifyMaster(t, 4242, state_, MasterRecord{4242, 777, ""}));
  // Same pid, other start time: the pid was reused.
  EXPECT_NE(
      verifyMaster(t, 4242, state_, MasterRecord{4242, 778, ""}).error().message.find("reused"),
      std::string::npos);
  EXPECT_FALSE(verifyMaster(t, 4242, state_, std::nullopt));
}

TEST_F(PlantedProc, RefusesPidOneAndBelow) {
  plant(1, 0, 1, "/usr/sbin/haproxy", haproxyArgv(state_));
  ProcessTable t(root_.string());
  EXPECT_FALSE(verifyMaster(t, 1, state_, MasterRecord{1, 1, ""}));
  EXPECT_FALSE(verifyMaster(t, 0, state_, MasterRecord{0, 1, ""}));
  EXPECT_FALSE(verifyMaster(t, -5, state_, std::nullopt));
}

TEST_F(PlantedProc, RefusesUnrelatedProcessWithReusedPid) {
  plant(5000, 1, 900, "/usr/bin/sleep", {"sleep", "1000"});
  ProcessTable t(root_.string());
  EXPECT_NE(verifyMaster(t, 5000, state_, MasterRecord{5000, 900, ""})
                .error()
                .message.find("not an HAProxy"),
            std::string::npos);
}

TEST_F(PlantedProc, RefusesHaproxyOfAnotherStateDir) {
  plant(5001, 1, 900, "/usr/sbin/haproxy", haproxyArgv("/run/other"));
  ProcessTable t(root_.string());
  EXPECT_FALSE(verifyMaster(t, 5001, state_, MasterRecord{5001, 900, ""}));
}

TEST_F(PlantedProc, RefusesMissingAndZombieProcesses) {
  plant(5002, 1, 900, "/usr/sbin/haproxy", haproxyArgv(state_), 'Z');
  ProcessTable t(root_.string());
  EXPECT_NE(verifyMaster(t, 5002, state_, MasterRecord{5002, 900, ""})
                .error()
                .message.find("not running"),
            std::string::npos);
  EXPECT_NE(verifyMaster(t, 6000, state_, MasterRecord{6000, 900, ""})
                .error()
                .message.find("not running"),
            std::string::npos);
}

TEST_F(PlantedProc, WorkerIsNotAMasterAndMustBeChildOfTheMaster) {
  plant(4242, 1, 777, "/usr/sbin/haproxy", haproxyArgv(state_));
  plant(4243, 4242, 778, "/usr/sbin/haproxy", haproxyArgv(state_));
  plant(4300, 1, 779, "/usr/sbin/haproxy", haproxyArgv(state_));
  ProcessTable t(root_.string());
  EXPECT_NE(
      verifyMaster(t, 4243, state_, MasterRecord{4243, 778, ""}).error().message.find("worker"),
      std::string::npos);
  EXPECT_TRUE(verifyWorker(t, 4243, 4242, state_));
  EXPECT_FALSE(verifyWorker(t, 4300, 4242, state_));  // not its child
  EXPECT_FALSE(verifyWorker(t, 4242, 4242, state_));  // the master itself
}

TEST_F(PlantedProc, DeletedExecutableAfterUpgradeStillCounts) {
  plant(4242, 1, 777, "/usr/sbin/haproxy (deleted)", haproxyArgv(state_));
  ProcessTable t(root_.string());
  EXPECT_TRUE(verifyMaster(t, 4242, state_, MasterRecord{4242, 777, ""}));
}

TEST_F(PlantedProc, ListSkipsNonNumericEntries) {
  plant(10, 1, 1, "/bin/sh", {"sh"});
  fs::create_directories(root_ / "self");
  fs::create_directories(root_ / "sys");
  ProcessTable t(root_.string());
  auto all = t.list();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].pid, 10);
}

}  // namespace
}  // namespace mlb::reloader

namespace mlb::reloader {
namespace {

class StaleMasters : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            ("mlb-stale-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
    state_ = (root_ / "state").string();
    std::filesystem::create_directories(state_);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  void plant(pid_t pid, pid_t ppid, unsigned long long start, const std::string& exe,
             const std::vector<std::string>& argv, const std::string& root = "/") {
    auto d = root_ / std::to_string(pid);
    std::filesystem::create_directories(d);
    std::ofstream(d / "stat") << pid << " (x) S " << ppid
                              << " 1 1 0 -1 4194560 100 0 0 0 1 1 0 0 20 0 1 0 " << start
                              << " 1000 100\n";
    std::ofstream cmd(d / "cmdline", std::ios::binary);
    for (const auto& a : argv) {
      cmd << a << '\0';
    }
    std::filesystem::create_symlink(exe, d / "exe");
    std::filesystem::create_symlink(root, d / "root");
  }
  std::filesystem::path root_;
  std::string state_;
};

TEST_F(StaleMasters, OnlyOlderMastersOfThisStateDirAreStale) {
  const auto argv = masterArgv("/usr/sbin/haproxy", state_);
  plant(100, 1, 500, "/usr/sbin/haproxy", argv);    // stale: older master
  plant(101, 100, 510, "/usr/sbin/haproxy", argv);  // its worker
  plant(200, 1, 900, "/usr/sbin/haproxy", argv);    // the current master
  plant(201, 200, 910, "/usr/sbin/haproxy", argv);  // its worker
  plant(300, 1, 950, "/usr/sbin/haproxy", argv);    // newer than the current: not stale
  plant(400, 1, 100, "/usr/sbin/haproxy", masterArgv("/usr/sbin/haproxy", "/run/other"));
  plant(500, 1, 100, "/bin/sleep", {"sleep", "-p", state_ + "/haproxy.pid"});
  ProcessTable t(root_.string());
  EXPECT_EQ(findStaleMasters(t, 200, state_), std::vector<pid_t>{100});
  EXPECT_TRUE(verifyStaleMaster(t, 100, 200, state_));
  EXPECT_FALSE(verifyStaleMaster(t, 101, 200, state_));  // a worker
  EXPECT_FALSE(verifyStaleMaster(t, 200, 200, state_));  // the current master itself
  EXPECT_FALSE(verifyStaleMaster(t, 300, 200, state_));  // newer
  EXPECT_FALSE(verifyStaleMaster(t, 400, 200, state_));  // another instance
  EXPECT_FALSE(verifyStaleMaster(t, 500, 200, state_));  // not HAProxy
  EXPECT_FALSE(verifyStaleMaster(t, 1, 200, state_));
  EXPECT_FALSE(verifyStaleMaster(t, 100, 999, state_));  // no current master
}

TEST_F(StaleMasters, AnotherInstanceAtTheSamePathInItsOwnMountNamespaceIsNeverOurs) {
  // Two instances on one host (--pid=host), each with the default state path in its
  // own container: the other's older master names the same paths on its command line,
  // and was soft-stopped 15 ms after this watcher started. Seen through its own root,
  // its state dir is another directory.
  const auto other_root = root_ / "other-container";
  std::filesystem::create_directories(other_root.string() + state_);
  const auto argv = masterArgv("/usr/sbin/haproxy", state_);
  plant(100, 1, 500, "/usr/sbin/haproxy", argv, other_root.string());  // the other instance
  plant(101, 100, 510, "/usr/sbin/haproxy", argv, other_root.string());
  plant(200, 1, 900, "/usr/sbin/haproxy", argv);  // this instance's master
  plant(201, 200, 910, "/usr/sbin/haproxy", argv);
  plant(300, 1, 400, "/usr/sbin/haproxy", argv, (root_ / "gone").string());  // root unseen
  ProcessTable t(root_.string());
  EXPECT_TRUE(findStaleMasters(t, 200, state_).empty());
  EXPECT_FALSE(verifyStaleMaster(t, 100, 200, state_));
  EXPECT_FALSE(verifyStaleMaster(t, 300, 200, state_));
  EXPECT_TRUE(verifyMaster(t, 200, state_, MasterRecord{200, 900, ""}));
  EXPECT_TRUE(verifyWorker(t, 201, 200, state_));
}

TEST_F(StaleMasters, AnAbsoluteSymlinkInTheOtherRootNeverLeadsBackToOurs) {
  // /var/run -> /run in an image: followed through /proc/<pid>/root, an absolute link
  // resolves in *our* root and finds our own state dir.
  const auto other_root = root_ / "linked-container";
  std::filesystem::create_directories(other_root);
  const std::string first = state_.substr(0, state_.find('/', 1));      // "/tmp"
  std::filesystem::create_symlink(first, other_root.string() + first);  // e.g. /tmp -> /tmp
  const auto argv = masterArgv("/usr/sbin/haproxy", state_);
  plant(100, 1, 500, "/usr/sbin/haproxy", argv, other_root.string());
  plant(200, 1, 900, "/usr/sbin/haproxy", argv);
  ProcessTable t(root_.string());
  EXPECT_FALSE(t.seesDir(100, state_));
  EXPECT_TRUE(findStaleMasters(t, 200, state_).empty());
  EXPECT_TRUE(t.seesDir(200, state_));
}

TEST(MountSource, TheSamePathInTwoContainersIsTwoDirectories) {
  // Each container mounts its own volume at /run/mlb; a third shares the first's.
  const std::string a =
      "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
      "40 22 8:1 /var/lib/volumes/a /run/mlb rw - ext4 /dev/sda1 rw\n";
  const std::string b =
      "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
      "41 22 8:1 /var/lib/volumes/b /run/mlb rw - ext4 /dev/sda1 rw\n";
  const std::string a_too =
      "30 1 0:99 / / rw - overlay overlay rw\n"
      "45 30 8:1 /var/lib/volumes/a /run/mlb rw - ext4 /dev/sda1 rw\n";
  EXPECT_EQ(mountSource(a, "/run/mlb"), "8:1 /var/lib/volumes/a");
  EXPECT_NE(mountSource(a, "/run/mlb"), mountSource(b, "/run/mlb"));
  EXPECT_EQ(mountSource(a, "/run/mlb"), mountSource(a_too, "/run/mlb"));
  EXPECT_EQ(mountSource(a, "/run/mlb/sub"), "8:1 /var/lib/volumes/a/sub");
  EXPECT_EQ(mountSource(a, "/run/mlbx"), "8:1 /run/mlbx");  // not under the mount point
  // A later mount at the same point hides the earlier one.
  EXPECT_EQ(mountSource(a + "50 22 0:7 / /run/mlb rw - tmpfs t rw\n", "/run/mlb"), "0:7 /");
  EXPECT_FALSE(mountSource("", "/run/mlb"));
}

}  // namespace
}  // namespace mlb::reloader
