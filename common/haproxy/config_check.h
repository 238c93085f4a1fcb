#pragma once
// `haproxy -c` and its output, as the controller (before publishing) and the reloader
// (before loading) both run it.
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "common/process/process_runner.h"
#include "common/result.h"

namespace mlb::common {

// One [ALERT] line of HAProxy's output and the configuration line it names ("parsing
// [file:N]"), 0 when it names none.
struct HaproxyAlert {
  int line = 0;
  std::string text;
};
std::vector<HaproxyAlert> parseAlerts(std::string_view output);

// The [ALERT] lines joined by newlines; the first 500 bytes of `output` when it has none.
std::string alertSummary(std::string_view output);

struct ConfigCheck {
  // kInvalid is a verdict: HAProxy exited 1 with [ALERT] lines. kFailed is none: killed
  // by a signal (OOM), or an exit without an alert — retry, never reject on it.
  enum class Outcome { kValid, kInvalid, kTimedOut, kFailed };
  Outcome outcome = Outcome::kValid;
  std::string output;  // stderr then stdout
  int exit_code = 0;
  int term_signal = 0;
};

// Runs `haproxy_bin -c -f config_path`. Error only when it cannot be started.
Result<ConfigCheck> checkConfig(ProcessRunner& runner, const std::string& haproxy_bin,
                                const std::string& config_path, std::chrono::milliseconds timeout);

}  // namespace mlb::common
