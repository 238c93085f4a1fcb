#include "cli/run/image_plan.h"

#include <csignal>

namespace mlb::cli {

const char* const kImageRunUsage =
    "usage: mlb-run sse|poll [marathon_lb.py arguments]\n"
    "  marathon-lb's image interface: runs mlb-controller (with those arguments),\n"
    "  mlb-reloader watch and HAProxy (mlb-reloader haproxy) in this container and\n"
    "  restarts whichever dies. SIGTERM or SIGINT stops all three gracefully.\n"
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

// Removes `--ssl-certs X` (or `--ssl-certs=X`) from `args` and returns X ("" if absent):
// the script appends the environment's certificates to the list given there.
std::string takeSslCerts(std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i].rfind("--ssl-certs=", 0) == 0) {
      std::string v = args[i].substr(12);
      args.erase(args.begin() + static_cast<long>(i));
      return v;
    }
    if (args[i] == "--ssl-certs" && i + 1 < args.size()) {
      std::string v = args[i + 1];
      args.erase(args.begin() + static_cast<long>(i), args.begin() + static_cast<long>(i) + 2);
      return v;
    }
  }
  return "";
}

// HAPROXY_SSL_CERT (then HAPROXY_SSL_CERT0..100, only when it is set) written as files;
// returns the --ssl-certs list for the controller ("" when nothing changes).
std::string planCertificates(const ImageInput& in, std::vector<std::string>& args,
                             ImagePlan& plan) {
  std::string certs = takeSslCerts(args);
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
  for (const char* name : {"SYSLOG_SOCKET", "HAPROXY_SYSLOGD"}) {
    if (env.count(name) != 0) {
      plan.notices.push_back(std::string(name) +
                             " is not used: mlb's processes log to the container's stderr");
    }
  }
  if (env.count("VAULT_TOKEN") != 0 || env.count("VAULT_HOST") != 0) {
    plan.notices.push_back(
        "VAULT_* is not used (marathon-lb's Vault lookup never worked): pass "
        "--marathon-auth-credential-file or MARATHON_USER/MARATHON_PASSWORD");
  }
}

std::vector<std::string> controllerArgv(const ImageInput& in, std::vector<std::string> args,
                                        const std::string& mode, ImagePlan& plan) {
  std::vector<std::string> argv{"mlb-controller"};
  if (mode == "poll") {
    argv.insert(argv.end(), {"--poll-interval", envOr(in.env, "POLL_INTERVAL", "60")});
  } else {
    argv.emplace_back("--sse");
  }
  const std::string certs = planCertificates(in, args, plan);
  const std::string sandbox = envOr(in.env, "MESOS_SANDBOX", "");
  if (!sandbox.empty() && !hasFlag(args, "--templates-dir") && in.is_directory &&
      in.is_directory(sandbox + "/templates")) {
    argv.insert(argv.end(), {"--templates-dir", sandbox + "/templates"});
  }
  argv.insert(argv.end(), args.begin(), args.end());
  if (!certs.empty()) {
    argv.insert(argv.end(), {"--ssl-certs", certs});
  }
  return argv;
}

// MARATHON_USER/MARATHON_PASSWORD reach the controller through its environment
// (MLB_AUTH_CREDENTIALS), never its command line, which every process can read.
std::map<std::string, std::string> controllerEnv(const ImageInput& in) {
  const std::string user = envOr(in.env, "MARATHON_USER", "");
  const std::string password = envOr(in.env, "MARATHON_PASSWORD", "");
  if (user.empty() || password.empty() || hasFlag(in.args, "--auth-credentials") ||
      hasFlag(in.args, "--marathon-auth-credential-file") ||
      hasFlag(in.args, "--dcos-auth-credentials")) {
    return {};
  }
  return {{"MLB_AUTH_CREDENTIALS", user + ":" + password}};
}

}  // namespace

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
  plan.children.push_back(
      {"controller", controllerArgv(in, rest, in.args[0], plan), controllerEnv(in), SIGTERM});
  plan.children.push_back({"reloader", {"mlb-reloader", "watch"}, {}, SIGTERM});
  plan.children.push_back({"haproxy", {"mlb-reloader", "haproxy"}, {}, SIGUSR1});
  planNotices(in.env, plan);
  return plan;
}

}  // namespace mlb::cli
