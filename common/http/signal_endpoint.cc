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
                           std::function<void(const std::string& result)> count,
                           SignalRefusal refuse) {
  return [signal, &gate, count = std::move(count),
          refuse = std::move(refuse)](const HttpRequest& req) {
    if (req.method != "GET" && req.method != "POST") {
      return HttpResponse{405, "text/plain; charset=utf-8", "GET or POST\n"};
    }
    if (std::string why = refuse ? refuse() : ""; !why.empty()) {
      count("refused");
      return HttpResponse{409, "text/plain; charset=utf-8", "refused: " + why + "\n"};
    }
    if (!gate.admit()) {
      count("rate_limited");
      return HttpResponse{429, "text/plain; charset=utf-8",
                          "rate limited: one request per interval\n"};
    }
    raiseOperatorSignal(signal);
    count("accepted");
    return HttpResponse{202, "text/plain; charset=utf-8", "accepted\n"};
  };
}

}  // namespace mlb::common
