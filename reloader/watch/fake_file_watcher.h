#pragma once
// A FileWatcher for tests: fire() makes the next wait() report a change; a wait()
// with nothing fired moves the FakeClock by its timeout and reports TimedOut.
#include <vector>

#include "common/testing/fake_clock.h"
#include "reloader/watch/file_watcher.h"

namespace mlb::reloader {

class FakeFileWatcher : public FileWatcher {
 public:
  explicit FakeFileWatcher(common::testing::FakeClock& clock) : clock_(clock) {}
  void fire() { fired_ = true; }
  Wake wait(std::chrono::milliseconds timeout) override {
    waits.push_back(timeout);
    if (fired_) {
      fired_ = false;
      return Wake::Changed;
    }
    clock_.advance(timeout);
    return Wake::TimedOut;
  }
  std::vector<std::chrono::milliseconds> waits;  // every wait's timeout, in order

 private:
  common::testing::FakeClock& clock_;
  bool fired_ = false;
};

}  // namespace mlb::reloader
