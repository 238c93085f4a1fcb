#include "cli/deploy/deploy_flags.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>

#include "controller/app/controller_flags.h"

namespace mlb::cli::deploy {
namespace {

using common::Error;

enum class Kind { kSwitch, kText, kInt, kSeconds };

struct Flag {
  const char* name;
  const char* short_name;
  Kind kind;
  std::function<void(DeployFlags&, const std::string&, double)> set;
};

// bluegreen_deploy.py's flags, then mlb's.
const std::vector<Flag>& table() {
  static const std::vector<Flag> flags = {
      {"--json", "-j", Kind::kText,
       [](DeployFlags& f, const std::string& v, double) { f.json = v; }},
      {"--marathon", "-m", Kind::kText,
       [](DeployFlags& f, const std::string& v, double) { f.marathon.push_back(v); }},
      {"--marathon-lb", "-l", Kind::kText,
       [](DeployFlags& f, const std::string& v, double) { f.marathon_lb = v; }},
      {"--dry-run", "-d", Kind::kSwitch,
       [](DeployFlags& f, const std::string&, double) { f.dry_run = true; }},
      {"--force", "-f", Kind::kSwitch,
       [](DeployFlags& f, const std::string&, double) { f.force = true; }},
      {"--step-delay", "-s", Kind::kSeconds,
       [](DeployFlags& f, const std::string&, double n) { f.step_delay = n; }},
      {"--initial-instances", "-i", Kind::kInt,
       [](DeployFlags& f, const std::string&, double n) {
         f.initial_instances = static_cast<int>(n);
       }},
      {"--linear-increase", nullptr, Kind::kInt,
       [](DeployFlags& f, const std::string&, double n) {
         f.linear_increase = static_cast<int>(n);
       }},
      {"--resume", "-r", Kind::kSwitch,
       [](DeployFlags& f, const std::string&, double) { f.resume = true; }},
      {"--max-wait", "-w", Kind::kSeconds,
       [](DeployFlags& f, const std::string&, double n) { f.max_wait = n; }},
      {"--new-instances", "-n", Kind::kInt,
       [](DeployFlags& f, const std::string&, double n) { f.new_instances = static_cast<int>(n); }},
      {"--complete-cur", "-c", Kind::kSwitch,
       [](DeployFlags& f, const std::string&, double) { f.complete_cur = true; }},
      {"--complete-prev", "-p", Kind::kSwitch,
       [](DeployFlags& f, const std::string&, double) { f.complete_prev = true; }},
      {"--pre-kill-hook", nullptr, Kind::kText,
       [](DeployFlags& f, const std::string& v, double) { f.pre_kill_hook = v; }},
      {"--rollback", nullptr, Kind::kSwitch,
       [](DeployFlags& f, const std::string&, double) { f.rollback = true; }},
      {"--no-rollback", nullptr, Kind::kSwitch,
       [](DeployFlags& f, const std::string&, double) { f.no_rollback = true; }},
  };
  return flags;
}

// The controller's Marathon auth and TLS flags, parsed by the controller's parser.
const std::vector<std::pair<std::string, bool>>& authFlags() {
  static const std::vector<std::pair<std::string, bool>> flags = {
      {"--auth-credentials", true},         {"--marathon-auth-credential-file", true},
      {"--marathon-auth-token-file", true}, {"--dcos-auth-credentials", true},
      {"--marathon-ca-cert", true},         {"--marathon-insecure-skip-verify", false}};
  return flags;
}

// marathon-lb's logging flags: accepted, mlb deploy prints plain lines.
bool isLoggingFlag(const std::string& name) {
  return name == "--syslog-socket" || name == "--log-format" || name == "--log-level";
}

common::Result<double> number(const Flag& flag, const std::string& v) {
  double n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  const bool integral = flag.kind != Kind::kInt || n == static_cast<double>(static_cast<long>(n));
  if (ec != std::errc() || end != v.data() + v.size() || !std::isfinite(n) || n < 0 || n > 1e6 ||
      !integral) {
    return Error::invalidArgument(std::string(flag.name) + ": '" + v + "' is not a " +
                                  (flag.kind == Kind::kInt ? "count" : "number of seconds"));
  }
  return n;
}

common::Status applyFlag(const Flag& flag, const std::string& value, DeployFlags& out) {
  double n = 0;
  if (flag.kind == Kind::kInt || flag.kind == Kind::kSeconds) {
    auto parsed = number(flag, value);
    if (!parsed) {
      return parsed.error();
    }
    n = *parsed;
  }
  flag.set(out, value, n);
  return {};
}

common::Status checkCombination(const DeployFlags& f) {
  if (f.help) {
    return {};
  }
  if (f.marathon.empty()) {
    return Error::invalidArgument("--marathon (-m) is required");
  }
  if (f.json.empty()) {
    return Error::invalidArgument("--json (-j) is required");
  }
  if (f.marathon_lb.empty() && !f.dry_run) {
    return Error::invalidArgument("--marathon-lb (-l) is required");
  }
  if (f.step_delay < 0.05) {
    return Error::invalidArgument("--step-delay must be at least 0.05 s");
  }
  if (f.initial_instances < 1) {
    return Error::invalidArgument("--initial-instances must be at least 1");
  }
  if (f.complete_cur + f.complete_prev + f.rollback > 1) {
    return Error::invalidArgument(
        "--complete-cur, --complete-prev and --rollback exclude each other");
  }
  return {};
}

}  // namespace

const char* const kDeployUsage =
    "usage: mlb deploy -j APP.json -m MARATHON_URL -l MARATHON_LB_URL [flags]\n"
    "Blue/green deploy of APP.json through mlb (marathon-lb's bluegreen_deploy.py).\n"
    "  -j, --json FILE            the app definition (labels HAPROXY_DEPLOYMENT_GROUP and\n"
    "                             HAPROXY_DEPLOYMENT_ALT_PORT, a fixed service port)\n"
    "  -m, --marathon URL         Marathon (repeat for failover)\n"
    "  -l, --marathon-lb URL      an LB's stats endpoint, e.g. http://mlb.marathon.mesos:9090;\n"
    "                             every address the name resolves to is polled\n"
    "  -d, --dry-run              print the app that would be created, change nothing\n"
    "  -f, --force                do not prompt\n"
    "  -s, --step-delay S         seconds between steps (5)\n"
    "  -i, --initial-instances N  first size of the new colour (1)\n"
    "      --linear-increase N    grow the new colour by N per step instead of 50 %\n"
    "  -r, --resume               continue a deploy in progress (two colours running)\n"
    "  -w, --max-wait S           seconds a step may wait for health or draining (300)\n"
    "  -n, --new-instances N      hybrid deploy: stop at N new instances, keep the rest old\n"
    "  -c, --complete-cur         finish a hybrid deploy towards the new colour\n"
    "  -p, --complete-prev        finish a hybrid deploy towards the old colour\n"
    "      --rollback             scale the old colour back and remove the new one\n"
    "      --no-rollback          on failure or timeout, leave both colours as they are\n"
    "      --pre-kill-hook PATH   run PATH OLD_APP_JSON TASKS_JSON NEW_APP_JSON before each\n"
    "                             kill; a non-zero exit aborts\n"
    "  Marathon auth as mlb-controller: --auth-credentials U:P,\n"
    "  --marathon-auth-credential-file F, --marathon-auth-token-file F,\n"
    "  --dcos-auth-credentials JSON (or DCOS_SERVICE_ACCOUNT_CREDENTIAL), --marathon-ca-cert F,\n"
    "  --marathon-insecure-skip-verify.\n"
    "Exit: 0 done, 1 declined, 2 other error, 3 bad arguments, 4 missing field,\n"
    "5 load balancer unreachable, 6 Marathon error, 7 create, 8 delete, 9 scale failed.\n";

common::Result<DeployFlags> parseDeployFlags(const std::vector<std::string>& args,
                                             const std::map<std::string, std::string>& env) {
  DeployFlags out;
  std::vector<std::string> auth_args;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string name = args[i], value;
    bool inline_value = false;
    if (auto eq = name.find('='); name.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = name.substr(eq + 1), name = name.substr(0, eq), inline_value = true;
    }
    if (name == "-h" || name == "--help") {
      out.help = true;
      continue;
    }
    auto takeValue = [&]() -> common::Result<std::string> {
      if (inline_value) {
        return value;
      }
      if (i + 1 >= args.size()) {
        return Error::invalidArgument(name + " needs a value");
      }
      return args[++i];
    };
    auto auth = std::find_if(authFlags().begin(), authFlags().end(),
                             [&](const auto& a) { return a.first == name; });
    if (auth != authFlags().end() || isLoggingFlag(name)) {
      const bool takes = auth != authFlags().end() ? auth->second : true;
      auto v = takes ? takeValue() : common::Result<std::string>(std::string());
      if (!v) {
        return v.error();
      }
      if (auth != authFlags().end()) {
        auth_args.push_back(name);
        if (takes) {
          auth_args.push_back(*v);
        }
      }
      continue;
    }
    auto flag = std::find_if(table().begin(), table().end(), [&](const Flag& f) {
      return name == f.name || (f.short_name != nullptr && name == f.short_name);
    });
    if (flag == table().end()) {
      return Error::invalidArgument("unknown flag '" + args[i] + "'");
    }
    auto v = flag->kind == Kind::kSwitch ? common::Result<std::string>(std::string()) : takeValue();
    if (!v) {
      return v.error();
    }
    if (auto st = applyFlag(*flag, *v, out); !st) {
      return st.error();
    }
  }
  if (!auth_args.empty() || env.count("DCOS_SERVICE_ACCOUNT_CREDENTIAL")) {
    controller::ControllerFlags parsed;
    std::string error;
    bool help = false;
    std::map<std::string, std::string> auth_env;
    if (auto it = env.find("DCOS_SERVICE_ACCOUNT_CREDENTIAL"); it != env.end()) {
      auth_env.insert(*it);
    }
    if (!controller::parseControllerFlags(auth_args, auth_env, parsed, error, help)) {
      return Error::invalidArgument(error);
    }
    out.auth = parsed.marathon;
  }
  out.auth.urls = out.marathon;
  if (auto st = checkCombination(out); !st) {
    return st.error();
  }
  return out;
}

}  // namespace mlb::cli::deploy
