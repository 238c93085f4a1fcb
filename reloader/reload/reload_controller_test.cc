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

#include "common/fs/config_edits.h"
#include "common/fs/files.h"
#include "common/testing/fake_clock.h"

namespace mlb::reloader {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Return;
using ::testing::StrictMock;

constexpr pid_t kMaster = 4242;
constexpr unsigned long long kStart = 777;

// HAProxy as its sockets show it: `show proc`, `reload` (2.6: no answer; 3.0:
// Success=0/1), `show servers state`.
class FakeHaproxy : public HaproxySockets {
 public:
  bool cli_down = false;                           // the master CLI refuses connections
  bool load_fails = false;                         // the new configuration does not load
  std::string reload_reply;                        // what `reload` answers
  std::vector<std::pair<pid_t, int>> old_workers;  // pid, reloads ago
  int reloads = 0;
  std::vector<std::string> commands;
  std::string stderr_log;   // where the master's stderr is kept ("" : nowhere)
  std::string load_stderr;  // what the master writes there on a reload

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
      if (!stderr_log.empty()) {
        std::ofstream(stderr_log, std::ios::app) << load_stderr;
      }
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
           std::to_string(worker_) + "    worker    0    0d00h00m10s     3.0.11\n" + oldWorkers() +
           "# programs\n";
  }
  std::string oldWorkers() const {
    std::string text = "# old workers\n";
    for (const auto& [pid, ago] : old_workers) {
      text += std::to_string(pid) + "    worker    " + std::to_string(ago) +
              "    0d00h05m00s     3.0.11\n";
    }
    return text;
  }
  int failed_ = 0;
  pid_t worker_ = 4300;
};

// `haproxy -c` as recorded: valid, or the [ALERT] lines of an invalid file.
class RecordedCheck : public common::ProcessRunner {
 public:
  std::string alerts;  // empty: valid
  int signal = 0;      // killed by it (no verdict)
  int runs = 0;
  common::Result<common::ProcessResult> run(const std::vector<std::string>&,
                                            std::chrono::milliseconds) override {
    ++runs;
    common::ProcessResult r;
    r.exit_code = signal ? -1 : alerts.empty() ? 0 : 1;
    r.term_signal = signal;
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
    options_.reload_retry_interval = std::chrono::milliseconds(100);
  }
  void TearDown() override { fs::remove_all(root_); }

  void plantMaster(unsigned long long start) { plantHaproxy(kMaster, 1, start); }
  // A process in the planted /proc that runs this instance's HAProxy command line.
  void plantHaproxy(pid_t pid, pid_t ppid, unsigned long long start) {
    const fs::path d = root_ / "proc" / std::to_string(pid);
    fs::create_directories(d);
    std::ofstream(d / "stat") << pid << " (haproxy) S " << ppid
                              << " 1 1 0 -1 4194560 100 0 0 0 1 1 0 0 "
                              << "20 0 1 0 " << start << " 1000 100\n";
    std::ofstream cmd(d / "cmdline", std::ios::binary);
    for (const auto& a : masterArgv("/usr/sbin/haproxy", state_)) {
      cmd << a << '\0';
    }
    fs::create_symlink("/usr/sbin/haproxy", d / "exe");
    fs::create_symlink("/", d / "root");
  }

  ReloadController controller() {
    return ReloadController(options_, check_, *table_, signal_.AsStdFunction(), haproxy_, clock_);
  }
  std::string live() const { return fs::read_symlink(fs::path(state_) / "live").string(); }

  fs::path root_;
  std::string state_;
  ReloaderOptions options_;
  FakeHaproxy haproxy_;
  RecordedCheck check_;
  common::testing::FakeClock clock_;
  std::unique_ptr<ProcessTable> table_;
  StrictMock<::testing::MockFunction<int(pid_t, int)>> signal_;
};

TEST_F(ReloadPassTest, ANewBundleIsReloadedThroughTheMasterCliAndConfirmedByShowProc) {
  auto rc = controller();
  ApplyResult r = rc.applyOnce();
  EXPECT_EQ(r.kind, ApplyResult::Kind::Applied) << r.reason;
  EXPECT_EQ(r.method, ApplyMethod::MasterCli);
  EXPECT_EQ(live(), "bundles/v2");
  EXPECT_EQ(rc.appliedVersion(), "v2");
  EXPECT_EQ(haproxy_.reloads, 1);
  EXPECT_EQ(check_.runs, 1);
  // Applied once: the next pass does nothing.
  EXPECT_EQ(rc.applyOnce().kind, ApplyResult::Kind::Nothing);
  EXPECT_EQ(haproxy_.reloads, 1);
}

// A bundle the controller wrote as edits of a base (common/fs/config_edits.h).
void writeEditsBundle(const std::string& state, const std::string& version, const std::string& base,
                      const std::string& base_text) {
  const std::string old_line = "  # base\n";
  const common::ConfigEdits e{
      base,
      base_text.size(),
      {{base_text.find(old_line), old_line.size(), common::sha256(old_line), "  # edited\n"}}};
  fs::create_directories(fs::path(state) / "bundles" / version);
  std::ofstream(fs::path(state) / "bundles" / version / common::kConfigEditsFile)
      << common::formatConfigEdits(e);
}

TEST_F(ReloadPassTest, ABundleWrittenAsEditsIsWrittenOutWholeBeforeItIsCheckedAndLoaded) {
  const std::string base_text = "global\n  # base\n";
  fs::create_directories(fs::path(state_) / "bundles" / "00b1");
  std::ofstream(fs::path(state_) / "bundles" / "00b1" / "haproxy.cfg") << base_text;
  writeEditsBundle(state_, "v3", "00b1", base_text);
  ASSERT_TRUE(common::replaceSymlink("bundles/v3", state_ + "/current"));
  auto rc = controller();
  ApplyResult r = rc.applyOnce();
  EXPECT_EQ(r.kind, ApplyResult::Kind::Applied) << r.reason;
  EXPECT_EQ(live(), "bundles/v3");
  EXPECT_EQ(check_.runs, 1);
  EXPECT_EQ(haproxy_.reloads, 1);
  // What HAProxy loads (-f live/haproxy.cfg) and /_haproxy_getconfig serves.
  EXPECT_EQ(*common::readFile(state_ + "/live/haproxy.cfg"), "global\n  # edited\n");
}

TEST_F(ReloadPassTest, AnEditsBundleWhoseBaseIsGoneIsNotAppliedAndSaysWhy) {
  writeEditsBundle(state_, "v4", "00b9", "global\n  # base\n");
  ASSERT_TRUE(common::replaceSymlink("bundles/v4", state_ + "/current"));
  auto rc = controller();
  ApplyResult r = rc.applyOnce();
  EXPECT_EQ(r.kind, ApplyResult::Kind::Failed);
  EXPECT_THAT(r.reason, HasSubstr("base bundle 00b9"));
  EXPECT_EQ(live(), "bundles/v1");  // what HAProxy serves stays
  EXPECT_EQ(haproxy_.reloads, 0);
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

TEST_F(ReloadPassTest, AFailedReloadOnHaproxyTwoSixIsRejectedWithTheAlertsItsMasterWrote) {
  // Written before the reload, and by another process: neither is this reload's.
  haproxy_.stderr_log = stderrLogPath(state_);
  std::ofstream(haproxy_.stderr_log) << "[ALERT]    (4242) : an earlier failure\n";
  haproxy_.load_fails = true;
  haproxy_.load_stderr =
      "[NOTICE]   (4242) : Reloading HAProxy\n"
      "[WARNING]  (4300) : Paused frontend f.\n"
      "[ALERT]    (4300) : a worker's line\n"
      "[ALERT]    (4242) : Binding [/s/live/haproxy.cfg:9] for frontend other_10001: cannot "
      "bind socket (Cannot assign requested address) for [192.0.2.1:10001]\n"
      "[ALERT]    (4242) : [haproxy.main()] Some protocols failed to start their listeners! "
      "Exiting.\n"
      "[WARNING]  (4242) : Loading failure!\n";
  auto rc = controller();
  ApplyResult r = rc.applyOnce();
  EXPECT_EQ(r.kind, ApplyResult::Kind::Failed);
  EXPECT_THAT(r.reason, HasSubstr("show proc: failed 1"));
  EXPECT_THAT(r.reason, HasSubstr("[/s/live/haproxy.cfg:9] for frontend other_10001"));
  EXPECT_THAT(r.reason, HasSubstr("Some protocols failed"));
  EXPECT_THAT(r.reason, Not(HasSubstr("earlier failure")));
  EXPECT_THAT(r.reason, Not(HasSubstr("worker's line")));
  // The controller reads it from status.json as a verdict naming line 9.
  auto status = common::readFile(state_ + "/status.json");
  ASSERT_TRUE(status);
  EXPECT_THAT(*status, HasSubstr("haproxy.cfg:9]"));
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

// marathon-lb's SIGUSR1 ("reload HAProxy"): with `current` rejected, the request used
// to wait forever (a rejected current makes the pass return at once); it reloads the
// bundle that serves.
TEST_F(ReloadPassTest, ASignalledReloadWithARejectedCurrentReloadsWhatServes) {
  check_.alerts = "[ALERT]    (1) : config : parsing [haproxy.cfg:2] : unknown keyword 'x'\n";
  auto rc = controller();
  EXPECT_EQ(rc.applyOnce().kind, ApplyResult::Kind::Rejected);
  EXPECT_EQ(haproxy_.reloads, 0);
  check_.alerts.clear();  // v1, which serves, is valid
  rc.requestReload();
  ApplyResult r = rc.applyOnce();
  EXPECT_EQ(r.kind, ApplyResult::Kind::Applied) << r.reason;
  EXPECT_EQ(r.version, "v1");
  EXPECT_EQ(haproxy_.reloads, 1);
  EXPECT_EQ(live(), "bundles/v1");
  EXPECT_EQ(rc.applyOnce().kind, ApplyResult::Kind::Nothing);  // the request is spent
  EXPECT_EQ(haproxy_.reloads, 1);
}

TEST_F(ReloadPassTest, ACheckKilledByASignalIsRetriedWithBackoffAndNeverRejected) {
  // It was written to status.json as a rejection, remembered across restarts and
  // never retried: a stable cluster stayed on the old config.
  options_.runtime = true;
  check_.signal = 9;
  auto rc = controller();
  ApplyResult r = rc.applyOnce();
  EXPECT_EQ(r.kind, ApplyResult::Kind::Failed);
  EXPECT_TRUE(r.check_failed);
  EXPECT_EQ(rc.rejectedCount(), 0u);
  auto status = common::readFile(state_ + "/status.json");
  EXPECT_TRUE(!status || status->find("\"v2\"") == std::string::npos);
  EXPECT_EQ(rc.applyOnce().kind, ApplyResult::Kind::Waiting);  // backing off
  EXPECT_EQ(check_.runs, 1);
  check_.signal = 0;  // the check works again
  clock_.advance(std::chrono::seconds(1));
  r = rc.applyOnce();
  EXPECT_EQ(r.kind, ApplyResult::Kind::Applied) << r.reason;
  EXPECT_EQ(live(), "bundles/v2");
  // A fresh process does not remember it either.
  auto again = controller();
  again.loadStatus();
  EXPECT_EQ(again.rejectedCount(), 0u);
}

TEST_F(ReloadPassTest, AnUnreachableMasterCliFallsBackToSigusr2ToTheVerifiedMasterOnly) {
  haproxy_.cli_down = true;
  EXPECT_CALL(signal_, Call(kMaster, SIGUSR2)).WillOnce(Return(0));
  auto rc = controller();
  ApplyResult r = rc.applyOnce();
  EXPECT_EQ(r.method, ApplyMethod::Sigusr2);
  // show proc cannot confirm it either: the version is retried later, live stays new.
  EXPECT_EQ(r.kind, ApplyResult::Kind::Failed);
  EXPECT_THAT(r.reason, HasSubstr("not confirmed"));
  EXPECT_EQ(rc.unconfirmedReloads(), 1u);
  // The retries and the wait for show proc were on the clock, not on the wall.
  const auto sleeps = clock_.sleeps();
  ASSERT_FALSE(sleeps.empty());
  EXPECT_EQ(sleeps[0], std::chrono::milliseconds(100));
  EXPECT_EQ(sleeps[1], std::chrono::milliseconds(100));
}

TEST_F(ReloadPassTest, AnUnconfirmedReloadIsRetriedAfterItsBackoffOnly) {
  haproxy_.cli_down = true;
  EXPECT_CALL(signal_, Call(kMaster, SIGUSR2)).Times(2).WillRepeatedly(Return(0));
  auto rc = controller();
  EXPECT_EQ(rc.applyOnce().kind, ApplyResult::Kind::Failed);
  // 1 s after the first unconfirmed reload: not before.
  clock_.advance(std::chrono::milliseconds(500));
  ApplyResult waiting = rc.applyOnce();
  EXPECT_EQ(waiting.kind, ApplyResult::Kind::Waiting);
  EXPECT_THAT(waiting.reason, HasSubstr("backing off after 1"));
  clock_.advance(std::chrono::milliseconds(500));
  EXPECT_EQ(rc.applyOnce().kind, ApplyResult::Kind::Failed);
  EXPECT_EQ(rc.unconfirmedReloads(), 2u);
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

// The old-worker governor on the fake clock: soft stop (SIGUSR1) for generations
// beyond max_old_workers and for workers draining longer than max_drain_time, then
// SIGTERM once stop_grace has passed; only to verified workers of this master.
class GovernorTest : public ReloadPassTest {
 protected:
  void SetUp() override {
    ReloadPassTest::SetUp();
    options_.max_old_workers = 1;
    options_.max_drain_time = std::chrono::seconds(600);
    options_.stop_grace = std::chrono::seconds(10);
    plantHaproxy(5001, kMaster, kStart + 10);
    plantHaproxy(5002, kMaster, kStart + 20);
    haproxy_.old_workers = {{5001, 2}, {5002, 1}};
  }
};

TEST_F(GovernorTest, AGenerationBeyondTheLimitIsSoftStoppedThenTerminatedAfterTheGrace) {
  auto rc = controller();
  EXPECT_CALL(signal_, Call(5001, SIGUSR1)).WillOnce(Return(0));
  GovernResult g = rc.govern();
  EXPECT_EQ(g.old_generations, 2);
  EXPECT_EQ(g.sigusr1, 1);
  ::testing::Mock::VerifyAndClearExpectations(&signal_);
  clock_.advance(options_.stop_grace);
  EXPECT_EQ(rc.govern().sigterm, 0);  // the grace is not over
  EXPECT_CALL(signal_, Call(5001, SIGTERM)).WillOnce(Return(0));
  clock_.advance(std::chrono::milliseconds(1));
  EXPECT_EQ(rc.govern().sigterm, 1);
}

TEST_F(GovernorTest, AWorkerDrainingLongerThanMaxDrainTimeIsSoftStopped) {
  options_.max_old_workers = 3;
  auto rc = controller();
  EXPECT_EQ(rc.govern().sigusr1, 0);  // within the limit: left to drain
  clock_.advance(options_.max_drain_time);
  EXPECT_EQ(rc.govern().sigusr1, 0);
  EXPECT_CALL(signal_, Call(5001, SIGUSR1)).WillOnce(Return(0));
  EXPECT_CALL(signal_, Call(5002, SIGUSR1)).WillOnce(Return(0));
  clock_.advance(std::chrono::seconds(1));
  EXPECT_EQ(rc.govern().sigusr1, 2);
}

TEST_F(GovernorTest, AnOldWorkerThatIsNotAChildOfTheMasterIsNeverSignalled) {
  fs::remove_all(root_ / "proc" / "5001");
  plantHaproxy(5001, 1, kStart + 10);  // its pid now belongs to another process tree
  auto rc = controller();
  GovernResult g = rc.govern();  // the StrictMock fails on any signal
  EXPECT_EQ(g.sigusr1, 0);
  ASSERT_EQ(g.refused.size(), 1u);
  EXPECT_THAT(g.refused[0], HasSubstr("not a child of master"));
}

}  // namespace
}  // namespace mlb::reloader
