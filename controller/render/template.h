#pragma once
// One compiled Mustache template (kainjow syntax, HTML escaping off).
//
// Why two paths: building kainjow data objects costs more than rendering them
// (~15 us per object at 5000 apps, measured in notes/dependencies.md), and a config
// renders ~30 templates per service and one per server. Templates made only of
// text and {{variables}} (all of mlb's defaults) are therefore pre-split into
// segments and rendered by concatenation; templates that use sections or other
// Mustache features are rendered by kainjow. Both paths give the same bytes
// (template_test.cc checks it on every default template).
#include <array>
#include <bitset>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace mlb::controller {

// Every variable a template may use: marathon-lb's placeholder names plus mlb's
// global ones (stateDir, maxconn, ...). A template naming anything else is invalid.
enum class Var : uint8_t {
  backend,
  appId,
  cleanedUpAppId,
  hostname,
  cleanedUpHostname,
  mode,
  balance,
  bindAddr,
  servicePort,
  sslCert,
  bindOptions,
  sslCerts,
  bindOpts,
  name,
  host,
  user,
  passwd,
  realm,
  path,
  haproxy_dir,
  proxypath,
  rootpath,
  redirpath,
  network_allowed,
  host_ipv4,
  port,
  serverName,
  serverId,
  cookieOptions,
  healthCheckOptions,
  otherOptions,
  healthCheckPortIndex,
  healthCheckPort,
  healthCheckProtocol,
  healthCheckPath,
  healthCheckTimeoutSeconds,
  healthCheckIntervalSeconds,
  healthCheckGracePeriodSeconds,
  healthCheckMaxConsecutiveFailures,
  healthCheckFalls,
  healthCheckPortOptions,
  stateDir,
  maxconn,
  hardStopAfter,
  defaultOptions,
  kCount
};
inline constexpr size_t kVarCount = static_cast<size_t>(Var::kCount);

std::string_view varName(Var v);
std::optional<Var> varByName(std::string_view name);

// The values visible to one render. Holds views: the caller keeps the strings alive.
class Vars {
 public:
  void set(Var v, std::string_view value) {
    values_[static_cast<size_t>(v)] = value;
    set_.set(static_cast<size_t>(v));
  }
  void unset(Var v) { set_.reset(static_cast<size_t>(v)); }
  bool has(Var v) const { return set_.test(static_cast<size_t>(v)); }
  std::string_view get(Var v) const { return values_[static_cast<size_t>(v)]; }

 private:
  std::array<std::string_view, kVarCount> values_{};
  std::bitset<kVarCount> set_;
};

class Template {
 public:
  // Compiles Mustache text. Errors: kainjow's parse error, a partial, or a
  // variable name that is not in the Var table (named in the message).
  static common::Result<Template> compile(std::string_view text);

  // Appends the rendering to `out`. Error (and `out` unchanged) when the template
  // uses a variable that `vars` does not provide, or kainjow fails at render time.
  // Thread-compatible: a Template may be rendered from several threads at once.
  common::Status render(const Vars& vars, std::string& out) const;
  // Same, through kainjow whatever the template is (for tests of the fast path).
  common::Status renderWithKainjow(const Vars& vars, std::string& out) const;

  bool usesKainjow() const { return !fast_; }
  const std::string& text() const { return text_; }

 private:
  struct Segment {
    std::string literal;
    std::optional<Var> var;
  };
  std::string text_;
  bool fast_ = false;
  std::vector<Segment> segments_;
  std::vector<Var> used_;  // every variable named in the template
};

// Translates a template written in marathon-lb's Python str.format syntax
// ({placeholder}, {{ and }} for literal braces) into Mustache. An unknown
// placeholder name, or a format spec / index ({x:>5}, {x[0]}, {0}), is an Error
// naming it.
common::Result<std::string> translateLegacyTemplate(std::string_view text);

}  // namespace mlb::controller
