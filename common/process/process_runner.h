#pragma once
// Runs a child process to completion. The interface the validator and tests use.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"

namespace mlb::common {

struct ProcessResult {
  int exit_code = -1;      // valid when !signaled && !timed_out
  int term_signal = 0;     // the signal that ended the child, if any
  bool timed_out = false;  // killed by us after the timeout
  std::string out;
  std::string err;
  bool ok() const { return !timed_out && term_signal == 0 && exit_code == 0; }
};

class ProcessRunner {
 public:
  virtual ~ProcessRunner() = default;
  // Runs argv[0] (a path) with the arguments, captures stdout and stderr, kills it
  // after `timeout`. Error only when it cannot be started. Thread-safe.
  virtual Result<ProcessResult> run(const std::vector<std::string>& argv,
                                    std::chrono::milliseconds timeout) = 0;
};
using ProcessRunnerPtr = std::unique_ptr<ProcessRunner>;

// The Boost.Process implementation (the only file that includes Boost.Process).
ProcessRunnerPtr makeBoostProcessRunner();

}  // namespace mlb::common
