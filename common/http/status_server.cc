#include "common/http/status_server.h"

#include <civetweb.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <cstring>
#include <sstream>

namespace mlb::common {
namespace {

const char* reasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 202:
      return "Accepted";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 429:
      return "Too Many Requests";
    case 503:
      return "Service Unavailable";
    default:
      return "Error";
  }
}

class CivetStatusServer : public StatusServer {
 public:
  explicit CivetStatusServer(std::map<std::string, HttpHandler> handlers)
      : handlers_(std::move(handlers)) {}
  ~CivetStatusServer() override {
    if (ctx_ != nullptr) {
      mg_stop(ctx_);
    }
  }

  Status start(const std::string& listen) {
    mg_init_library(0);
    const char* options[] = {"listening_ports",    listen.c_str(), "num_threads", "4",
                             "request_timeout_ms", "10000",        nullptr};
    mg_callbacks callbacks{};
    // civetweb logs bind errors through this callback; keep them out of stderr.
    callbacks.log_message = [](const mg_connection*, const char*) { return 1; };
    ctx_ = mg_start(&callbacks, this, options);
    if (ctx_ == nullptr) {
      return Error::io("cannot listen on " + listen + " (address in use or invalid)");
    }
    mg_set_request_handler(ctx_, "/", &CivetStatusServer::handle, this);
    mg_server_port ports[4];
    int n = mg_get_server_ports(ctx_, 4, ports);
    port_ = n > 0 ? ports[0].port : 0;
    return Status::ok();
  }

  int port() const override { return port_; }

 private:
  static int handle(mg_connection* conn, void* self_ptr) {
    auto* self = static_cast<CivetStatusServer*>(self_ptr);
    const mg_request_info* info = mg_get_request_info(conn);
    HttpRequest req;
    req.method = info->request_method ? info->request_method : "";
    req.path = info->local_uri ? info->local_uri : "";
    req.query = info->query_string ? info->query_string : "";
    HttpResponse resp;
    auto it = self->handlers_.find(req.path);
    if (it == self->handlers_.end()) {
      resp = {404, "text/plain; charset=utf-8", "not found\n"};
    } else {
      try {
        resp = it->second(req);
      } catch (const std::exception& e) {
        resp = {500, "text/plain; charset=utf-8", std::string("internal error: ") + e.what()};
      }
    }
    const char* reason = reasonPhrase(resp.status);
    mg_printf(conn,
              "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
              "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
              resp.status, reason, resp.content_type.c_str(), resp.body.size());
    if (req.method != "HEAD") {
      mg_write(conn, resp.body.data(), resp.body.size());
    }
    return resp.status;
  }

  std::map<std::string, HttpHandler> handlers_;
  mg_context* ctx_ = nullptr;
  int port_ = 0;
};

}  // namespace

Result<StatusServerPtr> startStatusServer(const std::string& listen,
                                          std::map<std::string, HttpHandler> handlers) {
  auto server = std::make_unique<CivetStatusServer>(std::move(handlers));
  if (auto st = server->start(listen); !st) {
    return st.error();
  }
  return StatusServerPtr(std::move(server));
}

std::string renderMetrics(prometheus::Registry& registry) {
  prometheus::TextSerializer serializer;
  std::ostringstream out;
  serializer.Serialize(out, registry.Collect());
  return out.str();
}

HttpHandler metricsHandler(prometheus::Registry& registry) {
  return [&registry](const HttpRequest&) {
    return HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8", renderMetrics(registry)};
  };
}

}  // namespace mlb::common
