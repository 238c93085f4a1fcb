#include "common/http/signal_endpoint.h"

namespace mlb::common {

bool SignalGate::admit() {
  std::lock_guard<std::mutex> lock(mu_);
  const auto now = clock_.now();
  if (admitted_once_ && now - last_ < min_gap_) {
    return false;
  }
  admitted_once_ = true;
  last_ = now;
  return true;
}

HttpHandler signalEndpoint(OperatorSignal signal, SignalGate& gate,
                           std::function<void(const std::string& result)> count) {
  return [signal, &gate, count = std::move(count)](const HttpRequest&) {
    if (!gate.admit()) {
      count("rate_limited");
      return HttpResponse{429, "text/plain; charset=utf-8",
                          "rate limited: one signal request per second\n"};
    }
    raiseOperatorSignal(signal);
    count("accepted");
    return HttpResponse{202, "text/plain; charset=utf-8", "accepted\n"};
  };
}

}  // namespace mlb::common
