#include "cli/deploy/deploy_flags.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>

#include "common/flags.h"
#include "controller/app/controller_flags.h"

namespace mlb::cli::deploy {
namespace {

using common::Error;
using common::FlagArity;
using common::Status;
using V = const std::vector<std::string>&;

// A count (`count`) or a number of seconds in [0, 1e6], as bluegreen_deploy.py takes them.
auto countOrSeconds(bool count) {
  return [count](const std::string& name, const std::string& s) -> common::Result<double> {
    double n = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    const bool integral = !count || n == static_cast<double>(static_cast<long>(n));
    if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(n) || n < 0 || n > 1e6 ||
        !integral) {
      return Error::invalidArgument(name + ": '" + s + "' is not a " +
                                    (count ? "count" : "number of seconds"));
    }
    return n;
  };
}

template <typename Store>
common::Flag<DeployFlags> number(const char* name, bool count, Store store) {
  return common::parsedFlag<DeployFlags>(name, countOrSeconds(count), store, false);
}

template <typename Field>
common::Flag<DeployFlags> text(const char* name, Field field) {
  return common::textFlag<DeployFlags>(name, field, false);
}

template <typename Field>
common::Flag<DeployFlags> setter(const char* name, Field field) {
  return common::switchFlag<DeployFlags>(name, field, true, false);
}

// bluegreen_deploy.py's flags, mlb's, and the controller's Marathon auth flags
// (those also from the environment, as mlb-controller reads them).
const common::FlagTable<DeployFlags>& deployFlags() {
  static const common::FlagTable<DeployFlags> kFlags = [] {
    using F = DeployFlags;
    common::FlagTable<F> table = {
        text("--json", [](F& f) -> std::string& { return f.json; }),
        {"--marathon", FlagArity::One,
         [](V v, F& f) -> Status {
           f.marathon.push_back(v[0]);
           return {};
         },
         false},
        text("--marathon-lb", [](F& f) -> std::string& { return f.marathon_lb; }),
        setter("--dry-run", [](F& f) -> bool& { return f.dry_run; }),
        setter("--force", [](F& f) -> bool& { return f.force; }),
        number("--step-delay", false, [](F& f, double n) { f.step_delay = n; }),
        number("--initial-instances", true,
               [](F& f, double n) { f.initial_instances = static_cast<int>(n); }),
        number("--linear-increase", true,
               [](F& f, double n) { f.linear_increase = static_cast<int>(n); }),
        setter("--resume", [](F& f) -> bool& { return f.resume; }),
        number("--max-wait", false, [](F& f, double n) { f.max_wait = n; }),
        number("--new-instances", true,
               [](F& f, double n) { f.new_instances = static_cast<int>(n); }),
        setter("--complete-cur", [](F& f) -> bool& { return f.complete_cur; }),
        setter("--complete-prev", [](F& f) -> bool& { return f.complete_prev; }),
        text("--pre-kill-hook", [](F& f) -> std::string& { return f.pre_kill_hook; }),
        setter("--rollback", [](F& f) -> bool& { return f.rollback; }),
        setter("--no-rollback", [](F& f) -> bool& { return f.no_rollback; }),
    };
    for (auto& flag : common::projectFlags<F, controller::MarathonConfig>(
             controller::marathonAuthFlags(),
             [](F& f) -> controller::MarathonConfig& { return f.auth; })) {
      table.push_back(std::move(flag));
    }
    return table;
  }();
  return kFlags;
}

// bluegreen_deploy.py's short names; marathon-lb's logging flags, accepted (mlb
// deploy prints plain lines).
const common::CommandLineRules& deployRules() {
  static const common::CommandLineRules kRules = [] {
    common::CommandLineRules r = controller::marathonAuthRules();
    r.aliases = {{"-j", "--json"},
                 {"-m", "--marathon"},
                 {"-l", "--marathon-lb"},
                 {"-d", "--dry-run"},
                 {"-f", "--force"},
                 {"-s", "--step-delay"},
                 {"-i", "--initial-instances"},
                 {"-r", "--resume"},
                 {"-w", "--max-wait"},
                 {"-n", "--new-instances"},
                 {"-c", "--complete-cur"},
                 {"-p", "--complete-prev"}};
    r.ignored = {{"--syslog-socket", FlagArity::One},
                 {"--log-format", FlagArity::One},
                 {"--log-level", FlagArity::One}};
    return r;
  }();
  return kRules;
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
  auto line = common::readFlags(deployFlags(), args, deployRules());
  if (!line) {
    return line.error();
  }
  out.help = line->help;
  if (out.help) {
    return out;
  }
  Status s = common::applyEnvironment(deployFlags(), env, out, deployRules());
  if (s) {
    s = common::applyUses(deployFlags(), line->uses, out);
  }
  if (!s) {
    return s.error();
  }
  out.auth.urls = out.marathon;
  if (auto st = checkCombination(out); !st) {
    return st.error();
  }
  return out;
}

}  // namespace mlb::cli::deploy
