#pragma once
// The entrypoint's wait for the controller's first valid bundle (a fresh state dir):
// each new `current` is validated; a rejected version is not checked again; a check
// without a verdict (haproxy -c killed, timed out, not spawned) is retried with backoff
// (1 s doubling to 16 s), never in a tight loop on a host that is already loaded.
#include <functional>
#include <string>

#include "common/clock.h"
#include "common/result.h"

namespace mlb::reloader {

struct FirstBundleSource {
  std::function<std::string()> current;                        // "" when none yet
  std::function<common::Status(const std::string&)> validate;  // Unavailable: no verdict
};

// The first version that validates, or "" once `wait` is over.
std::string waitForFirstBundle(const FirstBundleSource& source, common::Clock& clock,
                               common::Clock::Duration wait);

}  // namespace mlb::reloader
