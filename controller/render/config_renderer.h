#pragma once
// Pure: routing model + templates -> haproxy.cfg text (and map files).
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/fs/config_edits.h"
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

  bool operator==(const RenderOptions&) const = default;
};

// Each service's rendered fragments, kept from one render to the next: a service
// that is the same (the same shared Service, or an equal one) as at the last render
// is not rendered again, so a render costs the services that changed plus joining
// the pieces. Entries of services absent from a render are dropped at its end. The
// cache is bound to one TemplateSet and RenderOptions: given others, it starts over.
// Not thread-safe; one per renderer.
class RenderCache {
 public:
  RenderCache();
  ~RenderCache();
  RenderCache(RenderCache&&) noexcept;
  RenderCache& operator=(RenderCache&&) noexcept;

  // Renders that patched the last assembly in place (services replaced by ones of the
  // same shape at the same places) instead of assembling the whole configuration.
  size_t patched() const;

  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

struct RenderedConfig {
  // The whole text. Rendered with a RenderCache: empty until joinConfig() (a task
  // event's bundle is written from the pieces that changed, not from the whole text).
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
    // Whose fragment: a service of the model rendered, which must outlive the span
    // (not held: 20,000 spans a pass would touch 5,000 reference counts twice).
    const Service* owner = nullptr;
    size_t begin = 0;
    size_t end = 0;
    const std::string& app_id() const { return owner->app_id; }
    int port_index() const { return owner->port_index; }
  };
  std::vector<Span> spans;
  // SHA-256 (hex) over the SHA-256s of the runs of 256 piece digests (the SHA-256 of
  // each piece of `config`, in order): a fragment keeps its digest while it is
  // unchanged and the cache keeps each run's, so the digest of a new configuration
  // costs the pieces and runs that changed. Names the bundle (bundleVersion).
  std::string config_digest;
  // Each piece of `config` (a fragment of a service, or text built on the fly) with
  // its digest, in order: a bundle is written as the edits of the pieces that changed.
  std::vector<common::ConfigPiece> pieces;
  // Rendered with a RenderCache: the text of each piece, views into the cache's
  // fragments and `owned`, valid until the cache renders again.
  std::vector<std::string_view> piece_text;
  std::deque<std::string> owned;  // the text built for this render (global templates)
  // The configuration's shape (config_shape.h), combined from each piece's: equal
  // shapes, equally valid.
  std::string shape;

  // The span holding line `line` (1-based) of `config`, or null (a global line).
  const Span* spanAtLine(int line) const;
};

// Fills `config` from `piece_text` when it is empty (cost: the whole text).
void joinConfig(RenderedConfig& rendered);

// Renders the complete configuration. Byte-deterministic for the same model,
// templates and options. A service whose per-port templates fail to render is
// left out (listed in `quarantined`); an Error only when a global template fails.
common::Result<RenderedConfig> renderConfig(const ServiceModel& model, const TemplateSet& templates,
                                            const RenderOptions& options);
// The same bytes, reusing and refreshing `cache`'s fragments, left in pieces
// (`piece_text`; joinConfig() joins them).
common::Result<RenderedConfig> renderConfig(const ServiceModel& model, const TemplateSet& templates,
                                            const RenderOptions& options, RenderCache& cache);

}  // namespace mlb::controller
