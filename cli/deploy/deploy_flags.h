#pragma once
// `mlb deploy`'s flags: bluegreen_deploy.py's, with its short names, plus mlb's
// rollback and the controller's Marathon auth flags.
#include <map>
#include <string>
#include <vector>

#include "common/result.h"
#include "controller/marathon/marathon_api.h"

namespace mlb::cli::deploy {

struct DeployFlags {
  std::string json;                   // -j/--json: the app definition
  std::vector<std::string> marathon;  // -m/--marathon (several: failover in order)
  std::string marathon_lb;            // -l/--marathon-lb: every address of its name is polled
  bool dry_run = false;               // -d
  bool force = false;                 // -f: no prompts
  double step_delay = 5;              // -s: seconds between steps
  int initial_instances = 1;          // -i
  int linear_increase = 0;            // scale +N per step instead of +50 %
  bool resume = false;                // -r
  double max_wait = 300;              // -w: seconds a step may wait (drain, health)
  int new_instances = 0;              // -n: hybrid deploy
  bool complete_cur = false;          // -c: finish a hybrid deploy towards the new colour
  bool complete_prev = false;         // -p: ... towards the old colour
  bool rollback = false;              // --rollback: back to the old colour now
  bool no_rollback = false;           // --no-rollback: leave a failed deploy as it is
  std::string pre_kill_hook;          // run before each kill; non-zero aborts
  controller::MarathonConfig auth;    // --auth-credentials, --dcos-auth-credentials, TLS
  bool help = false;
};

// argv without "mlb deploy"; `env` for the Marathon auth flags as mlb-controller
// reads them (MLB_AUTH_CREDENTIALS, ..., DCOS_SERVICE_ACCOUNT_CREDENTIAL). Error
// InvalidArgument (exit 3) naming the flag.
common::Result<DeployFlags> parseDeployFlags(const std::vector<std::string>& args,
                                             const std::map<std::string, std::string>& env);

extern const char* const kDeployUsage;

}  // namespace mlb::cli::deploy
