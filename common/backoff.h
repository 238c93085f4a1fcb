#pragma once
// Jittered exponential backoff. Pure given the seed; not thread-safe.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>

namespace mlb::common {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds base, std::chrono::milliseconds max, uint64_t seed = 1)
      : base_(base), max_(max), rng_(seed) {}
  // The next delay: base * 2^attempt capped at max, then a uniform jitter in [50%, 100%].
  std::chrono::milliseconds next() {
    auto exp = base_.count() << std::min(attempt_, 20);
    auto capped = std::min<int64_t>(exp, max_.count());
    ++attempt_;
    std::uniform_int_distribution<int64_t> dist(capped / 2, capped);
    return std::chrono::milliseconds(dist(rng_));
  }
  void reset() { attempt_ = 0; }
  int attempts() const { return attempt_; }

 private:
  std::chrono::milliseconds base_, max_;
  int attempt_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace mlb::common
