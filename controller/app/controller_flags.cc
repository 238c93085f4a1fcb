#include "controller/app/controller_flags.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "common/flags.h"
#include "common/fs/files.h"
#include "common/strings.h"
#include "controller/model/labels.h"
#include "controller/render/render_flags.h"

namespace mlb::controller {
namespace {

bool readFirstLine(const std::string& path, std::string& out) {
  std::ifstream in(path);
  if (!in) {
    return false;
  }
  std::getline(in, out);
  while (!out.empty() && (out.back() == '\r' || out.back() == ' ')) {
    out.pop_back();
  }
  return true;
}

using common::Error;
using common::FlagArity;
using common::Status;
using CF = ControllerFlags;
using V = const std::vector<std::string>&;

Status invalid(std::string message) { return Error::invalidArgument(std::move(message)); }

std::optional<common::LogLevel> parseLogLevel(std::string v) {
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::toupper(c); });
  static const std::map<std::string, common::LogLevel> kLevels = {
      {"DEBUG", common::LogLevel::Debug},  {"INFO", common::LogLevel::Info},
      {"WARNING", common::LogLevel::Warn}, {"WARN", common::LogLevel::Warn},
      {"ERROR", common::LogLevel::Error},  {"CRITICAL", common::LogLevel::Error}};
  auto it = kLevels.find(v);
  return it == kLevels.end() ? std::nullopt : std::optional<common::LogLevel>(it->second);
}

// "%40" -> "@" (userinfo in a URL is percent-encoded); a bad escape stays as it is.
std::string percentDecoded(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// Takes `user:password@` out of a URL: the URL kept (logs, metrics, /v1/status, DNS)
// never carries it; the credentials go where --auth-credentials goes.
std::string withoutUserinfo(const std::string& url, std::string& userinfo) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) {
    return url;
  }
  const size_t start = scheme + 3;
  const size_t end = std::min(url.find_first_of("/?#", start), url.size());
  const size_t at = url.rfind('@', end - 1);
  if (at == std::string::npos || at < start) {
    return url;
  }
  userinfo = percentDecoded(url.substr(start, at - start));
  return url.substr(0, start) + url.substr(at + 1);
}

Status marathonUrls(V v, CF& f) {
  f.marathon.urls.clear();
  f.url_credentials.clear();
  for (const auto& x : v) {
    for (auto& u : common::splitList(x)) {
      while (!u.empty() && u.back() == '/') {
        u.pop_back();
      }
      std::string userinfo;
      f.marathon.urls.push_back(withoutUserinfo(u, userinfo));
      if (!userinfo.empty() && f.url_credentials.empty()) {
        f.url_credentials = userinfo;
      }
    }
  }
  return {};
}

Status pollInterval(V v, CF& f) {
  auto ms = common::parseSecondsFlag("--poll-interval", v[0]);
  if (!ms) {
    return ms.error();
  }
  f.sse = false;
  f.loop.resync_interval = *ms;
  return {};
}

Status marathonTimeout(V v, CF& f) {
  auto ms = common::parseSecondsFlag("--marathon-timeout", v[0]);
  if (!ms) {
    return ms.error();
  }
  f.marathon.timeout_ms = static_cast<int>(ms->count());
  return {};
}

Status authCredentials(V v, MarathonConfig& m) {
  if (v[0].find(':') == std::string::npos) {
    return invalid("--auth-credentials must be user:password");
  }
  m.basic_auth = v[0];
  return {};
}

Status credentialFile(V v, MarathonConfig& m) {
  std::string line;
  if (!readFirstLine(v[0], line) || line.find(':') == std::string::npos) {
    return invalid("--marathon-auth-credential-file " + v[0] +
                   ": unreadable or not a user:password line");
  }
  m.basic_auth = line;
  return {};
}

Status tokenFile(V v, MarathonConfig& m) {
  std::string line;
  if (!readFirstLine(v[0], line) || line.empty()) {
    return invalid("--marathon-auth-token-file " + v[0] + ": unreadable or empty");
  }
  m.token = line;
  return {};
}

// marathon-lb's JSON: {"scheme": "RS256", "uid", "private_key", "login_endpoint"}.
Status dcosCredentials(V v, MarathonConfig& m) {
  auto j = nlohmann::json::parse(v[0], nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return invalid("--dcos-auth-credentials: not a JSON object");
  }
  DcosCredentials c;
  for (auto [key, dst] : {std::pair<const char*, std::string*>{"uid", &c.uid},
                          {"private_key", &c.private_key},
                          {"login_endpoint", &c.login_endpoint}}) {
    if (!j.contains(key) || !j[key].is_string() || j[key].get<std::string>().empty()) {
      return invalid(std::string("--dcos-auth-credentials: missing string field '") + key + "'");
    }
    *dst = j[key].get<std::string>();
  }
  if (j.contains("scheme") && j["scheme"] != "RS256") {
    return invalid("--dcos-auth-credentials: only scheme RS256 is supported");
  }
  m.dcos = c;
  return {};
}

Status caCert(V v, MarathonConfig& m) {
  if (::access(v[0].c_str(), R_OK) != 0) {
    return invalid("--marathon-ca-cert " + v[0] + ": not readable");
  }
  m.ca_cert = v[0];
  return {};
}

Status maxShrink(V v, CF& f) {
  auto d = common::parseNumberFlag("--max-shrink", v[0], 0, 1);
  if (!d) {
    return invalid("--max-shrink " + v[0] + ": not a fraction in [0, 1]");
  }
  f.reconcile.max_shrink = *d;
  return {};
}

Status logLevel(V v, CF& f) {
  auto level = parseLogLevel(v[0]);
  if (!level) {
    return invalid("--log-level " + v[0] + ": not one of DEBUG, INFO, WARNING, ERROR, CRITICAL");
  }
  f.log_level = level;
  return {};
}

// mlb-controller's own flags (the rendering flags are added from renderFlags()).
common::FlagTable<CF> ownFlags() {
  using Ms = std::chrono::milliseconds;
  using Text = std::string;
  return {
      {"--marathon", FlagArity::Many, marathonUrls},
      common::switchFlag<CF>(
          "--sse", [](CF& f) -> bool& { return f.sse; }, true),
      {"--poll-interval", FlagArity::One, pollInterval},
      common::secondsFlag<CF>("--resync-interval",
                              [](CF& f) -> Ms& { return f.loop.resync_interval; }),
      common::secondsFlag<CF>("--min-interval", [](CF& f) -> Ms& { return f.loop.min_interval; }),
      common::secondsFlag<CF>("--confirm-interval",
                              [](CF& f) -> Ms& { return f.loop.confirm_interval; }),
      common::secondsFlag<CF>("--sse-silence-timeout",
                              [](CF& f) -> Ms& { return f.silence_timeout; }),
      {"--marathon-timeout", FlagArity::One, marathonTimeout},
      common::textFlag<CF>("--state-dir", [](CF& f) -> Text& { return f.state_dir; }),
      common::intFlag<CF>(
          "--keep-bundles", [](CF& f) -> int& { return f.keep_bundles; }, 1, 1000),
      common::textFlag<CF>("--haproxy-bin", [](CF& f) -> Text& { return f.reconcile.haproxy_bin; }),
      common::switchFlag<CF>(
          "--no-validate", [](CF& f) -> bool& { return f.validate; }, false),
      common::textFlag<CF>("--templates-dir", [](CF& f) -> Text& { return f.templates_dir; }),
      {"--max-shrink", FlagArity::One, maxShrink},
      common::intFlag<CF>(
          "--confirm-resyncs", [](CF& f) -> int& { return f.reconcile.confirm_resyncs; }, 1, 100),
      common::textFlag<CF>("--listen", [](CF& f) -> Text& { return f.listen; }),
      // marathon-lb's flags that keep their meaning under another name or in mlb's way.
      common::switchFlag<CF>(
          "--skip-validation", [](CF& f) -> bool& { return f.validate; }, false),
      common::textFlag<CF>("--haproxy-config", [](CF& f) -> Text& { return f.haproxy_config; }),
      // One-shot modes come from the command line only: an MLB_DRY left in a
      // container's environment must not stop the daemon.
      common::switchFlag<CF>(
          "--dry", [](CF& f) -> bool& { return f.dry; }, true, false),
      common::switchFlag<CF>(
          "--longhelp", [](CF& f) -> bool& { return f.longhelp; }, true, false),
      {"--log-level", FlagArity::One, logLevel},
      common::textFlag<CF>("--syslog-socket", [](CF& f) -> Text& { return f.syslog_socket; }),
      common::secondsFlag<CF>("--max-backoff", [](CF& f) -> Ms& { return f.sse_backoff_max; }),
  };
}

}  // namespace

const common::FlagTable<MarathonConfig>& marathonAuthFlags() {
  static const common::FlagTable<MarathonConfig> kFlags = {
      {"--auth-credentials", FlagArity::One, authCredentials},
      {"--marathon-auth-credential-file", FlagArity::One, credentialFile},
      {"--marathon-auth-token-file", FlagArity::One, tokenFile},
      {"--dcos-auth-credentials", FlagArity::One, dcosCredentials},
      {"--marathon-ca-cert", FlagArity::One, caCert},
      {"--marathon-insecure-skip-verify", FlagArity::Switch,
       [](V v, MarathonConfig& m) -> Status {
         m.insecure_tls = common::switchSet(v);
         return {};
       }},
  };
  return kFlags;
}

const common::CommandLineRules& marathonAuthRules() {
  static const common::CommandLineRules kRules = [] {
    common::CommandLineRules r;
    r.env_fallback = {{"--dcos-auth-credentials", "DCOS_SERVICE_ACCOUNT_CREDENTIAL"}};
    return r;
  }();
  return kRules;
}

namespace {

const common::FlagTable<CF>& controllerFlags() {
  static const common::FlagTable<CF> kFlags = [] {
    common::FlagTable<CF> table = ownFlags();
    for (auto& flag : common::projectFlags<CF, MarathonConfig>(
             marathonAuthFlags(), [](CF& f) -> MarathonConfig& { return f.marathon; })) {
      table.push_back(std::move(flag));
    }
    for (auto& flag : common::projectFlags<CF, RenderSettings>(renderFlags(), [](CF& f) {
           return RenderSettings{f.reconcile.build, f.reconcile.render};
         })) {
      table.push_back(std::move(flag));
    }
    return table;
  }();
  return kFlags;
}

// marathon-lb's flags that mlb accepts and does without: what each did, and what
// mlb does instead. A migrating command line keeps working; each is said once.
struct LegacyFlag {
  const char* name;
  bool takes_value;
  const char* instead;
};
const LegacyFlag kMarathonLbOnly[] = {
    {"--command", true,
     "mlb-reloader validates, reloads and verifies HAProxy; the reload command is not used"},
    {"--max-reload-retries", true,
     "mlb-reloader retries an unconfirmed reload with backoff on its own"},
    {"--reload-interval", true, "mlb-reloader paces reloads (--min-reload-interval)"},
    {"--archive-versions", true,
     "the bundles under --state-dir are the archive (--keep-bundles, default 5)"},
    {"--log-format", true, "mlb logs key=value lines to stderr"},
    {"--skip-config-cleanup", false,
     "mlb quarantines only the apps HAProxy rejects, without bisection"},
    {"--lru-cache-capacity", true,
     "mlb keeps the last health of every task and resolves host names with its own cache"},
};

// marathon-lb's short options, its flags mlb does without, and the DC/OS variable.
const common::CommandLineRules& controllerRules() {
  static const common::CommandLineRules kRules = [] {
    common::CommandLineRules r;
    r.aliases = {{"-H", "--health-check"},
                 {"-m", "--marathon"},
                 {"-s", "--sse"},
                 {"-c", "--command"},
                 {"-d", "--dry"}};
    for (const auto& l : kMarathonLbOnly) {
      r.ignored[l.name] = l.takes_value ? FlagArity::One : FlagArity::Switch;
    }
    r.env_fallback = marathonAuthRules().env_fallback;
    return r;
  }();
  return kRules;
}

std::string legacyNotice(const std::string& name) {
  for (const auto& l : kMarathonLbOnly) {
    if (name == l.name) {
      return std::string(l.name) + " (marathon-lb) is ignored: " + l.instead;
    }
  }
  return name;
}

}  // namespace

const char* const kControllerUsage =
    "usage: mlb-controller [--marathon URL...] [--group G]... [--sse | --poll-interval S]\n"
    "  [--health-check] [--strict-mode] [--haproxy-map] [--ssl-certs A,B]\n"
    "  [--group-https-by-vhost] [--dont-bind-http-https] [--min-serv-port-ip-per-task P]\n"
    "  [--max-serv-port-ip-per-task P] [--maxconn N] [--auth-credentials USER:PASS]\n"
    "  [--marathon-auth-credential-file F] [--marathon-auth-token-file F]\n"
    "  [--marathon-ca-cert F] [--marathon-insecure-skip-verify] [--marathon-timeout S]\n"
    "  [--state-dir DIR] [--keep-bundles N] [--haproxy-bin PATH] [--no-validate]\n"
    "  [--templates-dir DIR] [--max-shrink F] [--confirm-resyncs N] [--confirm-interval S]\n"
    "  [--resync-interval S] [--min-interval S] [--sse-silence-timeout S] [--listen ADDR:PORT]\n"
    "  [--haproxy-config PATH] [--dry] [--skip-validation] [--log-level L] [--max-backoff S]\n"
    "  [--syslog-socket PATH (log lines also to this syslog socket; /dev/null: none)]\n"
    "  [--haproxy-log stdout|stderr|PATH (HAProxy's own log target, in HAPROXY_HEAD)]\n"
    "  [--longhelp]\n"
    "marathon-lb's other flags (--command, --max-reload-retries, --reload-interval,\n"
    "--archive-versions, --log-format, --skip-config-cleanup,\n"
    "--lru-cache-capacity) are accepted with a notice saying what mlb does instead.\n"
    "Every flag can also be set as MLB_<FLAG> in the environment (MLB_MARATHON, MLB_GROUP, ...).\n";

namespace {

// The command line, over the environment's values. Groups given as flags replace
// the environment's.
bool applyArguments(const std::vector<std::string>& args, ControllerFlags& out, std::string& error,
                    bool& help) {
  auto line = common::readFlags(controllerFlags(), args, controllerRules());
  if (!line) {
    error = line.error().message;
    return false;
  }
  help = line->help;
  for (const auto& use : line->uses) {
    if (use.ignored) {
      out.notices.push_back(legacyNotice(use.name));
    }
  }
  if (std::any_of(line->uses.begin(), line->uses.end(),
                  [](const common::FlagUse& u) { return u.name == "--group"; })) {
    out.reconcile.build.groups.clear();
  }
  if (help) {
    return true;
  }
  Status applied = common::applyUses(controllerFlags(), line->uses, out);
  if (!applied) {
    error = applied.error().message;
  }
  return static_cast<bool>(applied);
}

// Defaults that depend on other flags, the checks across flags, absolute paths.
bool finishFlags(ControllerFlags& out, std::string& error) {
  if (out.reconcile.build.groups.empty()) {
    out.reconcile.build.groups = {"external"};
  }
  if (out.marathon.urls.empty()) {
    error = "--marathon needs at least one URL";
    return false;
  }
  if (out.marathon.basic_auth.empty() && !out.url_credentials.empty()) {
    if (out.url_credentials.find(':') == std::string::npos) {
      error = "--marathon: the credentials in the URL must be user:password";
      return false;
    }
    out.marathon.basic_auth = out.url_credentials;  // --auth-credentials wins
  }
  out.url_credentials.clear();
  if (Status range = checkRenderFlags(out.reconcile.build); !range) {
    error = range.error().message;
    return false;
  }
  // HAProxy reads a relative socket path as host:port: every path it sees is absolute.
  out.state_dir = common::absolutePath(out.state_dir);
  while (out.state_dir.size() > 1 && out.state_dir.back() == '/') {
    out.state_dir.pop_back();
  }
  for (auto& cert : out.reconcile.render.ssl_certs) {
    cert = common::absolutePath(cert);
  }
  out.reconcile.render.state_dir = out.state_dir;
  // Map files are read through `live`, the bundle HAProxy actually loaded (owned by
  // the reloader), so a config and its maps always come from the same bundle.
  out.reconcile.render.haproxy_dir = out.state_dir + "/live";
  if (out.validate && out.reconcile.haproxy_bin.empty()) {
    for (const char* p : {"/usr/sbin/haproxy", "/usr/local/sbin/haproxy", "/usr/bin/haproxy"}) {
      if (::access(p, X_OK) == 0) {
        out.reconcile.haproxy_bin = p;
        break;
      }
    }
  }
  if (!out.validate) {
    out.reconcile.haproxy_bin.clear();
  }
  return true;
}

}  // namespace

common::Result<ControllerFlags> parseControllerFlags(
    const std::vector<std::string>& args, const std::map<std::string, std::string>& env) {
  ControllerFlags out;
  out.marathon.urls = {"http://master.mesos:8080"};
  out.reconcile.render.haproxy_dir = "";  // set from state_dir below
  if (Status s = common::applyEnvironment(controllerFlags(), env, out, controllerRules()); !s) {
    return s.error();
  }
  std::string error;
  if (!applyArguments(args, out, error, out.help) || (!out.help && !finishFlags(out, error))) {
    return Error::invalidArgument(error);
  }
  return out;
}

}  // namespace mlb::controller
