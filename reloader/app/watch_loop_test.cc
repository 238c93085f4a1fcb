// The watch loop's pacing on a FakeClock and a FakeFileWatcher, against a StrictMock
// reload pass: an apply at most every --min-reload-interval after a reload, changes
// coalesced, the governor on its own tick, the runtime path's share after a runtime apply.
#include "reloader/app/watch_loop.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/testing/fake_clock.h"
#include "reloader/watch/fake_file_watcher.h"

namespace mlb::reloader {
namespace {

using ::testing::Return;
using ::testing::StrictMock;
using namespace std::chrono_literals;

class MockReloadPass : public ReloadPass {
 public:
  MOCK_METHOD(ApplyResult, applyOnce, (), (override));
  MOCK_METHOD(GovernResult, govern, (), (override));
  MOCK_METHOD(GovernResult, governRuntime, (), (override));
  MOCK_METHOD(void, requestReload, (), (override));
  MOCK_METHOD(size_t, rejectedCount, (), (const, override));
  MOCK_METHOD(std::string, appliedVersion, (), (const, override));
};

ApplyResult applied(const std::string& version, ApplyMethod method) {
  ApplyResult r;
  r.kind = ApplyResult::Kind::Applied;
  r.version = version;
  r.method = method;
  return r;
}

class WatchLoopTest : public ::testing::Test {
 protected:
  WatchLoopTest() : watcher_(clock_) {
    flags_.min_reload_interval_s = 0.2;
    flags_.recheck_interval_s = 1.0;
    EXPECT_CALL(pass_, appliedVersion()).WillRepeatedly(Return(""));
    EXPECT_CALL(pass_, rejectedCount()).WillRepeatedly(Return(0));
  }
  WatchLoop& loop() {
    if (!loop_) {
      loop_ = std::make_unique<WatchLoop>(flags_, pass_, metrics_, watcher_, clock_);
    }
    return *loop_;
  }
  double reloads(const char* kind) {
    return metrics_.reloads.Add({{"kind", kind}, {"result", "success"}}).Value();
  }

  ReloaderFlags flags_;
  common::testing::FakeClock clock_;
  FakeFileWatcher watcher_;
  prometheus::Registry registry_;
  WatchMetrics metrics_{registry_};
  StrictMock<MockReloadPass> pass_;
  std::unique_ptr<WatchLoop> loop_;
};

TEST_F(WatchLoopTest, AChangeSoonAfterAReloadWaitsForTheMinimumInterval) {
  int applies = 0;
  EXPECT_CALL(pass_, govern()).WillRepeatedly(Return(GovernResult{}));
  EXPECT_CALL(pass_, applyOnce()).WillRepeatedly([&] {
    ++applies;
    return applied("v" + std::to_string(applies), ApplyMethod::MasterCli);
  });
  watcher_.fire();
  loop().step();  // v1 at once
  ASSERT_EQ(applies, 1);
  const auto reloaded_at = clock_.now();
  watcher_.fire();
  watcher_.fire();  // two changes: one apply
  loop().step();
  EXPECT_EQ(applies, 1);  // the 200 ms since the reload are not over
  for (int i = 0; i < 100 && applies < 2; ++i) {
    loop().step();  // 10 ms waits while a change is pending
  }
  EXPECT_EQ(applies, 2);
  EXPECT_EQ(clock_.now() - reloaded_at, 200ms);
  EXPECT_EQ(reloads("reload"), 2);
  EXPECT_EQ(watcher_.waits.back(), 10ms);  // pending: polled, not the recheck tick
}

TEST_F(WatchLoopTest, WithNothingToDoTheLoopWaitsTheRecheckIntervalAndRetriesAWaitingBundle) {
  ApplyResult waiting;
  waiting.kind = ApplyResult::Kind::Waiting;
  waiting.reason = "no verified HAProxy master";
  EXPECT_CALL(pass_, govern()).WillRepeatedly(Return(GovernResult{}));
  EXPECT_CALL(pass_, applyOnce()).Times(3).WillRepeatedly(Return(waiting));
  loop().step();  // the first pass is due at start
  loop().step();  // the recheck tick retries
  loop().step();
  EXPECT_EQ(watcher_.waits[1], 1000ms);
}

TEST_F(WatchLoopTest, TheGovernorRunsOnItsTickAndAfterARuntimeApplyOnlyItsRuntimeShare) {
  flags_.recheck_interval_s = 0.05;  // the tick is at least 200 ms
  ::testing::InSequence order;
  EXPECT_CALL(pass_, applyOnce()).WillOnce(Return(ApplyResult{}));
  EXPECT_CALL(pass_, govern()).WillOnce(Return(GovernResult{}));
  EXPECT_CALL(pass_, applyOnce()).WillOnce(Return(applied("v1", ApplyMethod::Runtime)));
  EXPECT_CALL(pass_, governRuntime()).WillOnce(Return(GovernResult{}));
  EXPECT_CALL(pass_, applyOnce()).WillRepeatedly(Return(ApplyResult{}));
  EXPECT_CALL(pass_, govern()).WillOnce(Return(GovernResult{}));
  loop().step();  // apply (nothing) + the first governor pass
  watcher_.fire();
  loop().step();  // runtime apply: its share only, the tick is 200 ms away
  EXPECT_EQ(reloads("runtime"), 1);
  for (int i = 0; i < 4; ++i) {
    loop().step();  // 4 x 50 ms: the tick
  }
}

TEST_F(WatchLoopTest, EventsOnOtherNamesDoNotApply) {
  class OtherNames : public FileWatcher {
   public:
    Wake wait(std::chrono::milliseconds) override { return Wake::Other; }
  } other;
  EXPECT_CALL(pass_, govern()).WillRepeatedly(Return(GovernResult{}));
  EXPECT_CALL(pass_, applyOnce()).WillOnce(Return(ApplyResult{}));  // the start's pass only
  WatchLoop loop(flags_, pass_, metrics_, other, clock_);
  for (int i = 0; i < 5; ++i) {
    loop.step();
    clock_.advance(1s);
  }
}

}  // namespace
}  // namespace mlb::reloader
