#include "controller/render/config_renderer.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <unordered_map>

#include "common/hash.h"
#include "controller/model/labels.h"
#include "controller/render/config_shape.h"
#include "controller/render/mlb_globals.h"

namespace mlb::controller {
namespace {

using common::Error;
using common::Result;
using common::Status;

// Compiles per-port label templates once per render (apps often share them).
class OverrideCache {
 public:
  Result<const Template*> get(const std::string& name, const std::string& legacy_text) {
    auto key = name + '\0' + legacy_text;
    auto it = cache_.find(key);
    if (it == cache_.end()) {
      auto mustache = legacyToMustache(name, legacy_text);
      std::unique_ptr<Result<Template>> compiled;
      if (!mustache) {
        compiled = std::make_unique<Result<Template>>(mustache.error());
      } else {
        compiled = std::make_unique<Result<Template>>(Template::compile(*mustache));
      }
      it = cache_.emplace(std::move(key), std::move(compiled)).first;
    }
    if (!it->second->has_value()) {
      return it->second->error();
    }
    return &it->second->value();
  }
  size_t size() const { return cache_.size(); }

 private:
  std::unordered_map<std::string, std::unique_ptr<Result<Template>>> cache_;
};

// A byte range [begin, end) of one Sections buffer.
struct Range {
  size_t begin = 0;
  size_t end = 0;
  bool empty() const { return begin == end; }
};

// The text of every service, one buffer per kind of fragment: services append to
// them as they render, and a service's fragment is a Range in its buffer. One
// growing buffer per kind instead of half a dozen strings per service (at 5000
// apps: ~80,000 fewer allocations and less memory).
struct Sections {
  std::string userlist, http_acl, https_acl, appid_acl, frontend, backend;

  struct Marks {
    size_t userlist, http_acl, https_acl, appid_acl, frontend, backend;
  };
  Marks mark() const {
    return {userlist.size(),  http_acl.size(), https_acl.size(),
            appid_acl.size(), frontend.size(), backend.size()};
  }
  // Drops everything appended since `m` (a service that failed to render).
  void rollback(const Marks& m) {
    userlist.resize(m.userlist);
    http_acl.resize(m.http_acl);
    https_acl.resize(m.https_acl);
    appid_acl.resize(m.appid_acl);
    frontend.resize(m.frontend);
    backend.resize(m.backend);
  }
};

// Everything one service contributes to the configuration: ranges of Sections.
struct Fragments {
  Range userlist;
  Range http_acl;  // :80 rules
  // :443 rules per vhost, in vhost order (concatenated unless grouped by vhost). The
  // vhosts are copies: nothing of the fragments points into the Service rendered.
  std::vector<std::pair<std::string, Range>> https_acl;
  Range appid_acl;
  Range frontend;
  Range backend;
  int weight = 0;
  bool uses_http_map = false;
  bool uses_https_map = false;
  std::vector<std::pair<std::string, std::string>> domain_map;
  bool http_mode = false;
};

// The proxy-pass glue of a port without a vhost: its `http-request set-header Host`
// line has no value (HAProxy refuses it). marathon-lb wrote "None" there; the line is
// left out, so the path is rewritten and the Host header stays as the client sent it.
void dropEmptyHostHeader(std::string& b, size_t from) {
  static constexpr std::string_view kLine = "http-request set-header Host";
  size_t line = from;
  while (line < b.size()) {
    size_t end = b.find('\n', line);
    end = end == std::string::npos ? b.size() : end + 1;
    std::string_view text(b.data() + line, end - line);
    const size_t first = text.find_first_not_of(" \t");
    std::string_view rest = first == std::string_view::npos ? "" : text.substr(first);
    if (rest.substr(0, kLine.size()) == kLine &&
        rest.find_first_not_of(" \t\r\n", kLine.size()) == std::string_view::npos) {
      b.erase(line, end - line);
      continue;
    }
    line = end;
  }
}

// Strings the Vars of one service point into. One Scratch serves every service of
// a render, so that their buffers are allocated once, not once per service.
struct Scratch {
  std::string app_path, cleaned_app_id, service_port, ssl_cert, bind_options, acl_name;
  std::string hc_port_index, hc_port, hc_path, hc_timeout, hc_interval, hc_grace, hc_max, hc_falls;
  std::string port, id, cookie, check, port_options, raw, net, first_port_options;
  std::string https_prefix;
};

struct ServiceRenderer {
  ServiceRenderer(const Service& service, const TemplateSet& set, const RenderOptions& options,
                  OverrideCache& overrides, Scratch& scratch, Sections& sections)
      : s(service), templates(set), opts(options), cache(overrides), x(scratch), sec(sections) {}
  const Service& s;
  const TemplateSet& templates;
  const RenderOptions& opts;
  OverrideCache& cache;
  Scratch& x;
  Sections& sec;
  Vars vars;

  Status render(std::string_view name, std::string& out) {
    const Template* t = nullptr;
    auto ov = s.template_overrides.find(name);
    // In map mode marathon-lb lets the non-map label override the map template.
    if (ov == s.template_overrides.end() && name.rfind("MAP_", 0) == 0) {
      ov = s.template_overrides.find(name.substr(4));
    }
    if (ov != s.template_overrides.end()) {
      auto r = cache.get(ov->first, ov->second);
      if (!r) {
        return Error::invalidTemplate("label HAPROXY_" + std::to_string(s.port_index) + "_" +
                                      ov->first + ": " + r.error().message);
      }
      t = *r;
    } else {
      t = &templates.get(name);
    }
    Status st = t->render(vars, out);
    if (!st) {
      return Error::invalidTemplate((ov != s.template_overrides.end()
                                         ? "label HAPROXY_" + std::to_string(s.port_index) + "_"
                                         : "template HAPROXY_") +
                                    std::string(name) + ": " + st.error().message);
    }
    return Status::ok();
  }

  // Sets `out` to the decimal text of n, reusing its buffer.
  static void setNumber(std::string& out, int n) {
    char buf[16];
    const auto end = std::to_chars(buf, buf + sizeof buf, n).ptr;
    out.assign(buf, static_cast<size_t>(end - buf));
  }

  void setup() {
    x.app_path.assign(s.app_id, 1);
    std::replace(x.app_path.begin(), x.app_path.end(), '/', '_');
    x.cleaned_app_id.assign(s.app_id);
    sanitizeNameInPlace(x.cleaned_app_id);
    setNumber(x.service_port, s.service_port);
    x.ssl_cert.clear();
    if (!s.ssl_cert.empty()) {
      x.ssl_cert.append(" ssl crt ").append(s.ssl_cert);
    }
    x.bind_options.clear();
    if (!s.bind_options.empty()) {
      x.bind_options.append(" ").append(s.bind_options);
    }
    vars.set(Var::backend, s.backend);
    vars.set(Var::appId, s.app_id);
    vars.set(Var::cleanedUpAppId, x.cleaned_app_id);
    vars.set(Var::hostname, s.hostname);
    vars.set(Var::mode, s.mode);
    vars.set(Var::balance, s.balance);
    vars.set(Var::bindAddr, s.bind_addr);
    vars.set(Var::servicePort, x.service_port);
    vars.set(Var::sslCert, x.ssl_cert);
    vars.set(Var::bindOptions, x.bind_options);
    vars.set(Var::haproxy_dir, opts.haproxy_dir);
    vars.set(Var::path, s.path);
    vars.set(Var::proxypath, s.proxypath);
    vars.set(Var::rootpath, s.revproxypath);
    vars.set(Var::redirpath, s.redirpath);
    if (!s.auth_user.empty()) {
      vars.set(Var::realm, s.auth_realm);
      vars.set(Var::user, s.auth_user);
      vars.set(Var::passwd, s.auth_passwd);
    }
    if (!s.vhosts.empty()) {
      x.acl_name.assign(s.vhosts.front());
      sanitizeNameInPlace(x.acl_name);
      x.acl_name.append("_").append(x.app_path);
      vars.set(Var::cleanedUpHostname, x.acl_name);
    }
    if (s.health_check) {
      const HealthCheck& hc = *s.health_check;
      if (hc.port_index) {
        setNumber(x.hc_port_index, *hc.port_index);
      } else {
        x.hc_port_index.assign("None");
      }
      if (hc.port) {
        setNumber(x.hc_port, *hc.port);
      } else {
        x.hc_port.assign("None");
      }
      x.hc_path.assign(hc.path.empty() ? std::string_view("/") : std::string_view(hc.path));
      setNumber(x.hc_timeout, hc.timeout_seconds);
      setNumber(x.hc_interval, hc.interval_seconds);
      setNumber(x.hc_grace, hc.grace_period_seconds);
      setNumber(x.hc_max, hc.max_consecutive_failures);
      setNumber(x.hc_falls, hc.max_consecutive_failures + 1);
      vars.set(Var::healthCheckPortIndex, x.hc_port_index);
      vars.set(Var::healthCheckPort, x.hc_port);
      vars.set(Var::healthCheckProtocol, hc.protocol);
      vars.set(Var::healthCheckPath, x.hc_path);
      vars.set(Var::healthCheckTimeoutSeconds, x.hc_timeout);
      vars.set(Var::healthCheckIntervalSeconds, x.hc_interval);
      vars.set(Var::healthCheckGracePeriodSeconds, x.hc_grace);
      vars.set(Var::healthCheckMaxConsecutiveFailures, x.hc_max);
      vars.set(Var::healthCheckFalls, x.hc_falls);
      vars.set(Var::healthCheckPortOptions, "");
    }
  }

  bool tcpHealthCheck() const {
    const std::string& p = s.health_check->protocol;
    return s.mode == "tcp" || p == "TCP" || p == "MESOS_TCP";
  }

  Status vhostRules(Fragments& f) {
    return s.vhosts.size() > 1 ? multiVhostRules(f) : singleVhostRules(f);
  }

  void addDomain(Fragments& f, const std::string& host) {
    f.domain_map.emplace_back(host, s.backend);
  }

  // A VHOST list: the path (and auth) ACLs once, each name's ACLs, then the routing.
  Status multiVhostRules(Fragments& f) {
    const bool path = !s.path.empty();
    const bool auth = !s.auth_user.empty();
    std::string& https_prefix = x.https_prefix;
    https_prefix.clear();
    vars.set(Var::hostname, s.vhosts.front());
    if (path) {
      if (auth) {
        if (auto st = render("HTTP_FRONTEND_ACL_ONLY_WITH_PATH_AND_AUTH", sec.http_acl); !st) {
          return st;
        }
      } else if (auto st = render("HTTP_FRONTEND_ACL_ONLY_WITH_PATH", sec.http_acl); !st) {
        return st;
      }
      if (auto st = render("HTTPS_FRONTEND_ACL_ONLY_WITH_PATH", https_prefix); !st) {
        return st;
      }
    }
    for (const auto& vh : s.vhosts) {
      if (auto st = multiVhostAcl(f, vh); !st) {
        return st;
      }
    }
    return multiVhostRouting();
  }

  Status multiVhostAcl(Fragments& f, const std::string& vh) {
    const bool path = !s.path.empty();
    const bool auth = !s.auth_user.empty();
    const bool map = opts.haproxy_map;
    vars.set(Var::hostname, vh);
    if (map && !path && !auth && !s.redirect_to_https) {
      f.uses_http_map = true;
      addDomain(f, vh);
    } else if (auto st = render("HTTP_FRONTEND_ACL_ONLY", sec.http_acl); !st) {
      return st;
    }
    const size_t begin = sec.https_acl.size();
    std::string& https = sec.https_acl;
    https.append(x.https_prefix);
    Status st;
    if (path) {
      st = render(auth ? "HTTPS_FRONTEND_ACL_WITH_AUTH_AND_PATH" : "HTTPS_FRONTEND_ACL_WITH_PATH",
                  https);
    } else if (auth) {
      st = render("HTTPS_FRONTEND_ACL_WITH_AUTH", https);
    } else if (map) {
      f.uses_https_map = true;
      addDomain(f, vh);
    } else {
      st = render("HTTPS_FRONTEND_ACL", https);
    }
    if (!st) {
      return st;
    }
    f.https_acl.emplace_back(std::string(vh), Range{begin, https.size()});
    return Status::ok();
  }

  Status multiVhostRouting() {
    const bool path = !s.path.empty();
    const bool auth = !s.auth_user.empty();
    vars.set(Var::hostname, s.hostname);
    if (s.redirect_to_https) {
      return render(
          path ? "BACKEND_REDIRECT_HTTP_TO_HTTPS_WITH_PATH" : "BACKEND_REDIRECT_HTTP_TO_HTTPS",
          sec.http_acl);
    }
    if (path) {
      return render(auth ? "HTTP_FRONTEND_ROUTING_ONLY_WITH_PATH_AND_AUTH"
                         : "HTTP_FRONTEND_ROUTING_ONLY_WITH_PATH",
                    sec.http_acl);
    }
    if (auth) {
      return render("HTTP_FRONTEND_ROUTING_ONLY_WITH_AUTH", sec.http_acl);
    }
    return opts.haproxy_map ? Status::ok() : render("HTTP_FRONTEND_ROUTING_ONLY", sec.http_acl);
  }

  // One vhost.
  Status singleVhostRules(Fragments& f) {
    const size_t begin = sec.https_acl.size();
    std::string& https = sec.https_acl;
    if (auto st = s.path.empty() ? singleVhostAcls(f) : singleVhostPathAcls(); !st) {
      return st;
    }
    f.https_acl.emplace_back(s.hostname, Range{begin, https.size()});
    return Status::ok();
  }

  Status singleVhostPathAcls() {
    const bool auth = !s.auth_user.empty();
    if (s.redirect_to_https) {
      for (const char* t : {"HTTP_FRONTEND_ACL_ONLY", "HTTP_FRONTEND_ACL_ONLY_WITH_PATH",
                            "BACKEND_REDIRECT_HTTP_TO_HTTPS_WITH_PATH"}) {
        if (auto st = render(t, sec.http_acl); !st) {
          return st;
        }
      }
    } else if (auto st = render(
                   auth ? "HTTP_FRONTEND_ACL_WITH_AUTH_AND_PATH" : "HTTP_FRONTEND_ACL_WITH_PATH",
                   sec.http_acl);
               !st) {
      return st;
    }
    if (auto st = render("HTTPS_FRONTEND_ACL_ONLY_WITH_PATH", sec.https_acl); !st) {
      return st;
    }
    return render(auth ? "HTTPS_FRONTEND_ACL_WITH_AUTH_AND_PATH" : "HTTPS_FRONTEND_ACL_WITH_PATH",
                  sec.https_acl);
  }

  Status singleVhostAcls(Fragments& f) {
    const bool auth = !s.auth_user.empty();
    const bool map = opts.haproxy_map;
    Status st;
    if (s.redirect_to_https) {
      st = render("HTTP_FRONTEND_ACL_ONLY", sec.http_acl);
      if (st) {
        st = render("BACKEND_REDIRECT_HTTP_TO_HTTPS", sec.http_acl);
      }
    } else if (auth) {
      st = render("HTTP_FRONTEND_ACL_WITH_AUTH", sec.http_acl);
    } else if (map) {
      f.uses_http_map = true;
      addDomain(f, s.hostname);
    } else {
      st = render("HTTP_FRONTEND_ACL", sec.http_acl);
    }
    if (!st) {
      return st;
    }
    if (auth) {
      return render("HTTPS_FRONTEND_ACL_WITH_AUTH", sec.https_acl);
    }
    if (map) {
      f.uses_https_map = true;
      addDomain(f, s.hostname);
      return Status::ok();
    }
    return render("HTTPS_FRONTEND_ACL", sec.https_acl);
  }

  Status backend() {
    std::string& b = sec.backend;
    for (auto step : {&ServiceRenderer::backendHead, &ServiceRenderer::networkAllowed}) {
      if (auto st = (this->*step)(b); !st) {
        return st;
      }
    }
    if (s.sticky) {
      if (auto st = render("BACKEND_STICKY_OPTIONS", b); !st) {
        return st;
      }
    }
    const char* server_check = nullptr;
    if (auto st = backendHealthCheck(b, server_check); !st) {
      return st;
    }
    for (const auto& srv : s.servers) {
      if (auto st = serverLine(srv, server_check, b); !st) {
        return st;
      }
    }
    return Status::ok();
  }

  // BACKEND_HEAD, and for http: HSTS, options, proxy-pass, revproxy, redirect.
  Status backendHead(std::string& b) {
    if (auto st = render("BACKEND_HEAD", b); !st) {
      return st;
    }
    if (s.mode != "http") {
      return Status::ok();
    }
    const std::pair<bool, const char*> parts[] = {
        {s.use_hsts, "BACKEND_HSTS_OPTIONS"},
        {true, "BACKEND_HTTP_OPTIONS"},
        {!s.proxypath.empty(), "HTTP_BACKEND_PROXYPASS_GLUE"},
        {!s.revproxypath.empty(), "HTTP_BACKEND_REVPROXY_GLUE"},
        {!s.redirpath.empty(), "HTTP_BACKEND_REDIR"}};
    for (const auto& [wanted, name] : parts) {
      if (!wanted) {
        continue;
      }
      const size_t start = b.size();
      if (auto st = render(name, b); !st) {
        return st;
      }
      if (s.hostname.empty() && std::string_view(name) == "HTTP_BACKEND_PROXYPASS_GLUE") {
        dropEmptyHostHeader(b, start);
      }
    }
    return Status::ok();
  }

  // HAPROXY_{n}_BACKEND_NETWORK_ALLOWED: one ACL per network, then allow/deny.
  Status networkAllowed(std::string& b) {
    if (s.network_allowed.empty()) {
      return Status::ok();
    }
    const bool http = s.mode == "http";
    std::string& net = x.net;
    const std::string& list = s.network_allowed;
    for (size_t i = 0; i < list.size();) {
      const size_t j = list.find_first_of(" \t", i);
      net.assign(list, i, j == std::string::npos ? std::string::npos : j - i);
      if (!net.empty()) {
        vars.set(Var::network_allowed, net);
        if (auto st = render(
                http ? "HTTP_BACKEND_NETWORK_ALLOWED_ACL" : "TCP_BACKEND_NETWORK_ALLOWED_ACL", b);
            !st) {
          return st;
        }
      }
      if (j == std::string::npos) {
        break;
      }
      i = j + 1;
    }
    vars.unset(Var::network_allowed);
    return render(http ? "HTTP_BACKEND_ACL_ALLOW_DENY" : "TCP_BACKEND_ACL_ALLOW_DENY", b);
  }

  // The backend-level health check; `server_check` names the per-server template.
  Status backendHealthCheck(std::string& b, const char*& server_check) {
    const bool tcp = s.health_check && tcpHealthCheck();
    if (!s.health_check || (!tcp && s.mode != "http")) {
      return Status::ok();
    }
    std::string& first_port_options = x.first_port_options;
    first_port_options.clear();
    // marathon-lb passes the first server's port (or, with a health-check port index,
    // the first port of that service) to the backend-level template.
    if (!s.servers.empty()) {
      const Server& first = s.servers.front();
      if (!s.healthcheck_port_index) {
        first_port_options.append(" port ").append(std::to_string(first.port));
      } else if (first.check_port) {
        first_port_options.append(" port ").append(std::to_string(*first.check_port));
      }
    }
    vars.set(Var::healthCheckPortOptions, first_port_options);
    if (auto st =
            render(tcp ? "BACKEND_TCP_HEALTHCHECK_OPTIONS" : "BACKEND_HTTP_HEALTHCHECK_OPTIONS", b);
        !st) {
      return st;
    }
    server_check =
        tcp ? "BACKEND_SERVER_TCP_HEALTHCHECK_OPTIONS" : "BACKEND_SERVER_HTTP_HEALTHCHECK_OPTIONS";
    return Status::ok();
  }

  // One `server` line. Buffers reused across servers and services: a backend renders
  // one line per server.
  Status serverLine(const Server& srv, const char* server_check, std::string& b) {
    std::string &port = x.port, &id = x.id, &cookie = x.cookie, &check = x.check;
    setNumber(port, srv.port);
    setNumber(id, srv.id);
    cookie.clear();
    if (s.sticky) {
      cookie.append(" check cookie ").append(srv.cookie);
    }
    check.clear();
    if (server_check != nullptr) {
      if (auto st = serverCheck(srv, server_check, check); !st) {
        return st;
      }
    }
    vars.set(Var::host, srv.host);
    vars.set(Var::host_ipv4, srv.ip);
    vars.set(Var::port, port);
    vars.set(Var::serverName, srv.name);
    vars.set(Var::serverId, id);
    vars.set(Var::cookieOptions, cookie);
    vars.set(Var::healthCheckOptions, check);
    vars.set(Var::otherOptions, srv.draining ? " disabled" : "");
    return render("BACKEND_SERVER_OPTIONS", b);
  }

  Status serverCheck(const Server& srv, const char* server_check, std::string& check) {
    std::string &port_options = x.port_options, &raw = x.raw;
    port_options.clear();
    if (srv.check_port) {
      port_options.append(" port ").append(std::to_string(*srv.check_port));
    }
    vars.set(Var::healthCheckPortOptions, port_options);
    raw.clear();
    if (auto st = render(server_check, raw); !st) {
      return st;
    }
    // marathon-lb strips the rendered text and prefixes one blank.
    const size_t a = raw.find_first_not_of(" \t\n");
    const size_t z = raw.find_last_not_of(" \t\n");
    if (a != std::string::npos) {
      check.push_back(' ');
      check.append(raw, a, z - a + 1);
    }
    return Status::ok();
  }

  // Renders the service into the Sections; on error, nothing of it stays there.
  Result<Fragments> run() {
    const Sections::Marks m = sec.mark();
    Fragments f;
    if (Status st = renderAll(f); !st) {
      sec.rollback(m);
      return st.error();
    }
    f.userlist = {m.userlist, sec.userlist.size()};
    f.http_acl = {m.http_acl, sec.http_acl.size()};
    f.appid_acl = {m.appid_acl, sec.appid_acl.size()};
    f.frontend = {m.frontend, sec.frontend.size()};
    f.backend = {m.backend, sec.backend.size()};
    return f;
  }

  Status renderAll(Fragments& f) {
    setup();
    f.weight = s.backend_weight;
    f.http_mode = s.mode == "http";
    if (!s.auth_user.empty()) {
      if (auto st = render("USERLIST_HEAD", sec.userlist); !st) {
        return st;
      }
    }
    if (auto st = render("FRONTEND_HEAD", sec.frontend); !st) {
      return st;
    }
    if (auto st = render("FRONTEND_BACKEND_GLUE", sec.frontend); !st) {
      return st;
    }
    if (opts.bind_http_https && !s.vhosts.empty()) {
      if (auto st = vhostRules(f); !st) {
        return st;
      }
      vars.set(Var::hostname, s.hostname);
    }
    if (f.http_mode && !opts.haproxy_map) {
      if (auto st = render("HTTP_FRONTEND_APPID_ACL", sec.appid_acl); !st) {
        return st;
      }
    }
    return backend();
  }
};

// What the version digest and the shape need of one piece of the configuration.
struct PieceSum {
  common::Sha256 sha;
  uint64_t shape = 0;
};
// A service's piece sums, by (buffer, range begin): computed once per fragment.
// (A service has a handful of pieces: a flat list is searched faster than a tree.)
class PieceSums {
 public:
  // The sum kept for the piece at `begin` of `buffer`, and whether it was just added.
  std::pair<PieceSum*, bool> find(const std::string* buffer, size_t begin) {
    for (auto& [key, sum] : sums_) {
      if (key.first == buffer && key.second == begin) {
        return {&sum, false};
      }
    }
    sums_.push_back({{buffer, begin}, {}});
    return {&sums_.back().second, true};
  }

 private:
  std::vector<std::pair<std::pair<const std::string*, size_t>, PieceSum>> sums_;
};

// The digest and shape of a piece, and whether it ends its last line: a piece without
// a final line break (a label template without one) joins the next piece's first
// line, which the pieces' shapes alone would not show.
PieceSum pieceSum(std::string_view text) {
  const bool ends_line = !text.empty() && text.back() == '\n';
  return {common::sha256(text), shapeHash(text) * 31 + (ends_line ? 1 : 2)};
}

// The sums of the range `r` of `buffer`, kept in `sums` (null: text built on the fly,
// computed each time).
PieceSum keptSum(PieceSums* sums, const std::string* buffer, Range r) {
  const std::string_view text(buffer->data() + r.begin, r.end - r.begin);
  if (sums == nullptr) {
    return pieceSum(text);
  }
  auto [kept, added] = sums->find(buffer, r.begin);
  if (added) {
    *kept = pieceSum(text);
  }
  return *kept;
}

// Where a service's piece comes from: the service (owner), the sums kept for its
// fragments, and the rendering that made them (a number no other rendering has).
struct PieceSource {
  const ServiceRef* owner = nullptr;
  PieceSums* sums = nullptr;
  uint64_t rendering = 0;
  uint32_t place = 0;  // the service's index in the model
};

// Which of a service's fragments a piece is: kHttps + k is its k-th vhost's :443 rules.
enum Slot : uint16_t { kOwned, kUserlist, kHttpAcl, kAppidAcl, kFrontend, kBackend, kHttps };

// The last assembly's piece sums by position, and the version digest's runs: the
// SHA-256 of the SHA-256s of runs of kRun piece digests. A piece that is the same
// range of the same rendering as the piece at its position last time has the same
// sums, read in order; a run without a new piece keeps its digest. So a new
// configuration that differs in a few pieces costs those pieces and their runs,
// not 25,000 digests.
class PieceMemo {
 public:
  static constexpr size_t kRun = 256;
  struct Key {
    uint64_t rendering = 0;               // 0: text built on the fly (not kept)
    const std::string* buffer = nullptr;  // which of the rendering's buffers
    size_t begin = 0;
    size_t end = 0;
    bool operator==(const Key&) const = default;
  };

  // Starts an assembly of `count` pieces.
  void begin(size_t count) {
    if (count != keys_.size() && count != 0 && !keys_.empty()) {
      dirty((std::min(count, keys_.size()) - 1) / kRun);  // the last run changes length
    }
    keys_.resize(count);
    sums_.resize(count);
    runs_.resize((count + kRun - 1) / kRun);
    dirty_.resize(runs_.size(), true);
  }
  size_t size() const { return keys_.size(); }
  // The sums of piece `i` if it is `key`, or null.
  const PieceSum* same(size_t i, const Key& key) const {
    return key.rendering != 0 && keys_[i] == key ? &sums_[i] : nullptr;
  }
  const PieceSum& set(size_t i, const Key& key, const PieceSum& sum) {
    keys_[i] = key;
    if (!(sums_[i].sha == sum.sha) || sums_[i].shape != sum.shape) {
      sums_[i] = sum;
      dirty(i / kRun);
    }
    return sums_[i];
  }
  // The version digest (hex).
  std::string digest() {
    for (size_t k = 0; k < runs_.size(); ++k) {
      if (dirty_[k]) {
        const size_t from = k * kRun, to = std::min(sums_.size(), from + kRun);
        std::string shas;
        shas.reserve((to - from) * sizeof(common::Sha256));
        for (size_t i = from; i < to; ++i) {
          shas.append(reinterpret_cast<const char*>(sums_[i].sha.data()), sums_[i].sha.size());
        }
        runs_[k] = common::sha256(shas);
        dirty_[k] = false;
      }
    }
    return common::sha256Hex(std::string_view(reinterpret_cast<const char*>(runs_.data()),
                                              runs_.size() * sizeof(common::Sha256)));
  }
  // A hash of the pieces' shapes, in order.
  uint64_t shapeHash() const {
    uint64_t h = sums_.size();
    for (const auto& s : sums_) {  // each step a bijection of h: one change shows
      h = std::rotl(h ^ s.shape, 23) * 0x9E3779B97F4A7C15ULL;
    }
    return h;
  }

 private:
  void dirty(size_t run) {
    if (run < dirty_.size()) {
      dirty_[run] = true;
    }
  }
  std::vector<Key> keys_;
  std::vector<PieceSum> sums_;
  std::vector<common::Sha256> runs_;
  std::vector<bool> dirty_;
};

// The configuration's shape (config_shape.h), from its pieces'.
std::string shapeName(const PieceMemo& memo) {
  return std::to_string(memo.shapeHash()) + ":" + std::to_string(memo.size());
}

// Collects the pieces of the configuration in order, then joins them in one buffer
// of the exact size (no regrowth of a multi-megabyte string), remembering which
// service owns which bytes. The digest and the shape of the whole are combined from
// each piece's, kept with a service's fragments while they are unchanged.
class Assembler {
 public:
  void reserve(size_t pieces) { pieces_.reserve(pieces); }
  // Adds the range `r` of `buffer`, from `src`. `buffer` must outlive finish().
  void add(const std::string& buffer, Range r, const PieceSource& src, uint16_t slot) {
    if (!r.empty()) {
      pieces_.push_back({&buffer, r, src, slot});
    }
  }
  // Keeps `text` itself, for text built on the fly.
  void addOwned(std::string&& text) {
    if (!text.empty()) {
      const std::string& kept = owned_.emplace_back(std::move(text));
      pieces_.push_back({&kept, Range{0, kept.size()}, {}, kOwned});
    }
  }
  // Each piece's place in the model and slot (kOwned: text built on the fly).
  void places(std::vector<std::pair<uint32_t, uint16_t>>& out) const {
    out.clear();
    out.reserve(pieces_.size());
    for (const auto& p : pieces_) {
      out.emplace_back(p.src.place, p.slot);
    }
  }

  // `join`: the pieces joined in `out.config`; otherwise only their views in
  // `out.piece_text` (the caller keeps the buffers they point into).
  void finish(RenderedConfig& out, bool join, PieceMemo& memo) {
    size_t owned = 0;
    for (const auto& p : pieces_) {
      owned += p.src.owner != nullptr ? 1 : 0;
    }
    out.spans.reserve(owned);
    out.pieces.clear();
    out.pieces.reserve(pieces_.size());
    out.piece_text.clear();
    out.piece_text.reserve(pieces_.size());
    memo.begin(pieces_.size());
    size_t end = 0;
    for (size_t i = 0; i < pieces_.size(); ++i) {
      const Piece& p = pieces_[i];
      const size_t begin = end;
      end += p.range.end - p.range.begin;
      out.piece_text.emplace_back(p.text->data() + p.range.begin, p.range.end - p.range.begin);
      if (p.src.owner != nullptr) {
        out.spans.push_back({p.src.owner->get(), begin, end});
      }
      const PieceMemo::Key key{p.src.rendering, p.text, p.range.begin, p.range.end};
      const PieceSum* sum = memo.same(i, key);
      out.pieces.push_back({begin, end, (sum != nullptr ? *sum : memo.set(i, key, sumOf(p))).sha});
    }
    out.config_digest = memo.digest();
    out.shape = shapeName(memo);
    out.owned = std::move(owned_);  // (a deque's elements stay where they are)
    out.config.clear();
    if (join) {
      joinConfig(out);
    }
  }

 private:
  struct Piece {
    const std::string* text;
    Range range;
    PieceSource src;
    uint16_t slot;
  };
  static PieceSum sumOf(const Piece& p) { return keptSum(p.src.sums, p.text, p.range); }
  std::vector<Piece> pieces_;
  std::deque<std::string> owned_;
};

// One service's rendering: its own buffers and the ranges of them it filled, or why
// it could not be rendered.
struct RenderedService {
  Sections sec;
  Fragments f;
  std::string error;       // not empty: the service is left out (quarantined)
  PieceSums sums;          // filled by the assemblies that use the fragments
  uint64_t rendering = 0;  // which rendering (numbered by the cache from 1)
};

// What decides where a service's pieces go and what else its fragments bring (map
// lines, global rules): a service replaced by one of the same shape at the same
// place puts its pieces where the old ones were.
struct PlaceShape {
  uint64_t rendering = 0;  // 0: left out (quarantined), or too many vhosts to compare
  uint8_t non_empty = 0;   // bits: userlist, http_acl, appid_acl, frontend, backend
  uint64_t https_non_empty = 0;
  size_t https = 0;
  int weight = 0;
  bool http_mode = false, uses_http_map = false, uses_https_map = false;
  std::vector<std::pair<std::string, std::string>> domain_map;  // with --haproxy-map

  bool sameAs(const PlaceShape& o) const {
    return rendering != 0 && o.rendering != 0 && non_empty == o.non_empty &&
           https_non_empty == o.https_non_empty && https == o.https && weight == o.weight &&
           http_mode == o.http_mode && uses_http_map == o.uses_http_map &&
           uses_https_map == o.uses_https_map && domain_map == o.domain_map;
  }
};

// `rendering`: the fragments' rendering number, 0 for a service left out.
PlaceShape shapeOf(const Fragments& f, uint64_t rendering, bool with_maps) {
  PlaceShape sh;
  if (rendering == 0 || f.https_acl.size() > 64) {
    return sh;
  }
  sh.rendering = rendering;
  const Range slots[] = {f.userlist, f.http_acl, f.appid_acl, f.frontend, f.backend};
  for (size_t k = 0; k < std::size(slots); ++k) {
    sh.non_empty |= static_cast<uint8_t>(slots[k].empty() ? 0 : 1 << k);
  }
  for (size_t k = 0; k < f.https_acl.size(); ++k) {
    sh.https_non_empty |= f.https_acl[k].second.empty() ? 0 : uint64_t{1} << k;
  }
  sh.https = f.https_acl.size();
  sh.weight = f.weight;
  sh.http_mode = f.http_mode;
  sh.uses_http_map = f.uses_http_map;
  sh.uses_https_map = f.uses_https_map;
  if (with_maps) {
    sh.domain_map = f.domain_map;
  }
  return sh;
}

// The buffer and range of a service's piece in `slot`.
std::pair<const std::string*, Range> slotOf(const RenderedService& r, uint16_t slot) {
  switch (slot) {
    case kUserlist:
      return {&r.sec.userlist, r.f.userlist};
    case kHttpAcl:
      return {&r.sec.http_acl, r.f.http_acl};
    case kAppidAcl:
      return {&r.sec.appid_acl, r.f.appid_acl};
    case kFrontend:
      return {&r.sec.frontend, r.f.frontend};
    case kBackend:
      return {&r.sec.backend, r.f.backend};
    default:
      return {&r.sec.https_acl, r.f.https_acl[slot - kHttps].second};
  }
}

// The last whole assembly, kept to patch: its result, and where each place's pieces
// and spans are in it.
struct LastAssembly {
  bool valid = false;
  std::vector<ServiceRef> services;               // the model's, by place
  std::vector<PlaceShape> shapes;                 // by place
  std::vector<uint32_t> first;                    // place p's pieces: at[first[p] .. first[p + 1])
  std::vector<std::pair<uint32_t, uint16_t>> at;  // (position, slot), by place
  std::vector<int32_t> span_of;                   // by position: its span, or -1
  RenderedConfig out;                             // without `config` and `owned`
  std::deque<std::string> owned;                  // the text built on the fly
};

}  // namespace

struct RenderCache::Impl {
  // A service and its rendering. The key's view is the entry's own app id.
  struct Entry {
    // The last service found equal to the one rendered (held: its address is the test;
    // the fragments point into neither, so an older equal one is let go).
    ServiceRef service;
    RenderedService out;
    uint64_t used = 0;  // the last render (generation) that used it
    size_t place = 0;   // its index in by_place (valid while by_place points to it)
  };
  struct KeyHash {
    size_t operator()(const std::pair<std::string_view, int>& k) const {
      return std::hash<std::string_view>{}(k.first) * 31 + static_cast<size_t>(k.second);
    }
  };
  using Key = std::pair<std::string_view, int>;

  const TemplateSet* templates = nullptr;
  RenderOptions options;
  OverrideCache overrides;
  Scratch scratch;
  std::unordered_map<Key, std::unique_ptr<Entry>, KeyHash> entries;
  std::deque<Entry> extra;  // a key seen twice in one render: rendered, not kept
  PieceMemo memo;           // the last render's piece sums and digest runs
  LastAssembly last;        // the last assembly, to patch
  size_t patched = 0;       // renders that patched it
  uint64_t renderings = 0;  // rendering numbers given
  uint64_t generation = 0;  // of the current render
  size_t used_now = 0;      // entries used by the current render
  // The entry each service of the last render's model used, by its place in the
  // model: the same shared service at the same place is found without hashing its id.
  // A slot is cleared before its entry is erased.
  std::vector<Entry*> by_place;

  void begin(const TemplateSet& t, const RenderOptions& o, size_t services) {
    if (templates != &t || !(options == o)) {
      last.valid = false;
      entries.clear();
      by_place.clear();
      overrides = OverrideCache();
      templates = &t;
      options = o;
    }
    if (overrides.size() > 4096) {
      overrides = OverrideCache();  // bounded: only compiled label templates
    }
    extra.clear();
    ++generation;
    used_now = 0;
    by_place.resize(services, nullptr);
  }

  void render(Entry& e) {
    e.out = RenderedService();
    e.out.rendering = ++renderings;
    ServiceRenderer r(*e.service, *templates, options, overrides, scratch, e.out.sec);
    auto f = r.run();
    if (f) {
      e.out.f = std::move(*f);
    } else {
      e.out.error = f.error().message;
    }
  }

  // The rendering of `s`, the model's service at `place`.
  RenderedService& get(const ServiceRef& s, size_t place) {
    Entry* same = by_place[place];
    if (same != nullptr && same->service.get() == s.get() && same->used != generation) {
      return use(*same, place);
    }
    auto it = entries.find(Key{s->app_id, s->port_index});
    if (it != entries.end() && it->second->used == generation) {
      by_place[place] = nullptr;
      render(extra.emplace_back(Entry{s, {}, generation, place}));
      return extra.back().out;
    }
    if (it != entries.end() && it->second->service.get() == s.get()) {
      return use(*it->second, place);
    }
    if (it != entries.end() && *it->second->service == *s) {
      // An equal service (a full fetch builds every one anew): held from now on, the
      // key viewing its app id, so that the old one goes with its model.
      auto node = entries.extract(it);
      node.mapped()->service = s;
      node.key() = Key{s->app_id, s->port_index};
      return use(*entries.insert(std::move(node)).position->second, place);
    }
    if (it != entries.end()) {
      forget(it);  // its key views the old service
    }
    auto e = std::make_unique<Entry>(Entry{s, {}, 0, place});
    render(*e);
    const Key key{e->service->app_id, e->service->port_index};
    return use(*entries.emplace(key, std::move(e)).first->second, place);
  }

  RenderedService& use(Entry& e, size_t place) {
    e.used = generation;
    e.place = place;
    by_place[place] = &e;
    ++used_now;
    return e.out;
  }

  void forget(std::unordered_map<Key, std::unique_ptr<Entry>, KeyHash>::iterator it) {
    Entry* e = it->second.get();
    if (e->place < by_place.size() && by_place[e->place] == e) {
      by_place[e->place] = nullptr;
    }
    entries.erase(it);
  }

  // Forgets the entries the current render did not use (none, usually: no walk).
  void sweep() {
    if (used_now == entries.size()) {
      return;
    }
    for (auto it = entries.begin(); it != entries.end();) {
      auto next = std::next(it);
      if (it->second->used != generation) {
        forget(it);
      }
      it = next;
    }
  }
};

RenderCache::RenderCache() : impl_(std::make_unique<Impl>()) {}
RenderCache::~RenderCache() = default;
RenderCache::RenderCache(RenderCache&&) noexcept = default;
RenderCache& RenderCache::operator=(RenderCache&&) noexcept = default;
size_t RenderCache::patched() const { return impl_->patched; }

namespace {

// One rendering of the whole configuration: the services' fragments, then the global
// templates and the fragments in section order, each step a method.
class ConfigAssembly {
 public:
  ConfigAssembly(const ServiceModel& model, const TemplateSet& templates, const RenderOptions& opts,
                 RenderCache::Impl& cache)
      : model_(model), templates_(templates), opts_(opts), cache_(cache) {}

  // `join`: the configuration joined in `config`, else left in pieces (piece_text).
  Result<RenderedConfig> run(bool join) {
    if (!join) {
      if (std::optional<RenderedConfig> patched = patchLast()) {
        return std::move(*patched);
      }
    }
    // The whole assembly changes the cache's entries: the last one is patched no more
    // unless this one completes (rememberAssembly).
    cache_.last.valid = false;
    renderServices();
    setGlobals();
    a_.reserve(cache_.memo.size() + 64);  // about as many pieces as the last time
    for (auto step : {&ConfigAssembly::head, &ConfigAssembly::httpFrontend,
                      &ConfigAssembly::appidFrontend, &ConfigAssembly::httpsFrontend}) {
      if (auto st = (this->*step)(); !st) {
        return st.error();
      }
    }
    for (const auto& e : entries_) {
      a_.add(e.sec->frontend, e.f->frontend, e.src, kFrontend);
    }
    for (const auto& e : entries_) {
      a_.add(e.sec->backend, e.f->backend, e.src, kBackend);
    }
    domainMap();
    a_.finish(result_, join, cache_.memo);
    if (!join) {
      rememberAssembly();
    }
    return std::move(result_);
  }

 private:
  struct Entry {
    const Service* service;
    const Sections* sec;
    const Fragments* f;
    PieceSource src;  // its owner is the model's: a span holds the service it shows
  };
  struct VhostGroup {
    std::vector<std::pair<const Entry*, Range>> rules;
    std::vector<std::string> certs;
    std::vector<std::string> bind_options;
    bool map = false;
  };

  // Places patched at most: past them, the whole assembly costs about the same.
  static constexpr size_t kMaxPatched = 64;

  // The last assembly with the services that changed since put in place, when each
  // was replaced by a service of the same shape at the same place (a task event);
  // nullopt otherwise. Bytes, digest and pieces are what a whole assembly makes.
  std::optional<RenderedConfig> patchLast() {
    LastAssembly& last = cache_.last;
    if (!last.valid || cache_.templates != &templates_ || !(cache_.options == opts_) ||
        last.services.size() != model_.services.size()) {
      return std::nullopt;
    }
    std::vector<std::pair<uint32_t, RenderedService*>> changed;
    if (!renderChanged(changed)) {
      last.valid = false;  // (the whole assembly that follows sets it again)
      return std::nullopt;
    }
    size_t from = last.out.pieces.size();
    for (auto [place, r] : changed) {
      from = std::min(from, putInPlace(place, *r));
    }
    shiftFrom(from);
    ++cache_.patched;
    last.out.config_digest = cache_.memo.digest();
    last.out.shape = shapeName(cache_.memo);
    return last.out;
  }

  // Renders the services that are not the last assembly's at their place; false when
  // one of them does not have the shape of the one it replaces (or too many changed).
  bool renderChanged(std::vector<std::pair<uint32_t, RenderedService*>>& changed) {
    const LastAssembly& last = cache_.last;
    for (size_t p = 0; p < model_.services.size(); ++p) {
      if (model_.services[p].get() != last.services[p].get()) {
        if (changed.size() == kMaxPatched) {
          return false;
        }
        changed.emplace_back(static_cast<uint32_t>(p), nullptr);
      }
    }
    cache_.begin(templates_, opts_, model_.services.size());
    for (auto& [place, r] : changed) {
      const ServiceRef& now = model_.services[place];
      const Service& was = *last.services[place];
      r = &cache_.get(now, place);
      const uint64_t rendering = r->error.empty() ? r->rendering : 0;
      if (!cache_.extra.empty() || was.app_id != now->app_id || was.port_index != now->port_index ||
          was.backend != now->backend ||
          !shapeOf(r->f, rendering, opts_.haproxy_map).sameAs(last.shapes[place])) {
        return false;
      }
    }
    return true;
  }

  // Puts the pieces of `r`, now at `place`, where the old service's were; returns the
  // first position written.
  size_t putInPlace(uint32_t place, RenderedService& r) {
    LastAssembly& last = cache_.last;
    const ServiceRef& now = model_.services[place];
    size_t from = last.out.pieces.size();
    for (uint32_t k = last.first[place]; k < last.first[place + 1]; ++k) {
      const auto [pos, slot] = last.at[k];
      const auto [buffer, range] = slotOf(r, slot);
      const PieceSum sum = keptSum(&r.sums, buffer, range);
      cache_.memo.set(pos, {r.rendering, buffer, range.begin, range.end}, sum);
      last.out.piece_text[pos] =
          std::string_view(buffer->data() + range.begin, range.end - range.begin);
      last.out.pieces[pos].sha = sum.sha;
      if (const int32_t span = last.span_of[pos]; span >= 0) {
        last.out.spans[static_cast<size_t>(span)].owner = now.get();
      }
      from = std::min<size_t>(from, pos);
    }
    last.services[place] = now;
    last.shapes[place].rendering = r.rendering;
    return from;
  }

  // The offsets of the pieces and spans from position `from` on, from the pieces' sizes.
  void shiftFrom(size_t from) {
    LastAssembly& last = cache_.last;
    auto& pieces = last.out.pieces;
    size_t end = from == 0 ? 0 : pieces[from - 1].end;
    for (size_t i = from; i < pieces.size(); ++i) {
      pieces[i].begin = end;
      end += last.out.piece_text[i].size();
      pieces[i].end = end;
      if (const int32_t span = last.span_of[i]; span >= 0) {
        last.out.spans[static_cast<size_t>(span)].begin = pieces[i].begin;
        last.out.spans[static_cast<size_t>(span)].end = end;
      }
    }
  }

  // Keeps this (whole) assembly to patch: where each place's pieces and spans are.
  void rememberAssembly() {
    LastAssembly& last = cache_.last;
    last.valid = !opts_.group_https_by_vhost && cache_.extra.empty();
    if (!last.valid) {
      return;
    }
    last.services = model_.services;
    last.shapes.assign(model_.services.size(), PlaceShape{});
    for (const auto& e : entries_) {
      last.shapes[e.src.place] = shapeOf(*e.f, e.src.rendering, opts_.haproxy_map);
    }
    std::vector<std::pair<uint32_t, uint16_t>> places;
    a_.places(places);
    last.first.assign(model_.services.size() + 1, 0);
    for (const auto& [place, slot] : places) {
      if (slot != kOwned) {  // (text built on the fly has no place)
        ++last.first[place + 1];
      }
    }
    for (size_t p = 1; p < last.first.size(); ++p) {
      last.first[p] += last.first[p - 1];
    }
    std::vector<uint32_t> next(last.first.begin(), last.first.end() - 1);
    last.at.resize(last.first.back());
    last.span_of.assign(places.size(), -1);
    int32_t span = 0;
    for (uint32_t pos = 0; pos < places.size(); ++pos) {
      const auto [place, slot] = places[pos];
      if (slot != kOwned) {
        last.at[next[place]++] = {pos, slot};
        last.span_of[pos] = span++;
      }
    }
    last.owned = std::move(result_.owned);  // (the views stay valid: a deque's elements stay)
    result_.owned.clear();
    last.out = result_;
  }

  // Each service's fragments; a service whose templates fail is quarantined.
  void renderServices() {
    entries_.reserve(model_.services.size());
    cache_.begin(templates_, opts_, model_.services.size());
    for (size_t place = 0; place < model_.services.size(); ++place) {
      const ServiceRef& s = model_.services[place];
      RenderedService& r = cache_.get(s, place);
      if (!r.error.empty()) {
        result_.quarantined.push_back({s->app_id, s->port_index, r.error});
        continue;
      }
      entries_.push_back(
          {s.get(), &r.sec, &r.f, {&s, &r.sums, r.rendering, static_cast<uint32_t>(place)}});
    }
    cache_.sweep();
    // Vhost rules sorted by weight, descending; ties keep (app id, port) order.
    for (const auto& e : entries_) {
      if (!e.f->http_acl.empty() || !e.f->https_acl.empty()) {
        by_weight_.push_back(&e);
      }
      http_map_ = http_map_ || e.f->uses_http_map;
      https_map_ = https_map_ || e.f->uses_https_map;
    }
    const auto heavier = [](const Entry* x, const Entry* y) { return x->f->weight > y->f->weight; };
    if (!std::is_sorted(by_weight_.begin(), by_weight_.end(), heavier)) {  // (all weights 0)
      std::stable_sort(by_weight_.begin(), by_weight_.end(), heavier);
    }
  }

  // Vars hold views: the strings they show are members.
  void setGlobals() {
    std::set<std::string> lines;
    for (const auto& o : opts_.default_options) {
      lines.insert("  option            " + o + "\n");
    }
    for (const auto& l : lines) {
      default_options_ += l;
    }
    maxconn_ = std::to_string(opts_.maxconn);
    ssl_certs_ = crtList(opts_.ssl_certs);
    g_.set(Var::stateDir, opts_.state_dir);
    g_.set(Var::maxconn, maxconn_);
    g_.set(Var::hardStopAfter, opts_.hard_stop_after);
    g_.set(Var::defaultOptions, default_options_);
    g_.set(Var::sslCerts, ssl_certs_);
    g_.set(Var::haproxy_dir, opts_.haproxy_dir);
  }

  static std::string crtList(const std::vector<std::string>& certs) {
    std::string out;
    for (const auto& c : certs) {
      out += (out.empty() ? "crt " : " crt ") + c;
    }
    return out;
  }

  // Appends the global template `name` rendered with `vars`.
  Status global(std::string_view name, const Vars& vars) {
    std::string text;
    if (Status st = templates_.get(name).render(vars, text); !st) {
      return Error::invalidTemplate("template HAPROXY_" + std::string(name) + ": " +
                                    st.error().message);
    }
    a_.addOwned(std::move(text));
    return Status::ok();
  }

  Status head() {
    std::string text;
    if (Status st = templates_.get("HEAD").render(g_, text); !st) {
      return Error::invalidTemplate("template HAPROXY_HEAD: " + st.error().message);
    }
    auto with_mlb = withMlbGlobals(text, opts_.state_dir);  // whatever the template says
    if (!with_mlb) {
      return with_mlb.error();
    }
    if (!opts_.haproxy_log.empty()) {
      *with_mlb = withLogTarget(*with_mlb, opts_.haproxy_log);
    }
    a_.addOwned(std::move(*with_mlb));
    for (const auto& e : entries_) {
      a_.add(e.sec->userlist, e.f->userlist, e.src, kUserlist);
    }
    return Status::ok();
  }

  Status httpFrontend() {
    if (!opts_.bind_http_https) {
      return Status::ok();
    }
    if (auto st = global("HTTP_FRONTEND_HEAD", g_); !st) {
      return st;
    }
    for (const Entry* e : by_weight_) {
      a_.add(e->sec->http_acl, e->f->http_acl, e->src, kHttpAcl);
    }
    return http_map_ ? global("MAP_HTTP_FRONTEND_ACL", g_) : Status::ok();
  }

  // One rule (or app2backend.map line) per http-mode app, by X-Marathon-App-Id.
  Status appidFrontend() {
    if (auto st = global("HTTP_FRONTEND_APPID_HEAD", g_); !st) {
      return st;
    }
    // The model is sorted by app id: an app's services are next to each other.
    const std::string* last_app = nullptr;
    bool appid_map = false;
    for (const auto& e : entries_) {
      if (!e.f->http_mode || (last_app != nullptr && *last_app == e.service->app_id)) {
        continue;
      }
      last_app = &e.service->app_id;
      if (opts_.haproxy_map) {
        appid_map = true;
        result_.app_map += e.service->app_id + " " + e.service->backend + "\n";
      } else {
        a_.add(e.sec->appid_acl, e.f->appid_acl, e.src, kAppidAcl);
      }
    }
    return appid_map ? global("MAP_HTTP_FRONTEND_APPID_ACL", g_) : Status::ok();
  }

  Status httpsFrontend() {
    if (!opts_.bind_http_https) {
      return Status::ok();
    }
    if (opts_.group_https_by_vhost) {
      return groupedHttpsFrontend();
    }
    if (auto st = global("HTTPS_FRONTEND_HEAD", g_); !st) {
      return st;
    }
    for (const Entry* e : by_weight_) {
      for (size_t k = 0; k < e->f->https_acl.size(); ++k) {
        a_.add(e->sec->https_acl, e->f->https_acl[k].second, e->src,
               static_cast<uint16_t>(kHttps + k));
      }
    }
    return https_map_ ? global("MAP_HTTPS_FRONTEND_ACL", g_) : Status::ok();
  }

  // --group-https-by-vhost: the rules of each vhost with its certificates and options.
  std::map<std::string, VhostGroup> vhostGroups() const {
    std::map<std::string, VhostGroup> groups;
    auto addOnce = [](std::vector<std::string>& v, const std::string& x) {
      if (!x.empty() && std::find(v.begin(), v.end(), x) == v.end()) {
        v.push_back(x);
      }
    };
    for (const Entry* e : by_weight_) {
      for (const auto& [vh, rules] : e->f->https_acl) {
        VhostGroup& vg = groups[std::string(vh)];
        vg.rules.emplace_back(e, rules);
        vg.map = vg.map || e->f->uses_https_map;
        addOnce(vg.certs, e->service->ssl_cert);
        addOnce(vg.bind_options, e->service->bind_options);
      }
    }
    return groups;
  }

  Status groupedHttpsFrontend() {
    const std::map<std::string, VhostGroup> groups = vhostGroups();
    if (auto st = global("HTTPS_GROUPED_FRONTEND_HEAD", g_); !st) {
      return st;
    }
    for (const auto& [vh, vg] : groups) {
      const std::string name = sanitizeName(vh);
      Vars v = g_;
      v.set(Var::backend, name);
      v.set(Var::host, vh);
      if (auto st = global("HTTPS_GROUPED_VHOST_FRONTEND_ACL", v); !st) {
        return st;
      }
    }
    for (const auto& [vh, vg] : groups) {
      if (auto st = vhostFrontend(vh, vg); !st) {
        return st;
      }
    }
    return Status::ok();
  }

  Status vhostFrontend(const std::string& vh, const VhostGroup& vg) {
    std::string bind_opts;
    for (const auto& b : vg.bind_options) {
      bind_opts += " " + b;
    }
    const std::string name = sanitizeName(vh);
    const std::string certs = crtList(vg.certs.empty() ? opts_.ssl_certs : vg.certs);
    Vars v = g_;
    v.set(Var::name, name);
    v.set(Var::sslCerts, certs);
    v.set(Var::bindOpts, bind_opts);
    std::string text;
    for (std::string_view tname :
         {"HTTPS_GROUPED_VHOST_BACKEND_HEAD", "HTTPS_GROUPED_VHOST_FRONTEND_HEAD"}) {
      if (Status st = templates_.get(tname).render(v, text); !st) {
        return Error::invalidTemplate("template HAPROXY_" + std::string(tname) + ": " +
                                      st.error().message);
      }
    }
    a_.addOwned(std::move(text));
    for (const auto& [e, rules] : vg.rules) {
      a_.add(e->sec->https_acl, rules, e->src, kHttps);  // (grouped: never patched)
    }
    return vg.map ? global("MAP_HTTPS_FRONTEND_ACL", g_) : Status::ok();
  }

  // domain2backend.map: first-seen order, no duplicates.
  void domainMap() {
    if (!opts_.haproxy_map || !opts_.bind_http_https) {
      return;
    }
    std::set<std::pair<std::string, std::string>> seen;
    for (const auto& e : entries_) {
      for (const auto& entry : e.f->domain_map) {
        if (seen.insert(entry).second) {
          result_.domain_map += entry.first + " " + entry.second + "\n";
        }
      }
    }
  }

  const ServiceModel& model_;
  const TemplateSet& templates_;
  const RenderOptions& opts_;
  RenderCache::Impl& cache_;
  RenderedConfig result_;
  std::vector<Entry> entries_;
  std::vector<const Entry*> by_weight_;
  bool http_map_ = false;
  bool https_map_ = false;
  std::string maxconn_, default_options_, ssl_certs_;
  Vars g_;
  Assembler a_;
};

}  // namespace

Result<RenderedConfig> renderConfig(const ServiceModel& model, const TemplateSet& templates,
                                    const RenderOptions& opts, RenderCache& cache) {
  return ConfigAssembly(model, templates, opts, cache.impl()).run(/*join=*/false);
}

void joinConfig(RenderedConfig& r) {
  if (r.config.empty() && !r.piece_text.empty()) {
    r.config = common::joinPieces(r.piece_text);
  }
}

Result<RenderedConfig> renderConfig(const ServiceModel& model, const TemplateSet& templates,
                                    const RenderOptions& opts) {
  RenderCache cache;
  auto r = ConfigAssembly(model, templates, opts, cache.impl()).run(/*join=*/true);
  if (r) {
    r->piece_text.clear();  // views into the cache, which ends here
  }
  return r;
}

const RenderedConfig::Span* RenderedConfig::spanAtLine(int line) const {
  if (line < 1) {
    return nullptr;
  }
  size_t offset = 0;
  for (int l = 1; l < line; ++l) {
    offset = config.find('\n', offset);
    if (offset == std::string::npos) {
      return nullptr;
    }
    ++offset;
  }
  // Spans are in config order and do not overlap.
  auto it = std::upper_bound(spans.begin(), spans.end(), offset,
                             [](size_t o, const Span& s) { return o < s.begin; });
  if (it == spans.begin()) {
    return nullptr;
  }
  --it;
  return offset < it->end ? &*it : nullptr;
}

}  // namespace mlb::controller
