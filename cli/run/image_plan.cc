#include "cli/run/image_plan.h"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace mlb::cli {

const char* const kImageRunUsage =
    "usage: mlb-run sse|poll [marathon_lb.py arguments]\n"
    "  marathon-lb's image interface: runs mlb-controller (with those arguments),\n"
    "  mlb-reloader watch and HAProxy (mlb-reloader haproxy) in this container and\n"
    "  restarts whichever dies. SIGTERM, SIGINT, SIGHUP or SIGQUIT stops all three\n"
    "  gracefully.\n"
    "  env: POLL_INTERVAL (poll, default 60), HAPROXY_SSL_CERT and HAPROXY_SSL_CERT0..100\n"
    "  (PEM text), MARATHON_USER/MARATHON_PASSWORD, MESOS_SANDBOX (templates/), PORTS.\n";

namespace {

using Env = std::map<std::string, std::string>;

std::string envOr(const Env& env, const std::string& name, const std::string& fallback) {
  auto it = env.find(name);
  return it == env.end() || it->second.empty() ? fallback : it->second;
}

bool hasFlag(const std::vector<std::string>& args, const std::string& flag) {
  for (const auto& a : args) {
    if (a == flag || a.rfind(flag + "=", 0) == 0) {
      return true;
    }
  }
  return false;
}

bool hasEnv(const Env& env, const std::string& name) { return !envOr(env, name, "").empty(); }

// Removes `FLAG X` (or `FLAG=X`) from `args` and returns X; "" when absent or empty (an
// empty value stays, for the controller to refuse).
std::string takeFlag(std::vector<std::string>& args, const std::string& flag) {
  for (size_t i = 0; i < args.size(); ++i) {
    const auto at = args.begin() + static_cast<long>(i);
    if (args[i].rfind(flag + "=", 0) == 0 && args[i].size() > flag.size() + 1) {
      std::string v = args[i].substr(flag.size() + 1);
      args.erase(at);
      return v;
    }
    if (args[i] == flag && i + 1 < args.size() && !args[i + 1].empty()) {
      std::string v = args[i + 1];
      args.erase(at, at + 2);
      return v;
    }
  }
  return "";
}

// POLL_INTERVAL as marathon-lb's `sleep` read it: seconds, or a number with an s, m, h
// or d suffix. Anything else is passed on for the controller to refuse.
std::string pollSeconds(const std::string& v) {
  const std::string units = "smhd";
  const int factor[] = {1, 60, 3600, 86400};
  const size_t u = v.empty() ? std::string::npos : units.find(v.back());
  const std::string number = u == std::string::npos ? v : v.substr(0, v.size() - 1);
  char* end = nullptr;
  const double x = std::strtod(number.c_str(), &end);
  if (number.empty() || end == nullptr || *end != '\0' || !(x > 0)) {
    return v;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", x * (u == std::string::npos ? 1 : factor[u]));
  return buf;
}

// HAPROXY_SSL_CERT (then HAPROXY_SSL_CERT0..100, only when it is set) written as files;
// returns the --ssl-certs list for the controller ("" when nothing changes).
std::string planCertificates(const ImageInput& in, std::vector<std::string>& args,
                             ImagePlan& plan) {
  std::string certs = takeFlag(args, "--ssl-certs");
  const std::string main_cert = envOr(in.env, "HAPROXY_SSL_CERT", "");
  if (main_cert.empty()) {
    return certs;  // the given list, or none: the image's default certificate
  }
  const std::string path = in.cert_dir + "/cert.pem";
  plan.files.push_back({path, expandEchoEscapes(main_cert) + "\n"});
  certs += (certs.empty() ? "" : ",") + path;
  for (int i = 0; i <= 100; ++i) {
    const std::string text = envOr(in.env, "HAPROXY_SSL_CERT" + std::to_string(i), "");
    if (!text.empty()) {
      const std::string p = in.cert_dir + "/cert" + std::to_string(i) + ".pem";
      plan.files.push_back({p, expandEchoEscapes(text) + "\n"});
      certs += "," + p;
    }
  }
  return certs;
}

// marathon-lb's image: HAPROXY_SYSLOGD put HAProxy's log lines on the container's
// output (a syslogd relaying /dev/log to stdout); SYSLOG_SOCKET was marathon_lb.py's
// --syslog-socket. mlb's image logs HAProxy to stdout by default (MLB_HAPROXY_LOG);
// HAPROXY_SYSLOGD asks for exactly that, whatever MLB_HAPROXY_LOG says.
void planLogging(const Env& env, std::map<std::string, std::string>& controller_env) {
  if (env.count("HAPROXY_SYSLOGD") != 0) {
    controller_env["MLB_HAPROXY_LOG"] = "stdout";
  }
  if (auto it = env.find("SYSLOG_SOCKET"); it != env.end() && env.count("MLB_SYSLOG_SOCKET") == 0) {
    controller_env["MLB_SYSLOG_SOCKET"] = it->second;
  }
}

// What marathon-lb's image read from its environment that mlb handles otherwise.
void planNotices(const Env& env, ImagePlan& plan) {
  if (env.count("PORTS") != 0) {
    plan.notices.push_back("PORTS=" + env.at("PORTS") +
                           " is only logged, as marathon-lb did: HAProxy binds what the "
                           "apps' labels and the templates say");
  }
  if (env.count("HAPROXY_SYSCTL_PARAMS") != 0) {
    plan.notices.push_back(
        "HAPROXY_SYSCTL_PARAMS is not applied: the image runs as a non-root user; set "
        "these on the host or with the container runtime's --sysctl");
  }
  if (env.count("VAULT_TOKEN") != 0 || env.count("VAULT_HOST") != 0) {
    plan.notices.push_back(
        "VAULT_* is not used (marathon-lb's Vault lookup never worked): pass "
        "--marathon-auth-credential-file or MARATHON_USER/MARATHON_PASSWORD");
  }
}

// Whether a URL carries user:password@ (or user@) before its host.
bool hasUserinfo(const std::string& url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) {
    return false;
  }
  const size_t end = url.find_first_of("/?#", scheme + 3);
  return url.substr(scheme + 3, end == std::string::npos ? end : end - scheme - 3).find('@') !=
         std::string::npos;
}

// --marathon URLs with credentials in them go to the controller's environment
// (MLB_MARATHON, which it reads as --marathon and strips of its user:password), not its
// command line, which every process of the host reads with --pid=host.
void moveUrlCredentials(std::vector<std::string>& args, std::map<std::string, std::string>& env) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i].rfind("--marathon=", 0) == 0 && hasUserinfo(args[i])) {
      env["MLB_MARATHON"] = args[i].substr(std::strlen("--marathon="));
      args.erase(args.begin() + static_cast<long>(i));
      return;
    }
    if (args[i] != "--marathon" && args[i] != "-m") {
      continue;
    }
    size_t end = i + 1;
    while (end < args.size() && !args[end].empty() && args[end][0] != '-') {
      ++end;
    }
    const std::vector<std::string> urls(args.begin() + static_cast<long>(i) + 1,
                                        args.begin() + static_cast<long>(end));
    if (std::none_of(urls.begin(), urls.end(), hasUserinfo)) {
      continue;
    }
    std::string joined;
    for (const auto& u : urls) {
      joined += (joined.empty() ? "" : ",") + u;
    }
    env["MLB_MARATHON"] = joined;
    args.erase(args.begin() + static_cast<long>(i), args.begin() + static_cast<long>(end));
    return;
  }
}

std::vector<std::string> controllerArgv(const ImageInput& in, std::vector<std::string> args,
                                        const std::string& mode, ImagePlan& plan,
                                        std::map<std::string, std::string>& env) {
  std::vector<std::string> argv{"mlb-controller"};
  if (mode == "poll") {
    argv.insert(argv.end(), {"--poll-interval", pollSeconds(envOr(in.env, "POLL_INTERVAL", "60"))});
  } else {
    argv.emplace_back("--sse");
  }
  // Credentials given as arguments go to the controller's environment: with --pid=host
  // every process of the host reads a command line.
  for (const auto& [flag, var] :
       {std::pair{"--auth-credentials", "MLB_AUTH_CREDENTIALS"},
        std::pair{"--dcos-auth-credentials", "MLB_DCOS_AUTH_CREDENTIALS"}}) {
    if (std::string v = takeFlag(args, flag); !v.empty()) {
      env[var] = v;
    }
  }
  moveUrlCredentials(args, env);
  const std::string certs = planCertificates(in, args, plan);
  const std::string sandbox = envOr(in.env, "MESOS_SANDBOX", "");
  if (!sandbox.empty() && !hasFlag(args, "--templates-dir") &&
      !hasEnv(in.env, "MLB_TEMPLATES_DIR") && in.is_directory &&
      in.is_directory(sandbox + "/templates")) {
    argv.insert(argv.end(), {"--templates-dir", sandbox + "/templates"});
  }
  argv.insert(argv.end(), args.begin(), args.end());
  if (!certs.empty()) {
    argv.insert(argv.end(), {"--ssl-certs", certs});
  }
  return argv;
}

// Whether Marathon credentials are given some other way (a flag or its MLB_ variable).
bool hasOtherAuth(const ImageInput& in) {
  for (const char* flag : {"--auth-credentials", "--marathon-auth-credential-file",
                           "--dcos-auth-credentials", "--marathon-auth-token-file"}) {
    if (hasFlag(in.args, flag)) {
      return true;
    }
  }
  for (const char* var :
       {"MLB_AUTH_CREDENTIALS", "MLB_MARATHON_AUTH_CREDENTIAL_FILE", "MLB_DCOS_AUTH_CREDENTIALS",
        "MLB_MARATHON_AUTH_TOKEN_FILE", "DCOS_SERVICE_ACCOUNT_CREDENTIAL"}) {
    if (hasEnv(in.env, var)) {
      return true;
    }
  }
  return false;
}

// MARATHON_USER/MARATHON_PASSWORD reach the controller through its environment
// (MLB_AUTH_CREDENTIALS), never its command line, which every process can read.
void addMarathonUser(const ImageInput& in, std::map<std::string, std::string>& env) {
  const std::string user = envOr(in.env, "MARATHON_USER", "");
  const std::string password = envOr(in.env, "MARATHON_PASSWORD", "");
  if (!user.empty() && !password.empty() && !hasOtherAuth(in)) {
    env["MLB_AUTH_CREDENTIALS"] = user + ":" + password;
  }
}

// Secrets no child needs as they are (the certificates are written to files, the user
// and password become MLB_AUTH_CREDENTIALS), and the Marathon credentials, which only
// the controller needs.
const std::vector<std::string> kImageSecrets = {"MARATHON_USER", "MARATHON_PASSWORD",
                                                "HAPROXY_SSL_CERT*", "VAULT_TOKEN"};
const std::vector<std::string> kMarathonCredentials = {
    "DCOS_SERVICE_ACCOUNT_CREDENTIAL", "MLB_AUTH_CREDENTIALS", "MLB_DCOS_AUTH_CREDENTIALS"};

// The prefix of the variables meant for one child alone, by child name.
const std::map<std::string, std::string> kChildPrefixes = {{"controller", "MLB_RUN_CONTROLLER_"},
                                                           {"reloader", "MLB_RUN_WATCH_"},
                                                           {"haproxy", "MLB_RUN_ENTRYPOINT_"}};
// Each of the three binds a port of its own: a shared MLB_LISTEN would make two of
// them fail to bind and restart forever. It is the controller's (its API); the others
// take theirs from MLB_RUN_WATCH_LISTEN / MLB_RUN_ENTRYPOINT_LISTEN.
const std::vector<std::string> kOwnPorts = {"MLB_LISTEN"};

// The URL HAProxy's Lua reaches a listener at: its address, or 127.0.0.1 for a
// wildcard ("0.0.0.0:9200", ":9200", "[::]:9200"); empty without a port.
std::string listenerUrl(const std::string& listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon + 1 == listen.size()) {
    return "";
  }
  std::string host = listen.substr(0, colon);
  if (host.empty() || host == "0.0.0.0" || host == "*" || host == "[::]" || host == "::") {
    host = "127.0.0.1";
  }
  return "http://" + host + ":" + listen.substr(colon + 1);
}

// HAProxy's :9090 passes marathon-lb's endpoints to the controller and the reloader
// (mlb.lua): at the addresses they were moved to, unless the URLs are set.
void pointLuaAtListeners(const ImageInput& in, ChildSpec& child) {
  struct Target {
    const char* url_var;
    std::vector<const char*> listen_vars;  // the child's own first
  };
  for (const Target& t : {Target{"MLB_CONTROLLER_URL", {"MLB_RUN_CONTROLLER_LISTEN", "MLB_LISTEN"}},
                          Target{"MLB_RELOADER_URL", {"MLB_RUN_WATCH_LISTEN"}}}) {
    if (in.env.count(t.url_var) != 0) {
      continue;
    }
    for (const char* var : t.listen_vars) {
      const auto listen = in.env.find(var);
      if (listen != in.env.end() && !listenerUrl(listen->second).empty()) {
        child.env[t.url_var] = listenerUrl(listen->second);
        break;
      }
    }
  }
}

// MLB_RUN_<CHILD>_X becomes MLB_X for that child alone; no child sees another's.
void routeChildVariables(const ImageInput& in, ChildSpec& child) {
  for (const auto& [name, prefix] : kChildPrefixes) {
    child.drop_env.push_back(prefix + "*");
  }
  if (child.name != "controller") {
    child.drop_env.insert(child.drop_env.end(), kOwnPorts.begin(), kOwnPorts.end());
  }
  const std::string& own = kChildPrefixes.at(child.name);
  for (const auto& [k, v] : in.env) {
    if (k.rfind(own, 0) == 0 && k.size() > own.size()) {
      child.env["MLB_" + k.substr(own.size())] = v;
    }
  }
  if (child.name == "haproxy") {
    pointLuaAtListeners(in, child);
  }
}

}  // namespace

namespace {

void mask(char* from, char* to) {
  for (char* c = from; c < to; ++c) {
    *c = '*';
  }
}

// The user:password of "scheme://user:password@host..." in `arg`, masked.
void maskUserinfo(char* arg) {
  for (char* scheme = std::strstr(arg, "://"); scheme; scheme = std::strstr(scheme + 3, "://")) {
    char* start = scheme + 3;
    char* end = start + std::strcspn(start, "/?#, ");
    char* at = nullptr;
    for (char* c = start; c < end; ++c) {
      at = *c == '@' ? c : at;
    }
    if (at) {
      mask(start, at);
    }
  }
}

}  // namespace

void scrubSecretArguments(int argc, char** argv) {
  static const char* const kSecret[] = {"--auth-credentials", "--dcos-auth-credentials"};
  for (int i = 1; i < argc; ++i) {
    for (const char* flag : kSecret) {
      const size_t n = std::strlen(flag);
      if (std::strcmp(argv[i], flag) == 0 && i + 1 < argc) {
        mask(argv[i + 1], argv[i + 1] + std::strlen(argv[i + 1]));
      } else if (std::strncmp(argv[i], flag, n) == 0 && argv[i][n] == '=') {
        mask(argv[i] + n + 1, argv[i] + std::strlen(argv[i]));
      }
    }
    maskUserinfo(argv[i]);
  }
}

bool dropsVariable(const ChildSpec& spec, const std::string& name) {
  for (const auto& d : spec.drop_env) {
    if (d == name ||
        (!d.empty() && d.back() == '*' && name.compare(0, d.size() - 1, d, 0, d.size() - 1) == 0)) {
      return true;
    }
  }
  return false;
}

std::string expandEchoEscapes(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\' || i + 1 == text.size()) {
      out += text[i];
      continue;
    }
    switch (text[++i]) {
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      case '\\':
        out += '\\';
        break;
      default:
        out += '\\';
        out += text[i];
        break;
    }
  }
  return out;
}

common::Result<ImagePlan> planImageRun(const ImageInput& in) {
  if (in.args.empty() || (in.args[0] != "sse" && in.args[0] != "poll")) {
    return common::Error::invalidArgument("Unknown mode " +
                                          (in.args.empty() ? std::string("(none)") : in.args[0]) +
                                          ". Synopsis: mlb-run poll|sse [marathon_lb.py args]");
  }
  ImagePlan plan;
  const std::vector<std::string> rest(in.args.begin() + 1, in.args.end());
  ChildSpec controller{"controller", {}, {}, SIGTERM, kImageSecrets};
  controller.argv = controllerArgv(in, rest, in.args[0], plan, controller.env);
  addMarathonUser(in, controller.env);
  planLogging(in.env, controller.env);
  std::vector<std::string> others = kImageSecrets;
  others.insert(others.end(), kMarathonCredentials.begin(), kMarathonCredentials.end());
  plan.children.push_back(std::move(controller));
  plan.children.push_back({"reloader", {"mlb-reloader", "watch"}, {}, SIGTERM, others});
  plan.children.push_back({"haproxy", {"mlb-reloader", "haproxy"}, {}, SIGUSR1, others});
  for (auto& child : plan.children) {
    routeChildVariables(in, child);
  }
  planNotices(in.env, plan);
  return plan;
}

}  // namespace mlb::cli
