// The reload pass against HAProxy answered by a fake (its master CLI and stats socket),
// a planted /proc, a recorded `haproxy -c` and a StrictMock signaller: a signal the
// test did not expect, to any pid, fails it.
#include "reloader/reload/reload_controller.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>

#include "common/fs/files.h"

namespace mlb::reloader {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Return;
using ::testing::StrictMock;

constexpr pid_t kMaster = 4242;
constexpr unsigned long long kStart = 777;

// HAProxy as its sockets show it: `show proc`, `reload` (2.6: no answer; 3.0:
// Success=0/1), `show servers state`.
class FakeHaproxy : public HaproxySockets {
 public:
  bool cli_down = false;     // the master CLI refuses connections
  bool load_fails = false;   // the new configuration does not load
  std::string reload_reply;  // what `reload` answers
  int reloads = 0;
  std::vector<std::string> commands;

  common::Result<std::string> command(const std::string& socket, const std::string& cmd,
                                      int) override {
    commands.push_back(cmd);
    const bool master_cli =
        socket.size() >= 11 && socket.compare(socket.size() - 11, 11, "master.sock") == 0;
    if (master_cli && cli_down) {
      return common::Error{common::ErrorCode::Unavailable, "connect master.sock: refused"};
    }
    if (master_cli && cmd == "show proc") {
      return showProc();
    }
    if (master_cli && cmd == "reload") {
      ++reloads;
      failed_ += load_fails ? 1 : 0;
      worker_ += load_fails ? 0 : 1;
      return reload_reply;
    }
    if (cmd == "show servers state") {
      return std::string("1\n# be_id be_name srv_id srv_name\n");
    }
    return common::Error::io("unexpected command " + cmd);
  }
  common::Result<std::vector<std::string>> batch(const std::string&,
                                                 const std::vector<std::string>& cmds,
                                                 int) override {
    commands.insert(commands.end(), cmds.begin(), cmds.end());
    return std::vector<std::string>(cmds.size(), "");
  }

 private:
  std::string showProc() const {
    return "#<PID>          <type>          <reloads>       <uptime>        <version>\n" +
           std::to_string(kMaster) + "    master    " + std::to_string(reloads) +
           " [failed: " + std::to_string(failed_) + "]   0d00h01m00s     3.0.11\n# workers\n" +
           std::to_string(worker_) + "    worker    0    0d00h00m10s     3.0.11\n# programs\n";
  }
  int failed_ = 0;
  pid_t worker_ = 4300;
};

// `haproxy -c` as recorded: valid, or the [ALERT] lines of an invalid file.
class RecordedCheck : public common::ProcessRunner {
 public:
  std::string alerts;  // empty: valid
  int runs = 0;
  common::Result<common::ProcessResult> run(const std::vector<std::string>&,
                                            std::chrono::milliseconds) override {
    ++runs;
    common::ProcessResult r;
    r.exit_code = alerts.empty() ? 0 : 1;
    r.err = alerts;
    return r;
  }
};

class ReloadPassTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("mlb-reload-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    state_ = (root_ / "state").string();
    for (const char* v : {"v1", "v2"}) {
      fs::create_directories(fs::path(state_) / "bundles" / v);
      std::ofstream(fs::path(state_) / "bundles" / v / "haproxy.cfg")
          << "global\n  # " << v << "\n";
    }
    ASSERT_TRUE(common::replaceSymlink("bundles/v1", state_ + "/live"));
    ASSERT_TRUE(common::replaceSymlink("bundles/v2", state_ + "/current"));
    plantMaster(kStart);
    table_ = std::make_unique<ProcessTable>((root_ / "proc").string());
    ASSERT_TRUE(writeMasterRecord(state_, {kMaster, kStart, "v1"}));
    options_.state_dir = state_;
    options_.runtime = false;  // every new bundle reloads
    options_.verify_timeout = std::chrono::milliseconds(200);
    options_.reload_attempts = 2;
    options_.reload_retry_interval = std::chrono::milliseconds(1);
  }
  void TearDown() override { fs::remove_all(root_); }

  void plantMaster(unsigned long long start) {
    const fs::path d = root_ / "proc" / std::to_string(kMaster);
    fs::create_directories(d);
    std::ofstream(d / "stat") << kMaster << " (haproxy) S 1 1 1 0 -1 4194560 100 0 0 0 1 1 0 0 "
                              << "20 0 1 0 " << start << " 1000 100\n";
    std::ofstream cmd(d / "cmdline", std::ios::binary);
    for (const auto& a : masterArgv("/usr/sbin/haproxy", state_)) {
      cmd << a << '\0';
    }
    fs::create_symlink("/usr/sbin/haproxy", d / "exe");
  }

  ReloadController controller() {
    return ReloadController(options_, check_, *table_, signal_.AsStdFunction(), haproxy_);
  }
  std::string live() const { return fs::read_symlink(fs::path(state_) / "live").string(); }

  fs::path root_;
  std::string state_;
  ReloaderOptions options_;
  FakeHaproxy haproxy_;
  RecordedCheck check_;
  std::unique_ptr<ProcessTable> table_;
  StrictMock<::testing::MockFunction<int(pid_t, int)>> signal_;
};

TEST_F(ReloadPassTest, ANewBundleIsReloadedThroughTheMasterCliAndConfirmedByShowProc) {
  auto rc = controller();
  ApplyResult r = rc.applyOnce();
  EXPECT_EQ(r.kind, ApplyResult::Kind::Applied) << r.reason;
  EXPECT_EQ(r.method, "master-cli");
  EXPECT_EQ(live(), "bundles/v2");
  EXPECT_EQ(rc.appliedVersion(), "v2");
  EXPECT_EQ(haproxy_.reloads, 1);
  EXPECT_EQ(check_.runs, 1);
  // Applied once: the next pass does nothing.
  EXPECT_EQ(rc.applyOnce().kind, ApplyResult::Kind::Nothing);
  EXPECT_EQ(haproxy_.reloads, 1);
}

TEST_F(ReloadPassTest, HaproxyThreeRefusingTheNewConfigurationRollsLiveBack) {
  haproxy_.load_fails = true;
  haproxy_.reload_reply =
      "Success=0\n--\n[ALERT]    (1) : config : parsing [/x/haproxy.cfg:2] : unknown keyword\n";
  auto rc = controller();
  ApplyResult r = rc.applyOnce();
  EXPECT_EQ(r.kind, ApplyResult::Kind::Failed);
  EXPECT_THAT(r.reason, HasSubstr("Success=0"));
  EXPECT_THAT(r.reason, HasSubstr("unknown keyword"));
  EXPECT_EQ(live(), "bundles/v1");  // what HAProxy still runs
  EXPECT_EQ(rc.rejectedCount(), 1u);
  // A rejected version is not tried again.
  EXPECT_EQ(rc.applyOnce().kind, ApplyResult::Kind::Nothing);
  EXPECT_EQ(haproxy_.reloads, 1);
}

TEST_F(ReloadPassTest, AShowProcFailureCountIsARefusalOnHaproxyTwoSixToo) {
  haproxy_.load_fails = true;  // 2.6 answers `reload` with nothing
  auto rc = controller();
  ApplyResult r = rc.applyOnce();
  EXPECT_EQ(r.kind, ApplyResult::Kind::Failed);
  EXPECT_THAT(r.reason, HasSubstr("show proc: failed 1"));
  EXPECT_EQ(live(), "bundles/v1");
}

TEST_F(ReloadPassTest, AnInvalidBundleIsRejectedWithoutAReload) {
  check_.alerts = "[ALERT]    (1) : config : parsing [haproxy.cfg:2] : unknown keyword 'x'\n";
  auto rc = controller();
  ApplyResult r = rc.applyOnce();
  EXPECT_EQ(r.kind, ApplyResult::Kind::Rejected);
  EXPECT_THAT(r.reason, HasSubstr("unknown keyword 'x'"));
  EXPECT_EQ(live(), "bundles/v1");
  EXPECT_EQ(haproxy_.reloads, 0);
  EXPECT_EQ(std::count(haproxy_.commands.begin(), haproxy_.commands.end(), "reload"), 0);
}

TEST_F(ReloadPassTest, AnUnreachableMasterCliFallsBackToSigusr2ToTheVerifiedMasterOnly) {
  haproxy_.cli_down = true;
  EXPECT_CALL(signal_, Call(kMaster, SIGUSR2)).WillOnce(Return(0));
  auto rc = controller();
  ApplyResult r = rc.applyOnce();
  EXPECT_EQ(r.method, "sigusr2");
  // show proc cannot confirm it either: the version is retried later, live stays new.
  EXPECT_EQ(r.kind, ApplyResult::Kind::Failed);
  EXPECT_THAT(r.reason, HasSubstr("not confirmed"));
  EXPECT_EQ(rc.unconfirmedReloads(), 1u);
}

TEST_F(ReloadPassTest, AMasterWhoseStartTimeDiffersIsNeverSignalledNorReloaded) {
  // The recorded master's pid now belongs to another process start (a reused pid).
  ASSERT_TRUE(writeMasterRecord(state_, {kMaster, kStart + 1, "v1"}));
  haproxy_.cli_down = true;
  auto rc = controller();
  ApplyResult r = rc.applyOnce();
  EXPECT_EQ(r.kind, ApplyResult::Kind::Waiting);
  EXPECT_THAT(r.reason, HasSubstr("no verified HAProxy master"));
  EXPECT_EQ(haproxy_.reloads, 0);
  EXPECT_EQ(live(), "bundles/v1");
}

}  // namespace
}  // namespace mlb::reloader
