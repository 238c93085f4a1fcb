#include "controller/app/controller_flags.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "common/fs/files.h"
#include "common/strings.h"
#include "controller/model/labels.h"

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

struct FlagSpec {
  const char* name;
  bool takes_value;
  bool multi;  // takes several values (--marathon a b)
  std::function<bool(const std::vector<std::string>&, ControllerFlags&, std::string&)> apply;
};

bool toInt(const std::string& flag, const std::string& v, int lo, int hi, int& out,
           std::string& err) {
  auto n = parseInt(v, lo, hi);
  if (!n) {
    err = flag + " " + v + ": not an integer in [" + std::to_string(lo) + ", " +
          std::to_string(hi) + "]";
    return false;
  }
  out = *n;
  return true;
}

std::optional<common::LogLevel> parseLogLevel(std::string v) {
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::toupper(c); });
  static const std::map<std::string, common::LogLevel> kLevels = {
      {"DEBUG", common::LogLevel::Debug},  {"INFO", common::LogLevel::Info},
      {"WARNING", common::LogLevel::Warn}, {"WARN", common::LogLevel::Warn},
      {"ERROR", common::LogLevel::Error},  {"CRITICAL", common::LogLevel::Error}};
  auto it = kLevels.find(v);
  return it == kLevels.end() ? std::nullopt : std::optional<common::LogLevel>(it->second);
}

bool toSeconds(const std::string& flag, const std::string& v, std::chrono::milliseconds& out,
               std::string& err) {
  char* end = nullptr;
  double d = std::strtod(v.c_str(), &end);
  if (end == v.c_str() || *end != '\0' || d < 0 || d > 86400 * 7) {
    err = flag + " " + v + ": not a number of seconds";
    return false;
  }
  out = std::chrono::milliseconds(static_cast<int64_t>(d * 1000));
  return true;
}

const std::vector<FlagSpec>& specs() {
  using V = const std::vector<std::string>&;
  static const std::vector<FlagSpec> kSpecs = {
      {"--marathon", true, true,
       [](V v, ControllerFlags& f, std::string&) {
         f.marathon.urls.clear();
         for (const auto& x : v) {
           for (auto& u : common::splitList(x)) {
             while (!u.empty() && u.back() == '/') {
               u.pop_back();
             }
             f.marathon.urls.push_back(u);
           }
         }
         return true;
       }},
      {"--group", true, false,
       [](V v, ControllerFlags& f, std::string&) {
         for (const auto& g : common::splitList(v[0])) {
           f.reconcile.build.groups.push_back(g);
         }
         return true;
       }},
      {"--sse", false, false, [](V, ControllerFlags& f, std::string&) { return f.sse = true; }},
      {"--poll-interval", true, false,
       [](V v, ControllerFlags& f, std::string& e) {
         f.sse = false;
         return toSeconds("--poll-interval", v[0], f.loop.resync_interval, e);
       }},
      {"--resync-interval", true, false,
       [](V v, ControllerFlags& f, std::string& e) {
         return toSeconds("--resync-interval", v[0], f.loop.resync_interval, e);
       }},
      {"--min-interval", true, false,
       [](V v, ControllerFlags& f, std::string& e) {
         return toSeconds("--min-interval", v[0], f.loop.min_interval, e);
       }},
      {"--confirm-interval", true, false,
       [](V v, ControllerFlags& f, std::string& e) {
         return toSeconds("--confirm-interval", v[0], f.loop.confirm_interval, e);
       }},
      {"--sse-silence-timeout", true, false,
       [](V v, ControllerFlags& f, std::string& e) {
         return toSeconds("--sse-silence-timeout", v[0], f.silence_timeout, e);
       }},
      {"--marathon-timeout", true, false,
       [](V v, ControllerFlags& f, std::string& e) {
         std::chrono::milliseconds ms;
         if (!toSeconds("--marathon-timeout", v[0], ms, e)) {
           return false;
         }
         f.marathon.timeout_ms = static_cast<int>(ms.count());
         return true;
       }},
      {"--health-check", false, false,
       [](V, ControllerFlags& f, std::string&) { return f.reconcile.build.health_check = true; }},
      {"--strict-mode", false, false,
       [](V, ControllerFlags& f, std::string&) { return f.reconcile.build.strict_mode = true; }},
      {"--haproxy-map", false, false,
       [](V, ControllerFlags& f, std::string&) { return f.reconcile.render.haproxy_map = true; }},
      {"--group-https-by-vhost", false, false,
       [](V, ControllerFlags& f, std::string&) {
         return f.reconcile.render.group_https_by_vhost = true;
       }},
      {"--dont-bind-http-https", false, false,
       [](V, ControllerFlags& f, std::string&) {
         f.reconcile.render.bind_http_https = false;
         return true;
       }},
      {"--ssl-certs", true, false,
       [](V v, ControllerFlags& f, std::string& e) {
         f.reconcile.render.ssl_certs = common::splitList(v[0]);
         if (f.reconcile.render.ssl_certs.empty()) {
           e = "--ssl-certs needs at least one path";
           return false;
         }
         return true;
       }},
      {"--min-serv-port-ip-per-task", true, false,
       [](V v, ControllerFlags& f, std::string& e) {
         return toInt("--min-serv-port-ip-per-task", v[0], 0, 65535,
                      f.reconcile.build.min_serv_port_ip_per_task, e);
       }},
      {"--max-serv-port-ip-per-task", true, false,
       [](V v, ControllerFlags& f, std::string& e) {
         return toInt("--max-serv-port-ip-per-task", v[0], 0, 65535,
                      f.reconcile.build.max_serv_port_ip_per_task, e);
       }},
      {"--maxconn", true, false,
       [](V v, ControllerFlags& f, std::string& e) {
         return toInt("--maxconn", v[0], 1, 10000000, f.reconcile.render.maxconn, e);
       }},
      {"--auth-credentials", true, false,
       [](V v, ControllerFlags& f, std::string& e) {
         if (v[0].find(':') == std::string::npos) {
           e = "--auth-credentials must be user:password";
           return false;
         }
         f.marathon.basic_auth = v[0];
         return true;
       }},
      {"--marathon-auth-credential-file", true, false,
       [](V v, ControllerFlags& f, std::string& e) {
         std::string line;
         if (!readFirstLine(v[0], line) || line.find(':') == std::string::npos) {
           e = "--marathon-auth-credential-file " + v[0] +
               ": unreadable or not a user:password line";
           return false;
         }
         f.marathon.basic_auth = line;
         return true;
       }},
      {"--marathon-auth-token-file", true, false,
       [](V v, ControllerFlags& f, std::string& e) {
         std::string line;
         if (!readFirstLine(v[0], line) || line.empty()) {
           e = "--marathon-auth-token-file " + v[0] + ": unreadable or empty";
           return false;
         }
         f.marathon.token = line;
         return true;
       }},
      {"--dcos-auth-credentials", true, false,
       [](V v, ControllerFlags& f, std::string& e) {
         // marathon-lb's JSON: {"scheme": "RS256", "uid", "private_key", "login_endpoint"}.
         auto j = nlohmann::json::parse(v[0], nullptr, false);
         if (j.is_discarded() || !j.is_object()) {
           e = "--dcos-auth-credentials: not a JSON object";
           return false;
         }
         DcosCredentials c;
         for (auto [key, dst] : {std::pair<const char*, std::string*>{"uid", &c.uid},
                                 {"private_key", &c.private_key},
                                 {"login_endpoint", &c.login_endpoint}}) {
           if (!j.contains(key) || !j[key].is_string() || j[key].get<std::string>().empty()) {
             e = std::string("--dcos-auth-credentials: missing string field '") + key + "'";
             return false;
           }
           *dst = j[key].get<std::string>();
         }
         if (j.contains("scheme") && j["scheme"] != "RS256") {
           e = "--dcos-auth-credentials: only scheme RS256 is supported";
           return false;
         }
         f.marathon.dcos = c;
         return true;
       }},
      {"--marathon-ca-cert", true, false,
       [](V v, ControllerFlags& f, std::string& e) {
         if (::access(v[0].c_str(), R_OK) != 0) {
           e = "--marathon-ca-cert " + v[0] + ": not readable";
           return false;
         }
         f.marathon.ca_cert = v[0];
         return true;
       }},
      {"--marathon-insecure-skip-verify", false, false,
       [](V, ControllerFlags& f, std::string&) { return f.marathon.insecure_tls = true; }},
      {"--state-dir", true, false,
       [](V v, ControllerFlags& f, std::string&) {
         f.state_dir = v[0];
         return true;
       }},
      {"--keep-bundles", true, false,
       [](V v, ControllerFlags& f, std::string& e) {
         return toInt("--keep-bundles", v[0], 1, 1000, f.keep_bundles, e);
       }},
      {"--haproxy-bin", true, false,
       [](V v, ControllerFlags& f, std::string&) {
         f.reconcile.haproxy_bin = v[0];
         return true;
       }},
      {"--no-validate", false, false,
       [](V, ControllerFlags& f, std::string&) {
         f.validate = false;
         return true;
       }},
      {"--templates-dir", true, false,
       [](V v, ControllerFlags& f, std::string&) {
         f.templates_dir = v[0];
         return true;
       }},
      {"--max-shrink", true, false,
       [](V v, ControllerFlags& f, std::string& e) {
         char* end = nullptr;
         double d = std::strtod(v[0].c_str(), &end);
         if (end == v[0].c_str() || *end != '\0' || d < 0 || d > 1) {
           e = "--max-shrink " + v[0] + ": not a fraction in [0, 1]";
           return false;
         }
         f.reconcile.max_shrink = d;
         return true;
       }},
      {"--confirm-resyncs", true, false,
       [](V v, ControllerFlags& f, std::string& e) {
         return toInt("--confirm-resyncs", v[0], 1, 100, f.reconcile.confirm_resyncs, e);
       }},
      {"--listen", true, false,
       [](V v, ControllerFlags& f, std::string&) {
         f.listen = v[0];
         return true;
       }},
      // marathon-lb's flags that keep their meaning under another name or in mlb's way.
      {"--skip-validation", false, false,
       [](V, ControllerFlags& f, std::string&) {
         f.validate = false;
         return true;
       }},
      {"--haproxy-config", true, false,
       [](V v, ControllerFlags& f, std::string&) {
         f.haproxy_config = v[0];
         return true;
       }},
      {"--dry", false, false, [](V, ControllerFlags& f, std::string&) { return f.dry = true; }},
      {"--longhelp", false, false,
       [](V, ControllerFlags& f, std::string&) { return f.longhelp = true; }},
      {"--log-level", true, false,
       [](V v, ControllerFlags& f, std::string& e) {
         auto level = parseLogLevel(v[0]);
         if (!level) {
           e = "--log-level " + v[0] + ": not one of DEBUG, INFO, WARNING, ERROR, CRITICAL";
           return false;
         }
         f.log_level = level;
         return true;
       }},
      {"--max-backoff", true, false,
       [](V v, ControllerFlags& f, std::string& e) {
         return toSeconds("--max-backoff", v[0], f.sse_backoff_max, e);
       }},
  };
  return kSpecs;
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
    {"--syslog-socket", true, "mlb logs key=value lines to stderr"},
    {"--log-format", true, "mlb logs key=value lines to stderr"},
    {"--skip-config-cleanup", false,
     "mlb quarantines only the apps HAProxy rejects, without bisection"},
    {"--lru-cache-capacity", true,
     "mlb keeps the last health of every task and resolves host names with its own cache"},
};

const LegacyFlag* legacyFlag(const std::string& name) {
  for (const auto& l : kMarathonLbOnly) {
    if (name == l.name) {
      return &l;
    }
  }
  return nullptr;
}

// marathon-lb's short options.
std::string longName(const std::string& a) {
  static const std::map<std::string, std::string> kShort = {{"-H", "--health-check"},
                                                            {"-m", "--marathon"},
                                                            {"-s", "--sse"},
                                                            {"-c", "--command"},
                                                            {"-d", "--dry"}};
  auto it = kShort.find(a);
  return it == kShort.end() ? a : it->second;
}

// Whether `a` starts another option (then it is not a value of the previous one).
bool isOption(const std::string& a) {
  return a.rfind("--", 0) == 0 || longName(a) != a || a == "-h";
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
    "  [--longhelp]\n"
    "marathon-lb's other flags (--command, --max-reload-retries, --reload-interval,\n"
    "--archive-versions, --syslog-socket, --log-format, --skip-config-cleanup,\n"
    "--lru-cache-capacity) are accepted with a notice saying what mlb does instead.\n"
    "Every flag can also be set as MLB_<FLAG> in the environment (MLB_MARATHON, MLB_GROUP, ...).\n";

namespace {

// MLB_<FLAG> for each flag (and DCOS_SERVICE_ACCOUNT_CREDENTIAL, as marathon-lb reads
// it). One-shot modes come from the command line only: an MLB_DRY left in a
// container's environment must not stop the daemon.
bool applyEnvironmentFlags(const std::map<std::string, std::string>& env, ControllerFlags& out,
                           std::string& error) {
  for (const auto& spec : specs()) {
    if (std::string(spec.name) == "--dry" || std::string(spec.name) == "--longhelp") {
      continue;
    }
    std::string var = "MLB_";
    for (const char* p = spec.name + 2; *p; ++p) {
      var.push_back(*p == '-' ? '_' : static_cast<char>(std::toupper(*p)));
    }
    auto it = env.find(var);
    if (it == env.end() && std::string(spec.name) == "--dcos-auth-credentials") {
      var = "DCOS_SERVICE_ACCOUNT_CREDENTIAL";
      it = env.find(var);
    }
    if (it == env.end() || it->second.empty()) {
      continue;
    }
    if (!spec.takes_value) {
      if (it->second == "0" || it->second == "false") {
        continue;
      }
      if (!spec.apply({}, out, error)) {
        return false;
      }
    } else if (!spec.apply({it->second}, out, error)) {
      error = var + ": " + error;
      return false;
    }
  }
  return true;
}

// The values of the flag at args[i] (advancing i): the inline `=value`, or the words
// that follow (several for a multi-value flag).
bool flagValues(const FlagSpec& spec, const std::vector<std::string>& args, size_t& i,
                const std::optional<std::string>& inline_value, std::vector<std::string>& values,
                std::string& error) {
  if (!spec.takes_value) {
    return true;
  }
  if (inline_value) {
    values.push_back(*inline_value);
  } else {
    while (i + 1 < args.size() && !isOption(args[i + 1])) {
      values.push_back(args[++i]);
      if (!spec.multi) {
        break;
      }
    }
  }
  if (values.empty()) {
    error = std::string(spec.name) + " needs a value";
    return false;
  }
  return true;
}

// The command line, over the environment's values.
bool applyArguments(const std::vector<std::string>& args, ControllerFlags& out, std::string& error,
                    bool& help) {
  bool groups_from_flags = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      help = true;
      return true;
    }
    std::string name = longName(a);
    std::optional<std::string> inline_value;
    if (auto eq = name.find('='); eq != std::string::npos && name.rfind("--", 0) == 0) {
      inline_value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (const LegacyFlag* legacy = legacyFlag(name)) {
      if (legacy->takes_value && !inline_value && i + 1 < args.size() && !isOption(args[i + 1])) {
        ++i;
      }
      out.notices.push_back(std::string(legacy->name) +
                            " (marathon-lb) is ignored: " + legacy->instead);
      continue;
    }
    auto spec = std::find_if(specs().begin(), specs().end(),
                             [&](const FlagSpec& s) { return name == s.name; });
    if (spec == specs().end()) {
      error = "unknown flag '" + a + "'";
      return false;
    }
    std::vector<std::string> values;
    if (!flagValues(*spec, args, i, inline_value, values, error)) {
      return false;
    }
    if (name == "--group" && !groups_from_flags) {
      out.reconcile.build.groups.clear();  // flags replace groups from the environment
      groups_from_flags = true;
    }
    if (!spec->apply(values, out, error)) {
      return false;
    }
  }
  return true;
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
  const int lo = out.reconcile.build.min_serv_port_ip_per_task;
  const int hi = out.reconcile.build.max_serv_port_ip_per_task;
  if ((lo == 0) != (hi == 0) || lo > hi) {
    error =
        "--min-serv-port-ip-per-task and --max-serv-port-ip-per-task must both be 0 or form "
        "a range";
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

bool parseControllerFlags(const std::vector<std::string>& args,
                          const std::map<std::string, std::string>& env, ControllerFlags& out,
                          std::string& error, bool& help) {
  help = false;
  out.marathon.urls = {"http://master.mesos:8080"};
  out.reconcile.render.haproxy_dir = "";  // set from state_dir below
  if (!applyEnvironmentFlags(env, out, error) || !applyArguments(args, out, error, help)) {
    return false;
  }
  return help || finishFlags(out, error);
}

}  // namespace mlb::controller
