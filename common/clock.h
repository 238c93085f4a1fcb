#pragma once
// Monotonic time as the loops and passes read it, and their waits, behind an
// interface: the real one is the steady clock; tests advance a FakeClock
// (common/testing/fake_clock.h) instead of sleeping.
#include <chrono>

namespace mlb::common {

class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  using Duration = std::chrono::steady_clock::duration;
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
  // Blocks the calling thread for `d` (a fake moves its time instead).
  virtual void sleepFor(Duration d) = 0;
};

// std::chrono::steady_clock and std::this_thread::sleep_for.
class SystemClock : public Clock {
 public:
  TimePoint now() const override;
  void sleepFor(Duration d) override;
};

// The process's one SystemClock.
Clock& systemClock();

}  // namespace mlb::common
