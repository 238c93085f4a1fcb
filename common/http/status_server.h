#pragma once
// A small HTTP server for /metrics, /healthz and friends (civetweb underneath, the
// server prometheus-cpp itself uses). Handlers run on civetweb's worker threads.
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/result.h"

namespace prometheus {
class Registry;
}

namespace mlb::common {

struct HttpRequest {
  std::string method;
  std::string path;
  std::string query;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

class StatusServer {
 public:
  virtual ~StatusServer() = default;
  // The port actually bound (useful with port 0).
  virtual int port() const = 0;
};
using StatusServerPtr = std::unique_ptr<StatusServer>;

// Starts serving `handlers` (exact path -> handler) on `listen` ("0.0.0.0:9102",
// "127.0.0.1:0"). Unknown paths answer 404. Error when the port cannot be bound.
// Handlers must be thread-safe.
Result<StatusServerPtr> startStatusServer(const std::string& listen,
                                          std::map<std::string, HttpHandler> handlers);

// Prometheus text exposition (version 0.0.4) of everything in `registry`.
std::string renderMetrics(prometheus::Registry& registry);
// A handler serving renderMetrics(registry); `registry` must outlive the server.
HttpHandler metricsHandler(prometheus::Registry& registry);

}  // namespace mlb::common
