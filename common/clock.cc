#include "common/clock.h"

#include <thread>

namespace mlb::common {

Clock::TimePoint SystemClock::now() const { return std::chrono::steady_clock::now(); }

void SystemClock::sleepFor(Duration d) { std::this_thread::sleep_for(d); }

Clock& systemClock() {
  static SystemClock clock;
  return clock;
}

}  // namespace mlb::common
