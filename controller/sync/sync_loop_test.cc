#include "controller/sync/sync_loop.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace mlb::controller {
namespace {

using namespace std::chrono_literals;

TEST(SyncLoop, ManyTriggersCoalesceIntoFewPassesAtLeastMinIntervalApart) {
  std::atomic<int> passes{0};
  std::vector<std::chrono::steady_clock::time_point> starts;
  std::mutex mu;
  SyncLoopOptions o;
  o.min_interval = 100ms;
  o.resync_interval = 1h;
  SyncLoop loop(
      [&](const std::set<std::string>&) {
        {
          std::lock_guard<std::mutex> l(mu);
          starts.push_back(std::chrono::steady_clock::now());
        }
        ++passes;
        std::this_thread::sleep_for(5ms);
        PassReport r;
        r.outcome = PassReport::Outcome::Published;
        return r;
      },
      o, nullptr);
  loop.start();
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 10000; ++i) {
    loop.trigger();
    if (i % 100 == 0) {
      std::this_thread::sleep_for(5ms);
    }
  }
  auto elapsed = std::chrono::steady_clock::now() - t0;
  std::this_thread::sleep_for(250ms);  // let the last trigger be answered
  loop.stop();
  const int bound = static_cast<int>(elapsed / o.min_interval) + 3;
  EXPECT_LE(passes.load(), bound);
  EXPECT_GE(passes.load(), 2);  // the first pass and the answer to later triggers
  for (size_t i = 1; i < starts.size(); ++i) {
    EXPECT_GE(starts[i] - starts[i - 1], o.min_interval - 1ms);
  }
}

TEST(SyncLoop, FailureRetriesWithBackoffWithoutATrigger) {
  std::atomic<int> passes{0};
  SyncLoopOptions o;
  o.min_interval = 1ms;
  o.backoff_base = 20ms;
  o.backoff_max = 40ms;
  o.resync_interval = 1h;
  SyncLoop loop(
      [&](const std::set<std::string>&) {
        PassReport r;
        r.outcome = ++passes < 3 ? PassReport::Outcome::Failed : PassReport::Outcome::Published;
        return r;
      },
      o, nullptr);
  loop.start();
  for (int i = 0; i < 100 && passes < 3; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  loop.stop();
  EXPECT_EQ(passes.load(), 3);  // two failures retried, then stops (no trigger, no resync)
}

}  // namespace
}  // namespace mlb::controller
