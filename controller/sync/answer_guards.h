#pragma once
// The guards against a Marathon that answers wrongly: an empty list after a leader
// failover, a partial answer that removes most servers, health results lost for most
// checked tasks. An answer that trips one is held until the same guard has tripped in
// `confirm` consecutive passes (a real scale-down to zero is confirmed, a glitch is
// not). Pure state, no clock: the passes count.
#include <cstddef>
#include <string>

namespace mlb::controller {

enum class Guard { None, Empty, Shrink, HealthUnknown };

// The names in logs, metrics and /v1/status ("" for None): "empty", "shrink",
// "health_unknown".
const char* guardName(Guard g);

struct GuardOptions {
  double max_shrink = 0.5;  // more than this fraction of the servers gone: held
  int confirm = 3;          // consecutive passes that confirm a held answer
};

// What a pass's answer amounts to.
struct AnswerSize {
  size_t apps = 0, servers = 0;
  size_t checked_tasks = 0;  // tasks of apps with Marathon health checks
  size_t lost_tasks = 0;     // ... whose results are gone although a value was seen
};

class AnswerGuards {
 public:
  explicit AnswerGuards(GuardOptions options) : options_(options) {}

  // What is being served now (published, or found at a restart): the baseline of the
  // empty and shrink guards.
  void serving(size_t apps, size_t servers);

  struct Verdict {
    Guard guard = Guard::None;  // None: go on (nothing tripped, or confirmed)
    std::string detail;         // why it is held, with the confirmation count
  };
  Verdict check(const AnswerSize& answer);

 private:
  Guard trips(const AnswerSize& answer) const;

  GuardOptions options_;
  bool have_baseline_ = false;
  size_t apps_ = 0, servers_ = 0;
  Guard held_ = Guard::None;
  int held_count_ = 0;
};

}  // namespace mlb::controller
