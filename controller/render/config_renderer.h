#pragma once
// Pure: routing model + templates -> haproxy.cfg text (and map files).
#include <map>
#include <string>
#include <vector>

#include "common/result.h"
#include "controller/model/service.h"
#include "controller/model/service_builder.h"
#include "controller/render/template_set.h"

namespace mlb::controller {

struct RenderOptions {
  bool bind_http_https = true;                                 // false with --dont-bind-http-https
  bool group_https_by_vhost = false;                           // --group-https-by-vhost
  bool haproxy_map = false;                                    // --haproxy-map
  std::vector<std::string> ssl_certs = {"/etc/ssl/cert.pem"};  // --ssl-certs
  std::string haproxy_dir = "/run/mlb/current";  // where the map files are read by HAProxy
  std::string state_dir = "/run/mlb";            // stats socket, server state
  int maxconn = 50000;
  std::string hard_stop_after = "15m";
  std::vector<std::string> default_options = {"redispatch", "http-server-close", "dontlognull"};
  // --haproxy-log: "" keeps the `log` targets HAPROXY_HEAD names (marathon-lb's
  // /dev/log); "stdout", "stderr" or a syslog socket path replaces them (the image:
  // stdout, the container's output).
  std::string haproxy_log;
};

struct RenderedConfig {
  std::string config;
  std::string domain_map;  // domain2backend.map (empty without --haproxy-map)
  std::string app_map;     // app2backend.map
  // Services left out because one of their templates did not render (unknown
  // placeholder in a label template, ...), with the reason.
  std::vector<Quarantined> quarantined;
  // The byte range [begin, end) of each service's fragments in `config`, in config
  // order, so that a line HAProxy rejects can be mapped back to the service that
  // owns it. Bytes, not lines: lines are counted only when a config is rejected.
  struct Span {
    std::string app_id;
    int port_index = 0;
    size_t begin = 0;
    size_t end = 0;
  };
  std::vector<Span> spans;

  // The span holding line `line` (1-based) of `config`, or null (a global line).
  const Span* spanAtLine(int line) const;
};

// Renders the complete configuration. Byte-deterministic for the same model,
// templates and options. A service whose per-port templates fail to render is
// left out (listed in `quarantined`); an Error only when a global template fails.
common::Result<RenderedConfig> renderConfig(const ServiceModel& model, const TemplateSet& templates,
                                            const RenderOptions& options);

}  // namespace mlb::controller
