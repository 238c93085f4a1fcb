#include "reloader/app/first_bundle.h"

#include <algorithm>

#include "common/backoff.h"
#include "common/log.h"

namespace mlb::reloader {

std::string waitForFirstBundle(const FirstBundleSource& source, common::Clock& clock,
                               common::Clock::Duration wait) {
  using std::chrono::milliseconds;
  const auto until = clock.now() + wait;
  common::Backoff no_verdict(milliseconds(1000), milliseconds(16000));
  std::string last_rejected, last_seen;
  auto next_check = clock.now();
  for (;;) {
    const std::string current = source.current();
    if (current != last_seen) {  // a new bundle is checked at once, its own backoff
      last_seen = current;
      next_check = clock.now();
      no_verdict.reset();
    }
    if (!current.empty() && current != last_rejected && clock.now() >= next_check) {
      common::Status valid = source.validate(current);
      if (valid) {
        return current;
      }
      const bool verdict = valid.error().code != common::ErrorCode::Unavailable;
      common::logWarn(verdict ? "first bundle is invalid; waiting for another"
                              : "first bundle could not be checked; checking it again later",
                      {{"version", current}, {"reason", valid.error().message}});
      if (verdict) {
        last_rejected = current;
        no_verdict.reset();
      } else {
        next_check = clock.now() + no_verdict.next();
      }
    }
    if (clock.now() >= until) {
      return "";
    }
    clock.sleepFor(std::min<common::Clock::Duration>(milliseconds(100), until - clock.now()));
  }
}

}  // namespace mlb::reloader
