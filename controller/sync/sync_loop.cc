#include "controller/sync/sync_loop.h"

#include <random>

#include "common/result.h"

namespace mlb::controller {

namespace {

uint64_t seedOf(const SyncLoopOptions& o) {
  return o.backoff_seed != 0 ? o.backoff_seed : static_cast<uint64_t>(std::random_device{}());
}

}  // namespace

SyncLoop::SyncLoop(PassFn pass, SyncLoopOptions options, ReportFn on_report, common::Clock& clock)
    : pass_(std::move(pass)),
      options_(options),
      on_report_(std::move(on_report)),
      clock_(clock),
      backoff_(options.backoff_base, options.backoff_max, seedOf(options)) {
  anchor();
}

// Now is the start: the first pass is due at once and the first resync one interval on.
void SyncLoop::anchor() {
  const TimePoint now = clock_.now();
  first_trigger_ = now;
  last_pass_ = now - options_.min_interval;
  next_resync_ = now + options_.resync_interval;
}

SyncLoop::~SyncLoop() { stop(); }

void SyncLoop::start() {
  // The thread waits on the steady clock: its times must come from it.
  MLB_CHECK(dynamic_cast<common::SystemClock*>(&clock_) != nullptr);
  {
    std::lock_guard<std::mutex> lock(mu_);
    anchor();
  }
  thread_ = std::thread([this] { run(); });
}

void SyncLoop::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void SyncLoop::trigger(const std::string& app_id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    dirty_ = true;
    ++triggers_;
    if (app_id.empty()) {
      full_ = true;
    } else {
      hints_.insert(app_id);
    }
    if (!first_trigger_) {
      first_trigger_ = clock_.now();
    }
  }
  cv_.notify_all();
}

std::optional<SyncLoop::TimePoint> SyncLoop::notYet(TimePoint now) const {
  const bool due = dirty_ || now >= next_resync_ || now >= retry_at_;
  const TimePoint earliest = last_pass_ + options_.min_interval;
  if (due && now >= earliest) {
    return std::nullopt;
  }
  return due ? earliest : std::min(next_resync_, retry_at_);
}

std::set<std::string> SyncLoop::takeHints(TimePoint now) {
  std::set<std::string> hints;
  // A resync tick, a retry or any trigger without an app id means a full pass.
  if (!full_ && now < next_resync_ && now < retry_at_) {
    hints.swap(hints_);
  }
  hints_.clear();
  full_ = false;
  dirty_ = false;
  return hints;
}

SyncLoop::Step SyncLoop::poll() {
  std::set<std::string> hints;
  std::optional<TimePoint> since;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const TimePoint now = clock_.now();
    if (auto wake = notYet(now)) {
      return Step{false, *wake};
    }
    hints = takeHints(now);
    since = first_trigger_;
    first_trigger_.reset();
    last_pass_ = now;
    next_resync_ = now + options_.resync_interval;
  }
  const PassReport report = pass_(hints);
  schedule(report);
  const auto latency = since ? clock_.now() - *since : std::chrono::nanoseconds{0};
  if (on_report_) {
    on_report_(report, latency);
  }
  if (report.outcome == PassReport::Outcome::Failed ||
      report.outcome == PassReport::Outcome::Held) {
    // Keep the trigger time so that latency counts from the original event.
    std::lock_guard<std::mutex> lock(mu_);
    if (!first_trigger_ && since) {
      first_trigger_ = since;
    }
  }
  return Step{true, {}};
}

// After a pass: a failure retries with backoff, a held answer is confirmed after
// confirm_interval; both by a full fetch.
void SyncLoop::schedule(const PassReport& report) {
  std::lock_guard<std::mutex> lock(mu_);
  retry_at_ = TimePoint::max();
  switch (report.outcome) {
    case PassReport::Outcome::Failed:
      retry_at_ = clock_.now() + backoff_.next();
      full_ = true;
      break;
    case PassReport::Outcome::Held:
      retry_at_ = clock_.now() + options_.confirm_interval;
      full_ = true;
      break;
    default:
      backoff_.reset();
  }
}

void SyncLoop::run() {
  for (;;) {
    uint64_t seen = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) {
        return;
      }
      seen = triggers_;
    }
    const Step step = poll();
    if (step.ran) {
      continue;
    }
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_until(lock, step.wake, [&] { return stopping_ || triggers_ != seen; });
  }
}

}  // namespace mlb::controller
