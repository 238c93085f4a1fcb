#include <gtest/gtest.h>
#include <signal.h>

#include "common/process/process_runner.h"

namespace mlb::common {
namespace {

TEST(BoostProcessRunner, CapturesOutputAndExitCode) {
  auto runner = makeBoostProcessRunner();
  auto r =
      runner->run({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}, std::chrono::seconds(5));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->out, "out\n");
  EXPECT_EQ(r->err, "err\n");
  EXPECT_FALSE(r->ok());
}

TEST(BoostProcessRunner, ReportsSignalDeath) {
  auto runner = makeBoostProcessRunner();
  auto r = runner->run({"/bin/sh", "-c", "kill -TERM $$"}, std::chrono::seconds(5));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->term_signal, SIGTERM);
}

TEST(BoostProcessRunner, KillsAfterTimeout) {
  auto runner = makeBoostProcessRunner();
  auto r = runner->run({"/bin/sleep", "10"}, std::chrono::milliseconds(200));
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->timed_out);
}

TEST(BoostProcessRunner, MissingExecutableIsAnError) {
  auto runner = makeBoostProcessRunner();
  auto r = runner->run({"/nonexistent/bin"}, std::chrono::seconds(1));
  EXPECT_FALSE(r);
}

}  // namespace
}  // namespace mlb::common
