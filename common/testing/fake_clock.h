#pragma once
// A clock that moves only when told: advance() by the test, sleepFor() by the code
// under test (recorded, returns at once). Thread-safe.
#include <mutex>
#include <vector>

#include "common/clock.h"

namespace mlb::common::testing {

class FakeClock : public Clock {
 public:
  // Starts an hour past the epoch, so that `now() - x` stays a valid time point.
  explicit FakeClock(TimePoint start = TimePoint{} + std::chrono::hours(1)) : now_(start) {}

  TimePoint now() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return now_;
  }
  void sleepFor(Duration d) override {
    std::lock_guard<std::mutex> lock(mu_);
    now_ += d;
    sleeps_.push_back(d);
  }
  void advance(Duration d) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ += d;
  }
  // Every sleepFor() so far, in order.
  std::vector<Duration> sleeps() const {
    std::lock_guard<std::mutex> lock(mu_);
    return sleeps_;
  }

 private:
  mutable std::mutex mu_;
  TimePoint now_;
  std::vector<Duration> sleeps_;
};

}  // namespace mlb::common::testing
