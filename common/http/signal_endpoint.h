#pragma once
// marathon-lb's /_mlb_signal/hup and /_mlb_signal/usr1 (on :9090, open to anyone who
// reaches it, as marathon-lb's were): a request does what the signal does, in the
// binary the signal means. Rate-limited, since the port is open: at most one request
// is admitted per `min_gap`; the others answer 429 and change nothing.
#include <chrono>
#include <functional>
#include <mutex>
#include <string>

#include "common/clock.h"
#include "common/env.h"
#include "common/http/status_server.h"

namespace mlb::common {

// At most one admission per `min_gap` of `clock`'s time. Thread-safe.
class SignalGate {
 public:
  SignalGate(const Clock& clock, Clock::Duration min_gap) : clock_(clock), min_gap_(min_gap) {}
  bool admit();

 private:
  const Clock& clock_;
  const Clock::Duration min_gap_;
  std::mutex mu_;
  bool admitted_once_ = false;
  Clock::TimePoint last_{};
};

// Why a signal request is refused now ("" when it is not): e.g. the reloader refuses a
// reload while the previous one's old workers still drain, so that the open endpoint
// cannot pile up generations (and so have the governor cut long-lived connections).
using SignalRefusal = std::function<std::string()>;

// The handler: GET or POST (marathon-lb's were GET); 202 and raiseOperatorSignal(signal)
// when `refuse` says nothing and `gate` admits; 409 with the reason when `refuse`
// objects; 429 when the gate does not admit; 405 for other methods. `count` is told
// "accepted", "refused" or "rate_limited" (a metric). `gate` must outlive the handler;
// give each endpoint its own gate.
HttpHandler signalEndpoint(OperatorSignal signal, SignalGate& gate,
                           std::function<void(const std::string& result)> count,
                           SignalRefusal refuse = {});

}  // namespace mlb::common
