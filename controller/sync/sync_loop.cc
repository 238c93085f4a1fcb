#include "controller/sync/sync_loop.h"

#include <random>

#include "common/backoff.h"

namespace mlb::controller {

using Clock = std::chrono::steady_clock;

SyncLoop::SyncLoop(PassFn pass, SyncLoopOptions options, ReportFn on_report)
    : pass_(std::move(pass)), options_(options), on_report_(std::move(on_report)) {}

SyncLoop::~SyncLoop() { stop(); }

void SyncLoop::start() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    first_trigger_ = Clock::now();
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
    if (app_id.empty()) {
      full_ = true;
    } else {
      hints_.insert(app_id);
    }
    if (!first_trigger_) {
      first_trigger_ = Clock::now();
    }
  }
  cv_.notify_all();
}

void SyncLoop::run() {
  common::Backoff backoff(options_.backoff_base, options_.backoff_max,
                          static_cast<uint64_t>(std::random_device{}()));
  Clock::time_point last_pass = Clock::now() - options_.min_interval;
  Clock::time_point next_resync = Clock::now() + options_.resync_interval;
  // time_point::max() = no retry scheduled (std::optional trips GCC 12's -Wmaybe-uninitialized).
  Clock::time_point retry_at = Clock::time_point::max();
  for (;;) {
    std::optional<Clock::time_point> since;
    std::set<std::string> hints;
    {
      std::unique_lock<std::mutex> lock(mu_);
      for (;;) {
        if (stopping_) {
          return;
        }
        auto now = Clock::now();
        bool due = dirty_ || now >= next_resync || now >= retry_at;
        auto earliest = last_pass + options_.min_interval;
        if (due && now >= earliest) {
          break;
        }
        Clock::time_point wake = next_resync;
        wake = std::min(wake, retry_at);
        if (due) {
          wake = earliest;
        }
        cv_.wait_until(lock, wake);
      }
      dirty_ = false;
      since = first_trigger_;
      first_trigger_.reset();
      // A resync tick, a retry or any trigger without an app id means a full pass.
      if (full_ || Clock::now() >= next_resync || Clock::now() >= retry_at) {
        hints.clear();
      } else {
        hints.swap(hints_);
      }
      hints_.clear();
      full_ = false;
    }
    last_pass = Clock::now();
    next_resync = last_pass + options_.resync_interval;
    PassReport report = pass_(hints);
    retry_at = Clock::time_point::max();
    switch (report.outcome) {
      case PassReport::Outcome::Failed:
        retry_at = Clock::now() + backoff.next();
        {
          std::lock_guard<std::mutex> lock(mu_);
          full_ = true;  // retries re-read everything
        }
        break;
      case PassReport::Outcome::Held:
        retry_at = Clock::now() + options_.confirm_interval;
        {
          std::lock_guard<std::mutex> lock(mu_);
          full_ = true;  // a guard is confirmed only by full fetches
        }
        break;
      default:
        backoff.reset();
    }
    std::chrono::nanoseconds latency{0};
    if (since) {
      latency = Clock::now() - *since;
    }
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
  }
}

}  // namespace mlb::controller
