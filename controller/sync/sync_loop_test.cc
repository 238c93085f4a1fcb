// SyncLoop's schedule on a FakeClock, one poll() at a time: no test waits for a timer.
#include "controller/sync/sync_loop.h"

#include <gtest/gtest.h>

#include <future>
#include <vector>

#include "common/testing/fake_clock.h"

namespace mlb::controller {
namespace {

using namespace std::chrono_literals;
using Outcome = PassReport::Outcome;

class SyncLoopTest : public ::testing::Test {
 protected:
  SyncLoopTest() {
    options_.min_interval = 100ms;
    options_.resync_interval = 60s;
    options_.confirm_interval = 2s;
    options_.backoff_base = 500ms;
    options_.backoff_max = 30s;
    options_.backoff_seed = 7;
  }
  SyncLoop& loop() {
    if (!loop_) {
      loop_ = std::make_unique<SyncLoop>(
          [this](const std::set<std::string>& hints) {
            passes_.push_back(hints);
            starts_.push_back(clock_.now());
            PassReport r;
            r.outcome = outcomes_.empty() ? Outcome::Published : outcomes_.front();
            if (!outcomes_.empty()) {
              outcomes_.erase(outcomes_.begin());
            }
            return r;
          },
          options_,
          [this](const PassReport&, std::chrono::nanoseconds latency) {
            latencies_.push_back(latency);
          },
          clock_);
    }
    return *loop_;
  }
  // Polls at the wake time poll() names, `n` times over; the passes that ran.
  void runUntilPasses(size_t n) {
    for (int i = 0; i < 100 && passes_.size() < n; ++i) {
      auto step = loop().poll();
      if (!step.ran) {
        ASSERT_GT(step.wake, clock_.now());
        clock_.advance(step.wake - clock_.now());
      }
    }
  }

  common::testing::FakeClock clock_;
  SyncLoopOptions options_;
  std::vector<Outcome> outcomes_;  // the passes' outcomes, in order (then Published)
  std::vector<std::set<std::string>> passes_;
  std::vector<common::Clock::TimePoint> starts_;
  std::vector<std::chrono::nanoseconds> latencies_;
  std::unique_ptr<SyncLoop> loop_;
};

TEST_F(SyncLoopTest, TheFirstPassRunsAtOnceAndIsFull) {
  EXPECT_TRUE(loop().poll().ran);
  ASSERT_EQ(passes_.size(), 1u);
  EXPECT_TRUE(passes_[0].empty());
  EXPECT_FALSE(loop().poll().ran);  // nothing more to do
}

TEST_F(SyncLoopTest, ManyTriggersCoalesceIntoOnePassMinIntervalAfterTheLast) {
  loop().poll();
  for (int i = 0; i < 10000; ++i) {
    loop().trigger("/app" + std::to_string(i % 3));
  }
  auto step = loop().poll();
  EXPECT_FALSE(step.ran);
  EXPECT_EQ(step.wake, starts_[0] + options_.min_interval);
  clock_.advance(options_.min_interval - 1ms);
  EXPECT_FALSE(loop().poll().ran);
  clock_.advance(1ms);
  EXPECT_TRUE(loop().poll().ran);
  ASSERT_EQ(passes_.size(), 2u);
  EXPECT_EQ(passes_[1], (std::set<std::string>{"/app0", "/app1", "/app2"}));
  EXPECT_FALSE(loop().poll().ran);
}

TEST_F(SyncLoopTest, ATriggerWithoutAnAppIdMakesTheNextPassFull) {
  loop().poll();
  loop().trigger("/a");
  loop().trigger();
  runUntilPasses(2);
  ASSERT_EQ(passes_.size(), 2u);
  EXPECT_TRUE(passes_[1].empty());
}

TEST_F(SyncLoopTest, AFailureRetriesWithJitteredBackoffWithoutATrigger) {
  outcomes_ = {Outcome::Failed, Outcome::Failed, Outcome::Failed};
  loop().trigger("/a");
  runUntilPasses(4);
  ASSERT_EQ(passes_.size(), 4u);
  // base 500 ms doubling, each with a jitter in [50%, 100%]
  const std::chrono::milliseconds caps[] = {500ms, 1000ms, 2000ms};
  for (size_t i = 0; i < 3; ++i) {
    const auto gap = starts_[i + 1] - starts_[i];
    EXPECT_GE(gap, caps[i] / 2) << i;
    EXPECT_LE(gap, caps[i]) << i;
    EXPECT_TRUE(passes_[i + 1].empty()) << "a retry re-reads everything";
  }
  // Published: no retry, only the resync a minute later.
  auto step = loop().poll();
  EXPECT_FALSE(step.ran);
  EXPECT_EQ(step.wake, starts_[3] + options_.resync_interval);
}

TEST_F(SyncLoopTest, ABackoffStartsOverAfterASuccess) {
  outcomes_ = {Outcome::Failed, Outcome::Failed, Outcome::Published, Outcome::Failed};
  runUntilPasses(3);
  loop().trigger();
  runUntilPasses(5);
  ASSERT_EQ(passes_.size(), 5u);
  EXPECT_LE(starts_[4] - starts_[3], 500ms);
}

TEST_F(SyncLoopTest, AHeldAnswerIsConfirmedAfterTheConfirmIntervalByAFullFetch) {
  outcomes_ = {Outcome::Published, Outcome::Held};
  loop().poll();
  clock_.advance(options_.min_interval);
  loop().trigger("/a");
  EXPECT_TRUE(loop().poll().ran);
  auto step = loop().poll();
  EXPECT_FALSE(step.ran);
  EXPECT_EQ(step.wake, starts_[1] + options_.confirm_interval);
  runUntilPasses(3);
  ASSERT_EQ(passes_.size(), 3u);
  EXPECT_TRUE(passes_[2].empty());
}

TEST_F(SyncLoopTest, AResyncRunsEveryResyncIntervalWithoutATrigger) {
  loop().poll();
  clock_.advance(options_.resync_interval - 1ms);
  EXPECT_FALSE(loop().poll().ran);
  clock_.advance(1ms);
  EXPECT_TRUE(loop().poll().ran);
  EXPECT_TRUE(passes_[1].empty());
}

TEST_F(SyncLoopTest, LatencyCountsFromTheOldestTriggerAcrossAFailedPass) {
  outcomes_ = {Outcome::Published, Outcome::Failed};
  loop().poll();
  clock_.advance(30ms);
  loop().trigger("/a");
  clock_.advance(70ms);
  loop().trigger("/b");
  runUntilPasses(3);
  ASSERT_EQ(latencies_.size(), 3u);
  EXPECT_EQ(latencies_[1], 70ms);
  EXPECT_EQ(latencies_[2], std::chrono::nanoseconds(starts_[2] - starts_[0] - 30ms));
}

// The real thread: a trigger wakes it (waited for as an event, not a timer).
TEST(SyncLoopThread, ATriggerWakesTheThreadForAPass) {
  std::promise<void> first, second;
  int passes = 0;
  SyncLoopOptions o;
  o.min_interval = 0ms;
  o.resync_interval = 1h;
  SyncLoop loop(
      [&](const std::set<std::string>& hints) {
        ++passes;
        if (passes == 1) {
          first.set_value();
        } else if (passes == 2 && hints.count("/a") == 1) {
          second.set_value();
        }
        PassReport r;
        r.outcome = Outcome::Published;
        return r;
      },
      o, nullptr);
  loop.start();
  ASSERT_EQ(first.get_future().wait_for(10s), std::future_status::ready);
  auto answered = second.get_future();
  loop.trigger("/a");
  EXPECT_EQ(answered.wait_for(10s), std::future_status::ready);
  loop.stop();
}

}  // namespace
}  // namespace mlb::controller
