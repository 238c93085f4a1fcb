// The keeper of HAProxy's stderr, run for real in a forked child (a pipe and a file in
// a temporary directory), and the reading of a failed reload's alerts.
#include "reloader/haproxy/stderr_log.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace mlb::reloader {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class StderrLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("mlb-stderr-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = (dir_ / "haproxy.stderr").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A child whose stderr goes to `out` keeps it, writes `lines`, and exits: the stand-in
  // for the entrypoint that execs HAProxy.
  void runChild(const std::vector<std::string>& lines, size_t max_bytes) {
    const std::string out = (dir_ / "container-output").string();
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      std::FILE* f = std::freopen(out.c_str(), "a", stderr);
      if (f == nullptr || !keepStderr(path_, max_bytes)) {
        ::_exit(3);
      }
      for (const auto& l : lines) {
        (void)!::write(2, l.data(), l.size());
      }
      ::_exit(0);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  // The keeper writes after its writer is gone: wait (bounded) for `want` bytes.
  bool waitForSize(const fs::path& p, size_t want) {
    for (int i = 0; i < 200; ++i) {
      std::error_code ec;
      if (fs::exists(p, ec) && fs::file_size(p, ec) >= want) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  fs::path dir_;
  std::string path_;
};

TEST_F(StderrLogTest, EveryLineReachesTheFormerStderrAndHaproxysOwnTheLog) {
  const std::string request = "<134>1 2026-12-07T12:00:00Z - haproxy 9 - - GET / 200\n";
  runChild(
      {"[NOTICE]   (7) : New worker (8) forked\n", request, "[ALERT]    (7) : half", " a line\n"},
      1 << 20);
  const std::string own = "[NOTICE]   (7) : New worker (8) forked\n[ALERT]    (7) : half a line\n";
  ASSERT_TRUE(waitForSize(path_, own.size()));
  ASSERT_TRUE(waitForSize(dir_ / "container-output", own.size() + request.size()));
  EXPECT_EQ(slurp(path_), own);  // a request log line (--haproxy-log stderr) is not kept
  EXPECT_EQ(slurp(dir_ / "container-output"), "[NOTICE]   (7) : New worker (8) forked\n" + request +
                                                  "[ALERT]    (7) : half a line\n");
}

TEST_F(StderrLogTest, ALogPastItsBoundIsMovedAsideAndOneOlderFileKept) {
  const std::string line = "[NOTICE] " + std::string(90, 'x');
  std::vector<std::string> lines(30, line + "\n");
  lines.push_back("[end]\n");
  runChild(lines, 1000);
  // 3006 bytes through a 1000-byte bound, moved aside before the line that follows
  // 1100 bytes: 11 lines, 11 lines (kept in .1), then the last 8 and "[end]" here.
  std::string whole;
  for (int i = 0; i < 8; ++i) {
    whole += line + "\n";
  }
  whole += "[end]\n";
  for (int i = 0; i < 200 && slurp(path_) != whole; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(slurp(path_), whole);  // whole lines only
  EXPECT_EQ(fs::file_size(path_ + ".1"), 1100u);
  EXPECT_TRUE(waitForSize(dir_ / "container-output", 3006));
}

TEST_F(StderrLogTest, ReadSinceAMarkReturnsOnlyWhatCameAfter) {
  std::ofstream(path_) << "before\n";
  const LogMark mark = markLog(path_);
  std::ofstream(path_, std::ios::app) << "after\n";
  EXPECT_EQ(readSince(path_, mark, 1024), "after\n");
  EXPECT_EQ(readSince(path_, mark, 3), "er\n");  // the newest bytes when bounded
  // Moved aside since the mark: the rest of the old file (.1), then all of the new one.
  fs::rename(path_, path_ + ".1");
  std::ofstream(path_) << "fresh\n";
  EXPECT_EQ(readSince(path_, mark, 1024), "after\nfresh\n");
  EXPECT_EQ(readSince((dir_ / "none").string(), mark, 1024), "");
}

TEST(StderrAlertsTest, OnlyTheMastersAlertsAndItsOwnLoadFailureCount) {
  const std::string text =
      "[ALERT]    (12) : Binding [/s/live/haproxy.cfg:9] for frontend f: cannot bind\n"
      "[ALERT]    (120) : another process\n"
      "[WARNING]  (13) : Loading failure!\n"
      "[NOTICE]   (12) : [ALERT] quoted (12) in a notice\n"
      "[ALERT]    (12) : Some protocols failed to start their listeners! Exiting.";
  EXPECT_EQ(alertsOf(text, 12),
            "[ALERT]    (12) : Binding [/s/live/haproxy.cfg:9] for frontend f: cannot bind\n"
            "[ALERT]    (12) : Some protocols failed to start their listeners! Exiting.");
  EXPECT_EQ(alertsOf(text, 99), "");
  EXPECT_FALSE(loadFailureOf(text, 12));
  EXPECT_TRUE(loadFailureOf(text, 13));
}

}  // namespace
}  // namespace mlb::reloader
